//! The validated query, in verbose form. Produced by [`crate::validate_query`]; serializes
//! back to the verbose JSON form of the language.

use serde::{Deserialize, Serialize};

use super::relation::RelationExpr;

/// A literal value in a filter or target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Literal {
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A non-integer number.
    Float(f64),
    /// A string.
    Str(String),
}

impl Literal {
    /// The value as f64, for numbers.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Literal::Int(i) => Some(*i as f64),
            Literal::Float(f) => Some(*f),
            _ => None,
        }
    }
}

/// A comparison operator (filters on scalars and targets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CmpOp {
    /// `==`
    #[serde(rename = "==")]
    Eq,
    /// `!=`
    #[serde(rename = "!=")]
    Ne,
    /// `>`
    #[serde(rename = ">")]
    Gt,
    /// `>=`
    #[serde(rename = ">=")]
    Ge,
    /// `<`
    #[serde(rename = "<")]
    Lt,
    /// `<=`
    #[serde(rename = "<=")]
    Le,
}

impl CmpOp {
    /// The operator as written in queries.
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
        }
    }

    /// Parses `==`, `!=`, `>`, `>=`, `<`, `<=`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "==" => CmpOp::Eq,
            "!=" => CmpOp::Ne,
            ">" => CmpOp::Gt,
            ">=" => CmpOp::Ge,
            "<" => CmpOp::Lt,
            "<=" => CmpOp::Le,
            _ => return None,
        })
    }

    /// Applies the operator to two ordered values.
    ///
    /// ```
    /// use frocket_engine::query::CmpOp;
    /// assert!(CmpOp::Ge.apply(&3, &3));
    /// assert!(!CmpOp::Lt.apply(&3.0, &1.0));
    /// ```
    pub fn apply<T: PartialOrd>(self, a: &T, b: &T) -> bool {
        match self {
            CmpOp::Eq => a == b,
            CmpOp::Ne => a != b,
            CmpOp::Gt => a > b,
            CmpOp::Ge => a >= b,
            CmpOp::Lt => a < b,
            CmpOp::Le => a <= b,
        }
    }
}

/// A filter operator. Serializes as written in queries (`"=="`, `"not contains"`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterOp {
    /// A comparison (all scalar types; BOOL only `==` / `!=`).
    Cmp(CmpOp),
    /// Substring (STRING).
    Contains,
    /// Not a substring (STRING; true for nulls).
    NotContains,
    /// Unanchored regular expression search (STRING).
    Regex,
    /// Element membership (LIST).
    Includes,
    /// No element equals the value (LIST; true for nulls).
    NotIncludes,
}

impl Serialize for FilterOp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for FilterOp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        FilterOp::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("unknown filter operator '{s}'")))
    }
}

impl FilterOp {
    /// The operator as written in queries.
    pub fn as_str(self) -> &'static str {
        match self {
            FilterOp::Cmp(c) => c.as_str(),
            FilterOp::Contains => "contains",
            FilterOp::NotContains => "not contains",
            FilterOp::Regex => "regex",
            FilterOp::Includes => "includes",
            FilterOp::NotIncludes => "not includes",
        }
    }

    /// Parses an operator as written in a query.
    pub fn parse(s: &str) -> Option<Self> {
        if let Some(c) = CmpOp::parse(s) {
            return Some(FilterOp::Cmp(c));
        }
        Some(match s {
            "contains" => FilterOp::Contains,
            "not contains" => FilterOp::NotContains,
            "regex" => FilterOp::Regex,
            "includes" => FilterOp::Includes,
            "not includes" => FilterOp::NotIncludes,
            _ => return None,
        })
    }
}

/// One column compared with one literal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Filter {
    /// Column name.
    pub column: String,
    /// Operator.
    pub op: FilterOp,
    /// Literal (typed to match the column: INT column → `Int`, FLOAT → `Float`, …).
    pub value: Literal,
    /// A `regex` filter's pattern, compiled on first use and shared by every clone of the
    /// query (every batch, dictionary and thread of a task). Not serialized.
    #[serde(skip)]
    pub regex: CompiledRegex,
}

/// A regex compiled once and shared by the clones of its filter.
///
/// ```
/// let r = frocket_engine::query::CompiledRegex::default();
/// let shared = r.clone();
/// assert!(r.get("^a+$").unwrap().is_match("aaa"));
/// assert!(std::ptr::eq(r.get("^a+$").unwrap(), shared.get("^a+$").unwrap()));
/// ```
#[derive(Clone, Default)]
pub struct CompiledRegex(std::sync::Arc<std::sync::OnceLock<Result<regex::Regex, String>>>);

