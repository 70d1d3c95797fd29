//! Distributed execution through Redis and `frocket worker` processes: same answers as local
//! mode and the golden set; failed and lost tasks are retried; a task failing every attempt
//! fails the job naming its part; the run timeout fires when no worker runs; SIGTERM stops a
//! worker cleanly; a worker killed (SIGKILL) in the middle of a task is replaced and the task
//! retried.

use std::time::Duration;

use frocket_config::Config;
use frocket_datastore::{AttemptKey, Datastore, TaskStatus};
use frocket_tests::services::{RedisServer, WorkerProcess};
use frocket_tests::{golden_dir, golden_queries, json_diff, Frocket};
use serde_json::{json, Value};

fn redis_env(redis: &RedisServer, prefix: &str) -> Vec<(&'static str, String)> {
    vec![
        ("FROCKET_REDIS_HOST", "127.0.0.1".to_string()),
        ("FROCKET_REDIS_PORT", redis.port.to_string()),
        ("FROCKET_DATASTORE_REDIS_PREFIX", prefix.to_string()),
        ("FROCKET_INVOKER_RETRY_FAILED_INTERVAL", "0.05".to_string()),
        ("FROCKET_INVOKER_RETRY_LOST_INTERVAL", "1".to_string()),
        ("FROCKET_INVOKER_RUN_TIMEOUT", "30".to_string()),
    ]
}

/// Registers with a worker started for it (workers inspect the sampled parts) and stopped
/// afterwards, for tests that start their workers later or play one themselves.
fn register_with_a_worker(f: &Frocket, env: &[(&'static str, String)], args: &[&str]) -> Value {
    let _registrar = WorkerProcess::start("registrar", env);
    f.ok(args)
}

fn result_of(v: &Value) -> Value {
    json!({"query": v["query"], "funnel": v["funnel"]})
}

#[test]
fn golden_and_local_equivalence_through_queue_workers() {
    let redis = RedisServer::start();
    let env = redis_env(&redis, "e2e:");
    let _w1 = WorkerProcess::start("w1", &env);
    let _w2 = WorkerProcess::start("w2", &env);
    let dist = Frocket::with_env(&env);
    let local = Frocket::new();

    let dir = golden_dir();
    let data = dir.join("data").display().to_string();
    dist.ok(&["register", "golden", &data, "visitorid", "timestamp"]);
    local.ok(&["register", "golden", &data, "visitorid", "timestamp"]);
    assert_eq!(dist.ok(&["list"])[0]["name"], json!("golden"));
    for (file, text, expected) in golden_queries() {
        let got = dist.ok(&["run", "golden", "--string", &text]);
        assert_eq!(json_diff(&result_of(&got), &expected, "result", 1e-9), None, "{file}");
        assert_eq!(got["stats"]["invoker"]["totalTasks"], json!(2));
        let loc = local.ok(&["run", "golden", "--string", &text]);
        assert_eq!(
            json_diff(&result_of(&got), &result_of(&loc), "result", 1e-12),
            None,
            "{file}"
        );
    }

    // More parts than workers, generated data.
    let gen = tempfile::tempdir().unwrap();
    local.ok(&[
        "dataprep",
        "generate",
        "--out",
        &gen.path().display().to_string(),
        "--users",
        "4000",
        "--parts",
        "7",
    ]);
    let g = gen.path().display().to_string();
    dist.ok(&["register", "gen", &g, "userid", "timestamp"]);
    local.ok(&["register", "gen", &g, "userid", "timestamp"]);
    let q = r#"{"funnel": {"sequence": [{"filter": ["event", "==", "view"]}, {"filter": ["event", "==", "transaction"]}],
                "stepAggregations": [{"column": "category", "type": "groupsPerValue"}]}}"#;
    let a = dist.ok(&["run", "gen", "--string", q]);
    let b = local.ok(&["run", "gen", "--string", q]);
    assert_eq!(json_diff(&result_of(&a), &result_of(&b), "result", 1e-12), None);
    assert_eq!(a["stats"]["dataset"]["parts"], json!(7));

    // A query too large to travel in every request (over QUERY_INLINE_MAX_BYTES) is stored
    // once in the blobstore and named in each: the same answer as local mode's.
    let conditions: Vec<Value> = (0..60)
        .map(|c| {
            let filters: Vec<Value> = (0..40)
                .map(|i| json!(["event", "!=", format!("no-such-event-{c:02}-{i:02}")]))
                .collect();
            json!({"filters": filters, "target": ["count", ">=", 1 + c % 3]})
        })
        .collect();
    let big = json!({"query": {"conditions": conditions, "relation": "or",
        "aggregations": [{"column": "category", "type": "countPerValue"}]}})
    .to_string();
    assert!(big.len() > frocket_protocol::QUERY_INLINE_MAX_BYTES, "{}", big.len());
    let a = dist.ok(&["run", "gen", "--string", &big]);
    let b = local.ok(&["run", "gen", "--string", &big]);
    assert_eq!(json_diff(&result_of(&a), &result_of(&b), "result", 1e-12), None);
    assert_eq!(a["stats"]["invoker"]["totalTasks"], json!(7));

    // A corrupt part fails every attempt: the job fails naming it, workers survive.
    let bad = tempfile::tempdir().unwrap();
    for f in std::fs::read_dir(gen.path()).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, bad.path().join(f.file_name().unwrap())).unwrap();
    }
    dist.ok(&[
        "register",
        "bad",
        &bad.path().display().to_string(),
        "userid",
        "timestamp",
        "--validation-mode",
        "SINGLE",
    ]);
    std::fs::write(bad.path().join("part-00003.parquet"), b"no longer parquet").unwrap();
    let e = dist.fails(&["run", "bad", "--empty"]);
    assert!(e.contains("part-00003.parquet") && e.contains("3 attempts"), "{e}");
    // The workers are still serving.
    assert_eq!(
        dist.ok(&["run", "gen", "--empty"])["query"]["matchingGroups"],
        json!(4000)
    );
}

