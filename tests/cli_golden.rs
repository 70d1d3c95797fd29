//! The golden set registered and queried through the CLI gives exactly its expected answers.

use frocket_tests::{golden_dir, json_diff, Frocket};
use serde_json::{json, Value};

#[test]
fn golden_queries_through_the_cli() {
    let dir = golden_dir();
    let f = Frocket::new();
    let reg = f.ok(&[
        "register",
        "golden",
        &dir.join("data").display().to_string(),
        "visitorid",
        "timestamp",
    ]);
    assert_eq!(reg["parts"], json!(2));
    let expected = std::fs::read_to_string(dir.join("expected.jsonl")).unwrap();
    let mut n = 0;
    for line in expected.lines().filter(|l| !l.trim().is_empty()) {
        let exp: Value = serde_json::from_str(line).unwrap();
        let file = dir.join("queries").join(exp["file"].as_str().unwrap());
        let got = f.ok(&["run", "golden", "--file", &file.display().to_string()]);
        let result = json!({"query": got["query"], "funnel": got["funnel"]});
        assert_eq!(
            json_diff(&result, &exp["result"], "result", 1e-9),
            None,
            "{}",
            file.display()
        );
        n += 1;
    }
    assert_eq!(n, 12);
}
