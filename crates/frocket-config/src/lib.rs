//! # frocket-config
//!
//! All configuration is `FROCKET_*` environment variables (operations.md), parsed once into
//! [`Config`]. Every variable has a default that works; a value that does not parse is an error
//! naming the variable, never a silent default.
//!
//! ```
//! use frocket_config::Config;
//! let cfg = Config::from_vars([("FROCKET_REDIS_PORT", "6380")]).unwrap();
//! assert_eq!(cfg.redis.port, 6380);
//! let err = Config::from_vars([("FROCKET_REDIS_PORT", "sixty")]).unwrap_err();
//! assert!(err.to_string().contains("FROCKET_REDIS_PORT"));
//! ```

use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;

/// A configuration variable with a value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration variable {var}={value:?} is invalid: {reason}")]
pub struct ConfigError {
    /// The variable.
    pub var: String,
    /// Its value.
    pub value: String,
    /// Why it is wrong and what is allowed.
    pub reason: String,
}

/// Which invoker runs tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvokerKind {
    /// In-process threads over local files.
    Local,
    /// Long-running workers on a Redis queue.
    WorkQueue,
    /// Worker Lambdas.
    AwsLambda,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Redis connection.
#[derive(Debug, Clone, PartialEq)]
pub struct RedisConfig {
    /// Host; `None` means embedded local mode for the CLI.
    pub host: Option<String>,
    /// Port.
    pub port: u16,
    /// Database number.
    pub db: u32,
    /// TLS in transit.
    pub tls: bool,
    /// A PEM file of CA certificates to trust for TLS instead of the built-in web roots
    /// (`FROCKET_REDIS_TLS_CA_FILE`; a private CA). ElastiCache needs none.
    pub tls_ca_file: Option<PathBuf>,
    /// AUTH token (`FROCKET_REDIS_AUTH_TOKEN`, for local use).
    pub auth_token: Option<String>,
    /// The Secrets Manager secret holding the AUTH token (`FROCKET_REDIS_AUTH_SECRET_ARN`):
    /// the Lambdas read it once per cold start when no token is set.
    pub auth_secret_arn: Option<String>,
    /// Resolve the endpoint from this ElastiCache replication group when no host is set.
    pub elasticache_replication_group: Option<String>,
    /// Key prefix.
    pub prefix: String,
}

/// Bounds on one query (`FROCKET_QUERY_MAX_*`; query-language.md, "Limits"). The defaults are
/// the spec's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryMax {
    /// Steps per sequence (`FROCKET_QUERY_MAX_STEPS`, 64).
    pub steps: usize,
    /// Conditions (`FROCKET_QUERY_MAX_CONDITIONS`, 100).
    pub conditions: usize,
    /// Filters of one condition or step (`FROCKET_QUERY_MAX_FILTERS`, 100).
    pub filters: usize,
    /// Aggregations per list (`FROCKET_QUERY_MAX_AGGREGATIONS`, 100).
    pub aggregations: usize,
    /// Characters of a relation (`FROCKET_QUERY_MAX_RELATION_CHARS`, 10,000).
    pub relation_chars: usize,
    /// Terms of a relation (`FROCKET_QUERY_MAX_RELATION_TERMS`, 1,000).
    pub relation_terms: usize,
    /// Characters of a regex (`FROCKET_QUERY_MAX_REGEX_CHARS`, 1,000).
    pub regex_chars: usize,
    /// Compiled size of a regex in bytes (`FROCKET_QUERY_MAX_REGEX_BYTES`, 1 MiB; at most 10 MiB).
    pub regex_bytes: usize,
    /// `top` of an aggregation (`FROCKET_QUERY_MAX_TOP`, 10,000).
    pub top: usize,
}

/// The invoker's job settings.
#[derive(Debug, Clone, PartialEq)]
pub struct InvokerConfig {
    /// Explicit invoker kind, when set.
    pub kind: Option<InvokerKind>,
    /// Worker function name.
    pub lambda_name: String,
    /// Concurrent Invoke calls.
    pub lambda_concurrency: usize,
    /// Seconds for a whole job.
    pub run_timeout_secs: f64,
    /// Poll interval.
    pub poll_interval_ms: u64,
    /// Attempts per task.
    pub retry_max_attempts: u32,
    /// Seconds before retrying a failed task.
    pub retry_failed_interval_secs: f64,
    /// Seconds without a status update before a task counts as lost.
    pub retry_lost_interval_secs: f64,
}

