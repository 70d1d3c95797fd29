//! Redis going away under a running service: a `frocket serve` process and two `frocket
//! worker` processes keep running while a real `redis-server` is killed and started again on
//! the same port (what a failover or a reboot looks like to a client). Nothing is restarted but
//! Redis; registration and queries through HTTP then succeed with the golden answers. A query
//! caught by the restart completes correctly or fails with an error naming Redis; a query
//! outliving the run timeout while Redis is down fails clearly, and the next one, once Redis is
//! back, succeeds.

use std::time::{Duration, Instant};

use frocket_tests::services::{RedisServer, ServeProcess, WorkerProcess};
use frocket_tests::{golden_dir, golden_queries, json_diff};
use serde_json::{json, Value};

fn env(redis: &RedisServer, prefix: &str, run_timeout: &str) -> Vec<(&'static str, String)> {
    let home = std::env::temp_dir().join(format!("frocket-failover-{}-{prefix}", std::process::id()));
    vec![
        ("FROCKET_REDIS_HOST", "127.0.0.1".to_string()),
        ("FROCKET_REDIS_PORT", redis.port.to_string()),
        ("FROCKET_DATASTORE_REDIS_PREFIX", prefix.to_string()),
        ("FROCKET_INVOKER_RETRY_FAILED_INTERVAL", "0.05".to_string()),
        ("FROCKET_INVOKER_RETRY_LOST_INTERVAL", "1".to_string()),
        ("FROCKET_INVOKER_RUN_TIMEOUT", run_timeout.to_string()),
        ("FROCKET_HOME", home.display().to_string()),
        ("FROCKET_LOG_LEVEL", "warn".to_string()),
    ]
}

fn register_body() -> String {
    json!({"name": "golden", "basepath": golden_dir().join("data").display().to_string(),
        "groupIdColumn": "visitorid", "timestampColumn": "timestamp"})
    .to_string()
}

/// Registers the golden dataset, retrying (bounded) while the service answers 503 — the
/// connection is made again in the background after a restart.
fn register(serve: &ServeProcess) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = serve.request("POST", "/datasets/register", &register_body());
        if r.status == 200 {
            return;
        }
        assert_eq!(r.status, 503, "register: {} {}", r.status, r.body);
        assert!(Instant::now() < deadline, "register kept failing: {}", r.body);
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn result_of(v: &Value) -> Value {
    json!({"query": v["query"], "funnel": v["funnel"]})
}

/// Every golden query through HTTP equals its golden answer.
fn golden_through_http(serve: &ServeProcess) {
    for (file, text, expected) in golden_queries() {
        let r = serve.request("POST", "/datasets/golden/query", &text);
        assert_eq!(r.status, 200, "{file}: {}", r.body);
        let got = result_of(&r.json());
        let want = result_of(&expected);
        if let Some(d) = json_diff(&got, &want, &file, 1e-9) {
            panic!("{file}: {d}");
        }
    }
}

#[test]
fn serve_and_workers_survive_a_redis_restart_on_the_same_address() {
    let mut redis = RedisServer::start();
    let env = env(&redis, "failover:", "60");
    let log = tempfile::NamedTempFile::new().unwrap();
    let serve = ServeProcess::start(&env, Some(log.path()));
    let _w1 = WorkerProcess::start("w1", &env);
    let _w2 = WorkerProcess::start("w2", &env);

    register(&serve);
    golden_through_http(&serve);

    // A query in flight while Redis restarts (empty, without persistence).
    let (_, funnel, expected) = golden_queries()
        .into_iter()
        .find(|(f, _, _)| f.starts_with("g07"))
        .expect("golden g07");
    let port = serve.port;
    let in_flight = std::thread::spawn(move || {
        frocket_tests::services::http(
            port,
            "POST",
            "/datasets/golden/query",
            &funnel,
            Duration::from_secs(120),
        )
    });
    redis.restart();
    let r = in_flight.join().unwrap();
    match r.status {
        200 => {
            if let Some(d) = json_diff(&result_of(&r.json()), &result_of(&expected), "g07", 1e-9) {
                panic!("the query caught by the restart answered wrongly: {d}");
            }
        }
        // It may have been looking up the dataset when Redis went away.
        503 => {
            let m = r.error_message();
            assert!(m.contains("redis"), "unclear error: {m}");
            assert!(r.header("retry-after").is_some(), "503 without Retry-After");
        }
        s => panic!("the query caught by the restart: {s} {}", r.body),
    }

    // Nothing restarted but Redis: the new, empty Redis gets the dataset again and every
    // golden query answers right (the workers took tasks again).
    register(&serve);
    golden_through_http(&serve);
    let h = serve.request("GET", "/health", "");
    assert_eq!(h.status, 200, "{}", h.body);
}

#[test]
fn redis_down_past_the_run_timeout_fails_clearly_then_recovers() {
    let mut redis = RedisServer::start();
    let env = env(&redis, "down:", "4");
    let serve = ServeProcess::start(&env, None);
    {
        // Registration needs a worker (the sampled parts are inspected on workers).
        let _registrar = WorkerProcess::start("registrar", &env);
        register(&serve);
    }
    // No worker runs: the query waits on its tasks; then Redis goes away for longer than the
    // run timeout.
    let port = serve.port;
    let waiting = std::thread::spawn(move || {
        frocket_tests::services::http(
            port,
            "GET",
            "/datasets/golden/empty-query",
            "",
            Duration::from_secs(120),
        )
    });
    std::thread::sleep(Duration::from_millis(1000));
    redis.kill();
    let r = waiting.join().unwrap();
    assert_eq!(r.status, 503, "{}", r.body);
    let m = r.error_message();
    assert!(
        m.contains("timed out") && m.contains(&format!("redis at 127.0.0.1:{}", redis.port)),
        "{m}"
    );
    assert!(r.header("retry-after").is_some());

    // While Redis is down every request that needs it is a 503 naming it, health included.
    let r = serve.request("GET", "/datasets", "");
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.body.contains("redis"), "{}", r.body);
    assert_eq!(serve.request("GET", "/health", "").status, 503);

    // Redis back: the next requests succeed without restarting anything.
    redis.restart();
    let _w = WorkerProcess::start("w", &env);
    register(&serve);
    let r = serve.request("GET", "/datasets/golden/empty-query", "");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["query"]["matchingGroups"], json!(5000));
}
