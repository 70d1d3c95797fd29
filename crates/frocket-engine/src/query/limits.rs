//! Bounds on what one query may ask (query-language.md, "Limits"), so that no single query
//! can take a worker's memory or time. Validation rejects a query past any of them with the
//! JSON path of what is too big; operators change them through `FROCKET_QUERY_MAX_*`.

/// The limits a query is validated against. [`QueryLimits::default`] holds the spec's values.
///
/// ```
/// use frocket_engine::query::QueryLimits;
/// let l = QueryLimits::default();
/// assert_eq!((l.max_steps, l.max_conditions, l.max_top), (64, 100, 10_000));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryLimits {
    /// Steps per sequence (a sequence condition or the funnel) — `FROCKET_QUERY_MAX_STEPS`.
    pub max_steps: usize,
    /// Conditions of the query — `FROCKET_QUERY_MAX_CONDITIONS`.
    pub max_conditions: usize,
    /// Filters of one condition or one step — `FROCKET_QUERY_MAX_FILTERS`.
    pub max_filters: usize,
    /// Aggregations per list (the query's, `stepAggregations`, `endAggregations`) —
    /// `FROCKET_QUERY_MAX_AGGREGATIONS`.
    pub max_aggregations: usize,
    /// Characters of a relation expression — `FROCKET_QUERY_MAX_RELATION_CHARS`.
    pub max_relation_chars: usize,
    /// Condition references in a relation expression — `FROCKET_QUERY_MAX_RELATION_TERMS`.
    pub max_relation_terms: usize,
    /// Characters of a `regex` pattern — `FROCKET_QUERY_MAX_REGEX_CHARS`.
    pub max_regex_chars: usize,
    /// Bytes a compiled `regex` may take — `FROCKET_QUERY_MAX_REGEX_BYTES` (at most
    /// [`REGEX_SIZE_HARD_LIMIT`]).
    pub max_regex_bytes: usize,
    /// `top` of a per-value aggregation — `FROCKET_QUERY_MAX_TOP`.
    pub max_top: usize,
}

/// The most a compiled regex may take on a worker, whatever the configured limit: workers
/// compile with this bound (validation already applied the configured, smaller one).
pub const REGEX_SIZE_HARD_LIMIT: usize = 10 * 1024 * 1024;

impl Default for QueryLimits {
    fn default() -> Self {
        QueryLimits {
            max_steps: 64,
            max_conditions: 100,
            max_filters: 100,
            max_aggregations: 100,
            max_relation_chars: 10_000,
            max_relation_terms: 1_000,
            max_regex_chars: 1_000,
            max_regex_bytes: 1024 * 1024,
            max_top: 10_000,
        }
    }
}

/// The message of a list that is too long, naming the variable that sets its bound.
pub(crate) fn too_many(found: usize, what: &str, max: usize, var: &str) -> String {
    format!("{found} {what}, more than the {max} allowed ({var})")
}
