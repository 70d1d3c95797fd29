//! The register-dataset Lambda: event = register body. Wiring only; see
//! `frocket_lambda::register`.

use frocket_lambda::{setup, RegisterFunction};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let (cfg, ds) = setup::connect(setup::Role::Local).await?;
    let function = RegisterFunction::new(&cfg, ds).await?;
    let function = &function;
    lambda_runtime::run(service_fn(move |e: LambdaEvent<Value>| async move {
        function.handle(e.payload).await
    }))
    .await
}