/// Worker settings.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerConfig {
    /// Requests older than this (seconds) are rejected.
    pub reject_age_secs: f64,
    /// Self-select mode.
    pub self_select_enabled: bool,
    /// Preflight window for cached-part claims.
    pub part_selection_preflight_ms: u64,
    /// Disk cache bound.
    pub disk_cache_size_mb: u64,
}

/// How part files are read.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadConfig {
    /// Map part files into memory instead of reading them with `read` calls
    /// (`FROCKET_READ_MMAP`, default `true`; see `frocket_engine::part_file`).
    pub mmap: bool,
    /// Mapped parts kept mapped between queries, at most (`FROCKET_READ_MMAP_KEEP`, default
    /// 256; 0: each query maps its part anew; see `frocket_engine::part_file`).
    pub mmap_keep: usize,
}

/// Everything configurable.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Redis.
    pub redis: RedisConfig,
    /// Blobstore default TTL (seconds).
    pub blobstore_default_ttl_secs: u64,
    /// Blobstore max TTL (seconds).
    pub blobstore_max_ttl_secs: u64,
    /// Invoker.
    pub invoker: InvokerConfig,
    /// Worker.
    pub worker: WorkerConfig,
    /// Reading part files.
    pub read: ReadConfig,
    /// Default `top` of per-value aggregations.
    pub aggregations_top_default: usize,
    /// Share of parts sampled at registration (SAMPLE mode).
    pub validation_sample_ratio: f64,
    /// Cap of sampled parts.
    pub validation_sample_max: usize,
    /// Unique/rows ratio under which a string column is categorical.
    pub dataset_categorical_ratio: f64,
    /// Seconds within which a used dataset may not be unregistered without force.
    pub unregister_last_used_interval_secs: f64,
    /// Allow register/unregister through the API.
    pub apiserver_admin_actions: bool,
    /// Include internal error details in 500 responses.
    pub apiserver_error_details: bool,
    /// The only places registration may read (`FROCKET_ALLOWED_BASEPATHS`: comma-separated
    /// absolute directories and `s3://bucket[/prefix]`); `None`: anywhere this process can read.
    pub allowed_basepaths: Option<Vec<String>>,
    /// Queries one API server runs at once (`FROCKET_APISERVER_MAX_CONCURRENT_QUERIES`;
    /// default: the number of cores, at least 2).
    pub apiserver_max_concurrent_queries: usize,
    /// Queries that may wait for a slot past that; more get `503` at once
    /// (`FROCKET_APISERVER_MAX_QUEUED_QUERIES`; default: 4 × the concurrent limit).
    pub apiserver_max_queued_queries: usize,
    /// Seconds a query waits for a slot before it gets `503`
    /// (`FROCKET_APISERVER_QUEUE_TIMEOUT`; default 30).
    pub apiserver_queue_timeout_secs: f64,
    /// Bounds on one query.
    pub query_max: QueryMax,
    /// Endpoint override for S3.
    pub s3_endpoint_url: Option<String>,
    /// Endpoint override for Lambda.
    pub lambda_endpoint_url: Option<String>,
    /// Endpoint override for the ElastiCache API (`FROCKET_ELASTICACHE_AWS_ENDPOINT_URL`, or
    /// `FROCKET_AWS_ENDPOINT_URL`).
    pub elasticache_endpoint_url: Option<String>,
    /// Endpoint override for the Secrets Manager API
    /// (`FROCKET_SECRETSMANAGER_AWS_ENDPOINT_URL`, or `FROCKET_AWS_ENDPOINT_URL`).
    pub secretsmanager_endpoint_url: Option<String>,
    /// Log level.
    pub log_level: String,
    /// Log format, when set (Lambda defaults to JSON).
    pub log_format: Option<LogFormat>,
    /// Data directory of the embedded catalog and caches (`FROCKET_HOME`).
    pub home: Option<PathBuf>,
}

/// Parses `FROCKET_ALLOWED_BASEPATHS`: absolute directories or `s3://bucket[/prefix]`, without
/// `..`.
fn parse_basepaths(list: &str) -> Result<Vec<String>, ConfigError> {
    let bad = |value: &str, reason: &str| ConfigError {
        var: "FROCKET_ALLOWED_BASEPATHS".into(),
        value: value.to_string(),
        reason: reason.into(),
    };
    let mut out = Vec::new();
    for p in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if p.split('/').any(|c| c == "..") {
            return Err(bad(p, "a prefix may not contain '..'"));
        }
        match p.strip_prefix("s3://") {
            Some(rest) if !rest.is_empty() && !rest.starts_with('/') => {}
            Some(_) => return Err(bad(p, "expected s3://bucket or s3://bucket/prefix")),
            None if p.starts_with('/') => {}
            None => return Err(bad(p, "expected an absolute directory or s3://bucket[/prefix]")),
        }
        out.push(p.to_string());
    }
    if out.is_empty() {
        return Err(bad(list, "expected at least one directory or s3:// prefix"));
    }
    Ok(out)
}

