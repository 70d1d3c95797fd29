//! Task requests and their handling.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use frocket_dataset::{inspect_part_as, InspectSpec, RegisterError};
use frocket_datastore::{AttemptKey, Datastore, DatastoreError, TaskStatus};
use frocket_engine::exec::{footer_len, needed_ranges, parse_footer, SparseFile, COALESCE_GAP, FOOTER_GUESS};
use frocket_engine::{read_part, run_loaded, ExecOptions};
use frocket_protocol::{
    group_ids_blob, instant_at, unix_now, SelfSelect, TaskOutput, TaskRequest, TaskResult, TaskWork,
};
use frocket_storage::{is_s3, DiskCache, Storage};

/// Lambda compute price per GB-second (us-east-1 list price) for this build's architecture.
pub fn lambda_price_per_gb_second() -> f64 {
    if cfg!(target_arch = "aarch64") {
        0.000_013_333_4
    } else {
        0.000_016_666_7
    }
}

/// The process's peak resident set size (`VmHWM` of `/proc/self/status`), in bytes.
pub fn peak_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Worker settings.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// This worker's name (in statuses).
    pub name: String,
    /// Requests older than this are rejected (seconds).
    pub reject_age_secs: f64,
    /// Engine settings.
    pub exec: ExecOptions,
    /// Where parts are read from.
    pub storage: Storage,
    /// The local cache of downloaded parts.
    pub cache: DiskCache,
    /// Tasks this process has started (the first one is a cold start).
    pub started_tasks: Arc<AtomicUsize>,
    /// The Lambda function's memory (MB) when running as a Lambda: tasks then report a cost.
    pub lambda_memory_mb: Option<u32>,
    /// Map whole part files (cached or at local paths) into memory (`FROCKET_READ_MMAP`,
    /// default `true`; see [`frocket_engine::part_file`]); `false`: read them with `read`
    /// calls.
    pub map_parts: bool,
    /// The part list of the latest self-select job seen, so that its next requests do not
    /// fetch it again.
    published_parts: Arc<std::sync::Mutex<Option<KnownParts>>>,
}

/// A self-select job's request id and its part paths.
type KnownParts = (String, Arc<Vec<String>>);

impl WorkerOptions {
    /// Options for a worker named `name` outside Lambda.
    pub fn new(name: impl Into<String>, reject_age_secs: f64, storage: Storage, cache: DiskCache) -> Self {
        WorkerOptions {
            name: name.into(),
            reject_age_secs,
            exec: ExecOptions::default(),
            storage,
            cache,
            started_tasks: Arc::new(AtomicUsize::new(0)),
            lambda_memory_mb: None,
            map_parts: true,
            published_parts: Arc::default(),
        }
    }
}

/// Self-select: claims a part (a cached one first; during the preflight window only those)
/// and returns the request for it, or None when every part is taken.
async fn claim(
    ds: &Datastore,
    req: &TaskRequest,
    sel: SelfSelect,
    opts: &WorkerOptions,
) -> Result<Option<TaskRequest>, DatastoreError> {
    let known = opts.published_parts.lock().ok().and_then(|k| {
        k.as_ref()
            .filter(|(id, _)| *id == req.request_id)
            .map(|(_, p)| p.clone())
    });
    let parts = match known {
        Some(p) => p,
        None => {
            let Some(fetched) = ds.published_parts(&req.request_id).await? else {
                return Ok(None); // the job is gone
            };
            let fetched = Arc::new(fetched);
            if let Ok(mut k) = opts.published_parts.lock() {
                *k = Some((req.request_id.clone(), fetched.clone()));
            }
            fetched
        }
    };
    let with = |i: usize| TaskRequest {
        task: i,
        part_path: parts[i].clone(),
        self_select: None,
        ..req.clone()
    };
    for (i, p) in parts.iter().enumerate() {
        if opts.cache.contains(&req.registration_id, p) && ds.claim_part(&req.request_id, i).await? {
            return Ok(Some(with(i)));
        }
    }
    let preflight_end = req.invoke_time + sel.preflight_ms as f64 / 1000.0;
    let wait = preflight_end - unix_now();
    if wait > 0.0 {
        tokio::time::sleep(std::time::Duration::from_secs_f64(wait)).await;
    }
    Ok(ds
        .claim_any_part(&req.request_id)
        .await?
        .filter(|&i| i < parts.len())
        .map(with))
}

