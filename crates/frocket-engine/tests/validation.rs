//! Validation of queries against a dataset schema (query-language.md, "Validation"): every
//! error names its JSON path and says what is wrong; all errors are reported at once;
//! shorthands expand to the verbose form; the columns a query reads are listed.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema};
use frocket_engine::query::{
    Aggregation, AggregationType, CmpOp, ConditionKind, Filter, FilterOp, Literal, Relation, RelationExpr, Target,
    Timeframe,
};
use frocket_engine::{validate_query, validate_value, DatasetSchema, ValidatedQuery, ValidationError};
use proptest::prelude::*;
use serde_json::{json, Value};

const MIN_TS: f64 = 1.6e12;
const MAX_TS: f64 = 1.61e12;

fn arrow_schema() -> Schema {
    Schema::new(vec![
        Field::new("uid", DataType::Int64, false),
        Field::new("ts", DataType::Int64, false),
        Field::new("event", DataType::Utf8, true),
        Field::new("price", DataType::Float64, true),
        Field::new("qty", DataType::Int64, true),
        Field::new("flag", DataType::Boolean, true),
        Field::new(
            "tags",
            DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true))),
            true,
        ),
        Field::new(
            "ids",
            DataType::List(Arc::new(Field::new_list_field(DataType::Int64, true))),
            true,
        ),
        Field::new("day", DataType::Date32, true),
    ])
}

/// The test dataset's schema, with millisecond timestamp bounds.
fn schema() -> DatasetSchema {
    let mut s = DatasetSchema::from_arrow(&arrow_schema(), "uid", "ts").unwrap();
    s.min_timestamp = Some(MIN_TS);
    s.max_timestamp = Some(MAX_TS);
    s
}

fn ok(q: Value) -> ValidatedQuery {
    validate_value(&q, &schema(), 10).unwrap_or_else(|e| panic!("expected {q} to be valid, got: {e}"))
}

fn errs(q: Value) -> Vec<ValidationError> {
    match validate_value(&q, &schema(), 10) {
        Ok(v) => panic!("expected {q} to be invalid, got {v:?}"),
        Err(e) => {
            assert!(!e.0.is_empty(), "empty error list for {q}");
            e.0
        }
    }
}

/// Asserts `q` fails with exactly one error, at `path`, whose message contains every fragment.
#[track_caller]
fn assert_one(q: Value, path: &str, fragments: &[&str]) {
    let e = errs(q.clone());
    assert_eq!(e.len(), 1, "expected one error for {q}, got {e:?}");
    assert_eq!(e[0].path, path, "wrong path for {q}: {e:?}");
    for f in fragments {
        assert!(
            e[0].message.contains(f),
            "message of {q} at {path} lacks {f:?}: {:?}",
            e[0].message
        );
    }
}

/// Asserts one of the errors of `q` is at `path` with a message containing every fragment.
#[track_caller]
fn assert_has(errors: &[ValidationError], path: &str, fragments: &[&str]) {
    let found = errors
        .iter()
        .any(|e| e.path == path && fragments.iter().all(|f| e.message.contains(f)));
    assert!(found, "no error at {path} with {fragments:?} in {errors:?}");
}

/// A query with these conditions.
fn conds(c: Vec<Value>) -> Value {
    json!({"query": {"conditions": c}})
}

/// A query with one condition.
fn cond(c: Value) -> Value {
    conds(vec![c])
}

/// A query with one filter condition.
fn filter(f: Value) -> Value {
    cond(json!({ "filter": f }))
}

/// A query with these aggregations.
fn aggs(a: Vec<Value>) -> Value {
    json!({"query": {"aggregations": a}})
}

fn the_filter(q: &ValidatedQuery) -> &Filter {
    match &q.conditions[0].kind {
        ConditionKind::Filters { filters, .. } => &filters[0],
        k => panic!("not a filter condition: {k:?}"),
    }
}

