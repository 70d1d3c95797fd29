//! # frocket-engine
//!
//! The Funnel Rocket query engine: the query language (validation, shorthand expansion,
//! relation expressions), execution of a query over one Parquet part into a mergeable
//! [`PartialResult`], and the exact merge of partials into a [`QueryResult`].
//!
//! It depends on Arrow and Parquet only — no async runtime, no cloud SDK — so it builds and
//! tests quickly, and every way of running queries (embedded, queue workers, Lambda) shares it.
//!
//! ```
//! use arrow::array::{Int64Array, StringArray, RecordBatch};
//! use arrow::datatypes::{DataType, Field, Schema};
//! use std::sync::Arc;
//! use frocket_engine::{run_batch, validate_query, DatasetSchema, ExecOptions, PartialResult};
//!
//! let schema = Arc::new(Schema::new(vec![
//!     Field::new("uid", DataType::Int64, false),
//!     Field::new("ts", DataType::Int64, false),
//!     Field::new("event", DataType::Utf8, true),
//! ]));
//! let batch = RecordBatch::try_new(schema.clone(), vec![
//!     Arc::new(Int64Array::from(vec![1, 1, 2])),
//!     Arc::new(Int64Array::from(vec![10, 20, 10])),
//!     Arc::new(StringArray::from(vec!["view", "buy", "view"])),
//! ]).unwrap();
//! let ds = DatasetSchema::from_arrow(&schema, "uid", "ts").unwrap();
//! let q = validate_query(r#"{"funnel": {"sequence": [{"filter": ["event", "==", "view"]},
//!                                                   {"filter": ["event", "==", "buy"]}]}}"#, &ds, 10).unwrap();
//! let partial = run_batch("memory", &batch, &q, &ExecOptions::default()).unwrap();
//! let result = PartialResult::merge_all([partial]).unwrap().finish(&q).unwrap();
//! let steps = result.funnel.unwrap().sequence;
//! assert_eq!((steps[0].matching_groups, steps[1].matching_groups), (2, 1));
//! ```

pub mod conversion;
pub mod error;
pub mod exec;
pub mod memory;
pub mod part_file;
pub mod partial;
pub mod query;
pub mod result;
pub mod schema;
pub mod time;

pub use error::{EngineError, ValidationError, ValidationErrors};
pub use exec::{read_part, run_batch, run_loaded, run_part, ExecOptions};
pub use part_file::{open_part, PartFile};
pub use partial::{PartialAggregation, PartialFunnel, PartialResult, PartialStage, PartialValue};
pub use query::{validate_query, validate_value, ValidatedQuery};
pub use result::{AggregationResult, AggregationValue, FunnelResult, QueryResult, StageResult, ValueMap};
pub use schema::{ColumnType, DatasetSchema, SchemaError};
