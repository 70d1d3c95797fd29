//! The `frocket` CLI end to end, as a user runs it: generate → register → list → schema →
//! parts → run → unregister, and every kind of bad input.

use std::fs::File;
use std::path::Path;

use frocket_engine::{run_part, validate_query, DatasetSchema, ExecOptions, PartialResult};
use frocket_tests::{json_diff, Frocket};
use serde_json::{json, Value};

const FUNNEL: &str = r#"{"funnel": {"sequence": [{"filter": ["event", "==", "view"]}, {"filter": ["event", "==", "addtocart"]},
    {"filter": ["event", "==", "transaction"]}], "maxDuration": 86400000,
    "stepAggregations": [{"column": "device", "type": "countPerValue"}]}}"#;
const AGGS: &str = r#"{"query": {"aggregations": [{"column": "category", "top": 5},
    {"column": "device", "type": "meanPerValue", "otherColumn": "price"}, {"column": "tags", "type": "countPerValue"}]}}"#;
const RELATION: &str = r#"{"query": {"relation": "$buyer or ($1 and not $2)",
    "conditions": [{"filter": ["event", "==", "transaction"], "name": "buyer"},
                   {"filter": ["event", "==", "addtocart"], "target": ["count", ">=", 2]},
                   {"filter": ["device", "==", "tv"]}],
    "aggregations": [{"column": "event", "type": "groupsPerValue"}]}}"#;

fn generate(f: &Frocket, dir: &Path, users: &str, parts: &str) {
    let v = f.ok(&[
        "dataprep",
        "generate",
        "--out",
        &dir.display().to_string(),
        "--users",
        users,
        "--parts",
        parts,
    ]);
    assert_eq!(v["files"], json!(parts.parse::<u64>().unwrap()));
}

/// The engine called directly on the same files: what the CLI must print.
fn direct(dir: &Path, query: &str) -> Value {
    let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let b =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(File::open(&files[0]).unwrap()).unwrap();
    let schema = DatasetSchema::from_arrow(b.schema(), "userid", "timestamp").unwrap();
    let q = validate_query(query, &schema, 10).unwrap();
    let parts = files
        .iter()
        .map(|p| run_part("x", File::open(p).unwrap(), &q, &ExecOptions::default()).unwrap());
    serde_json::to_value(PartialResult::merge_all(parts).unwrap().finish(&q).unwrap()).unwrap()
}

#[test]
fn full_lifecycle_matches_the_engine() {
    let f = Frocket::new();
    let data = tempfile::tempdir().unwrap();
    generate(&f, data.path(), "3000", "3");
    let dir = data.path().display().to_string();

    let reg = f.ok(&["register", "retail", &dir, "userid", "timestamp"]);
    assert_eq!(reg["parts"], json!(3));

    let list = f.ok(&["list"]);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["name"], json!("retail"));

    let schema = f.ok(&["schema", "retail"]);
    assert_eq!(schema["columns"]["event"], json!("STRING"));
    assert_eq!(schema["columns"]["tags"], json!("LIST<STRING>"));
    assert_eq!(schema["columns"]["price"], json!("FLOAT"));
    assert!(schema["sourceCategoricals"]
        .as_array()
        .unwrap()
        .contains(&json!("event")));
    assert!(schema["minTimestamp"].as_f64().unwrap() >= 1.6e12);
    let full = f.ok(&["schema", "retail", "--full"]);
    assert!(full["details"]["device"]["topValues"]
        .as_array()
        .is_some_and(|t| !t.is_empty()));
    assert!(full["details"]["price"]["max"].as_f64().unwrap() > 1.0);

    let parts = f.ok(&["parts", "retail"]);
    assert_eq!(parts["count"], json!(3));

    for q in [FUNNEL, AGGS, RELATION] {
        let got = f.ok(&["run", "retail", "--string", q]);
        assert_eq!(got["success"], json!(true));
        assert_eq!(got["stats"]["dataset"]["parts"], json!(3));
        assert!(got["requestId"].as_str().unwrap().contains('-'));
        let want = direct(data.path(), q);
        let got_result = json!({"query": got["query"], "funnel": got["funnel"]});
        assert_eq!(json_diff(&got_result, &want, "result", 1e-12), None, "{q}");
    }
    let empty = f.ok(&["run", "retail", "--empty"]);
    assert_eq!(empty["query"]["matchingGroups"], json!(3000));

    // Just used: unregister needs --force.
    let e = f.fails(&["unregister", "retail"]);
    assert!(e.contains("--force"), "{e}");
    f.ok(&["unregister", "retail", "--force"]);
    assert_eq!(f.ok(&["list"]), json!([]));
}

