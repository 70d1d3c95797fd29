//! Repartitioning any Parquet input into N parts by group id.
//!
//! Streams record batches from every input file and routes each row to the part its group id
//! hashes to (a fixed hash, so the layout is reproducible); only one batch per input plus the
//! writers' open row groups are in memory, so inputs larger than memory work.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, UInt32Array};
use arrow::compute::{cast, take};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::DataprepError;

/// How to repartition.
#[derive(Debug, Clone)]
pub struct RepartitionOptions {
    /// The group id column.
    pub group_id_column: String,
    /// Number of output parts.
    pub parts: usize,
    /// Convert string columns whose distinct/rows ratio in the first batch is below this to
    /// dictionary encoding (`None`: keep types as they are).
    pub dictionary_ratio: Option<f64>,
}

/// What was written.
#[derive(Debug, Clone)]
pub struct RepartitionSummary {
    /// Output files, in order.
    pub files: Vec<PathBuf>,
    /// Rows written.
    pub rows: u64,
    /// Columns converted to dictionary encoding.
    pub dictionary_columns: Vec<String>,
}

/// Parquet files of `input`: the file itself, or the `.parquet` files of a folder, sorted.
pub fn input_files(input: &Path) -> Result<Vec<PathBuf>, DataprepError> {
    let io = |e| DataprepError::Io {
        path: input.display().to_string(),
        source: e,
    };
    let meta = std::fs::metadata(input).map_err(io)?;
    if meta.is_file() {
        return Ok(vec![input.to_path_buf()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(input)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "parquet") && p.is_file())
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(DataprepError::Invalid(format!(
            "no .parquet files in {}",
            input.display()
        )));
    }
    Ok(files)
}

