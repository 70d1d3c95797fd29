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
    frocket_engine::part_file::keep_mapped(cfg.read.mmap_keep);
    frocket_datastore::resolve_redis(&mut cfg).await?;
    resolve_auth_secret(&mut cfg).await?;
    let ds = Datastore::connect(&cfg.redis, cfg.blobstore_default_ttl_secs, cfg.blobstore_max_ttl_secs).await?;
    Ok((cfg, ds))
}

/// Fills `cfg.redis.auth_token` from the Secrets Manager secret `FROCKET_REDIS_AUTH_SECRET_ARN`
/// when no token is set: a JSON object with an `auth_token` field (what the Terraform stores,
/// beside `host` and `port`), or the token as the whole secret string. Once per cold start; an
/// error names the variable. `cfg.secretsmanager_endpoint_url` overrides the API address.
pub async fn resolve_auth_secret(cfg: &mut Config) -> Result<(), LambdaError> {
    if cfg.redis.auth_token.is_some() {
        return Ok(());
    }
    let Some(arn) = cfg.redis.auth_secret_arn.clone() else {
        return Ok(());
    };
    let err = |m: String| LambdaError::Secret(format!("FROCKET_REDIS_AUTH_SECRET_ARN='{arn}': {m}"));
    let shared = aws_config().await;
    let mut b = aws_sdk_secretsmanager::config::Builder::from(&shared);
    if let Some(e) = &cfg.secretsmanager_endpoint_url {
        b = b.endpoint_url(e);
    }
    let client = aws_sdk_secretsmanager::Client::from_conf(b.build());
    let out = client.get_secret_value().secret_id(&arn).send().await.map_err(|e| {
        err(format!(
            "cannot read the secret: {}",
            aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
        ))
    })?;
    let text = out
        .secret_string()
        .ok_or_else(|| err("the secret has no string value".into()))?;
    let token = match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(m)) => m
            .get("auth_token")
            .and_then(serde_json::Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| err("the secret's JSON has no string 'auth_token'".into()))?,
        _ => text.trim().to_string(),
    };
    if token.is_empty() {
        return Err(err("the token in the secret is empty".into()));
    }
    cfg.redis.auth_token = Some(token);
    Ok(())
}
