//! Mergeable per-part results, their exact merge, and the final result.
//!
//! Parts return full per-value maps (sums and counts for means), so merging any split of the
//! data gives the same answer as one part holding everything. Only when a part's map exceeds
//! the configured bound is it cut, and the result says `approximate: true`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::conversion::ConversionPartial;
use crate::error::EngineError;
use crate::query::{Aggregation, ValidatedQuery};
use crate::result::{AggregationResult, AggregationValue, FunnelResult, QueryResult, StageResult, ValueMap};

/// The mergeable value of one aggregation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "camelCase")]
pub enum PartialValue {
    /// `count`.
    Count(u64),
    /// `countPerValue` / `groupsPerValue` (groups never span parts, so they add up).
    Counts(BTreeMap<String, u64>),
    /// `sumPerValue` over an INT column (exact: 128-bit; a final sum beyond 64 bits is an
    /// error, see [`PartialResult::finish`]).
    IntSums(BTreeMap<String, i128>),
    /// `sumPerValue` over a FLOAT column.
    FloatSums(BTreeMap<String, f64>),
    /// `meanPerValue` over an INT column: (sum, non-null count).
    IntMeans(BTreeMap<String, (i128, u64)>),
    /// `meanPerValue` over a FLOAT column: (sum, non-null count).
    FloatMeans(BTreeMap<String, (f64, u64)>),
}

/// One aggregation's partial.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartialAggregation {
    /// The value.
    pub value: PartialValue,
    /// True when a part cut its map.
    #[serde(default)]
    pub approximate: bool,
}

/// One stage's partial: groups, rows, aggregations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct PartialStage {
    /// Matching groups.
    pub groups: u64,
    /// Their rows.
    pub rows: u64,
    /// Aggregations, in query order.
    pub aggregations: Vec<PartialAggregation>,
}

/// The funnel's partial.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartialFunnel {
    /// One per positive step.
    pub steps: Vec<PartialStage>,
    /// End aggregations.
    pub end_aggregations: Vec<PartialAggregation>,
    /// With `conversionTime`: the time to convert of steps 1.. (one fewer than `steps`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conversion: Vec<ConversionPartial>,
}

/// What one part contributes to a query's result. Serializable, to travel between workers
/// and the invoker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartialResult {
    /// The query stage.
    pub query: PartialStage,
    /// The funnel stage, when the query has a funnel.
    pub funnel: Option<PartialFunnel>,
    /// Rows scanned (after the timeframe).
    pub scanned_rows: u64,
    /// Groups scanned (after the timeframe).
    pub scanned_groups: u64,
}

fn add_maps<V: Copy>(a: &mut BTreeMap<String, V>, b: BTreeMap<String, V>, add: impl Fn(V, V) -> V) {
    for (k, v) in b {
        a.entry(k).and_modify(|x| *x = add(*x, v)).or_insert(v);
    }
}

impl PartialAggregation {
    fn merge(&mut self, other: PartialAggregation) -> Result<(), EngineError> {
        self.approximate |= other.approximate;
        match (&mut self.value, other.value) {
            (PartialValue::Count(a), PartialValue::Count(b)) => *a += b,
            (PartialValue::Counts(a), PartialValue::Counts(b)) => add_maps(a, b, |x, y| x + y),
            (PartialValue::IntSums(a), PartialValue::IntSums(b)) => add_maps(a, b, |x, y| x.saturating_add(y)),
            (PartialValue::FloatSums(a), PartialValue::FloatSums(b)) => add_maps(a, b, |x, y| x + y),
            (PartialValue::IntMeans(a), PartialValue::IntMeans(b)) => {
                add_maps(a, b, |x, y| (x.0.saturating_add(y.0), x.1 + y.1))
            }
            (PartialValue::FloatMeans(a), PartialValue::FloatMeans(b)) => add_maps(a, b, |x, y| (x.0 + y.0, x.1 + y.1)),
            (a, b) => return Err(EngineError::Merge(format!("aggregation kinds differ: {a:?} vs {b:?}"))),
        }
        Ok(())
    }
}

