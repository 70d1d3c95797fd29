//! Helpers shared by the engine's integration tests.
#![allow(dead_code)]

use std::fs::File;
use std::path::PathBuf;

use arrow::array::{Array, AsArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type};
use frocket_engine::DatasetSchema;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// The golden set's helpers, shared with the workspace's end-to-end tests (`frocket-tests`).
#[path = "../../../../tests/src/golden.rs"]
mod golden;
// (Each test file uses some of them.)
#[allow(unused_imports)]
pub use golden::{golden_dir, golden_queries, json_diff};

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
