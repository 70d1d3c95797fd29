//! A `frocket serve` process bounds the queries it runs at once: past
//! `FROCKET_APISERVER_MAX_CONCURRENT_QUERIES` they wait in a line of
//! `FROCKET_APISERVER_MAX_QUEUED_QUERIES`, past that they get `503` with `Retry-After` at once;
//! those that ran answer correctly, and `/health` keeps answering while the server is full.
//!
//! The queries run on queue workers through a real Redis: until a worker starts, every running
//! query waits on its tasks, which holds its slot for as long as the test needs — no timing.

use std::time::{Duration, Instant};

use frocket_tests::golden_dir;
use frocket_tests::services::{http, RedisServer, ServeProcess, WorkerProcess};
use serde_json::{json, Value};

fn health(serve: &ServeProcess) -> (Value, Duration) {
    let t = Instant::now();
    let r = serve.request("GET", "/health", "");
    let took = t.elapsed();
    assert_eq!(r.status, 200, "{}", r.body);
    (r.json()["queries"].clone(), took)
}

/// Polls `/health` until `pred` holds on its `queries` (deadline 30 s).
fn wait_for(serve: &ServeProcess, what: &str, pred: impl Fn(&Value) -> bool) -> Duration {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut slowest = Duration::ZERO;
    loop {
        let (q, took) = health(serve);
        slowest = slowest.max(took);
        if pred(&q) {
            return slowest;
        }
        assert!(Instant::now() < deadline, "never reached: {what} (last {q})");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn concurrent_queries_run_up_to_the_limit_then_queue_then_get_503() {
    let redis = RedisServer::start();
    let home = tempfile::tempdir().unwrap();
    let env: Vec<(&str, String)> = vec![
        ("FROCKET_REDIS_HOST", "127.0.0.1".into()),
        ("FROCKET_REDIS_PORT", redis.port.to_string()),
        ("FROCKET_DATASTORE_REDIS_PREFIX", "limits:".into()),
        ("FROCKET_INVOKER_RUN_TIMEOUT", "120".into()),
        ("FROCKET_APISERVER_MAX_CONCURRENT_QUERIES", "2".into()),
        ("FROCKET_APISERVER_MAX_QUEUED_QUERIES", "1".into()),
        ("FROCKET_APISERVER_QUEUE_TIMEOUT", "120".into()),
        ("FROCKET_HOME", home.path().display().to_string()),
    ];
    let serve = ServeProcess::start(&env, None);
    let (q, _) = health(&serve);
    assert_eq!(
        q,
        json!({"running": 0, "waiting": 0, "maxConcurrent": 2, "maxQueued": 1})
    );
    {
        let _registrar = WorkerProcess::start("registrar", &env);
        let body = json!({"name": "golden", "basepath": golden_dir().join("data").display().to_string(),
            "groupIdColumn": "visitorid", "timestampColumn": "timestamp"});
        let r = serve.request("POST", "/datasets/register", &body.to_string());
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let fire = |port: u16| {
        std::thread::spawn(move || {
            http(
                port,
                "GET",
                "/datasets/golden/empty-query",
                "",
                Duration::from_secs(120),
            )
        })
    };
    // Two run (no worker yet: they hold their slots)…
    let running: Vec<_> = (0..2).map(|_| fire(serve.port)).collect();
    let mut slowest = wait_for(&serve, "2 running", |q| q["running"] == json!(2));
    // …one waits in line…
    let queued = fire(serve.port);
    slowest = slowest.max(wait_for(&serve, "1 waiting", |q| q["waiting"] == json!(1)));
    // …and more are refused at once, with Retry-After.
    for _ in 0..3 {
        let r = serve.request("GET", "/datasets/golden/empty-query", "");
        assert_eq!(r.status, 503, "{}", r.body);
        assert!(r.header("retry-after").is_some(), "no Retry-After");
        let m = r.error_message();
        assert!(m.contains("FROCKET_APISERVER_MAX_CONCURRENT_QUERIES"), "{m}");
    }
    // The asynchronous form is refused too when the line is full.
    let r = serve.request("POST", "/queries", &json!({"dataset": "golden"}).to_string());
    assert_eq!(r.status, 503, "{}", r.body);
    // /health answered all along; a bound against a hang, the figure is printed.
    println!("slowest /health while saturated: {slowest:?}");
    assert!(
        slowest < Duration::from_secs(5),
        "/health took {slowest:?} while saturated"
    );

    // A worker comes: the running and the queued queries finish, correctly.
    let _w = WorkerProcess::start("w", &env);
    for h in running.into_iter().chain([queued]) {
        let r = h.join().unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.json()["query"]["matchingGroups"], json!(5000));
    }
    wait_for(&serve, "idle", |q| q["running"] == json!(0) && q["waiting"] == json!(0));
}

/// A query the limits allow can still take minutes on a big part (performance.md, "The
/// heaviest query the limits allow"): its tasks stop at the job's run timeout instead of holding
/// their workers to the end. Here that query over a 20,000-user part — minutes of work for a
/// worker of this (debug) build — against a 4 s run timeout: the query gets its 504, and the
/// one worker is free for the next query moments later.
#[test]
fn a_query_past_the_run_timeout_stops_on_its_worker() {
    let redis = RedisServer::start();
    let home = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    frocket_tests::Frocket::new().ok(&[
        "dataprep",
        "generate",
        "--out",
        &data.path().display().to_string(),
        "--users",
        "20000",
        "--parts",
        "1",
    ]);
    let env: Vec<(&str, String)> = vec![
        ("FROCKET_REDIS_HOST", "127.0.0.1".into()),
        ("FROCKET_REDIS_PORT", redis.port.to_string()),
        ("FROCKET_DATASTORE_REDIS_PREFIX", "deadline:".into()),
        ("FROCKET_INVOKER_RUN_TIMEOUT", "4".into()),
        ("FROCKET_HOME", home.path().display().to_string()),
    ];
    let serve = ServeProcess::start(&env, None);
    let _worker = WorkerProcess::start("w", &env);
    let body = json!({"name": "big", "basepath": data.path().display().to_string(),
        "groupIdColumn": "userid", "timestampColumn": "timestamp"});
    let r = serve.request("POST", "/datasets/register", &body.to_string());
    assert_eq!(r.status, 200, "{}", r.body);

    let heavy = frocket_tests::heaviest_allowed_query();
    let t = Instant::now();
    let r = http(
        serve.port,
        "POST",
        "/datasets/big/query",
        &heavy.to_string(),
        Duration::from_secs(120),
    );
    assert_eq!(r.status, 504, "{}", r.body);
    assert!(r.error_message().contains("FROCKET_INVOKER_RUN_TIMEOUT"), "{}", r.body);
    println!("heavy query answered 504 after {:?}", t.elapsed());

    // The worker stopped the task (2 s after the job gave up): the next queries run. Had it
    // gone on, each would wait behind it and time out too.
    let t = Instant::now();
    let light = json!({"query": {"conditions": [{"filter": ["event", "==", "view"]}]}}).to_string();
    let answered = (0..3).any(|_| {
        let r = http(
            serve.port,
            "POST",
            "/datasets/big/query",
            &light,
            Duration::from_secs(60),
        );
        assert!(r.status == 200 || r.status == 504, "{}", r.body);
        // Answered by the worker (a task ran), not from what registration knows.
        r.status == 200
            && r.json()["stats"]["worker"]["warmTasks"]
                .as_u64()
                .is_some_and(|t| t >= 1)
    });
    assert!(answered, "the worker was still busy with the stopped query");
    println!("the next query answered after {:?}", t.elapsed());
}
