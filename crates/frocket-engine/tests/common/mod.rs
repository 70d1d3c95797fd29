//! Helpers shared by the engine's integration tests.
#![allow(dead_code)]

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type};
use frocket_engine::DatasetSchema;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;

/// The golden directory: `FROCKET_GOLDEN_DIR`, or `shared/golden` beside the repository.
pub fn golden_dir() -> PathBuf {
    if let Ok(d) = std::env::var("FROCKET_GOLDEN_DIR") {
        return PathBuf::from(d);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/golden")
}

/// Schema of a dataset of parquet files, with min/max timestamps read from the data.
pub fn schema_of(files: &[PathBuf], group: &str, ts: &str) -> DatasetSchema {
    let mut schema = None;
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for f in files {
        let b = ParquetRecordBatchReaderBuilder::try_new(File::open(f).unwrap()).unwrap();
        if schema.is_none() {
            schema = Some(DatasetSchema::from_arrow(b.schema(), group, ts).unwrap());
        }
        for batch in b.build().unwrap() {
            let batch = batch.unwrap();
            let col = cast(batch.column_by_name(ts).unwrap(), &DataType::Float64).unwrap();
            for v in col.as_primitive::<Float64Type>().iter().flatten() {
                lo = lo.min(v);
                hi = hi.max(v);
            }
            let _ = col.len();
        }
    }
    let mut s = schema.unwrap();
    s.min_timestamp = Some(lo);
    s.max_timestamp = Some(hi);
    s
}

/// Compares two JSON values: integers exactly, floats within `rel` relative tolerance, object
/// keys in the same order. Returns the path of the first difference.
pub fn json_diff(a: &Value, b: &Value, path: &str, rel: f64) -> Option<String> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if x.is_f64() || y.is_f64() {
                let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
                let tol = rel * x.abs().max(y.abs()).max(1e-300);
                if (x - y).abs() <= tol {
                    None
                } else {
                    Some(format!("{path}: {x} != {y}"))
                }
            } else if x == y {
                None
            } else {
                Some(format!("{path}: {x} != {y}"))
            }
        }
        (Value::Object(x), Value::Object(y)) => {
            let kx: Vec<&String> = x.keys().collect();
            let ky: Vec<&String> = y.keys().collect();
            if kx != ky {
                return Some(format!("{path}: keys {kx:?} != {ky:?}"));
            }
            x.iter()
                .find_map(|(k, v)| json_diff(v, &y[k], &format!("{path}.{k}"), rel))
        }
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                return Some(format!("{path}: length {} != {}", x.len(), y.len()));
            }
            x.iter()
                .zip(y)
                .enumerate()
                .find_map(|(i, (v, w))| json_diff(v, w, &format!("{path}[{i}]"), rel))
        }
        _ if a == b => None,
        _ => Some(format!("{path}: {a} != {b}")),
    }
}
