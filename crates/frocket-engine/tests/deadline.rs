//! A run past its deadline (`ExecOptions::deadline`) stops with an error naming the part, at
//! every kind of work a query does; a deadline not reached changes nothing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use frocket_engine::{run_batch, validate_query, DatasetSchema, EngineError, ExecOptions, PartialResult};
use serde_json::{json, Value};

/// Three users' events.
fn batch() -> RecordBatch {
    let uid = [1, 1, 1, 2, 2, 3];
    let ts = [1, 2, 3, 1, 5, 2];
    let event = ["view", "addtocart", "transaction", "view", "transaction", "view"];
    RecordBatch::try_from_iter([
        ("uid", Arc::new(Int64Array::from(uid.to_vec())) as ArrayRef),
        ("ts", Arc::new(Int64Array::from(ts.to_vec())) as ArrayRef),
        ("event", Arc::new(StringArray::from(event.to_vec())) as ArrayRef),
    ])
    .unwrap()
}

fn run(q: &Value, deadline: Option<Instant>) -> Result<Value, EngineError> {
    let b = batch();
    let schema = DatasetSchema::from_arrow(&b.schema(), "uid", "ts").unwrap();
    let q = validate_query(&q.to_string(), &schema, 10).unwrap();
    let opts = ExecOptions {
        deadline,
        ..ExecOptions::default()
    };
    let p = run_batch("part-7.parquet", &b, &q, &opts)?;
    Ok(serde_json::to_value(PartialResult::merge_all([p]).unwrap().finish(&q).unwrap()).unwrap())
}

fn step(e: &str) -> Value {
    json!({"filter": ["event", "==", e]})
}

/// One query per kind of work: filter conditions, a sequence condition, aggregations only, a
/// funnel, a funnel with options (the chain matcher).
fn queries() -> Vec<Value> {
    vec![
        json!({"query": {"conditions": [{"filter": ["event", "==", "view"], "target": ["count", ">=", 1]}]}}),
        json!({"query": {"conditions": [{"sequence": [step("view"), step("transaction")]}]}}),
        json!({"query": {"aggregations": [{"column": "event", "type": "countPerValue"}]}}),
        json!({"funnel": {"sequence": [step("view"), step("addtocart"), step("transaction")]}}),
        json!({"funnel": {"sequence": [step("view"), step("transaction")], "order": "strict",
                          "conversionTime": {"bins": [2]}}}),
    ]
}

#[test]
fn a_run_past_its_deadline_fails_naming_the_part() {
    for q in queries() {
        let err = run(&q, Some(Instant::now())).expect_err(&q.to_string());
        assert!(
            matches!(err, EngineError::DeadlineExceeded { ref file } if file == "part-7.parquet"),
            "{q}: {err:?}"
        );
        let message = err.to_string();
        assert!(
            message.contains("part-7.parquet") && message.contains("deadline"),
            "{message}"
        );
    }
}

#[test]
fn a_deadline_not_reached_changes_nothing() {
    let later = Instant::now() + Duration::from_secs(3600);
    for q in queries() {
        assert_eq!(run(&q, Some(later)).unwrap(), run(&q, None).unwrap(), "{q}");
    }
    // Only counting users and rows has nothing to stop: it runs whatever the deadline.
    assert!(run(&json!({}), Some(Instant::now())).is_ok());
}