/// How long after its job's deadline a task still runs: the invoker gives up first (a `504`
/// naming the timeout), never on a task stopped a moment before it.
const DEADLINE_GRACE_SECS: f64 = 2.0;

/// The instant a task whose job gives up at `deadline` (unix seconds) stops (see
/// [`DEADLINE_GRACE_SECS`]); `None` for a deadline that is no time this clock can hold.
fn run_deadline(deadline: f64) -> Option<Instant> {
    instant_at(deadline + DEADLINE_GRACE_SECS)
}

/// Runs one task and reports it. Returns an error only when the datastore itself failed; a
/// failing task is reported as `ENDED_FAILED` and is not an error of the worker. A
/// self-select request first claims its part; with none left it does nothing (false).
pub async fn handle_task(ds: &Datastore, req: &TaskRequest, opts: &WorkerOptions) -> Result<bool, DatastoreError> {
    if let Some(sel) = req.self_select {
        if unix_now() - req.invoke_time > opts.reject_age_secs {
            return Ok(false); // too old to claim anything: the invoker resends unclaimed parts
        }
        return match claim(ds, req, sel, opts).await? {
            Some(claimed) => Box::pin(handle_task(ds, &claimed, opts)).await,
            None => Ok(false),
        };
    }
    let started = unix_now();
    let cold = opts.started_tasks.fetch_add(1, Ordering::Relaxed) == 0;
    let key = AttemptKey {
        request: req.request_id.clone(),
        task: req.task,
        attempt: req.attempt,
    };
    let status = |s: TaskStatus, msg: Option<String>| {
        let key = key.clone();
        async move {
            ds.set_status(&key, s, Some(&opts.name), msg.as_deref(), req.ttl_secs)
                .await
        }
    };
    let age = started - req.invoke_time;
    if age > opts.reject_age_secs {
        status(
            TaskStatus::EndedFailed,
            Some(format!(
                "rejected: the request is {age:.1}s old (FROCKET_WORKER_REJECT_AGE is {}s)",
                opts.reject_age_secs
            )),
        )
        .await?;
        return Ok(false);
    }
    status(TaskStatus::LoadingData, None).await?;
    let t0 = Instant::now();
    let stored;
    let wanted = match &req.work {
        TaskWork::Query { query } => query,
        TaskWork::QueryBlob { query_blob } => match stored_query(ds, query_blob).await? {
            Ok(q) => {
                stored = q;
                &stored
            }
            Err(m) => {
                status(TaskStatus::EndedFailed, Some(m)).await?;
                return Ok(false);
            }
        },
        TaskWork::Inspect { inspect } => return inspect_task(ds, req, opts, &key, inspect, (started, cold)).await,
    };
    let loaded = match load_part(req, wanted, opts).await {
        Ok(l) => l,
        Err(m) => {
            status(TaskStatus::EndedFailed, Some(m)).await?;
            return Ok(false);
        }
    };
    let (part, bytes) = (loaded.part, loaded.bytes);
    let from_cache = bytes.0 == 0 && loaded.cached;
    let load_secs = t0.elapsed().as_secs_f64();
    status(TaskStatus::RunningQuery, None).await?;
    let exec = match req.deadline.and_then(run_deadline) {
        Some(job) => opts.exec.with_deadline(job),
        None => opts.exec,
    };
    let (path, query) = (req.part_path.clone(), wanted.clone());
    let ran = tokio::task::spawn_blocking(move || run_loaded(&path, part, &query, &exec).map_err(|e| e.to_string()))
        .await
        .unwrap_or_else(|e| Err(format!("running the query failed: {e}")));
    let partial = match ran {
        Ok(p) => p,
        Err(m) => {
            status(TaskStatus::EndedFailed, Some(m)).await?;
            return Ok(false);
        }
    };
    let total_secs = t0.elapsed().as_secs_f64();
    let output = TaskOutput::Partial(partial);
    let timing = Timing {
        started,
        cold,
        from_cache,
        bytes,
        load_secs,
        total_secs,
    };
    finish(ds, req, opts, &key, output, timing).await
}

