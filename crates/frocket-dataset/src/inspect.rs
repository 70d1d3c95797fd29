//! Inspecting one part at registration: its schema, row count, timestamp range, group ids and
//! (for the first part) string column statistics.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;

use arrow::array::{Array, AsArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int64Type, Schema};
use frocket_engine::query::Timeframe;
use frocket_engine::ColumnType;
use hashbrown::{HashMap, HashSet};
use parquet::arrow::arrow_reader::statistics::StatisticsConverter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::{Deserialize, Serialize};

use crate::register::RegisterError;

/// Distinct group ids of a part, sorted (so that two parts are compared in one merge pass).
///
/// ```
/// use frocket_dataset::GroupIds;
/// let a = GroupIds::from_ints([5, 1, 3, 1]);
/// assert_eq!(a, GroupIds::Int(vec![1, 3, 5]));
/// assert_eq!(a.common(&GroupIds::from_ints([4, 5])), Some("5".to_string()));
/// assert_eq!(a.common(&GroupIds::from_ints([2])), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum GroupIds {
    /// Integer ids.
    Int(Vec<i64>),
    /// String ids.
    Str(Vec<String>),
}

/// The first element present in both sorted, deduplicated slices.
fn first_common<'a, T: Ord>(a: &'a [T], b: &[T]) -> Option<&'a T> {
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => return Some(&a[i]),
        }
    }
    None
}

impl GroupIds {
    /// Integer ids, sorted and deduplicated.
    pub fn from_ints(ids: impl IntoIterator<Item = i64>) -> Self {
        let mut v: Vec<i64> = ids.into_iter().collect();
        v.sort_unstable();
        v.dedup();
        GroupIds::Int(v)
    }

    /// String ids, sorted and deduplicated.
    pub fn from_strings(ids: impl IntoIterator<Item = String>) -> Self {
        let mut v: Vec<String> = ids.into_iter().collect();
        v.sort_unstable();
        v.dedup();
        GroupIds::Str(v)
    }

    /// Distinct ids.
    pub fn len(&self) -> usize {
        match self {
            GroupIds::Int(v) => v.len(),
            GroupIds::Str(v) => v.len(),
        }
    }

    /// No ids.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// One id present in both sets, rendered, if any.
    pub fn common(&self, other: &GroupIds) -> Option<String> {
        match (self, other) {
            (GroupIds::Int(a), GroupIds::Int(b)) => first_common(a, b).map(|x| x.to_string()),
            (GroupIds::Str(a), GroupIds::Str(b)) => first_common(a, b).cloned(),
            _ => None,
        }
    }
}

/// One column of an inspected part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InspectedColumn {
    /// Column name.
    pub name: String,
    /// Its logical type.
    pub column_type: ColumnType,
    /// Its Arrow type, as text.
    pub physical_type: String,
    /// The unit of a TIMESTAMP column (its logical type); `None` for other columns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_unit: Option<frocket_engine::time::TimeUnit>,
}

/// Statistics of a string column in one part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StringStats {
    /// Distinct values / rows.
    pub unique_ratio: f64,
    /// Most frequent values with their share of rows (up to 10).
    pub top_values: Vec<(String, f64)>,
}

/// What registration learns from one part. Serializable: a worker inspects a part and sends
/// this back (its group ids go through the blobstore, see `group_ids`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartInspection {
    /// The part.
    pub path: String,
    /// Its columns, in file order.
    pub columns: Vec<InspectedColumn>,
    /// Rows.
    pub num_rows: u64,
    /// Timestamp range.
    pub min_timestamp: Option<f64>,
    /// Timestamp range.
    pub max_timestamp: Option<f64>,
    /// Distinct group ids, when asked for (not serialized: large; a worker stores them in the
    /// blobstore and names the blob in `group_ids_blob`).
    #[serde(skip)]
    pub group_ids: Option<GroupIds>,
    /// The blob holding the group ids (JSON of [`GroupIds`]), when inspected by a worker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_ids_blob: Option<String>,
    /// String columns stored dictionary-encoded.
    pub dictionary_columns: Vec<String>,
    /// Min/max of numeric columns (from Parquet statistics).
    pub numeric_ranges: BTreeMap<String, (f64, f64)>,
    /// String column statistics, when asked for.
    pub string_stats: BTreeMap<String, StringStats>,
}

