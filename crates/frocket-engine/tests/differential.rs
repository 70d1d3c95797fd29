//! Differential test: the engine (Parquet parts → partials → merge) against a deliberately
//! simple row-by-row reference evaluator written from the spec, on random small datasets
//! and random valid queries, across random splits into parts.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, DictionaryArray, Float64Array, Int64Array, ListBuilder, RecordBatch, StringArray,
    StringBuilder,
};
use arrow::datatypes::{DataType, Field, Int32Type, Schema};
use bytes::Bytes;
use frocket_engine::{run_part, validate_value, DatasetSchema, ExecOptions, PartialResult, ValidatedQuery};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use proptest::prelude::*;
use serde_json::{json, Value};

// ---------------------------------------------------------------- data

#[derive(Debug, Clone)]
struct Row {
    uid: i64,
    ts: i64,
    event: String,
    device: Option<String>,
    price: Option<f64>,
    qty: Option<i64>,
    flag: Option<bool>,
    tags: Option<Vec<String>>,
}

#[derive(Debug, Clone)]
struct Dataset {
    rows: Vec<Row>,
    /// Part of each user (uid → part index).
    parts: usize,
    part_of: BTreeMap<i64, usize>,
    dict_event: bool,
    row_group_size: usize,
}

fn opt<T: std::fmt::Debug + Clone + 'static>(s: impl Strategy<Value = T> + 'static) -> BoxedStrategy<Option<T>> {
    prop_oneof![1 => Just(None), 4 => s.prop_map(Some)].boxed()
}

fn row_strategy(uid: i64) -> impl Strategy<Value = Row> {
    (
        0i64..12,
        prop::sample::select(vec!["A", "B", "C", "D"]),
        opt(prop::sample::select(vec!["x", "y", "zz"])),
        opt(prop::sample::select(vec![1.0, 2.5, 10.0, -4.0])),
        opt(0i64..5),
        opt(any::<bool>()),
        opt(prop::collection::vec(prop::sample::select(vec!["p", "q", "r"]), 0..3)),
    )
        .prop_map(move |(ts, e, d, p, q, f, t)| Row {
            uid,
            ts,
            event: e.to_string(),
            device: d.map(str::to_string),
            price: p,
            qty: q,
            flag: f,
            tags: t.map(|v| v.into_iter().map(str::to_string).collect()),
        })
}

fn dataset_strategy() -> impl Strategy<Value = Dataset> {
    (1usize..7, 1usize..4, any::<bool>(), 2usize..40)
        .prop_flat_map(|(users, parts, dict_event, row_group_size)| {
            let user_rows: Vec<_> = (0..users)
                .map(|u| prop::collection::vec(row_strategy(100 + u as i64 * 7), 1..9))
                .collect();
            (
                user_rows,
                prop::collection::vec(0..parts, users),
                Just(parts),
                Just(dict_event),
                Just(row_group_size),
            )
        })
        .prop_flat_map(|(user_rows, assign, parts, dict_event, rgs)| {
            let mut rows: Vec<Row> = user_rows.into_iter().flatten().collect();
            let part_of: BTreeMap<i64, usize> = assign
                .iter()
                .enumerate()
                .map(|(u, p)| (100 + u as i64 * 7, *p))
                .collect();
            let n = rows.len();
            let uids: Vec<i64> = rows.iter().map(|r| r.uid).collect();
            // Shuffle rows: neither users nor times are contiguous in a part; or (half the
            // cases) users contiguous, as parts written user by user are, times still shuffled.
            (
                Just(()),
                Just(parts),
                Just(part_of),
                Just(dict_event),
                Just(rgs),
                Just(std::mem::take(&mut rows)),
            )
                .prop_flat_map(move |t| {
                    let uids = uids.clone();
                    (
                        Just(t),
                        Just(()).prop_perturb(move |_, mut rng| {
                            let mut idx: Vec<usize> = (0..n).collect();
                            for i in (1..n).rev() {
                                let j = (rng.next_u32() as usize) % (i + 1);
                                idx.swap(i, j);
                            }
                            if rng.next_u32() % 2 == 0 {
                                idx.sort_by_key(|&i| uids[i]); // stable: times stay shuffled
                            }
                            idx
                        }),
                    )
                })
        })
        .prop_map(|((_, parts, part_of, dict_event, rgs, rows), perm)| Dataset {
            rows: perm.into_iter().map(|i| rows[i].clone()).collect(),
            parts,
            part_of,
            dict_event,
            row_group_size: rgs,
        })
}

fn arrow_schema(dict_event: bool) -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("uid", DataType::Int64, false),
        Field::new("ts", DataType::Int64, false),
        Field::new(
            "event",
            if dict_event {
                DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
            } else {
                DataType::Utf8
            },
            false,
        ),
        Field::new("device", DataType::Utf8, true),
        Field::new("price", DataType::Float64, true),
        Field::new("qty", DataType::Int64, true),
        Field::new("flag", DataType::Boolean, true),
        Field::new(
            "tags",
            DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true))),
            true,
        ),
    ]))
}

