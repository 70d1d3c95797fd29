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

/// The golden queries: (query file name, query text, expected result), in `expected.jsonl`
/// order, then those of `sequence-options/`.
pub fn golden_queries() -> Vec<(String, String, Value)> {
    let dir = golden_dir();
    [dir.clone(), dir.join("sequence-options")]
        .iter()
        .flat_map(|d| {
            std::fs::read_to_string(d.join("expected.jsonl"))
                .unwrap_or_else(|e| panic!("golden {}: {e}", d.join("expected.jsonl").display()))
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|line| {
                    let exp: Value = serde_json::from_str(line).expect("a JSON line");
                    let file = exp["file"].as_str().expect("a file name").to_string();
                    let text = std::fs::read_to_string(d.join("queries").join(&file)).expect("the query file");
                    (file, text, exp["result"].clone())
                })
                .collect::<Vec<_>>()
        })
        .collect()
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
            // A conversion time's percentiles: within its `relativeError` of the exact value.
            let within = y.get("relativeError").and_then(Value::as_f64);
            x.iter()
                .find_map(|(k, v)| match (within, k.as_str(), v.as_f64(), y[k].as_f64()) {
                    (Some(e), "p50" | "p90" | "p99", Some(got), Some(want)) => ((got - want).abs() > e * want.abs())
                        .then(|| format!("{path}.{k}: {got} not within {e} of {want}")),
                    _ => json_diff(v, &y[k], &format!("{path}.{k}"), rel),
                })
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

/// A tiny deterministic generator (xorshift64*).
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// `n` random bytes.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}
