//! The HTTP API (api.md) through its axum router, over the embedded catalog and in-process
//! workers: every route, its status codes and envelope, streaming, the asynchronous form, and
//! the golden answers.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use frocket_api::{router, ApiState, Backend, JobStore, Service};
use frocket_dataset::FileCatalog;
use frocket_tests::{golden_dir, golden_queries, json_diff};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

struct Api {
    app: axum::Router,
    _home: tempfile::TempDir,
}

struct Reply {
    status: StatusCode,
    request_id: String,
    content_type: String,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

impl Api {
    fn new(env: &[(&str, &str)]) -> Api {
        let home = tempfile::tempdir().unwrap();
        let cfg = frocket_config::Config::from_vars(env.iter().map(|(k, v)| (k.to_string(), v.to_string()))).unwrap();
        let service = Service::new(cfg, FileCatalog::new(home.path()), Backend::Local { threads: 2 });
        Api {
            app: router(ApiState::new(Arc::new(service), JobStore::memory())),
            _home: home,
        }
    }

    async fn call(&self, method: &str, uri: &str, body: &str) -> Reply {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let request_id = resp
            .headers()
            .get("x-request-id")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let content_type = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            request_id,
            content_type,
            body: String::from_utf8(bytes.to_vec()).unwrap(),
        }
    }

    async fn register_golden(&self, name: &str) -> Reply {
        let body = json!({"name": name, "basepath": golden_dir().join("data").display().to_string(),
            "groupIdColumn": "visitorid", "timestampColumn": "timestamp"});
        self.call("POST", "/datasets/register", &body.to_string()).await
    }
}

fn assert_failure(r: &Reply, status: u16, needle: &str) {
    assert_eq!(r.status.as_u16(), status, "{}", r.body);
    let v = r.json();
    assert_eq!(v["success"], json!(false), "{}", r.body);
    assert_eq!(v["requestId"].as_str().unwrap(), r.request_id);
    let msg = v["errorMessage"].as_str().unwrap();
    assert!(msg.contains(needle), "'{msg}' lacks '{needle}'");
}

#[tokio::test]
async fn dataset_routes_and_golden_answers() {
    let api = Api::new(&[]);
    let r = api.register_golden("golden").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let v = r.json();
    assert_eq!(v["success"], json!(true));
    assert_eq!(v["parts"], json!(2));
    assert_eq!(v["requestId"].as_str().unwrap(), r.request_id);
    let (secs, hex) = r.request_id.split_once('-').unwrap();
    assert!(secs.parse::<u64>().is_ok() && hex.len() == 32, "{}", r.request_id);

    let list = api.call("GET", "/datasets", "").await.json();
    assert_eq!(list["datasets"].as_array().unwrap().len(), 1);
    assert_eq!(list["datasets"][0]["name"], json!("golden"));

    let schema = api.call("GET", "/datasets/golden/schema", "").await.json();
    assert_eq!(schema["columns"]["visitorid"], json!("INT"));
    assert!(schema.get("details").is_none() || schema["details"].is_null());
    let full = api.call("GET", "/datasets/golden/schema?full=true", "").await;
    assert_eq!(full.status, StatusCode::OK);
    assert_ne!(full.json(), schema);

    let parts = api.call("GET", "/datasets/golden/parts", "").await.json();
    assert_eq!(parts["count"], json!(2));
    assert!(parts["totalSize"].as_u64().unwrap() > 0);

    let empty = api.call("GET", "/datasets/golden/empty-query", "").await;
    assert_eq!(empty.status, StatusCode::OK, "{}", empty.body);
    let e = empty.json();
    assert_eq!(e["query"]["matchingGroups"], json!(5000));
    assert_eq!(e["requestId"].as_str().unwrap(), empty.request_id);
    assert_eq!(e["stats"]["dataset"]["parts"], json!(2));

    let queries = golden_queries();
    assert_eq!(queries.len(), 17);
    for (file, text, expected) in queries {
        let r = api.call("POST", "/datasets/golden/query", &text).await;
        assert_eq!(r.status, StatusCode::OK, "{file}: {}", r.body);
        let got = r.json();
        let result = json!({"query": got["query"], "funnel": got["funnel"]});
        assert_eq!(json_diff(&result, &expected, "result", 1e-9), None, "{file}");
    }
}