fn to_batch(rows: &[&Row], dict_event: bool) -> RecordBatch {
    let mut tags = ListBuilder::new(StringBuilder::new());
    for r in rows {
        match &r.tags {
            Some(t) => {
                for s in t {
                    tags.values().append_value(s);
                }
                tags.append(true);
            }
            None => tags.append(false),
        }
    }
    let event: ArrayRef = if dict_event {
        Arc::new(
            rows.iter()
                .map(|r| r.event.as_str())
                .collect::<DictionaryArray<Int32Type>>(),
        )
    } else {
        Arc::new(StringArray::from(
            rows.iter().map(|r| r.event.as_str()).collect::<Vec<_>>(),
        ))
    };
    RecordBatch::try_new(
        arrow_schema(dict_event),
        vec![
            Arc::new(Int64Array::from(rows.iter().map(|r| r.uid).collect::<Vec<_>>())),
            Arc::new(Int64Array::from(rows.iter().map(|r| r.ts).collect::<Vec<_>>())),
            event,
            Arc::new(StringArray::from(
                rows.iter().map(|r| r.device.clone()).collect::<Vec<_>>(),
            )),
            Arc::new(Float64Array::from(rows.iter().map(|r| r.price).collect::<Vec<_>>())),
            Arc::new(Int64Array::from(rows.iter().map(|r| r.qty).collect::<Vec<_>>())),
            Arc::new(BooleanArray::from(rows.iter().map(|r| r.flag).collect::<Vec<_>>())),
            Arc::new(tags.finish()),
        ],
    )
    .unwrap()
}

fn parquet_parts(ds: &Dataset) -> Vec<Bytes> {
    (0..ds.parts)
        .map(|p| {
            let rows: Vec<&Row> = ds.rows.iter().filter(|r| ds.part_of[&r.uid] == p).collect();
            let batch = to_batch(&rows, ds.dict_event);
            let props = WriterProperties::builder()
                .set_max_row_group_row_count(Some(ds.row_group_size))
                // Plain strings in one layout, dictionary pages in the other.
                .set_dictionary_enabled(ds.dict_event)
                .build();
            let mut buf = Vec::new();
            let mut w = ArrowWriter::try_new(&mut buf, batch.schema(), Some(props)).unwrap();
            w.write(&batch).unwrap();
            w.close().unwrap();
            Bytes::from(buf)
        })
        .collect()
}

// ---------------------------------------------------------------- queries

fn filter_strategy() -> BoxedStrategy<Value> {
    let cmp = || prop::sample::select(vec!["==", "!=", ">", ">=", "<", "<="]);
    prop_oneof![
        (cmp(), prop::sample::select(vec!["A", "B", "C", "D", "E"])).prop_map(|(o, v)| json!(["event", o, v])),
        (
            prop::sample::select(vec!["==", "!=", "contains", "not contains", "regex", ">"]),
            prop::sample::select(vec!["x", "z", "^z+$", "y"])
        )
            .prop_map(|(o, v)| json!(["device", o, v])),
        (cmp(), prop::sample::select(vec![1.0, 2.5, 3.0, -4.0]))
            .prop_map(|(o, v)| json!({"column": "price", "op": o, "value": v})),
        (cmp(), 0i64..5).prop_map(|(o, v)| json!(["qty", o, v])),
        (prop::sample::select(vec!["==", "!="]), any::<bool>()).prop_map(|(o, v)| json!(["flag", o, v])),
        (
            prop::sample::select(vec!["includes", "not includes"]),
            prop::sample::select(vec!["p", "q", "s"])
        )
            .prop_map(|(o, v)| json!(["tags", o, v])),
        (cmp(), 0i64..12).prop_map(|(o, v)| json!(["ts", o, v])),
    ]
    .boxed()
}

fn filters_value() -> BoxedStrategy<(String, Value)> {
    prop_oneof![
        filter_strategy().prop_map(|f| ("filter".to_string(), f)),
        prop::collection::vec(filter_strategy(), 1..3).prop_map(|fs| ("filters".to_string(), json!(fs))),
    ]
    .boxed()
}

/// A sequence with its options, as the object that holds them (a sequence condition or the
/// funnel): `sequence`, and maybe `maxDuration`, `holdConstant`, `order`; steps after the
/// first positive one maybe with `within`.
fn sequence_strategy() -> BoxedStrategy<Value> {
    (
        // Each option in about a third of the cases, so that plain sequences (the fast paths)
        // and every combination come up.
        prop::collection::vec(
            (
                filters_value(),
                prop::bool::weighted(0.6),
                prop::option::weighted(0.35, 0i64..7),
            ),
            1..5,
        ),
        prop::option::weighted(0.4, 1i64..7),
        prop::option::weighted(
            0.35,
            prop::sample::select(vec![
                vec!["device"],
                vec!["qty"],
                vec!["flag"],
                vec!["event"],
                vec!["device", "flag"],
                vec!["qty", "event"],
            ]),
        ),
        prop::sample::select(vec![None, None, Some("ordered"), Some("strict")]),
    )
        .prop_map(|(steps, d, hold, order)| {
            let any_positive = steps.iter().any(|(_, pos, _)| *pos);
            let mut seen_positive = false;
            let steps: Vec<Value> = steps
                .into_iter()
                .enumerate()
                .map(|(i, ((k, f), pos, within))| {
                    // At least one positive step: the first, if none is.
                    let pos = pos || (!any_positive && i == 0);
                    let mut s = json!({ k: f });
                    if !pos {
                        s["rowFound"] = json!(false);
                    } else {
                        if let (true, Some(w)) = (seen_positive, within) {
                            s["within"] = json!(w);
                        }
                        seen_positive = true;
                    }
                    s
                })
                .collect();
            let mut o = json!({"sequence": steps});
            if let Some(d) = d {
                o["maxDuration"] = json!(d);
            }
            if let Some(h) = hold {
                o["holdConstant"] = json!(h);
            }
            if let Some(ord) = order {
                o["order"] = json!(ord);
            }
            o
        })
        .boxed()
}