fn merge_aggs(a: &mut [PartialAggregation], b: Vec<PartialAggregation>) -> Result<(), EngineError> {
    if a.len() != b.len() {
        return Err(EngineError::Merge(format!("{} vs {} aggregations", a.len(), b.len())));
    }
    for (x, y) in a.iter_mut().zip(b) {
        x.merge(y)?;
    }
    Ok(())
}

impl PartialStage {
    fn merge(&mut self, other: PartialStage) -> Result<(), EngineError> {
        self.groups += other.groups;
        self.rows += other.rows;
        merge_aggs(&mut self.aggregations, other.aggregations)
    }
}

impl PartialResult {
    /// Adds another part's partial into this one.
    ///
    /// ```
    /// use frocket_engine::{PartialResult, PartialStage};
    /// let mut a = PartialResult { query: PartialStage { groups: 2, rows: 5, aggregations: vec![] }, funnel: None, scanned_rows: 5, scanned_groups: 2 };
    /// let b = PartialResult { query: PartialStage { groups: 1, rows: 3, aggregations: vec![] }, funnel: None, scanned_rows: 3, scanned_groups: 1 };
    /// a.merge(b).unwrap();
    /// assert_eq!((a.query.groups, a.query.rows), (3, 8));
    /// ```
    pub fn merge(&mut self, other: PartialResult) -> Result<(), EngineError> {
        self.scanned_rows += other.scanned_rows;
        self.scanned_groups += other.scanned_groups;
        self.query.merge(other.query)?;
        match (&mut self.funnel, other.funnel) {
            (None, None) => {}
            (Some(a), Some(b)) => {
                if a.steps.len() != b.steps.len() {
                    return Err(EngineError::Merge("funnels have different step counts".into()));
                }
                for (x, y) in a.steps.iter_mut().zip(b.steps) {
                    x.merge(y)?;
                }
                merge_aggs(&mut a.end_aggregations, b.end_aggregations)?;
                if a.conversion.len() != b.conversion.len() {
                    return Err(EngineError::Merge("partials disagree on conversion times".into()));
                }
                for (x, y) in a.conversion.iter_mut().zip(&b.conversion) {
                    x.merge(y).map_err(EngineError::Merge)?;
                }
            }
            _ => return Err(EngineError::Merge("one partial has a funnel and the other not".into())),
        }
        Ok(())
    }

    /// Merges many partials (none gives an error).
    pub fn merge_all(parts: impl IntoIterator<Item = PartialResult>) -> Result<PartialResult, EngineError> {
        let mut it = parts.into_iter();
        let mut acc = it
            .next()
            .ok_or_else(|| EngineError::Merge("no partial results".into()))?;
        for p in it {
            acc.merge(p)?;
        }
        Ok(acc)
    }

    /// Turns a (merged) partial into the final result: maps ordered by value descending then
    /// key ascending, cut to `top`; means computed from sums and counts.
    pub fn finish(self, query: &ValidatedQuery) -> Result<QueryResult, EngineError> {
        let funnel = match (&query.funnel, self.funnel) {
            (Some(f), Some(pf)) => {
                let mut sequence: Vec<StageResult> = pf
                    .steps
                    .into_iter()
                    .map(|s| finish_stage(s, &f.step_aggregations))
                    .collect::<Result<_, _>>()?;
                if let Some(ct) = &f.conversion_time {
                    if pf.conversion.len() + 1 != sequence.len() {
                        return Err(EngineError::Merge(format!(
                            "{} conversion times for {} funnel steps",
                            pf.conversion.len(),
                            sequence.len()
                        )));
                    }
                    for (k, stage) in sequence.iter_mut().enumerate() {
                        stage.conversion_time = Some(k.checked_sub(1).map(|i| pf.conversion[i].finish(&ct.bins)));
                    }
                }
                Some(FunnelResult {
                    sequence,
                    end_aggregations: finish_aggs(pf.end_aggregations, &f.end_aggregations)?,
                })
            }
            (None, None) => None,
            _ => return Err(EngineError::Merge("partial and query disagree on the funnel".into())),
        };
        Ok(QueryResult {
            query: finish_stage(self.query, &query.aggregations)?,
            funnel,
        })
    }
}

