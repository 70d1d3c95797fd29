//! What is stored about a registered dataset.

use std::collections::BTreeMap;

use frocket_engine::{ColumnType, DatasetSchema};
use serde::{Deserialize, Serialize};

pub use frocket_storage::PartRef;

/// The short schema (api.md): column types, timestamp range, categorical columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShortSchema {
    /// Every column with its type.
    pub columns: BTreeMap<String, ColumnType>,
    /// Smallest timestamp over all parts (a whole number shows without a fraction).
    #[serde(serialize_with = "whole_as_integer")]
    pub min_timestamp: Option<f64>,
    /// Largest timestamp over all parts.
    #[serde(serialize_with = "whole_as_integer")]
    pub max_timestamp: Option<f64>,
    /// String columns stored dictionary-encoded in the source files.
    pub source_categoricals: Vec<String>,
    /// String columns whose distinct/rows ratio is under the categorical ratio.
    pub potential_categoricals: Vec<String>,
    /// The unit of the timestamps (`s`, `ms`, `us`, `ns`), `null` when unknown
    /// (query-language.md, "Time units").
    #[serde(default)]
    pub timestamp_unit: Option<frocket_engine::time::TimeUnit>,
}

/// Serializes a whole number as a JSON integer (`1700000000000`, not `1700000000000.0`);
/// other numbers as they are.
fn whole_as_integer<S: serde::Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => s.serialize_some(&(*x as i64)),
        Some(x) => s.serialize_some(x),
        None => s.serialize_none(),
    }
}

/// Per-column detail of the full schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ColumnDetails {
    /// Query-language type.
    #[serde(rename = "type")]
    pub column_type: ColumnType,
    /// Arrow type as stored.
    pub physical_type: String,
    /// Minimum, for numeric columns (from the inspected parts).
    #[serde(
        skip_serializing_if = "Option::is_none",
        default,
        serialize_with = "whole_as_integer"
    )]
    pub min: Option<f64>,
    /// Maximum, for numeric columns.
    #[serde(
        skip_serializing_if = "Option::is_none",
        default,
        serialize_with = "whole_as_integer"
    )]
    pub max: Option<f64>,
    /// Distinct values / rows, for string columns (in the first part).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub unique_ratio: Option<f64>,
    /// For categorical strings: top values with their share of rows (in the first part).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub top_values: Option<Vec<(String, f64)>>,
}

/// The full schema: the short one plus per-column details.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FullSchema {
    /// The short schema.
    #[serde(flatten)]
    pub short: ShortSchema,
    /// Details per column.
    pub details: BTreeMap<String, ColumnDetails>,
}

/// A registered dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetInfo {
    /// Unique name.
    pub name: String,
    /// Where the parts are (local directory or `s3://bucket/prefix/`).
    pub basepath: String,
    /// File name pattern of the parts.
    pub pattern: String,
    /// Group id column.
    pub group_id_column: String,
    /// Timestamp column.
    pub timestamp_column: String,
    /// Registration time (unix seconds).
    pub registered_at: u64,
    /// Unique id of this registration (cached parts of another registration are stale).
    pub registration_id: String,
    /// The parts.
    pub parts: Vec<PartRef>,
    /// The schema.
    pub schema: FullSchema,
}

impl DatasetInfo {
    /// The schema the query validator needs.
    ///
    /// ```
    /// # use frocket_dataset::*;
    /// # use std::collections::BTreeMap;
    /// let info = DatasetInfo { name: "d".into(), basepath: "/d".into(), pattern: "*.parquet".into(),
    ///     group_id_column: "u".into(), timestamp_column: "t".into(), registered_at: 0, registration_id: "x".into(),
    ///     parts: vec![], schema: FullSchema { short: ShortSchema { columns: BTreeMap::new(), min_timestamp: Some(1.0),
    ///     max_timestamp: Some(2.0), source_categoricals: vec![], potential_categoricals: vec![], timestamp_unit: None }, details: BTreeMap::new() } };
    /// assert_eq!(info.query_schema().min_timestamp, Some(1.0));
    /// ```
    pub fn query_schema(&self) -> DatasetSchema {
        DatasetSchema {
            group_id_column: self.group_id_column.clone(),
            timestamp_column: self.timestamp_column.clone(),
            columns: self.schema.short.columns.clone(),
            min_timestamp: self.schema.short.min_timestamp,
            max_timestamp: self.schema.short.max_timestamp,
            timestamp_unit: self.schema.short.timestamp_unit,
        }
    }

    /// Total size of the parts in bytes.
    pub fn total_size(&self) -> u64 {
        self.parts.iter().map(|p| p.size).sum()
    }
}