/// A part read for a query, and where its bytes came from.
pub struct Loaded {
    /// The columns the query reads.
    pub part: frocket_engine::exec::LoadedPart,
    /// Bytes fetched from the store and read from the disk cache.
    pub bytes: (u64, u64),
    /// Whether the part was found in the disk cache (whole or in part).
    pub cached: bool,
}

/// Reads a part for `query`: a local part in place; an S3 part held whole in the disk cache
/// from there; any other S3 part from only the byte ranges the query needs (its footer, then
/// the chunks of its columns in the row groups its timeframe keeps), each from the disk cache
/// when held, else by ranged GETs that the cache keeps.
/// A job's query stored in the blobstore ([`TaskWork::QueryBlob`]); `Ok(Err(message))` when it
/// is gone or unreadable (the task fails with it), `Err` when the datastore failed.
async fn stored_query(
    ds: &Datastore,
    id: &str,
) -> Result<Result<frocket_engine::ValidatedQuery, String>, DatastoreError> {
    Ok(match ds.blob(id).await? {
        None => Err(format!("the query's blob '{id}' is gone (expired, or its job ended)")),
        Some(bytes) => {
            serde_json::from_slice(&bytes).map_err(|e| format!("the query's blob '{id}' is not a query: {e}"))
        }
    })
}

async fn load_part(
    req: &TaskRequest,
    query: &frocket_engine::ValidatedQuery,
    opts: &WorkerOptions,
) -> Result<Loaded, String> {
    read_for_query(
        &req.part_path,
        &req.registration_id,
        query,
        &opts.storage,
        &opts.cache,
        opts.map_parts,
    )
    .await
}

/// Reads part `path` of registration `registration_id` for `query`, as a worker does (see
/// `load_part`); the bench measures it.
pub async fn read_for_query(
    path: &str,
    registration_id: &str,
    query: &frocket_engine::ValidatedQuery,
    storage: &Storage,
    cache: &DiskCache,
    map_parts: bool,
) -> Result<Loaded, String> {
    let path = path.to_string();
    let whole = if is_s3(&path) {
        cache.get(registration_id, &path)
    } else {
        Some(std::path::PathBuf::from(&path))
    };
    if let Some(local) = whole {
        let cached = is_s3(&path);
        let size = std::fs::metadata(&local).map_or(0, |m| m.len());
        let q = query.clone();
        let part = tokio::task::spawn_blocking(move || {
            let f =
                frocket_engine::open_part(&local, map_parts).map_err(|e| format!("cannot open part '{path}': {e}"))?;
            read_part(&path, f, &q).map_err(|e| e.to_string())
        })
        .await
        .unwrap_or_else(|e| Err(format!("reading the part failed: {e}")))?;
        return Ok(Loaded {
            part,
            bytes: (0, if cached { size } else { 0 }),
            cached,
        });
    }
    let cached = cache.contains(registration_id, &path);
    let q = query.clone();
    let name = path.clone();
    let fetched = storage
        .fetch_ranges(
            &path,
            registration_id,
            cache,
            FOOTER_GUESS,
            COALESCE_GAP,
            |tail| footer_len(&name, tail).map_err(|e| e.to_string()),
            |footer, _size| {
                let meta = parse_footer(&name, footer).map_err(|e| e.to_string())?;
                let ranges = needed_ranges(&name, &meta, &q).map_err(|e| e.to_string())?;
                Ok(ranges)
            },
        )
        .await
        .map_err(|e| e.to_string())?;
    // The cache may have removed parts to make room: mappings kept of them are let go, so
    // that their space is given back now.
    frocket_engine::part_file::let_go_removed();
    let bytes = (fetched.bytes_from_source, fetched.bytes_from_cache);
    let q = query.clone();
    let part = tokio::task::spawn_blocking(move || {
        let mut file = SparseFile::new(fetched.size);
        let footer_start = fetched.size.saturating_sub(fetched.footer.len() as u64);
        file.insert(footer_start, fetched.footer.into());
        for (start, b) in fetched.chunks {
            file.insert(start, b.into());
        }
        read_part(&path, file, &q).map_err(|e| e.to_string())
    })
    .await
    .unwrap_or_else(|e| Err(format!("reading the part failed: {e}")))?;
    Ok(Loaded { part, bytes, cached })
}

