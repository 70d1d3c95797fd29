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
        opts.lambda_memory_mb = std::env::var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
            .ok()
            .and_then(|m| m.parse().ok());
        WorkerFunction { ds, opts }
    }

    /// Runs the task the event asks for. A task that fails is reported in Redis and answered
    /// normally; an event that is not a task request is an error (reported on its attempt
    /// when it names one), never a crash.
    pub async fn handle(&self, event: Value) -> Result<Value, LambdaError> {
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
        let ok = handle_task(&self.ds, &req, &self.opts).await?;
        tracing::info!(request_id = %req.request_id, task = req.task, attempt = req.attempt, success = ok, "task done");
        Ok(json!({"requestId": req.request_id, "task": req.task, "attempt": req.attempt, "success": ok}))
    }
}
