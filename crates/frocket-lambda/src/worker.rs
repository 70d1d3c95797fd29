//! The worker function: event = one task request (see `frocket_protocol::TaskRequest`).

use frocket_config::Config;
use frocket_datastore::{AttemptKey, Datastore, TaskStatus};
use frocket_protocol::TaskRequest;
use frocket_storage::{DiskCache, Storage};
use frocket_worker::{handle_task, WorkerOptions};
use serde_json::{json, Value};

use crate::LambdaError;

/// Where a Lambda's parts are cached (its writable `/tmp`, kept while the instance is warm).
pub const CACHE_DIR: &str = "/tmp/frocket-cache";

pub use frocket_engine::memory::keep_freed_memory;

/// How long before the function's own deadline a query stops: time to report the task failed.
pub const FUNCTION_DEADLINE_MARGIN_SECS: f64 = 1.5;

/// The instant a query stops in an invocation the runtime ends at `deadline_ms` (unix
/// milliseconds). `None` for a value that is not such an instant: 0 (none given), anything
/// before 2001 (`cargo lambda watch` sends the function's timeout itself, e.g. 600000), or a
/// time this clock cannot hold.
fn stop_before(deadline_ms: u64) -> Option<std::time::Instant> {
    if deadline_ms < 1_000_000_000_000 {
        return None;
    }
    frocket_protocol::instant_at(deadline_ms as f64 / 1000.0 - FUNCTION_DEADLINE_MARGIN_SECS)
}

/// The worker function's state, kept across warm invocations.
pub struct WorkerFunction {
    ds: Datastore,
    opts: WorkerOptions,
}

impl WorkerFunction {
    /// A worker reporting to `ds`, caching parts under `cache_dir`; named after the Lambda's
    /// log stream when there is one.
    pub fn new(cfg: &Config, ds: Datastore, cache_dir: &str) -> Self {
        let name = std::env::var("AWS_LAMBDA_LOG_STREAM_NAME")
            .or_else(|_| std::env::var("AWS_LAMBDA_FUNCTION_NAME"))
            .unwrap_or_else(|_| "worker".into());
        let mut opts = WorkerOptions::new(
            name,
            cfg.worker.reject_age_secs,
            Storage::new(cfg.s3_endpoint_url.clone()),
            DiskCache::new(cache_dir, cfg.worker.disk_cache_size_mb),
        );
        opts.map_parts = cfg.read.mmap;
        opts.lambda_memory_mb = std::env::var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
            .ok()
            .and_then(|m| m.parse().ok());
        WorkerFunction { ds, opts }
    }

    /// Runs the task the event asks for. A task that fails is reported in Redis and answered
    /// normally; an event that is not a task request is an error (reported on its attempt
    /// when it names one), never a crash.
    ///
    /// `function_deadline_ms`: when the runtime kills this invocation (its context's deadline,
    /// unix milliseconds): the query stops [`FUNCTION_DEADLINE_MARGIN_SECS`] before it, so the
    /// task is reported failed with its reason instead of vanishing and being retried, each
    /// attempt billed to the function's timeout.
    pub async fn handle(&self, event: Value, function_deadline_ms: Option<u64>) -> Result<Value, LambdaError> {
        let req: TaskRequest = match serde_json::from_value(event.clone()) {
            Ok(r) => r,
            Err(e) => {
                let message = format!("malformed task request: {e}");
                tracing::error!("{message}");
                if let (Some(request), Some(task), Some(attempt)) = (
                    event.get("requestId").and_then(Value::as_str),
                    event.get("task").and_then(Value::as_u64),
                    event.get("attempt").and_then(Value::as_u64),
                ) {
                    let key = AttemptKey {
                        request: request.to_string(),
                        task: task as usize,
                        attempt: attempt as u32,
                    };
                    let ttl = event.get("ttlSecs").and_then(Value::as_u64).unwrap_or(600);
                    self.ds
                        .set_status(
                            &key,
                            TaskStatus::EndedFailed,
                            Some(&self.opts.name),
                            Some(&message),
                            ttl,
                        )
                        .await?;
                }
                return Err(LambdaError::BadEvent(message));
            }
        };
        let mut opts = self.opts.clone();
        if let Some(stop) = function_deadline_ms.and_then(stop_before) {
            opts.exec = opts.exec.with_deadline(stop);
        }
        let ok = handle_task(&self.ds, &req, &opts).await?;
        tracing::info!(request_id = %req.request_id, task = req.task, attempt = req.attempt, success = ok, "task done");
        Ok(json!({"requestId": req.request_id, "task": req.task, "attempt": req.attempt, "success": ok}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_stops_before_the_function_is_killed() {
        let now_ms = (frocket_protocol::unix_now() * 1000.0) as u64;
        let left =
            |ms: u64| stop_before(ms).map(|i| i.saturating_duration_since(std::time::Instant::now()).as_secs_f64());
        // Killed in 30 s: stops 1.5 s before.
        let l = left(now_ms + 30_000).unwrap();
        assert!((28.0..=28.5).contains(&l), "{l}");
        // Nearly out of time: at once.
        assert_eq!(left(now_ms + 1000), Some(0.0));
        // Not an instant: none given (0), or the emulator's timeout in place of a deadline.
        assert_eq!(left(0), None);
        assert_eq!(left(600_000), None);
    }
}