/// Asserts the catalog lists exactly `names` (so a failed command changed nothing).
fn catalog_is(f: &Frocket, names: &[&str]) {
    let list = f.ok(&["list"]);
    let got: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(got, names);
}

fn write_parquet(path: &Path, batch: &arrow::array::RecordBatch) {
    let mut w = parquet::arrow::ArrowWriter::try_new(File::create(path).unwrap(), batch.schema(), None).unwrap();
    w.write(batch).unwrap();
    w.close().unwrap();
}

fn batch(uids: &[i64], with_ts: bool, extra_float: bool) -> arrow::array::RecordBatch {
    use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
    let mut cols: Vec<(&str, ArrayRef)> = vec![("uid", std::sync::Arc::new(Int64Array::from(uids.to_vec())))];
    if with_ts {
        cols.push((
            "ts",
            std::sync::Arc::new(Int64Array::from(vec![1_600_000_000_000i64; uids.len()])),
        ));
    }
    cols.push((
        "event",
        std::sync::Arc::new(StringArray::from(vec!["view"; uids.len()])),
    ));
    if extra_float {
        cols.push(("price", std::sync::Arc::new(Float64Array::from(vec![1.0; uids.len()]))));
    }
    RecordBatch::try_from_iter(cols).unwrap()
}

#[test]
fn bad_inputs_fail_cleanly_and_change_nothing() {
    let f = Frocket::new();
    let good = tempfile::tempdir().unwrap();
    write_parquet(&good.path().join("a.parquet"), &batch(&[1, 2], true, false));
    write_parquet(&good.path().join("b.parquet"), &batch(&[3, 4], true, false));
    f.ok(&["register", "good", &good.path().display().to_string(), "uid", "ts"]);
    catalog_is(&f, &["good"]);

    // Missing path.
    let e = f.fails(&["register", "x", "/nonexistent/frocket-data", "uid", "ts"]);
    assert!(e.contains("/nonexistent/frocket-data"), "{e}");
    // No matching files.
    let e = f.fails(&[
        "register",
        "x",
        &good.path().display().to_string(),
        "uid",
        "ts",
        "--pattern",
        "*.csv",
    ]);
    assert!(e.contains("*.csv"), "{e}");

    // Parts with different schemas.
    let mixed = tempfile::tempdir().unwrap();
    write_parquet(&mixed.path().join("a.parquet"), &batch(&[1], true, false));
    write_parquet(&mixed.path().join("b.parquet"), &batch(&[2], true, true));
    let e = f.fails(&[
        "register",
        "x",
        &mixed.path().display().to_string(),
        "uid",
        "ts",
        "--validation-mode",
        "FIRST_LAST",
    ]);
    assert!(
        e.contains("a.parquet") && e.contains("b.parquet") && e.contains("price"),
        "{e}"
    );

    // Parts sharing user ids.
    let shared = tempfile::tempdir().unwrap();
    write_parquet(&shared.path().join("a.parquet"), &batch(&[1, 2], true, false));
    write_parquet(&shared.path().join("b.parquet"), &batch(&[2, 3], true, false));
    let e = f.fails(&["register", "x", &shared.path().display().to_string(), "uid", "ts"]);
    assert!(
        e.contains("a.parquet") && e.contains("b.parquet") && e.contains("share group ids"),
        "{e}"
    );
    // ... accepted when asked not to check.
    f.ok(&[
        "register",
        "shared",
        &shared.path().display().to_string(),
        "uid",
        "ts",
        "--no-validate-uniques",
    ]);
    f.ok(&["unregister", "shared"]);

    // Missing timestamp column.
    let nots = tempfile::tempdir().unwrap();
    write_parquet(&nots.path().join("a.parquet"), &batch(&[1], false, false));
    let e = f.fails(&["register", "x", &nots.path().display().to_string(), "uid", "ts"]);
    assert!(e.contains("'ts'") && e.contains("a.parquet"), "{e}");

    // Not Parquet.
    let junk = tempfile::tempdir().unwrap();
    std::fs::write(junk.path().join("a.parquet"), b"definitely not parquet").unwrap();
    let e = f.fails(&["register", "x", &junk.path().display().to_string(), "uid", "ts"]);
    assert!(e.contains("a.parquet"), "{e}");

    // Bad validation mode, bad dataset name.
    let e = f.fails(&[
        "register",
        "x",
        &good.path().display().to_string(),
        "uid",
        "ts",
        "--validation-mode",
        "SOME",
    ]);
    assert!(e.contains("SOME"), "{e}");
    let e = f.fails(&["register", "../x", &good.path().display().to_string(), "uid", "ts"]);
    assert!(e.contains("invalid dataset name"), "{e}");

    // Malformed query file, invalid query, missing query file.
    let qdir = tempfile::tempdir().unwrap();
    let qf = qdir.path().join("q.json");
    std::fs::write(&qf, "{\"query\": {").unwrap();
    let e = f.fails(&["run", "good", "--file", &qf.display().to_string()]);
    assert!(e.contains("malformed JSON"), "{e}");
    let e = f.fails(&[
        "run",
        "good",
        "--string",
        r#"{"query": {"conditions": [{"filter": ["nope", "==", 1]}]}, "extra": 1}"#,
    ]);
    assert!(
        e.contains("query.conditions[0].filter") && e.contains("extra") && e.contains("2 errors"),
        "{e}"
    );
    let e = f.fails(&["run", "good", "--file", "/nonexistent/q.json"]);
    assert!(e.contains("/nonexistent/q.json"), "{e}");

    // Unknown dataset.
    for args in [
        &["run", "nope", "--empty"][..],
        &["schema", "nope"],
        &["parts", "nope"],
        &["unregister", "nope"],
    ] {
        let e = f.fails(args);
        assert!(e.contains("'nope'"), "{e}");
    }
    // A bad configuration variable is named.
    let r = std::process::Command::new(frocket_tests::frocket_bin())
        .args(["list"])
        .env("FROCKET_HOME", f.home.path())
        .env("FROCKET_INVOKER_RUN_TIMEOUT", "soon")
        .output()
        .unwrap();
    assert!(!r.status.success());
    assert!(String::from_utf8_lossy(&r.stderr).contains("FROCKET_INVOKER_RUN_TIMEOUT"));

    catalog_is(&f, &["good"]);
    assert_eq!(f.ok(&["run", "good", "--empty"])["query"]["matchingGroups"], json!(4));
}

