//! Redis endpoint discovery through the ElastiCache API (against moto_server's ElastiCache):
//! with no `FROCKET_REDIS_HOST`, the replication group's primary endpoint is used; a missing
//! group or no setting at all is an error naming the variable. The CLI resolves it the same way.

use frocket_config::Config;
use frocket_lambda::setup::resolve_redis;
use frocket_tests::services::S3Server;

#[test]
fn redis_endpoint_comes_from_the_replication_group() {
    let moto = S3Server::start();
    for (k, v) in moto.env() {
        std::env::set_var(k, v);
    }
    let endpoint = format!("http://127.0.0.1:{}", moto.port);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let shared = frocket_lambda::setup::aws_config().await;
        let client = aws_sdk_elasticache::Client::from_conf(
            aws_sdk_elasticache::config::Builder::from(&shared)
                .endpoint_url(&endpoint)
                .build(),
        );
        client
            .create_replication_group()
            .replication_group_id("frocket-redis")
            .replication_group_description("test")
            .engine("redis")
            .cache_node_type("cache.t4g.small")
            .num_cache_clusters(2)
            .automatic_failover_enabled(true)
            .port(6380)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{}", aws_sdk_elasticache::error::DisplayErrorContext(&e)));

        let mut cfg = Config::from_vars([
            ("FROCKET_ELASTICACHE_REPLICATION_GROUP", "frocket-redis"),
            ("FROCKET_ELASTICACHE_AWS_ENDPOINT_URL", &endpoint),
        ])
        .unwrap();
        resolve_redis(&mut cfg).await.unwrap();
        let host = cfg.redis.host.clone().unwrap();
        assert!(host.starts_with("master.frocket-redis."), "{host}");
        assert_eq!(cfg.redis.port, 6380);

        // A host that is set wins; the API is not asked.
        let mut cfg = Config::from_vars([
            ("FROCKET_REDIS_HOST", "redis.internal"),
            ("FROCKET_ELASTICACHE_REPLICATION_GROUP", "frocket-redis"),
            ("FROCKET_ELASTICACHE_AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
        ])
        .unwrap();
        resolve_redis(&mut cfg).await.unwrap();
        assert_eq!(cfg.redis.host.as_deref(), Some("redis.internal"));

        let mut cfg = Config::from_vars([
            ("FROCKET_ELASTICACHE_REPLICATION_GROUP", "nope"),
            ("FROCKET_ELASTICACHE_AWS_ENDPOINT_URL", &endpoint),
        ])
        .unwrap();
        let e = resolve_redis(&mut cfg).await.unwrap_err().to_string();
        assert!(e.contains("FROCKET_ELASTICACHE_REPLICATION_GROUP='nope'"), "{e}");

        // The CLI resolves it too: with only the group set, it connects to the group's primary
        // (not reachable from here: the error names it).
        let mut env = moto.env();
        env.push(("FROCKET_ELASTICACHE_REPLICATION_GROUP", "frocket-redis".to_string()));
        env.push(("FROCKET_ELASTICACHE_AWS_ENDPOINT_URL", endpoint.clone()));
        let e = frocket_tests::Frocket::with_env(&env).fails(&["list"]);
        assert!(e.contains("master.frocket-redis.") && e.contains(":6380"), "{e}");

        let mut cfg = Config::from_vars(Vec::<(String, String)>::new()).unwrap();
        let e = resolve_redis(&mut cfg).await.unwrap_err().to_string();
        assert!(
            e.contains("FROCKET_REDIS_HOST") && e.contains("FROCKET_ELASTICACHE_REPLICATION_GROUP"),
            "{e}"
        );
    });
}
