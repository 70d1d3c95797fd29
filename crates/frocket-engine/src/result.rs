//! The final result of a query, in the JSON shape of query-language.md (Result).

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::conversion::ConversionTimeResult;
use crate::query::AggregationType;

/// A JSON object whose entries keep their order (maps are ordered by value, descending).
///
/// ```
/// use frocket_engine::ValueMap;
/// let m = ValueMap(vec![("b".into(), 2.into()), ("a".into(), 1.into())]);
/// assert_eq!(serde_json::to_string(&m).unwrap(), r#"{"b":2,"a":1}"#);
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ValueMap(pub Vec<(String, Value)>);

impl Serialize for ValueMap {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for ValueMap {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ValueMap;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<ValueMap, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = a.next_entry::<String, Value>()? {
                    out.push((k, v));
                }
                Ok(ValueMap(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// An aggregation's value: a number (`count`) or an ordered map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AggregationValue {
    /// For `count`.
    Count(u64),
    /// For the per-value types.
    Map(ValueMap),
}

/// One aggregation's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AggregationResult {
    /// The column aggregated.
    pub column: String,
    /// The type.
    #[serde(rename = "type")]
    pub agg_type: AggregationType,
    /// The value.
    pub value: AggregationValue,
    /// The `top` applied (null for `count`).
    pub top: Option<usize>,
    /// The name, if given.
    pub name: Option<String>,
    /// Present and true only when a part had to truncate its partial map.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub approximate: bool,
}

/// Groups and rows at one stage (the query, or one funnel step) and its aggregations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StageResult {
    /// Groups matched.
    pub matching_groups: u64,
    /// All rows of the matched groups.
    pub matching_group_rows: u64,
    /// `None` when no aggregations were requested.
    pub aggregations: Option<Vec<AggregationResult>>,
    /// Funnel steps with `conversionTime` only (the key is absent otherwise): `null` at the
    /// first step, the time to convert at the others.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present_or_null"
    )]
    pub conversion_time: Option<Option<ConversionTimeResult>>,
}

/// A key that is present deserializes to `Some`, even when `null` (absent: `None`, by
/// `default`).
fn present_or_null<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<ConversionTimeResult>>, D::Error> {
    Option::<ConversionTimeResult>::deserialize(d).map(Some)
}

/// The funnel's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunnelResult {
    /// One entry per positive step.
    pub sequence: Vec<StageResult>,
    /// `None` when no end aggregations were requested.
    pub end_aggregations: Option<Vec<AggregationResult>>,
}

/// A query's full result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryResult {
    /// Conditions and aggregations.
    pub query: StageResult,
    /// The funnel, or `None`.
    pub funnel: Option<FunnelResult>,
}
