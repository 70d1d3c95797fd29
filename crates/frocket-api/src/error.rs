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
    /// A malformed body, a query failing validation, a dataset that cannot be registered (400).
    #[error("{0}")]
    BadRequest(String),
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
    /// An internal failure: datastore, workers, timeout (500).
    #[error("{0}")]
    Internal(String),
    /// The datastore does not answer (503, health only).
    #[error("{0}")]
    Unavailable(String),
}

impl ApiError {
    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        match self {
            ApiError::BadRequest(_) => 400,
            ApiError::Forbidden(_) => 403,
            ApiError::NotFound(_) => 404,
            ApiError::Conflict(_) => 409,
            ApiError::PayloadTooLarge(_) => 413,
            ApiError::Internal(_) => 500,
            ApiError::Unavailable(_) => 503,
        }
    }
}

impl From<CatalogError> for ApiError {
    fn from(e: CatalogError) -> Self {
        ApiError::Internal(e.to_string())
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
            EngineError::Validation(v) => ApiError::BadRequest(v.to_string()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<InvokerError> for ApiError {
    fn from(e: InvokerError) -> Self {
        match e {
            InvokerError::Register(r) => ApiError::from(r),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

#[cfg(feature = "distributed")]
impl From<frocket_datastore::DatastoreError> for ApiError {
    fn from(e: frocket_datastore::DatastoreError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

#[cfg(feature = "distributed")]
impl From<frocket_storage::StorageError> for ApiError {
    fn from(e: frocket_storage::StorageError) -> Self {
        ApiError::BadRequest(e.to_string())
    }
}
