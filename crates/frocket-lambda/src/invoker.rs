//! The query-invoker function: API Gateway HTTP API events (payload 2.0) through the router of
//! `frocket-api`, workers invoked asynchronously. `POST /queries` cannot keep running after
//! the function answers, so it invokes this same function asynchronously with an
//! [`ASYNC_QUERY_KEY`] event that runs the query and keeps its state in Redis.

use std::sync::Arc;

use frocket_api::{router, ApiError, ApiState, AsyncQuery, Backend, JobStore, Service};
use frocket_config::{Config, InvokerKind};
use frocket_datastore::Datastore;
use frocket_invoker::{Dispatch, LambdaDispatcher};
use lambda_http::request::LambdaRequest;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;
use tower::ServiceExt;

use crate::LambdaError;

/// The key of the asynchronous-query events this function sends itself.
pub const ASYNC_QUERY_KEY: &str = "frocketAsyncQuery";

/// The invoker function's state, kept across warm invocations.
pub struct InvokerFunction {
    state: ApiState<Datastore>,
    app: axum::Router,
}

/// How a function reaches the workers: the `FROCKET_INVOKER_LAMBDA_NAME` function invoked
/// asynchronously (the default), or the Redis queue with `FROCKET_INVOKER=work_queue`.
pub async fn worker_dispatch(cfg: &Config) -> Result<Dispatch, LambdaError> {
    match cfg.invoker.kind.unwrap_or(InvokerKind::AwsLambda) {
        InvokerKind::AwsLambda => Ok(Dispatch::Lambda(
            LambdaDispatcher::new(
                cfg.invoker.lambda_name.clone(),
                cfg.lambda_endpoint_url.clone(),
                cfg.invoker.lambda_concurrency,
            )
            .await,
        )),
        InvokerKind::WorkQueue => Ok(Dispatch::Queue),
        InvokerKind::Local => Err(LambdaError::BadEvent(
            "FROCKET_INVOKER=local cannot run in Lambda: use aws_lambda or work_queue".into(),
        )),
    }
}

impl InvokerFunction {
    /// An invoker over `ds` whose workers are the `FROCKET_INVOKER_LAMBDA_NAME` function (or
    /// queue workers with `FROCKET_INVOKER=work_queue`); asynchronous queries re-invoke
    /// `self_function` (this function's own name).
    pub async fn new(cfg: &Config, ds: Datastore, self_function: &str) -> Result<Self, LambdaError> {
        let endpoint = cfg.lambda_endpoint_url.clone();
        let backend = Backend::Remote {
            ds: ds.clone(),
            dispatch: worker_dispatch(cfg).await?,
        };
        let jobs = JobStore::Redis {
            ds: ds.clone(),
            ttl_secs: cfg
                .blobstore_default_ttl_secs
                .max((cfg.invoker.run_timeout_secs * 2.0) as u64),
        };
        let mut state = ApiState::new(Arc::new(Service::new(cfg.clone(), ds, backend)), jobs);
        let me = LambdaDispatcher::new(self_function.to_string(), endpoint, 4).await;
        state.async_starter = Some(Arc::new(move |q: AsyncQuery| {
            let me = me.clone();
            Box::pin(async move {
                let event = serde_json::json!({ ASYNC_QUERY_KEY: q });
                me.invoke(event.to_string())
                    .await
                    .map_err(|e| ApiError::Internal(format!("cannot start the asynchronous query: {e}")))
            })
        }));
        let app = router(state.clone());
        Ok(InvokerFunction { state, app })
    }

    /// The API state (service, job store, metrics).
    pub fn state(&self) -> &ApiState<Datastore> {
        &self.state
    }

    /// Handles one event: an asynchronous query this function started, or an HTTP request.
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, LambdaError> {
        let LambdaEvent { payload, context } = event;
        if let Some(q) = payload.get(ASYNC_QUERY_KEY) {
            let q: AsyncQuery = serde_json::from_value(q.clone())
                .map_err(|e| LambdaError::BadEvent(format!("malformed asynchronous query event: {e}")))?;
            self.state.run_async_query(q).await;
            return Ok(Value::Null);
        }
        self.handle_http(payload, context).await
    }

    async fn handle_http(&self, payload: Value, context: Context) -> Result<Value, LambdaError> {
        let req: LambdaRequest = serde_json::from_value(payload)
            .map_err(|e| LambdaError::BadEvent(format!("not an API Gateway event: {e}")))?;
        let adapter = lambda_http::Adapter::from(self.app.clone());
        let resp = adapter
            .oneshot(LambdaEvent::new(req, context))
            .await
            .map_err(|e| LambdaError::BadEvent(format!("request failed: {e}")))?;
        serde_json::to_value(resp).map_err(|e| LambdaError::BadEvent(format!("cannot encode the response: {e}")))
    }
}