/// An inspection task: the part is read where it is (local) or downloaded to a temporary file
/// (S3; registration does not fill the part cache), inspected, and the finding stored. A part
/// found invalid is a successful task whose output says why ([`TaskOutput::Rejected`]); only
/// a part that cannot be read at all fails the attempt.
async fn inspect_task(
    ds: &Datastore,
    req: &TaskRequest,
    opts: &WorkerOptions,
    key: &AttemptKey,
    spec: &InspectSpec,
    (started, cold): (f64, bool),
) -> Result<bool, DatastoreError> {
    let t0 = Instant::now();
    let part = req.part_path.clone();
    let temp = is_s3(&part).then(|| {
        std::env::temp_dir().join(format!(
            "frocket-inspect-{}-{}-{}.parquet",
            std::process::id(),
            req.request_id,
            req.task
        ))
    });
    let local = match &temp {
        Some(tmp) => {
            if let Err(e) = opts.storage.s3().download(&part, tmp).await {
                let _ = std::fs::remove_file(tmp);
                ds.set_status(
                    key,
                    TaskStatus::EndedFailed,
                    Some(&opts.name),
                    Some(&e.to_string()),
                    req.ttl_secs,
                )
                .await?;
                return Ok(false);
            }
            tmp.clone()
        }
        None => std::path::PathBuf::from(&part),
    };
    let load_secs = t0.elapsed().as_secs_f64();
    ds.set_status(key, TaskStatus::RunningQuery, Some(&opts.name), None, req.ttl_secs)
        .await?;
    let spec = spec.clone();
    let inspected = tokio::task::spawn_blocking(move || inspect_part_as(&local, &part, &spec))
        .await
        .unwrap_or_else(|e| Err(RegisterError::Invalid(format!("inspecting the part failed: {e}"))));
    if let Some(tmp) = &temp {
        let _ = std::fs::remove_file(tmp);
    }
    let output = match inspected {
        Ok(mut found) => {
            if let Some(ids) = found.group_ids.take() {
                let blob = group_ids_blob(&req.request_id, req.task);
                let json = serde_json::to_vec(&ids).map_err(|e| DatastoreError::Invalid(e.to_string()))?;
                ds.put_blob(&blob, &json, Some(req.ttl_secs)).await?;
                found.group_ids_blob = Some(blob);
            }
            TaskOutput::Inspection(found)
        }
        Err(e) => TaskOutput::Rejected(e.to_string()),
    };
    let total_secs = t0.elapsed().as_secs_f64();
    let timing = Timing {
        started,
        cold,
        from_cache: false,
        bytes: (0, 0),
        load_secs,
        total_secs,
    };
    finish(ds, req, opts, key, output, timing).await
}

/// When and how a task ran, for its result.
struct Timing {
    /// Unix seconds when the worker started the task.
    started: f64,
    /// The first task of its process.
    cold: bool,
    /// The part came from the disk cache.
    from_cache: bool,
    /// Bytes from the store and from the disk cache.
    bytes: (u64, u64),
    /// Seconds reading the part.
    load_secs: f64,
    /// Seconds for the whole task.
    total_secs: f64,
}

