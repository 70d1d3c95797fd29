//! # frocket-invoker
//!
//! Runs a job as one task per part and merges what the tasks return. [`local`] runs tasks on
//! in-process threads over local files (the embedded default), [`remote`] on remote workers
//! reached through a Redis queue (`frocket worker` processes) or asynchronous Lambda
//! invocations ([`lambda`]); [`registration`] runs a registration's part inspections on those
//! workers; the response envelope and the
//! stats object of api.md live in [`response`] and [`stats`].

#[cfg(feature = "aws-lambda")]
pub mod lambda;
pub mod local;
pub mod merge;
#[cfg(feature = "remote")]
pub mod registration;
#[cfg(feature = "remote")]
pub mod remote;
pub mod response;
pub mod stats;

#[cfg(feature = "aws-lambda")]
pub use lambda::LambdaDispatcher;
pub use local::{run_local, LocalOptions, Progress, TaskCounts};
#[cfg(feature = "remote")]
pub use registration::inspect_remote;
#[cfg(feature = "remote")]
pub use remote::{run_remote, Dispatch, RemoteOptions};
pub use response::{new_request_id, ErrorResponse, QueryResponse};
pub use stats::{Percentiles, Stats};

/// Why a job failed.
#[derive(Debug, thiserror::Error)]
pub enum InvokerError {
    /// A task failed (after its attempts); the message names the part.
    #[error("task for part '{part}' failed: {message}")]
    TaskFailed {
        /// The part.
        part: String,
        /// The last error.
        message: String,
    },
    /// The job did not finish within the run timeout.
    #[error("query timed out after {secs:.1}s (FROCKET_INVOKER_RUN_TIMEOUT; {done} of {total} tasks done){}", cause.as_ref().map(|c| format!("; the datastore failed: {c}")).unwrap_or_default())]
    Timeout {
        /// The timeout.
        secs: f64,
        /// Tasks finished.
        done: usize,
        /// Tasks in all.
        total: usize,
        /// Why the job could not finish, when known (e.g. the datastore's last error).
        cause: Option<String>,
    },
    /// The datastore failed.
    #[cfg(feature = "remote")]
    #[error(transparent)]
    Datastore(#[from] frocket_datastore::DatastoreError),
    /// A registration found a part invalid (or could not read it).
    #[error(transparent)]
    Register(#[from] frocket_dataset::RegisterError),
    /// Merging or finishing results failed.
    #[error(transparent)]
    Engine(#[from] frocket_engine::EngineError),
    /// The invoker itself failed (a blocking step stopped).
    #[error("{0}")]
    Internal(String),
}
