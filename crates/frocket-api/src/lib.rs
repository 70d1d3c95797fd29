//! # frocket-api
//!
//! The operations of Funnel Rocket over a catalog and a backend ([`Service`]: register, list,
//! schema, parts, query, unregister, health) and the one HTTP API of api.md that serves them
//! ([`router`]), used by `frocket serve`, the query-invoker Lambda and the CLI alike.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use std::sync::Arc;
//! use frocket_api::{router, ApiState, Backend, JobStore, Service};
//! let dir = tempfile::tempdir().unwrap();
//! let cfg = frocket_config::Config::from_vars(Vec::<(String, String)>::new()).unwrap();
//! let service = Service::new(cfg, frocket_dataset::FileCatalog::new(dir.path()), Backend::Local { threads: 1 });
//! let app = router(ApiState::new(Arc::new(service), JobStore::memory()));
//! # let _ = app;
//! # });
//! ```

pub mod console;
pub mod error;
pub mod jobs;
pub mod limit;
pub mod metrics;
pub mod router;
pub mod service;

pub use error::ApiError;
pub use jobs::JobStore;
pub use limit::{Admission, QueryLimiter, Slot};
pub use metrics::Metrics;
pub use router::{router, ApiState, AsyncQuery, AsyncStarter, RequestId, MAX_BODY_BYTES};
pub use service::{no_progress, Backend, PreparedQuery, ProgressFn, Service};