#[test]
fn lost_and_failed_tasks_are_retried() {
    let redis = RedisServer::start();
    let mut env = redis_env(&redis, "retry:");
    // This test plays a worker that picks tasks by their part: no self-select.
    env.push(("FROCKET_WORKER_SELF_SELECT_ENABLED", "false".to_string()));
    let data = tempfile::tempdir().unwrap();
    let f = Frocket::with_env(&env);
    f.ok(&[
        "dataprep",
        "generate",
        "--out",
        &data.path().display().to_string(),
        "--users",
        "2000",
        "--parts",
        "3",
    ]);
    register_with_a_worker(
        &f,
        &env,
        &[
            "register",
            "d",
            &data.path().display().to_string(),
            "userid",
            "timestamp",
        ],
    );
    let want = Frocket::new();
    want.ok(&[
        "register",
        "d",
        &data.path().display().to_string(),
        "userid",
        "timestamp",
    ]);
    let expected = want.ok(&["run", "d", "--empty"]);

    // A "worker" that takes the first task, reports loading, then dies (as if SIGKILLed), and
    // fails the second task's first attempt; real workers start afterwards.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cfg = Config::from_vars(env.iter().map(|(k, v)| (k.to_string(), v.clone()))).unwrap();
    let ds = rt.block_on(Datastore::connect(&cfg.redis, 600, 86_400)).unwrap();
    let runner = std::thread::spawn({
        let f_env = env.clone();
        move || {
            let f = Frocket::with_env(&f_env);
            f.run(&["run", "d", "--empty"])
        }
    });
    // Task 0's first attempt is lost (loading, then silence); task 1 fails twice; task 2's
    // first attempt is taken off the queue by a worker that dies before reporting anything;
    // everything else is handed back to the queue once that is done.
    rt.block_on(async {
        let (mut lost, mut failures, mut vanished, mut others) = (false, 0, false, Vec::new());
        while !(lost && failures == 2 && vanished) {
            let Some(raw) = ds.dequeue(5.0).await.unwrap() else {
                continue;
            };
            let req: frocket_protocol::TaskRequest = serde_json::from_str(&raw).unwrap();
            let key = AttemptKey {
                request: req.request_id.clone(),
                task: req.task,
                attempt: req.attempt,
            };
            match req.task {
                0 if !lost => {
                    ds.set_status(&key, TaskStatus::LoadingData, Some("doomed"), None, 60)
                        .await
                        .unwrap();
                    lost = true;
                }
                1 if failures < 2 => {
                    ds.set_status(
                        &key,
                        TaskStatus::EndedFailed,
                        Some("doomed"),
                        Some("injected failure"),
                        60,
                    )
                    .await
                    .unwrap();
                    failures += 1;
                }
                2 if !vanished => vanished = true,
                _ => others.push(raw),
            }
        }
        ds.enqueue(&others).await.unwrap();
    });
    let _w = WorkerProcess::start("w", &env);
    let r = runner.join().unwrap();
    assert_eq!(r.code, 0, "{}", r.stderr);
    let got = r.json();
    assert_eq!(result_of(&got), result_of(&expected));
    // Task 0 retried once (lost), task 1 twice (failed twice, succeeded on attempt 3), task 2
    // once (taken and never started).
    assert_eq!(got["stats"]["invoker"]["retriedTasks"], json!(4), "{}", got["stats"]);
    assert_eq!(got["stats"]["invoker"]["failedTasks"], json!(2));
}

