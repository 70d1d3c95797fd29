//! The invoker for remote workers: one task per part, sent through the Redis queue (to
//! `frocket worker` processes) or as asynchronous Lambda invocations, then polled in Redis
//! until every task has one successful result, retrying failed and lost tasks.
//!
//! - A task that reports `ENDED_FAILED` is sent again (next attempt) after the failed interval.
//! - A task whose latest attempt is loading or running with no status update for the lost
//!   interval (its worker died) is sent again at once.
//! - On the Redis queue, a task whose latest attempt is still `QUEUED` after the lost interval
//!   but is no longer in the queue was taken by a worker that died before reporting: once that
//!   has held for another lost interval, it is sent again too.
//! - An attempt still `QUEUED` longer than the workers' reject age plus the lost interval can
//!   no longer run (any worker would reject it): it is sent again (this also covers Lambda
//!   dropping an asynchronous invocation).
//! - A task whose attempts are used up fails the job, naming its part; so does the run timeout.
//! - All attempts of an unfinished task are polled and the first success found is the task's
//!   one result, so two attempts finishing never count twice.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use frocket_dataset::DatasetInfo;
use frocket_datastore::{AttemptKey, Datastore, TaskStatus};
use frocket_engine::{QueryResult, ValidatedQuery};
use frocket_protocol::{query_blob, unix_now, TaskOutput, TaskRequest, TaskResult, TaskWork, QUERY_INLINE_MAX_BYTES};

use crate::local::{Progress, TaskCounts};
use crate::merge::InOrderMerge;
use crate::stats::{finish_job, JobCounts, Stats, TaskOutcome};
use crate::InvokerError;

/// How task requests reach the workers.
#[derive(Debug, Clone)]
pub enum Dispatch {
    /// Pushed on the Redis work queue, taken by `frocket worker` processes.
    Queue,
    /// Sent as asynchronous invocations of the worker Lambda.
    #[cfg(feature = "aws-lambda")]
    Lambda(crate::lambda::LambdaDispatcher),
}

/// Settings of a remote job (from `FROCKET_INVOKER_*`).
#[derive(Debug, Clone, Copy)]
pub struct RemoteOptions {
    /// Whole-job timeout (seconds).
    pub run_timeout_secs: f64,
    /// Poll interval.
    pub poll_interval: Duration,
    /// Attempts per task.
    pub max_attempts: u32,
    /// Wait before retrying a failed task (seconds).
    pub failed_interval_secs: f64,
    /// Silence after which a running task is lost (seconds).
    pub lost_interval_secs: f64,
    /// Worker self-select mode with this preflight window (milliseconds); None: every task
    /// names its part.
    pub self_select_preflight_ms: Option<u64>,
    /// Workers reject requests older than this (seconds, `FROCKET_WORKER_REJECT_AGE`): an
    /// attempt still `QUEUED` that much (plus the lost interval) after it was sent can never
    /// run, and is sent again.
    pub reject_age_secs: f64,
}

struct Task<R> {
    attempt: u32,
    /// The latest attempt's request as sent (to find it in the queue).
    payload: String,
    /// When the latest attempt, still `QUEUED`, was last looked for in the queue.
    checked_at: Option<Instant>,
    /// When it was first found missing from the queue while still `QUEUED`.
    missing_since: Option<Instant>,
    failed_at: Option<Instant>,
    /// When the latest attempt was sent.
    sent_at: Instant,
    result: Option<R>,
    latest: TaskStatus,
    done_at: f64,
}