fn target_and_zero(q: &ValidatedQuery) -> (Target, bool) {
    match &q.conditions[0].kind {
        ConditionKind::Filters {
            target, include_zero, ..
        } => (target.clone(), *include_zero),
        k => panic!("not a filter condition: {k:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// JSON shape

#[test]
fn malformed_json_reports_line_and_column() {
    let e = validate_query("{\"query\": {", &schema(), 10).unwrap_err().0;
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].path, "");
    assert!(e[0].message.contains("malformed JSON"), "{:?}", e[0].message);
    assert!(e[0].message.contains("line 1 column"), "{:?}", e[0].message);

    let e = validate_query("{\n  \"query\": {\n    \"conditions\": [,]\n  }\n}", &schema(), 10)
        .unwrap_err()
        .0;
    assert_eq!(e.len(), 1);
    assert!(e[0].message.contains("line 3 column 20"), "{:?}", e[0].message);

    for text in ["", "   ", "nul", "{\"a\": 1,}", "[1, 2", "{} {}"] {
        let e = validate_query(text, &schema(), 10).unwrap_err().0;
        assert_eq!(e.len(), 1, "{text:?}: {e:?}");
        assert_eq!(e[0].path, "");
        assert!(e[0].message.contains("line "), "{text:?}: {:?}", e[0].message);
    }
}

#[test]
fn root_must_be_an_object() {
    for v in [json!([]), json!(null), json!(1), json!("q"), json!(true)] {
        assert_one(v, "", &["expected an object"]);
    }
}

#[test]
fn empty_query_is_valid() {
    let q = ok(json!({}));
    assert!(q.conditions.is_empty());
    assert!(q.aggregations.is_empty());
    assert!(q.funnel.is_none());
    assert_eq!(q.relation, Relation::And);
    assert!(q.timeframe.is_unbounded());
    assert_eq!(q.columns, vec!["uid", "ts"]);
    assert_eq!(q.group_id_column, "uid");
    assert_eq!(q.timestamp_column, "ts");
    // Text and value entry points agree.
    assert_eq!(validate_query("{}", &schema(), 10).unwrap(), q);
}

#[test]
fn sections_of_the_wrong_json_type() {
    assert_one(json!({"query": []}), "query", &["expected an object", "array"]);
    assert_one(json!({"funnel": 1}), "funnel", &["expected an object"]);
    assert_one(json!({"timeframe": "x"}), "timeframe", &["expected an object"]);
    assert_one(
        json!({"query": {"conditions": {}}}),
        "query.conditions",
        &["expected an array of conditions"],
    );
    assert_one(
        json!({"query": {"aggregations": "event"}}),
        "query.aggregations",
        &["expected an array of aggregations"],
    );
    assert_one(cond(json!([])), "query.conditions[0]", &["expected an object"]);
    assert_one(
        json!({"funnel": {"sequence": {}}}),
        "funnel.sequence",
        &["expected an array of steps"],
    );
}

// ---------------------------------------------------------------------------------------------
// Unknown keys

#[test]
fn unknown_key_at_root() {
    assert_one(
        json!({"querry": {}}),
        "querry",
        &["unknown key 'querry'", "timeframe, query, funnel"],
    );
}

#[test]
fn unknown_key_in_query() {
    assert_one(
        json!({"query": {"condition": []}}),
        "query.condition",
        &["unknown key 'condition'", "conditions"],
    );
}

#[test]
fn unknown_key_in_condition() {
    assert_one(
        cond(json!({"filter": ["event", "==", "a"], "targt": ["count", ">", 1]})),
        "query.conditions[0].targt",
        &["unknown key 'targt'", "target"],
    );
    assert_one(
        cond(json!({"sequence": [{"filter": ["event", "==", "a"]}], "maxduration": 5})),
        "query.conditions[0].maxduration",
        &["unknown key 'maxduration'", "maxDuration"],
    );
}

#[test]
fn unknown_key_in_filter_object() {
    assert_one(
        filter(json!({"column": "event", "op": "==", "value": "a", "values": ["b"]})),
        "query.conditions[0].filter.values",
        &["unknown key 'values'", "column, op, value"],
    );
    assert_one(
        cond(json!({"filters": [["event", "==", "a"], {"column": "qty", "op": ">", "value": 1, "Op": ">"}]})),
        "query.conditions[0].filters[1].Op",
        &["unknown key 'Op'"],
    );
}

#[test]
fn unknown_key_in_target_object() {
    assert_one(
        cond(
            json!({"filter": ["event", "==", "a"], "target": {"type": "count", "op": ">=", "value": 1, "column": "qty"}}),
        ),
        "query.conditions[0].target.column",
        &["unknown key 'column'", "type, op, value"],
    );
}

#[test]
fn unknown_key_in_step() {
    assert_one(
        json!({"funnel": {"sequence": [{"filter": ["event", "==", "a"], "rowfound": false}]}}),
        "funnel.sequence[0].rowfound",
        &["unknown key 'rowfound'", "rowFound"],
    );
    assert_one(
        cond(json!({"sequence": [{"filter": ["event", "==", "a"]}, {"filter": ["event", "==", "b"], "name": "x"}]})),
        "query.conditions[0].sequence[1].name",
        &["unknown key 'name'"],
    );
}

#[test]
fn unknown_key_in_aggregation() {
    assert_one(
        aggs(vec![json!({"column": "event", "typ": "count"})]),
        "query.aggregations[0].typ",
        &["unknown key 'typ'", "otherColumn"],
    );
    assert_one(
        json!({"funnel": {"sequence": [{"filter": ["event", "==", "a"]}], "endAggregations": [{"column": "event", "other_column": "price"}]}}),
        "funnel.endAggregations[0].other_column",
        &["unknown key 'other_column'"],
    );
}

#[test]
fn unknown_key_in_funnel() {
    assert_one(
        json!({"funnel": {"sequence": [{"filter": ["event", "==", "a"]}], "maxduration": 5}}),
        "funnel.maxduration",
        &["unknown key 'maxduration'", "stepAggregations"],
    );
}

#[test]
fn unknown_key_in_timeframe() {
    assert_one(
        json!({"timeframe": {"from": 1.6e12, "until": 1.61e12}}),
        "timeframe.until",
        &["unknown key 'until'", "from, to"],
    );
}

// ---------------------------------------------------------------------------------------------
// Columns and types

#[test]
fn unknown_columns() {
    assert_one(
        filter(json!(["nope", "==", 1])),
        "query.conditions[0].filter",
        &["unknown column 'nope'", "event"],
    );
    assert_one(
        aggs(vec![json!({"column": "nope"})]),
        "query.aggregations[0].column",
        &["unknown column 'nope'"],
    );
    assert_one(
        aggs(vec![
            json!({"column": "event", "type": "sumPerValue", "otherColumn": "nope"}),
        ]),
        "query.aggregations[0].otherColumn",
        &["unknown column 'nope'"],
    );
    assert_one(
        cond(json!({"filter": ["event", "==", "a"], "target": ["sum", "nope", ">", 1]})),
        "query.conditions[0].target",
        &["unknown column 'nope'"],
    );
    assert_one(
        json!({"funnel": {"sequence": [{"filter": ["event", "==", "a"]}, {"filters": [["Event", "==", "b"]]}]}}),
        "funnel.sequence[1].filters[0]",
        &["unknown column 'Event'"],
    );
    assert_one(
        filter(json!([1, "==", 1])),
        "query.conditions[0].filter",
        &["expected a column name (string)"],
    );
}

#[test]
fn unsupported_column_type() {
    assert_one(
        filter(json!(["day", "==", 1])),
        "query.conditions[0].filter",
        &["column 'day'", "does not support"],
    );
    assert_one(
        aggs(vec![json!({"column": "day", "type": "countPerValue"})]),
        "query.aggregations[0].column",
        &["column 'day'", "does not support"],
    );
    // An unsupported column in the dataset is no problem while the query does not use it.
    assert_eq!(
        schema().column_type("day"),
        Some(frocket_engine::ColumnType::Unsupported)
    );
    ok(filter(json!(["event", "==", "a"])));
}

#[test]
fn operator_not_allowed_for_column_type() {
    assert_one(
        filter(json!(["qty", "contains", "1"])),
        "query.conditions[0].filter",
        &[
            "operator 'contains'",
            "INT column 'qty'",
            "allowed: ==, !=, >, >=, <, <=",
        ],
    );
    assert_one(
        filter(json!(["price", "regex", "1"])),
        "query.conditions[0].filter",
        &["operator 'regex'", "FLOAT column 'price'"],
    );
    assert_one(
        filter(json!(["flag", ">", true])),
        "query.conditions[0].filter",
        &["operator '>'", "BOOL column 'flag'", "allowed: ==, !="],
    );
    assert_one(
        filter(json!(["event", "includes", "a"])),
        "query.conditions[0].filter",
        &[
            "operator 'includes'",
            "STRING column 'event'",
            "contains, not contains, regex",
        ],
    );
    assert_one(
        filter(json!(["tags", "==", "a"])),
        "query.conditions[0].filter",
        &[
            "operator '=='",
            "LIST<STRING> column 'tags'",
            "allowed: includes, not includes",
        ],
    );
    assert_one(
        filter(json!(["ids", "contains", 1])),
        "query.conditions[0].filter",
        &["operator 'contains'", "LIST<INT> column 'ids'"],
    );
    assert_one(
        filter(json!(["event", "=", "a"])),
        "query.conditions[0].filter",
        &["operator '='"],
    );
    assert_one(
        filter(json!(["event", null, "a"])),
        "query.conditions[0].filter",
        &["filter op must be a string"],
    );
}

#[test]
fn every_operator_allowed_by_the_spec_is_accepted() {
    let cases: &[(&str, &[&str], Value)] = &[
        ("qty", &["==", "!=", ">", ">=", "<", "<="], json!(3)),
        ("price", &["==", "!=", ">", ">=", "<", "<="], json!(2.5)),
        ("flag", &["==", "!="], json!(true)),
        (
            "event",
            &["==", "!=", ">", ">=", "<", "<=", "contains", "not contains", "regex"],
            json!("a"),
        ),
        ("tags", &["includes", "not includes"], json!("a")),
        ("ids", &["includes", "not includes"], json!(7)),
    ];
    for (col, ops, value) in cases {
        for op in *ops {
            let q = ok(filter(json!([col, op, value])));
            let f = the_filter(&q);
            assert_eq!(f.column, *col);
            assert_eq!(f.op, FilterOp::parse(op).unwrap());
            assert_eq!(f.op.as_str(), *op);
        }
    }
}

#[test]
fn value_type_must_match_column_type() {
    assert_one(
        filter(json!(["qty", "==", "5"])),
        "query.conditions[0].filter",
        &["INT column 'qty'", "must be an integer", "a string \"5\""],
    );
    assert_one(
        filter(json!(["qty", "==", 1.5])),
        "query.conditions[0].filter",
        &["must be an integer", "1.5"],
    );
    assert_one(
        filter(json!(["event", "==", 5])),
        "query.conditions[0].filter",
        &["STRING column 'event'", "must be a string", "a number 5"],
    );
    assert_one(
        filter(json!(["price", ">", "1"])),
        "query.conditions[0].filter",
        &["FLOAT column 'price'", "must be a number"],
    );
    assert_one(
        filter(json!(["flag", "==", 1])),
        "query.conditions[0].filter",
        &["BOOL column 'flag'", "must be a boolean"],
    );
    assert_one(
        filter(json!(["ids", "includes", "7"])),
        "query.conditions[0].filter",
        &["LIST<INT> column 'ids'", "must be an integer"],
    );
    assert_one(
        filter(json!(["tags", "includes", 7])),
        "query.conditions[0].filter",
        &["LIST<STRING> column 'tags'", "must be a string"],
    );
    assert_one(
        filter(json!(["event", "==", null])),
        "query.conditions[0].filter",
        &["must be a string", "null"],
    );
}

#[test]
fn values_are_typed_like_their_column() {
    assert_eq!(the_filter(&ok(filter(json!(["qty", "==", 5])))).value, Literal::Int(5));
    // An integral float is an integer.
    assert_eq!(
        the_filter(&ok(filter(json!(["qty", "==", 5.0])))).value,
        Literal::Int(5)
    );
    // An integer on a FLOAT column is a float.
    assert_eq!(
        the_filter(&ok(filter(json!(["price", ">", 3])))).value,
        Literal::Float(3.0)
    );
    assert_eq!(
        the_filter(&ok(filter(json!(["flag", "!=", false])))).value,
        Literal::Bool(false)
    );
    assert_eq!(
        the_filter(&ok(filter(json!(["tags", "includes", "x"])))).value,
        Literal::Str("x".into())
    );
    assert_eq!(
        the_filter(&ok(filter(json!(["ids", "not includes", -4])))).value,
        Literal::Int(-4)
    );
}

#[test]
fn filter_shapes() {
    assert_one(
        filter(json!(["event", "=="])),
        "query.conditions[0].filter",
        &["3 elements", "found 2"],
    );
    assert_one(
        filter(json!(["event", "==", "a", "b"])),
        "query.conditions[0].filter",
        &["3 elements", "found 4"],
    );
    assert_one(
        filter(json!({"column": "event", "op": "=="})),
        "query.conditions[0].filter",
        &["missing 'value'"],
    );
    assert_one(
        filter(json!("event == a")),
        "query.conditions[0].filter",
        &["expected a filter", "a string"],
    );
    assert_one(
        cond(json!({"filters": ["event"]})),
        "query.conditions[0].filters[0]",
        &["expected a filter"],
    );
    assert_one(
        cond(json!({"filters": {"column": "event", "op": "==", "value": "a"}})),
        "query.conditions[0].filters",
        &["expected an array of filters"],
    );
}

#[test]
fn invalid_regex_is_an_error() {
    assert_one(
        filter(json!(["event", "regex", "(unclosed"])),
        "query.conditions[0].filter",
        &["invalid regex"],
    );
    assert_one(
        json!({"funnel": {"sequence": [{"filter": ["event", "regex", "a{2,1}"]}]}}),
        "funnel.sequence[0].filter",
        &["invalid regex"],
    );
    let q = ok(filter(json!(["event", "regex", "^view|buy$"])));
    assert_eq!(the_filter(&q).op, FilterOp::Regex);
}

#[test]
fn empty_filters_array() {
    assert_one(
        cond(json!({"filters": []})),
        "query.conditions[0].filters",
        &["at least one filter"],
    );
    assert_one(
        json!({"funnel": {"sequence": [{"filters": []}]}}),
        "funnel.sequence[0].filters",
        &["at least one filter"],
    );
}

// ---------------------------------------------------------------------------------------------
// Conditions and targets

#[test]
fn condition_needs_exactly_one_kind() {
    assert_one(
        cond(json!({"name": "x"})),
        "query.conditions[0]",
        &["needs one of 'filter', 'filters' or 'sequence'"],
    );
    assert_one(
        cond(json!({"filter": ["event", "==", "a"], "filters": [["event", "==", "b"]]})),
        "query.conditions[0]",
        &["only one of", "filter, filters"],
    );
    assert_one(
        cond(json!({"filter": ["event", "==", "a"], "sequence": [{"filter": ["event", "==", "b"]}]})),
        "query.conditions[0]",
        &["only one of"],
    );
}

#[test]
fn sequence_condition_rejects_target_and_include_zero() {
    let e = errs(cond(json!({
        "sequence": [{"filter": ["event", "==", "a"]}],
        "target": ["count", ">", 1],
        "includeZero": true
    })));
    assert_eq!(e.len(), 2, "{e:?}");
    assert_has(
        &e,
        "query.conditions[0].target",
        &["not allowed on a sequence condition"],
    );
    assert_has(
        &e,
        "query.conditions[0].includeZero",
        &["not allowed on a sequence condition"],
    );
    assert_one(
        cond(json!({"filter": ["event", "==", "a"], "maxDuration": 10})),
        "query.conditions[0].maxDuration",
        &["only allowed on a sequence condition"],
    );
}

#[test]
fn bad_targets() {
    let t = |target: Value| cond(json!({"filter": ["event", "==", "a"], "target": target}));
    let p = "query.conditions[0].target";
    assert_one(
        t(json!(["count", ">="])),
        p,
        &["[\"count\", op, n] or [\"sum\", column, op, n]"],
    );
    assert_one(t(json!(["count", ">=", 1, 2])), p, &["a target array is"]);
    assert_one(t(json!(["sum", "price", ">="])), p, &["a target array is"]);
    assert_one(t(json!(["avg", ">=", 1])), p, &["a target array is"]);
    assert_one(t(json!([])), p, &["a target array is"]);
    assert_one(t(json!("count >= 1")), p, &["expected a target", "a string"]);
    assert_one(
        t(json!(["count", "=>", 1])),
        p,
        &["target op must be one of ==, !=, >, >=, <, <=", "=>"],
    );
    assert_one(t(json!(["count", "contains", 1])), p, &["target op must be one of"]);
    assert_one(t(json!(["count", ">=", -1])), p, &["non-negative integer", "-1"]);
    assert_one(t(json!(["count", ">=", 1.5])), p, &["non-negative integer"]);
    assert_one(t(json!(["count", ">=", "1"])), p, &["non-negative integer"]);
    assert_one(
        t(json!(["sum", "event", ">=", 1])),
        p,
        &["numeric (INT or FLOAT)", "'event' is STRING"],
    );
    assert_one(t(json!(["sum", "flag", ">=", 1])), p, &["'flag' is BOOL"]);
    assert_one(t(json!(["sum", "ids", ">=", 1])), p, &["'ids' is LIST<INT>"]);
    assert_one(
        t(json!(["sum", "price", ">=", "x"])),
        p,
        &["sum target's value must be a number"],
    );
    assert_one(t(json!({"type": "count", "op": ">="})), p, &["a target object is"]);
    assert_one(
        t(json!({"type": "max", "op": ">=", "value": 1})),
        p,
        &["a target object is"],
    );
    assert_one(
        t(json!({"type": "sum", "op": ">=", "value": 1})),
        p,
        &["needs 'column'"],
    );
}

#[test]
fn unsatisfiable_count_targets() {
    let t = |target: Value| cond(json!({"filter": ["event", "==", "a"], "target": target}));
    let p = "query.conditions[0].target";
    // A count is never negative.
    assert_one(t(json!(["count", "<", 0])), p, &["count < 0", "never be satisfied"]);
    assert_one(
        t(json!({"type": "count", "op": "<", "value": 0})),
        p,
        &["never be satisfied"],
    );
    // Satisfiable ones are accepted.
    for (op, n) in [("<", 1), ("<=", 0), ("==", 0), ("!=", 0), (">", 0), (">=", 0), ("<", 5)] {
        ok(t(json!(["count", op, n])));
    }
}

#[test]
fn valid_targets_in_both_forms() {
    let t = |target: Value| ok(cond(json!({"filter": ["event", "==", "a"], "target": target})));
    let default = ok(filter(json!(["event", "==", "a"])));
    assert_eq!(
        target_and_zero(&default),
        (
            Target::Count {
                op: CmpOp::Ge,
                value: 1
            },
            false
        )
    );
    assert_eq!(default, t(json!(["count", ">=", 1])));
    assert_eq!(default, t(json!({"type": "count", "op": ">=", "value": 1})));

    let sum_int = t(json!(["sum", "qty", ">=", 2]));
    assert_eq!(
        target_and_zero(&sum_int).0,
        Target::Sum {
            column: "qty".into(),
            op: CmpOp::Ge,
            value: Literal::Int(2)
        }
    );
    assert_eq!(sum_int.columns, vec!["uid", "ts", "event", "qty"]);
    assert_eq!(
        sum_int,
        t(json!({"type": "sum", "column": "qty", "op": ">=", "value": 2}))
    );

    let sum_float = t(json!(["sum", "price", "<", 49.5]));
    assert_eq!(
        target_and_zero(&sum_float),
        (
            Target::Sum {
                column: "price".into(),
                op: CmpOp::Lt,
                value: Literal::Float(49.5)
            },
            false
        )
    );
}

#[test]
fn include_zero_rules() {
    let c =
        |target: Value, iz: Value| cond(json!({"filter": ["event", "==", "a"], "target": target, "includeZero": iz}));
    let p = "query.conditions[0].includeZero";
    // Only with count targets.
    assert_one(
        c(json!(["sum", "price", ">", 1]), json!(true)),
        p,
        &["only allowed with a count target"],
    );
    // `false` (the default) is accepted with any target: the original's example query
    // writes it with a sum target, and it means the same as leaving it out.
    let with_false = validate_query(
        &cond(json!({"filter": ["event", "==", "a"], "target": ["sum", "price", ">", 1], "includeZero": false}))
            .to_string(),
        &schema(),
        10,
    )
    .expect("includeZero false with a sum target");
    let without = validate_query(
        &cond(json!({"filter": ["event", "==", "a"], "target": ["sum", "price", ">", 1]})).to_string(),
        &schema(),
        10,
    )
    .unwrap();
    assert_eq!(with_false, without);
    // Targets only satisfiable by zero rows cannot have includeZero false.
    for (op, n) in [("==", 0), ("<", 1), ("<=", 0)] {
        assert_one(
            c(json!(["count", op, n]), json!(false)),
            p,
            &[
                &format!("count {op} {n}"),
                "can only match zero rows",
                "cannot be false",
            ],
        );
    }
    // Ops excluding zero cannot have includeZero true.
    for (op, n) in [(">=", 1), (">", 0), ("==", 2), (">", 5)] {
        assert_one(
            c(json!(["count", op, n]), json!(true)),
            p,
            &[&format!("count {op} {n}"), "excludes zero"],
        );
    }
    // Must be a boolean.
    for v in [json!("yes"), json!(1), json!([true])] {
        assert_one(c(json!(["count", "<", 3]), v), p, &["expected a boolean"]);
    }
    // Defaults: implied true only for zero-only targets.
    let dflt = |target: Value| target_and_zero(&ok(cond(json!({"filter": ["event", "==", "a"], "target": target})))).1;
    assert!(dflt(json!(["count", "==", 0])));
    assert!(dflt(json!(["count", "<", 1])));
    assert!(dflt(json!(["count", "<=", 0])));
    assert!(!dflt(json!(["count", "<", 3])));
    assert!(!dflt(json!(["count", "!=", 2])));
    assert!(!dflt(json!(["count", ">", 0])));
    // Allowed explicit settings.
    let explicit = |target: Value, iz: bool| target_and_zero(&ok(c(target, json!(iz)))).1;
    assert!(explicit(json!(["count", "<", 3]), true));
    assert!(!explicit(json!(["count", "<", 3]), false));
    assert!(explicit(json!(["count", "==", 0]), true));
    assert!(explicit(json!(["count", ">=", 0]), true));
    assert!(explicit(json!(["count", "!=", 2]), true));
}

// ---------------------------------------------------------------------------------------------
// Names and relation

fn two_named() -> Vec<Value> {
    vec![
        json!({"filter": ["event", "==", "a"], "name": "Big"}),
        json!({"filter": ["event", "==", "b"]}),
    ]
}

fn relation(r: Value) -> Value {
    json!({"query": {"conditions": two_named(), "relation": r}})
}

#[test]
fn relation_errors_point_at_the_position() {
    let p = "query.relation";
    assert_one(
        relation(json!("$0 and $5")),
        p,
        &["unknown condition $5", "2 conditions", "at position 7"],
    );
    assert_one(
        relation(json!("$nope or $0")),
        p,
        &["unknown condition name $nope", "Big", "at position 0"],
    );
    assert_one(relation(json!("")), p, &["empty relation expression", "at position 0"]);
    assert_one(relation(json!("   ")), p, &["empty relation expression"]);
    assert_one(relation(json!("$0 and")), p, &["unexpected end", "at position 6"]);
    assert_one(relation(json!("$0 $1")), p, &["unexpected $1", "at position 3"]);
    assert_one(relation(json!("$0 & $1")), p, &["'&' must be doubled", "at position 3"]);
    assert_one(relation(json!("$0 | $1")), p, &["'|' must be doubled", "at position 3"]);
    assert_one(relation(json!("($0 or $1")), p, &["expected ')'", "at position 9"]);
    assert_one(
        relation(json!("$0 xor $1")),
        p,
        &["unexpected word 'xor'", "at position 3"],
    );
    assert_one(
        relation(json!("$0 and $")),
        p,
        &["'$' must be followed", "at position 7"],
    );
    assert_one(relation(json!("$0 and ()")), p, &["found ')'", "at position 8"]);
    assert_one(
        relation(json!("$0 + $1")),
        p,
        &["unexpected character '+'", "at position 3"],
    );
    assert_one(relation(json!(1)), p, &["expected a string"]);
    // Positions are in characters, not bytes.
    assert_one(
        relation(json!("$0 é $1")),
        p,
        &["unexpected character 'é'", "at position 3"],
    );
    assert_one(relation(json!("é $1")), p, &["at position 0"]);
}

#[test]
fn relation_with_no_conditions() {
    ok(json!({"query": {"relation": "or"}}));
    assert_one(
        json!({"query": {"relation": "$0"}}),
        "query.relation",
        &["unknown condition $0", "0 conditions"],
    );
}

#[test]
fn valid_relations() {
    use RelationExpr::*;
    for (r, want) in [
        ("and", Relation::And),
        ("AND", Relation::And),
        ("&&", Relation::And),
        (" or ", Relation::Or),
        ("||", Relation::Or),
        ("Or", Relation::Or),
    ] {
        assert_eq!(ok(relation(json!(r))).relation, want, "{r}");
    }
    let q = ok(relation(json!("$1 AND NOT $big")));
    assert_eq!(
        q.relation,
        Relation::Expr(And(Box::new(Cond(1)), Box::new(Not(Box::new(Cond(0))))))
    );
    let q = ok(relation(json!("!($0 || $1) && $1")));
    assert_eq!(
        q.relation,
        Relation::Expr(And(
            Box::new(Not(Box::new(Or(Box::new(Cond(0)), Box::new(Cond(1)))))),
            Box::new(Cond(1))
        ))
    );
    // Precedence: not > and > or.
    let q = ok(relation(json!("$0 or $1 and not $0")));
    assert_eq!(
        q.relation,
        Relation::Expr(Or(
            Box::new(Cond(0)),
            Box::new(And(Box::new(Cond(1)), Box::new(Not(Box::new(Cond(0))))))
        ))
    );
}

#[test]
fn condition_names() {
    let named = |names: [&str; 2]| {
        conds(vec![
            json!({"filter": ["event", "==", "a"], "name": names[0]}),
            json!({"filter": ["event", "==", "b"], "name": names[1]}),
        ])
    };
    assert_one(
        named(["big", "BIG"]),
        "query.conditions[1].name",
        &["duplicate condition name 'BIG'", "condition 0", "case-insensitive"],
    );
    assert_one(
        named(["x", "and"]),
        "query.conditions[1].name",
        &["'and' is a relation keyword"],
    );
    assert_one(named(["NOT", "y"]), "query.conditions[0].name", &["relation keyword"]);
    assert_one(named(["Or", "y"]), "query.conditions[0].name", &["relation keyword"]);
    for bad in ["1abc", "a-b", "", "_x", "a b", "$x", "é"] {
        assert_one(
            named([bad, "y"]),
            "query.conditions[0].name",
            &[&format!("invalid name '{bad}'"), "letter"],
        );
    }
    assert_one(
        cond(json!({"filter": ["event", "==", "a"], "name": 5})),
        "query.conditions[0].name",
        &["expected a string"],
    );
    assert_one(
        cond(json!({"sequence": [{"filter": ["event", "==", "a"]}], "name": "1x"})),
        "query.conditions[0].name",
        &["invalid name"],
    );
    let q = ok(named(["a1_B", "andy"]));
    assert_eq!(q.conditions[0].name.as_deref(), Some("a1_B"));
    assert_eq!(q.conditions[1].name.as_deref(), Some("andy"));
}

// ---------------------------------------------------------------------------------------------
// Aggregations

#[test]
fn aggregation_shorthand_expands_into_three() {
    let q = ok(aggs(vec![json!({"column": "event"})]));
    let want: Vec<Aggregation> = [
        (AggregationType::Count, None),
        (AggregationType::CountPerValue, Some(10)),
        (AggregationType::GroupsPerValue, Some(10)),
    ]
    .into_iter()
    .map(|(t, top)| Aggregation {
        column: "event".into(),
        agg_type: t,
        other_column: None,
        top,
        name: None,
    })
    .collect();
    assert_eq!(q.aggregations, want);

    // `top` applies to the per-value ones; the default comes from the caller.
    let q = ok(aggs(vec![json!({"column": "qty", "top": 3})]));
    let tops: Vec<Option<usize>> = q.aggregations.iter().map(|a| a.top).collect();
    assert_eq!(tops, vec![None, Some(3), Some(3)]);
    let q = validate_value(&aggs(vec![json!({"column": "qty"})]), &schema(), 7).unwrap();
    let tops: Vec<Option<usize>> = q.aggregations.iter().map(|a| a.top).collect();
    assert_eq!(tops, vec![None, Some(7), Some(7)]);

    // Typed aggregations do not expand.
    let q = ok(aggs(vec![
        json!({"column": "event", "type": "meanPerValue", "otherColumn": "price", "name": "m"}),
        json!({"column": "flag", "type": "count", "top": 4}),
    ]));
    assert_eq!(
        q.aggregations,
        vec![
            Aggregation {
                column: "event".into(),
                agg_type: AggregationType::MeanPerValue,
                other_column: Some("price".into()),
                top: Some(10),
                name: Some("m".into()),
            },
            Aggregation {
                column: "flag".into(),
                agg_type: AggregationType::Count,
                other_column: None,
                top: None,
                name: None,
            },
        ]
    );
}

#[test]
fn aggregation_names() {
    assert_one(
        aggs(vec![
            json!({"column": "event", "type": "count", "name": "x"}),
            json!({"column": "qty", "type": "countPerValue", "name": "y"}),
            json!({"column": "flag", "type": "count", "name": "x"}),
        ]),
        "query.aggregations[2].name",
        &["duplicate aggregation name 'x'", "aggregation 0"],
    );
    assert_one(
        json!({"funnel": {"sequence": [{"filter": ["event", "==", "a"]}], "stepAggregations": [
            {"column": "event", "type": "count", "name": "s"},
            {"column": "event", "type": "countPerValue", "name": "s"}
        ]}}),
        "funnel.stepAggregations[1].name",
        &["duplicate aggregation name 's'"],
    );
    // Lists are separate namespaces.
    ok(json!({
        "query": {"aggregations": [{"column": "event", "type": "count", "name": "n"}]},
        "funnel": {
            "sequence": [{"filter": ["event", "==", "a"]}],
            "stepAggregations": [{"column": "event", "type": "count", "name": "n"}],
            "endAggregations": [{"column": "event", "type": "count", "name": "n"}]
        }
    }));
    assert_one(
        aggs(vec![json!({"column": "event", "name": "all"})]),
        "query.aggregations[0].name",
        &["without 'type'", "cannot have a name"],
    );
    assert_one(
        aggs(vec![json!({"column": "event", "type": "count", "name": ""})]),
        "query.aggregations[0].name",
        &["non-empty string"],
    );
    assert_one(
        aggs(vec![json!({"column": "event", "type": "count", "name": 3})]),
        "query.aggregations[0].name",
        &["non-empty string"],
    );
}

#[test]
fn aggregation_other_column() {
    assert_one(
        aggs(vec![json!({"column": "event", "type": "sumPerValue"})]),
        "query.aggregations[0]",
        &["'sumPerValue' needs 'otherColumn'"],
    );
    assert_one(
        aggs(vec![json!({"column": "event", "type": "meanPerValue"})]),
        "query.aggregations[0]",
        &["'meanPerValue' needs 'otherColumn'"],
    );
    assert_one(
        aggs(vec![
            json!({"column": "event", "type": "countPerValue", "otherColumn": "price"}),
        ]),
        "query.aggregations[0].otherColumn",
        &["only allowed with sumPerValue and meanPerValue", "not countPerValue"],
    );
    assert_one(
        aggs(vec![
            json!({"column": "event", "type": "count", "otherColumn": "price"}),
        ]),
        "query.aggregations[0].otherColumn",
        &["not count"],
    );
    assert_one(
        aggs(vec![json!({"column": "event", "otherColumn": "price"})]),
        "query.aggregations[0].otherColumn",
        &["not the default aggregation"],
    );
    assert_one(
        aggs(vec![
            json!({"column": "qty", "type": "sumPerValue", "otherColumn": "event"}),
        ]),
        "query.aggregations[0].otherColumn",
        &["must be numeric", "'event' is STRING"],
    );
    assert_one(
        aggs(vec![
            json!({"column": "qty", "type": "meanPerValue", "otherColumn": "tags"}),
        ]),
        "query.aggregations[0].otherColumn",
        &["must be numeric", "'tags' is LIST<STRING>"],
    );
    let q = ok(aggs(vec![
        json!({"column": "event", "type": "sumPerValue", "otherColumn": "qty"}),
    ]));
    assert_eq!(q.aggregations[0].other_column.as_deref(), Some("qty"));
}

#[test]
fn aggregation_top_and_type() {
    for bad in [json!(0), json!(-1), json!("x"), json!(2.5), json!(true)] {
        assert_one(
            aggs(vec![json!({"column": "event", "type": "countPerValue", "top": bad})]),
            "query.aggregations[0].top",
            &["must be a positive integer"],
        );
    }
    assert_one(
        aggs(vec![json!({"column": "event", "type": "avg"})]),
        "query.aggregations[0].type",
        &["unknown aggregation type", "\"avg\"", "groupsPerValue"],
    );
    assert_one(
        aggs(vec![json!({"type": "count"})]),
        "query.aggregations[0]",
        &["needs 'column'"],
    );
    assert_one(
        aggs(vec![json!("event")]),
        "query.aggregations[0]",
        &["expected an object"],
    );
}

// ---------------------------------------------------------------------------------------------
// Sequences and funnel

#[test]
fn sequence_rules() {
    let neg = json!({"filter": ["event", "==", "a"], "rowFound": false});
    assert_one(
        cond(json!({"sequence": [neg.clone(), neg.clone()]})),
        "query.conditions[0].sequence",
        &["at least one positive step"],
    );
    assert_one(
        json!({"funnel": {"sequence": [neg.clone()]}}),
        "funnel.sequence",
        &["at least one positive step"],
    );
    assert_one(
        json!({"funnel": {"sequence": []}}),
        "funnel.sequence",
        &["at least one step"],
    );
    assert_one(
        json!({"funnel": {"sequence": [{"filter": ["event", "==", "a"], "filters": [["event", "==", "b"]]}]}}),
        "funnel.sequence[0]",
        &["exactly one of 'filter' or 'filters'"],
    );
    assert_one(
        json!({"funnel": {"sequence": [{"rowFound": true}]}}),
        "funnel.sequence[0]",
        &["exactly one of"],
    );
    assert_one(
        json!({"funnel": {"sequence": [{"filter": ["event", "==", "a"], "rowFound": "no"}]}}),
        "funnel.sequence[0].rowFound",
        &["expected a boolean"],
    );
    assert_one(json!({"funnel": {}}), "funnel", &["needs 'sequence'"]);
    // A negative step with positive ones is fine, anywhere.
    let q = ok(json!({"funnel": {"sequence": [neg.clone(), {"filter": ["event", "==", "b"]}, neg]}}));
    let steps = &q.funnel.unwrap().sequence.steps;
    assert_eq!(
        steps.iter().map(|s| s.row_found).collect::<Vec<_>>(),
        vec![false, true, false]
    );
}

#[test]
fn max_duration_must_be_positive() {
    let step = json!([{"filter": ["event", "==", "a"]}]);
    // Without the dataset's unit, a duration string says how to declare it.
    assert_one(
        json!({"funnel": {"sequence": step, "maxDuration": "1h"}}),
        "funnel.maxDuration",
        &["need the dataset's timestamp unit", "timestampUnit", "--timestamp-unit"],
    );
    for bad in [json!(0), json!(-5), json!(-0.5), json!(true)] {
        assert_one(
            json!({"funnel": {"sequence": step, "maxDuration": bad}}),
            "funnel.maxDuration",
            &["must be a positive number"],
        );
        assert_one(
            cond(json!({"sequence": step, "maxDuration": bad})),
            "query.conditions[0].maxDuration",
            &["must be a positive number"],
        );
    }
    let q = ok(json!({"funnel": {"sequence": step, "maxDuration": 86400000}}));
    assert_eq!(q.funnel.unwrap().sequence.max_duration, Some(86400000.0));
    let q = ok(json!({"funnel": {"sequence": step, "maxDuration": null}}));
    assert_eq!(q.funnel.unwrap().sequence.max_duration, None);
}

// ---------------------------------------------------------------------------------------------
// Timeframe

#[test]
fn timeframe_bounds() {
    assert_one(
        json!({"timeframe": {"from": 1.605e12, "to": 1.605e12}}),
        "timeframe",
        &["'from' (1605000000000) must be less than 'to' (1605000000000)"],
    );
    assert_one(
        json!({"timeframe": {"from": 1.607e12, "to": 1.601e12}}),
        "timeframe",
        &["must be less than"],
    );
    assert_one(
        json!({"timeframe": {"from": "2020-01-01"}}),
        "timeframe.from",
        &["need the dataset's timestamp unit"],
    );
    assert_one(
        json!({"timeframe": {"to": [1]}}),
        "timeframe.to",
        &["expected a number"],
    );
    assert!(ok(json!({"timeframe": {}})).timeframe.is_unbounded());
    assert!(ok(json!({"timeframe": {"from": null, "to": null}}))
        .timeframe
        .is_unbounded());
    assert_eq!(
        ok(json!({"timeframe": {"from": 1.6e12, "to": 1.61e12}})).timeframe,
        Timeframe {
            from: Some(1.6e12),
            to: Some(1.61e12)
        }
    );
    assert_eq!(
        ok(json!({"timeframe": {"to": 1605000000000i64}})).timeframe,
        Timeframe {
            from: None,
            to: Some(1.605e12)
        }
    );
}

#[test]
fn timeframe_in_the_wrong_unit() {
    assert_one(
        json!({"timeframe": {"from": 123}}),
        "timeframe.from",
        &["3 digits", "13", "same unit"],
    );
    assert_one(
        json!({"timeframe": {"from": 123456789012345i64}}),
        "timeframe.from",
        &["15 digits", "same unit"],
    );
    // Seconds instead of milliseconds.
    assert_one(json!({"timeframe": {"to": 1605000000}}), "timeframe.to", &["10 digits"]);
    // Both bounds wrong: both reported.
    let e = errs(json!({"timeframe": {"from": 1600000000, "to": 1610000000}}));
    assert_eq!(e.len(), 2, "{e:?}");
    assert_has(&e, "timeframe.from", &["10 digits"]);
    assert_has(&e, "timeframe.to", &["10 digits"]);
    // Without known bounds the scale cannot be checked.
    let mut s = schema();
    s.min_timestamp = None;
    s.max_timestamp = None;
    validate_value(&json!({"timeframe": {"from": 123}}), &s, 10).unwrap();
    // Seconds data accepts seconds.
    s.min_timestamp = Some(1.6e9);
    s.max_timestamp = Some(1.61e9);
    validate_value(&json!({"timeframe": {"from": 1605000000}}), &s, 10).unwrap();
    let e = validate_value(&json!({"timeframe": {"from": 1.605e12}}), &s, 10).unwrap_err();
    assert_eq!(e.0[0].path, "timeframe.from");
}

// ---------------------------------------------------------------------------------------------
// All errors at once

#[test]
fn all_errors_are_reported_at_once() {
    let q = json!({
        "timeframe": {"from": 1.61e12, "to": 1.6e12},
        "query": {
            "conditions": [
                {"filter": ["nope", "==", 1]},
                {"filter": ["qty", "contains", "x"], "name": "and"},
                {"filters": [], "target": ["count", "<", 0]},
                {"filter": ["event", "==", "a"], "target": ["count", ">=", 1], "includeZero": true}
            ],
            "aggregations": [
                {"column": "event", "type": "sumPerValue"},
                {"column": "event", "top": 0}
            ],
            "bogus": 1
        },
        "funnel": {
            "sequence": [{"filter": ["event", "==", "a"], "rowFound": false}],
            "maxDuration": 0,
            "extra": true,
            "endAggregations": [{"column": "price", "type": "count", "name": "p"},
                                {"column": "qty", "type": "count", "name": "p"}]
        }
    });
    let e = errs(q);
    let mut paths: Vec<&str> = e.iter().map(|e| e.path.as_str()).collect();
    paths.sort_unstable();
    let mut want = vec![
        "timeframe",
        "query.bogus",
        "query.conditions[0].filter",
        "query.conditions[1].name",
        "query.conditions[1].filter",
        "query.conditions[2].filters",
        "query.conditions[2].target",
        "query.conditions[3].includeZero",
        "query.aggregations[0]",
        "query.aggregations[1].top",
        "funnel.extra",
        "funnel.maxDuration",
        "funnel.sequence",
        "funnel.endAggregations[1].name",
    ];
    want.sort_unstable();
    assert_eq!(paths, want, "{e:#?}");
    assert_eq!(e.len(), 14);
    assert_has(&e, "query.conditions[2].target", &["never be satisfied"]);
    assert_has(&e, "query.conditions[1].filter", &["operator 'contains'"]);
    assert_has(&e, "funnel.sequence", &["positive step"]);
}

#[test]
fn relation_is_checked_even_when_conditions_are_invalid() {
    let e = errs(json!({"query": {
        "conditions": [{"filter": ["nope", "==", 1]}, {"filter": ["event", "==", "a"], "name": "ok"}],
        "relation": "$0 and"
    }}));
    assert_eq!(e.len(), 2, "{e:?}");
    assert_has(&e, "query.conditions[0].filter", &["unknown column"]);
    assert_has(&e, "query.relation", &["unexpected end", "at position 6"]);

    // References are resolved against the conditions as written.
    let e = errs(json!({"query": {
        "conditions": [{"filter": ["nope", "==", 1]}, {"filter": ["event", "==", "a"], "name": "ok"}],
        "relation": "$0 and ($OK or $2 or $other)"
    }}));
    assert_eq!(e.len(), 2, "{e:?}");
    assert_has(&e, "query.relation", &["unknown condition $2", "at position 15"]);

    let e = errs(json!({"query": {
        "conditions": [{"filter": ["nope", "==", 1]}, {"filter": ["event", "==", "a"], "name": "ok"}],
        "relation": "$0 or $ok"
    }}));
    assert_eq!(e.len(), 1, "{e:?}");

    // Not an array: only the relation's JSON type can be checked.
    let e = errs(json!({"query": {"conditions": 5, "relation": 7}}));
    assert_eq!(e.len(), 2, "{e:?}");
    assert_has(&e, "query.relation", &["expected a string"]);
}

#[test]
fn include_zero_is_checked_even_when_the_target_is_invalid() {
    let e = errs(cond(
        json!({"filter": ["event", "==", "a"], "target": ["count", "~", 1], "includeZero": "yes"}),
    ));
    assert_eq!(e.len(), 2, "{e:?}");
    assert_has(&e, "query.conditions[0].target", &["target op"]);
    assert_has(&e, "query.conditions[0].includeZero", &["expected a boolean"]);
}

#[test]
fn errors_display_with_their_path() {
    let e = validate_value(&filter(json!(["nope", "==", 1])), &schema(), 10).unwrap_err();
    let s = e.to_string();
    assert!(s.contains("1 error"), "{s}");
    assert!(s.contains("query.conditions[0].filter: unknown column 'nope'"), "{s}");
}

// ---------------------------------------------------------------------------------------------
// Columns and verbose form

#[test]
fn columns_lists_used_columns_once_in_order() {
    let q = ok(json!({
        "timeframe": {"from": 1.6e12},
        "query": {
            "conditions": [
                {"filter": ["event", "==", "a"]},
                {"filters": [["qty", ">", 1], ["event", "!=", "b"], ["ts", ">", 5]], "target": ["sum", "price", ">", 3]}
            ],
            "aggregations": [{"column": "flag"}, {"column": "event", "type": "sumPerValue", "otherColumn": "price"}]
        },
        "funnel": {
            "sequence": [{"filter": ["tags", "includes", "x"]}, {"filter": ["qty", "==", 2]}],
            "stepAggregations": [{"column": "uid", "type": "count"}],
            "endAggregations": [{"column": "ids"}]
        }
    }));
    assert_eq!(
        q.columns,
        vec!["uid", "ts", "event", "qty", "price", "flag", "tags", "ids"]
    );
    // Funnel-only use.
    let q = ok(json!({"funnel": {"sequence": [{"filter": ["flag", "==", true]}]}}));
    assert_eq!(q.columns, vec!["uid", "ts", "flag"]);
}

#[test]
fn verbose_and_shorthand_forms_are_equal() {
    let short = json!({
        "query": {
            "conditions": [
                {"filter": ["event", "==", "a"], "target": ["count", ">=", 2]},
                {"filters": [["price", ">", 1], ["tags", "includes", "t"]], "target": ["sum", "qty", "<", 10], "name": "s"},
                {"filter": ["event", "==", "z"]},
                {"sequence": [{"filter": ["event", "==", "a"]}, {"filter": ["event", "==", "b"], "rowFound": false}, {"filter": ["event", "==", "c"]}], "maxDuration": 1000}
            ],
            "aggregations": [{"column": "event"}]
        },
        "funnel": {
            "sequence": [{"filter": ["event", "==", "a"]}],
            "endAggregations": [{"column": "qty", "top": 5}]
        }
    });
    let verbose = json!({
        "timeframe": {},
        "query": {
            "relation": "and",
            "conditions": [
                {"filter": {"column": "event", "op": "==", "value": "a"}, "target": {"type": "count", "op": ">=", "value": 2}, "includeZero": false},
                {"filters": [{"column": "price", "op": ">", "value": 1.0}, {"column": "tags", "op": "includes", "value": "t"}],
                 "target": {"type": "sum", "column": "qty", "op": "<", "value": 10}, "name": "s"},
                {"filters": [{"column": "event", "op": "==", "value": "z"}], "target": ["count", ">=", 1]},
                {"sequence": [{"filters": [["event", "==", "a"]], "rowFound": true}, {"filter": {"column": "event", "op": "==", "value": "b"}, "rowFound": false}, {"filter": ["event", "==", "c"]}], "maxDuration": 1000.0}
            ],
            "aggregations": [
                {"column": "event", "type": "count"},
                {"column": "event", "type": "countPerValue", "top": 10},
                {"column": "event", "type": "groupsPerValue"}
            ]
        },
        "funnel": {
            "sequence": [{"filter": {"column": "event", "op": "==", "value": "a"}}],
            "maxDuration": null,
            "stepAggregations": [],
            "endAggregations": [
                {"column": "qty", "type": "count", "top": 5},
                {"column": "qty", "type": "countPerValue", "top": 5},
                {"column": "qty", "type": "groupsPerValue", "top": 5}
            ]
        }
    });
    let a = ok(short);
    let b = ok(verbose);
    assert_eq!(a, b);
    // And the text entry point gives the same.
    assert_eq!(
        validate_query(
            &serde_json::to_string(&json!({"query": {"aggregations": [{"column": "event"}]}})).unwrap(),
            &schema(),
            10
        )
        .unwrap(),
        ok(json!({"query": {"aggregations": [{"column": "event"}]}}))
    );
}

// ---------------------------------------------------------------------------------------------
// Property tests: arbitrary input never panics and always gets a useful answer

const KEYS: &[&str] = &[
    "query",
    "conditions",
    "filter",
    "filters",
    "sequence",
    "target",
    "includeZero",
    "name",
    "maxDuration",
    "rowFound",
    "funnel",
    "stepAggregations",
    "endAggregations",
    "aggregations",
    "relation",
    "timeframe",
    "from",
    "to",
    "column",
    "otherColumn",
    "type",
    "top",
    "op",
    "value",
];

const STRINGS: &[&str] = &[
    "uid",
    "ts",
    "event",
    "price",
    "qty",
    "flag",
    "tags",
    "ids",
    "day",
    "nope",
    "==",
    "!=",
    ">",
    ">=",
    "<",
    "<=",
    "contains",
    "not contains",
    "regex",
    "includes",
    "not includes",
    "count",
    "sum",
    "countPerValue",
    "groupsPerValue",
    "sumPerValue",
    "meanPerValue",
    "and",
    "or",
    "$0",
    "$0 and not $1",
    "($0 || $x",
    "(",
    "[",
    "",
    "é",
];

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(KEYS).prop_map(str::to_string),
        1 => "[a-zA-Z]{0,8}",
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        prop::sample::select(vec![0i64, 1, -1, 2, 3, 10, 123, 1_605_000_000_000, i64::MAX, i64::MIN])
            .prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f).map(Value::Number)),
        prop::sample::select(STRINGS).prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(6, 96, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// A root object drawn from the real top-level keys, to get deeper into the validator.
fn query_like() -> impl Strategy<Value = Value> {
    prop::collection::vec(
        (
            prop::sample::select(vec!["query", "funnel", "timeframe", "conditions"]),
            json_value(),
        ),
        0..4,
    )
    .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()))
}

