//! Validation of a query (JSON) against a dataset's schema.
//!
//! The validator walks the JSON once, collects every problem it can find (each with its JSON
//! path), expands shorthands into the verbose model and lists the columns the query reads.

use serde_json::{Map, Value};

use super::limits::{too_many, QueryLimits, REGEX_SIZE_HARD_LIMIT};
use super::model::*;
use super::relation::parse_relation;
use crate::error::{ValidationError, ValidationErrors};
use crate::schema::{ColumnType, DatasetSchema};

/// Most columns a sequence may hold constant.
const MAX_HELD: usize = 4;

/// Most histogram bin edges of `conversionTime`.
const MAX_BINS: usize = 32;

/// Words that cannot be condition names.
const KEYWORDS: [&str; 3] = ["and", "or", "not"];

/// Parses and validates a query given as JSON text.
///
/// `top_default` is the `top` used by per-value aggregations that do not set one.
///
/// ```
/// use arrow::datatypes::{DataType, Field, Schema};
/// use frocket_engine::{validate_query, DatasetSchema};
/// let schema = DatasetSchema::from_arrow(&Schema::new(vec![
///     Field::new("uid", DataType::Int64, false),
///     Field::new("ts", DataType::Int64, false),
/// ]), "uid", "ts").unwrap();
/// let err = validate_query(r#"{"query": {"conditions": [{"filter": ["nope", "==", 1]}]}}"#, &schema, 10).unwrap_err();
/// assert_eq!(err.0[0].path, "query.conditions[0].filter");
/// ```
pub fn validate_query(
    text: &str,
    schema: &DatasetSchema,
    top_default: usize,
) -> Result<ValidatedQuery, ValidationErrors> {
    validate_query_with(text, schema, top_default, &QueryLimits::default())
}

/// [`validate_query`] against the given [`QueryLimits`] (the operator's `FROCKET_QUERY_MAX_*`).
///
/// ```
/// use frocket_engine::query::{validate_query_with, QueryLimits};
/// use arrow::datatypes::{DataType, Field, Schema};
/// let schema = frocket_engine::DatasetSchema::from_arrow(&Schema::new(vec![
///     Field::new("uid", DataType::Int64, false),
///     Field::new("ts", DataType::Int64, false),
///     Field::new("e", DataType::Utf8, true),
/// ]), "uid", "ts").unwrap();
/// let limits = QueryLimits { max_steps: 2, ..QueryLimits::default() };
/// let step = serde_json::json!({"filter": ["e", "==", "a"]});
/// let q = serde_json::json!({"funnel": {"sequence": [step, step, step]}}).to_string();
/// let e = validate_query_with(&q, &schema, 10, &limits).unwrap_err();
/// assert_eq!(e.0[0].path, "funnel.sequence");
/// ```
pub fn validate_query_with(
    text: &str,
    schema: &DatasetSchema,
    top_default: usize,
    limits: &QueryLimits,
) -> Result<ValidatedQuery, ValidationErrors> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        ValidationErrors(vec![ValidationError::new(
            "",
            format!("malformed JSON at line {} column {}: {}", e.line(), e.column(), e),
        )])
    })?;
    validate_value_with(&value, schema, top_default, limits)
}

/// Validates a query already parsed into a JSON value. See [`validate_query`].
pub fn validate_value(
    value: &Value,
    schema: &DatasetSchema,
    top_default: usize,
) -> Result<ValidatedQuery, ValidationErrors> {
    validate_value_with(value, schema, top_default, &QueryLimits::default())
}

/// [`validate_value`] against the given [`QueryLimits`].
pub fn validate_value_with(
    value: &Value,
    schema: &DatasetSchema,
    top_default: usize,
    limits: &QueryLimits,
) -> Result<ValidatedQuery, ValidationErrors> {
    let mut v = Validator {
        schema,
        errors: Vec::new(),
        columns: Vec::new(),
        top_default,
        limits,
    };
    v.use_column(&schema.group_id_column);
    v.use_column(&schema.timestamp_column);
    let q = v.root(value);
    if v.errors.is_empty() {
        if let Some(mut q) = q {
            q.columns = v.columns;
            return Ok(q);
        }
    }
    if v.errors.is_empty() {
        v.errors.push(ValidationError::new("", "invalid query"));
    }
    Err(ValidationErrors(v.errors))
}

