//! Asynchronous invocations of the worker Lambda (`Invoke` with `InvocationType::Event`).
//!
//! Each task request is sent on its own spawned task, fire-and-forget: success is a 202 on AWS
//! (a local emulator may answer 200 after running the function), and nothing in the response
//! is used: results come back only through Redis. At most `concurrency` invocations are in
//! flight. Throttling is retried with exponential backoff; any other error marks the attempt
//! `ENDED_FAILED` with the error, so the invoker's normal retry path takes it.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_lambda::error::ProvideErrorMetadata;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use frocket_datastore::{AttemptKey, Datastore, TaskStatus};
use frocket_protocol::TaskRequest;
use tokio::sync::Semaphore;

/// Throttling retries before an invocation counts as failed.
const THROTTLE_RETRIES: u32 = 6;

/// Sends task requests to the worker function.
#[derive(Clone)]
pub struct LambdaDispatcher {
    client: aws_sdk_lambda::Client,
    function: String,
    limit: Arc<Semaphore>,
}

impl std::fmt::Debug for LambdaDispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LambdaDispatcher")
            .field("function", &self.function)
            .field("available", &self.limit.available_permits())
            .finish()
    }
}

/// The error codes Lambda uses for throttling.
fn is_throttling(code: Option<&str>) -> bool {
    matches!(
        code,
        Some("TooManyRequestsException" | "ThrottlingException" | "Throttling" | "RequestLimitExceeded")
    )
}

impl LambdaDispatcher {
    /// A dispatcher for `function`, with credentials and region from the standard AWS
    /// environment and `endpoint` (`FROCKET_LAMBDA_AWS_ENDPOINT_URL`) for emulators.
    pub async fn new(function: impl Into<String>, endpoint: Option<String>, concurrency: usize) -> Self {
        let shared = frocket_storage::aws_sdk_config().await;
        // No SDK retries: throttling is retried here, anything else goes through the
        // invoker's own retry path (an SDK retry of a 5xx could run a task twice unseen).
        let mut b = aws_sdk_lambda::config::Builder::from(&shared)
            .retry_config(aws_sdk_lambda::config::retry::RetryConfig::disabled());
        if let Some(e) = endpoint {
            b = b.endpoint_url(e);
        }
        LambdaDispatcher {
            client: aws_sdk_lambda::Client::from_conf(b.build()),
            function: function.into(),
            limit: Arc::new(Semaphore::new(concurrency.max(1))),
        }
    }

    /// The worker function's name.
    pub fn function(&self) -> &str {
        &self.function
    }

    /// Sends each `(request, payload)` on a spawned task; failures are reported on the
    /// attempt's status in `ds`.
    pub fn send(&self, ds: &Datastore, reqs: Vec<(TaskRequest, String)>) {
        for (req, payload) in reqs {
            let this = self.clone();
            let ds = ds.clone();
            tokio::spawn(async move {
                let Ok(_permit) = this.limit.clone().acquire_owned().await else {
                    return;
                };
                if let Err(message) = this.invoke(payload).await {
                    let key = AttemptKey {
                        request: req.request_id.clone(),
                        task: req.task,
                        attempt: req.attempt,
                    };
                    let _ = ds
                        .set_status(&key, TaskStatus::EndedFailed, None, Some(&message), req.ttl_secs)
                        .await;
                }
            });
        }
    }

    /// One asynchronous invocation with `payload` as the event, retrying throttling.
    pub async fn invoke(&self, payload: String) -> Result<(), String> {
        let mut delay = Duration::from_millis(100);
        let mut tries = 0;
        loop {
            let r = self
                .client
                .invoke()
                .function_name(&self.function)
                .invocation_type(InvocationType::Event)
                .payload(Blob::new(payload.as_bytes()))
                .send()
                .await;
            match r {
                Ok(out) => {
                    if let Some(err) = out.function_error() {
                        return Err(format!("worker function '{}' failed: {err}", self.function));
                    }
                    return Ok(());
                }
                Err(e) if is_throttling(e.code()) && tries < THROTTLE_RETRIES => {
                    tries += 1;
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
                Err(e) => {
                    // An emulator answers a function error with a 500 whose body is the error.
                    let body = e
                        .raw_response()
                        .and_then(|r| r.body().bytes())
                        .map(|b| String::from_utf8_lossy(b).into_owned())
                        .filter(|b| !b.is_empty());
                    let detail = match (e.code(), e.message(), body) {
                        (Some(c), Some(m), _) => format!("{c}: {m}"),
                        (Some(c), None, _) => c.to_string(),
                        (None, _, Some(b)) => b,
                        _ => format!("{}", aws_sdk_lambda::error::DisplayErrorContext(&e)),
                    };
                    return Err(format!("invoking worker function '{}' failed: {detail}", self.function));
                }
            }
        }
    }
}
