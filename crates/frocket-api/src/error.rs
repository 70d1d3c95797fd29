//! Errors of the operations, each with the HTTP status api.md gives it.

use frocket_dataset::{CatalogError, RegisterError};
use frocket_engine::EngineError;
use frocket_invoker::InvokerError;

/// Why an operation failed; [`ApiError::status`] is its HTTP status code.
///
/// ```
/// let e = frocket_api::ApiError::NotFound("dataset 'x' is not registered".into());
/// assert_eq!(e.status(), 404);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// A malformed body, a dataset that cannot be registered (400).
    #[error("{0}")]
    BadRequest(String),
    /// A query failing validation (400): every error with its JSON path, also listed one by
    /// one in the error envelope's `errors`.
    #[error("{0}")]
    Invalid(frocket_engine::ValidationErrors),
    /// Admin actions are disabled (403).
    #[error("{0}")]
    Forbidden(String),
    /// Unknown dataset, query or route (404).
    #[error("{0}")]
    NotFound(String),
    /// Unregistering a dataset used within the last interval without force (409).
    #[error("{0}")]
    Conflict(String),
    /// A request body over the size limit (413).
    #[error("{0}")]
    PayloadTooLarge(String),
    /// An internal failure (500).
    #[error("{0}")]
    Internal(String),
    /// Something this server depends on failed: a part could not be read from storage (access
    /// denied, deleted, corrupt), a task failed on its workers (502).
    #[error("{0}")]
    BadGateway(String),
    /// A dependency is unavailable for now — the datastore (Redis) does not answer, storage
    /// throttles or fails after the retries (503, with `Retry-After`).
    #[error("{0}")]
    Unavailable(String),
    /// The server is at its limit of concurrent queries (503, with `Retry-After`; the message
    /// holds no detail of the deployment, so it is always shown).
    #[error("{0}")]
    Busy(String),
    /// The query did not finish within the run timeout (504).
    #[error("{0}")]
    Timeout(String),
}

impl ApiError {
    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        match self {
            ApiError::BadRequest(_) | ApiError::Invalid(_) => 400,
            ApiError::Forbidden(_) => 403,
            ApiError::NotFound(_) => 404,
            ApiError::Conflict(_) => 409,
            ApiError::PayloadTooLarge(_) => 413,
            ApiError::Internal(_) => 500,
            ApiError::BadGateway(_) => 502,
            ApiError::Unavailable(_) | ApiError::Busy(_) => 503,
            ApiError::Timeout(_) => 504,
        }
    }
}

impl From<CatalogError> for ApiError {
    fn from(e: CatalogError) -> Self {
        match e {
            CatalogError::Unavailable(_) => ApiError::Unavailable(e.to_string()),
            CatalogError::InvalidName(_) => ApiError::BadRequest(e.to_string()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<RegisterError> for ApiError {
    fn from(e: RegisterError) -> Self {
        ApiError::BadRequest(e.to_string())
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Validation(v) => ApiError::Invalid(v),
            // The answer exists but does not fit its type: the query has to change.
            EngineError::Overflow(m) => ApiError::BadRequest(m),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<InvokerError> for ApiError {
    fn from(e: InvokerError) -> Self {
        match e {
            InvokerError::Register(r) => ApiError::from(r),
            InvokerError::Engine(e) => ApiError::from(e),
            InvokerError::TaskFailed { .. } => ApiError::BadGateway(e.to_string()),
            InvokerError::Timeout { cause: Some(_), .. } => ApiError::Unavailable(e.to_string()),
            InvokerError::Timeout { .. } => ApiError::Timeout(e.to_string()),
            #[cfg(feature = "distributed")]
            InvokerError::Datastore(d) => ApiError::from(d),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

#[cfg(feature = "distributed")]
impl From<frocket_datastore::DatastoreError> for ApiError {
    fn from(e: frocket_datastore::DatastoreError) -> Self {
        match e {
            frocket_datastore::DatastoreError::Redis { .. } => ApiError::Unavailable(e.to_string()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

#[cfg(feature = "distributed")]
impl From<frocket_storage::StorageError> for ApiError {
    fn from(e: frocket_storage::StorageError) -> Self {
        use frocket_storage::StorageError as S;
        match e {
            S::Invalid(_) | S::List { .. } => ApiError::BadRequest(e.to_string()),
            S::Fetch { .. } | S::Denied { .. } => ApiError::BadGateway(e.to_string()),
            S::Unavailable { .. } => ApiError::Unavailable(e.to_string()),
        }
    }
}