fn finish_stage(s: PartialStage, aggs: &[Aggregation]) -> Result<StageResult, EngineError> {
    Ok(StageResult {
        matching_groups: s.groups,
        matching_group_rows: s.rows,
        aggregations: finish_aggs(s.aggregations, aggs)?,
        conversion_time: None,
    })
}

fn finish_aggs(
    parts: Vec<PartialAggregation>,
    aggs: &[Aggregation],
) -> Result<Option<Vec<AggregationResult>>, EngineError> {
    if aggs.is_empty() {
        return Ok(None);
    }
    if parts.len() != aggs.len() {
        return Err(EngineError::Merge(format!(
            "{} partial aggregations for {} aggregations",
            parts.len(),
            aggs.len()
        )));
    }
    parts
        .into_iter()
        .zip(aggs)
        .map(|(p, a)| {
            Ok(AggregationResult {
                column: a.column.clone(),
                agg_type: a.agg_type,
                value: finish_value(p.value, a)?,
                top: a.top,
                name: a.name.clone(),
                approximate: p.approximate,
            })
        })
        .collect::<Result<Vec<_>, EngineError>>()
        .map(Some)
}

/// Orders entries by value descending, then key ascending, and keeps `top`.
pub(crate) fn top_entries<V>(
    mut entries: Vec<(String, V)>,
    top: usize,
    cmp: impl Fn(&V, &V) -> std::cmp::Ordering,
) -> Vec<(String, V)> {
    entries.sort_by(|a, b| cmp(&b.1, &a.1).then_with(|| a.0.cmp(&b.0)));
    entries.truncate(top);
    entries
}

fn finish_value(v: PartialValue, agg: &Aggregation) -> Result<AggregationValue, EngineError> {
    let top = agg.top.unwrap_or(usize::MAX);
    fn to_map<V>(
        m: BTreeMap<String, V>,
        top: usize,
        cmp: impl Fn(&V, &V) -> std::cmp::Ordering,
        json: impl Fn(V) -> Value,
    ) -> AggregationValue {
        let entries = top_entries(m.into_iter().collect(), top, cmp);
        AggregationValue::Map(ValueMap(entries.into_iter().map(|(k, v)| (k, json(v))).collect()))
    }
    Ok(match v {
        PartialValue::Count(c) => AggregationValue::Count(c),
        PartialValue::Counts(m) => to_map(m, top, |a, b| a.cmp(b), Value::from),
        PartialValue::IntSums(m) => {
            // Sums are exact in 128 bits; the result is a 64-bit integer, or an error.
            let sums =
                m.into_iter()
                    .map(|(k, s)| match i64::try_from(s) {
                        Ok(v) => Ok((k, v)),
                        Err(_) => Err(EngineError::Overflow(format!(
                        "aggregation sumPerValue of '{}' per '{}'{}: the sum for '{k}' is {s}, beyond a 64-bit integer",
                        agg.other_column.as_deref().unwrap_or("?"),
                        agg.column,
                        agg.name.as_deref().map(|n| format!(" (named '{n}')")).unwrap_or_default(),
                    ))),
                    })
                    .collect::<Result<BTreeMap<String, i64>, EngineError>>()?;
            to_map(sums, top, |a, b| a.cmp(b), Value::from)
        }
        PartialValue::FloatSums(m) => to_map(m, top, |a, b| a.total_cmp(b), Value::from),
        PartialValue::IntMeans(m) => {
            let means: BTreeMap<String, f64> = m
                .into_iter()
                .filter(|(_, (_, c))| *c > 0)
                .map(|(k, (s, c))| (k, s as f64 / c as f64))
                .collect();
            to_map(means, top, |a, b| a.total_cmp(b), Value::from)
        }
        PartialValue::FloatMeans(m) => {
            let means: BTreeMap<String, f64> = m
                .into_iter()
                .filter(|(_, (_, c))| *c > 0)
                .map(|(k, (s, c))| (k, s / c as f64))
                .collect();
            to_map(means, top, |a, b| a.total_cmp(b), Value::from)
        }
    })
}