fn condition_strategy() -> BoxedStrategy<Value> {
    let count_target = (
        prop::sample::select(vec!["==", "!=", ">", ">=", "<", "<="]),
        0i64..4,
        any::<bool>(),
    );
    prop_oneof![
        3 => (filters_value(), count_target, any::<bool>()).prop_map(|((k, f), (op, v, iz), verbose)| {
            let mut c = json!({ k: f });
            let admits_zero = cmp(op, &0, &v);
            let zero_only = admits_zero && (1..6).all(|n| !cmp(op, &n, &v));
            let never = !(0..6).any(|n| cmp(op, &n, &v));
            if !never {
                c["target"] = if verbose { json!({"type": "count", "op": op, "value": v}) } else { json!(["count", op, v]) };
                if iz && admits_zero && !zero_only {
                    c["includeZero"] = json!(true);
                }
            }
            c
        }),
        1 => (filters_value(), prop::sample::select(vec!["price", "qty"]), prop::sample::select(vec![">", "<", ">=", "=="]), -4i64..12)
            .prop_map(|((k, f), col, op, v)| json!({ k: f, "target": ["sum", col, op, v] })),
        2 => sequence_strategy(),
    ]
    .boxed()
}

fn relation_strategy(n: usize) -> BoxedStrategy<Option<String>> {
    if n == 0 {
        return Just(None).boxed();
    }
    let leaf = (0..n).prop_map(|i| format!("${i}")).boxed();
    let expr = leaf.prop_recursive(3, 8, 2, |inner| {
        prop_oneof![
            (
                inner.clone(),
                inner.clone(),
                prop::sample::select(vec!["and", "or", "&&", "||", "AND"])
            )
                .prop_map(|(a, b, op)| format!("({a} {op} {b})")),
            inner.prop_map(|a| format!("not {a}")),
        ]
    });
    prop_oneof![
        Just(None),
        Just(Some("or".to_string())),
        Just(Some("and".to_string())),
        expr.prop_map(Some),
    ]
    .boxed()
}

fn aggregation_strategy() -> BoxedStrategy<Value> {
    let col = prop::sample::select(vec!["event", "device", "price", "qty", "flag", "tags"]);
    prop_oneof![
        (col.clone(), opt(1i64..4)).prop_map(|(c, top)| {
            let mut a = json!({"column": c});
            if let Some(t) = top {
                a["top"] = json!(t);
            }
            a
        }),
        (
            col.clone(),
            prop::sample::select(vec!["count", "countPerValue", "groupsPerValue"]),
            opt(1i64..4)
        )
            .prop_map(|(c, t, top)| {
                let mut a = json!({"column": c, "type": t});
                if let Some(t) = top {
                    a["top"] = json!(t);
                }
                a
            }),
        (
            col,
            prop::sample::select(vec!["sumPerValue", "meanPerValue"]),
            prop::sample::select(vec!["price", "qty"])
        )
            .prop_map(|(c, t, o)| json!({"column": c, "type": t, "otherColumn": o})),
    ]
    .boxed()
}

fn query_strategy() -> impl Strategy<Value = Value> {
    (
        opt((opt(0i64..6), opt(1i64..9))),
        prop::collection::vec(condition_strategy(), 0..4),
        prop::collection::vec(aggregation_strategy(), 0..3),
        opt((
            sequence_strategy(),
            prop::collection::vec(aggregation_strategy(), 0..2),
            prop::collection::vec(aggregation_strategy(), 0..2),
            prop_oneof![
                2 => Just(None),
                1 => Just(Some(json!(true))),
                1 => prop::collection::btree_set(1i64..12, 1..4).prop_map(|b| Some(json!({"bins": b}))),
            ],
        )),
    )
        .prop_flat_map(|(tf, conds, aggs, funnel)| {
            let n = conds.len();
            (Just((tf, conds, aggs, funnel)), relation_strategy(n))
        })
        .prop_map(|((tf, conds, aggs, funnel), relation)| {
            let mut q = json!({});
            if let Some((from, to)) = tf {
                let mut t = json!({});
                if let Some(f) = from {
                    t["from"] = json!(f);
                }
                if let Some(x) = to {
                    t["to"] = json!(from.unwrap_or(0) + x);
                }
                q["timeframe"] = t;
            }
            if !conds.is_empty() || !aggs.is_empty() {
                let mut query = json!({});
                if !conds.is_empty() {
                    query["conditions"] = json!(conds);
                }
                if !aggs.is_empty() {
                    query["aggregations"] = json!(aggs);
                }
                if let Some(r) = relation {
                    query["relation"] = json!(r);
                }
                q["query"] = query;
            }
            if let Some((mut f, step, end, conversion)) = funnel {
                if let Some(c) = conversion {
                    f["conversionTime"] = c;
                }
                if !step.is_empty() {
                    f["stepAggregations"] = json!(step);
                }
                if !end.is_empty() {
                    f["endAggregations"] = json!(end);
                }
                q["funnel"] = f;
            }
            q
        })
}

