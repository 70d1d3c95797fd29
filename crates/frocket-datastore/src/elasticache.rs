//! Finding Redis through the ElastiCache API: with no `FROCKET_REDIS_HOST`, the primary
//! endpoint of `FROCKET_ELASTICACHE_REPLICATION_GROUP` (feature `elasticache`).

use frocket_config::Config;

use crate::DatastoreError;

/// Fills `cfg.redis.host`/`port` from the ElastiCache replication group's primary endpoint
/// when no host is set; `cfg.elasticache_endpoint_url` overrides the ElastiCache API address
/// (emulators). An error names the variable.
pub async fn resolve_redis(cfg: &mut Config) -> Result<(), DatastoreError> {
    if cfg.redis.host.is_some() {
        return Ok(());
    }
    let Some(group) = cfg.redis.elasticache_replication_group.clone() else {
        return Err(DatastoreError::Endpoint(
            "no Redis: set FROCKET_REDIS_HOST, or FROCKET_ELASTICACHE_REPLICATION_GROUP to look it up".into(),
        ));
    };
    let shared = frocket_storage::aws_sdk_config().await;
    let mut b = aws_sdk_elasticache::config::Builder::from(&shared);
    if let Some(e) = &cfg.elasticache_endpoint_url {
        b = b.endpoint_url(e);
    }
    let client = aws_sdk_elasticache::Client::from_conf(b.build());
    let out = client
        .describe_replication_groups()
        .replication_group_id(&group)
        .send()
        .await
        .map_err(|e| {
            DatastoreError::Endpoint(format!(
                "FROCKET_ELASTICACHE_REPLICATION_GROUP='{group}': cannot describe the replication group: {}",
                aws_sdk_elasticache::error::DisplayErrorContext(&e)
            ))
        })?;
    let rg = out.replication_groups().first().ok_or_else(|| {
        DatastoreError::Endpoint(format!(
            "FROCKET_ELASTICACHE_REPLICATION_GROUP='{group}': no such replication group"
        ))
    })?;
    let endpoint = rg
        .node_groups()
        .iter()
        .find_map(|ng| ng.primary_endpoint())
        .or(rg.configuration_endpoint())
        .ok_or_else(|| {
            DatastoreError::Endpoint(format!(
                "FROCKET_ELASTICACHE_REPLICATION_GROUP='{group}': the group has no primary endpoint (yet)"
            ))
        })?;
    let host = endpoint.address().ok_or_else(|| {
        DatastoreError::Endpoint(format!(
            "FROCKET_ELASTICACHE_REPLICATION_GROUP='{group}': endpoint without an address"
        ))
    })?;
    cfg.redis.host = Some(host.to_string());
    if let Some(p) = endpoint.port().and_then(|p| u16::try_from(p).ok()) {
        cfg.redis.port = p;
    }
    Ok(())
}
