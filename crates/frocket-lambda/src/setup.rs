//! Start-up of a function, once per cold start: logging, configuration, the Redis endpoint
//! (from `FROCKET_REDIS_HOST`, or the ElastiCache API given
//! `FROCKET_ELASTICACHE_REPLICATION_GROUP`) and the datastore connection.

use frocket_config::{Config, LogFormat};
use frocket_datastore::Datastore;

use crate::LambdaError;

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

/// Fills `cfg.redis.host`/`port` from the ElastiCache replication group's primary endpoint
/// when no host is set. `endpoint` overrides the ElastiCache API address (emulators).
pub async fn resolve_redis(cfg: &mut Config, endpoint: Option<&str>) -> Result<(), LambdaError> {
    if cfg.redis.host.is_some() {
        return Ok(());
    }
    let Some(group) = cfg.redis.elasticache_replication_group.clone() else {
        return Err(LambdaError::Redis(
            "no Redis: set FROCKET_REDIS_HOST, or FROCKET_ELASTICACHE_REPLICATION_GROUP to look it up".into(),
        ));
    };
    let shared = aws_config().await;
    let mut b = aws_sdk_elasticache::config::Builder::from(&shared);
    if let Some(e) = endpoint {
        b = b.endpoint_url(e);
    }
    let client = aws_sdk_elasticache::Client::from_conf(b.build());
    let out = client
        .describe_replication_groups()
        .replication_group_id(&group)
        .send()
        .await
        .map_err(|e| {
            LambdaError::Redis(format!(
                "FROCKET_ELASTICACHE_REPLICATION_GROUP='{group}': cannot describe the replication group: {}",
                aws_sdk_elasticache::error::DisplayErrorContext(&e)
            ))
        })?;
    let rg = out.replication_groups().first().ok_or_else(|| {
        LambdaError::Redis(format!(
            "FROCKET_ELASTICACHE_REPLICATION_GROUP='{group}': no such replication group"
        ))
    })?;
    let endpoint = rg
        .node_groups()
        .iter()
        .find_map(|ng| ng.primary_endpoint())
        .or(rg.configuration_endpoint())
        .ok_or_else(|| {
            LambdaError::Redis(format!(
                "FROCKET_ELASTICACHE_REPLICATION_GROUP='{group}': the group has no primary endpoint (yet)"
            ))
        })?;
    let host = endpoint.address().ok_or_else(|| {
        LambdaError::Redis(format!(
            "FROCKET_ELASTICACHE_REPLICATION_GROUP='{group}': endpoint without an address"
        ))
    })?;
    cfg.redis.host = Some(host.to_string());
    if let Some(p) = endpoint.port().and_then(|p| u16::try_from(p).ok()) {
        cfg.redis.port = p;
    }
    Ok(())
}

/// Reads the configuration, finds Redis and connects: what every function does once.
pub async fn connect() -> Result<(Config, Datastore), LambdaError> {
    let mut cfg = Config::from_env()?;
    init_logging(&cfg);
    let endpoint = std::env::var("FROCKET_AWS_ENDPOINT_URL").ok();
    resolve_redis(&mut cfg, endpoint.as_deref()).await?;
    let ds = Datastore::connect(&cfg.redis, cfg.blobstore_default_ttl_secs, cfg.blobstore_max_ttl_secs).await?;
    Ok((cfg, ds))
}
