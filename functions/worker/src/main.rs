//! The worker Lambda: one task request per invocation. Wiring only; see `frocket_lambda::worker`.

use frocket_lambda::{setup, WorkerFunction};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    // Allocator tuning for a process that reads parts (see its doc).
    frocket_lambda::worker::keep_freed_memory();
    let (cfg, ds) = setup::connect(setup::Role::Local).await?;
    let function = WorkerFunction::new(&cfg, ds, frocket_lambda::worker::CACHE_DIR);
    let function = &function;
    lambda_runtime::run(service_fn(move |e: LambdaEvent<Value>| async move {
        function.handle(e.payload, Some(e.context.deadline)).await
    }))
    .await
}