impl CompiledRegex {
    /// The compiled `pattern` (compiled by the first caller, bounded by
    /// [`super::REGEX_SIZE_HARD_LIMIT`]); every later call returns the same regex, whatever
    /// pattern it passes.
    pub fn get(&self, pattern: &str) -> Result<&regex::Regex, String> {
        self.0
            .get_or_init(|| {
                regex::RegexBuilder::new(pattern)
                    .size_limit(super::REGEX_SIZE_HARD_LIMIT)
                    .build()
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

impl PartialEq for CompiledRegex {
    /// A cache: filters compare by their pattern, never by it.
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for CompiledRegex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "CompiledRegex(compiled)"
        } else {
            "CompiledRegex"
        })
    }
}

/// A condition's target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Target {
    /// Number of matching rows compared with `value`.
    Count {
        /// Operator.
        op: CmpOp,
        /// Non-negative integer.
        value: i64,
    },
    /// Sum of `column` over matching rows compared with `value`.
    Sum {
        /// A numeric column.
        column: String,
        /// Operator.
        op: CmpOp,
        /// A number.
        value: Literal,
    },
}

/// One step of a sequence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    /// Filters AND-ed on one row.
    pub filters: Vec<Filter>,
    /// False for a negative step ("did not happen").
    pub row_found: bool,
    /// The most time (timestamp units) this positive step's row may come after the previous
    /// positive step's row. Only on a positive step other than the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within: Option<f64>,
}

/// What may happen between the rows of a chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Order {
    /// Other rows may come between the chain's rows (the default).
    #[default]
    Ordered,
    /// Consecutive positive rows are neighbours: no row of the group (of the held value, with
    /// `holdConstant`) has a timestamp strictly between them.
    Strict,
}

impl Order {
    /// Whether this is the default, [`Order::Ordered`].
    pub fn is_ordered(&self) -> bool {
        *self == Order::Ordered
    }
}

/// An ordered list of steps with an optional time window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sequence {
    /// The steps (at least one positive).
    pub steps: Vec<Step>,
    /// Maximum time between the first and last positive rows used, in timestamp units.
    pub max_duration: Option<f64>,
    /// Columns whose value every row of a chain shares (none: no such rule).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hold_constant: Vec<String>,
    /// What may happen between the chain's rows.
    #[serde(default, skip_serializing_if = "Order::is_ordered")]
    pub order: Order,
}

impl Sequence {
    /// Whether the sequence uses an option of query-language.md's "Sequence options"
    /// (`within`, `holdConstant`, `order: strict`): then it runs on the exact chain matcher
    /// instead of the fast paths of plain sequences.
    pub fn has_options(&self) -> bool {
        !self.hold_constant.is_empty() || self.order == Order::Strict || self.steps.iter().any(|s| s.within.is_some())
    }

    /// Indexes (into `steps`) of the positive steps.
    pub fn positive_steps(&self) -> impl Iterator<Item = usize> + '_ {
        self.steps
            .iter()
            .enumerate()
            .filter(|(_, s)| s.row_found)
            .map(|(i, _)| i)
    }
}

/// What a condition tests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ConditionKind {
    /// Rows matching all `filters`, counted or summed per group.
    Filters {
        /// Filters AND-ed on one row.
        filters: Vec<Filter>,
        /// The target (default: count >= 1).
        target: Target,
        /// Whether groups with zero matching rows match.
        include_zero: bool,
    },
    /// A sequence of steps in time order.
    Sequence(Sequence),
}

/// A condition: a set of groups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    /// Optional name for the relation.
    pub name: Option<String>,
    /// What it tests.
    pub kind: ConditionKind,
}

/// Aggregation types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AggregationType {
    /// Number of rows with a non-null value.
    Count,
    /// Value → rows.
    CountPerValue,
    /// Value → distinct groups.
    GroupsPerValue,
    /// Value → sum of `otherColumn`.
    SumPerValue,
    /// Value → mean of `otherColumn`.
    MeanPerValue,
}

impl AggregationType {
    /// Parses a type name as written in a query.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "count" => AggregationType::Count,
            "countPerValue" => AggregationType::CountPerValue,
            "groupsPerValue" => AggregationType::GroupsPerValue,
            "sumPerValue" => AggregationType::SumPerValue,
            "meanPerValue" => AggregationType::MeanPerValue,
            _ => return None,
        })
    }

    /// The name as written in queries and results.
    pub fn name(self) -> &'static str {
        match self {
            AggregationType::Count => "count",
            AggregationType::CountPerValue => "countPerValue",
            AggregationType::GroupsPerValue => "groupsPerValue",
            AggregationType::SumPerValue => "sumPerValue",
            AggregationType::MeanPerValue => "meanPerValue",
        }
    }

    /// Whether the type needs `otherColumn`.
    pub fn needs_other_column(self) -> bool {
        matches!(self, AggregationType::SumPerValue | AggregationType::MeanPerValue)
    }
}

