//! The HTTP API of api.md as one axum [`Router`], served by `frocket serve` and by the
//! query-invoker Lambda (through `lambda_http`).
//!
//! Every response carries `x-request-id`; JSON bodies are the envelope
//! `{"success": true, "requestId": ..., ...}` or `{"success": false, "errorMessage", "requestId"}`
//! with the status code of [`ApiError::status`]. `?stream=true` on register, query and
//! empty-query answers with newline-delimited JSON: progress lines, then the envelope.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Extension, MatchedPath, Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use frocket_dataset::{Catalog, RegisterRequest};
use frocket_invoker::{new_request_id, ErrorResponse, Progress, QueryResponse};
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::jobs::JobStore;
use crate::limit::{Admission, QueryLimiter};
use crate::metrics::Metrics;
use crate::service::{PreparedQuery, ProgressFn, Service};

/// Largest request body accepted (bytes); larger bodies get 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The request id of the request being answered (set by the router's middleware).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// An asynchronous query to run: what `POST /queries` starts.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AsyncQuery {
    /// Its request id (the key to poll).
    pub request_id: String,
    /// Dataset name.
    pub dataset: String,
    /// The query (JSON text).
    pub query: String,
}

/// A way to start an asynchronous query elsewhere (e.g. the invoker Lambda invoking itself,
/// since a Lambda cannot keep working after it answered). Without one, the query runs on a
/// task of this process.
pub type AsyncStarter =
    Arc<dyn Fn(AsyncQuery) -> Pin<Box<dyn Future<Output = Result<(), ApiError>> + Send>> + Send + Sync>;

/// What the handlers share.
pub struct ApiState<C> {
    /// The operations.
    pub service: Arc<Service<C>>,
    /// States of asynchronous queries.
    pub jobs: JobStore,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// How asynchronous queries start (`None`: a task of this process).
    pub async_starter: Option<AsyncStarter>,
    /// Queries running at once and waiting (`FROCKET_APISERVER_MAX_CONCURRENT_QUERIES`…).
    pub limiter: QueryLimiter,
}

impl<C> Clone for ApiState<C> {
    fn clone(&self) -> Self {
        ApiState {
            service: self.service.clone(),
            jobs: self.jobs.clone(),
            metrics: self.metrics.clone(),
            async_starter: self.async_starter.clone(),
            limiter: self.limiter.clone(),
        }
    }
}

impl<C: Catalog + 'static> ApiState<C> {
    /// State for `service` with asynchronous query states in `jobs`.
    pub fn new(service: Arc<Service<C>>, jobs: JobStore) -> Self {
        let limiter = QueryLimiter::from_config(service.config());
        ApiState {
            service,
            jobs,
            metrics: Arc::new(Metrics::default()),
            async_starter: None,
            limiter,
        }
    }

    /// Runs a started asynchronous query to its end, keeping its state (progress, then the
    /// final envelope) in the job store. Errors are stored, not returned.
    pub async fn run_async_query(&self, q: AsyncQuery) {
        let prepared = self.service.prepare_query(&q.dataset, &q.query).await;
        let admitted = prepared.and_then(|p| Ok((p, self.limiter.admit()?)));
        self.run_async_prepared(&q.request_id, admitted).await;
    }

    /// As [`ApiState::run_async_query`], for a query already prepared and admitted (or that
    /// failed to be): waits for its slot, then runs.
    async fn run_async_prepared(&self, id: &str, admitted: Result<(PreparedQuery, Admission), ApiError>) {
        let id = id.to_string();
        let admitted = match admitted {
            Ok((prepared, admission)) => admission.slot().await.map(|slot| (prepared, slot)),
            Err(e) => Err(e),
        };
        let outcome = match admitted {
            Ok((prepared, _slot)) => {
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Progress>();
                let jobs = self.jobs.clone();
                let wid = id.clone();
                let writer = tokio::spawn(async move {
                    while let Some(mut p) = rx.recv().await {
                        while let Ok(next) = rx.try_recv() {
                            p = next;
                        }
                        let _ = jobs.put(&wid, &progress_state(&wid, "RUNNING", Some(&p))).await;
                    }
                });
                let progress: ProgressFn = Arc::new(move |p| {
                    let _ = tx.send(p);
                });
                let r = self.run_prepared(prepared, &id, progress).await;
                let _ = writer.await;
                r
            }
            Err(e) => Err(e),
        };
        let mut state = progress_state(&id, "DONE", None);
        state["response"] = match outcome {
            Ok(resp) => serde_json::to_value(&resp).unwrap_or(Value::Null),
            Err(e) => error_body(self, &id, &e),
        };
        if let Err(e) = self.jobs.put(&id, &state).await {
            tracing::error!(request_id = %id, "cannot store the result of an asynchronous query: {e}");
        }
    }

    async fn run_prepared(
        &self,
        prepared: PreparedQuery,
        id: &str,
        progress: ProgressFn,
    ) -> Result<QueryResponse, ApiError> {
        let t = Instant::now();
        let r = self.service.run_query(prepared, id, progress).await;
        let secs = t.elapsed().as_secs_f64();
        match &r {
            Ok(resp) => self.metrics.query(
                true,
                secs,
                resp.stats.invoker.total_tasks as u64,
                resp.stats.worker.scanned_rows,
            ),
            Err(e) => {
                tracing::warn!(request_id = %id, "query failed: {e}");
                self.metrics.query(false, secs, 0, 0)
            }
        }
        r
    }
}

