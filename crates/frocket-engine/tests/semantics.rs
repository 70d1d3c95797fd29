//! One test per semantic rule of query-language.md, on tiny hand-made datasets.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, ListBuilder, RecordBatch, StringArray, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema};
use frocket_engine::{run_batch, validate_query, DatasetSchema, ExecOptions, PartialResult};
use serde_json::{json, Value};

/// A row: user, timestamp, event, device, price, tags.
type Row<'a> = (i64, i64, &'a str, Option<&'a str>, Option<f64>, Option<&'a [&'a str]>);

fn batch(rows: &[Row<'_>]) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("uid", DataType::Int64, false),
        Field::new("ts", DataType::Int64, false),
        Field::new("event", DataType::Utf8, false),
        Field::new("device", DataType::Utf8, true),
        Field::new("price", DataType::Float64, true),
        Field::new(
            "tags",
            DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true))),
            true,
        ),
    ]));
    let mut tags = ListBuilder::new(StringBuilder::new());
    for r in rows {
        match r.5 {
            Some(t) => {
                for s in t {
                    tags.values().append_value(s);
                }
                tags.append(true);
            }
            None => tags.append(false),
        }
    }
    let cols: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(rows.iter().map(|r| r.0).collect::<Vec<_>>())),
        Arc::new(Int64Array::from(rows.iter().map(|r| r.1).collect::<Vec<_>>())),
        Arc::new(StringArray::from(rows.iter().map(|r| r.2).collect::<Vec<_>>())),
        Arc::new(StringArray::from(rows.iter().map(|r| r.3).collect::<Vec<_>>())),
        Arc::new(Float64Array::from(rows.iter().map(|r| r.4).collect::<Vec<_>>())),
        Arc::new(tags.finish()),
    ];
    RecordBatch::try_new(schema, cols).unwrap()
}

