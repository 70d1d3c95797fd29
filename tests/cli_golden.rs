//! The golden set registered and queried through the CLI gives exactly its expected answers.

use frocket_tests::{golden_dir, json_diff, Frocket};
use serde_json::{json, Value};

/// Registers the golden set as `golden`; the registration's answer.
fn register_golden(f: &Frocket) -> Value {
    let data = golden_dir().join("data").display().to_string();
    f.ok(&["register", "golden", &data, "visitorid", "timestamp"])
}

#[test]
fn golden_queries_through_the_cli() {
    let f = Frocket::new();
    let reg = register_golden(&f);
    assert_eq!(reg["parts"], json!(2));
    let mut n = 0;
    for (file, text, expected) in frocket_tests::golden_queries() {
        let got = f.ok(&["run", "golden", "--string", &text]);
        let result = json!({"query": got["query"], "funnel": got["funnel"]});
        assert_eq!(json_diff(&result, &expected, "result", 1e-9), None, "{file}");
        n += 1;
    }
    assert_eq!(n, 17);
}

/// Parts read with `read` calls instead of mapped (`FROCKET_READ_MMAP=false`) give the same
/// answers; a value that is not a boolean is refused, naming the variable.
#[test]
fn golden_queries_with_parts_read_unmapped() {
    let f = Frocket::with_env(&[("FROCKET_READ_MMAP", "false".to_string())]);
    register_golden(&f);
    for (file, text, expected) in frocket_tests::golden_queries() {
        let got = f.ok(&["run", "golden", "--string", &text]);
        let result = json!({"query": got["query"], "funnel": got["funnel"]});
        assert_eq!(json_diff(&result, &expected, "result", 1e-9), None, "{file}");
    }
    let bad = Frocket::with_env(&[("FROCKET_READ_MMAP", "sometimes".to_string())]);
    let r = bad.run(&["run", "golden", "--string", "{}"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("FROCKET_READ_MMAP"), "{}", r.stderr);
}

/// `--file -` reads the query from standard input: a golden funnel piped in gives its answer.
#[test]
fn a_query_piped_on_standard_input() {
    use std::io::Write;
    let f = Frocket::new();
    register_golden(&f);
    let (file, text, expected) = frocket_tests::golden_queries()
        .into_iter()
        .find(|(f, _, _)| f.starts_with("g07"))
        .unwrap();
    let mut child = std::process::Command::new(frocket_tests::frocket_bin())
        .args(["--output", "json", "run", "golden", "--file", "-"])
        .env("FROCKET_HOME", f.home.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    let result = json!({"query": got["query"], "funnel": got["funnel"]});
    assert_eq!(json_diff(&result, &expected, "result", 1e-9), None, "{file}");
}