/// What a part inspection collects besides the footer facts (the request of an inspection
/// task).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InspectSpec {
    /// The group id column (required, non-null).
    pub group_id_column: String,
    /// The timestamp column (required, numeric, non-null).
    pub timestamp_column: String,
    /// Collect the distinct group ids.
    pub group_ids: bool,
    /// Collect string column statistics.
    pub string_stats: bool,
}

/// Inspects the local file `local` as the part named `shown` (e.g. its s3:// URL): results
/// and messages name `shown`.
pub fn inspect_part_as(local: &Path, shown: &str, spec: &InspectSpec) -> Result<PartInspection, RegisterError> {
    match inspect_part(
        local,
        &spec.group_id_column,
        &spec.timestamp_column,
        spec.group_ids,
        spec.string_stats,
    ) {
        Ok(mut r) => {
            r.path = shown.to_string();
            Ok(r)
        }
        Err(RegisterError::Part { message, .. }) => Err(RegisterError::Part {
            message: message.replace(&local.display().to_string(), shown),
            part: shown.to_string(),
        }),
        Err(e) => Err(e),
    }
}

fn part_err(path: &str, m: impl std::fmt::Display) -> RegisterError {
    RegisterError::Part {
        part: path.to_string(),
        message: m.to_string(),
    }
}

