//! The embedded invoker: one task per part on in-process threads (all cores), no services.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use frocket_dataset::DatasetInfo;
use frocket_engine::{read_part, run_loaded, ExecOptions, PartialResult, QueryResult, ValidatedQuery};

use crate::stats::{finish_job, JobCounts, Stats, TaskOutcome};
use crate::InvokerError;

/// Task counts by status (api.md statuses), always summing to the task count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TaskCounts {
    /// Waiting.
    pub queued: usize,
    /// Reading the part.
    pub loading_data: usize,
    /// Running the query.
    pub running_query: usize,
    /// Done.
    pub ended_success: usize,
    /// Failed.
    pub ended_failed: usize,
}

/// A progress report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Counts per status.
    pub tasks: TaskCounts,
    /// Tasks in all.
    pub total: usize,
    /// Rows scanned by the tasks that ended successfully so far.
    pub rows: u64,
}

/// One local task's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Queued,
    Loading,
    Running,
    Succeeded,
    Failed,
}

fn count(states: &[State]) -> TaskCounts {
    let mut c = TaskCounts::default();
    for s in states {
        match s {
            State::Queued => c.queued += 1,
            State::Loading => c.loading_data += 1,
            State::Running => c.running_query += 1,
            State::Succeeded => c.ended_success += 1,
            State::Failed => c.ended_failed += 1,
        }
    }
    c
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// Settings of a local run.
#[derive(Debug, Clone, Copy)]
pub struct LocalOptions {
    /// Threads (0: all cores).
    pub threads: usize,
    /// Engine settings.
    pub exec: ExecOptions,
    /// Whole-job timeout in seconds: no task starts after it, and a task running when it
    /// passes stops (the engine's deadline, `ExecOptions::deadline`).
    pub run_timeout_secs: f64,
    /// Map part files into memory (`FROCKET_READ_MMAP`; see
    /// [`frocket_engine::part_file`]); `false`: read them with `read` calls.
    pub map_parts: bool,
}

impl Default for LocalOptions {
    fn default() -> Self {
        LocalOptions {
            threads: 0,
            exec: ExecOptions::default(),
            run_timeout_secs: 60.0,
            map_parts: true,
        }
    }
}

/// Runs `query` over every part of `dataset` on local threads, calling `progress` as tasks
/// move, and returns the merged result with its stats.
pub fn run_local(
    dataset: &DatasetInfo,
    query: &ValidatedQuery,
    opts: &LocalOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<(QueryResult, Stats), InvokerError> {
    let start = Instant::now();
    let n = dataset.parts.len();
    // Tasks stop at the run timeout (or at an earlier deadline of the caller's).
    let exec = match Duration::try_from_secs_f64(opts.run_timeout_secs.max(0.0))
        .ok()
        .and_then(|t| start.checked_add(t))
    {
        Some(timeout) => opts.exec.with_deadline(timeout),
        None => opts.exec,
    };
    let timed_out = |done: usize| InvokerError::Timeout {
        secs: opts.run_timeout_secs,
        done,
        total: n,
        cause: None,
    };
    let threads = if opts.threads == 0 {
        std::thread::available_parallelism().map_or(1, |t| t.get())
    } else {
        opts.threads
    }
    .min(n.max(1));
    let next = AtomicUsize::new(0);
    // Each task's own status; the counts are derived from them, so they always sum to n.
    let states = Mutex::new(vec![State::Queued; n]);
    let failed = AtomicBool::new(false);
    let rows_done = AtomicU64::new(0);
    // Reported while the states are locked: reports from two threads arrive in the order their
    // counts were taken, so progress never goes back.
    let report = |task: Option<(usize, State)>| {
        let mut st = states.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((i, s)) = task {
            st[i] = s;
        }
        progress(Progress {
            tasks: count(&st),
            total: n,
            rows: rows_done.load(Ordering::Relaxed),
        });
    };
    report(None);
    type Done = (PartialResult, TaskOutcome);
    let results: Vec<(usize, Result<Done, InvokerError>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        if failed.load(Ordering::Relaxed) {
                            break;
                        }
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= n {
                            break;
                        }
                        if start.elapsed().as_secs_f64() > opts.run_timeout_secs {
                            failed.store(true, Ordering::Relaxed);
                            out.push((i, Err(timed_out(i))));
                            break;
                        }
                        let part = &dataset.parts[i].path;
                        report(Some((i, State::Loading)));
                        let t0 = Instant::now();
                        let task = || {
                            frocket_engine::open_part(std::path::Path::new(part), opts.map_parts)
                                .map_err(|e| frocket_engine::EngineError::PartRead {
                                    file: part.clone(),
                                    message: e.to_string(),
                                })
                                .and_then(|f| read_part(part, f, query))
                                .and_then(|loaded| {
                                    let load = t0.elapsed().as_secs_f64();
                                    report(Some((i, State::Running)));
                                    run_loaded(part, loaded, query, &exec).map(|p| (p, load))
                                })
                                .map_err(|e| match e {
                                    frocket_engine::EngineError::DeadlineExceeded { .. } => None,
                                    e => Some(e.to_string()),
                                })
                        };
                        // A panic in a task fails that task (naming its part), not the process.
                        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(task))
                            .unwrap_or_else(|p| Err(Some(format!("the task panicked: {}", panic_message(&*p)))));
                        match r {
                            Ok((partial, load_secs)) => {
                                rows_done.fetch_add(partial.scanned_rows, Ordering::Relaxed);
                                report(Some((i, State::Succeeded)));
                                out.push((
                                    i,
                                    Ok((
                                        partial,
                                        TaskOutcome {
                                            load_secs,
                                            total_secs: t0.elapsed().as_secs_f64(),
                                            done_at: start.elapsed().as_secs_f64(),
                                            invoke_latency_secs: None,
                                            from_cache: false,
                                            bytes: (0, 0),
                                            cold: false,
                                            peak_memory_bytes: None,
                                            cost: None,
                                        },
                                    )),
                                ));
                            }
                            Err(Some(message)) => {
                                report(Some((i, State::Failed)));
                                failed.store(true, Ordering::Relaxed);
                                out.push((
                                    i,
                                    Err(InvokerError::TaskFailed {
                                        part: part.clone(),
                                        message,
                                    }),
                                ));
                                break;
                            }
                            // Stopped at the run timeout.
                            Err(None) => {
                                report(Some((i, State::Failed)));
                                failed.store(true, Ordering::Relaxed);
                                out.push((i, Err(timed_out(i))));
                                break;
                            }
                        }
                    }
                    out
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    });
    let mut outcomes: Vec<(usize, Done)> = Vec::with_capacity(n);
    for (i, r) in results {
        outcomes.push((i, r?));
    }
    if outcomes.len() != n {
        return Err(InvokerError::TaskFailed {
            part: "(unknown)".into(),
            message: "a worker thread stopped unexpectedly".into(),
        });
    }
    outcomes.sort_by_key(|(i, _)| *i);
    let (partials, outcomes): (Vec<PartialResult>, Vec<TaskOutcome>) = outcomes.into_iter().map(|(_, d)| d).unzip();
    let merged = PartialResult::merge_all(partials)?;
    finish_job(start, dataset, query, merged, outcomes, JobCounts::default())
}