#[test]
fn reregistering_replaces_the_dataset() {
    let f = Frocket::new();
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    write_parquet(&a.path().join("p.parquet"), &batch(&[1, 2], true, false));
    write_parquet(&b.path().join("p.parquet"), &batch(&[1, 2, 3], true, false));
    let first = f.ok(&["register", "d", &a.path().display().to_string(), "uid", "ts"]);
    let second = f.ok(&["register", "d", &b.path().display().to_string(), "uid", "ts"]);
    assert_ne!(first["registrationId"], second["registrationId"]);
    catalog_is(&f, &["d"]);
    assert_eq!(f.ok(&["run", "d", "--empty"])["query"]["matchingGroups"], json!(3));
}

/// Local mode stops a task at the run timeout (the engine's deadline), not only between tasks:
/// the heaviest allowed query over one 20,000-user part — tens of seconds of one task in this
/// debug build, so it would finish, late, if only the start of each task were checked — ends
/// with the timeout's error.
#[test]
fn local_mode_stops_a_task_at_the_run_timeout() {
    let f = Frocket::with_env(&[("FROCKET_INVOKER_RUN_TIMEOUT", "2".into())]);
    let data = tempfile::tempdir().unwrap();
    generate(&f, data.path(), "20000", "1");
    f.ok(&[
        "register",
        "big",
        &data.path().display().to_string(),
        "userid",
        "timestamp",
    ]);
    let query = data.path().join("heavy.json");
    std::fs::write(&query, frocket_tests::heaviest_allowed_query().to_string()).unwrap();
    let err = f.fails(&["run", "big", "--file", &query.display().to_string()]);
    assert!(
        err.contains("timed out after 2.0s") && err.contains("FROCKET_INVOKER_RUN_TIMEOUT"),
        "{err}"
    );
}