#[test]
fn timeout_without_workers_and_clean_sigterm() {
    let redis = RedisServer::start();
    let mut env = redis_env(&redis, "timeout:");
    env.retain(|(k, _)| *k != "FROCKET_INVOKER_RUN_TIMEOUT");
    env.push(("FROCKET_INVOKER_RUN_TIMEOUT", "1".to_string()));
    let data = tempfile::tempdir().unwrap();
    let f = Frocket::with_env(&env);
    f.ok(&[
        "dataprep",
        "generate",
        "--out",
        &data.path().display().to_string(),
        "--users",
        "500",
        "--parts",
        "2",
    ]);
    register_with_a_worker(
        &f,
        &env,
        &[
            "register",
            "d",
            &data.path().display().to_string(),
            "userid",
            "timestamp",
        ],
    );
    let e = f.fails(&["run", "d", "--empty"]);
    assert!(e.contains("timed out"), "{e}");

    let mut w = WorkerProcess::start("w", &env);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        w.terminate(Duration::from_secs(5)),
        "worker did not stop cleanly on SIGTERM"
    );
}

#[test]
fn workers_survive_bad_tasks_and_auth_is_used() {
    let redis = RedisServer::start_with(&["--requirepass", "s3cr=t/pass"]);
    let mut env = redis_env(&redis, "auth:");
    // Without the token nothing works, and the error names the endpoint.
    let no_auth = Frocket::with_env(&env);
    let e = no_auth.fails(&["list"]);
    assert!(e.contains(&format!("127.0.0.1:{}", redis.port)), "{e}");
    env.push(("FROCKET_REDIS_AUTH_TOKEN", "s3cr=t/pass".to_string()));
    let f = Frocket::with_env(&env);
    let _w = WorkerProcess::start("w", &env);
    let data = tempfile::tempdir().unwrap();
    f.ok(&[
        "dataprep",
        "generate",
        "--out",
        &data.path().display().to_string(),
        "--users",
        "300",
        "--parts",
        "2",
    ]);
    f.ok(&[
        "register",
        "d",
        &data.path().display().to_string(),
        "userid",
        "timestamp",
    ]);

    // Garbage on the queue is skipped; the worker keeps serving.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cfg = Config::from_vars(env.iter().map(|(k, v)| (k.to_string(), v.clone()))).unwrap();
    let ds = rt.block_on(Datastore::connect(&cfg.redis, 600, 86_400)).unwrap();
    rt.block_on(ds.enqueue(&["{not json".to_string(), "{\"requestId\": 1}".to_string()]))
        .unwrap();
    assert_eq!(f.ok(&["run", "d", "--empty"])["query"]["matchingGroups"], json!(300));
    // A task for a part that vanished fails (after its attempts) without killing the worker.
    std::fs::remove_file(data.path().join("part-00001.parquet")).unwrap();
    let e = f.fails(&["run", "d", "--empty"]);
    assert!(e.contains("part-00001.parquet"), "{e}");
    // Used just now: unregistering needs --force.
    let e = f.fails(&["unregister", "d"]);
    assert!(e.contains("--force"), "{e}");
    f.ok(&["unregister", "d", "--force"]);
    assert_eq!(f.ok(&["list"]), json!([]));
}