/// The router over `state`.
pub fn router<C: Catalog + 'static>(state: ApiState<C>) -> Router {
    Router::new()
        .route("/", get(crate::console::index))
        .route("/console/console.css", get(crate::console::css))
        .route("/console/console.js", get(crate::console::js))
        .route("/datasets/register", post(register::<C>))
        .route("/datasets", get(list::<C>))
        .route("/datasets/{name}/schema", get(schema::<C>))
        .route("/datasets/{name}/parts", get(parts::<C>))
        .route("/datasets/{name}/empty-query", get(empty_query::<C>))
        .route("/datasets/{name}/query", post(query::<C>))
        .route("/datasets/{name}/unregister", post(unregister::<C>))
        .route("/queries", post(start_query::<C>))
        .route("/queries/{id}", get(poll_query::<C>))
        .route("/health", get(health::<C>))
        .route("/metrics", get(metrics::<C>))
        .route_layer(middleware::from_fn_with_state(state.clone(), count_request::<C>))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(request_id))
        .with_state(state)
}

async fn request_id(mut req: Request, next: Next) -> Response {
    let id = new_request_id();
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut resp = next.run(req).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}

async fn count_request<C: Catalog + 'static>(State(s): State<ApiState<C>>, req: Request, next: Next) -> Response {
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let resp = next.run(req).await;
    s.metrics.request(&method, &route, resp.status().as_u16());
    resp
}

fn error_body<C>(s: &ApiState<C>, id: &str, e: &ApiError) -> Value {
    // Without error details, failures inside the service (they can name server paths, hosts
    // and parts) are logged in full and answered by their kind only.
    let hidden = !s.service.config().apiserver_error_details;
    let message = match e {
        ApiError::Internal(m) if hidden => {
            tracing::error!(request_id = %id, "internal error: {m}");
            format!("internal error (request {id}); details are in the server log")
        }
        ApiError::BadGateway(m) if hidden => {
            tracing::error!(request_id = %id, "upstream failure: {m}");
            format!("a part could not be read or a task failed on its workers (request {id}); details are in the server log")
        }
        ApiError::Unavailable(m) if hidden => {
            tracing::warn!(request_id = %id, "unavailable: {m}");
            format!("the datastore or the storage is unavailable for now (request {id}): retry later; details are in the server log")
        }
        other => other.to_string(),
    };
    serde_json::to_value(ErrorResponse {
        success: false,
        error_message: message,
        request_id: id.to_string(),
        errors: match e {
            ApiError::Invalid(v) => v.0.clone(),
            _ => vec![],
        },
    })
    .unwrap_or(Value::Null)
}