/// Runs `query` over every part of `dataset` on remote workers reached through `dispatch`;
/// returns the merged result and the stats. `request_id` names the job's Redis keys.
pub async fn run_remote(
    ds: &Datastore,
    dispatch: &Dispatch,
    dataset: &DatasetInfo,
    query: &ValidatedQuery,
    request_id: &str,
    opts: &RemoteOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<(QueryResult, Stats), InvokerError> {
    let start = Instant::now();
    let ttl = task_ttl(opts);
    // Workers stop a task when the job gives up on it.
    let deadline = unix_now() + opts.run_timeout_secs;
    // A large query is stored once and named in each request.
    let json =
        serde_json::to_vec(query).map_err(|e| InvokerError::Internal(format!("cannot encode the query: {e}")))?;
    let work = if json.len() > QUERY_INLINE_MAX_BYTES {
        let id = query_blob(request_id);
        ds.put_blob(&id, &json, Some(ttl)).await?;
        TaskWork::QueryBlob { query_blob: id }
    } else {
        TaskWork::Query { query: query.clone() }
    };
    drop(json);
    let make = |task: usize, attempt: u32| TaskRequest {
        request_id: request_id.to_string(),
        task,
        attempt,
        dataset: dataset.name.clone(),
        registration_id: dataset.registration_id.clone(),
        part_path: dataset.parts[task].path.clone(),
        work: work.clone(),
        invoke_time: unix_now(),
        ttl_secs: ttl,
        deadline: Some(deadline),
        self_select: None,
    };
    let job = RemoteJob {
        request_id,
        parts: dataset.parts.iter().map(|p| p.path.clone()).collect(),
        make: &make,
        // Self-select lets workers prefer the parts they cache: only S3 parts are cached.
        self_select_preflight_ms: opts
            .self_select_preflight_ms
            .filter(|_| dataset.parts.iter().any(|p| frocket_storage::is_s3(&p.path))),
    };
    // Each part's partial is parsed and merged (in part order) on a blocking thread as it
    // arrives; what the loop keeps of a task is its outcome for the stats.
    let merge = Arc::new(Mutex::new(InOrderMerge::new(job.parts.len())));
    let parts = Arc::new(job.parts.clone());
    let sink = merge.clone();
    let take: Take<TaskOutcome> = Arc::new(move |task, r: TaskResult| {
        let TaskOutput::Partial(partial) = r.output else {
            return Err(InvokerError::TaskFailed {
                part: parts[task].clone(),
                message: "the worker answered something other than a query result".into(),
            });
        };
        sink.lock()
            .map_err(|_| InvokerError::Internal("the merge lock is poisoned".into()))?
            .add(task, partial)?;
        Ok(TaskOutcome {
            load_secs: r.load_secs,
            total_secs: r.total_secs,
            done_at: 0.0,
            invoke_latency_secs: Some(r.invoke_latency_secs),
            from_cache: r.from_cache,
            bytes: (r.bytes_from_source, r.bytes_from_cache),
            cold: r.cold,
            peak_memory_bytes: r.peak_memory_bytes,
            cost: r.cost,
        })
    });
    let (done, counts) = run_tasks(ds, dispatch, &job, opts, progress, start, take).await?;
    let outcomes: Vec<TaskOutcome> = done
        .into_iter()
        .map(|(o, done_at)| TaskOutcome { done_at, ..o })
        .collect();
    let merged = Arc::try_unwrap(merge)
        .map_err(|_| InvokerError::Internal("the merge is still shared".into()))?
        .into_inner()
        .map_err(|_| InvokerError::Internal("the merge lock is poisoned".into()))?
        .finish()?;
    // Finishing (top-N cuts, means) is CPU work too: off the async runtime.
    let (dataset, query) = (dataset.clone(), query.clone());
    tokio::task::spawn_blocking(move || finish_job(start, &dataset, &query, merged, outcomes, counts))
        .await
        .map_err(|e| InvokerError::Internal(format!("merging the results stopped: {e}")))?
}

/// What the polling loop keeps of a task's successful result, made on a blocking thread from
/// the parsed result and its task index (a query merges the partial away; a registration keeps
/// the whole result).
pub(crate) type Take<R> = Arc<dyn Fn(usize, TaskResult) -> Result<R, InvokerError> + Send + Sync>;

/// TTL of a job's task statuses, results and blobs: past any retry of the job.
pub(crate) fn task_ttl(opts: &RemoteOptions) -> u64 {
    (opts.run_timeout_secs * 2.0 + 60.0) as u64
}

/// A job's tasks as the remote loop sees them.
pub(crate) struct RemoteJob<'a> {
    /// Names the job's Redis keys.
    pub request_id: &'a str,
    /// Each task's part (in messages; self-select publishes them).
    pub parts: Vec<String>,
    /// The request of a task's attempt.
    pub make: &'a (dyn Fn(usize, u32) -> TaskRequest + Sync),
    /// Worker self-select mode with this preflight window.
    pub self_select_preflight_ms: Option<u64>,
}