/// One aggregation (after expansion of the default into three).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Aggregation {
    /// The column aggregated (map keys come from it).
    pub column: String,
    /// The type.
    #[serde(rename = "type")]
    pub agg_type: AggregationType,
    /// The numeric column summed / averaged.
    pub other_column: Option<String>,
    /// How many map entries to keep (None for `count`).
    pub top: Option<usize>,
    /// Optional name.
    pub name: Option<String>,
}

/// The funnel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Funnel {
    /// The steps and window.
    pub sequence: Sequence,
    /// Aggregations after every positive step.
    pub step_aggregations: Vec<Aggregation>,
    /// Aggregations over the last step's groups.
    pub end_aggregations: Vec<Aggregation>,
    /// Time to convert per step, when requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversion_time: Option<ConversionTime>,
}

/// The funnel's `conversionTime` option: report each step's time to convert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ConversionTime {
    /// Histogram bin edges (timestamp units, strictly increasing, positive); empty: no
    /// histogram.
    #[serde(default)]
    pub bins: Vec<f64>,
}

/// Timeframe `[from, to)` in timestamp units; either bound may be absent.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Timeframe {
    /// Inclusive lower bound.
    pub from: Option<f64>,
    /// Exclusive upper bound.
    pub to: Option<f64>,
}

impl Timeframe {
    /// True when neither bound is set.
    pub fn is_unbounded(&self) -> bool {
        self.from.is_none() && self.to.is_none()
    }
}

/// How the conditions combine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Relation {
    /// All conditions must match (the default).
    And,
    /// Any condition matches.
    Or,
    /// An expression over condition indexes.
    Expr(RelationExpr),
}

impl ValidatedQuery {
    /// Whether running the query needs the timestamp column: a bounded timeframe, or a
    /// sequence (condition or funnel). Without it, parts are read without their timestamps.
    ///
    /// ```
    /// # use arrow::datatypes::{DataType, Field, Schema};
    /// # use frocket_engine::{validate_query, DatasetSchema};
    /// # let schema = DatasetSchema::from_arrow(&Schema::new(vec![Field::new("u", DataType::Int64, false), Field::new("t", DataType::Int64, false)]), "u", "t").unwrap();
    /// assert!(!validate_query("{}", &schema, 10).unwrap().needs_timestamps());
    /// assert!(validate_query(r#"{"timeframe": {"from": 1}}"#, &schema, 10).unwrap().needs_timestamps());
    /// ```
    pub fn needs_timestamps(&self) -> bool {
        !self.timeframe.is_unbounded()
            || self.funnel.is_some()
            || self
                .conditions
                .iter()
                .any(|c| matches!(c.kind, ConditionKind::Sequence(_)))
    }

    /// Whether every scan of the query's sequences over a part in any order can read the
    /// timestamps as 32-bit offsets (engine `exec/time_offsets.rs`), and nothing else reads
    /// them: each sequence is either greedy with a held column or times to convert (and no
    /// `within`), or strict with neither; none has a window or negative steps.
    pub(crate) fn scans_take_time_offsets(&self) -> bool {
        let funnel = self.funnel.iter().map(|f| (&f.sequence, f.conversion_time.is_some()));
        let conditions = self.conditions.iter().filter_map(|c| match &c.kind {
            ConditionKind::Sequence(s) => Some((s, false)),
            _ => None,
        });
        let mut sequences = funnel.chain(conditions).peekable();
        sequences.peek().is_some()
            && !self.column_used_outside_time(&self.timestamp_column)
            && sequences.all(|(s, conversion)| {
                let plain = s.max_duration.is_none() && s.steps.iter().all(|step| step.row_found);
                let held = !s.hold_constant.is_empty() || conversion;
                plain
                    && match s.order {
                        Order::Strict => !held,
                        Order::Ordered => held && s.steps.iter().all(|step| step.within.is_none()),
                    }
            })
    }

    /// The columns to read from a part: [`ValidatedQuery::columns`], without the timestamp
    /// column when the query does not need it (unless another part of the query uses it).
    pub fn columns_to_read(&self) -> Vec<String> {
        if self.needs_timestamps() || self.column_used_outside_time(&self.timestamp_column) {
            return self.columns.clone();
        }
        self.columns
            .iter()
            .filter(|c| **c != self.timestamp_column)
            .cloned()
            .collect()
    }

    /// Whether rows need their group: unless the query only counts groups and rows.
    pub(crate) fn rows_need_groups(&self) -> bool {
        !self.conditions.is_empty() || !self.aggregations.is_empty() || self.funnel.is_some()
    }

    /// Whether anything but filters needs `column`'s values: grouping, time order,
    /// `holdConstant`, a sum target or an aggregation.
    pub(crate) fn column_used_outside_filters(&self, column: &str) -> bool {
        self.holds(column) || self.column_values_used(column)
    }