fn json_response(status: u16, body: &Value) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (code, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

/// Seconds a `503` asks the caller to wait before trying again.
pub const RETRY_AFTER_SECS: u64 = 2;

fn fail<C>(s: &ApiState<C>, id: &str, e: ApiError) -> Response {
    let mut resp = json_response(e.status(), &error_body(s, id, &e));
    if e.status() == 503 {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    }
    resp
}

/// The success envelope: `fields` (an object) with `success` and `requestId` added.
///
/// ```
/// let v = frocket_api::router::success("1-a", serde_json::json!({"name": "d"}));
/// assert_eq!(v, serde_json::json!({"success": true, "requestId": "1-a", "name": "d"}));
/// ```
pub fn success(id: &str, fields: Value) -> Value {
    let mut out = serde_json::Map::new();
    out.insert("success".into(), Value::Bool(true));
    out.insert("requestId".into(), Value::String(id.to_string()));
    if let Value::Object(m) = fields {
        out.extend(m);
    }
    Value::Object(out)
}

fn flag(q: &HashMap<String, String>, name: &str) -> bool {
    q.get(name)
        .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes" | ""))
}

fn body_text(body: Result<Bytes, BytesRejection>) -> Result<String, ApiError> {
    let bytes = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(format!("request body is larger than {MAX_BODY_BYTES} bytes"))
        } else {
            ApiError::BadRequest(format!("cannot read the request body: {e}"))
        }
    })?;
    String::from_utf8(bytes.to_vec()).map_err(|e| ApiError::BadRequest(format!("request body is not UTF-8: {e}")))
}

fn tasks_json(p: Option<&Progress>) -> Value {
    match p {
        Some(p) => json!({"QUEUED": p.tasks.queued, "LOADING_DATA": p.tasks.loading_data,
            "RUNNING_QUERY": p.tasks.running_query, "ENDED_SUCCESS": p.tasks.ended_success,
            "ENDED_FAILED": p.tasks.ended_failed}),
        None => json!({}),
    }
}

fn progress_line(stage: &str, p: Option<&Progress>) -> Value {
    match p {
        Some(p) => json!({
            "message": format!("{} of {} tasks done, {} rows scanned", p.tasks.ended_success, p.total, p.rows),
            "stage": stage, "tasks": tasks_json(Some(p)), "rows": p.rows,
        }),
        None => json!({"message": stage.to_ascii_lowercase(), "stage": stage, "tasks": tasks_json(None)}),
    }
}

fn progress_state(id: &str, stage: &str, p: Option<&Progress>) -> Value {
    let mut v = success(id, progress_line(stage, p));
    v["done"] = Value::Bool(stage == "DONE");
    v
}

/// An NDJSON response: a STARTING line, a RUNNING line per progress change, a DONE line, then
/// the final envelope made by `job`.
fn ndjson<F, Fut>(job: F) -> Response
where
    F: FnOnce(ProgressFn) -> Fut + Send + 'static,
    Fut: Future<Output = Value> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let _ = tx.send(progress_line("STARTING", None).to_string());
    let ptx = tx.clone();
    let last = std::sync::Mutex::new(None::<Progress>);
    let progress: ProgressFn = Arc::new(move |p: Progress| {
        if let Ok(mut l) = last.lock() {
            if *l == Some(p) {
                return;
            }
            *l = Some(p);
        }
        let _ = ptx.send(progress_line("RUNNING", Some(&p)).to_string());
    });
    tokio::spawn(async move {
        let envelope = job(progress).await;
        let _ = tx.send(progress_line("DONE", None).to_string());
        let _ = tx.send(envelope.to_string());
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|line| (Ok::<_, Infallible>(Bytes::from(line + "\n")), rx))
    });
    (
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(stream),
    )
        .into_response()
}

fn admin_allowed<C>(s: &ApiState<C>, what: &str) -> Result<(), ApiError> {
    if s.service.config().apiserver_admin_actions {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "{what} is an admin action, disabled on this server (FROCKET_APISERVER_ADMIN_ACTIONS=false)"
        )))
    }
}