/// Sends one task per part and polls until each has one successful result, retrying failed
/// and lost attempts (the rules at the top of this module). Returns each task's result with
/// the seconds from `start` to when it was seen, and the job's counts.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn run_tasks<R: Send + 'static>(
    ds: &Datastore,
    dispatch: &Dispatch,
    job: &RemoteJob<'_>,
    opts: &RemoteOptions,
    progress: &(dyn Fn(Progress) + Sync),
    start: Instant,
    take: Take<R>,
) -> Result<(Vec<(R, f64)>, JobCounts), InvokerError> {
    let request_id = job.request_id.to_string();
    let n = job.parts.len();
    let ttl = task_ttl(opts);
    // Rows scanned by the tasks whose results are in (for progress reports).
    let mut rows_done: u64 = 0;
    let make = job.make;
    let encode = |r: &TaskRequest| {
        serde_json::to_string(r)
            .map_err(|e| frocket_datastore::DatastoreError::Invalid(format!("cannot encode task {}: {e}", r.task)))
    };
    let send = |reqs: Vec<(TaskRequest, String)>| async move {
        let (reqs, payload): (Vec<TaskRequest>, Vec<String>) = reqs.into_iter().unzip();
        let named: Vec<AttemptKey> = reqs
            .iter()
            .filter(|r| r.self_select.is_none())
            .map(|r| AttemptKey {
                request: r.request_id.clone(),
                task: r.task,
                attempt: r.attempt,
            })
            .collect();
        ds.set_queued(&named, ttl).await?;
        match dispatch {
            Dispatch::Queue => ds.enqueue(&payload).await,
            #[cfg(feature = "aws-lambda")]
            Dispatch::Lambda(l) => {
                l.send(ds, reqs.into_iter().zip(payload).collect());
                Ok(())
            }
        }
    };
    let first: Vec<(TaskRequest, String)> = match job.self_select_preflight_ms {
        // Self-select: publish the parts, then send n identical "select a part yourself"
        // requests; each worker claims a part (its cached ones first) and reports on it.
        Some(preflight_ms) if n > 0 => {
            ds.publish_parts(&request_id, &job.parts, ttl).await?;
            let keys: Vec<AttemptKey> = (0..n)
                .map(|i| AttemptKey {
                    request: request_id.clone(),
                    task: i,
                    attempt: 1,
                })
                .collect();
            ds.set_queued(&keys, ttl).await?;
            let token = TaskRequest {
                part_path: String::new(),
                self_select: Some(frocket_protocol::SelfSelect { preflight_ms }),
                ..make(0, 1)
            };
            let payload = encode(&token)?;
            vec![(token, payload); n]
        }
        _ => (0..n)
            .map(|i| {
                let r = make(i, 1);
                encode(&r).map(|p| (r, p))
            })
            .collect::<Result<_, _>>()?,
    };
    let mut tasks: Vec<Task<R>> = first
        .iter()
        .map(|(_, payload)| Task {
            attempt: 1,
            payload: payload.clone(),
            checked_at: None,
            missing_since: None,
            failed_at: None,
            sent_at: Instant::now(),
            result: None,
            latest: TaskStatus::Queued,
            done_at: 0.0,
        })
        .collect();
    send(first).await?;
    let enqueue_time = start.elapsed().as_secs_f64();
    let (mut failed_tasks, mut retried) = (0usize, 0usize);
    // A lost attempt is sent again, unless it was the last one allowed.
    let lost = |i: usize, attempt: u32, why: String| {
        if attempt >= opts.max_attempts {
            return Err(InvokerError::TaskFailed {
                part: job.parts[i].clone(),
                message: format!("lost: {why} (after {attempt} attempts)"),
            });
        }
        Ok(i)
    };
    // Redis failing mid-job (a restart, a failover) does not end the job: polling goes on
    // through the outage until the run timeout, and the lost-task rules resend what the
    // outage lost (an attempt whose status vanished counts as lost).
    let mut datastore_error: Option<String> = None;
    loop {
        let elapsed = start.elapsed().as_secs_f64();
        let pending: Vec<usize> = (0..n).filter(|&i| tasks[i].result.is_none()).collect();
        if pending.is_empty() {
            break;
        }
        if elapsed > opts.run_timeout_secs {
            return Err(InvokerError::Timeout {
                secs: opts.run_timeout_secs,
                done: n - pending.len(),
                total: n,
                cause: datastore_error,
            });
        }
        let polled: Result<(), InvokerError> = async {
            let keys: Vec<(usize, u32)> = pending
                .iter()
                .flat_map(|&i| (1..=tasks[i].attempt).map(move |a| (i, a)))
                .collect();
            let statuses = ds.statuses(&request_id, &keys).await?;
            let mut resend = Vec::new();
            for (&(i, a), st) in keys.iter().zip(&statuses) {
                let t = &mut tasks[i];
                if t.result.is_some() {
                    continue;
                }
                let Some(st) = st else {
                    // The latest attempt's status is set before it is sent and outlives the
                    // job: gone means Redis lost it (restarted without persistence, or failed
                    // over before replicating), and with it maybe the queued request.
                    if a == t.attempt && t.sent_at.elapsed().as_secs_f64() > opts.lost_interval_secs {
                        resend.push(lost(i, t.attempt, "its status vanished from Redis".into())?);
                    }
                    continue;
                };
                if st.status == TaskStatus::EndedSuccess {
                    let key = AttemptKey {
                        request: request_id.clone(),
                        task: i,
                        attempt: a,
                    };
                    if let Some(json) = ds.result(&key).await? {
                        // A partial result can be large: parsed (and taken) off the async runtime.
                        let (take, part) = (take.clone(), job.parts[i].clone());
                        let r = tokio::task::spawn_blocking(move || {
                            let r =
                                serde_json::from_str::<TaskResult>(&json).map_err(|e| InvokerError::TaskFailed {
                                    part,
                                    message: format!("unreadable result: {e}"),
                                })?;
                            let rows = match &r.output {
                                TaskOutput::Partial(p) => p.scanned_rows,
                                _ => 0,
                            };
                            take(i, r).map(|r| (r, rows))
                        })
                        .await
                        .map_err(|e| InvokerError::Internal(format!("parsing a result stopped: {e}")))??;
                        let (r, rows) = r;
                        rows_done += rows;
                        t.result = Some(r);
                        t.latest = TaskStatus::EndedSuccess;
                        t.done_at = start.elapsed().as_secs_f64();
                    }
                    continue;
                }
                if a != t.attempt {
                    continue; // only the latest attempt decides on retries
                }
                t.latest = st.status;
                match st.status {
                    TaskStatus::EndedFailed => {
                        let message = st.message.clone().unwrap_or_else(|| "failed".into());
                        if t.failed_at.is_none() {
                            failed_tasks += 1;
                            t.failed_at = Some(Instant::now());
                        }
                        if t.attempt >= opts.max_attempts {
                            return Err(InvokerError::TaskFailed {
                                part: job.parts[i].clone(),
                                message: format!("{message} (after {} attempts)", t.attempt),
                            });
                        }
                        if t.failed_at
                            .is_some_and(|f| f.elapsed().as_secs_f64() >= opts.failed_interval_secs)
                        {
                            resend.push(i);
                        }
                    }
                    TaskStatus::LoadingData | TaskStatus::RunningQuery | TaskStatus::Running => {
                        if unix_now() - st.updated_at > opts.lost_interval_secs {
                            resend.push(lost(
                                i,
                                t.attempt,
                                format!("no status update for {:.0}s", opts.lost_interval_secs),
                            )?);
                        }
                    }
                    TaskStatus::Queued
                        if unix_now() - st.updated_at > opts.reject_age_secs + opts.lost_interval_secs =>
                    {
                        // Never started and now too old to be: e.g. an asynchronous invocation that
                        // Lambda dropped, or a request that waited out the reject age in the queue.
                        let within = opts.reject_age_secs + opts.lost_interval_secs;
                        resend.push(lost(i, t.attempt, format!("never started within {within:.0}s"))?);
                    }
                    TaskStatus::Queued
                        if matches!(dispatch, Dispatch::Queue)
                            && unix_now() - st.updated_at > opts.lost_interval_secs
                            && t.checked_at
                                .is_none_or(|c| c.elapsed().as_secs_f64() > opts.lost_interval_secs / 4.0) =>
                    {
                        // Taken off the queue by a worker that never reported?
                        t.checked_at = Some(Instant::now());
                        if ds.queue_contains(&t.payload).await? {
                            t.missing_since = None;
                        } else if let Some(since) = t.missing_since {
                            if since.elapsed().as_secs_f64() > opts.lost_interval_secs {
                                resend.push(lost(i, t.attempt, "taken from the queue but never started".into())?);
                            }
                        } else {
                            t.missing_since = Some(Instant::now());
                        }
                    }
                    TaskStatus::Queued | TaskStatus::EndedSuccess => {}
                }
            }
            if !resend.is_empty() {
                let mut reqs = Vec::new();
                for i in resend {
                    let t = &mut tasks[i];
                    t.attempt += 1;
                    t.failed_at = None;
                    t.latest = TaskStatus::Queued;
                    t.checked_at = None;
                    t.missing_since = None;
                    t.sent_at = Instant::now();
                    retried += 1;
                    let r = make(i, t.attempt);
                    t.payload = encode(&r)?;
                    reqs.push((r, t.payload.clone()));
                }
                send(reqs).await?;
            }
            Ok(())
        }
        .await;
        match polled {
            Ok(()) => datastore_error = None,
            // Only Redis not answering is waited out; a corrupt value or a bad argument is not
            // going to pass by itself.
            Err(InvokerError::Datastore(e @ frocket_datastore::DatastoreError::Redis { .. })) => {
                tracing::warn!(request = %request_id, error = %e, "polling the job's tasks failed; retrying until the run timeout");
                datastore_error = Some(e.to_string());
            }
            Err(other) => return Err(other),
        }
        let mut c = TaskCounts::default();
        for t in &tasks {
            match t.latest {
                TaskStatus::Queued => c.queued += 1,
                TaskStatus::LoadingData => c.loading_data += 1,
                TaskStatus::RunningQuery | TaskStatus::Running => c.running_query += 1,
                TaskStatus::EndedSuccess => c.ended_success += 1,
                TaskStatus::EndedFailed => c.ended_failed += 1,
            }
        }
        progress(Progress {
            tasks: c,
            total: n,
            rows: rows_done,
        });
        if tasks.iter().any(|t| t.result.is_none()) {
            tokio::time::sleep(opts.poll_interval).await;
        }
    }
    let done = tasks
        .into_iter()
        .filter_map(|t| t.result.map(|r| (r, t.done_at)))
        .collect();
    let job = JobCounts {
        enqueue_time,
        failed_tasks,
        retried_tasks: retried,
    };
    Ok((done, job))
}
