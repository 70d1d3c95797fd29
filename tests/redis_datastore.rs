//! The Redis datastore against a real redis-server: catalog, queue, statuses, results, blobs,
//! prefixes and TTLs.

use std::collections::BTreeMap;

use frocket_config::Config;
use frocket_dataset::{Catalog, DatasetInfo, FullSchema, PartRef, ShortSchema};
use frocket_datastore::{AttemptKey, Datastore, TaskStatus};
use frocket_tests::services::RedisServer;

async fn connect(port: u16, prefix: &str) -> Datastore {
    let cfg = Config::from_vars([
        ("FROCKET_REDIS_HOST", "127.0.0.1".to_string()),
        ("FROCKET_REDIS_PORT", port.to_string()),
        ("FROCKET_DATASTORE_REDIS_PREFIX", prefix.to_string()),
    ])
    .unwrap();
    Datastore::connect(&cfg.redis, cfg.blobstore_default_ttl_secs, cfg.blobstore_max_ttl_secs)
        .await
        .unwrap()
}

fn dataset(name: &str, parts: usize) -> DatasetInfo {
    DatasetInfo {
        name: name.into(),
        basepath: "/data".into(),
        pattern: "*.parquet".into(),
        group_id_column: "uid".into(),
        timestamp_column: "ts".into(),
        registered_at: 1,
        registration_id: format!("reg-{name}-{parts}"),
        parts: (0..parts)
            .map(|i| PartRef {
                path: format!("/data/p{i}.parquet"),
                size: 10,
            })
            .collect(),
        schema: FullSchema {
            short: ShortSchema {
                columns: BTreeMap::new(),
                min_timestamp: Some(1.0),
                max_timestamp: Some(2.0),
                source_categoricals: vec![],
                potential_categoricals: vec![],
                timestamp_unit: None,
            },
            details: BTreeMap::new(),
        },
    }
}

#[tokio::test]
async fn catalog_roundtrip_replace_and_prefix_isolation() {
    let redis = RedisServer::start();
    let a = connect(redis.port, "frocket:").await;
    let b = connect(redis.port, "other:").await;
    a.ping().await.unwrap();
    assert!(a.list().await.unwrap().is_empty());
    a.put(&dataset("retail", 2)).await.unwrap();
    a.put(&dataset("clicks", 1)).await.unwrap();
    let names: Vec<String> = a.list().await.unwrap().into_iter().map(|d| d.name).collect();
    assert_eq!(names, ["clicks", "retail"]);
    // Re-registering replaces.
    a.put(&dataset("retail", 5)).await.unwrap();
    assert_eq!(a.get("retail").await.unwrap().unwrap().parts.len(), 5);
    // Another prefix sees nothing.
    assert!(b.list().await.unwrap().is_empty());
    assert!(b.get("retail").await.unwrap().is_none());
    // Last used, remove.
    a.touch("retail", 1234).await.unwrap();
    assert_eq!(a.last_used("retail").await.unwrap(), Some(1234));
    assert!(a.remove("retail").await.unwrap());
    assert!(!a.remove("retail").await.unwrap());
    assert_eq!(a.last_used("retail").await.unwrap(), None);
    assert_eq!(a.list().await.unwrap().len(), 1);
    // Metadata never expires.
    assert_eq!(a.ttl_of("dataset:clicks").await.unwrap(), None);
}

#[tokio::test]
async fn queue_statuses_results_and_blobs_have_ttls() {
    let redis = RedisServer::start();
    let d = connect(redis.port, "frocket:").await;
    d.enqueue(&["t0".into(), "t1".into()]).await.unwrap();
    assert_eq!(d.queue_len().await.unwrap(), 2);
    assert_eq!(d.dequeue(1.0).await.unwrap().as_deref(), Some("t0"));
    assert_eq!(d.dequeue(1.0).await.unwrap().as_deref(), Some("t1"));
    assert_eq!(d.dequeue(0.1).await.unwrap(), None);

    let k = |t: usize, a: u32| AttemptKey {
        request: "req1".into(),
        task: t,
        attempt: a,
    };
    d.set_status(&k(0, 1), TaskStatus::LoadingData, Some("w1"), None, 30)
        .await
        .unwrap();
    d.set_status(&k(0, 1), TaskStatus::EndedFailed, Some("w1"), Some("boom"), 30)
        .await
        .unwrap();
    let s = d.statuses("req1", &[(0, 1), (1, 1)]).await.unwrap();
    assert_eq!(s[0].as_ref().unwrap().status, TaskStatus::EndedFailed);
    assert_eq!(s[0].as_ref().unwrap().message.as_deref(), Some("boom"));
    assert!(s[1].is_none());
    let ttl = d.ttl_of("task:req1:0:1").await.unwrap().unwrap();
    assert!(ttl > 0 && ttl <= 30);

    d.put_result(&k(0, 2), "{\"x\":1}", 30).await.unwrap();
    assert_eq!(d.result(&k(0, 2)).await.unwrap().as_deref(), Some("{\"x\":1}"));
    assert!(d.ttl_of("result:req1:0:2").await.unwrap().is_some());

    d.put_blob("b1", b"\x00\x01bytes", None).await.unwrap();
    assert_eq!(d.blob("b1").await.unwrap().unwrap(), b"\x00\x01bytes");
    let t = d.ttl_of("blob:b1").await.unwrap().unwrap();
    assert!(t > 500 && t <= 600, "{t}");
    assert!(d.put_blob("b2", b"x", Some(86_401)).await.is_err());
}

#[tokio::test]
async fn unreachable_redis_is_a_clear_error() {
    let port = frocket_tests::services::free_port();
    let cfg = Config::from_vars([
        ("FROCKET_REDIS_HOST", "127.0.0.1".to_string()),
        ("FROCKET_REDIS_PORT", port.to_string()),
    ])
    .unwrap();
    let e = Datastore::connect(&cfg.redis, 600, 86_400)
        .await
        .expect_err("no server there");
    assert!(e.to_string().contains(&format!("127.0.0.1:{port}")), "{e}");
}