async fn register<C: Catalog + 'static>(
    State(s): State<ApiState<C>>,
    Extension(RequestId(id)): Extension<RequestId>,
    Query(q): Query<HashMap<String, String>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let req = match admin_allowed(&s, "register")
        .and_then(|_| body_text(body))
        .and_then(|t| {
            serde_json::from_str::<RegisterRequest>(&t).map_err(|e| ApiError::BadRequest(format!("register body: {e}")))
        }) {
        Ok(r) => r,
        Err(e) => return fail(&s, &id, e),
    };
    if flag(&q, "stream") {
        return ndjson(move |_progress| async move {
            match s.service.register(req).await {
                Ok(v) => success(&id, v),
                Err(e) => error_body(&s, &id, &e),
            }
        });
    }
    match s.service.register(req).await {
        Ok(v) => json_response(200, &success(&id, v)),
        Err(e) => fail(&s, &id, e),
    }
}

async fn list<C: Catalog + 'static>(
    State(s): State<ApiState<C>>,
    Extension(RequestId(id)): Extension<RequestId>,
) -> Response {
    match s.service.list().await {
        Ok(v) => json_response(200, &success(&id, json!({ "datasets": v }))),
        Err(e) => fail(&s, &id, e),
    }
}

async fn schema<C: Catalog + 'static>(
    State(s): State<ApiState<C>>,
    Extension(RequestId(id)): Extension<RequestId>,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    match s.service.schema(&name, flag(&q, "full")).await {
        Ok(v) => json_response(200, &success(&id, v)),
        Err(e) => fail(&s, &id, e),
    }
}

async fn parts<C: Catalog + 'static>(
    State(s): State<ApiState<C>>,
    Extension(RequestId(id)): Extension<RequestId>,
    Path(name): Path<String>,
) -> Response {
    match s.service.parts(&name).await {
        Ok(v) => json_response(200, &success(&id, v)),
        Err(e) => fail(&s, &id, e),
    }
}

async fn run_query_route<C: Catalog + 'static>(
    s: ApiState<C>,
    id: String,
    name: String,
    text: String,
    stream: bool,
) -> Response {
    let prepared = match s.service.prepare_query(&name, &text).await {
        Ok(p) => p,
        Err(e) => return fail(&s, &id, e),
    };
    // Waits here (bounded) while the server runs its limit of queries; 503 past it.
    let slot = match s.limiter.admit() {
        Ok(a) => a.slot().await,
        Err(e) => Err(e),
    };
    let _slot = match slot {
        Ok(slot) => slot,
        Err(e) => return fail(&s, &id, e),
    };
    if stream {
        return ndjson(move |progress| async move {
            let _slot = _slot;
            match s.run_prepared(prepared, &id, progress).await {
                Ok(resp) => serde_json::to_value(&resp).unwrap_or(Value::Null),
                Err(e) => error_body(&s, &id, &e),
            }
        });
    }
    match s.run_prepared(prepared, &id, crate::service::no_progress()).await {
        Ok(resp) => match serde_json::to_value(&resp) {
            Ok(v) => json_response(200, &v),
            Err(e) => fail(&s, &id, ApiError::Internal(format!("cannot encode the response: {e}"))),
        },
        Err(e) => fail(&s, &id, e),
    }
}

async fn empty_query<C: Catalog + 'static>(
    State(s): State<ApiState<C>>,
    Extension(RequestId(id)): Extension<RequestId>,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    run_query_route(s, id, name, "{}".into(), flag(&q, "stream")).await
}

async fn query<C: Catalog + 'static>(
    State(s): State<ApiState<C>>,
    Extension(RequestId(id)): Extension<RequestId>,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let text = match body_text(body) {
        Ok(t) => t,
        Err(e) => return fail(&s, &id, e),
    };
    run_query_route(s, id, name, text, flag(&q, "stream")).await
}

