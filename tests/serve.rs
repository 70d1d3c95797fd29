//! `frocket serve`: the HTTP API as a process. It answers on its port over the same catalog
//! the CLI uses, and stops cleanly on SIGTERM.

use std::io::Read;
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use frocket_tests::services::{free_port, ServeProcess};
use frocket_tests::{frocket_bin, golden_dir, Frocket};
use serde_json::{json, Value};

/// One HTTP/1.1 request (the harness's client); returns the status code and the body.
fn http(port: u16, method: &str, path: &str, body: &str) -> (String, String) {
    let r = frocket_tests::services::http(port, method, path, body, Duration::from_secs(60));
    (r.status.to_string(), r.body)
}

#[test]
fn serve_answers_over_http_and_stops_on_sigterm() {
    let f = Frocket::new();
    f.ok(&[
        "register",
        "golden",
        &golden_dir().join("data").display().to_string(),
        "visitorid",
        "timestamp",
    ]);
    let port = free_port();
    let mut child = Command::new(frocket_bin())
        .args(["serve", "--port", &port.to_string()])
        .env("FROCKET_HOME", f.home.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "frocket serve did not start");
        assert!(child.try_wait().unwrap().is_none(), "frocket serve exited");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (status, body) = http(port, "GET", "/health", "");
    assert!(status.contains("200"), "{status} {body}");
    let (status, body) = http(port, "GET", "/datasets", "");
    assert!(status.contains("200"), "{status}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["datasets"][0]["name"], json!("golden"));
    let (status, body) = http(port, "GET", "/datasets/golden/empty-query", "");
    assert!(status.contains("200"), "{status} {body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["query"]["matchingGroups"], json!(5000));
    let (status, _) = http(port, "POST", "/datasets/golden/query", "{\"bad\": 1}");
    assert!(status.contains("400"), "{status}");

    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            assert!(st.success(), "frocket serve exited with {st}");
            break;
        }
        assert!(Instant::now() < deadline, "frocket serve did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(err.contains("stopped"), "{err}");
}

/// A long-lived `frocket serve` keeps the parts it mapped mapped from query to query
/// (`FROCKET_READ_MMAP_KEEP`): a part renamed over between two queries, or written over in
/// place, is read anew — each answer equals a fresh `frocket run` process's over the same files.
#[test]
fn parts_replaced_between_queries_are_read_anew() {
    let data = tempfile::tempdir().unwrap();
    let golden = golden_dir().join("data");
    let (p0, p1) = (
        data.path().join("part-00000.parquet"),
        data.path().join("part-00001.parquet"),
    );
    std::fs::copy(golden.join("part-00000.parquet"), &p0).unwrap();
    std::fs::copy(golden.join("part-00001.parquet"), &p1).unwrap();
    let f = Frocket::new();
    f.ok(&[
        "register",
        "d",
        &data.path().display().to_string(),
        "visitorid",
        "timestamp",
    ]);
    // (Killed on drop, a failed assertion included.)
    let serve = ServeProcess::start(&[("FROCKET_HOME", f.home.path().display().to_string())], None);
    let query = r#"{"funnel": {"sequence": [{"filter": {"column": "event", "op": "==", "value": "view"}},
        {"filter": {"column": "event", "op": "==", "value": "addtocart"}}]}}"#;
    let answer = |what: &str| {
        let r = serve.request("POST", "/datasets/d/query", query);
        assert_eq!(r.status, 200, "{what}: {}", r.body);
        let got = r.json();
        let fresh = f.ok(&["run", "d", "--string", query]);
        let (got, fresh) = (
            json!({"query": got["query"], "funnel": got["funnel"]}),
            json!({"query": fresh["query"], "funnel": fresh["funnel"]}),
        );
        assert_eq!(got, fresh, "{what}");
        got
    };
    let first = answer("the parts as registered");
    assert_eq!(answer("the same parts again"), first);
    // Part 1 renamed over by a copy of part 0 (part 0's users twice).
    let tmp = data.path().join("new.tmp");
    std::fs::copy(&p0, &tmp).unwrap();
    std::fs::rename(&tmp, &p1).unwrap();
    let doubled = answer("part 1 renamed over");
    assert_ne!(doubled, first);
    // Part 1 written over in place with its own bytes again (truncated, then written).
    std::fs::write(&p1, std::fs::read(golden.join("part-00001.parquet")).unwrap()).unwrap();
    assert_eq!(answer("part 1 written over in place"), first);
}
