//! Column types of the query language and a dataset's schema as the validator sees it.

use std::collections::BTreeMap;

use arrow::datatypes::{DataType, Schema};

/// A column's type in the query language.
///
/// ```
/// use arrow::datatypes::DataType;
/// use frocket_engine::ColumnType;
/// assert_eq!(ColumnType::from_arrow(&DataType::Int32), ColumnType::Int);
/// assert_eq!(ColumnType::Int.to_string(), "INT");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ColumnType {
    /// Any integer width (and Arrow timestamps, read as their raw integer).
    #[serde(rename = "INT")]
    Int,
    /// 16/32/64-bit floating point.
    #[serde(rename = "FLOAT")]
    Float,
    /// Boolean.
    #[serde(rename = "BOOL")]
    Bool,
    /// UTF-8 strings, plain or dictionary-encoded.
    #[serde(rename = "STRING")]
    String,
    /// A list of strings.
    #[serde(rename = "LIST<STRING>")]
    ListString,
    /// A list of integers.
    #[serde(rename = "LIST<INT>")]
    ListInt,
    /// Any other type: ignored by queries, reported in the schema.
    #[serde(rename = "UNSUPPORTED")]
    Unsupported,
}

impl ColumnType {
    /// Maps an Arrow data type to the query language's type.
    pub fn from_arrow(dt: &DataType) -> Self {
        match dt {
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
            | DataType::Timestamp(_, _) => ColumnType::Int,
            DataType::Float16 | DataType::Float32 | DataType::Float64 => ColumnType::Float,
            DataType::Boolean => ColumnType::Bool,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => ColumnType::String,
            DataType::Dictionary(k, v) if k.is_dictionary_key_type() => match ColumnType::from_arrow(v) {
                ColumnType::String => ColumnType::String,
                _ => ColumnType::Unsupported,
            },
            DataType::List(f) | DataType::LargeList(f) => match ColumnType::from_arrow(f.data_type()) {
                ColumnType::String => ColumnType::ListString,
                ColumnType::Int => ColumnType::ListInt,
                _ => ColumnType::Unsupported,
            },
            _ => ColumnType::Unsupported,
        }
    }

    /// True for INT and FLOAT.
    pub fn is_numeric(self) -> bool {
        matches!(self, ColumnType::Int | ColumnType::Float)
    }

    /// True for the LIST types.
    pub fn is_list(self) -> bool {
        matches!(self, ColumnType::ListString | ColumnType::ListInt)
    }

    /// The name used in schemas and messages.
    pub fn name(self) -> &'static str {
        match self {
            ColumnType::Int => "INT",
            ColumnType::Float => "FLOAT",
            ColumnType::Bool => "BOOL",
            ColumnType::String => "STRING",
            ColumnType::ListString => "LIST<STRING>",
            ColumnType::ListInt => "LIST<INT>",
            ColumnType::Unsupported => "UNSUPPORTED",
        }
    }
}

impl std::fmt::Display for ColumnType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What the validator needs to know about a dataset: its columns and types, the group id and
/// timestamp columns, and the range of timestamps (to catch a timeframe in the wrong unit).
///
/// ```
/// use arrow::datatypes::{DataType, Field, Schema};
/// use frocket_engine::{ColumnType, DatasetSchema};
/// let arrow = Schema::new(vec![
///     Field::new("uid", DataType::Int64, false),
///     Field::new("ts", DataType::Int64, false),
///     Field::new("event", DataType::Utf8, true),
/// ]);
/// let s = DatasetSchema::from_arrow(&arrow, "uid", "ts").unwrap();
/// assert_eq!(s.columns["event"], ColumnType::String);
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetSchema {
    /// The group id column (int or string, never null).
    pub group_id_column: String,
    /// The timestamp column (int or float).
    pub timestamp_column: String,
    /// Every column with its type.
    pub columns: BTreeMap<String, ColumnType>,
    /// Smallest timestamp in the dataset, when known.
    pub min_timestamp: Option<f64>,
    /// Largest timestamp in the dataset, when known.
    pub max_timestamp: Option<f64>,
    /// The unit of the timestamps, when known (the column's TIMESTAMP logical type, or
    /// declared at registration): then durations and timeframe bounds may be written as
    /// strings (`"90s"`, `"2021-01-01"`).
    #[serde(default)]
    pub timestamp_unit: Option<crate::time::TimeUnit>,
}

/// Why an Arrow schema cannot be a dataset's schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    /// A required column is absent.
    #[error("required {role} column '{column}' not found (columns: {available})")]
    MissingColumn {
        /// "group id" or "timestamp".
        role: &'static str,
        /// The column named.
        column: String,
        /// The columns that exist.
        available: String,
    },
    /// A required column has the wrong type.
    #[error("{role} column '{column}' has type {found}; allowed: {allowed}")]
    WrongType {
        /// "group id" or "timestamp".
        role: &'static str,
        /// The column named.
        column: String,
        /// The Arrow type found.
        found: String,
        /// What is allowed.
        allowed: &'static str,
    },
}

impl DatasetSchema {
    /// Builds a schema from an Arrow schema, checking the group id column is INT or STRING and
    /// the timestamp column INT or FLOAT. Timestamp bounds are left unknown.
    pub fn from_arrow(schema: &Schema, group_id_column: &str, timestamp_column: &str) -> Result<Self, SchemaError> {
        let columns: BTreeMap<String, ColumnType> = schema
            .fields()
            .iter()
            .map(|f| (f.name().clone(), ColumnType::from_arrow(f.data_type())))
            .collect();
        let available = || {
            schema
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let check = |role: &'static str, column: &str, allowed: &[ColumnType], allowed_s: &'static str| {
            let field = schema.field_with_name(column).map_err(|_| SchemaError::MissingColumn {
                role,
                column: column.to_string(),
                available: available(),
            })?;
            if !allowed.contains(&ColumnType::from_arrow(field.data_type())) {
                return Err(SchemaError::WrongType {
                    role,
                    column: column.to_string(),
                    found: field.data_type().to_string(),
                    allowed: allowed_s,
                });
            }
            Ok(())
        };
        check(
            "group id",
            group_id_column,
            &[ColumnType::Int, ColumnType::String],
            "INT or STRING",
        )?;
        check(
            "timestamp",
            timestamp_column,
            &[ColumnType::Int, ColumnType::Float],
            "INT or FLOAT",
        )?;
        Ok(DatasetSchema {
            group_id_column: group_id_column.to_string(),
            timestamp_column: timestamp_column.to_string(),
            columns,
            min_timestamp: None,
            max_timestamp: None,
            timestamp_unit: schema
                .field_with_name(timestamp_column)
                .ok()
                .and_then(|f| crate::time::unit_of_arrow(f.data_type())),
        })
    }

    /// The type of `column`, if the dataset has it.
    pub fn column_type(&self, column: &str) -> Option<ColumnType> {
        self.columns.get(column).copied()
    }
}
