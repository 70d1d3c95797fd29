//! Decode time of each column alone (best of 5) over the parts of a directory: where a query's
//! decode floor goes. `cargo run --profile perf -p frocket-bench --example decode_columns DIR COL...`
use std::fs::File;
use std::time::Instant;

use parquet::arrow::arrow_reader::{ArrowPredicateFn, ParquetRecordBatchReaderBuilder, RowFilter};
use parquet::arrow::ProjectionMask;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (dir, columns) = args.split_first().ok_or("usage: decode_columns DIR COLUMN...")?;
    let mut files: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .collect();
    files.sort();
    // `COLUMN@FILTER=VALUE`: COLUMN decoded only for the rows where the string column FILTER
    // equals VALUE (a row filter: FILTER decoded first, COLUMN for the rows it keeps).
    for c in columns {
        if let Some((c, filter)) = c.split_once('@') {
            let (fc, value) = filter.split_once('=').ok_or("COLUMN@FILTER=VALUE")?;
            let mut best = f64::MAX;
            let mut kept = 0;
            for _ in 0..5 {
                let t = Instant::now();
                kept = 0;
                for f in &files {
                    let b = ParquetRecordBatchReaderBuilder::try_new(File::open(f)?)?;
                    let idx = b.schema().index_of(c)?;
                    let fidx = b.schema().index_of(fc)?;
                    let value = value.to_string();
                    let pred = ArrowPredicateFn::new(ProjectionMask::roots(b.parquet_schema(), [fidx]), move |batch| {
                        let col = arrow::compute::cast(batch.column(0), &arrow::datatypes::DataType::Utf8)?;
                        arrow::compute::kernels::cmp::eq(
                            &col,
                            &arrow::array::Scalar::new(arrow::array::StringArray::from(vec![value.clone()])),
                        )
                    });
                    let mask = ProjectionMask::roots(b.parquet_schema(), [idx]);
                    let reader = b
                        .with_projection(mask)
                        .with_row_filter(RowFilter::new(vec![Box::new(pred)]))
                        .with_batch_size(64 * 1024)
                        .build()?;
                    for batch in reader {
                        kept += std::hint::black_box(batch?.num_rows());
                    }
                }
                best = best.min(t.elapsed().as_secs_f64());
            }
            println!("{c} where {filter}: {best:.4} s ({kept} rows)");
            continue;
        }
        let mut best = f64::MAX;
        for _ in 0..5 {
            let t = Instant::now();
            for f in &files {
                let b = ParquetRecordBatchReaderBuilder::try_new(File::open(f)?)?;
                let idx = b.schema().index_of(c)?;
                let mask = ProjectionMask::roots(b.parquet_schema(), [idx]);
                for batch in b.with_projection(mask).with_batch_size(64 * 1024).build()? {
                    std::hint::black_box(batch?.num_rows());
                }
            }
            best = best.min(t.elapsed().as_secs_f64());
        }
        println!("{c}: {best:.4} s");
    }
    Ok(())
}