struct Validator<'a> {
    schema: &'a DatasetSchema,
    errors: Vec<ValidationError>,
    columns: Vec<String>,
    top_default: usize,
    limits: &'a QueryLimits,
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn idx(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

/// An integral JSON number as i64 (accepts `5` and `5.0`).
fn as_integer(v: &Value) -> Option<i64> {
    let n = v.as_number()?;
    if let Some(i) = n.as_i64() {
        return Some(i);
    }
    let f = n.as_f64()?;
    (f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64)
}

fn digits(x: f64) -> usize {
    let a = x.abs().trunc();
    if a < 1.0 {
        1
    } else {
        a.log10().floor() as usize + 1
    }
}

impl Validator<'_> {
    fn err(&mut self, path: impl Into<String>, msg: impl Into<String>) {
        self.errors.push(ValidationError::new(path, msg));
    }

    /// Whether the timestamp column holds integers (durations must be whole units of it).
    fn integral_time(&self) -> bool {
        self.schema.column_type(&self.schema.timestamp_column) != Some(ColumnType::Float)
    }

    /// A duration: a number in the timestamps' unit, or a string like `"90s"` / `"1.5h"` /
    /// `"7d"` when the dataset knows its unit (converted exactly). `None` (an error at `path`
    /// recorded) when it is neither; the caller checks the range.
    fn duration(&mut self, v: &Value, path: &str) -> Option<f64> {
        self.time_value(v, path, "durations as strings", crate::time::parse_duration)
    }

    /// A timeframe bound: a number in the timestamps' unit, or an ISO-8601 date-time with an
    /// offset or `Z`, or a date, when the dataset knows its unit.
    fn instant(&mut self, v: &Value, path: &str) -> Option<f64> {
        self.time_value(v, path, "dates as bounds", crate::time::parse_instant)
    }

    /// A number as it is, or a string converted by `parse` in the dataset's timestamp unit
    /// (`what` names such strings in the error when the unit is unknown).
    fn time_value(
        &mut self,
        v: &Value,
        path: &str,
        what: &str,
        parse: fn(&str, crate::time::TimeUnit, bool) -> Result<f64, String>,
    ) -> Option<f64> {
        let Value::String(s) = v else {
            return v.as_f64();
        };
        let Some(unit) = self.schema.timestamp_unit else {
            self.err(
                path,
                format!(
                    "{what} (\"{s}\") need the dataset's timestamp unit, which is unknown: declare it when registering (\"timestampUnit\": \"ms\" in the register body, frocket register --timestamp-unit ms) or write a number in the timestamp column's unit"
                ),
            );
            return None;
        };
        parse(s, unit, self.integral_time()).map_err(|e| self.err(path, e)).ok()
    }

    fn use_column(&mut self, c: &str) {
        if !self.columns.iter().any(|x| x == c) {
            self.columns.push(c.to_string());
        }
    }

    /// Checks `v` is an object with only `allowed` keys.
    fn object<'v>(&mut self, v: &'v Value, path: &str, allowed: &[&str]) -> Option<&'v Map<String, Value>> {
        let Some(m) = v.as_object() else {
            self.err(path, format!("expected an object, found {}", json_type(v)));
            return None;
        };
        for k in m.keys() {
            if !allowed.contains(&k.as_str()) {
                self.err(
                    join(path, k),
                    format!("unknown key '{k}'; allowed keys: {}", allowed.join(", ")),
                );
            }
        }
        Some(m)
    }

    fn root(&mut self, v: &Value) -> Option<ValidatedQuery> {
        let m = self.object(v, "", &["timeframe", "query", "funnel"])?;
        let timeframe = match m.get("timeframe") {
            Some(t) => self.timeframe(t, "timeframe"),
            None => Some(Timeframe::default()),
        };
        let (conditions, relation, aggregations) = match m.get("query") {
            Some(q) => self.query(q, "query"),
            None => (Some(vec![]), Some(Relation::And), Some(vec![])),
        };
        let funnel = match m.get("funnel") {
            Some(f) => self.funnel(f, "funnel").map(Some),
            None => Some(None),
        };
        Some(ValidatedQuery {
            timeframe: timeframe?,
            conditions: conditions?,
            relation: relation?,
            aggregations: aggregations?,
            funnel: funnel?,
            group_id_column: self.schema.group_id_column.clone(),
            timestamp_column: self.schema.timestamp_column.clone(),
            columns: vec![],
        })
    }

    fn timeframe(&mut self, v: &Value, path: &str) -> Option<Timeframe> {
        let m = self.object(v, path, &["from", "to"])?;
        let mut tf = Timeframe::default();
        let mut ok = true;
        for (key, slot) in [("from", &mut tf.from), ("to", &mut tf.to)] {
            let p = join(path, key);
            match m.get(key) {
                None | Some(Value::Null) => {}
                Some(x @ Value::String(_)) => match self.instant(x, &p) {
                    Some(f) => *slot = Some(f),
                    None => ok = false,
                },
                Some(x) => match x.as_f64() {
                    Some(f) if f.is_finite() => {
                        if let (Some(min), Some(max)) = (self.schema.min_timestamp, self.schema.max_timestamp) {
                            let (dmin, dmax) = (digits(min), digits(max));
                            let d = digits(f);
                            if d < dmin.min(dmax) || d > dmax.max(dmin) {
                                self.errors.push(ValidationError::new(
                                    p.clone(),
                                    format!(
                                        "{f} has {d} digits but the dataset's timestamps ({min}..{max}) have {}: use the same unit as the timestamp column",
                                        if dmin == dmax { dmin.to_string() } else { format!("{dmin} to {dmax}") }
                                    ),
                                ));
                                ok = false;
                            }
                        }
                        *slot = Some(f);
                    }
                    _ => {
                        self.err(
                            p,
                            format!(
                                "expected a number (timestamp) or a date-time string, found {}",
                                json_type(x)
                            ),
                        );
                        ok = false;
                    }
                },
            }
        }
        if let (Some(f), Some(t)) = (tf.from, tf.to) {
            if f >= t {
                self.err(path, format!("'from' ({f}) must be less than 'to' ({t})"));
                ok = false;
            }
        }
        ok.then_some(tf)
    }

    #[allow(clippy::type_complexity)]
    fn query(&mut self, v: &Value, path: &str) -> (Option<Vec<Condition>>, Option<Relation>, Option<Vec<Aggregation>>) {
        let Some(m) = self.object(v, path, &["relation", "conditions", "aggregations"]) else {
            return (None, None, None);
        };
        let conditions = match m.get("conditions") {
            None => Some(vec![]),
            Some(c) => self.conditions(c, &join(path, "conditions")),
        };
        let relation = match (m.get("relation"), &conditions) {
            (None, _) => Some(Relation::And),
            (Some(r), Some(conds)) => {
                let names: Vec<Option<String>> = conds.iter().map(|c| c.name.clone()).collect();
                self.relation(r, &join(path, "relation"), &names)
            }
            (Some(r), None) => {
                // Still check the syntax and references, against the conditions as written.
                match m.get("conditions").and_then(Value::as_array) {
                    Some(raw) => {
                        let names: Vec<Option<String>> = raw
                            .iter()
                            .map(|c| c.get("name").and_then(Value::as_str).map(str::to_string))
                            .collect();
                        self.relation(r, &join(path, "relation"), &names);
                    }
                    None if !r.is_string() => {
                        self.err(
                            join(path, "relation"),
                            format!("expected a string, found {}", json_type(r)),
                        );
                    }
                    None => {}
                }
                None
            }
        };
        let aggregations = match m.get("aggregations") {
            None => Some(vec![]),
            Some(a) => self.aggregations(a, &join(path, "aggregations")),
        };
        (conditions, relation, aggregations)
    }

    fn relation(&mut self, v: &Value, path: &str, names: &[Option<String>]) -> Option<Relation> {
        let Some(s) = v.as_str() else {
            self.err(
                path,
                format!(
                    "expected a string ('and', 'or' or an expression such as '$0 and not $1'), found {}",
                    json_type(v)
                ),
            );
            return None;
        };
        let chars = s.chars().count();
        if chars > self.limits.max_relation_chars {
            let m = too_many(
                chars,
                "characters",
                self.limits.max_relation_chars,
                "FROCKET_QUERY_MAX_RELATION_CHARS",
            );
            self.err(path, m);
            return None;
        }
        match s.trim().to_ascii_lowercase().as_str() {
            "and" | "&&" => return Some(Relation::And),
            "or" | "||" => return Some(Relation::Or),
            _ => {}
        }
        match parse_relation(s, names) {
            Ok(e) => {
                let terms = e.terms();
                if terms > self.limits.max_relation_terms {
                    let m = too_many(
                        terms,
                        "terms",
                        self.limits.max_relation_terms,
                        "FROCKET_QUERY_MAX_RELATION_TERMS",
                    );
                    self.err(path, m);
                    return None;
                }
                Some(Relation::Expr(e))
            }
            Err(e) => {
                self.err(path, format!("{} at position {} in \"{s}\"", e.message, e.position));
                None
            }
        }
    }

    fn conditions(&mut self, v: &Value, path: &str) -> Option<Vec<Condition>> {
        let Some(arr) = v.as_array() else {
            self.err(path, format!("expected an array of conditions, found {}", json_type(v)));
            return None;
        };
        if arr.len() > self.limits.max_conditions {
            let m = too_many(
                arr.len(),
                "conditions",
                self.limits.max_conditions,
                "FROCKET_QUERY_MAX_CONDITIONS",
            );
            self.err(path, m);
            return None;
        }
        let mut out = Vec::new();
        let mut ok = true;
        let mut names: Vec<(String, usize)> = Vec::new();
        for (i, c) in arr.iter().enumerate() {
            let p = idx(path, i);
            match self.condition(c, &p) {
                Some(cond) => {
                    if let Some(n) = &cond.name {
                        if let Some((_, j)) = names.iter().find(|(m, _)| m.eq_ignore_ascii_case(n)) {
                            self.err(join(&p, "name"), format!("duplicate condition name '{n}' (also used by condition {j}; names are case-insensitive)"));
                            ok = false;
                        } else {
                            names.push((n.clone(), i));
                        }
                    }
                    out.push(cond);
                }
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn name(&mut self, v: &Value, path: &str) -> Option<String> {
        let Some(s) = v.as_str() else {
            self.err(path, format!("expected a string, found {}", json_type(v)));
            return None;
        };
        let mut chars = s.chars();
        let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            self.err(
                path,
                format!("invalid name '{s}': use a letter followed by letters, digits or '_'"),
            );
            return None;
        }
        if KEYWORDS.contains(&s.to_ascii_lowercase().as_str()) {
            self.err(path, format!("'{s}' is a relation keyword and cannot be a name"));
            return None;
        }
        Some(s.to_string())
    }

    fn condition(&mut self, v: &Value, path: &str) -> Option<Condition> {
        let m = self.object(
            v,
            path,
            &[
                "filter",
                "filters",
                "target",
                "includeZero",
                "name",
                "sequence",
                "maxDuration",
                "holdConstant",
                "order",
                "conversionTime",
            ],
        )?;
        let name = match m.get("name") {
            None | Some(Value::Null) => Some(None),
            Some(n) => self.name(n, &join(path, "name")).map(Some),
        };
        let present: Vec<&str> = ["filter", "filters", "sequence"]
            .into_iter()
            .filter(|k| m.contains_key(*k))
            .collect();
        if present.len() != 1 {
            self.err(
                path,
                if present.is_empty() {
                    "a condition needs one of 'filter', 'filters' or 'sequence'".to_string()
                } else {
                    format!(
                        "a condition takes only one of 'filter', 'filters' or 'sequence' (found {})",
                        present.join(", ")
                    )
                },
            );
            return None;
        }
        if present[0] == "sequence" {
            for k in ["target", "includeZero"] {
                if m.contains_key(k) {
                    self.err(join(path, k), format!("'{k}' is not allowed on a sequence condition"));
                }
            }
            if m.contains_key("conversionTime") {
                self.err(
                    join(path, "conversionTime"),
                    "'conversionTime' is only allowed on the funnel (a condition reports no times)",
                );
            }
            let seq = self.sequence(&m["sequence"], m, path);
            return Some(Condition {
                name: name?,
                kind: ConditionKind::Sequence(seq?),
            });
        }
        for k in ["maxDuration", "holdConstant", "order", "conversionTime"] {
            if m.contains_key(k) {
                self.err(
                    join(path, k),
                    format!("'{k}' is only allowed on a sequence condition or the funnel"),
                );
            }
        }
        let filters = self.filter_or_filters(m, path);
        let target = match m.get("target") {
            None => Some(Target::Count {
                op: CmpOp::Ge,
                value: 1,
            }),
            Some(t) => self.target(t, &join(path, "target")),
        };
        let include_zero = match (m.get("includeZero"), &target) {
            (Some(iz), Some(t)) => self.include_zero(iz, &join(path, "includeZero"), t),
            (None, Some(Target::Count { op, value })) => Some(zero_only(*op, *value)),
            (None, Some(Target::Sum { .. })) => Some(false),
            (Some(iz), None) => {
                if !iz.is_boolean() {
                    self.err(
                        join(path, "includeZero"),
                        format!("expected a boolean, found {}", json_type(iz)),
                    );
                }
                None
            }
            (None, None) => None,
        };
        Some(Condition {
            name: name?,
            kind: ConditionKind::Filters {
                filters: filters?,
                target: target?,
                include_zero: include_zero?,
            },
        })
    }

    fn include_zero(&mut self, v: &Value, path: &str, target: &Target) -> Option<bool> {
        let Some(b) = v.as_bool() else {
            self.err(path, format!("expected a boolean, found {}", json_type(v)));
            return None;
        };
        match target {
            // `false` is the default and is accepted with any target (the original's own
            // example query writes it with a sum target); `true` needs a count target.
            Target::Sum { .. } if !b => Some(false),
            Target::Sum { .. } => {
                self.err(path, "'includeZero': true is only allowed with a count target");
                None
            }
            Target::Count { op, value } => {
                if !b && zero_only(*op, *value) {
                    self.err(
                        path,
                        format!(
                            "target count {} {value} can only match zero rows, so includeZero cannot be false",
                            op_str(*op)
                        ),
                    );
                    return None;
                }
                if b && !op.apply(&0, value) {
                    self.err(path, format!("includeZero is true but target count {} {value} excludes zero; use an op that admits zero (e.g. '<', '<=', '==' 0)", op_str(*op)));
                    return None;
                }
                Some(b)
            }
        }
    }

    fn filter_or_filters(&mut self, m: &Map<String, Value>, path: &str) -> Option<Vec<Filter>> {
        if let Some(f) = m.get("filter") {
            return self.filter(f, &join(path, "filter")).map(|f| vec![f]);
        }
        let p = join(path, "filters");
        let v = m.get("filters")?;
        let Some(arr) = v.as_array() else {
            self.err(p, format!("expected an array of filters, found {}", json_type(v)));
            return None;
        };
        if arr.is_empty() {
            self.err(p, "'filters' must contain at least one filter");
            return None;
        }
        if arr.len() > self.limits.max_filters {
            let m = too_many(
                arr.len(),
                "filters",
                self.limits.max_filters,
                "FROCKET_QUERY_MAX_FILTERS",
            );
            self.err(p, m);
            return None;
        }
        let all: Vec<Option<Filter>> = arr
            .iter()
            .enumerate()
            .map(|(i, f)| self.filter(f, &idx(&p, i)))
            .collect();
        all.into_iter().collect()
    }

    fn column(&mut self, v: &Value, path: &str) -> Option<(String, ColumnType)> {
        let Some(c) = v.as_str() else {
            self.err(path, format!("expected a column name (string), found {}", json_type(v)));
            return None;
        };
        match self.schema.column_type(c) {
            None => {
                let known: Vec<&str> = self.schema.columns.keys().map(String::as_str).collect();
                self.err(path, format!("unknown column '{c}' (columns: {})", known.join(", ")));
                None
            }
            Some(ColumnType::Unsupported) => {
                self.err(
                    path,
                    format!("column '{c}' has a type the query language does not support"),
                );
                None
            }
            Some(t) => Some((c.to_string(), t)),
        }
    }

    fn filter(&mut self, v: &Value, path: &str) -> Option<Filter> {
        let (col_v, op_v, val_v) = match v {
            Value::Array(a) if a.len() == 3 => (&a[0], &a[1], &a[2]),
            Value::Array(a) => {
                self.err(
                    path,
                    format!("a filter array has 3 elements [column, op, value], found {}", a.len()),
                );
                return None;
            }
            Value::Object(_) => {
                let m = self.object(v, path, &["column", "op", "value"])?;
                let mut missing = false;
                for k in ["column", "op", "value"] {
                    if !m.contains_key(k) {
                        self.err(path, format!("filter is missing '{k}'"));
                        missing = true;
                    }
                }
                if missing {
                    return None;
                }
                (&m["column"], &m["op"], &m["value"])
            }
            other => {
                self.err(
                    path,
                    format!(
                        "expected a filter ([column, op, value] or {{\"column\", \"op\", \"value\"}}), found {}",
                        json_type(other)
                    ),
                );
                return None;
            }
        };
        let (column, ty) = self.column(col_v, path)?;
        let Some(op_s) = op_v.as_str() else {
            self.err(path, format!("filter op must be a string, found {}", json_type(op_v)));
            return None;
        };
        let allowed: &[&str] = match ty {
            ColumnType::Int | ColumnType::Float => &["==", "!=", ">", ">=", "<", "<="],
            ColumnType::Bool => &["==", "!="],
            ColumnType::String => &["==", "!=", ">", ">=", "<", "<=", "contains", "not contains", "regex"],
            ColumnType::ListString | ColumnType::ListInt => &["includes", "not includes"],
            ColumnType::Unsupported => &[],
        };
        let Some(op) = FilterOp::parse(op_s).filter(|_| allowed.contains(&op_s)) else {
            self.err(
                path,
                format!(
                    "operator '{op_s}' is not allowed on {ty} column '{column}'; allowed: {}",
                    allowed.join(", ")
                ),
            );
            return None;
        };
        let value = match ty {
            ColumnType::Int | ColumnType::ListInt => as_integer(val_v).map(Literal::Int),
            ColumnType::Float => val_v.as_f64().map(Literal::Float),
            ColumnType::Bool => val_v.as_bool().map(Literal::Bool),
            ColumnType::String | ColumnType::ListString => val_v.as_str().map(|s| Literal::Str(s.to_string())),
            ColumnType::Unsupported => None,
        };
        let Some(value) = value else {
            let want = match ty {
                ColumnType::Int | ColumnType::ListInt => "an integer",
                ColumnType::Float => "a number",
                ColumnType::Bool => "a boolean",
                _ => "a string",
            };
            self.err(
                path,
                format!(
                    "value for {ty} column '{column}' must be {want}, found {}",
                    describe_value(val_v)
                ),
            );
            return None;
        };
        if op == FilterOp::Regex {
            if let Literal::Str(p) = &value {
                let chars = p.chars().count();
                if chars > self.limits.max_regex_chars {
                    let m = format!(
                        "regex of {chars} characters, more than the {} allowed (FROCKET_QUERY_MAX_REGEX_CHARS)",
                        self.limits.max_regex_chars
                    );
                    self.err(path, m);
                    return None;
                }
                let size = self.limits.max_regex_bytes.min(REGEX_SIZE_HARD_LIMIT);
                if let Err(e) = regex::RegexBuilder::new(p).size_limit(size).build() {
                    let m = match e {
                        regex::Error::CompiledTooBig(_) => format!(
                            "regex compiles to more than {size} bytes (FROCKET_QUERY_MAX_REGEX_BYTES): simplify it"
                        ),
                        e => format!("invalid regex: {}", e.to_string().replace('\n', " ")),
                    };
                    self.err(path, m);
                    return None;
                }
            }
        }
        self.use_column(&column);
        Some(Filter {
            column,
            op,
            value,
            regex: CompiledRegex::default(),
        })
    }

    fn target(&mut self, v: &Value, path: &str) -> Option<Target> {
        let (kind, col, op, val) = match v {
            Value::Array(a) => match (a.first().and_then(Value::as_str), a.len()) {
                (Some("count"), 3) => ("count", None, &a[1], &a[2]),
                (Some("sum"), 4) => ("sum", Some(&a[1]), &a[2], &a[3]),
                _ => {
                    self.err(path, "a target array is [\"count\", op, n] or [\"sum\", column, op, n]");
                    return None;
                }
            },
            Value::Object(m) => {
                let ty = m.get("type").and_then(Value::as_str);
                let allowed: &[&str] = if ty == Some("sum") {
                    &["type", "column", "op", "value"]
                } else {
                    &["type", "op", "value"]
                };
                self.object(v, path, allowed)?;
                let (Some(ty @ ("count" | "sum")), Some(op), Some(val)) = (ty, m.get("op"), m.get("value")) else {
                    self.err(path, "a target object is {\"type\": \"count\", \"op\", \"value\"} or {\"type\": \"sum\", \"column\", \"op\", \"value\"}");
                    return None;
                };
                if ty == "sum" && !m.contains_key("column") {
                    self.err(path, "a sum target needs 'column'");
                    return None;
                }
                (ty, m.get("column"), op, val)
            }
            other => {
                self.err(
                    path,
                    format!(
                        "expected a target ([\"count\", op, n] or [\"sum\", column, op, n]), found {}",
                        json_type(other)
                    ),
                );
                return None;
            }
        };
        let op = match op.as_str().and_then(CmpOp::parse) {
            Some(op) => op,
            None => {
                self.err(
                    path,
                    format!(
                        "target op must be one of ==, !=, >, >=, <, <=; found {}",
                        describe_value(op)
                    ),
                );
                return None;
            }
        };
        if kind == "count" {
            let Some(n) = as_integer(val).filter(|n| *n >= 0) else {
                self.err(
                    path,
                    format!(
                        "a count target's value must be a non-negative integer, found {}",
                        describe_value(val)
                    ),
                );
                return None;
            };
            // Counts are never negative: candidates are 0, n - 1 (when >= 0), n and n + 1.
            if ![0, n.saturating_sub(1).max(0), n, n.saturating_add(1)]
                .iter()
                .any(|c| op.apply(c, &n))
            {
                self.err(path, format!("target count {} {n} can never be satisfied", op_str(op)));
                return None;
            }
            return Some(Target::Count { op, value: n });
        }
        let (column, ty) = self.column(col?, path)?;
        if !ty.is_numeric() {
            self.err(
                path,
                format!("a sum target needs a numeric (INT or FLOAT) column; '{column}' is {ty}"),
            );
            return None;
        }
        let value = match (ty, as_integer(val), val.as_f64()) {
            (ColumnType::Int, Some(i), _) => Literal::Int(i),
            (_, _, Some(f)) => Literal::Float(f),
            _ => {
                self.err(
                    path,
                    format!("a sum target's value must be a number, found {}", describe_value(val)),
                );
                return None;
            }
        };
        self.use_column(&column);
        Some(Target::Sum { column, op, value })
    }

    /// The `sequence` of a sequence condition or funnel, with the options beside it in
    /// `parent_map` (`maxDuration`, `holdConstant`, `order`).
    fn sequence(&mut self, v: &Value, parent_map: &Map<String, Value>, parent: &str) -> Option<Sequence> {
        let path = join(parent, "sequence");
        let hold_constant = match parent_map.get("holdConstant") {
            None | Some(Value::Null) => Some(vec![]),
            Some(h) => self.hold_constant(h, &join(parent, "holdConstant")),
        };
        let order = match parent_map.get("order") {
            None | Some(Value::Null) => Some(Order::Ordered),
            Some(Value::String(o)) if o == "ordered" => Some(Order::Ordered),
            Some(Value::String(o)) if o == "strict" => Some(Order::Strict),
            Some(o) => {
                self.err(
                    join(parent, "order"),
                    format!("expected \"ordered\" or \"strict\", found {}", describe_value(o)),
                );
                None
            }
        };
        let max_duration = match parent_map.get("maxDuration") {
            None | Some(Value::Null) => Some(None),
            Some(d) => {
                let p = join(parent, "maxDuration");
                match d {
                    Value::String(_) => match self.duration(d, &p) {
                        Some(x) if x > 0.0 => Some(Some(x)),
                        Some(_) => {
                            self.err(p, format!("must be positive, found {}", describe_value(d)));
                            None
                        }
                        None => None,
                    },
                    _ => match d.as_f64() {
                        Some(x) if x > 0.0 && x.is_finite() => Some(Some(x)),
                        _ => {
                            self.err(
                                p,
                                format!(
                                    "must be a positive number (timestamp units) or a duration like \"30m\", found {}",
                                    describe_value(d)
                                ),
                            );
                            None
                        }
                    },
                }
            }
        };
        let Some(arr) = v.as_array() else {
            self.err(&path, format!("expected an array of steps, found {}", json_type(v)));
            return None;
        };
        if arr.len() > self.limits.max_steps {
            let m = too_many(arr.len(), "steps", self.limits.max_steps, "FROCKET_QUERY_MAX_STEPS");
            self.err(&path, m);
            return None;
        }
        let mut steps = Vec::new();
        let mut ok = true;
        for (i, s) in arr.iter().enumerate() {
            let p = idx(&path, i);
            let Some(m) = self.object(s, &p, &["filter", "filters", "rowFound", "within"]) else {
                ok = false;
                continue;
            };
            let row_found = match m.get("rowFound") {
                None => true,
                Some(Value::Bool(b)) => *b,
                Some(x) => {
                    self.err(
                        join(&p, "rowFound"),
                        format!("expected a boolean, found {}", json_type(x)),
                    );
                    ok = false;
                    true
                }
            };
            let n = ["filter", "filters"].iter().filter(|k| m.contains_key(**k)).count();
            if n != 1 {
                self.err(&p, "a step needs exactly one of 'filter' or 'filters'");
                ok = false;
                continue;
            }
            let first_positive = row_found && !steps.iter().any(|s: &Step| s.row_found);
            let within = match m.get("within") {
                None | Some(Value::Null) => None,
                Some(w) => {
                    let wp = join(&p, "within");
                    if !row_found {
                        self.err(wp, "'within' is not allowed on a negative step (rowFound false): it limits the time from the previous positive step's row to this step's row");
                        ok = false;
                    } else if first_positive {
                        self.err(wp, "'within' is not allowed on the first positive step: it limits the time from the previous positive step, and there is none (use 'maxDuration' for the whole chain)");
                        ok = false;
                    }
                    match w {
                        Value::String(_) => {
                            let d = self.duration(w, &join(&p, "within"));
                            ok &= d.is_some();
                            d
                        }
                        _ => match w.as_f64() {
                            Some(x) if x >= 0.0 && x.is_finite() => Some(x),
                            _ => {
                                self.err(
                                    join(&p, "within"),
                                    format!(
                                        "must be a number >= 0 (timestamp units) or a duration like \"10m\", found {}",
                                        describe_value(w)
                                    ),
                                );
                                ok = false;
                                None
                            }
                        },
                    }
                }
            };
            match self.filter_or_filters(m, &p) {
                Some(filters) => steps.push(Step {
                    filters,
                    row_found,
                    within,
                }),
                None => ok = false,
            }
        }
        if ok && arr.is_empty() {
            self.err(&path, "a sequence needs at least one step");
            ok = false;
        }
        if ok && !steps.iter().any(|s| s.row_found) {
            self.err(&path, "a sequence needs at least one positive step (rowFound true)");
            ok = false;
        }
        let max_duration = max_duration?;
        let (hold_constant, order) = (hold_constant?, order?);
        ok.then_some(Sequence {
            steps,
            max_duration,
            hold_constant,
            order,
        })
    }

    /// `holdConstant`: 1 to 4 distinct INT, STRING or BOOL columns, not the group id or the
    /// timestamp.
    fn hold_constant(&mut self, v: &Value, path: &str) -> Option<Vec<String>> {
        let Some(arr) = v.as_array() else {
            self.err(
                path,
                format!(
                    "expected an array of 1 to {MAX_HELD} column names, found {}",
                    json_type(v)
                ),
            );
            return None;
        };
        if arr.is_empty() || arr.len() > MAX_HELD {
            self.err(path, format!("expected 1 to {MAX_HELD} columns, found {}", arr.len()));
            return None;
        }
        let mut out: Vec<String> = Vec::new();
        let mut ok = true;
        for (i, c) in arr.iter().enumerate() {
            let p = idx(path, i);
            let Some((name, t)) = self.column(c, &p) else {
                ok = false;
                continue;
            };
            if name == self.schema.group_id_column || name == self.schema.timestamp_column {
                let what = if name == self.schema.group_id_column {
                    "group id"
                } else {
                    "timestamp"
                };
                self.err(&p, format!("'{name}' is the {what} column, which cannot be held constant (every chain already has one group; a chain's timestamps increase)"));
                ok = false;
                continue;
            }
            if !matches!(t, ColumnType::Int | ColumnType::String | ColumnType::Bool) {
                self.err(
                    &p,
                    format!("column '{name}' is {t}; holdConstant takes INT, STRING or BOOL columns"),
                );
                ok = false;
                continue;
            }
            if out.contains(&name) {
                self.err(&p, format!("column '{name}' is listed twice"));
                ok = false;
                continue;
            }
            self.use_column(&name);
            out.push(name);
        }
        ok.then_some(out)
    }

    /// The funnel's `conversionTime`: `true` / `false`, or `{"bins": [...]}` with 1 to 32
    /// strictly increasing positive numbers.
    fn conversion_time(&mut self, v: &Value, path: &str) -> Option<Option<ConversionTime>> {
        match v {
            Value::Null | Value::Bool(false) => return Some(None),
            Value::Bool(true) => return Some(Some(ConversionTime::default())),
            Value::Object(_) => {}
            _ => {
                self.err(
                    path,
                    format!(
                        "expected true or an object {{\"bins\": [...]}}, found {}",
                        describe_value(v)
                    ),
                );
                return None;
            }
        }
        let m = self.object(v, path, &["bins"])?;
        let p = join(path, "bins");
        let Some(bins) = m.get("bins") else {
            self.err(path, "expected 'bins': 1 to 32 strictly increasing positive numbers (or write conversionTime: true for no histogram)");
            return None;
        };
        let Some(arr) = bins.as_array() else {
            self.err(&p, format!("expected an array of numbers, found {}", json_type(bins)));
            return None;
        };
        if arr.is_empty() || arr.len() > MAX_BINS {
            self.err(&p, format!("expected 1 to {MAX_BINS} bin edges, found {}", arr.len()));
            return None;
        }
        let mut out: Vec<f64> = Vec::with_capacity(arr.len());
        let mut ok = true;
        for (i, b) in arr.iter().enumerate() {
            let value = match b {
                Value::String(_) => match self.duration(b, &idx(&p, i)) {
                    Some(x) => Some(x),
                    None => {
                        ok = false;
                        continue;
                    }
                },
                _ => b.as_f64(),
            };
            match value {
                Some(x) if x > 0.0 && x.is_finite() => {
                    if let Some(&prev) = out.last() {
                        if x <= prev {
                            self.err(
                                idx(&p, i),
                                format!(
                                    "bin edges must strictly increase: {} follows {}",
                                    describe_value(b),
                                    prev
                                ),
                            );
                            ok = false;
                        }
                    }
                    out.push(x);
                }
                _ => {
                    self.err(
                        idx(&p, i),
                        format!(
                            "must be a positive number (timestamp units) or a duration like \"1h\", found {}",
                            describe_value(b)
                        ),
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(Some(ConversionTime { bins: out }))
    }

    fn aggregations(&mut self, v: &Value, path: &str) -> Option<Vec<Aggregation>> {
        let Some(arr) = v.as_array() else {
            self.err(
                path,
                format!("expected an array of aggregations, found {}", json_type(v)),
            );
            return None;
        };
        if arr.len() > self.limits.max_aggregations {
            let m = too_many(
                arr.len(),
                "aggregations",
                self.limits.max_aggregations,
                "FROCKET_QUERY_MAX_AGGREGATIONS",
            );
            self.err(path, m);
            return None;
        }
        let mut out = Vec::new();
        let mut ok = true;
        let mut names: Vec<(String, usize)> = Vec::new();
        for (i, a) in arr.iter().enumerate() {
            let p = idx(path, i);
            match self.aggregation(a, &p) {
                Some(aggs) => {
                    if let Some(n) = aggs.first().and_then(|a| a.name.clone()) {
                        if let Some((_, j)) = names.iter().find(|(m, _)| *m == n) {
                            self.err(
                                join(&p, "name"),
                                format!("duplicate aggregation name '{n}' (also used by aggregation {j})"),
                            );
                            ok = false;
                        } else {
                            names.push((n, i));
                        }
                    }
                    out.extend(aggs)
                }
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn aggregation(&mut self, v: &Value, path: &str) -> Option<Vec<Aggregation>> {
        let m = self.object(v, path, &["column", "type", "otherColumn", "top", "name"])?;
        let Some(col_v) = m.get("column") else {
            self.err(path, "an aggregation needs 'column'");
            return None;
        };
        let column = self.column(col_v, &join(path, "column"));
        let agg_type = match m.get("type") {
            None | Some(Value::Null) => Some(None),
            Some(t) => match t.as_str().and_then(AggregationType::parse) {
                Some(t) => Some(Some(t)),
                None => {
                    self.err(join(path, "type"), format!("unknown aggregation type {}; allowed: count, countPerValue, groupsPerValue, sumPerValue, meanPerValue", describe_value(t)));
                    None
                }
            },
        };
        let other = match (m.get("otherColumn"), agg_type) {
            (None, Some(Some(t))) if t.needs_other_column() => {
                self.err(path, format!("'{}' needs 'otherColumn' (a numeric column)", t.name()));
                None
            }
            (None, _) => Some(None),
            (Some(o), Some(Some(t))) if t.needs_other_column() => {
                let p = join(path, "otherColumn");
                match self.column(o, &p) {
                    Some((c, ty)) if ty.is_numeric() => Some(Some(c)),
                    Some((c, ty)) => {
                        self.err(
                            p,
                            format!("'otherColumn' must be numeric (INT or FLOAT); '{c}' is {ty}"),
                        );
                        None
                    }
                    None => None,
                }
            }
            (Some(_), Some(t)) => {
                self.err(
                    join(path, "otherColumn"),
                    format!(
                        "'otherColumn' is only allowed with sumPerValue and meanPerValue, not {}",
                        t.map_or("the default aggregation", |t| t.name())
                    ),
                );
                None
            }
            (Some(_), None) => None,
        };
        let top = match m.get("top") {
            None | Some(Value::Null) => Some(None),
            Some(t) => match as_integer(t) {
                Some(n) if n > 0 && n as u64 > self.limits.max_top as u64 => {
                    self.err(
                        join(path, "top"),
                        format!(
                            "{n} is more than the {} allowed (FROCKET_QUERY_MAX_TOP)",
                            self.limits.max_top
                        ),
                    );
                    None
                }
                Some(n) if n > 0 => Some(Some(n as usize)),
                _ => {
                    self.err(
                        join(path, "top"),
                        format!("must be a positive integer, found {}", describe_value(t)),
                    );
                    None
                }
            },
        };
        let name = match m.get("name") {
            None | Some(Value::Null) => Some(None),
            Some(n) => match n.as_str() {
                Some(s) if !s.is_empty() => Some(Some(s.to_string())),
                _ => {
                    self.err(
                        join(path, "name"),
                        format!("must be a non-empty string, found {}", describe_value(n)),
                    );
                    None
                }
            },
        };
        if let (Some(None), Some(Some(_))) = (agg_type, &name) {
            self.err(join(path, "name"), "an aggregation without 'type' expands into count, countPerValue and groupsPerValue and cannot have a name; set 'type' to name it");
            return None;
        }
        let (column, _) = column?;
        let (agg_type, other, top, name) = (agg_type?, other?, top?, name?);
        let top_default = self.top_default;
        let top_for = |t: AggregationType| (t != AggregationType::Count).then_some(top.unwrap_or(top_default));
        if let Some(o) = &other {
            self.use_column(o);
        }
        self.use_column(&column);
        let types = match agg_type {
            Some(t) => vec![t],
            None => vec![
                AggregationType::Count,
                AggregationType::CountPerValue,
                AggregationType::GroupsPerValue,
            ],
        };
        Some(
            types
                .into_iter()
                .map(|t| Aggregation {
                    column: column.clone(),
                    agg_type: t,
                    other_column: other.clone(),
                    top: top_for(t),
                    name: name.clone(),
                })
                .collect(),
        )
    }

    fn funnel(&mut self, v: &Value, path: &str) -> Option<Funnel> {
        let m = self.object(
            v,
            path,
            &[
                "sequence",
                "maxDuration",
                "holdConstant",
                "order",
                "conversionTime",
                "stepAggregations",
                "endAggregations",
            ],
        )?;
        let conversion_time = match m.get("conversionTime") {
            None => Some(None),
            Some(c) => self.conversion_time(c, &join(path, "conversionTime")),
        };
        let sequence = match m.get("sequence") {
            Some(s) => self.sequence(s, m, path),
            None => {
                self.err(path, "a funnel needs 'sequence'");
                None
            }
        };
        let step = match m.get("stepAggregations") {
            None => Some(vec![]),
            Some(a) => self.aggregations(a, &join(path, "stepAggregations")),
        };
        let end = match m.get("endAggregations") {
            None => Some(vec![]),
            Some(a) => self.aggregations(a, &join(path, "endAggregations")),
        };
        Some(Funnel {
            sequence: sequence?,
            step_aggregations: step?,
            end_aggregations: end?,
            conversion_time: conversion_time?,
        })
    }
}

/// True when a count target is satisfiable only by zero rows.
fn zero_only(op: CmpOp, value: i64) -> bool {
    op.apply(&0, &value)
        && [1, value.saturating_sub(1).max(1), value.max(1), value.saturating_add(1)]
            .iter()
            .all(|c| !op.apply(c, &value))
}

fn op_str(op: CmpOp) -> &'static str {
    op.as_str()
}

fn describe_value(v: &Value) -> String {
    let s = v.to_string();
    let s = if s.len() > 40 {
        format!("{}…", &s[..s.char_indices().nth(40).map_or(s.len(), |c| c.0)])
    } else {
        s
    };
    format!("{} {}", json_type(v), s)
}
