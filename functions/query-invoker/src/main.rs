//! The query-invoker Lambda: API Gateway HTTP API events through the one router of
//! `frocket-api`. Wiring only; see `frocket_lambda::invoker`.

use frocket_lambda::{setup, InvokerFunction};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let (cfg, ds) = setup::connect(setup::Role::PublicApi).await?;
    let me = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "query-invoker".into());
    let function = InvokerFunction::new(&cfg, ds, &me).await?;
    let function = &function;
    lambda_runtime::run(service_fn(move |e: LambdaEvent<Value>| async move {
        function.handle(e).await
    }))
    .await
}
