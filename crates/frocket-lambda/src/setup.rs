//! Start-up of a function, once per cold start: logging, configuration, the Redis endpoint
//! (from `FROCKET_REDIS_HOST`, or the ElastiCache API given
//! `FROCKET_ELASTICACHE_REPLICATION_GROUP`) and the datastore connection.

use frocket_config::{Config, LogFormat};
use frocket_datastore::Datastore;

use crate::LambdaError;

pub use frocket_config::Role;
pub use frocket_datastore::resolve_redis;

/// Logs through `tracing`: JSON lines unless `FROCKET_LOG_FORMAT=text`, at `FROCKET_LOG_LEVEL`.
pub fn init_logging(cfg: &Config) {
    let filter = tracing_subscriber::EnvFilter::new(&cfg.log_level);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .without_time();
    let _ = match cfg.log_format.unwrap_or(LogFormat::Json) {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.with_ansi(false).try_init(),
    };
}

/// The AWS SDK configuration (see [`frocket_storage::aws_sdk_config`]).
pub async fn aws_config() -> aws_config::SdkConfig {
    frocket_storage::aws_sdk_config().await
}

/// Reads the configuration (with the defaults of `role`: the query-invoker serves a public
/// API), finds Redis and connects: what every function does once.
pub async fn connect(role: Role) -> Result<(Config, Datastore), LambdaError> {
    let mut cfg = Config::from_env_as(role)?;
    init_logging(&cfg);
    frocket_datastore::resolve_redis(&mut cfg).await?;
    let ds = Datastore::connect(&cfg.redis, cfg.blobstore_default_ttl_secs, cfg.blobstore_max_ttl_secs).await?;
    Ok((cfg, ds))
}