#[test]
fn a_worker_killed_mid_task_is_replaced_and_its_task_retried() {
    let redis = RedisServer::start();
    let mut env = redis_env(&redis, "kill:");
    env.retain(|(k, _)| *k != "FROCKET_INVOKER_RUN_TIMEOUT");
    env.push(("FROCKET_INVOKER_RUN_TIMEOUT", "120".to_string()));
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().display().to_string();
    let dist = Frocket::with_env(&env);
    let local = Frocket::new();
    // Parts of ~500,000 rows: a task takes long enough to be killed in the middle of it.
    local.ok(&[
        "dataprep", "generate", "--out", &dir, "--users", "200000", "--parts", "4",
    ]);
    register_with_a_worker(&dist, &env, &["register", "big", &dir, "userid", "timestamp"]);
    local.ok(&["register", "big", &dir, "userid", "timestamp"]);
    // A query heavy enough that a task lasts long past the 50 ms the victim is given (~0.2 s
    // a part in a release build, ~0.7 s in a debug one): 16 sequences of 16 steps, every other
    // one negative. (The demo funnel takes ~50 ms a part: the victim could finish first.)
    let events = ["view", "addtocart", "transaction"];
    let conditions: Vec<Value> = (0..16)
        .map(|k| {
            let steps: Vec<Value> = (0..16)
                .map(|i| match i % 2 == 1 && i < 15 {
                    true => json!({"filter": ["event", "==", events[(i + k) % 3]], "rowFound": false}),
                    false => json!({"filter": ["event", "==", events[(i + k) % 3]]}),
                })
                .collect();
            json!({"sequence": steps, "maxDuration": 86_400_000})
        })
        .collect();
    let relation = (0..16).map(|i| format!("${i}")).collect::<Vec<_>>().join(" or ");
    let query_dir = tempfile::tempdir().unwrap();
    let query_file = query_dir.path().join("heavy-query.json");
    let heavy = json!({"query": {"conditions": conditions, "relation": relation}});
    std::fs::write(&query_file, heavy.to_string()).unwrap();
    let query = query_file.display().to_string();

    let cfg = Config::from_vars(env.iter().map(|(k, v)| (k.to_string(), v.clone()))).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let ds = rt.block_on(Datastore::connect(&cfg.redis, 600, 86_400)).unwrap();

    let mut victim = WorkerProcess::start("victim", &env);
    let run = std::process::Command::new(frocket_tests::frocket_bin())
        .args(["--output", "json", "run", "big", "--file", &query])
        .env("FROCKET_HOME", dist.home.path())
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Once the victim has taken a task off the queue (4 were queued), let it get into the
    // task, then kill it without warning.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let queued = rt.block_on(ds.queue_len()).unwrap();
        if queued > 0 && queued < 4 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the victim never took a task");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(50));
    victim.child.kill().unwrap();
    let _ = victim.child.wait();
    let _rescuer = WorkerProcess::start("rescuer", &env);

    let out = run.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    let expected = local.ok(&["run", "big", "--file", &query]);
    assert_eq!(
        json_diff(&result_of(&got), &result_of(&expected), "result", 1e-12),
        None
    );
    let stats = &got["stats"];
    assert!(stats["invoker"]["retriedTasks"].as_u64().unwrap() >= 1, "{stats}");
    assert_eq!(stats["invoker"]["totalTasks"], json!(4));
}

