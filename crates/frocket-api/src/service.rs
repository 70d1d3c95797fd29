//! The operations of api.md over a catalog and a backend, shared by the HTTP API, the Lambdas
//! and the CLI: register, list, schema, parts, query, unregister, health.

use std::sync::Arc;

use frocket_config::Config;
use frocket_dataset::{Catalog, DatasetInfo, RegisterOptions, RegisterRequest};
use frocket_engine::query::{validate_query_with, QueryLimits};
use frocket_engine::{ExecOptions, ValidatedQuery};
use frocket_invoker::{run_local, LocalOptions, Progress, QueryResponse};
use serde_json::{json, Value};

use crate::error::ApiError;

/// A progress callback, called as tasks move.
pub type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// A progress callback that ignores progress.
///
/// ```
/// let p = frocket_api::no_progress();
/// p(frocket_invoker::Progress { tasks: Default::default(), total: 0, rows: 0 });
/// ```
pub fn no_progress() -> ProgressFn {
    Arc::new(|_| {})
}

/// Where query tasks run.
// One per service, never moved around in bulk: the size difference does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Backend {
    /// In-process threads over local files (0: all cores).
    Local {
        /// Threads.
        threads: usize,
    },
    /// Remote workers tracked in Redis (queue workers or worker Lambdas).
    #[cfg(feature = "distributed")]
    Remote {
        /// The datastore the workers report to.
        ds: frocket_datastore::Datastore,
        /// How tasks reach them.
        dispatch: frocket_invoker::Dispatch,
    },
}

/// A dataset and a query validated against it, ready to run.
#[derive(Debug, Clone)]
pub struct PreparedQuery {
    /// The dataset.
    pub dataset: DatasetInfo,
    /// The validated query.
    pub query: ValidatedQuery,
}

/// The operations over one catalog and one backend.
pub struct Service<C> {
    cfg: Config,
    catalog: C,
    backend: Backend,
}

fn now_secs() -> u64 {
    frocket_protocol::unix_now() as u64
}

impl<C> Service<C> {
    /// A service over `catalog`, running tasks on `backend`, configured by `cfg`.
    pub fn new(cfg: Config, catalog: C, backend: Backend) -> Self {
        Service { cfg, catalog, backend }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The bounds queries are validated against (`FROCKET_QUERY_MAX_*`).
    pub fn query_limits(&self) -> QueryLimits {
        let m = &self.cfg.query_max;
        QueryLimits {
            max_steps: m.steps,
            max_conditions: m.conditions,
            max_filters: m.filters,
            max_aggregations: m.aggregations,
            max_relation_chars: m.relation_chars,
            max_relation_terms: m.relation_terms,
            max_regex_chars: m.regex_chars,
            max_regex_bytes: m.regex_bytes,
            max_top: m.top,
        }
    }
}

impl<C: Catalog> Service<C> {
    /// The catalog.
    pub fn catalog(&self) -> &C {
        &self.catalog
    }