struct Vars(HashMap<String, String>);

impl Vars {
    fn raw(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str).filter(|v| !v.trim().is_empty())
    }
    fn parse<T: FromStr>(&self, k: &str, default: T, what: &str) -> Result<T, ConfigError> {
        match self.raw(k) {
            None => Ok(default),
            Some(v) => v.trim().parse().map_err(|_| ConfigError {
                var: k.into(),
                value: v.into(),
                reason: format!("expected {what}"),
            }),
        }
    }
    /// A positive integer.
    fn count(&self, k: &str, default: usize) -> Result<usize, ConfigError> {
        let v: usize = self.parse(k, default, "a positive integer")?;
        if v == 0 {
            return Err(ConfigError {
                var: k.into(),
                value: "0".into(),
                reason: "expected a positive integer".into(),
            });
        }
        Ok(v)
    }
    fn positive(&self, k: &str, default: f64) -> Result<f64, ConfigError> {
        let v: f64 = self.parse(k, default, "a positive number")?;
        if v > 0.0 && v.is_finite() {
            Ok(v)
        } else {
            Err(ConfigError {
                var: k.into(),
                value: v.to_string(),
                reason: "expected a positive number".into(),
            })
        }
    }
    fn ratio(&self, k: &str, default: f64) -> Result<f64, ConfigError> {
        let v: f64 = self.parse(k, default, "a number between 0 and 1")?;
        if (0.0..=1.0).contains(&v) {
            Ok(v)
        } else {
            Err(ConfigError {
                var: k.into(),
                value: v.to_string(),
                reason: "expected a number between 0 and 1".into(),
            })
        }
    }
    fn boolean(&self, k: &str, default: bool) -> Result<bool, ConfigError> {
        match self.raw(k).map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) => match v.as_str() {
                "1" | "true" | "yes" | "on" => Ok(true),
                "0" | "false" | "no" | "off" => Ok(false),
                _ => Err(ConfigError {
                    var: k.into(),
                    value: v,
                    reason: "expected true or false".into(),
                }),
            },
        }
    }
    fn string(&self, k: &str) -> Option<String> {
        self.raw(k).map(str::to_string)
    }
}

