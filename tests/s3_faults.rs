//! S3 failing under the workers, injected on the wire: a proxy in front of a real S3-compatible
//! server (`moto_server`) answers `503 SlowDown` to the first GETs of every part — the SDK's
//! retries (backoff with jitter) get through and the answers are the golden ones. Then the
//! store goes away mid-service: the query fails with a 5xx naming the part (never a 4xx), and
//! nothing half-written is left in the workers' disk cache.

use std::path::Path;
use std::time::Duration;

use frocket_storage::Storage;
use frocket_tests::services::{RedisServer, S3Server, ServeProcess, ThrottlingProxy, WorkerProcess};
use frocket_tests::{golden_dir, golden_queries, json_diff};
use serde_json::json;

/// Every file under `dir`, with its size.
fn files(dir: &Path) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(m) = e.metadata() {
                out.push((p.display().to_string(), m.len()));
            }
        }
    }
    out
}

#[test]
fn throttling_is_retried_and_a_lost_store_is_a_clear_5xx() {
    let redis = RedisServer::start();
    let mut s3 = S3Server::start();
    let proxy = ThrottlingProxy::start(s3.port, 2);
    let home = tempfile::tempdir().unwrap();
    let mut env: Vec<(&str, String)> = vec![
        ("FROCKET_REDIS_HOST", "127.0.0.1".into()),
        ("FROCKET_REDIS_PORT", redis.port.to_string()),
        ("FROCKET_DATASTORE_REDIS_PREFIX", "s3faults:".into()),
        ("FROCKET_INVOKER_RUN_TIMEOUT", "90".into()),
        ("FROCKET_INVOKER_RETRY_FAILED_INTERVAL", "0.05".into()),
        ("FROCKET_HOME", home.path().display().to_string()),
    ];
    env.extend(s3.env());
    // Uploads go straight to the store; frocket reads through the proxy.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for (k, v) in s3.env() {
        std::env::set_var(k, v);
    }
    let direct = Storage::new(Some(format!("http://127.0.0.1:{}", s3.port)));
    rt.block_on(async {
        direct.s3().create_bucket("faults").await.unwrap();
        for f in ["part-00000.parquet", "part-00001.parquet"] {
            let data = std::fs::read(golden_dir().join("data").join(f)).unwrap();
            direct
                .s3()
                .upload(&format!("s3://faults/golden/{f}"), data)
                .await
                .unwrap();
        }
    });
    env.retain(|(k, _)| *k != "FROCKET_S3_AWS_ENDPOINT_URL");
    env.push((
        "FROCKET_S3_AWS_ENDPOINT_URL",
        format!("http://127.0.0.1:{}", proxy.port),
    ));

    let serve = ServeProcess::start(&env, None);
    let mut worker = WorkerProcess::start("w", &env);
    let body = json!({"name": "golden", "basepath": "s3://faults/golden/",
        "groupIdColumn": "visitorid", "timestampColumn": "timestamp"});
    let r = serve.request("POST", "/datasets/register", &body.to_string());
    assert_eq!(r.status, 200, "{}", r.body);
    for (file, text, expected) in golden_queries() {
        let r = serve.request("POST", "/datasets/golden/query", &text);
        assert_eq!(r.status, 200, "{file}: {}", r.body);
        let got = json!({"query": r.json()["query"], "funnel": r.json()["funnel"]});
        let want = json!({"query": expected["query"], "funnel": expected["funnel"]});
        if let Some(d) = json_diff(&got, &want, &file, 1e-9) {
            panic!("{file}: {d}");
        }
    }
    // Both parts were throttled twice on their first download (and on registration's).
    assert!(proxy.throttled() >= 4, "throttled {} requests", proxy.throttled());

    // A fresh worker with an empty cache, then the store goes away.
    assert!(worker.terminate(Duration::from_secs(10)), "worker did not stop");
    std::fs::remove_dir_all(home.path().join("cache")).unwrap();
    let _fresh = WorkerProcess::start("fresh", &env);
    s3.kill();
    let r = serve.request("GET", "/datasets/golden/empty-query", "");
    assert!(r.status == 502 || r.status == 503, "{} {}", r.status, r.body);
    let m = r.error_message();
    assert!(m.contains("s3://faults/golden/part-0000"), "the part is not named: {m}");
    // Nothing half-written: no temporary file, and no cached part at all (none was fetched).
    let left = files(&home.path().join("cache"));
    assert!(left.is_empty(), "left in the cache: {left:?}");
}
