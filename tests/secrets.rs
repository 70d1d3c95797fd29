//! The Redis AUTH token from Secrets Manager (against moto_server's Secrets Manager): the
//! Lambdas read the secret named by `FROCKET_REDIS_AUTH_SECRET_ARN` once per cold start and
//! connect to a `redis-server` that requires it; a token set directly wins; a missing secret or
//! one without a token is an error naming the variable.

use frocket_config::Config;
use frocket_datastore::Datastore;
use frocket_lambda::setup::resolve_auth_secret;
use frocket_tests::services::{RedisServer, S3Server};

#[test]
fn the_auth_token_is_read_from_secrets_manager_at_cold_start() {
    let moto = S3Server::start();
    for (k, v) in moto.env() {
        std::env::set_var(k, v);
    }
    let endpoint = format!("http://127.0.0.1:{}", moto.port);
    let redis = RedisServer::start_with(&["--requirepass", "s3cr3t-t0ken"]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let shared = frocket_lambda::setup::aws_config().await;
        let client = aws_sdk_secretsmanager::Client::from_conf(
            aws_sdk_secretsmanager::config::Builder::from(&shared)
                .endpoint_url(&endpoint)
                .build(),
        );
        // As the Terraform stores it: host, port and the token.
        let json = serde_json::json!({"host": "127.0.0.1", "port": redis.port, "auth_token": "s3cr3t-t0ken"});
        let arn = client
            .create_secret()
            .name("frocket-redis-auth")
            .secret_string(json.to_string())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{}", aws_sdk_secretsmanager::error::DisplayErrorContext(&e)))
            .arn()
            .unwrap()
            .to_string();
        let no_token = client
            .create_secret()
            .name("not-a-token")
            .secret_string(r#"{"host": "x"}"#)
            .send()
            .await
            .unwrap()
            .arn()
            .unwrap()
            .to_string();
        let port = redis.port.to_string();
        let cfg_with = |extra: Vec<(&str, &str)>| {
            let mut vars = vec![
                ("FROCKET_REDIS_HOST", "127.0.0.1"),
                ("FROCKET_REDIS_PORT", port.as_str()),
                ("FROCKET_SECRETSMANAGER_AWS_ENDPOINT_URL", endpoint.as_str()),
            ];
            vars.extend(extra);
            Config::from_vars(vars).unwrap()
        };

        // Without the secret, Redis refuses.
        let cfg = cfg_with(vec![]);
        let refused = match Datastore::connect(&cfg.redis, 600, 86_400).await {
            Err(e) => e.to_string(),
            Ok(ds) => ds.ping().await.unwrap_err().to_string(),
        };
        assert!(refused.to_ascii_lowercase().contains("auth"), "{refused}");

        // With it, the token comes from Secrets Manager and the connection works.
        let mut cfg = cfg_with(vec![("FROCKET_REDIS_AUTH_SECRET_ARN", arn.as_str())]);
        resolve_auth_secret(&mut cfg).await.unwrap();
        assert_eq!(cfg.redis.auth_token.as_deref(), Some("s3cr3t-t0ken"));
        let ds = Datastore::connect(&cfg.redis, 600, 86_400).await.unwrap();
        ds.ping().await.unwrap();

        // A token set directly (local use) wins: the secret is not read.
        let mut cfg = cfg_with(vec![
            ("FROCKET_REDIS_AUTH_TOKEN", "local"),
            (
                "FROCKET_REDIS_AUTH_SECRET_ARN",
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:nope",
            ),
        ]);
        resolve_auth_secret(&mut cfg).await.unwrap();
        assert_eq!(cfg.redis.auth_token.as_deref(), Some("local"));

        // Errors name the variable.
        for bad in [
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-AbCdEf",
            no_token.as_str(),
        ] {
            let mut cfg = cfg_with(vec![("FROCKET_REDIS_AUTH_SECRET_ARN", bad)]);
            let e = resolve_auth_secret(&mut cfg).await.unwrap_err().to_string();
            assert!(e.contains("FROCKET_REDIS_AUTH_SECRET_ARN"), "{e}");
        }
    });
}