// ---------------------------------------------------------------- reference evaluator
//
// Written from the spec over the query's JSON, independent of the engine: it does not use the
// engine's validation, filter comparison or relation evaluation, so that a bug there cannot
// hide on both sides. Chains are found by brute force over every choice of rows.

/// `a op b`, written out.
fn cmp<T: PartialOrd + ?Sized>(op: &str, a: &T, b: &T) -> bool {
    match op {
        "==" => a == b,
        "!=" => a != b,
        ">" => a > b,
        ">=" => a >= b,
        "<" => a < b,
        "<=" => a <= b,
        other => panic!("reference: unknown comparison {other}"),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Null,
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
    List(Vec<String>),
}

fn cell(r: &Row, col: &str) -> Cell {
    match col {
        "uid" => Cell::Int(r.uid),
        "ts" => Cell::Int(r.ts),
        "event" => Cell::Str(r.event.clone()),
        "device" => r.device.clone().map_or(Cell::Null, Cell::Str),
        "price" => r.price.map_or(Cell::Null, Cell::Float),
        "qty" => r.qty.map_or(Cell::Null, Cell::Int),
        "flag" => r.flag.map_or(Cell::Null, Cell::Bool),
        "tags" => r.tags.clone().map_or(Cell::Null, Cell::List),
        other => panic!("unknown column {other}"),
    }
}

/// A filter as written: shorthand `[column, op, value]` or verbose.
#[derive(Debug, Clone)]
struct RFilter {
    column: String,
    op: String,
    value: Value,
}

fn rfilter(v: &Value) -> RFilter {
    match v {
        Value::Array(a) => RFilter {
            column: a[0].as_str().unwrap().to_string(),
            op: a[1].as_str().unwrap().to_string(),
            value: a[2].clone(),
        },
        o => RFilter {
            column: o["column"].as_str().unwrap().to_string(),
            op: o["op"].as_str().unwrap().to_string(),
            value: o["value"].clone(),
        },
    }
}

/// The filters of a condition or step: `filter` or `filters`.
fn rfilters(m: &Value) -> Vec<RFilter> {
    match (m.get("filter"), m.get("filters")) {
        (Some(f), _) => vec![rfilter(f)],
        (_, Some(Value::Array(fs))) => fs.iter().map(rfilter).collect(),
        _ => panic!("reference: no filter in {m}"),
    }
}

fn matches(r: &Row, f: &RFilter) -> bool {
    let c = cell(r, &f.column);
    let op = f.op.as_str();
    if c == Cell::Null {
        return matches!(op, "!=" | "not contains" | "not includes");
    }
    match (&c, op, &f.value) {
        (Cell::Str(a), "contains", Value::String(b)) => a.contains(b.as_str()),
        (Cell::Str(a), "not contains", Value::String(b)) => !a.contains(b.as_str()),
        (Cell::Str(a), "regex", Value::String(b)) => regex::Regex::new(b).unwrap().is_match(a),
        (Cell::Str(a), _, Value::String(b)) => cmp(op, a.as_bytes(), b.as_bytes()),
        (Cell::List(a), "includes", Value::String(b)) => a.contains(b),
        (Cell::List(a), "not includes", Value::String(b)) => !a.contains(b),
        (Cell::Int(a), _, Value::Number(b)) => cmp(op, a, &b.as_i64().unwrap()),
        (Cell::Float(a), _, Value::Number(b)) => cmp(op, a, &b.as_f64().unwrap()),
        (Cell::Bool(a), _, Value::Bool(b)) => cmp(op, a, b),
        other => panic!("reference cannot evaluate {other:?}"),
    }
}

fn matches_all(r: &Row, fs: &[RFilter]) -> bool {
    fs.iter().all(|f| matches(r, f))
}

/// A sequence condition or funnel as written.
#[derive(Debug, Clone)]
struct RSeq {
    /// Positive steps' filters, with `within` (none for the first).
    positives: Vec<(Vec<RFilter>, Option<f64>)>,
    /// The negative steps before each positive step (`before[m]`: trailing ones).
    before: Vec<Vec<Vec<RFilter>>>,
    max_duration: Option<f64>,
    hold: Vec<String>,
    strict: bool,
}

fn rseq(m: &Value) -> RSeq {
    let mut positives = vec![];
    let mut before = vec![vec![]];
    for s in m["sequence"].as_array().unwrap() {
        let fs = rfilters(s);
        if s.get("rowFound") == Some(&json!(false)) {
            before.last_mut().unwrap().push(fs);
        } else {
            positives.push((fs, s.get("within").and_then(Value::as_f64)));
            before.push(vec![]);
        }
    }
    RSeq {
        positives,
        before,
        max_duration: m.get("maxDuration").and_then(Value::as_f64),
        hold: m
            .get("holdConstant")
            .and_then(Value::as_array)
            .map(|a| a.iter().map(|c| c.as_str().unwrap().to_string()).collect())
            .unwrap_or_default(),
        strict: m.get("order") == Some(&json!("strict")),
    }
}

/// Every valid chain of `rows` (one held value's rows, or the group's) reaching positive step
/// `k`: each one's (first time, step-`k` time).
fn chains(rows: &[&Row], seq: &RSeq, k: usize) -> Vec<(i64, i64)> {
    let m = seq.positives.len();
    let neg_hit = |r: &Row, negs: &[Vec<RFilter>]| negs.iter().any(|fs| matches_all(r, fs));
    let mut out = vec![];
    let mut chain: Vec<i64> = vec![];
    fn go(
        rows: &[&Row],
        seq: &RSeq,
        k: usize,
        m: usize,
        chain: &mut Vec<i64>,
        out: &mut Vec<(i64, i64)>,
        neg_hit: &dyn Fn(&Row, &[Vec<RFilter>]) -> bool,
    ) {
        let i = chain.len();
        if i > k {
            let (t0, tk) = (chain[0], chain[k]);
            if seq.max_duration.is_some_and(|d| (tk - t0) as f64 > d) {
                return;
            }
            if k == m - 1 && !seq.before[m].is_empty() {
                let end = seq.max_duration.map(|d| t0 as f64 + d);
                if rows
                    .iter()
                    .any(|r| r.ts > tk && end.is_none_or(|e| r.ts as f64 <= e) && neg_hit(r, &seq.before[m]))
                {
                    return;
                }
            }
            out.push((t0, tk));
            return;
        }
        let mut tried = BTreeSet::new();
        for r in rows {
            if !matches_all(r, &seq.positives[i].0) || !tried.insert(r.ts) {
                continue;
            }
            if i == 0 {
                if rows.iter().any(|x| x.ts < r.ts && neg_hit(x, &seq.before[0])) {
                    continue;
                }
            } else {
                let prev = chain[i - 1];
                if r.ts <= prev {
                    continue;
                }
                if seq.positives[i].1.is_some_and(|w| (r.ts - prev) as f64 > w) {
                    continue;
                }
                if rows
                    .iter()
                    .any(|x| x.ts > prev && x.ts < r.ts && neg_hit(x, &seq.before[i]))
                {
                    continue;
                }
                if seq.strict && rows.iter().any(|x| x.ts > prev && x.ts < r.ts) {
                    continue;
                }
            }
            chain.push(r.ts);
            go(rows, seq, k, m, chain, out, neg_hit);
            chain.pop();
        }
    }
    go(rows, seq, k, m, &mut chain, &mut out, &neg_hit);
    out
}

/// The chains of a group reaching step `k`, every held value's rows taken alone.
fn group_chains(rows: &[&Row], seq: &RSeq, k: usize) -> Vec<(i64, i64)> {
    if seq.hold.is_empty() {
        return chains(rows, seq, k);
    }
    let mut by_value: BTreeMap<String, Vec<&Row>> = BTreeMap::new();
    for r in rows {
        let cells: Vec<Cell> = seq.hold.iter().map(|c| cell(r, c)).collect();
        if cells.contains(&Cell::Null) {
            continue;
        }
        by_value.entry(format!("{cells:?}")).or_default().push(r);
    }
    by_value.values().flat_map(|v| chains(v, seq, k)).collect()
}

/// The default `includeZero` of a count target: true when only zero rows satisfy it.
fn zero_only(op: &str, v: i64) -> bool {
    cmp(op, &0, &v) && (1..100).all(|n| !cmp(op, &n, &v))
}

fn condition_holds(rows: &[&Row], c: &Value) -> bool {
    if c.get("sequence").is_some() {
        let seq = rseq(c);
        return !group_chains(rows, &seq, seq.positives.len() - 1).is_empty();
    }
    let filters = rfilters(c);
    let hit: Vec<&&Row> = rows.iter().filter(|r| matches_all(r, &filters)).collect();
    // (kind, column, op, value) of the target; default count >= 1.
    let (kind, column, op, value) = match c.get("target") {
        None => ("count".to_string(), None, ">=".to_string(), json!(1)),
        Some(Value::Array(a)) if a.len() == 3 => (
            a[0].as_str().unwrap().to_string(),
            None,
            a[1].as_str().unwrap().to_string(),
            a[2].clone(),
        ),
        Some(Value::Array(a)) => (
            a[0].as_str().unwrap().to_string(),
            Some(a[1].as_str().unwrap().to_string()),
            a[2].as_str().unwrap().to_string(),
            a[3].clone(),
        ),
        Some(o) => (
            o["type"].as_str().unwrap().to_string(),
            o.get("column").and_then(Value::as_str).map(str::to_string),
            o["op"].as_str().unwrap().to_string(),
            o["value"].clone(),
        ),
    };
    if kind == "count" {
        let v = value.as_i64().unwrap();
        let include_zero = c
            .get("includeZero")
            .and_then(Value::as_bool)
            .unwrap_or_else(|| zero_only(&op, v));
        return if hit.is_empty() {
            include_zero
        } else {
            cmp(&op, &(hit.len() as i64), &v)
        };
    }
    if hit.is_empty() {
        return false;
    }
    let column = column.unwrap();
    let (mut si, mut sf) = (0i128, 0f64);
    for r in &hit {
        match cell(r, &column) {
            Cell::Int(x) => si += x as i128,
            Cell::Float(x) => sf += x,
            _ => {}
        }
    }
    match (column.as_str(), value.as_i64()) {
        ("qty", Some(v)) => cmp(&op, &si, &(v as i128)),
        ("qty", None) => cmp(&op, &(si as f64), &value.as_f64().unwrap()),
        _ => cmp(&op, &sf, &value.as_f64().unwrap()),
    }
}

/// A relation expression: `$i`, `not` / `!`, `and` / `&&`, `or` / `||`, parentheses;
/// precedence not > and > or.
#[derive(Debug)]
enum Rel {
    Cond(usize),
    Not(Box<Rel>),
    And(Box<Rel>, Box<Rel>),
    Or(Box<Rel>, Box<Rel>),
}

fn parse_rel(text: &str) -> Rel {
    let spaced = text.replace('(', " ( ").replace(')', " ) ").replace('!', " ! ");
    let tokens: Vec<String> = spaced.split_whitespace().map(str::to_lowercase).collect();
    fn or(t: &[String], i: &mut usize) -> Rel {
        let mut a = and(t, i);
        while *i < t.len() && (t[*i] == "or" || t[*i] == "||") {
            *i += 1;
            a = Rel::Or(Box::new(a), Box::new(and(t, i)));
        }
        a
    }
    fn and(t: &[String], i: &mut usize) -> Rel {
        let mut a = not(t, i);
        while *i < t.len() && (t[*i] == "and" || t[*i] == "&&") {
            *i += 1;
            a = Rel::And(Box::new(a), Box::new(not(t, i)));
        }
        a
    }
    fn not(t: &[String], i: &mut usize) -> Rel {
        if t[*i] == "not" || t[*i] == "!" {
            *i += 1;
            return Rel::Not(Box::new(not(t, i)));
        }
        if t[*i] == "(" {
            *i += 1;
            let e = or(t, i);
            assert_eq!(t[*i], ")");
            *i += 1;
            return e;
        }
        let n = t[*i].strip_prefix('$').unwrap().parse().unwrap();
        *i += 1;
        Rel::Cond(n)
    }
    let mut i = 0;
    let e = or(&tokens, &mut i);
    assert_eq!(i, tokens.len(), "reference: trailing tokens in {text}");
    e
}

fn rel_holds(e: &Rel, vals: &[bool]) -> bool {
    match e {
        Rel::Cond(i) => vals[*i],
        Rel::Not(x) => !rel_holds(x, vals),
        Rel::And(a, b) => rel_holds(a, vals) && rel_holds(b, vals),
        Rel::Or(a, b) => rel_holds(a, vals) || rel_holds(b, vals),
    }
}

fn relation_holds(rel: Option<&str>, vals: &[bool]) -> bool {
    if vals.is_empty() {
        return true;
    }
    match rel.map(str::to_lowercase).as_deref() {
        None | Some("and") | Some("&&") => vals.iter().all(|v| *v),
        Some("or") | Some("||") => vals.iter().any(|v| *v),
        Some(e) => rel_holds(&parse_rel(e), vals),
    }
}

fn key_of(c: &Cell) -> Vec<String> {
    match c {
        Cell::Null => vec![],
        Cell::Int(i) => vec![i.to_string()],
        Cell::Float(f) => vec![if f.fract() == 0.0 {
            format!("{f:.1}")
        } else {
            format!("{f}")
        }],
        Cell::Bool(b) => vec![b.to_string()],
        Cell::Str(s) => vec![s.clone()],
        Cell::List(l) => l.iter().cloned().collect::<BTreeSet<_>>().into_iter().collect(),
    }
}

fn ordered(mut entries: Vec<(String, Value)>, top: usize) -> Value {
    entries.sort_by(|a, b| {
        b.1.as_f64()
            .unwrap()
            .total_cmp(&a.1.as_f64().unwrap())
            .then_with(|| a.0.cmp(&b.0))
    });
    entries.truncate(top);
    Value::Object(entries.into_iter().collect())
}

/// The aggregations of a list as written: one without `type` is count, countPerValue,
/// groupsPerValue; `top` defaults to 10 (none for count).
fn ref_aggs(groups: &BTreeMap<i64, Vec<&Row>>, selected: &BTreeSet<i64>, aggs: Option<&Value>) -> Value {
    let Some(aggs) = aggs.and_then(Value::as_array).filter(|a| !a.is_empty()) else {
        return Value::Null;
    };
    let rows: Vec<&Row> = groups
        .iter()
        .filter(|(g, _)| selected.contains(g))
        .flat_map(|(_, r)| r.iter().copied())
        .collect();
    let mut out: Vec<Value> = vec![];
    for a in aggs {
        let column = a["column"].as_str().unwrap();
        let types: Vec<&str> = match a.get("type").and_then(Value::as_str) {
            Some(t) => vec![t],
            None => vec!["count", "countPerValue", "groupsPerValue"],
        };
        for t in types {
            let top = (t != "count").then(|| a.get("top").and_then(Value::as_u64).unwrap_or(10) as usize);
            let limit = top.unwrap_or(usize::MAX);
            let value = match t {
                "count" => json!(rows.iter().filter(|r| cell(r, column) != Cell::Null).count()),
                "countPerValue" => {
                    let mut m: BTreeMap<String, u64> = BTreeMap::new();
                    for r in &rows {
                        for k in key_of(&cell(r, column)) {
                            *m.entry(k).or_default() += 1;
                        }
                    }
                    ordered(m.into_iter().map(|(k, v)| (k, json!(v))).collect(), limit)
                }
                "groupsPerValue" => {
                    let mut m: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
                    for r in &rows {
                        for k in key_of(&cell(r, column)) {
                            m.entry(k).or_default().insert(r.uid);
                        }
                    }
                    ordered(m.into_iter().map(|(k, v)| (k, json!(v.len()))).collect(), limit)
                }
                "sumPerValue" | "meanPerValue" => {
                    let other = a["otherColumn"].as_str().unwrap();
                    let mut m: BTreeMap<String, (i64, f64, u64)> = BTreeMap::new();
                    for r in &rows {
                        let o = cell(r, other);
                        for k in key_of(&cell(r, column)) {
                            let e = m.entry(k).or_default();
                            match o {
                                Cell::Int(x) => {
                                    e.0 += x;
                                    e.2 += 1
                                }
                                Cell::Float(x) => {
                                    e.1 += x;
                                    e.2 += 1
                                }
                                _ => {}
                            }
                        }
                    }
                    let int = other == "qty";
                    let entries: Vec<(String, Value)> = if t == "sumPerValue" {
                        m.into_iter()
                            .map(|(k, (i, f, _))| (k, if int { json!(i) } else { json!(f) }))
                            .collect()
                    } else {
                        m.into_iter()
                            .filter(|(_, e)| e.2 > 0)
                            .map(|(k, (i, f, c))| (k, json!(if int { i as f64 } else { f } / c as f64)))
                            .collect()
                    };
                    ordered(entries, limit)
                }
                other => panic!("reference: aggregation type {other}"),
            };
            out.push(json!({"column": column, "type": t, "value": value, "top": top, "name": a.get("name")}));
        }
    }
    Value::Array(out)
}

fn stage(groups: &BTreeMap<i64, Vec<&Row>>, selected: &BTreeSet<i64>, aggs: Option<&Value>) -> Value {
    json!({
        "matchingGroups": selected.len(),
        "matchingGroupRows": groups.iter().filter(|(g, _)| selected.contains(g)).map(|(_, r)| r.len()).sum::<usize>(),
        "aggregations": ref_aggs(groups, selected, aggs),
    })
}

/// The exact time-to-convert summary of `times` (percentiles at nearest rank).
fn conversion_summary(times: &mut [i64], bins: &[f64]) -> Value {
    times.sort();
    let n = times.len();
    let at = |p: f64| {
        let rank = (p * n as f64).ceil() as usize;
        times.get(rank.max(1) - 1).map_or(Value::Null, |v| json!(v))
    };
    let mut out = json!({
        "groups": n,
        "min": times.first(),
        "max": times.last(),
        "mean": (n > 0).then(|| times.iter().map(|&t| t as f64).sum::<f64>() / n as f64),
        "p50": at(0.5),
        "p90": at(0.9),
        "p99": at(0.99),
        "relativeError": 0.01,
    });
    if !bins.is_empty() {
        let mut hist = vec![];
        for (i, b) in bins.iter().enumerate() {
            let lo = if i == 0 { f64::NEG_INFINITY } else { bins[i - 1] };
            let count = times.iter().filter(|&&t| t as f64 >= lo && (t as f64) < *b).count();
            hist.push(json!({"lessThan": if b.fract() == 0.0 { json!(*b as i64) } else { json!(b) }, "groups": count}));
        }
        let last = bins[bins.len() - 1];
        hist.push(json!({"lessThan": null, "groups": times.iter().filter(|&&t| t as f64 >= last).count()}));
        out["histogram"] = json!(hist);
    }
    out
}

fn reference(ds: &Dataset, q: &Value) -> Value {
    let tf = q.get("timeframe");
    let from = tf.and_then(|t| t.get("from")).and_then(Value::as_f64);
    let to = tf.and_then(|t| t.get("to")).and_then(Value::as_f64);
    let inside = |r: &&Row| from.is_none_or(|f| r.ts as f64 >= f) && to.is_none_or(|t| (r.ts as f64) < t);
    let mut groups: BTreeMap<i64, Vec<&Row>> = BTreeMap::new();
    for r in ds.rows.iter().filter(inside) {
        groups.entry(r.uid).or_default().push(r);
    }
    let query = q.get("query");
    let conditions: Vec<Value> = query
        .and_then(|x| x.get("conditions"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let relation = query.and_then(|x| x.get("relation")).and_then(Value::as_str);
    let matching: BTreeSet<i64> = groups
        .iter()
        .filter(|(_, rows)| {
            let vals: Vec<bool> = conditions.iter().map(|c| condition_holds(rows, c)).collect();
            relation_holds(relation, &vals)
        })
        .map(|(g, _)| *g)
        .collect();
    let funnel = q.get("funnel").map(|f| {
        let seq = rseq(f);
        let bins: Option<Vec<f64>> = match f.get("conversionTime") {
            Some(Value::Bool(true)) => Some(vec![]),
            Some(Value::Object(o)) => Some(
                o["bins"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|b| b.as_f64().unwrap())
                    .collect(),
            ),
            _ => None,
        };
        let mut steps = Vec::new();
        let mut last = BTreeSet::new();
        for k in 0..seq.positives.len() {
            let mut sel = BTreeSet::new();
            let mut times = vec![];
            for &g in &matching {
                let found = group_chains(&groups[&g], &seq, k);
                // The first conversion: the earliest start, then the earliest step-k row.
                if let Some(&(t0, tk)) = found.iter().min() {
                    sel.insert(g);
                    times.push(tk - t0);
                }
            }
            let mut st = stage(&groups, &sel, f.get("stepAggregations"));
            if let Some(bins) = &bins {
                st["conversionTime"] = if k == 0 {
                    Value::Null
                } else {
                    conversion_summary(&mut times, bins)
                };
            }
            steps.push(st);
            last = sel;
        }
        json!({"sequence": steps, "endAggregations": ref_aggs(&groups, &last, f.get("endAggregations"))})
    });
    json!({
        "query": stage(&groups, &matching, query.and_then(|x| x.get("aggregations"))),
        "funnel": funnel,
    })
}

// ---------------------------------------------------------------- the property

fn engine(ds: &Dataset, q: &ValidatedQuery) -> Value {
    let partials: Vec<PartialResult> = parquet_parts(ds)
        .into_iter()
        .enumerate()
        .map(|(i, bytes)| run_part(&format!("part-{i}"), bytes, q, &ExecOptions::default()).unwrap())
        .collect();
    let result = PartialResult::merge_all(partials).unwrap().finish(q).unwrap();
    serde_json::to_value(result).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    #[test]
    fn engine_agrees_with_reference(ds in dataset_strategy(), qv in query_strategy()) {
        let schema = DatasetSchema::from_arrow(&arrow_schema(ds.dict_event), "uid", "ts").unwrap();
        let q = validate_value(&qv, &schema, 10).map_err(|e| TestCaseError::fail(format!("generated query invalid: {e}\n{qv}")))?;
        let got = engine(&ds, &q);
        let want = reference(&ds, &qv);
        if let Some(d) = common::json_diff(&got, &want, "result", 1e-9) {
            return Err(TestCaseError::fail(format!("{d}\nquery: {qv}\ngot:  {got}\nwant: {want}")));
        }
    }
}

/// A funnel of more steps than one byte of levels holds (300, the step limit raised): each
/// group's level, looked up by every row when rows come in any order, is then kept as a word,
/// not a byte. The step aggregations equal the reference's on datasets with rows in any order
/// and with users contiguous.
#[test]
fn a_funnel_of_300_steps_agrees_with_reference() {
    use frocket_engine::query::{validate_value_with, QueryLimits};
    use proptest::strategy::ValueTree;
    let events = ["A", "B", "C", "D"];
    let steps: Vec<Value> = (0..300)
        .map(|i| json!({"filter": {"column": "event", "op": "==", "value": events[(i * 3) % 4]}}))
        .collect();
    let qv = json!({"funnel": {
        "sequence": steps,
        "stepAggregations": [
            {"column": "device", "type": "countPerValue"},
            {"column": "event", "type": "groupsPerValue"},
        ],
    }});
    let limits = QueryLimits {
        max_steps: 300,
        ..QueryLimits::default()
    };
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    for _ in 0..40 {
        let ds = dataset_strategy().new_tree(&mut runner).unwrap().current();
        let schema = DatasetSchema::from_arrow(&arrow_schema(ds.dict_event), "uid", "ts").unwrap();
        let q = validate_value_with(&qv, &schema, 10, &limits).unwrap();
        let (got, want) = (engine(&ds, &q), reference(&ds, &qv));
        if let Some(d) = common::json_diff(&got, &want, "result", 1e-9) {
            panic!("{d}\ngot:  {got}\nwant: {want}");
        }
    }
}
