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
use frocket_engine::query::{
    Aggregation, AggregationType, CmpOp, Condition, ConditionKind, Filter, FilterOp, Literal, Relation, Sequence,
    Target,
};
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

fn sequence_strategy() -> BoxedStrategy<(Value, Option<i64>)> {
    (
        prop::collection::vec((filters_value(), prop::bool::weighted(0.6)), 1..5),
        opt(1i64..7),
    )
        .prop_map(|(steps, d)| {
            let mut steps: Vec<Value> = steps
                .into_iter()
                .map(|((k, f), pos)| {
                    let mut s = json!({ k: f });
                    if !pos {
                        s["rowFound"] = json!(false);
                    }
                    s
                })
                .collect();
            if !steps.iter().any(|s| s.get("rowFound").is_none()) {
                steps[0].as_object_mut().unwrap().remove("rowFound");
            }
            (json!(steps), d)
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
            let admits_zero = CmpOp::parse(op).unwrap().apply(&0, &v);
            let zero_only = admits_zero && (1..6).all(|n| !CmpOp::parse(op).unwrap().apply(&n, &v));
            let never = !(0..6).any(|n| CmpOp::parse(op).unwrap().apply(&n, &v));
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
        2 => sequence_strategy().prop_map(|(s, d)| {
            let mut c = json!({"sequence": s});
            if let Some(d) = d { c["maxDuration"] = json!(d); }
            c
        }),
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
            if let Some(((seq, d), step, end)) = funnel {
                let mut f = json!({"sequence": seq});
                if let Some(d) = d {
                    f["maxDuration"] = json!(d);
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

fn matches(r: &Row, f: &Filter) -> bool {
    let c = cell(r, &f.column);
    if c == Cell::Null {
        return matches!(
            f.op,
            FilterOp::Cmp(CmpOp::Ne) | FilterOp::NotContains | FilterOp::NotIncludes
        );
    }
    match (&c, f.op, &f.value) {
        (Cell::Int(a), FilterOp::Cmp(op), Literal::Int(b)) => op.apply(a, b),
        (Cell::Float(a), FilterOp::Cmp(op), v) => op.apply(a, &v.as_f64().unwrap()),
        (Cell::Bool(a), FilterOp::Cmp(op), Literal::Bool(b)) => op.apply(a, b),
        (Cell::Str(a), FilterOp::Cmp(op), Literal::Str(b)) => op.apply(&a.as_bytes(), &b.as_bytes()),
        (Cell::Str(a), FilterOp::Contains, Literal::Str(b)) => a.contains(b.as_str()),
        (Cell::Str(a), FilterOp::NotContains, Literal::Str(b)) => !a.contains(b.as_str()),
        (Cell::Str(a), FilterOp::Regex, Literal::Str(b)) => regex::Regex::new(b).unwrap().is_match(a),
        (Cell::List(a), FilterOp::Includes, Literal::Str(b)) => a.contains(b),
        (Cell::List(a), FilterOp::NotIncludes, Literal::Str(b)) => !a.contains(b),
        other => panic!("reference cannot evaluate {other:?}"),
    }
}

fn matches_all(r: &Row, fs: &[Filter]) -> bool {
    fs.iter().all(|f| matches(r, f))
}

/// Does a chain exist reaching positive step `k` (0-based)? Brute force over all choices.
fn reaches(rows: &[&Row], seq: &Sequence, k: usize) -> bool {
    // Split into positive steps with the negative filters before each, and trailing ones.
    let mut before: Vec<Vec<&[Filter]>> = vec![vec![]];
    let mut positives: Vec<&[Filter]> = vec![];
    for s in &seq.steps {
        if s.row_found {
            positives.push(&s.filters);
            before.push(vec![]);
        } else {
            before.last_mut().unwrap().push(&s.filters);
        }
    }
    let m = positives.len();
    let trailing = &before[m];
    fn neg_hit(r: &Row, negs: &[&[Filter]]) -> bool {
        negs.iter().any(|fs| matches_all(r, fs))
    }
    #[allow(clippy::too_many_arguments)] // a recursive search carrying its state
    fn go(
        rows: &[&Row],
        positives: &[&[Filter]],
        before: &[Vec<&[Filter]>],
        trailing: &[&[Filter]],
        m: usize,
        k: usize,
        d: Option<f64>,
        chain: &mut Vec<i64>,
    ) -> bool {
        let i = chain.len();
        if i > k {
            let (t0, tk) = (chain[0], chain[k]);
            if d.is_some_and(|d| (tk - t0) as f64 > d) {
                return false;
            }
            if k == m - 1 && !trailing.is_empty() {
                let end = d.map(|d| t0 as f64 + d);
                if rows
                    .iter()
                    .any(|r| r.ts > tk && end.is_none_or(|e| r.ts as f64 <= e) && neg_hit(r, trailing))
                {
                    return false;
                }
            }
            return true;
        }
        for r in rows {
            if !matches_all(r, positives[i]) {
                continue;
            }
            if i == 0 {
                if rows.iter().any(|x| x.ts < r.ts && neg_hit(x, &before[0])) {
                    continue;
                }
            } else {
                let prev = chain[i - 1];
                if r.ts <= prev {
                    continue;
                }
                if rows
                    .iter()
                    .any(|x| x.ts > prev && x.ts < r.ts && neg_hit(x, &before[i]))
                {
                    continue;
                }
            }
            chain.push(r.ts);
            let ok = go(rows, positives, before, trailing, m, k, d, chain);
            chain.pop();
            if ok {
                return true;
            }
        }
        false
    }
    go(rows, &positives, &before, trailing, m, k, seq.max_duration, &mut vec![])
}

fn positive_count(seq: &Sequence) -> usize {
    seq.steps.iter().filter(|s| s.row_found).count()
}

fn condition_holds(rows: &[&Row], c: &Condition) -> bool {
    match &c.kind {
        ConditionKind::Filters {
            filters,
            target,
            include_zero,
        } => {
            let hit: Vec<&&Row> = rows.iter().filter(|r| matches_all(r, filters)).collect();
            match target {
                Target::Count { op, value } => {
                    if hit.is_empty() {
                        *include_zero
                    } else {
                        op.apply(&(hit.len() as i64), value)
                    }
                }
                Target::Sum { column, op, value } => {
                    if hit.is_empty() {
                        return false;
                    }
                    let mut si: i128 = 0;
                    let mut sf: f64 = 0.0;
                    for r in &hit {
                        match cell(r, column) {
                            Cell::Int(x) => si += x as i128,
                            Cell::Float(x) => sf += x,
                            _ => {}
                        }
                    }
                    match (column.as_str(), value) {
                        ("qty", Literal::Int(v)) => op.apply(&si, &(*v as i128)),
                        ("qty", v) => op.apply(&(si as f64), &v.as_f64().unwrap()),
                        (_, v) => op.apply(&sf, &v.as_f64().unwrap()),
                    }
                }
            }
        }
        ConditionKind::Sequence(seq) => reaches(rows, seq, positive_count(seq) - 1),
    }
}

fn relation_holds(rel: &Relation, vals: &[bool]) -> bool {
    if vals.is_empty() {
        return true;
    }
    match rel {
        Relation::And => vals.iter().all(|v| *v),
        Relation::Or => vals.iter().any(|v| *v),
        Relation::Expr(e) => e.eval(&|i| vals[i]),
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

fn ref_aggs(groups: &BTreeMap<i64, Vec<&Row>>, selected: &BTreeSet<i64>, aggs: &[Aggregation]) -> Value {
    if aggs.is_empty() {
        return Value::Null;
    }
    let rows: Vec<&Row> = groups
        .iter()
        .filter(|(g, _)| selected.contains(g))
        .flat_map(|(_, r)| r.iter().copied())
        .collect();
    let out: Vec<Value> = aggs
        .iter()
        .map(|a| {
            let top = a.top.unwrap_or(usize::MAX);
            let value = match a.agg_type {
                AggregationType::Count => json!(rows.iter().filter(|r| cell(r, &a.column) != Cell::Null).count()),
                AggregationType::CountPerValue => {
                    let mut m: BTreeMap<String, u64> = BTreeMap::new();
                    for r in &rows {
                        for k in key_of(&cell(r, &a.column)) {
                            *m.entry(k).or_default() += 1;
                        }
                    }
                    ordered(m.into_iter().map(|(k, v)| (k, json!(v))).collect(), top)
                }
                AggregationType::GroupsPerValue => {
                    let mut m: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
                    for r in &rows {
                        for k in key_of(&cell(r, &a.column)) {
                            m.entry(k).or_default().insert(r.uid);
                        }
                    }
                    ordered(m.into_iter().map(|(k, v)| (k, json!(v.len()))).collect(), top)
                }
                AggregationType::SumPerValue | AggregationType::MeanPerValue => {
                    let other = a.other_column.as_deref().unwrap();
                    let mut m: BTreeMap<String, (i64, f64, u64)> = BTreeMap::new();
                    for r in &rows {
                        let o = cell(r, other);
                        for k in key_of(&cell(r, &a.column)) {
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
                    let entries: Vec<(String, Value)> = if a.agg_type == AggregationType::SumPerValue {
                        m.into_iter()
                            .map(|(k, (i, f, _))| (k, if int { json!(i) } else { json!(f) }))
                            .collect()
                    } else {
                        m.into_iter()
                            .filter(|(_, e)| e.2 > 0)
                            .map(|(k, (i, f, c))| (k, json!(if int { i as f64 } else { f } / c as f64)))
                            .collect()
                    };
                    ordered(entries, top)
                }
            };
            json!({"column": a.column, "type": a.agg_type.name(), "value": value, "top": a.top, "name": a.name})
        })
        .collect();
    Value::Array(out)
}

fn stage(groups: &BTreeMap<i64, Vec<&Row>>, selected: &BTreeSet<i64>, aggs: &[Aggregation]) -> Value {
    json!({
        "matchingGroups": selected.len(),
        "matchingGroupRows": groups.iter().filter(|(g, _)| selected.contains(g)).map(|(_, r)| r.len()).sum::<usize>(),
        "aggregations": ref_aggs(groups, selected, aggs),
    })
}

fn reference(ds: &Dataset, q: &ValidatedQuery) -> Value {
    let inside = |r: &&Row| {
        q.timeframe.from.is_none_or(|f| r.ts as f64 >= f) && q.timeframe.to.is_none_or(|t| (r.ts as f64) < t)
    };
    let mut groups: BTreeMap<i64, Vec<&Row>> = BTreeMap::new();
    for r in ds.rows.iter().filter(inside) {
        groups.entry(r.uid).or_default().push(r);
    }
    let matching: BTreeSet<i64> = groups
        .iter()
        .filter(|(_, rows)| {
            let vals: Vec<bool> = q.conditions.iter().map(|c| condition_holds(rows, c)).collect();
            relation_holds(&q.relation, &vals)
        })
        .map(|(g, _)| *g)
        .collect();
    let funnel = q.funnel.as_ref().map(|f| {
        let m = positive_count(&f.sequence);
        let mut steps = Vec::new();
        let mut last = BTreeSet::new();
        for k in 0..m {
            let sel: BTreeSet<i64> = matching
                .iter()
                .copied()
                .filter(|g| reaches(&groups[g], &f.sequence, k))
                .collect();
            steps.push(stage(&groups, &sel, &f.step_aggregations));
            last = sel;
        }
        json!({"sequence": steps, "endAggregations": ref_aggs(&groups, &last, &f.end_aggregations)})
    });
    json!({"query": stage(&groups, &matching, &q.aggregations), "funnel": funnel})
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
        let want = reference(&ds, &q);
        if let Some(d) = common::json_diff(&got, &want, "result", 1e-9) {
            return Err(TestCaseError::fail(format!("{d}\nquery: {qv}\ngot:  {got}\nwant: {want}")));
        }
    }
}