/// Where a process serves, for the defaults that depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Role {
    /// The CLI, `frocket serve`, workers: an operator's own tools. Admin actions and error
    /// details default to on.
    #[default]
    Local,
    /// A public API (the query-invoker Lambda behind API Gateway): admin actions and error
    /// details default to off, so callers can neither register nor learn the deployment's
    /// internals unless the operator turns them on.
    PublicApi,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(std::env::vars())
    }

    /// Reads the process environment with the defaults of `role`.
    pub fn from_env_as(role: Role) -> Result<Self, ConfigError> {
        Self::from_vars_as(std::env::vars(), role)
    }

    /// Reads the given variables (others are ignored); unset or empty means the default.
    pub fn from_vars<K: Into<String>, V: Into<String>>(
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, ConfigError> {
        Self::from_vars_as(vars, Role::Local)
    }

    /// [`Config::from_vars`] with the defaults of `role`.
    ///
    /// ```
    /// use frocket_config::{Config, Role};
    /// let public = Config::from_vars_as(Vec::<(String, String)>::new(), Role::PublicApi).unwrap();
    /// assert!(!public.apiserver_admin_actions && !public.apiserver_error_details);
    /// let on = Config::from_vars_as([("FROCKET_APISERVER_ADMIN_ACTIONS", "true")], Role::PublicApi).unwrap();
    /// assert!(on.apiserver_admin_actions);
    /// ```
    pub fn from_vars_as<K: Into<String>, V: Into<String>>(
        vars: impl IntoIterator<Item = (K, V)>,
        role: Role,
    ) -> Result<Self, ConfigError> {
        let local = role == Role::Local;
        let v = Vars(
            vars.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .filter(|(k, _)| k.starts_with("FROCKET_"))
                .collect(),
        );
        let kind = match v.raw("FROCKET_INVOKER").map(|s| s.trim().to_ascii_lowercase()) {
            None => None,
            Some(s) => Some(match s.as_str() {
                "local" => InvokerKind::Local,
                "work_queue" => InvokerKind::WorkQueue,
                "aws_lambda" => InvokerKind::AwsLambda,
                _ => {
                    return Err(ConfigError {
                        var: "FROCKET_INVOKER".into(),
                        value: s,
                        reason: "expected aws_lambda, work_queue or local".into(),
                    })
                }
            }),
        };
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get()).max(2);
        let apiserver_max_concurrent_queries: usize =
            v.parse("FROCKET_APISERVER_MAX_CONCURRENT_QUERIES", cores, "a positive integer")?;
        if apiserver_max_concurrent_queries == 0 {
            return Err(ConfigError {
                var: "FROCKET_APISERVER_MAX_CONCURRENT_QUERIES".into(),
                value: "0".into(),
                reason: "expected a positive integer".into(),
            });
        }
        let log_format = match v.raw("FROCKET_LOG_FORMAT").map(|s| s.trim().to_ascii_lowercase()) {
            None => None,
            Some(s) if s == "json" => Some(LogFormat::Json),
            Some(s) if s == "text" => Some(LogFormat::Text),
            Some(s) => {
                return Err(ConfigError {
                    var: "FROCKET_LOG_FORMAT".into(),
                    value: s,
                    reason: "expected text or json".into(),
                })
            }
        };
        let log_level = v
            .string("FROCKET_LOG_LEVEL")
            .unwrap_or_else(|| "info".into())
            .to_ascii_lowercase();
        if !["trace", "debug", "info", "warn", "error", "off"].contains(&log_level.as_str()) {
            return Err(ConfigError {
                var: "FROCKET_LOG_LEVEL".into(),
                value: log_level,
                reason: "expected trace, debug, info, warn, error or off".into(),
            });
        }
        let run_timeout = v.positive("FROCKET_INVOKER_RUN_TIMEOUT", 60.0)?;
        let aws_endpoint = v.string("FROCKET_AWS_ENDPOINT_URL");
        let top: usize = v.parse("FROCKET_AGGREGATIONS_TOP_DEFAULT_COUNT", 10, "a positive integer")?;
        if top == 0 {
            return Err(ConfigError {
                var: "FROCKET_AGGREGATIONS_TOP_DEFAULT_COUNT".into(),
                value: "0".into(),
                reason: "expected a positive integer".into(),
            });
        }
        let tls = v.boolean("FROCKET_REDIS_TLS", false)?;
        let tls_ca_file = v.string("FROCKET_REDIS_TLS_CA_FILE").map(PathBuf::from);
        if let (Some(ca), false) = (&tls_ca_file, tls) {
            return Err(ConfigError {
                var: "FROCKET_REDIS_TLS_CA_FILE".into(),
                value: ca.display().to_string(),
                reason: "a CA file is used only with TLS: set FROCKET_REDIS_TLS=true too".into(),
            });
        }
        Ok(Config {
            redis: RedisConfig {
                host: v.string("FROCKET_REDIS_HOST"),
                port: v.parse("FROCKET_REDIS_PORT", 6379, "a port number (1-65535)")?,
                db: v.parse("FROCKET_REDIS_DB", 0, "a database number")?,
                tls,
                tls_ca_file,
                auth_token: v.string("FROCKET_REDIS_AUTH_TOKEN"),
                auth_secret_arn: v.string("FROCKET_REDIS_AUTH_SECRET_ARN"),
                elasticache_replication_group: v.string("FROCKET_ELASTICACHE_REPLICATION_GROUP"),
                prefix: v
                    .string("FROCKET_DATASTORE_REDIS_PREFIX")
                    .unwrap_or_else(|| "frocket:".into()),
            },
            blobstore_default_ttl_secs: v.parse("FROCKET_BLOBSTORE_DEFAULT_TTL", 600, "seconds (an integer)")?,
            blobstore_max_ttl_secs: v.parse("FROCKET_BLOBSTORE_MAX_TTL", 86_400, "seconds (an integer)")?,
            invoker: InvokerConfig {
                kind,
                lambda_name: v
                    .string("FROCKET_INVOKER_LAMBDA_NAME")
                    .unwrap_or_else(|| "frocket-worker".into()),
                lambda_concurrency: v.parse("FROCKET_INVOKER_LAMBDA_CONCURRENCY", 64, "a positive integer")?,
                run_timeout_secs: run_timeout,
                poll_interval_ms: v.parse(
                    "FROCKET_INVOKER_ASYNC_POLL_INTERVAL_MS",
                    25,
                    "milliseconds (an integer)",
                )?,
                retry_max_attempts: v.parse("FROCKET_INVOKER_RETRY_MAX_ATTEMPTS", 3, "a positive integer")?,
                retry_failed_interval_secs: v.positive("FROCKET_INVOKER_RETRY_FAILED_INTERVAL", 3.0)?,
                retry_lost_interval_secs: v.positive("FROCKET_INVOKER_RETRY_LOST_INTERVAL", 20.0)?,
            },
            worker: WorkerConfig {
                reject_age_secs: v.positive("FROCKET_WORKER_REJECT_AGE", 60.0)?,
                self_select_enabled: v.boolean("FROCKET_WORKER_SELF_SELECT_ENABLED", true)?,
                part_selection_preflight_ms: v.parse(
                    "FROCKET_PART_SELECTION_PREFLIGHT_MS",
                    200,
                    "milliseconds (an integer)",
                )?,
                disk_cache_size_mb: v.parse("FROCKET_WORKER_DISK_CACHE_SIZE_MB", 256, "megabytes (an integer)")?,
            },
            read: ReadConfig {
                mmap: v.boolean("FROCKET_READ_MMAP", true)?,
                mmap_keep: v.parse("FROCKET_READ_MMAP_KEEP", 256, "a number of parts (an integer)")?,
            },
            aggregations_top_default: top,
            validation_sample_ratio: v.ratio("FROCKET_VALIDATION_SAMPLE_RATIO", 0.1)?,
            validation_sample_max: v.parse("FROCKET_VALIDATION_SAMPLE_MAX", 10, "a non-negative integer")?,
            dataset_categorical_ratio: v.ratio("FROCKET_DATASET_CATEGORICAL_RATIO", 0.1)?,
            unregister_last_used_interval_secs: v
                .positive("FROCKET_UNREGISTER_LAST_USED_INTERVAL", 2.0 * run_timeout)?,
            apiserver_admin_actions: v.boolean("FROCKET_APISERVER_ADMIN_ACTIONS", local)?,
            apiserver_error_details: v.boolean("FROCKET_APISERVER_ERROR_DETAILS", local)?,
            allowed_basepaths: match v.raw("FROCKET_ALLOWED_BASEPATHS") {
                None => None,
                Some(list) => Some(parse_basepaths(list)?),
            },
            apiserver_max_concurrent_queries,
            apiserver_max_queued_queries: v.parse(
                "FROCKET_APISERVER_MAX_QUEUED_QUERIES",
                4 * apiserver_max_concurrent_queries,
                "a non-negative integer",
            )?,
            apiserver_queue_timeout_secs: v.positive("FROCKET_APISERVER_QUEUE_TIMEOUT", 30.0)?,
            query_max: QueryMax {
                steps: v.count("FROCKET_QUERY_MAX_STEPS", 64)?,
                conditions: v.count("FROCKET_QUERY_MAX_CONDITIONS", 100)?,
                filters: v.count("FROCKET_QUERY_MAX_FILTERS", 100)?,
                aggregations: v.count("FROCKET_QUERY_MAX_AGGREGATIONS", 100)?,
                relation_chars: v.count("FROCKET_QUERY_MAX_RELATION_CHARS", 10_000)?,
                relation_terms: v.count("FROCKET_QUERY_MAX_RELATION_TERMS", 1_000)?,
                regex_chars: v.count("FROCKET_QUERY_MAX_REGEX_CHARS", 1_000)?,
                regex_bytes: {
                    let b = v.count("FROCKET_QUERY_MAX_REGEX_BYTES", 1024 * 1024)?;
                    if b > 10 * 1024 * 1024 {
                        return Err(ConfigError {
                            var: "FROCKET_QUERY_MAX_REGEX_BYTES".into(),
                            value: b.to_string(),
                            reason: "at most 10485760 (10 MiB), the workers' own bound".into(),
                        });
                    }
                    b
                },
                top: v.count("FROCKET_QUERY_MAX_TOP", 10_000)?,
            },
            s3_endpoint_url: v.string("FROCKET_S3_AWS_ENDPOINT_URL").or_else(|| aws_endpoint.clone()),
            lambda_endpoint_url: v
                .string("FROCKET_LAMBDA_AWS_ENDPOINT_URL")
                .or_else(|| aws_endpoint.clone()),
            elasticache_endpoint_url: v
                .string("FROCKET_ELASTICACHE_AWS_ENDPOINT_URL")
                .or_else(|| aws_endpoint.clone()),
            secretsmanager_endpoint_url: v.string("FROCKET_SECRETSMANAGER_AWS_ENDPOINT_URL").or(aws_endpoint),
            log_level,
            log_format,
            home: v.string("FROCKET_HOME").map(PathBuf::from),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_operations_md() {
        let c = Config::from_vars(Vec::<(String, String)>::new()).unwrap();
        assert_eq!(c.redis.host, None);
        assert_eq!(c.redis.prefix, "frocket:");
        assert_eq!(c.invoker.run_timeout_secs, 60.0);
        assert_eq!(c.invoker.retry_max_attempts, 3);
        assert!(c.read.mmap);
        assert!(!Config::from_vars([("FROCKET_READ_MMAP", "false")]).unwrap().read.mmap);
        assert_eq!(c.read.mmap_keep, 256);
        assert_eq!(
            Config::from_vars([("FROCKET_READ_MMAP_KEEP", "0")])
                .unwrap()
                .read
                .mmap_keep,
            0
        );
        let err = Config::from_vars([("FROCKET_READ_MMAP_KEEP", "-1")]).unwrap_err();
        assert_eq!(err.var, "FROCKET_READ_MMAP_KEEP");
        assert_eq!(c.unregister_last_used_interval_secs, 120.0);
        assert_eq!(c.aggregations_top_default, 10);
        assert_eq!(c.worker.disk_cache_size_mb, 256);
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (k, v) in [
            ("FROCKET_REDIS_PORT", "70000"),
            ("FROCKET_INVOKER", "carrier_pigeon"),
            ("FROCKET_REDIS_TLS", "maybe"),
            ("FROCKET_VALIDATION_SAMPLE_RATIO", "2"),
            ("FROCKET_INVOKER_RUN_TIMEOUT", "-1"),
            ("FROCKET_AGGREGATIONS_TOP_DEFAULT_COUNT", "0"),
            ("FROCKET_LOG_FORMAT", "xml"),
            ("FROCKET_APISERVER_MAX_CONCURRENT_QUERIES", "0"),
            ("FROCKET_APISERVER_MAX_QUEUED_QUERIES", "-1"),
            ("FROCKET_APISERVER_QUEUE_TIMEOUT", "0"),
            ("FROCKET_QUERY_MAX_STEPS", "0"),
            ("FROCKET_QUERY_MAX_TOP", "many"),
            ("FROCKET_QUERY_MAX_REGEX_BYTES", "999999999"),
            ("FROCKET_ALLOWED_BASEPATHS", "relative/dir"),
            ("FROCKET_ALLOWED_BASEPATHS", "/data/../etc"),
            ("FROCKET_ALLOWED_BASEPATHS", "s3:///nobucket"),
            ("FROCKET_ALLOWED_BASEPATHS", " , "),
        ] {
            let e = Config::from_vars([(k, v)]).unwrap_err();
            assert_eq!(e.var, k, "{e}");
        }
    }

    #[test]
    fn allowed_basepaths_and_role_defaults() {
        let c = Config::from_vars([("FROCKET_ALLOWED_BASEPATHS", "/data, s3://bucket/prefix,s3://other")]).unwrap();
        assert_eq!(
            c.allowed_basepaths,
            Some(vec!["/data".into(), "s3://bucket/prefix".into(), "s3://other".into()])
        );
        let local = Config::from_vars(Vec::<(String, String)>::new()).unwrap();
        assert!(local.apiserver_admin_actions && local.apiserver_error_details);
        assert_eq!(local.allowed_basepaths, None);
        let public = Config::from_vars_as(Vec::<(String, String)>::new(), Role::PublicApi).unwrap();
        assert!(!public.apiserver_admin_actions && !public.apiserver_error_details);
    }

    #[test]
    fn endpoint_fallback_and_other_vars_ignored() {
        let c = Config::from_vars([("FROCKET_AWS_ENDPOINT_URL", "http://127.0.0.1:9000"), ("PATH", "/bin")]).unwrap();
        assert_eq!(c.s3_endpoint_url.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(c.lambda_endpoint_url.as_deref(), Some("http://127.0.0.1:9000"));
    }
}