#[test]
fn self_select_claims_cached_parts_first_then_any_after_the_preflight() {
    use frocket_dataset::Catalog;
    use frocket_protocol::{SelfSelect, TaskRequest};
    use frocket_storage::{DiskCache, Storage};
    use frocket_worker::{handle_task, WorkerOptions};
    let redis = RedisServer::start();
    let env = redis_env(&redis, "select:");
    let f = Frocket::with_env(&env);
    let data = golden_dir().join("data");
    register_with_a_worker(
        &f,
        &env,
        &[
            "register",
            "golden",
            &data.display().to_string(),
            "visitorid",
            "timestamp",
        ],
    );
    let cfg = Config::from_vars(env.iter().map(|(k, v)| (k.to_string(), v.clone()))).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let ds = Datastore::connect(&cfg.redis, 600, 86_400).await.unwrap();
        let info = ds.get("golden").await.unwrap().unwrap();
        let paths: Vec<String> = info.parts.iter().map(|p| p.path.clone()).collect();
        assert_eq!(paths.len(), 2);
        let query = frocket_engine::validate_query("{}", &info.query_schema(), 10).unwrap();
        let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let worker = |name: &str, dir: &std::path::Path| {
            WorkerOptions::new(name, 60.0, Storage::new(None), DiskCache::new(dir, 100))
        };
        let (a, b) = (worker("a", dirs.0.path()), worker("b", dirs.1.path()));
        // Worker a holds the second part in its cache.
        let copy = a.cache.temp_path(&info.registration_id, &paths[1]).unwrap();
        std::fs::copy(&paths[1], &copy).unwrap();
        a.cache.insert(&info.registration_id, &paths[1], &copy).unwrap();

        let request = "1796000000-5e1ec700";
        ds.publish_parts(request, &paths, 60).await.unwrap();
        let preflight = Duration::from_millis(400);
        let token = TaskRequest {
            request_id: request.into(),
            task: 0,
            attempt: 1,
            dataset: "golden".into(),
            registration_id: info.registration_id.clone(),
            part_path: String::new(),
            work: frocket_protocol::TaskWork::Query { query },
            invoke_time: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs_f64(),
            ttl_secs: 60,
            deadline: None,
            self_select: Some(SelfSelect {
                preflight_ms: preflight.as_millis() as u64,
            }),
        };
        let t0 = std::time::Instant::now();
        // a claims its cached part at once, although part 0 is free and first.
        assert!(handle_task(&ds, &token, &a).await.unwrap());
        assert!(t0.elapsed() < preflight, "no wait for a cached part");
        // b has nothing cached: it waits out the preflight window, then takes what is left.
        assert!(handle_task(&ds, &token, &b).await.unwrap());
        assert!(t0.elapsed() >= preflight, "{:?}", t0.elapsed());
        // Nothing left for a third request.
        assert!(!handle_task(&ds, &token, &b).await.unwrap());

        let st = ds.statuses(request, &[(0, 1), (1, 1)]).await.unwrap();
        let (s0, s1) = (st[0].as_ref().unwrap(), st[1].as_ref().unwrap());
        assert_eq!((s0.status, s0.worker.as_deref()), (TaskStatus::EndedSuccess, Some("b")));
        assert_eq!((s1.status, s1.worker.as_deref()), (TaskStatus::EndedSuccess, Some("a")));
    });
}

