//! Parts in an S3-compatible store: registration with more than 1,000 parts, queries through
//! queue workers equal to the golden answers, the workers' disk cache, and cache invalidation
//! on re-registration.

use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch};
use frocket_storage::Storage;
use frocket_tests::services::{RedisServer, S3Server, WorkerProcess};
use frocket_tests::{golden_dir, golden_queries, json_diff, Frocket};
use serde_json::{json, Value};

fn env(redis: &RedisServer, s3: &S3Server, home: &std::path::Path) -> Vec<(&'static str, String)> {
    let mut e = vec![
        ("FROCKET_REDIS_HOST", "127.0.0.1".to_string()),
        ("FROCKET_REDIS_PORT", redis.port.to_string()),
        ("FROCKET_INVOKER_RUN_TIMEOUT", "60".to_string()),
        ("FROCKET_HOME", home.display().to_string()),
    ];
    e.extend(s3.env());
    e
}

fn tiny_part(uids: &[i64]) -> Vec<u8> {
    let batch = RecordBatch::try_from_iter([
        ("uid", Arc::new(Int64Array::from(uids.to_vec())) as _),
        (
            "ts",
            Arc::new(Int64Array::from(vec![1_600_000_000_000i64; uids.len()])) as _,
        ),
    ])
    .unwrap();
    let mut buf = Vec::new();
    let mut w = parquet::arrow::ArrowWriter::try_new(&mut buf, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    buf
}

fn upload(rt: &tokio::runtime::Runtime, s3: &S3Server, objects: Vec<(String, Vec<u8>)>, bucket: &str) {
    for (k, v) in s3.env() {
        std::env::set_var(k, v);
    }
    let storage = Storage::new(Some(format!("http://127.0.0.1:{}", s3.port)));
    rt.block_on(async {
        let _ = storage.s3().create_bucket(bucket).await;
        for (url, data) in objects {
            storage.s3().upload(&url, data).await.unwrap();
        }
    });
}

fn result_of(v: &Value) -> Value {
    json!({"query": v["query"], "funnel": v["funnel"]})
}

#[test]
fn s3_datasets_through_queue_workers() {
    let redis = RedisServer::start();
    let s3 = S3Server::start();
    let home = tempfile::tempdir().unwrap();
    let env = env(&redis, &s3, home.path());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    // The golden parts in S3.
    let data = golden_dir().join("data");
    let mut objects = Vec::new();
    for f in ["part-00000.parquet", "part-00001.parquet"] {
        objects.push((format!("s3://frocket/golden/{f}"), std::fs::read(data.join(f)).unwrap()));
    }
    // More than 1,000 tiny parts, and two parts sharing a user.
    for i in 0..1005i64 {
        objects.push((
            format!("s3://frocket/many/p{i:05}.parquet"),
            tiny_part(&[i * 2, i * 2 + 1]),
        ));
    }
    objects.push(("s3://frocket/shared/a.parquet".into(), tiny_part(&[1, 2])));
    objects.push(("s3://frocket/shared/b.parquet".into(), tiny_part(&[2, 3])));
    upload(&rt, &s3, objects, "frocket");

    let f = Frocket::with_env(&env);
    // One worker, so that the second run must hit its cache. It also inspects the sampled parts
    // at registration (downloading them aside: registration does not fill the cache).
    let _w = WorkerProcess::start("w1", &env);
    let many = f.ok(&["register", "many", "s3://frocket/many/", "uid", "ts"]);
    assert_eq!(many["parts"], json!(1005));
    assert_eq!(f.ok(&["parts", "many"])["count"], json!(1005));
    let e = f.fails(&["register", "shared", "s3://frocket/shared/", "uid", "ts"]);
    assert!(
        e.contains("s3://frocket/shared/a.parquet") && e.contains("s3://frocket/shared/b.parquet"),
        "{e}"
    );
    // A part without the timestamp column: the worker's finding is the error (not retried).
    let e = f.fails(&["register", "nots", "s3://frocket/shared/", "uid", "time"]);
    assert!(
        e.contains("s3://frocket/shared/a.parquet") && e.contains("'time'"),
        "{e}"
    );
    let e = f.fails(&["register", "none", "s3://frocket/nothing-here/", "uid", "ts"]);
    assert!(e.contains("s3://frocket/nothing-here/"), "{e}");

    f.ok(&["register", "golden", "s3://frocket/golden", "visitorid", "timestamp"]);
    let total: u64 = ["part-00000.parquet", "part-00001.parquet"]
        .iter()
        .map(|p| std::fs::metadata(data.join(p)).unwrap().len())
        .sum();
    let cache_of = |got: &Value| -> (u64, u64, u64, u64) {
        let c = &got["stats"]["worker"]["cache"];
        let n = |k: &str| c[k].as_u64().unwrap_or_else(|| panic!("no {k} in {c}"));
        (n("source"), n("diskCache"), n("bytesFromSource"), n("bytesFromCache"))
    };
    // Cold parts: a query reading the group id, the timestamp and `event` fetches the parts'
    // last 64 KiB (footers) and those columns' chunks only (in the golden parts, timestamps are
    // most of the bytes).
    let funnel = r#"{"funnel": {"sequence": [{"filter": ["event", "==", "view"]}, {"filter": ["event", "==", "transaction"]}]}}"#;
    let cold = f.ok(&["run", "golden", "--string", funnel]);
    let (source, cached, from_source, from_cache) = cache_of(&cold);
    assert_eq!((source, cached, from_cache), (2, 0, 0), "{cold}");
    assert!(
        from_source > 0 && from_source * 100 <= total * 70,
        "{from_source} of {total} bytes fetched"
    );
    // The same query again: everything from the disk cache.
    let warm = f.ok(&["run", "golden", "--string", funnel]);
    assert_eq!(cache_of(&warm), (0, 2, 0, from_source), "{warm}");
    assert_eq!(warm["funnel"], cold["funnel"]);
    // A query needing another column: only its chunks are fetched.
    let priced =
        r#"{"query": {"conditions": [{"filter": ["event", "==", "view"], "target": ["sum", "price", ">", 100]}]}}"#;
    let got = f.ok(&["run", "golden", "--string", priced]);
    let (source, _, more, reused) = cache_of(&got);
    assert_eq!(source, 2, "{got}");
    assert!(more > 0 && reused > 0, "{got}");
    // A query needing only columns held (the group id): nothing fetched.
    let got = f.ok(&["run", "golden", "--empty"]);
    assert_eq!(cache_of(&got).2, 0, "{got}");
    // Every golden query, with the cache holding some of its columns or none: the golden
    // answers; then all again, all from the cache.
    for pass in 0..2 {
        for (file, text, expected) in golden_queries() {
            let got = f.ok(&["run", "golden", "--string", &text]);
            assert_eq!(json_diff(&result_of(&got), &expected, "result", 1e-9), None, "{file}");
            if pass == 1 {
                let (source, cached, from_source, _) = cache_of(&got);
                assert_eq!((source, cached, from_source), (0, 2, 0), "{file}: {got}");
            }
        }
    }
    // Re-registering invalidates the cached parts.
    f.ok(&["register", "golden", "s3://frocket/golden/", "visitorid", "timestamp"]);
    let got = f.ok(&["run", "golden", "--empty"]);
    let (source, cached, _, from_cache) = cache_of(&got);
    assert_eq!((source, cached, from_cache), (2, 0, 0));
    assert_eq!(got["query"]["matchingGroups"], json!(5000));
}