    /// Whether `column` serves filters and `holdConstant` only: its rows then need only tell
    /// equal values apart (a code per row, not the values).
    pub(crate) fn column_only_held(&self, column: &str) -> bool {
        self.holds(column) && !self.column_values_used(column)
    }

    /// Whether `column` serves sum targets of conditions and nothing else (no filter,
    /// aggregation, `holdConstant`, grouping or time order): its rows then need only their
    /// values' places in a dictionary, looked up for the rows summed.
    pub(crate) fn column_only_summed(&self, column: &str) -> bool {
        self.sums(column)
            && column != self.group_id_column
            && column != self.timestamp_column
            && !self.holds(column)
            && !self.aggregates(column)
            && !self.filters_on(column)
    }

    /// Whether grouping, time order, a sum target or an aggregation uses `column`.
    fn column_values_used(&self, column: &str) -> bool {
        column == self.group_id_column
            || column == self.timestamp_column
            || self.aggregates(column)
            || self.sums(column)
    }

    /// Whether a condition's sum target is `column`.
    fn sums(&self, column: &str) -> bool {
        self.conditions.iter().any(
            |c| matches!(&c.kind, ConditionKind::Filters { target: Target::Sum { column: t, .. }, .. } if t == column),
        )
    }

    /// Whether an aggregation (the query's, or the funnel's after steps or at its end) reads
    /// `column`.
    fn aggregates(&self, column: &str) -> bool {
        let in_aggs = |aggs: &[Aggregation]| {
            aggs.iter()
                .any(|a| a.column == column || a.other_column.as_deref() == Some(column))
        };
        in_aggs(&self.aggregations)
            || self
                .funnel
                .as_ref()
                .is_some_and(|f| in_aggs(&f.step_aggregations) || in_aggs(&f.end_aggregations))
    }

    /// Whether a filter (of a condition, a sequence step or a funnel step) is on `column`.
    fn filters_on(&self, column: &str) -> bool {
        let (lists, sequences) = self.filter_uses();
        let in_filters = |fs: &[Filter]| fs.iter().any(|f| f.column == column);
        lists.into_iter().any(in_filters)
            || sequences
                .iter()
                .any(|s| s.steps.iter().any(|st| in_filters(&st.filters)))
    }

    /// The filter lists of the conditions, and the sequences (of conditions and funnel).
    pub(crate) fn filter_uses(&self) -> (Vec<&[Filter]>, Vec<&Sequence>) {
        let mut lists = Vec::new();
        let mut sequences = Vec::new();
        for c in &self.conditions {
            match &c.kind {
                ConditionKind::Filters { filters, .. } => lists.push(filters.as_slice()),
                ConditionKind::Sequence(s) => sequences.push(s),
            }
        }
        if let Some(f) = &self.funnel {
            sequences.push(&f.sequence);
        }
        (lists, sequences)
    }

    /// Whether a sequence holds `column` constant.
    fn holds(&self, column: &str) -> bool {
        self.filter_uses()
            .1
            .iter()
            .any(|s| s.hold_constant.iter().any(|c| c == column))
    }

    /// Whether a filter, sum target, aggregation or `holdConstant` uses `column` (grouping and
    /// time order aside).
    pub(crate) fn column_used_outside_time(&self, column: &str) -> bool {
        self.holds(column) || self.filters_on(column) || self.sums(column) || self.aggregates(column)
    }
}

/// A validated query in verbose form, with the list of columns it reads.
///
/// ```
/// use arrow::datatypes::{DataType, Field, Schema};
/// use frocket_engine::{validate_query, DatasetSchema};
/// let arrow = Schema::new(vec![
///     Field::new("uid", DataType::Int64, false),
///     Field::new("ts", DataType::Int64, false),
///     Field::new("event", DataType::Utf8, true),
/// ]);
/// let schema = DatasetSchema::from_arrow(&arrow, "uid", "ts").unwrap();
/// let q = validate_query(r#"{"query": {"conditions": [{"filter": ["event", "==", "buy"]}]}}"#, &schema, 10).unwrap();
/// assert_eq!(q.columns, vec!["uid", "ts", "event"]);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidatedQuery {
    /// Rows outside are dropped first.
    pub timeframe: Timeframe,
    /// The conditions.
    pub conditions: Vec<Condition>,
    /// How conditions combine.
    pub relation: Relation,
    /// Query aggregations.
    pub aggregations: Vec<Aggregation>,
    /// The funnel, if any.
    pub funnel: Option<Funnel>,
    /// Group id column (from the schema).
    pub group_id_column: String,
    /// Timestamp column (from the schema).
    pub timestamp_column: String,
    /// Every column the query reads: group id, timestamp, then the others in order of use.
    pub columns: Vec<String>,
}