/// Inspects the part at `path`. Group ids and string statistics are collected only when asked
/// for (they read whole columns).
pub fn inspect_part(
    path: &Path,
    group_id_column: &str,
    timestamp_column: &str,
    with_group_ids: bool,
    with_string_stats: bool,
) -> Result<PartInspection, RegisterError> {
    let name = path.display().to_string();
    let open = || File::open(path).map_err(|e| part_err(&name, e));
    let builder = ParquetRecordBatchReaderBuilder::try_new(open()?)
        .map_err(|e| part_err(&name, format!("not a readable Parquet file: {e}")))?;
    let schema = builder.schema().clone();
    let meta = builder.metadata().clone();
    let pschema = builder.parquet_schema().clone();
    drop(builder);
    let num_rows = meta.file_metadata().num_rows().max(0) as u64;
    frocket_engine::DatasetSchema::from_arrow(&schema, group_id_column, timestamp_column)
        .map_err(|e| part_err(&name, e))?;

    // Dictionary-encoded strings and numeric ranges from the footer.
    let mut dictionary_columns = Vec::new();
    let mut numeric_ranges = BTreeMap::new();
    for f in schema.fields() {
        let ty = ColumnType::from_arrow(f.data_type());
        if ty == ColumnType::String {
            let leaf = (0..pschema.num_columns()).find(|&i| pschema.column(i).path().parts() == [f.name().as_str()]);
            let dict_pages = leaf.is_some_and(|l| {
                meta.num_row_groups() > 0
                    && meta
                        .row_groups()
                        .iter()
                        .all(|rg| rg.column(l).dictionary_page_offset().is_some())
            });
            if matches!(f.data_type(), DataType::Dictionary(_, _)) || dict_pages {
                dictionary_columns.push(f.name().clone());
            }
        }
        if ty.is_numeric() {
            if let Some(r) = stats_range(&schema, &pschema, &meta, f.name()) {
                numeric_ranges.insert(f.name().clone(), r);
            }
        }
    }

    // Timestamps (and group ids) from the data itself.
    let mut columns = vec![timestamp_column.to_string()];
    if with_group_ids {
        columns.push(group_id_column.to_string());
    }
    let string_cols: Vec<String> = if with_string_stats {
        schema
            .fields()
            .iter()
            .filter(|f| ColumnType::from_arrow(f.data_type()) == ColumnType::String)
            .map(|f| f.name().clone())
            .collect()
    } else {
        vec![]
    };
    for c in &string_cols {
        if !columns.contains(c) {
            columns.push(c.clone());
        }
    }
    let batch = frocket_engine::exec::read_columns(&name, open()?, &columns, timestamp_column, &Timeframe::default())
        .map_err(|e| part_err(&name, e))?;
    let ts = batch.column(0);
    if ts.null_count() > 0 {
        return Err(part_err(
            &name,
            format!("timestamp column '{timestamp_column}' has {} nulls", ts.null_count()),
        ));
    }
    let ts = cast(ts, &DataType::Float64).map_err(|e| part_err(&name, e))?;
    let ts = ts.as_primitive::<Float64Type>();
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for &v in ts.values().iter() {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    let (min_timestamp, max_timestamp) = if ts.is_empty() {
        (None, None)
    } else {
        (Some(lo), Some(hi))
    };

    let group_ids = if with_group_ids {
        let g = batch.column(1);
        if g.null_count() > 0 {
            return Err(part_err(
                &name,
                format!("group id column '{group_id_column}' has {} nulls", g.null_count()),
            ));
        }
        Some(match g.data_type() {
            DataType::Int64 => GroupIds::from_ints(g.as_primitive::<Int64Type>().values().iter().copied()),
            _ => {
                let s = cast(g, &DataType::Utf8).map_err(|e| part_err(&name, e))?;
                let distinct: HashSet<&str> = s.as_string::<i32>().iter().flatten().collect();
                GroupIds::from_strings(distinct.into_iter().map(str::to_string))
            }
        })
    } else {
        None
    };

    let mut string_stats = BTreeMap::new();
    for c in &string_cols {
        let Some(idx) = columns.iter().position(|x| x == c) else {
            continue;
        };
        let s = cast(batch.column(idx), &DataType::Utf8).map_err(|e| part_err(&name, e))?;
        let s = s.as_string::<i32>();
        let mut counts: HashMap<&str, u64> = HashMap::new();
        for v in s.iter().flatten() {
            *counts.entry(v).or_default() += 1;
        }
        let rows = s.len().max(1) as f64;
        let mut top: Vec<(&str, u64)> = counts.iter().map(|(k, v)| (*k, *v)).collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        top.truncate(10);
        string_stats.insert(
            c.clone(),
            StringStats {
                unique_ratio: counts.len() as f64 / rows,
                top_values: top.into_iter().map(|(k, v)| (k.to_string(), v as f64 / rows)).collect(),
            },
        );
    }
    let columns = schema
        .fields()
        .iter()
        .map(|f| InspectedColumn {
            name: f.name().clone(),
            column_type: ColumnType::from_arrow(f.data_type()),
            physical_type: f.data_type().to_string(),
            time_unit: frocket_engine::time::unit_of_arrow(f.data_type()),
        })
        .collect();
    Ok(PartInspection {
        path: name,
        columns,
        num_rows,
        min_timestamp,
        max_timestamp,
        group_ids,
        group_ids_blob: None,
        dictionary_columns,
        numeric_ranges,
        string_stats,
    })
}

fn stats_range(
    schema: &Schema,
    pschema: &parquet::schema::types::SchemaDescriptor,
    meta: &parquet::file::metadata::ParquetMetaData,
    column: &str,
) -> Option<(f64, f64)> {
    let conv = StatisticsConverter::try_new(column, schema, pschema).ok()?;
    let mins = cast(&conv.row_group_mins(meta.row_groups().iter()).ok()?, &DataType::Float64).ok()?;
    let maxes = cast(
        &conv.row_group_maxes(meta.row_groups().iter()).ok()?,
        &DataType::Float64,
    )
    .ok()?;
    let lo = mins
        .as_primitive::<Float64Type>()
        .iter()
        .flatten()
        .fold(f64::INFINITY, f64::min);
    let hi = maxes
        .as_primitive::<Float64Type>()
        .iter()
        .flatten()
        .fold(f64::NEG_INFINITY, f64::max);
    (lo <= hi).then_some((lo, hi))
}

/// Timestamp range of a part from its footer statistics only (cheap), if present.
pub fn timestamp_range_from_footer(path: &Path, timestamp_column: &str) -> Option<(f64, f64)> {
    let b = ParquetRecordBatchReaderBuilder::try_new(File::open(path).ok()?).ok()?;
    let schema = b.schema().clone();
    stats_range(&schema, b.parquet_schema(), b.metadata(), timestamp_column)
}