async fn unregister<C: Catalog + 'static>(
    State(s): State<ApiState<C>>,
    Extension(RequestId(id)): Extension<RequestId>,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let r = match admin_allowed(&s, "unregister") {
        Ok(()) => s.service.unregister(&name, flag(&q, "force")).await,
        Err(e) => Err(e),
    };
    match r {
        Ok(v) => json_response(200, &success(&id, v)),
        Err(e) => fail(&s, &id, e),
    }
}

/// `POST /queries` with `{"dataset": NAME, "query": {...}}` (query defaults to `{}`): validates
/// at once (400/404), then answers 202 with the first state while the query runs.
async fn start_query<C: Catalog + 'static>(
    State(s): State<ApiState<C>>,
    Extension(RequestId(id)): Extension<RequestId>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let parsed = body_text(body).and_then(|t| {
        let v: Value =
            serde_json::from_str(&t).map_err(|e| ApiError::BadRequest(format!("malformed JSON body: {e}")))?;
        let dataset = v
            .get("dataset")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::BadRequest("body.dataset: required, the name of a registered dataset".into()))?
            .to_string();
        let query = match v.get("query") {
            None | Some(Value::Null) => "{}".to_string(),
            Some(q @ Value::Object(_)) => q.to_string(),
            Some(_) => return Err(ApiError::BadRequest("body.query: must be an object (a query)".into())),
        };
        Ok((dataset, query))
    });
    let (dataset, text) = match parsed {
        Ok(x) => x,
        Err(e) => return fail(&s, &id, e),
    };
    let prepared = match s.service.prepare_query(&dataset, &text).await {
        Ok(p) => p,
        Err(e) => return fail(&s, &id, e),
    };
    // A place in line now (503 when the line is full); the slot is waited for by the job.
    let admission = match &s.async_starter {
        None => match s.limiter.admit() {
            Ok(a) => Some(a),
            Err(e) => return fail(&s, &id, e),
        },
        Some(_) => None,
    };
    let state = progress_state(&id, "STARTING", None);
    if let Err(e) = s.jobs.put(&id, &state).await {
        return fail(&s, &id, e);
    }
    let job = AsyncQuery {
        request_id: id.clone(),
        dataset,
        query: text,
    };
    match &s.async_starter {
        Some(start) => {
            if let Err(e) = start(job).await {
                return fail(&s, &id, e);
            }
        }
        None => {
            let s2 = s.clone();
            let admitted = admission.ok_or_else(|| ApiError::Internal("query not admitted".into()));
            tokio::spawn(async move {
                s2.run_async_prepared(&job.request_id, admitted.map(|a| (prepared, a)))
                    .await
            });
        }
    }
    json_response(202, &state)
}

async fn poll_query<C: Catalog + 'static>(
    State(s): State<ApiState<C>>,
    Extension(RequestId(id)): Extension<RequestId>,
    Path(query_id): Path<String>,
) -> Response {
    match s.jobs.get(&query_id).await {
        Ok(Some(v)) => json_response(200, &v),
        Ok(None) => fail(
            &s,
            &id,
            ApiError::NotFound(format!("no query '{query_id}' (unknown, or its result expired)")),
        ),
        Err(e) => fail(&s, &id, e),
    }
}

async fn health<C: Catalog + 'static>(
    State(s): State<ApiState<C>>,
    Extension(RequestId(id)): Extension<RequestId>,
) -> Response {
    let queries = json!({"running": s.limiter.running(), "waiting": s.limiter.waiting(),
        "maxConcurrent": s.limiter.max_running(), "maxQueued": s.limiter.max_waiting()});
    match s.service.health().await {
        Ok(d) => json_response(200, &success(&id, json!({ "datastore": d, "queries": queries }))),
        Err(e) => fail(&s, &id, e),
    }
}

async fn metrics<C: Catalog + 'static>(State(s): State<ApiState<C>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(),
    )
        .into_response()
}

async fn not_found(Extension(RequestId(id)): Extension<RequestId>, req: Request) -> Response {
    let body = serde_json::to_value(ErrorResponse {
        success: false,
        error_message: format!("no route {} {}", req.method(), req.uri().path()),
        request_id: id,
        errors: vec![],
    })
    .unwrap_or(Value::Null);
    json_response(404, &body)
}