/// FNV-1a, fixed so the layout never depends on a random seed.
fn fnv(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn part_of_rows(col: &ArrayRef, parts: usize, path: &Path, column: &str) -> Result<Vec<u32>, DataprepError> {
    let bad = |m: String| DataprepError::Invalid(format!("{}: group id column '{column}': {m}", path.display()));
    if col.null_count() > 0 {
        return Err(bad("has nulls".into()));
    }
    let p = parts as u64;
    Ok(match col.data_type() {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Dictionary(_, _) => {
            let s = cast(col, &DataType::Utf8).map_err(|e| bad(e.to_string()))?;
            let s = s.as_string::<i32>();
            (0..s.len()).map(|i| (fnv(s.value(i).as_bytes()) % p) as u32).collect()
        }
        dt if dt.is_integer() => {
            let a = cast(col, &DataType::Int64).map_err(|e| bad(e.to_string()))?;
            a.as_primitive::<Int64Type>()
                .values()
                .iter()
                .map(|&v| ((v as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 17) % p)
                .map(|x| x as u32)
                .collect()
        }
        other => return Err(bad(format!("type {other} cannot be a group id (INT or STRING)"))),
    })
}

/// Repartitions `input` (a Parquet file or folder) into `out_dir/part-00000.parquet`….
pub fn repartition(
    input: &Path,
    out_dir: &Path,
    opts: &RepartitionOptions,
) -> Result<RepartitionSummary, DataprepError> {
    if opts.parts == 0 {
        return Err(DataprepError::Invalid("parts must be at least 1".into()));
    }
    let files = input_files(input)?;
    std::fs::create_dir_all(out_dir).map_err(|e| DataprepError::Io {
        path: out_dir.display().to_string(),
        source: e,
    })?;
    let perr = |p: &Path, e: &dyn std::fmt::Display| DataprepError::Parquet {
        path: p.display().to_string(),
        message: e.to_string(),
    };

    let mut out_schema: Option<SchemaRef> = None;
    let mut dict_cols: Vec<String> = Vec::new();
    let mut writers: Vec<ArrowWriter<File>> = Vec::new();
    let out_files: Vec<PathBuf> = (0..opts.parts)
        .map(|p| out_dir.join(format!("part-{p:05}.parquet")))
        .collect();
    let mut rows = 0u64;
    for path in &files {
        let f = File::open(path).map_err(|e| DataprepError::Io {
            path: path.display().to_string(),
            source: e,
        })?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(f)
            .map_err(|e| perr(path, &e))?
            .with_batch_size(64 * 1024)
            .build()
            .map_err(|e| perr(path, &e))?;
        for batch in reader {
            let batch = batch.map_err(|e| perr(path, &e))?;
            if out_schema.is_none() {
                let (schema, cols) = output_schema(&batch, opts.dictionary_ratio);
                dict_cols = cols;
                for of in &out_files {
                    let file = File::create(of).map_err(|e| DataprepError::Io {
                        path: of.display().to_string(),
                        source: e,
                    })?;
                    let props = WriterProperties::builder().set_compression(Compression::SNAPPY).build();
                    writers.push(ArrowWriter::try_new(file, schema.clone(), Some(props)).map_err(|e| perr(of, &e))?);
                }
                out_schema = Some(schema);
            }
            let schema = out_schema
                .clone()
                .ok_or_else(|| DataprepError::Invalid("no schema".into()))?;
            if batch.schema().fields().len() != schema.fields().len()
                || batch
                    .schema()
                    .fields()
                    .iter()
                    .zip(schema.fields())
                    .any(|(a, b)| a.name() != b.name())
            {
                return Err(DataprepError::Invalid(format!(
                    "{}: columns differ from the first input file's",
                    path.display()
                )));
            }
            let cols: Vec<ArrayRef> = batch
                .columns()
                .iter()
                .zip(schema.fields())
                .map(|(c, f)| {
                    if c.data_type() == f.data_type() {
                        Ok(c.clone())
                    } else {
                        cast(c, f.data_type())
                    }
                })
                .collect::<Result<_, _>>()
                .map_err(|e| perr(path, &e))?;
            let batch = RecordBatch::try_new(schema.clone(), cols).map_err(|e| perr(path, &e))?;
            let gcol = batch.column_by_name(&opts.group_id_column).ok_or_else(|| {
                DataprepError::Invalid(format!(
                    "{}: no group id column '{}'",
                    path.display(),
                    opts.group_id_column
                ))
            })?;
            let part_of = part_of_rows(gcol, opts.parts, path, &opts.group_id_column)?;
            let mut idx: Vec<Vec<u32>> = vec![Vec::new(); opts.parts];
            for (r, &p) in part_of.iter().enumerate() {
                idx[p as usize].push(r as u32);
            }
            for (p, rows_p) in idx.into_iter().enumerate() {
                if rows_p.is_empty() {
                    continue;
                }
                let indices = UInt32Array::from(rows_p);
                let cols: Vec<ArrayRef> = batch
                    .columns()
                    .iter()
                    .map(|c| take(c.as_ref(), &indices, None))
                    .collect::<Result<_, _>>()
                    .map_err(|e| perr(path, &e))?;
                let sub = RecordBatch::try_new(schema.clone(), cols).map_err(|e| perr(path, &e))?;
                writers[p].write(&sub).map_err(|e| perr(&out_files[p], &e))?;
            }
            rows += batch.num_rows() as u64;
        }
    }
    if writers.is_empty() {
        return Err(DataprepError::Invalid(format!(
            "{}: no rows to repartition",
            input.display()
        )));
    }
    for (w, of) in writers.into_iter().zip(&out_files) {
        w.close().map_err(|e| perr(of, &e))?;
    }
    Ok(RepartitionSummary {
        files: out_files,
        rows,
        dictionary_columns: dict_cols,
    })
}

fn output_schema(first: &RecordBatch, ratio: Option<f64>) -> (SchemaRef, Vec<String>) {
    let mut converted = Vec::new();
    let fields: Vec<Field> = first
        .schema()
        .fields()
        .iter()
        .zip(first.columns())
        .map(|(f, c)| {
            let is_plain_string = matches!(f.data_type(), DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View);
            if let (Some(r), true) = (ratio, is_plain_string) {
                if let Ok(s) = cast(c, &DataType::Utf8) {
                    let s = s.as_string::<i32>();
                    let distinct: std::collections::HashSet<&str> = s.iter().flatten().collect();
                    if !s.is_empty() && (distinct.len() as f64) / (s.len() as f64) < r {
                        converted.push(f.name().clone());
                        return f.as_ref().clone().with_data_type(DataType::Dictionary(
                            Box::new(DataType::Int32),
                            Box::new(DataType::Utf8),
                        ));
                    }
                }
            }
            f.as_ref().clone()
        })
        .collect();
    (
        Arc::new(Schema::new_with_metadata(fields, first.schema().metadata().clone())),
        converted,
    )
}
