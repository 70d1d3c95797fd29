//! Every golden query over the golden dataset (two parts, run separately and merged)
//! reproduces the independent evaluator's answers: the twelve of `expected.jsonl` and the
//! sequence options' five (`sequence-options/`).

mod common;

use std::fs::File;

use frocket_engine::{run_part, validate_query, ExecOptions, PartialResult};

#[test]
fn golden_queries_match_expected() {
    let dir = common::golden_dir();
    let mut parts: Vec<_> = std::fs::read_dir(dir.join("data"))
        .unwrap_or_else(|e| panic!("golden data not found at {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .collect();
    parts.sort();
    assert_eq!(parts.len(), 2);
    let schema = common::schema_of(&parts, "visitorid", "timestamp");
    let mut failures = Vec::new();
    let mut n = 0;
    for (file, text, expected) in common::golden_queries() {
        let file = file.as_str();
        let q = validate_query(&text, &schema, 10).unwrap_or_else(|e| panic!("{file}: {e}"));
        let partials: Vec<PartialResult> = parts
            .iter()
            .map(|p| {
                run_part(
                    &p.display().to_string(),
                    File::open(p).unwrap(),
                    &q,
                    &ExecOptions::default(),
                )
                .unwrap()
            })
            .collect();
        let result = PartialResult::merge_all(partials).unwrap().finish(&q).unwrap();
        let got = serde_json::to_value(&result).unwrap();
        if let Some(d) = common::json_diff(&got, &expected, "result", 1e-9) {
            failures.push(format!("{file}: {d}\n  got: {got}"));
        }
        n += 1;
    }
    assert_eq!(n, 17);
    assert!(
        failures.is_empty(),
        "{} of {n} golden queries differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
