//! The register-dataset function: event = the register body of api.md. The sampled parts are
//! inspected by worker Lambdas.

use std::sync::Arc;

use frocket_api::{Backend, Service};
use frocket_config::Config;
use frocket_dataset::RegisterRequest;
use frocket_datastore::Datastore;
use serde_json::Value;

use crate::LambdaError;

/// The registration function's state, kept across warm invocations.
pub struct RegisterFunction {
    service: Arc<Service<Datastore>>,
}

impl RegisterFunction {
    /// Registers into the datastore `ds`; the sampled parts are inspected by the workers (the
    /// worker Lambda, or queue workers with `FROCKET_INVOKER=work_queue`).
    pub async fn new(cfg: &Config, ds: Datastore) -> Result<Self, LambdaError> {
        let backend = Backend::Remote {
            ds: ds.clone(),
            dispatch: crate::invoker::worker_dispatch(cfg).await?,
        };
        Ok(RegisterFunction {
            service: Arc::new(Service::new(cfg.clone(), ds, backend)),
        })
    }

    /// Registers the dataset the event describes; answers with the success envelope.
    pub async fn handle(&self, event: Value) -> Result<Value, LambdaError> {
        let req: RegisterRequest = serde_json::from_value(event)
            .map_err(|e| LambdaError::BadEvent(format!("malformed register request: {e}")))?;
        let name = req.name.clone();
        let summary = self.service.register(req).await?;
        tracing::info!(dataset = %name, "registered");
        Ok(frocket_api::router::success(
            &frocket_invoker::new_request_id(),
            summary,
        ))
    }
}
