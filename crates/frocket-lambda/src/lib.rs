//! # frocket-lambda
//!
//! What the three Lambda functions do, as a library their thin `main.rs` files wire up and
//! tests call directly:
//!
//! - [`worker::WorkerFunction`]: one task request per invocation (the same task runner as
//!   `frocket worker`), statuses and result through Redis, its disk cache kept across warm
//!   invocations;
//! - [`invoker::InvokerFunction`]: API Gateway (HTTP API, payload 2.0) events through the one
//!   router of `frocket-api`, with workers invoked as asynchronous Lambda invocations; also the
//!   asynchronous-query events it sends itself for `POST /queries`;
//! - [`register::RegisterFunction`]: the registration job (event = register body);
//! - [`setup`]: logging, configuration and Redis endpoint discovery, done once per cold start.

pub mod invoker;
pub mod register;
pub mod setup;
pub mod worker;

pub use invoker::InvokerFunction;
pub use register::RegisterFunction;
pub use worker::WorkerFunction;

/// Why a function could not start or handle an event.
#[derive(Debug, thiserror::Error)]
pub enum LambdaError {
    /// Bad configuration (names the variable).
    #[error(transparent)]
    Config(#[from] frocket_config::ConfigError),
    /// The datastore failed.
    #[error(transparent)]
    Datastore(#[from] frocket_datastore::DatastoreError),
    /// The event is not what the function takes.
    #[error("{0}")]
    BadEvent(String),
    /// The Redis AUTH secret could not be read (names the variable).
    #[error("{0}")]
    Secret(String),
    /// The operation failed (with its API status).
    #[error(transparent)]
    Api(#[from] frocket_api::ApiError),
}

impl From<LambdaError> for lambda_runtime::Diagnostic {
    fn from(e: LambdaError) -> Self {
        let error_type = match &e {
            LambdaError::Config(_) => "ConfigError",
            LambdaError::Datastore(frocket_datastore::DatastoreError::Endpoint(_)) => "RedisEndpointError",
            LambdaError::Datastore(_) => "DatastoreError",
            LambdaError::BadEvent(_) => "BadEvent",
            LambdaError::Secret(_) => "SecretError",
            LambdaError::Api(_) => "OperationFailed",
        };
        lambda_runtime::Diagnostic {
            error_type: error_type.into(),
            error_message: e.to_string(),
        }
    }
}