fn check_outcome(v: &Value, r: Result<ValidatedQuery, frocket_engine::ValidationErrors>) {
    match r {
        Ok(q) => {
            assert_eq!(&q.columns[..2], &["uid".to_string(), "ts".to_string()], "{v}");
            let mut seen = q.columns.clone();
            seen.sort();
            seen.dedup();
            assert_eq!(seen.len(), q.columns.len(), "duplicate columns for {v}");
        }
        Err(e) => {
            assert!(!e.0.is_empty(), "no errors for {v}");
            for err in &e.0 {
                assert!(!err.message.trim().is_empty(), "empty message at {} for {v}", err.path);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_json_values_never_panic(v in json_value()) {
        let r = validate_value(&v, &schema(), 10);
        check_outcome(&v, r);
    }

    #[test]
    fn arbitrary_query_like_values_never_panic(v in query_like()) {
        let r = validate_value(&v, &schema(), 10);
        check_outcome(&v, r);
    }

    #[test]
    fn arbitrary_text_never_panics(s in ".{0,200}") {
        match validate_query(&s, &schema(), 10) {
            Ok(q) => prop_assert_eq!(&q.columns[..2], &["uid".to_string(), "ts".to_string()]),
            Err(e) => {
                prop_assert!(!e.0.is_empty());
                prop_assert!(e.0.iter().all(|e| !e.message.trim().is_empty()));
            }
        }
    }

    #[test]
    fn truncated_query_text_is_malformed_json(v in query_like(), cut in any::<prop::sample::Index>()) {
        let text = v.to_string();
        let chars: Vec<char> = text.chars().collect();
        let cut = cut.index(chars.len());
        let prefix: String = chars[..cut].iter().collect();
        let e = validate_query(&prefix, &schema(), 10).unwrap_err().0;
        prop_assert_eq!(e.len(), 1);
        prop_assert_eq!(e[0].path.as_str(), "");
        prop_assert!(e[0].message.contains("malformed JSON at line 1 column"), "{}", e[0].message);
    }

    #[test]
    fn arbitrary_relations_never_panic(r in "[$0-9a-zA-Z()&|! \t]{0,40}") {
        match validate_value(&relation(json!(r)), &schema(), 10) {
            Ok(_) => {}
            Err(e) => {
                prop_assert_eq!(e.0.len(), 1);
                prop_assert_eq!(e.0[0].path.as_str(), "query.relation");
                let m = &e.0[0].message;
                let pos: usize = m
                    .split("at position ")
                    .nth(1)
                    .and_then(|s| s.split(' ').next())
                    .and_then(|s| s.parse().ok())
                    .unwrap_or_else(|| panic!("no position in {m:?}"));
                prop_assert!(pos <= r.chars().count(), "position {} beyond {:?}", pos, r);
            }
        }
    }
}

#[test]
fn deeply_nested_relation_is_an_error_not_a_stack_overflow() {
    use frocket_engine::query::MAX_RELATION_DEPTH;
    assert_eq!(MAX_RELATION_DEPTH, 100);
    // At the limit: accepted.
    let half = MAX_RELATION_DEPTH / 2;
    let r = format!("{}{}$0{}", "(".repeat(half), "not ".repeat(half), ")".repeat(half));
    ok(relation(json!(r)));
    // One level more: an error pointing at the level that is too deep.
    let r = format!("{}$0", "not ".repeat(MAX_RELATION_DEPTH + 1));
    assert_one(
        relation(json!(r)),
        "query.relation",
        &["nested too deeply", &format!("at position {}", 4 * MAX_RELATION_DEPTH)],
    );
    let r = format!(
        "$1 or {}$0{}",
        "(".repeat(MAX_RELATION_DEPTH + 1),
        ")".repeat(MAX_RELATION_DEPTH + 1)
    );
    assert_one(
        relation(json!(r)),
        "query.relation",
        &["nested too deeply", &format!("at position {}", 6 + MAX_RELATION_DEPTH)],
    );
    // Far beyond it (this used to abort the whole process with a stack overflow), with the
    // relation length limit lifted so that the parser sees it.
    let unbounded = frocket_engine::query::QueryLimits {
        max_relation_chars: usize::MAX,
        ..Default::default()
    };
    for r in [
        format!("{}$0", "not ".repeat(100_000)),
        format!("{}$0", "!".repeat(100_000)),
        format!("{}$0{}", "(".repeat(100_000), ")".repeat(100_000)),
    ] {
        let e = frocket_engine::query::validate_value_with(&relation(json!(r)), &schema(), 10, &unbounded)
            .unwrap_err()
            .0;
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].path, "query.relation");
        assert!(e[0].message.contains("nested too deeply"), "{}", &e[0].message[..200]);
    }
}

/// Every limit of query-language.md "Limits", at its default: just under passes, just over
/// fails with one error at the JSON path of what is too big, naming the variable that sets it.
#[test]
fn limits_just_under_pass_just_over_fail_with_their_path() {
    let step = || json!({"filter": ["event", "==", "a"]});
    let sequence = |n: usize| json!({"funnel": {"sequence": (0..n).map(|_| step()).collect::<Vec<_>>()}});
    ok(sequence(64));
    assert_one(
        sequence(65),
        "funnel.sequence",
        &["65 steps", "64", "FROCKET_QUERY_MAX_STEPS"],
    );
    let seq_cond = |n: usize| cond(json!({"sequence": (0..n).map(|_| step()).collect::<Vec<_>>()}));
    ok(seq_cond(64));
    assert_one(
        seq_cond(65),
        "query.conditions[0].sequence",
        &["FROCKET_QUERY_MAX_STEPS"],
    );

    let many = |n: usize| conds((0..n).map(|_| json!({"filter": ["event", "==", "a"]})).collect());
    ok(many(100));
    assert_one(
        many(101),
        "query.conditions",
        &["101 conditions", "FROCKET_QUERY_MAX_CONDITIONS"],
    );

    let filters = |n: usize| cond(json!({"filters": (0..n).map(|_| json!(["event", "==", "a"])).collect::<Vec<_>>()}));
    ok(filters(100));
    assert_one(
        filters(101),
        "query.conditions[0].filters",
        &["FROCKET_QUERY_MAX_FILTERS"],
    );

    let agg = || json!({"column": "event", "type": "count"});
    ok(aggs((0..100).map(|_| agg()).collect()));
    assert_one(
        aggs((0..101).map(|_| agg()).collect()),
        "query.aggregations",
        &["101 aggregations", "FROCKET_QUERY_MAX_AGGREGATIONS"],
    );
    let step_aggs = |n: usize| json!({"funnel": {"sequence": [step()], "stepAggregations": (0..n).map(|_| agg()).collect::<Vec<_>>()}});
    ok(step_aggs(100));
    assert_one(
        step_aggs(101),
        "funnel.stepAggregations",
        &["FROCKET_QUERY_MAX_AGGREGATIONS"],
    );

    // A relation of `terms` references to 2 conditions, padded with spaces to `chars`.
    let relation = |terms: usize, chars: usize| {
        let mut r = (0..terms)
            .map(|i| format!("${}", i % 2))
            .collect::<Vec<_>>()
            .join(" or ");
        assert!(r.len() <= chars, "relation of {terms} terms is longer than {chars}");
        r.push_str(&" ".repeat(chars - r.len()));
        json!({"query": {"conditions": [{"filter": ["event", "==", "a"]}, {"filter": ["event", "==", "b"]}], "relation": r}})
    };
    ok(relation(1000, 10_000));
    assert_one(
        relation(1001, 10_000),
        "query.relation",
        &["1001 terms", "FROCKET_QUERY_MAX_RELATION_TERMS"],
    );
    assert_one(
        relation(2, 10_001),
        "query.relation",
        &["10001 characters", "FROCKET_QUERY_MAX_RELATION_CHARS"],
    );

    let regex = |p: String| filter(json!(["event", "regex", p]));
    ok(regex("a".repeat(1000)));
    assert_one(
        regex("a".repeat(1001)),
        "query.conditions[0].filter",
        &["1001 characters", "FROCKET_QUERY_MAX_REGEX_CHARS"],
    );
    // Short to write, huge once compiled (Unicode classes repeated).
    assert_one(
        regex(r"\w{100}\w{100}\w{100}".into()),
        "query.conditions[0].filter",
        &["compiles to more than 1048576 bytes", "FROCKET_QUERY_MAX_REGEX_BYTES"],
    );

    let top = |n: u64| aggs(vec![json!({"column": "event", "type": "countPerValue", "top": n})]);
    ok(top(10_000));
    assert_one(
        top(10_001),
        "query.aggregations[0].top",
        &["10001", "FROCKET_QUERY_MAX_TOP"],
    );
}

/// The limits are the operator's: smaller ones are applied the same way.
#[test]
fn configured_limits_apply() {
    use frocket_engine::query::{validate_value_with, QueryLimits};
    let limits = QueryLimits {
        max_steps: 2,
        max_conditions: 1,
        ..QueryLimits::default()
    };
    let step = json!({"filter": ["event", "==", "a"]});
    let q = json!({"query": {"conditions": [{"sequence": [step, step]}]}});
    assert!(validate_value_with(&q, &schema(), 10, &limits).is_ok());
    let q = json!({"query": {"conditions": [{"sequence": [step, step, step]}]}});
    let e = validate_value_with(&q, &schema(), 10, &limits).unwrap_err();
    assert_eq!(e.0[0].path, "query.conditions[0].sequence");
    let q = json!({"query": {"conditions": [{"filter": ["event", "==", "a"]}, {"filter": ["event", "==", "b"]}]}});
    let e = validate_value_with(&q, &schema(), 10, &limits).unwrap_err();
    assert_eq!(e.0[0].path, "query.conditions");
}

/// The query of the report that started the limits: one sequence condition of 5,000 steps
/// (185 KB) is refused by validation, with its path, before anything runs.
#[test]
fn a_five_thousand_step_sequence_is_refused() {
    let steps: Vec<Value> = (0..5000)
        .map(|i| json!({"filter": ["event", "==", format!("e{i}")]}))
        .collect();
    assert_one(
        cond(json!({"sequence": steps})),
        "query.conditions[0].sequence",
        &["5000 steps"],
    );
}

// ---------------------------------------------------------------- sequence options

/// A funnel over `event` steps with extra keys beside `sequence`.
fn funnel_with(steps: Value, extra: Value) -> Value {
    let mut f = json!({ "sequence": steps });
    for (k, v) in extra.as_object().unwrap() {
        f[k] = v.clone();
    }
    json!({ "funnel": f })
}

#[test]
fn within_goes_on_a_later_positive_step_and_is_not_negative() {
    let q = ok(
        json!({"funnel": {"sequence": [{"filter": ["event", "==", "a"]}, {"filter": ["event", "==", "b"], "within": 600000}]}}),
    );
    assert_eq!(q.funnel.unwrap().sequence.steps[1].within, Some(600000.0));
    // 0 is allowed (the next distinct time is never within 0: the step is unreachable, as asked).
    ok(
        json!({"funnel": {"sequence": [{"filter": ["event", "==", "a"]}, {"filter": ["event", "==", "b"], "within": 0}]}}),
    );
    assert_one(
        json!({"funnel": {"sequence": [{"filter": ["event", "==", "a"], "within": 5}, {"filter": ["event", "==", "b"]}]}}),
        "funnel.sequence[0].within",
        &["first positive step", "maxDuration"],
    );
    // After a leading negative step, the first positive step is still the first.
    assert_one(
        json!({"funnel": {"sequence": [{"filter": ["event", "==", "x"], "rowFound": false}, {"filter": ["event", "==", "a"], "within": 5}]}}),
        "funnel.sequence[1].within",
        &["first positive step"],
    );
    assert_one(
        json!({"funnel": {"sequence": [{"filter": ["event", "==", "a"]}, {"filter": ["event", "==", "x"], "rowFound": false, "within": 5}, {"filter": ["event", "==", "b"]}]}}),
        "funnel.sequence[1].within",
        &["negative step"],
    );
    for bad in [json!(-1), json!(true)] {
        assert_one(
            cond(
                json!({"sequence": [{"filter": ["event", "==", "a"]}, {"filter": ["event", "==", "b"], "within": bad}]}),
            ),
            "query.conditions[0].sequence[1].within",
            &["number >= 0"],
        );
    }
    assert_one(
        cond(
            json!({"sequence": [{"filter": ["event", "==", "a"]}, {"filter": ["event", "==", "b"], "within": "10m"}]}),
        ),
        "query.conditions[0].sequence[1].within",
        &["need the dataset's timestamp unit"],
    );
}

#[test]
fn hold_constant_takes_one_to_four_distinct_scalar_columns() {
    let steps = json!([{"filter": ["event", "==", "a"]}, {"filter": ["event", "==", "b"]}]);
    let q = ok(funnel_with(
        steps.clone(),
        json!({"holdConstant": ["qty", "flag", "event"]}),
    ));
    assert_eq!(q.funnel.unwrap().sequence.hold_constant, vec!["qty", "flag", "event"]);
    // The held columns are read.
    let q = ok(funnel_with(steps.clone(), json!({"holdConstant": ["flag"]})));
    assert!(q.columns.contains(&"flag".to_string()));
    assert_one(
        funnel_with(steps.clone(), json!({"holdConstant": []})),
        "funnel.holdConstant",
        &["1 to 4"],
    );
    assert_one(
        funnel_with(
            steps.clone(),
            json!({"holdConstant": ["qty", "flag", "event", "uid", "ts"]}),
        ),
        "funnel.holdConstant",
        &["1 to 4", "found 5"],
    );
    assert_one(
        funnel_with(steps.clone(), json!({"holdConstant": "qty"})),
        "funnel.holdConstant",
        &["array"],
    );
    assert_one(
        funnel_with(steps.clone(), json!({"holdConstant": ["qty", "qty"]})),
        "funnel.holdConstant[1]",
        &["twice"],
    );
    assert_one(
        funnel_with(steps.clone(), json!({"holdConstant": ["price"]})),
        "funnel.holdConstant[0]",
        &["FLOAT", "INT, STRING or BOOL"],
    );
    assert_one(
        funnel_with(steps.clone(), json!({"holdConstant": ["tags"]})),
        "funnel.holdConstant[0]",
        &["LIST<STRING>"],
    );
    assert_one(
        funnel_with(steps.clone(), json!({"holdConstant": ["uid"]})),
        "funnel.holdConstant[0]",
        &["group id"],
    );
    assert_one(
        funnel_with(steps.clone(), json!({"holdConstant": ["ts"]})),
        "funnel.holdConstant[0]",
        &["timestamp"],
    );
    assert_one(
        funnel_with(steps, json!({"holdConstant": ["nope"]})),
        "funnel.holdConstant[0]",
        &["unknown column 'nope'"],
    );
    // On a filter condition: not allowed.
    assert_one(
        cond(json!({"filter": ["event", "==", "a"], "holdConstant": ["qty"]})),
        "query.conditions[0].holdConstant",
        &["sequence condition or the funnel"],
    );
}

#[test]
fn order_is_ordered_or_strict() {
    let steps = json!([{"filter": ["event", "==", "a"]}, {"filter": ["event", "==", "b"]}]);
    ok(funnel_with(steps.clone(), json!({"order": "ordered"})));
    let q = ok(cond(json!({"sequence": steps.clone(), "order": "strict"})));
    match &q.conditions[0].kind {
        ConditionKind::Sequence(s) => assert_eq!(s.order, frocket_engine::query::Order::Strict),
        other => panic!("{other:?}"),
    }
    assert_one(
        funnel_with(steps, json!({"order": "any"})),
        "funnel.order",
        &["\"ordered\" or \"strict\"", "any"],
    );
}

#[test]
fn conversion_time_is_true_or_bins_on_the_funnel_only() {
    let steps = json!([{"filter": ["event", "==", "a"]}, {"filter": ["event", "==", "b"]}]);
    let q = ok(funnel_with(steps.clone(), json!({"conversionTime": true})));
    assert_eq!(q.funnel.unwrap().conversion_time.unwrap().bins, Vec::<f64>::new());
    let q = ok(funnel_with(
        steps.clone(),
        json!({"conversionTime": {"bins": [1, 2.5, 60000]}}),
    ));
    assert_eq!(q.funnel.unwrap().conversion_time.unwrap().bins, vec![1.0, 2.5, 60000.0]);
    // false: no conversion times, as without the key.
    assert!(ok(funnel_with(steps.clone(), json!({"conversionTime": false})))
        .funnel
        .unwrap()
        .conversion_time
        .is_none());
    assert_one(
        funnel_with(steps.clone(), json!({"conversionTime": {"bins": []}})),
        "funnel.conversionTime.bins",
        &["1 to 32"],
    );
    let many: Vec<i64> = (1..=33).collect();
    assert_one(
        funnel_with(steps.clone(), json!({"conversionTime": {"bins": many}})),
        "funnel.conversionTime.bins",
        &["1 to 32", "found 33"],
    );
    assert_one(
        funnel_with(steps.clone(), json!({"conversionTime": {"bins": [10, 5]}})),
        "funnel.conversionTime.bins[1]",
        &["strictly increase"],
    );
    assert_one(
        funnel_with(steps.clone(), json!({"conversionTime": {"bins": [10, 10]}})),
        "funnel.conversionTime.bins[1]",
        &["strictly increase"],
    );
    assert_one(
        funnel_with(steps.clone(), json!({"conversionTime": {"bins": [0, 10]}})),
        "funnel.conversionTime.bins[0]",
        &["positive number"],
    );
    assert_one(
        funnel_with(steps.clone(), json!({"conversionTime": {}})),
        "funnel.conversionTime",
        &["'bins'"],
    );
    assert_one(
        funnel_with(steps.clone(), json!({"conversionTime": {"bins": [1], "unit": "ms"}})),
        "funnel.conversionTime.unit",
        &["unknown key"],
    );
    assert_one(
        funnel_with(steps.clone(), json!({"conversionTime": "yes"})),
        "funnel.conversionTime",
        &["true or an object"],
    );
    assert_one(
        cond(json!({"sequence": steps, "conversionTime": true})),
        "query.conditions[0].conversionTime",
        &["only allowed on the funnel"],
    );
}

#[test]
fn sequence_options_errors_are_all_reported_at_once() {
    let e = errs(json!({"funnel": {
        "sequence": [{"filter": ["event", "==", "a"], "within": 1}, {"filter": ["event", "==", "b"], "within": -1}],
        "holdConstant": ["price"], "order": "loose", "conversionTime": {"bins": [0]}
    }}));
    assert_has(&e, "funnel.sequence[0].within", &["first positive step"]);
    assert_has(&e, "funnel.sequence[1].within", &["number >= 0"]);
    assert_has(&e, "funnel.holdConstant[0]", &["FLOAT"]);
    assert_has(&e, "funnel.order", &["strict"]);
    assert_has(&e, "funnel.conversionTime.bins[0]", &["positive"]);
}

#[test]
fn a_query_without_the_options_serializes_as_before() {
    // The verbose form of a plain sequence has none of the new keys.
    let q = ok(
        json!({"funnel": {"sequence": [{"filter": ["event", "==", "a"]}, {"filter": ["event", "==", "b"]}], "maxDuration": 5}}),
    );
    let v = serde_json::to_value(&q).unwrap();
    assert_eq!(
        v["funnel"],
        json!({"sequence": {"steps": [
            {"filters": [{"column": "event", "op": "==", "value": "a"}], "rowFound": true},
            {"filters": [{"column": "event", "op": "==", "value": "b"}], "rowFound": true}
        ], "maxDuration": 5.0}, "stepAggregations": [], "endAggregations": []})
    );
}

// ---------------------------------------------------------------------------------------------
// Time units

/// The test dataset declared in `unit` (its `ts` column is INT).
fn with_unit(q: Value, unit: frocket_engine::time::TimeUnit) -> Result<ValidatedQuery, Vec<ValidationError>> {
    let mut s = schema();
    s.timestamp_unit = Some(unit);
    validate_value(&q, &s, 10).map_err(|e| e.0)
}

#[test]
fn durations_and_dates_as_strings_with_a_known_unit() {
    use frocket_engine::time::TimeUnit::{Millis, Seconds};
    let q = json!({
        "timeframe": {"from": "2020-11-10", "to": "2020-11-10T12:00:00+01:00"},
        "funnel": {"sequence": [{"filter": ["event", "==", "a"]}, {"filter": ["event", "==", "b"], "within": "90s"}],
                   "maxDuration": "1.5h", "conversionTime": {"bins": ["1m", "1h", "7d"]}}});
    let v = with_unit(q, Millis).unwrap();
    assert_eq!(v.timeframe.from, Some(1_604_966_400_000.0));
    assert_eq!(v.timeframe.to, Some(1_604_966_400_000.0 + 11.0 * 3_600_000.0));
    let f = v.funnel.unwrap();
    assert_eq!(f.sequence.max_duration, Some(5_400_000.0));
    assert_eq!(f.sequence.steps[1].within, Some(90_000.0));
    assert_eq!(
        f.conversion_time.unwrap().bins,
        vec![60_000.0, 3_600_000.0, 604_800_000.0]
    );

    // Every error at its path, all at once.
    let q = json!({
        "timeframe": {"from": "2020-11-10T00:00:00", "to": "2020-02-30"},
        "funnel": {"sequence": [{"filter": ["event", "==", "a"]}, {"filter": ["event", "==", "b"], "within": "250ms"}],
                   "maxDuration": "1.5 hours", "conversionTime": {"bins": ["1h", "1m"]}}});
    let e = with_unit(q, Seconds).unwrap_err();
    assert_has(&e, "timeframe.from", &["offset"]);
    assert_has(&e, "timeframe.to", &["not a date"]);
    assert_has(&e, "funnel.sequence[1].within", &["not a whole number of s"]);
    assert_has(&e, "funnel.maxDuration", &["is not a duration", "\"1.5h\""]);
    assert_has(&e, "funnel.conversionTime.bins[1]", &["strictly increase"]);
    assert_eq!(e.len(), 5, "{e:?}");
}