#[tokio::test]
async fn errors_have_their_status_codes() {
    let api = Api::new(&[]);
    // Unknown dataset: 404 on every dataset route.
    for (m, uri) in [
        ("GET", "/datasets/nope/schema"),
        ("GET", "/datasets/nope/parts"),
        ("GET", "/datasets/nope/empty-query"),
        ("POST", "/datasets/nope/query"),
        ("POST", "/datasets/nope/unregister"),
    ] {
        let r = api.call(m, uri, "{}").await;
        assert_failure(&r, 404, "dataset 'nope' is not registered");
    }
    assert_failure(
        &api.call("GET", "/no/such/route", "").await,
        404,
        "no route GET /no/such/route",
    );

    // Registration problems: 400 naming what is wrong.
    assert_failure(
        &api.call("POST", "/datasets/register", "{not json").await,
        400,
        "register body",
    );
    assert_failure(
        &api.call("POST", "/datasets/register", r#"{"name": "x"}"#).await,
        400,
        "missing field `basepath`",
    );
    let bad_unit = json!({"name": "x", "basepath": golden_dir().join("data").display().to_string(),
        "groupIdColumn": "visitorid", "timestampColumn": "timestamp", "timestampUnit": "sec"});
    assert_failure(
        &api.call("POST", "/datasets/register", &bad_unit.to_string()).await,
        400,
        "timestampUnit: unknown timestamp unit 'sec' (units: s, ms, us, ns)",
    );
    // Declared, the unit is stored and the short schema reports it.
    let with_unit = json!({"name": "units", "basepath": golden_dir().join("data").display().to_string(),
        "groupIdColumn": "visitorid", "timestampColumn": "timestamp", "timestampUnit": "ms"});
    assert_eq!(
        api.call("POST", "/datasets/register", &with_unit.to_string())
            .await
            .status,
        StatusCode::OK
    );
    let schema = api.call("GET", "/datasets/units/schema", "").await.json();
    assert_eq!(schema["timestampUnit"], json!("ms"), "{schema}");
    let missing =
        json!({"name": "x", "basepath": "/definitely/not/here", "groupIdColumn": "a", "timestampColumn": "b"});
    assert_failure(
        &api.call("POST", "/datasets/register", &missing.to_string()).await,
        400,
        "/definitely/not/here",
    );

    // A query failing validation: 400 listing every error with its JSON path.
    assert_eq!(api.register_golden("g").await.status, StatusCode::OK);
    let bad = r#"{"query": {"conditions": [{"filter": {"column": "nosuch", "op": "==", "value": 1}}],
                  "aggregations": [{"column": "price", "type": "bogus"}]}}"#;
    let r = api.call("POST", "/datasets/g/query", bad).await;
    assert_failure(&r, 400, "nosuch");
    let msg = r.json()["errorMessage"].as_str().unwrap().to_string();
    assert!(msg.contains("query.conditions[0]"), "{msg}");
    assert!(msg.contains("query.aggregations[0]"), "{msg}");
    // ... and one by one in `errors`, each with its path (what the console shows).
    let errors = r.json()["errors"].as_array().cloned().unwrap_or_default();
    let paths: Vec<&str> = errors.iter().filter_map(|e| e["path"].as_str()).collect();
    assert!(paths.iter().any(|p| p.starts_with("query.conditions[0]")), "{errors:?}");
    assert!(
        paths.iter().any(|p| p.starts_with("query.aggregations[0]")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .all(|e| msg.contains(e["message"].as_str().unwrap_or("?"))),
        "{errors:?}"
    );
    assert_failure(
        &api.call("POST", "/datasets/g/query", "{oops").await,
        400,
        "malformed JSON",
    );

    // Too large a body: 413.
    let huge = format!("{{\"x\": \"{}\"}}", "a".repeat(frocket_api::MAX_BODY_BYTES + 10));
    assert_failure(&api.call("POST", "/datasets/g/query", &huge).await, 413, "larger than");

    // Used just now: unregister is refused (409) without force, done with it.
    assert_eq!(
        api.call("GET", "/datasets/g/empty-query", "").await.status,
        StatusCode::OK
    );
    assert_failure(&api.call("POST", "/datasets/g/unregister", "").await, 409, "force");
    let r = api.call("POST", "/datasets/g/unregister?force=true", "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_failure(&api.call("GET", "/datasets/g/schema", "").await, 404, "not registered");

    // A never-used dataset unregisters without force.
    assert_eq!(api.register_golden("fresh").await.status, StatusCode::OK);
    assert_eq!(
        api.call("POST", "/datasets/fresh/unregister", "").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn admin_actions_can_be_disabled() {
    let api = Api::new(&[("FROCKET_APISERVER_ADMIN_ACTIONS", "false")]);
    assert_failure(&api.register_golden("g").await, 403, "FROCKET_APISERVER_ADMIN_ACTIONS");
    assert_failure(
        &api.call("POST", "/datasets/g/unregister?force=true", "").await,
        403,
        "admin action",
    );
    // Reading still works.
    assert_eq!(api.call("GET", "/datasets", "").await.status, StatusCode::OK);
}

#[tokio::test]
async fn internal_errors_hide_details_unless_enabled() {
    for details in ["true", "false"] {
        let data = tempfile::tempdir().unwrap();
        for p in ["part-00000.parquet", "part-00001.parquet"] {
            std::fs::copy(golden_dir().join("data").join(p), data.path().join(p)).unwrap();
        }
        let api = Api::new(&[("FROCKET_APISERVER_ERROR_DETAILS", details)]);
        let body = json!({"name": "d", "basepath": data.path().display().to_string(),
            "groupIdColumn": "visitorid", "timestampColumn": "timestamp"});
        assert_eq!(
            api.call("POST", "/datasets/register", &body.to_string()).await.status,
            StatusCode::OK
        );
        // A part vanishes after registration: the query fails inside a task.
        std::fs::write(data.path().join("part-00001.parquet"), b"not parquet any more").unwrap();
        let r = api.call("GET", "/datasets/d/empty-query", "").await;
        // Not the caller's mistake: 502, naming the part when details are on.
        if details == "true" {
            assert_failure(&r, 502, "part-00001.parquet");
        } else {
            assert_failure(&r, 502, "details are in the server log");
            assert!(!r.body.contains("part-00001"), "{}", r.body);
            assert!(!r.body.contains("/tmp"), "{}", r.body);
        }
    }
}

fn ndjson(body: &str) -> Vec<Value> {
    body.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[tokio::test]
async fn streaming_sends_progress_then_the_envelope() {
    let api = Api::new(&[]);
    let reg = api
        .call(
            "POST",
            "/datasets/register?stream=true",
            &json!({"name": "g",
        "basepath": golden_dir().join("data").display().to_string(), "groupIdColumn": "visitorid",
        "timestampColumn": "timestamp"})
            .to_string(),
        )
        .await;
    assert_eq!(reg.status, StatusCode::OK);
    assert_eq!(reg.content_type, "application/x-ndjson");
    let lines = ndjson(&reg.body);
    assert_eq!(lines[0]["stage"], json!("STARTING"));
    assert_eq!(lines.last().unwrap()["success"], json!(true), "{}", reg.body);
    assert_eq!(lines.last().unwrap()["parts"], json!(2));

    let (file, text, expected) = golden_queries().into_iter().nth(6).unwrap();
    let r = api.call("POST", "/datasets/g/query?stream=true", &text).await;
    assert_eq!(r.status, StatusCode::OK);
    let lines = ndjson(&r.body);
    assert!(lines.len() >= 3, "{}", r.body);
    assert_eq!(lines[0]["stage"], json!("STARTING"));
    let (last, progress) = lines.split_last().unwrap();
    assert_eq!(progress.last().unwrap()["stage"], json!("DONE"));
    let (mut done_seen, mut rows_seen) = (0, 0);
    for p in &progress[1..progress.len() - 1] {
        assert_eq!(p["stage"], json!("RUNNING"), "{p}");
        let counts = p["tasks"].as_object().unwrap();
        let sum: u64 = counts.values().map(|v| v.as_u64().unwrap()).sum();
        assert_eq!(sum, 2, "{p}");
        let done = p["tasks"]["ENDED_SUCCESS"].as_u64().unwrap();
        assert!(done >= done_seen, "progress goes forward");
        done_seen = done;
        // Rows scanned by the tasks done so far: none before the first ends.
        let rows = p["rows"].as_u64().unwrap();
        assert_eq!(rows == 0, done == 0, "{p}");
        rows_seen = rows;
    }
    assert_eq!(done_seen, 2, "the last progress line shows both tasks done");
    assert_eq!(
        rows_seen, 42_283,
        "the last progress line counts every row of both parts"
    );
    assert_eq!(last["success"], json!(true));
    assert_eq!(last["requestId"].as_str().unwrap(), r.request_id);
    let result = json!({"query": last["query"], "funnel": last["funnel"]});
    assert_eq!(json_diff(&result, &expected, "result", 1e-9), None, "{file}");

    // Errors before the job starts keep their status code.
    assert_failure(
        &api.call("POST", "/datasets/nope/query?stream=true", "{}").await,
        404,
        "nope",
    );
}

#[tokio::test]
async fn asynchronous_queries_are_polled_to_their_result() {
    let api = Api::new(&[]);
    assert_eq!(api.register_golden("g").await.status, StatusCode::OK);
    let (file, text, expected) = golden_queries().into_iter().nth(8).unwrap();
    let query: Value = serde_json::from_str(&text).unwrap();
    let r = api
        .call("POST", "/queries", &json!({"dataset": "g", "query": query}).to_string())
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let started = r.json();
    assert_eq!(started["requestId"].as_str().unwrap(), r.request_id);
    assert_eq!(started["done"], json!(false));
    let id = r.request_id.clone();
    let mut state = Value::Null;
    for _ in 0..600 {
        let p = api.call("GET", &format!("/queries/{id}"), "").await;
        assert_eq!(p.status, StatusCode::OK, "{}", p.body);
        state = p.json();
        if state["done"] == json!(true) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(state["stage"], json!("DONE"), "{state}");
    let resp = &state["response"];
    assert_eq!(resp["success"], json!(true), "{resp}");
    assert_eq!(resp["requestId"].as_str().unwrap(), id);
    let result = json!({"query": resp["query"], "funnel": resp["funnel"]});
    assert_eq!(json_diff(&result, &expected, "result", 1e-9), None, "{file}");

    // Validation happens at once; unknown ids are 404.
    assert_failure(
        &api.call("POST", "/queries", r#"{"dataset": "nope"}"#).await,
        404,
        "nope",
    );
    assert_failure(
        &api.call("POST", "/queries", r#"{"query": {}}"#).await,
        400,
        "body.dataset",
    );
    let bad = json!({"dataset": "g", "query": {"query": {"aggregations": [{"column": "nosuch"}]}}});
    assert_failure(&api.call("POST", "/queries", &bad.to_string()).await, 400, "nosuch");
    assert_failure(&api.call("GET", "/queries/123-deadbeef", "").await, 404, "123-deadbeef");
}

#[tokio::test]
async fn health_and_metrics() {
    let api = Api::new(&[]);
    let h = api.call("GET", "/health", "").await;
    assert_eq!(h.status, StatusCode::OK);
    assert_eq!(h.json()["datastore"], json!("embedded"));
    assert_eq!(api.register_golden("g").await.status, StatusCode::OK);
    assert_eq!(
        api.call("GET", "/datasets/g/empty-query", "").await.status,
        StatusCode::OK
    );
    assert_eq!(
        api.call("GET", "/datasets/nope/schema", "").await.status,
        StatusCode::NOT_FOUND
    );
    let m = api.call("GET", "/metrics", "").await;
    assert_eq!(m.status, StatusCode::OK);
    assert!(m.content_type.starts_with("text/plain"), "{}", m.content_type);
    for needle in [
        r#"frocket_http_requests_total{method="GET",route="/datasets/{name}/empty-query",status="200"} 1"#,
        r#"frocket_http_requests_total{method="GET",route="/datasets/{name}/schema",status="404"} 1"#,
        r#"frocket_queries_total{outcome="success"} 1"#,
        "frocket_scanned_rows_total 42283",
    ] {
        assert!(m.body.contains(needle), "missing {needle} in\n{}", m.body);
    }
}

/// Dataset names never become paths: every route taking a name refuses traversal attempts
/// (`..`, encoded slashes and dots, absolute paths, NUL, backslashes) with a 400 that names the
/// rule and no server path, and nothing outside the catalog is read, written or deleted.
#[tokio::test]
async fn dataset_names_never_escape_the_catalog() {
    let outer = tempfile::tempdir().unwrap();
    let home = outer.path().join("home");
    // Bait outside the catalog where a traversal from `<home>/datasets/` or `<home>/last-used/`
    // would land: a dataset file, a last-used stamp and a file to delete.
    let bait = "BAIT-do-not-serve";
    for f in ["x.json", "x", "victim.json", "victim"] {
        std::fs::write(outer.path().join(f), format!("{{\"name\": \"{bait}\"}}")).unwrap();
    }
    let snapshot = || {
        let mut v: Vec<(String, String)> = std::fs::read_dir(outer.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_file())
            .map(|e| {
                (
                    e.file_name().to_string_lossy().to_string(),
                    std::fs::read_to_string(e.path()).unwrap(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let before = snapshot();
    let cfg = frocket_config::Config::from_vars(Vec::<(String, String)>::new()).unwrap();
    let service = Service::new(cfg, FileCatalog::new(&home), Backend::Local { threads: 1 });
    let api = Api {
        app: router(ApiState::new(Arc::new(service), JobStore::memory())),
        _home: tempfile::tempdir().unwrap(),
    };
    assert_eq!(api.register_golden("golden").await.status, StatusCode::OK);

    let names = [
        "..%2F..%2Fx",
        "..%2F..%2Fvictim",
        "%2e%2e%2f%2e%2e%2fx",
        "%2E%2E",
        "..",
        "%2Ftmp%2Fx",
        "%2F",
        "golden%00",
        "a%00b",
        "..%5C..%5Cx",
        ".hidden",
        "-x",
        "x%2Fy",
    ];
    for name in names {
        for (method, uri, body) in [
            ("GET", format!("/datasets/{name}/schema"), String::new()),
            ("GET", format!("/datasets/{name}/schema?full=true"), String::new()),
            ("GET", format!("/datasets/{name}/parts"), String::new()),
            ("GET", format!("/datasets/{name}/empty-query"), String::new()),
            ("POST", format!("/datasets/{name}/query"), "{}".to_string()),
            ("POST", format!("/datasets/{name}/unregister?force=true"), String::new()),
        ] {
            let r = api.call(method, &uri, &body).await;
            assert!(r.status.is_client_error(), "{method} {uri}: {} {}", r.status, r.body);
            assert!(
                !r.body.contains(bait),
                "{method} {uri} served a file outside the catalog: {}",
                r.body
            );
            assert!(
                !r.body.contains(&*outer.path().to_string_lossy()),
                "{method} {uri} echoed a server path: {}",
                r.body
            );
            if r.status == StatusCode::BAD_REQUEST {
                assert!(
                    r.json()["errorMessage"]
                        .as_str()
                        .unwrap()
                        .contains("invalid dataset name"),
                    "{}",
                    r.body
                );
            }
        }
    }
    // Names in bodies: registration and asynchronous queries.
    for name in ["../../x", "/tmp/x", "..", "a\u{0}b", "a/b", "..\\..\\x"] {
        let body = json!({"name": name, "basepath": golden_dir().join("data").display().to_string(),
            "groupIdColumn": "visitorid", "timestampColumn": "timestamp"});
        let r = api.call("POST", "/datasets/register", &body.to_string()).await;
        assert_failure(&r, 400, "invalid dataset name");
        let r = api
            .call("POST", "/queries", &json!({"dataset": name}).to_string())
            .await;
        assert_failure(&r, 400, "invalid dataset name");
    }
    assert_eq!(snapshot(), before, "files outside the catalog changed");
    // Nothing was written beside the catalog's own folders either.
    let mut inside: Vec<String> = std::fs::read_dir(&home)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    inside.sort();
    assert!(inside.iter().all(|n| n == "datasets" || n == "last-used"), "{inside:?}");
    // The real dataset is untouched.
    assert_eq!(
        api.call("GET", "/datasets/golden/schema", "").await.status,
        StatusCode::OK
    );
}

/// With `FROCKET_ALLOWED_BASEPATHS`, registration reads only below the allowed directories:
/// outside them, through `..`, or through a symlink leading out, it is a 403 that reads nothing.
#[tokio::test]
async fn registration_reads_only_the_allowed_basepaths() {
    let allowed = tempfile::tempdir().unwrap();
    let inside = allowed.path().join("golden");
    std::fs::create_dir(&inside).unwrap();
    for p in ["part-00000.parquet", "part-00001.parquet"] {
        std::fs::copy(golden_dir().join("data").join(p), inside.join(p)).unwrap();
    }
    std::os::unix::fs::symlink(golden_dir().join("data"), allowed.path().join("escape")).unwrap();
    let list = allowed.path().display().to_string();
    let api = Api::new(&[("FROCKET_ALLOWED_BASEPATHS", list.as_str())]);
    let body = |name: &str, basepath: String| {
        json!({"name": name, "basepath": basepath, "groupIdColumn": "visitorid", "timestampColumn": "timestamp"})
            .to_string()
    };
    let r = api
        .call("POST", "/datasets/register", &body("ok", inside.display().to_string()))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    for (what, basepath) in [
        ("outside", golden_dir().join("data").display().to_string()),
        ("dot-dot", format!("{}/golden/../../", allowed.path().display())),
        ("symlink out", allowed.path().join("escape").display().to_string()),
        ("relative", "golden".to_string()),
        ("s3", "s3://bucket/golden/".to_string()),
    ] {
        let r = api.call("POST", "/datasets/register", &body("no", basepath)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{what}: {}", r.body);
        assert_failure(&r, 403, "FROCKET_ALLOWED_BASEPATHS");
    }
    assert_eq!(
        api.call("GET", "/datasets/no/schema", "").await.status,
        StatusCode::NOT_FOUND
    );
}