/// Events of one user (uid 1) as `(ts, event)`.
fn events(evts: &[(i64, &'static str)]) -> RecordBatch {
    let rows: Vec<Row<'_>> = evts.iter().map(|&(t, e)| (1, t, e, None, None, None)).collect();
    batch(&rows)
}

fn run(b: &RecordBatch, q: Value) -> Value {
    let schema = DatasetSchema::from_arrow(&b.schema(), "uid", "ts").unwrap();
    let q = validate_query(&q.to_string(), &schema, 10).unwrap();
    let p = run_batch("test", b, &q, &ExecOptions::default()).unwrap();
    serde_json::to_value(PartialResult::merge_all([p]).unwrap().finish(&q).unwrap()).unwrap()
}

fn step(e: &str) -> Value {
    json!({"filter": ["event", "==", e]})
}

fn not_step(e: &str) -> Value {
    json!({"filter": ["event", "==", e], "rowFound": false})
}

/// Whether user 1 matches a sequence condition.
fn seq_matches(evts: &[(i64, &'static str)], steps: Vec<Value>, max_duration: Option<i64>) -> bool {
    let mut cond = json!({"sequence": steps});
    if let Some(d) = max_duration {
        cond["maxDuration"] = json!(d);
    }
    let r = run(&events(evts), json!({"query": {"conditions": [cond]}}));
    r["query"]["matchingGroups"] == json!(1)
}

/// Groups reaching each funnel step (user 1 only, so 0 or 1 each).
fn funnel(evts: &[(i64, &'static str)], steps: Vec<Value>, max_duration: Option<i64>) -> Vec<u64> {
    let mut f = json!({"sequence": steps});
    if let Some(d) = max_duration {
        f["maxDuration"] = json!(d);
    }
    let r = run(&events(evts), json!({"funnel": f}));
    r["funnel"]["sequence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["matchingGroups"].as_u64().unwrap())
        .collect()
}

#[test]
fn negative_middle_step_uses_a_later_start() {
    let steps = || vec![step("A"), not_step("B"), step("C")];
    assert!(seq_matches(&[(1, "A"), (2, "B"), (3, "A"), (4, "C")], steps(), None));
    assert!(!seq_matches(&[(1, "A"), (2, "B"), (3, "C")], steps(), None));
}

#[test]
fn equal_timestamps_do_not_chain() {
    assert!(!seq_matches(&[(1, "A"), (1, "B")], vec![step("A"), step("B")], None));
    assert!(seq_matches(
        &[(1, "A"), (1, "B"), (2, "B")],
        vec![step("A"), step("B")],
        None
    ));
    // Rows arrive in any order: time order decides.
    assert!(!seq_matches(&[(5, "A"), (3, "B")], vec![step("A"), step("B")], None));
}

#[test]
fn negative_row_at_the_same_timestamp_is_not_between() {
    assert!(seq_matches(
        &[(1, "A"), (1, "X"), (2, "B")],
        vec![step("A"), not_step("X"), step("B")],
        None
    ));
    assert!(seq_matches(
        &[(1, "A"), (2, "X"), (2, "B")],
        vec![step("A"), not_step("X"), step("B")],
        None
    ));
    assert!(!seq_matches(
        &[(1, "A"), (2, "X"), (3, "B")],
        vec![step("A"), not_step("X"), step("B")],
        None
    ));
}

#[test]
fn max_duration_later_start_fits_the_window() {
    let evts = [(0, "A"), (10, "A"), (12, "B")];
    assert!(seq_matches(&evts, vec![step("A"), step("B")], Some(5)));
    assert!(!seq_matches(
        &[(0, "A"), (12, "B")],
        vec![step("A"), step("B")],
        Some(5)
    ));
    // Inclusive bound.
    assert!(seq_matches(&[(0, "A"), (5, "B")], vec![step("A"), step("B")], Some(5)));
}

#[test]
fn leading_negative_step() {
    let steps = || vec![not_step("X"), step("A"), step("B")];
    assert!(!seq_matches(&[(0, "X"), (1, "A"), (2, "B")], steps(), None));
    assert!(seq_matches(&[(1, "A"), (2, "X"), (3, "B")], steps(), None));
    assert!(seq_matches(&[(1, "X"), (1, "A"), (3, "B")], steps(), None));
}

#[test]
fn trailing_negative_step() {
    let steps = || vec![step("A"), step("B"), not_step("X")];
    assert!(!seq_matches(&[(1, "A"), (2, "B"), (3, "X")], steps(), None));
    assert!(seq_matches(&[(1, "A"), (2, "B"), (3, "X"), (4, "B")], steps(), None));
    // Within the window of r0 only.
    assert!(seq_matches(&[(1, "A"), (2, "B"), (10, "X")], steps(), Some(5)));
    assert!(!seq_matches(&[(1, "A"), (2, "B"), (6, "X")], steps(), Some(5)));
    // An earlier start leaves a shorter forbidden window: A@0 works where A@3 does not.
    assert!(seq_matches(&[(0, "A"), (3, "A"), (4, "B"), (7, "X")], steps(), Some(5)));
}

#[test]
fn adjacent_negative_steps_are_ored() {
    let steps = || vec![step("A"), not_step("X"), not_step("Y"), step("B")];
    assert!(!seq_matches(&[(1, "A"), (2, "Y"), (3, "B")], steps(), None));
    assert!(!seq_matches(&[(1, "A"), (2, "X"), (3, "B")], steps(), None));
    assert!(seq_matches(&[(1, "A"), (2, "Z"), (3, "B")], steps(), None));
}

#[test]
fn long_sequences_with_negative_steps() {
    // Nine positive steps and negative steps in every gap: more step bits than one byte holds.
    let names = ["S0", "S1", "S2", "S3", "S4", "S5", "S6", "S7", "S8"];
    let steps = || {
        let mut s = vec![not_step("X")];
        for n in names {
            s.push(step(n));
            s.push(not_step("X"));
        }
        s
    };
    let mut evts: Vec<(i64, &'static str)> = names.iter().enumerate().map(|(i, &n)| (i as i64 + 1, n)).collect();
    assert!(seq_matches(&evts, steps(), None));
    assert_eq!(funnel(&evts, steps(), None), vec![1; 9]);
    // A negative row between the 6th and 7th steps stops the funnel at the 6th.
    evts.push((6, "X"));
    evts.retain(|e| e != &(7, "S6"));
    evts.push((8, "S6"));
    evts.retain(|e| e != &(8, "S7"));
    evts.push((9, "S7"));
    evts.retain(|e| e != &(9, "S8"));
    evts.push((10, "S8"));
    // Rows are S0@1 .. S5@6, X@6 (same time as S5: not between), S6@8, S7@9, S8@10.
    assert!(seq_matches(&evts, steps(), None));
    evts.push((7, "X"));
    assert!(!seq_matches(&evts, steps(), None));
    assert_eq!(funnel(&evts, steps(), None), [1, 1, 1, 1, 1, 1, 0, 0, 0]);
}

#[test]
fn funnel_steps_and_negative_constraints() {
    assert_eq!(
        funnel(
            &[(1, "A"), (2, "B"), (3, "C")],
            vec![step("A"), step("B"), step("C")],
            None
        ),
        vec![1, 1, 1]
    );
    assert_eq!(
        funnel(&[(1, "A"), (3, "C")], vec![step("A"), step("B"), step("C")], None),
        vec![1, 0, 0]
    );
    // A trailing negative constrains only the last step.
    assert_eq!(
        funnel(
            &[(1, "A"), (2, "B"), (3, "X")],
            vec![step("A"), step("B"), not_step("X")],
            None
        ),
        vec![1, 0]
    );
    // A middle negative constrains the step after it.
    assert_eq!(
        funnel(
            &[(1, "A"), (2, "X"), (3, "B")],
            vec![step("A"), not_step("X"), step("B")],
            None
        ),
        vec![1, 0]
    );
    // The window applies to every step.
    assert_eq!(
        funnel(
            &[(1, "A"), (3, "B"), (9, "C")],
            vec![step("A"), step("B"), step("C")],
            Some(5)
        ),
        vec![1, 1, 0]
    );
}

fn users() -> RecordBatch {
    batch(&[
        (1, 1, "view", Some("mobile"), Some(10.0), Some(&["sale", "new"])),
        (1, 2, "buy", Some("mobile"), Some(30.0), Some(&[])),
        (1, 3, "buy", None, None, None),
        (2, 1, "view", Some("desktop"), Some(5.0), Some(&["new"])),
        (2, 2, "view", Some("desktop"), None, Some(&["sale"])),
        (3, 5, "view", None, Some(100.0), None),
        (4, 7, "buy", Some("tv"), Some(2.5), Some(&["premium", "premium"])),
    ])
}

fn groups(q: Value) -> u64 {
    run(&users(), q)["query"]["matchingGroups"].as_u64().unwrap()
}

#[test]
fn count_targets_and_include_zero() {
    let c = |cond: Value| groups(json!({"query": {"conditions": [cond]}}));
    assert_eq!(c(json!({"filter": ["event", "==", "buy"]})), 2);
    assert_eq!(
        c(json!({"filter": ["event", "==", "buy"], "target": ["count", ">=", 2]})),
        1
    );
    // Zero matching rows: only with includeZero.
    assert_eq!(
        c(json!({"filter": ["event", "==", "buy"], "target": ["count", "<", 2]})),
        1
    );
    assert_eq!(
        c(json!({"filter": ["event", "==", "buy"], "target": ["count", "<", 2], "includeZero": true})),
        3
    );
    // A target only satisfiable at zero implies includeZero.
    assert_eq!(
        c(json!({"filter": ["event", "==", "buy"], "target": ["count", "==", 0]})),
        2
    );
    assert_eq!(
        c(json!({"filter": ["event", "==", "buy"], "target": {"type": "count", "op": "<=", "value": 0}})),
        2
    );
}

#[test]
fn sum_targets() {
    let c = |cond: Value| groups(json!({"query": {"conditions": [cond]}}));
    assert_eq!(
        c(json!({"filter": ["event", "==", "buy"], "target": ["sum", "price", ">=", 30]})),
        1
    );
    assert_eq!(
        c(json!({"filter": ["event", "==", "buy"], "target": ["sum", "price", ">", 1]})),
        2
    );
    // Group 3 has no buy rows: no match even for a target 0 would satisfy.
    assert_eq!(
        c(json!({"filter": ["event", "==", "buy"], "target": ["sum", "price", "<", 1000]})),
        2
    );
}

#[test]
fn nulls_match_only_negated_operators() {
    let c = |f: Value| groups(json!({"query": {"conditions": [{"filter": f}]}}));
    assert_eq!(c(json!(["device", "==", "mobile"])), 1);
    // user 1 has a null-device row, user 3 only null devices, user 2 and 4 other devices.
    assert_eq!(c(json!(["device", "!=", "mobile"])), 4);
    assert_eq!(c(json!(["device", "not contains", "o"])), 3); // users 1 and 3 (null rows), 4 (tv)
    assert_eq!(c(json!(["device", "contains", "sk"])), 1);
    assert_eq!(c(json!(["price", "<", 1000.0])), 4);
    assert_eq!(c(json!(["price", ">", 20])), 2);
    assert_eq!(c(json!(["device", "regex", "^(tv|desk)"])), 2);
    assert_eq!(c(json!(["device", ">", "m"])), 2); // mobile, tv
}

#[test]
fn list_includes() {
    let c = |f: Value| groups(json!({"query": {"conditions": [{"filter": f}]}}));
    assert_eq!(c(json!(["tags", "includes", "sale"])), 2);
    assert_eq!(c(json!(["tags", "includes", "premium"])), 1);
    // Empty and null lists include nothing; `not includes` is true for them.
    assert_eq!(c(json!(["tags", "not includes", "new"])), 4);
    assert_eq!(c(json!(["tags", "not includes", "premium"])), 3);
}

#[test]
fn relation_precedence_names_and_not() {
    // $0: buyer (1, 4); $1: desktop (2); $2: has null price (1, 2)
    let conds = json!([
        {"filter": ["event", "==", "buy"], "name": "buyer"},
        {"filter": ["device", "==", "desktop"]},
        {"filter": ["price", "==", 2.5], "name": "cheap"}
    ]);
    let g = |rel: &str| groups(json!({"query": {"conditions": conds, "relation": rel}}));
    assert_eq!(g("$buyer or $1 and not $2"), 3);
    assert_eq!(g("($0 || $1) && !$CHEAP"), 2);
    assert_eq!(g("not $0"), 2);
    assert_eq!(g("or"), 3);
    assert_eq!(g("and"), 0);
}

#[test]
fn aggregations_order_ties_top_and_nulls() {
    let r = run(
        &users(),
        json!({"query": {"aggregations": [
            {"column": "device", "top": 2},
            {"column": "event", "type": "sumPerValue", "otherColumn": "price"},
            {"column": "event", "type": "meanPerValue", "otherColumn": "price", "name": "avg"},
            {"column": "tags", "type": "countPerValue"},
            {"column": "tags", "type": "groupsPerValue"}
        ]}}),
    );
    let aggs = &r["query"]["aggregations"];
    assert_eq!(
        aggs[0],
        json!({"column": "device", "type": "count", "value": 5, "top": null, "name": null})
    );
    assert_eq!(aggs[1]["value"], json!({"desktop": 2, "mobile": 2}));
    assert_eq!(aggs[1]["top"], json!(2));
    assert_eq!(aggs[2]["value"], json!({"desktop": 1, "mobile": 1}));
    assert_eq!(aggs[3]["value"], json!({"view": 115.0, "buy": 32.5}));
    assert_eq!(aggs[4]["value"], json!({"view": 115.0 / 3.0, "buy": 16.25}));
    assert_eq!(aggs[4]["name"], json!("avg"));
    // "premium" twice in one row counts once.
    assert_eq!(aggs[5]["value"], json!({"new": 2, "sale": 2, "premium": 1}));
    assert_eq!(aggs[6]["value"], json!({"new": 2, "sale": 2, "premium": 1}));
}

#[test]
fn query_aggregations_cover_all_rows_of_matching_groups() {
    let r = run(
        &users(),
        json!({"query": {"conditions": [{"filter": ["event", "==", "buy"]}],
                          "aggregations": [{"column": "event", "type": "countPerValue"}]}}),
    );
    assert_eq!(r["query"]["matchingGroupRows"], json!(4));
    assert_eq!(r["query"]["aggregations"][0]["value"], json!({"buy": 3, "view": 1}));
}

#[test]
fn timeframe_drops_rows_first() {
    let r = run(&users(), json!({"timeframe": {"from": 2, "to": 6}}));
    assert_eq!(r["query"]["matchingGroups"], json!(3));
    assert_eq!(r["query"]["matchingGroupRows"], json!(4));
    let r = run(&users(), json!({"timeframe": {"to": 2}}));
    assert_eq!(r["query"]["matchingGroupRows"], json!(2));
}

#[test]
fn empty_query_counts_everything() {
    let r = run(&users(), json!({}));
    assert_eq!(
        r,
        json!({"query": {"matchingGroups": 4, "matchingGroupRows": 7, "aggregations": null}, "funnel": null})
    );
}

/// `users()` with `device` dictionary-encoded (nulls kept as null keys).
fn users_dictionary_device() -> RecordBatch {
    let b = users();
    let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    let mut fields: Vec<Field> = b.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
    let mut cols = b.columns().to_vec();
    let i = b.schema().index_of("device").unwrap();
    cols[i] = arrow::compute::cast(&cols[i], &dict).unwrap();
    fields[i] = Field::new("device", dict, true);
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap()
}

#[test]
fn sequence_steps_on_a_dictionary_column_match_as_on_plain_strings() {
    // Steps all on `device` are read off its dictionary (one lookup per row); null cells match
    // the negated operators only, in sequences as in filters.
    let plain = users();
    let dict = users_dictionary_device();
    let queries = [
        json!([{"filter": ["device", "==", "mobile"]}, {"filter": ["device", "!=", "mobile"]}]),
        json!([{"filter": ["device", "not contains", "o"]}]),
        json!([{"filter": ["device", "contains", "o"]}, {"filter": ["device", "==", "mobile"], "rowFound": false}]),
        json!([{"filter": ["device", "!=", "tv"]}, {"filter": ["device", "==", "tv"], "rowFound": false},
               {"filter": ["device", "regex", "^m"]}]),
    ];
    let expected = [1, 3, 2, 1];
    for (seq, want) in queries.iter().zip(expected) {
        let q = json!({"query": {"conditions": [{"sequence": seq}]},
                       "funnel": {"sequence": seq}});
        let (a, b) = (run(&plain, q.clone()), run(&dict, q));
        assert_eq!(a, b, "sequence {seq}");
        assert_eq!(a["query"]["matchingGroups"], want, "sequence {seq}");
    }
}

/// A batch of (uid, ts, event, qty) with an INT column `qty`.
fn int_batch(rows: &[(i64, i64, &str, Option<i64>)]) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("uid", DataType::Int64, false),
        Field::new("ts", DataType::Int64, false),
        Field::new("event", DataType::Utf8, false),
        Field::new("qty", DataType::Int64, true),
    ]));
    let cols: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(rows.iter().map(|r| r.0).collect::<Vec<_>>())),
        Arc::new(Int64Array::from(rows.iter().map(|r| r.1).collect::<Vec<_>>())),
        Arc::new(StringArray::from(rows.iter().map(|r| r.2).collect::<Vec<_>>())),
        Arc::new(Int64Array::from(rows.iter().map(|r| r.3).collect::<Vec<_>>())),
    ];
    RecordBatch::try_new(schema, cols).unwrap()
}

/// `sumPerValue` / `meanPerValue` over INT columns are exact: partial sums beyond 64 bits do
/// not wrap, a mean of huge values is right, and a final sum that does not fit a 64-bit
/// integer is an error naming the aggregation — in one part and across parts.
#[test]
fn int_sums_are_exact_or_an_error_naming_the_aggregation() {
    const BIG: i64 = i64::MAX;
    let q = |t: &str| json!({"query": {"aggregations": [{"column": "event", "type": t, "otherColumn": "qty", "name": "units"}]}});
    let run_parts = |parts: &[RecordBatch], q: Value| {
        let schema = DatasetSchema::from_arrow(&parts[0].schema(), "uid", "ts").unwrap();
        let q = validate_query(&q.to_string(), &schema, 10).unwrap();
        let partials = parts
            .iter()
            .map(|b| run_batch("test", b, &q, &ExecOptions::default()).unwrap());
        PartialResult::merge_all(partials).unwrap().finish(&q)
    };
    // Rows of "a" sum past i64::MAX on the way and come back: exact.
    let through = int_batch(&[
        (1, 1, "a", Some(BIG)),
        (1, 2, "a", Some(BIG)),
        (2, 3, "a", Some(-BIG)),
        (2, 4, "a", Some(-BIG + 7)),
    ]);
    let r = serde_json::to_value(run_parts(std::slice::from_ref(&through), q("sumPerValue")).unwrap()).unwrap();
    assert_eq!(r["query"]["aggregations"][0]["value"], json!({"a": 7}));
    // The mean of two i64::MAX is i64::MAX (wrapping gave -1).
    let twice = int_batch(&[(1, 1, "a", Some(BIG)), (2, 2, "a", Some(BIG))]);
    let r = serde_json::to_value(run_parts(std::slice::from_ref(&twice), q("meanPerValue")).unwrap()).unwrap();
    assert_eq!(r["query"]["aggregations"][0]["value"]["a"].as_f64(), Some(BIG as f64));
    // A sum beyond 64 bits: an error naming the aggregation, in one part…
    let e = run_parts(std::slice::from_ref(&twice), q("sumPerValue"))
        .unwrap_err()
        .to_string();
    for f in [
        "sumPerValue",
        "'qty'",
        "'event'",
        "'units'",
        "'a'",
        "18446744073709551614",
    ] {
        assert!(e.contains(f), "{f} not in: {e}");
    }
    // …and when each part fits but their total does not.
    let one = int_batch(&[(1, 1, "a", Some(BIG))]);
    let other = int_batch(&[(2, 1, "a", Some(1))]);
    let e = run_parts(&[one.clone(), other], q("sumPerValue"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("beyond a 64-bit integer"), "{e}");
    // Partials travel as JSON between workers and the invoker: 128-bit sums survive it.
    let schema = DatasetSchema::from_arrow(&one.schema(), "uid", "ts").unwrap();
    let vq = validate_query(&q("sumPerValue").to_string(), &schema, 10).unwrap();
    let p = run_batch("test", &twice, &vq, &ExecOptions::default()).unwrap();
    let back: PartialResult = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
    assert_eq!(back, p);
}

// ---------------------------------------------------------------- sequence options

fn within(e: &str, n: i64) -> Value {
    json!({"filter": ["event", "==", e], "within": n})
}

/// Groups reaching each step of a funnel given as its JSON object, over `rows`.
fn funnel_counts(rows: &[Row<'_>], f: Value) -> Vec<u64> {
    let r = run(&batch(rows), json!({ "funnel": f }));
    r["funnel"]["sequence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["matchingGroups"].as_u64().unwrap())
        .collect()
}

#[test]
fn within_limits_the_time_from_the_previous_step() {
    // The spec's example: A@0 B@1 B@4 C@9, B within 5 of A and C within 5 of B: through B@4.
    let evts = [(0, "A"), (1, "B"), (4, "B"), (9, "C")];
    assert!(seq_matches(
        &evts,
        vec![step("A"), within("B", 5), within("C", 5)],
        None
    ));
    assert!(!seq_matches(
        &evts,
        vec![step("A"), within("B", 5), within("C", 4)],
        None
    ));
    // Bounds are inclusive; timestamps still strictly increase (within 0 never matches).
    assert!(seq_matches(
        &[(0, "A"), (5, "B")],
        vec![step("A"), within("B", 5)],
        None
    ));
    assert!(!seq_matches(
        &[(0, "A"), (0, "B")],
        vec![step("A"), within("B", 0)],
        None
    ));
    // With maxDuration both hold: A@0 B@4 C@9 within 5 each, but the chain lasts 9.
    let evts = [(0, "A"), (4, "B"), (9, "C")];
    let steps = || vec![step("A"), within("B", 5), within("C", 5)];
    assert!(seq_matches(&evts, steps(), Some(9)));
    assert!(!seq_matches(&evts, steps(), Some(8)));
    // A funnel reports the steps reached under the limits.
    assert_eq!(funnel(&[(0, "A"), (7, "B"), (8, "C")], steps(), None), vec![1, 0, 0]);
}

#[test]
fn strict_order_allows_no_row_between_the_steps() {
    let strict = |evts: &[(i64, &'static str)]| {
        let c = json!({"sequence": [step("A"), step("B")], "order": "strict"});
        run(&events(evts), json!({"query": {"conditions": [c]}}))["query"]["matchingGroups"] == json!(1)
    };
    assert!(strict(&[(1, "A"), (2, "B")]));
    assert!(!strict(&[(1, "A"), (2, "X"), (3, "B")]));
    // A row sharing a timestamp with either end is not between them.
    assert!(strict(&[(1, "A"), (1, "X"), (3, "X"), (3, "B")]));
    // Another A just before B makes its own strict chain.
    assert!(strict(&[(1, "A"), (2, "X"), (3, "A"), (4, "B")]));
    // Rows before the first or after the last chain row are unconstrained.
    assert!(strict(&[(0, "X"), (1, "A"), (2, "B"), (3, "X")]));
    // "ordered" is the default.
    let c = json!({"sequence": [step("A"), step("B")], "order": "ordered"});
    let r = run(
        &events(&[(1, "A"), (2, "X"), (3, "B")]),
        json!({"query": {"conditions": [c]}}),
    );
    assert_eq!(r["query"]["matchingGroups"], json!(1));
}

#[test]
fn hold_constant_chains_the_rows_of_one_value() {
    // Device as the held property: view on mobile, cart on desktop, purchase on mobile.
    let rows: Vec<Row<'_>> = vec![
        (1, 1, "view", Some("mobile"), None, None),
        (1, 2, "cart", Some("desktop"), None, None),
        (1, 3, "buy", Some("mobile"), None, None),
        (1, 4, "cart", None, None, None),
        (1, 5, "buy", None, None, None),
    ];
    let steps = json!([step("view"), step("cart"), step("buy")]);
    assert_eq!(funnel_counts(&rows, json!({"sequence": steps})), vec![1, 1, 1]);
    // Held: no value has view, cart, buy; nulls join no chain.
    assert_eq!(
        funnel_counts(&rows, json!({"sequence": steps, "holdConstant": ["device"]})),
        vec![1, 0, 0]
    );
    // A negative step is judged on the held value's rows only ("no view between cart and
    // purchase in the same session"): a view on desktop does not block the mobile chain.
    let rows: Vec<Row<'_>> = vec![
        (1, 1, "cart", Some("mobile"), None, None),
        (1, 2, "view", Some("desktop"), None, None),
        (1, 3, "buy", Some("mobile"), None, None),
    ];
    let f = json!({"sequence": [step("cart"), not_step("view"), step("buy")], "holdConstant": ["device"]});
    assert_eq!(funnel_counts(&rows, f), vec![1, 1]);
    let f = json!({"sequence": [step("cart"), not_step("view"), step("buy")]});
    assert_eq!(funnel_counts(&rows, f), vec![1, 0]);
    // Strict order too: the desktop row is not between mobile rows.
    let f = json!({"sequence": [step("cart"), step("buy")], "holdConstant": ["device"], "order": "strict"});
    assert_eq!(funnel_counts(&rows, f), vec![1, 1]);
    // A funnel step still reports all rows of the groups that reached it.
    let r = run(
        &batch(&rows),
        json!({"funnel": {"sequence": [step("cart"), step("buy")], "holdConstant": ["device"]}}),
    );
    assert_eq!(r["funnel"]["sequence"][1]["matchingGroupRows"], json!(3));
}

#[test]
fn conversion_time_is_the_first_conversion_per_step() {
    // User 1: A@0 A@10 B@12 C@20; user 2: A@5 B@6; user 3: A@1 only.
    let rows: Vec<Row<'_>> = vec![
        (1, 0, "A", None, None, None),
        (1, 10, "A", None, None, None),
        (1, 12, "B", None, None, None),
        (1, 20, "C", None, None, None),
        (2, 5, "A", None, None, None),
        (2, 6, "B", None, None, None),
        (3, 1, "A", None, None, None),
    ];
    let f = json!({"sequence": [step("A"), step("B"), step("C")], "conversionTime": {"bins": [5, 15]}});
    let r = run(&batch(&rows), json!({ "funnel": f }));
    let steps = &r["funnel"]["sequence"];
    assert_eq!(steps[0]["conversionTime"], Value::Null);
    // Step 1: user 1 converts from A@0 (the earliest start) in 12, user 2 in 1.
    let ct = &steps[1]["conversionTime"];
    assert_eq!(ct["groups"], json!(2));
    assert_eq!((ct["min"].clone(), ct["max"].clone()), (json!(1), json!(12)));
    assert_eq!(ct["mean"], json!(6.5));
    assert_eq!((ct["p50"].clone(), ct["p90"].clone()), (json!(1), json!(12)));
    assert_eq!(ct["relativeError"], json!(0.01));
    assert_eq!(
        ct["histogram"],
        json!([{"lessThan": 5, "groups": 1}, {"lessThan": 15, "groups": 1}, {"lessThan": null, "groups": 0}])
    );
    // Step 2: only user 1, in 20.
    assert_eq!(steps[2]["conversionTime"]["groups"], json!(1));
    assert_eq!(steps[2]["conversionTime"]["p99"], json!(20));
    // With B within 5 of A, user 1's first conversion starts at A@10: 2.
    let f = json!({"sequence": [step("A"), within("B", 5)], "conversionTime": true});
    let r = run(&batch(&rows), json!({ "funnel": f }));
    let ct = &r["funnel"]["sequence"][1]["conversionTime"];
    assert_eq!((ct["min"].clone(), ct["max"].clone()), (json!(1), json!(2)));
    assert!(ct.get("histogram").is_none());
    // With no group reaching a step: nulls and zero counts.
    let f = json!({"sequence": [step("A"), step("Z")], "conversionTime": {"bins": [5]}});
    let r = run(&batch(&rows), json!({ "funnel": f }));
    let ct = &r["funnel"]["sequence"][1]["conversionTime"];
    assert_eq!(ct["groups"], json!(0));
    assert_eq!(
        (ct["min"].clone(), ct["p50"].clone(), ct["mean"].clone()),
        (Value::Null, Value::Null, Value::Null)
    );
    assert_eq!(
        ct["histogram"],
        json!([{"lessThan": 5, "groups": 0}, {"lessThan": null, "groups": 0}])
    );
    // Without the option the key is absent.
    let r = run(&batch(&rows), json!({"funnel": {"sequence": [step("A"), step("B")]}}));
    assert!(r["funnel"]["sequence"][1].get("conversionTime").is_none());
}