    /// A registered dataset: 400 for a name breaking the naming rule (checked before any
    /// catalog sees it), 404 when not registered.
    pub async fn dataset(&self, name: &str) -> Result<DatasetInfo, ApiError> {
        frocket_dataset::check_dataset_name(name).map_err(|e| ApiError::BadRequest(e.to_string()))?;
        self.catalog
            .get(name)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("dataset '{name}' is not registered")))
    }

    /// Registers (or re-registers) a dataset: lists its parts, validates the sampled ones,
    /// stores it atomically. Returns a summary.
    pub async fn register(&self, req: RegisterRequest) -> Result<Value, ApiError> {
        frocket_dataset::check_request(&req).map_err(ApiError::from)?;
        if let Some(allowed) = &self.cfg.allowed_basepaths {
            let (allowed, basepath) = (allowed.clone(), req.basepath.clone());
            // May touch the file system (symlinks): off the async runtime.
            let ok = tokio::task::spawn_blocking(move || frocket_dataset::basepath_allowed(&basepath, &allowed))
                .await
                .unwrap_or(false);
            if !ok {
                return Err(ApiError::Forbidden(format!(
                    "basepath '{}' is outside the places this server may register from (FROCKET_ALLOWED_BASEPATHS)",
                    req.basepath
                )));
            }
        }
        let opts = RegisterOptions {
            sample_ratio: self.cfg.validation_sample_ratio,
            sample_max: self.cfg.validation_sample_max,
            categorical_ratio: self.cfg.dataset_categorical_ratio,
        };
        let info = match &self.backend {
            #[cfg(feature = "distributed")]
            Backend::Remote { ds, dispatch } => self.register_on_workers(&req, &opts, ds, dispatch).await,
            Backend::Local { .. } if req.basepath.starts_with("s3://") => self.register_s3(&req, &opts).await,
            Backend::Local { .. } => {
                let r = req.clone();
                tokio::task::spawn_blocking(move || frocket_dataset::register(&r, &opts))
                    .await
                    .map_err(|e| ApiError::Internal(format!("registration stopped: {e}")))?
                    .map_err(ApiError::from)
            }
        }
        .map_err(|e| match e {
            ApiError::BadRequest(m) => ApiError::BadRequest(format!("dataset '{}' not registered: {m}", req.name)),
            other => other,
        })?;
        self.catalog.put(&info).await?;
        Ok(
            json!({"name": info.name, "parts": info.parts.len(), "totalSize": info.total_size(),
                  "basepath": info.basepath, "registrationId": info.registration_id}),
        )
    }

    /// Registration with remote workers: list the parts here (paginated for S3), inspect the
    /// sampled ones on the workers (group ids through the blobstore), check them together here.
    /// The timestamp range comes from the inspected parts.
    #[cfg(feature = "distributed")]
    async fn register_on_workers(
        &self,
        req: &RegisterRequest,
        opts: &RegisterOptions,
        ds: &frocket_datastore::Datastore,
        dispatch: &frocket_invoker::Dispatch,
    ) -> Result<DatasetInfo, ApiError> {
        frocket_dataset::check_request(req)?;
        let storage = frocket_storage::Storage::new(self.cfg.s3_endpoint_url.clone());
        let parts = storage.list(&req.basepath, &req.pattern).await?;
        let picked = frocket_dataset::plan_sample(&parts, req, opts)?;
        let id = frocket_dataset::new_registration_id();
        let request_id = frocket_invoker::new_request_id();
        let found = frocket_invoker::inspect_remote(
            ds,
            dispatch,
            req,
            &id,
            &parts,
            &picked,
            &request_id,
            &self.remote_options(),
            &|_| {},
        )
        .await?;
        Ok(frocket_dataset::finish_registration(req, opts, id, parts, found, &[])?)
    }

    /// The settings of remote jobs (from `FROCKET_INVOKER_*` and `FROCKET_WORKER_*`).
    #[cfg(feature = "distributed")]
    fn remote_options(&self) -> frocket_invoker::RemoteOptions {
        let inv = &self.cfg.invoker;
        frocket_invoker::RemoteOptions {
            run_timeout_secs: inv.run_timeout_secs,
            poll_interval: std::time::Duration::from_millis(inv.poll_interval_ms.max(1)),
            max_attempts: inv.retry_max_attempts.max(1),
            failed_interval_secs: inv.retry_failed_interval_secs,
            lost_interval_secs: inv.retry_lost_interval_secs,
            self_select_preflight_ms: self
                .cfg
                .worker
                .self_select_enabled
                .then_some(self.cfg.worker.part_selection_preflight_ms),
            reject_age_secs: self.cfg.worker.reject_age_secs,
        }
    }

    /// Registration of a dataset in S3 without workers (embedded mode): list (paginated),
    /// download the sampled parts, inspect them here.
    #[cfg(feature = "distributed")]
    async fn register_s3(&self, req: &RegisterRequest, opts: &RegisterOptions) -> Result<DatasetInfo, ApiError> {
        frocket_dataset::check_request(req)?;
        let storage = frocket_storage::Storage::new(self.cfg.s3_endpoint_url.clone());
        let parts = storage.list(&req.basepath, &req.pattern).await?;
        let picked = frocket_dataset::plan_sample(&parts, req, opts)?;
        let tmp = tempdir_for_registration();
        let cache = frocket_storage::DiskCache::new(&tmp, u64::MAX / (1024 * 1024));
        let mut local = Vec::new();
        for &i in &picked {
            match storage.fetch(&parts[i].path, "register", &cache).await {
                Ok((p, _)) => local.push(p),
                Err(e) => {
                    let _ = std::fs::remove_dir_all(&tmp);
                    return Err(e.into());
                }
            }
        }
        let (r, o) = (req.clone(), *opts);
        let done = tokio::task::spawn_blocking(move || {
            let found = frocket_dataset::inspect_parts(&r, &parts, &picked, &local)?;
            frocket_dataset::finish_registration(&r, &o, frocket_dataset::new_registration_id(), parts, found, &[])
        })
        .await
        .map_err(|e| ApiError::Internal(format!("registration stopped: {e}")));
        let _ = std::fs::remove_dir_all(&tmp);
        Ok(done??)
    }

    #[cfg(not(feature = "distributed"))]
    async fn register_s3(&self, _: &RegisterRequest, _: &RegisterOptions) -> Result<DatasetInfo, ApiError> {
        Err(ApiError::BadRequest(
            "s3:// base paths need a build with the 'distributed' feature".into(),
        ))
    }

    /// All datasets with their size and last use.
    pub async fn list(&self) -> Result<Value, ApiError> {
        let mut rows = Vec::new();
        for d in self.catalog.list().await? {
            rows.push(
                json!({"name": d.name, "basepath": d.basepath, "groupIdColumn": d.group_id_column,
                "timestampColumn": d.timestamp_column, "parts": d.parts.len(), "totalSize": d.total_size(),
                "registeredAt": d.registered_at, "lastUsed": self.catalog.last_used(&d.name).await?}),
            );
        }
        Ok(Value::Array(rows))
    }

    /// The short schema, or the full one.
    pub async fn schema(&self, name: &str, full: bool) -> Result<Value, ApiError> {
        let d = self.dataset(name).await?;
        let v = if full {
            serde_json::to_value(&d.schema)
        } else {
            serde_json::to_value(&d.schema.short)
        };
        v.map_err(|e| ApiError::Internal(format!("cannot encode the schema of '{name}': {e}")))
    }

    /// Part names, count and total size.
    pub async fn parts(&self, name: &str) -> Result<Value, ApiError> {
        let d = self.dataset(name).await?;
        Ok(
            json!({"name": d.name, "count": d.parts.len(), "totalSize": d.total_size(),
            "parts": d.parts.iter().map(|p| json!({"path": p.path, "size": p.size})).collect::<Vec<_>>()}),
        )
    }

    /// Looks up the dataset, validates `query` (JSON text) against it and records the use.
    pub async fn prepare_query(&self, name: &str, query: &str) -> Result<PreparedQuery, ApiError> {
        let dataset = self.dataset(name).await?;
        let query = validate_query_with(
            query,
            &dataset.query_schema(),
            self.cfg.aggregations_top_default,
            &self.query_limits(),
        )
        .map_err(ApiError::Invalid)?;
        self.catalog.touch(&dataset.name, now_secs()).await?;
        Ok(PreparedQuery { dataset, query })
    }

    /// Runs a prepared query on the backend; `request_id` goes in the response (and names the
    /// job's Redis keys).
    pub async fn run_query(
        &self,
        prepared: PreparedQuery,
        request_id: &str,
        progress: ProgressFn,
    ) -> Result<QueryResponse, ApiError> {
        let (result, stats) = match &self.backend {
            Backend::Local { threads } => {
                let opts = LocalOptions {
                    threads: *threads,
                    exec: ExecOptions::default(),
                    run_timeout_secs: self.cfg.invoker.run_timeout_secs,
                    map_parts: self.cfg.read.mmap,
                };
                tokio::task::spawn_blocking(move || run_local(&prepared.dataset, &prepared.query, &opts, &*progress))
                    .await
                    .map_err(|e| ApiError::Internal(format!("the query stopped: {e}")))??
            }
            #[cfg(feature = "distributed")]
            Backend::Remote { ds, dispatch } => {
                let opts = self.remote_options();
                frocket_invoker::run_remote(
                    ds,
                    dispatch,
                    &prepared.dataset,
                    &prepared.query,
                    request_id,
                    &opts,
                    &*progress,
                )
                .await?
            }
        };
        Ok(QueryResponse::new(request_id.to_string(), result, stats))
    }

    /// Removes a dataset's registration (its files stay); refuses (409) a dataset used within
    /// the last interval unless `force`.
    pub async fn unregister(&self, name: &str, force: bool) -> Result<Value, ApiError> {
        self.dataset(name).await?;
        if !force {
            if let Some(last) = self.catalog.last_used(name).await? {
                let age = now_secs().saturating_sub(last) as f64;
                let interval = self.cfg.unregister_last_used_interval_secs;
                if age < interval {
                    return Err(ApiError::Conflict(format!(
                        "dataset '{name}' was used {age:.0}s ago (within {interval:.0}s): unregister with force (--force, ?force=true) to remove it anyway"
                    )));
                }
            }
        }
        self.catalog.remove(name).await?;
        Ok(json!({"name": name}))
    }

    /// Whether the datastore answers: `"embedded"` for the file catalog, `"ok"` for Redis.
    pub async fn health(&self) -> Result<&'static str, ApiError> {
        match &self.backend {
            Backend::Local { .. } => Ok("embedded"),
            #[cfg(feature = "distributed")]
            Backend::Remote { ds, .. } => ds
                .ping()
                .await
                .map(|_| "ok")
                .map_err(|e| ApiError::Unavailable(format!("datastore does not answer: {e}"))),
        }
    }
}

#[cfg(feature = "distributed")]
fn tempdir_for_registration() -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "frocket-register-{}-{}",
        std::process::id(),
        frocket_invoker::new_request_id()
    ))
}