/// Stores a successful task's result and reports `ENDED_SUCCESS`.
async fn finish(
    ds: &Datastore,
    req: &TaskRequest,
    opts: &WorkerOptions,
    key: &AttemptKey,
    output: TaskOutput,
    timing: Timing,
) -> Result<bool, DatastoreError> {
    let Timing {
        started,
        cold,
        from_cache,
        bytes,
        load_secs,
        total_secs,
    } = timing;
    let result = TaskResult {
        output,
        load_secs,
        total_secs,
        cold,
        peak_memory_bytes: peak_memory_bytes(),
        cost: opts
            .lambda_memory_mb
            .map(|mb| (unix_now() - started) * f64::from(mb) / 1024.0 * lambda_price_per_gb_second()),
        invoke_latency_secs: (started - req.invoke_time).max(0.0),
        worker: opts.name.clone(),
        from_cache,
        bytes_from_source: bytes.0,
        bytes_from_cache: bytes.1,
    };
    let json = serde_json::to_string(&result).map_err(|e| DatastoreError::Invalid(e.to_string()))?;
    // A finished result is worth keeping through a short Redis outage: the report is retried
    // (bounded) before the attempt is given up to the invoker's lost-task rules.
    let mut wait = BACKOFF_MIN;
    let deadline = Instant::now() + REPORT_PATIENCE;
    loop {
        let reported = async {
            ds.put_result(key, &json, req.ttl_secs).await?;
            ds.set_status(key, TaskStatus::EndedSuccess, Some(&opts.name), None, req.ttl_secs)
                .await
        }
        .await;
        match reported {
            Ok(()) => return Ok(true),
            Err(DatastoreError::Redis { .. }) if Instant::now() + wait < deadline => {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(BACKOFF_MAX);
            }
            Err(e) => return Err(e),
        }
    }
}

/// How long a worker keeps retrying to report a finished task while Redis does not answer.
const REPORT_PATIENCE: std::time::Duration = std::time::Duration::from_secs(20);

/// Takes tasks from the queue until `shutdown` completes; the task in hand is always finished
/// first. A malformed request is skipped (and reported when it names its task); a failing
/// task never stops the worker.
pub async fn run_queue_worker(
    ds: &Datastore,
    opts: &WorkerOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<(), DatastoreError> {
    tokio::pin!(shutdown);
    // Backoff while Redis does not answer (restart, failover): 0.2 s doubling up to 5 s, so a
    // fleet of workers does not hammer a server coming back; reset by the next answer.
    let mut backoff = BACKOFF_MIN;
    loop {
        let next = tokio::select! {
            _ = &mut shutdown => return Ok(()),
            t = ds.dequeue(1.0) => t,
        };
        let Some(raw) = (match next {
            Ok(t) => {
                backoff = BACKOFF_MIN;
                t
            }
            Err(e) => {
                tracing::warn!(worker = %opts.name, error = %e, retry_in_ms = backoff.as_millis() as u64, "cannot take a task; retrying");
                tokio::select! {
                    _ = &mut shutdown => return Ok(()),
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(BACKOFF_MAX);
                continue;
            }
        }) else {
            continue;
        };
        match serde_json::from_str::<TaskRequest>(&raw) {
            Ok(req) => {
                if let Err(e) = handle_task(ds, &req, opts).await {
                    tracing::warn!(worker = %opts.name, request = %req.request_id, task = req.task, error = %e, "could not report the task");
                }
            }
            Err(e) => tracing::warn!(worker = %opts.name, error = %e, "skipping a malformed task request"),
        }
    }
}

const BACKOFF_MIN: std::time::Duration = std::time::Duration::from_millis(200);
const BACKOFF_MAX: std::time::Duration = std::time::Duration::from_secs(5);

#[cfg(test)]
mod deadline_tests {
    use super::*;

    #[test]
    fn a_task_stops_a_grace_after_its_job_gives_up() {
        let now = unix_now();
        let at =
            |deadline: f64| run_deadline(deadline).map(|i| i.saturating_duration_since(Instant::now()).as_secs_f64());
        // Ten seconds ahead: stops in ~12 s.
        let left = at(now + 10.0).unwrap();
        assert!((11.0..=12.0).contains(&left), "{left}");
        // Already past, even long ago: stops at once.
        assert_eq!(at(now - 100.0), Some(0.0));
        // Not a time this clock holds: no deadline, no panic.
        assert_eq!(at(f64::INFINITY), None);
        assert_eq!(at(1e300), None);
        assert_eq!(at(f64::NAN), Some(0.0));
    }
}
