//! `frocket serve`: the HTTP API as a process. It answers on its port over the same catalog
//! the CLI uses, and stops cleanly on SIGTERM.

use std::io::Read;
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use frocket_tests::services::free_port;
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