#[test]
fn requests_that_waited_past_the_reject_age_are_sent_again() {
    let redis = RedisServer::start();
    let mut env = redis_env(&redis, "stale:");
    env.push(("FROCKET_WORKER_REJECT_AGE", "1".to_string()));
    let f = Frocket::with_env(&env);
    let data = golden_dir().join("data").display().to_string();
    register_with_a_worker(&f, &env, &["register", "golden", &data, "visitorid", "timestamp"]);
    // No worker yet: the first requests wait in the queue past the reject age.
    let runner = std::thread::spawn({
        let env = env.clone();
        move || Frocket::with_env(&env).run(&["run", "golden", "--empty"])
    });
    std::thread::sleep(Duration::from_millis(3500));
    let _w = WorkerProcess::start("late", &env);
    let r = runner.join().unwrap();
    assert_eq!(r.code, 0, "{}", r.stderr);
    let got = r.json();
    assert_eq!(got["query"]["matchingGroups"], json!(5000));
    // Both tasks were sent again; the stale requests were rejected by the worker, unused.
    assert!(
        got["stats"]["invoker"]["retriedTasks"].as_u64().unwrap() >= 2,
        "{}",
        got["stats"]
    );
}

#[test]
fn tls_with_a_private_certificate_authority() {
    let certs = frocket_tests::services::TlsCerts::generate();
    let redis = RedisServer::start_tls(&certs);
    let mut env = redis_env(&redis, "tls:");
    env.push(("FROCKET_REDIS_TLS", "true".to_string()));

    // The server's certificate is signed by a CA the built-in roots do not know.
    let e = Frocket::with_env(&env).fails(&["list"]);
    assert!(e.contains(&format!("127.0.0.1:{}", redis.port)), "{e}");
    assert!(e.to_lowercase().contains("certificate"), "{e}");

    env.push(("FROCKET_REDIS_TLS_CA_FILE", certs.ca_file().display().to_string()));
    let _w = WorkerProcess::start("w", &env);
    let f = Frocket::with_env(&env);
    let data = golden_dir().join("data").display().to_string();
    f.ok(&["register", "golden", &data, "visitorid", "timestamp"]);
    let got = f.ok(&["run", "golden", "--empty"]);
    assert_eq!(got["query"]["matchingGroups"], json!(5000));

    // A CA file without TLS is a configuration error naming the variable.
    env.retain(|(k, _)| *k != "FROCKET_REDIS_TLS");
    let e = Frocket::with_env(&env).fails(&["list"]);
    assert!(e.contains("FROCKET_REDIS_TLS_CA_FILE"), "{e}");
}

#[test]
fn redis_lost_mid_job_fails_the_cli_with_a_clear_error() {
    let mut redis = RedisServer::start();
    let mut env = redis_env(&redis, "gone:");
    // The job polls through a Redis outage until its run timeout, then names Redis.
    env.retain(|(k, _)| *k != "FROCKET_INVOKER_RUN_TIMEOUT");
    env.push(("FROCKET_INVOKER_RUN_TIMEOUT", "5".to_string()));
    let f = Frocket::with_env(&env);
    let data = golden_dir().join("data").display().to_string();
    register_with_a_worker(&f, &env, &["register", "golden", &data, "visitorid", "timestamp"]);
    // No worker: the job waits on its tasks, polling Redis; then Redis goes away.
    let run = std::process::Command::new(frocket_tests::frocket_bin())
        .args(["--output", "json", "run", "golden", "--empty"])
        .env("FROCKET_HOME", f.home.path())
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    redis.kill();
    // Far above the 5 s run timeout: a guard against a hang, not a speed check.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(run.wait_with_output());
    });
    let out = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("the CLI hung after Redis went away")
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("redis at 127.0.0.1:{}", redis.port)), "{err}");
    assert!(err.contains("timed out"), "{err}");
}
