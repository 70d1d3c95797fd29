//! Parts that cannot be queried (not Parquet, empty, truncated, missing a column, null group
//! ids, …) give an error naming the file (and the column, where one is involved), never a
//! panic.

mod common;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use frocket_engine::{
    run_part, validate_value, DatasetSchema, EngineError, ExecOptions, PartialResult, ValidatedQuery,
};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use proptest::prelude::*;
use serde_json::{json, Value};

use common::Rng;

/// The dataset's schema: every part should have these columns.
fn dataset_arrow_schema() -> Schema {
    Schema::new(vec![
        Field::new("uid", DataType::Int64, false),
        Field::new("ts", DataType::Int64, false),
        Field::new("event", DataType::Utf8, true),
        Field::new("price", DataType::Float64, true),
    ])
}

fn dataset_schema() -> DatasetSchema {
    let mut s = DatasetSchema::from_arrow(&dataset_arrow_schema(), "uid", "ts").unwrap();
    s.min_timestamp = Some(1.6e12);
    s.max_timestamp = Some(1.61e12);
    s
}

fn query(q: Value) -> ValidatedQuery {
    validate_value(&q, &dataset_schema(), 10).unwrap()
}

/// A query reading every column: a condition on `event`, aggregations over `event` and
/// `price`, and a funnel.
fn full_query() -> ValidatedQuery {
    query(json!({
        "query": {
            "conditions": [{"filter": ["event", "==", "view"]}],
            "aggregations": [{"column": "event", "type": "sumPerValue", "otherColumn": "price"}]
        },
        "funnel": {"sequence": [{"filter": ["event", "==", "view"]}, {"filter": ["event", "==", "buy"]}]}
    }))
}

const ROWS: usize = 3000;

/// Columns of a well-formed part: 300 users with 10 events each.
fn good_columns() -> Vec<(&'static str, ArrayRef)> {
    let uid: Vec<i64> = (0..ROWS as i64).map(|i| i / 10).collect();
    let ts: Vec<i64> = (0..ROWS as i64).map(|i| 1_600_000_000_000 + i * 1000).collect();
    let event: Vec<&str> = (0..ROWS).map(|i| ["view", "buy", "cart"][i % 3]).collect();
    let price: Vec<Option<f64>> = (0..ROWS).map(|i| (i % 7 != 0).then_some(i as f64 / 4.0)).collect();
    vec![
        ("uid", Arc::new(Int64Array::from(uid)) as ArrayRef),
        ("ts", Arc::new(Int64Array::from(ts))),
        ("event", Arc::new(StringArray::from(event))),
        ("price", Arc::new(Float64Array::from(price))),
    ]
}

/// Writes a Parquet file with these columns (several row groups).
fn write_parquet(path: &Path, columns: Vec<(&str, ArrayRef)>) {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), columns.into_iter().map(|(_, a)| a).collect()).unwrap();
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(1000))
        .set_data_page_row_count_limit(250)
        .set_write_batch_size(250)
        .build();
    let mut w = ArrowWriter::try_new(File::create(path).unwrap(), schema, Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

fn good_parquet_bytes(dir: &Path) -> Vec<u8> {
    let p = dir.join("good.parquet");
    write_parquet(&p, good_columns());
    std::fs::read(p).unwrap()
}

fn run(path: &Path, q: &ValidatedQuery) -> Result<PartialResult, EngineError> {
    run_part(
        &path.display().to_string(),
        File::open(path).unwrap(),
        q,
        &ExecOptions::default(),
    )
}

/// Runs `q` on the part at `path` and returns its error, checking its Display names the file.
#[track_caller]
fn run_err(path: &Path, q: &ValidatedQuery) -> EngineError {
    match run(path, q) {
        Ok(p) => panic!("{} should fail, got {p:?}", path.display()),
        Err(e) => {
            let s = e.to_string();
            assert!(
                s.contains(&path.display().to_string()),
                "error does not name the file: {s}"
            );
            e
        }
    }
}

/// Asserts a part-read error (the file is not readable Parquet).
#[track_caller]
fn assert_part_read(path: &Path, q: &ValidatedQuery) {
    match run_err(path, q) {
        EngineError::PartRead { file, message } => {
            assert_eq!(file, path.display().to_string());
            assert!(!message.is_empty());
        }
        e => panic!("expected PartRead for {}, got {e:?}", path.display()),
    }
}

#[test]
fn a_good_part_runs() {
    // The helpers write real parts: the failures below are due to the damage only.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("part-0.parquet");
    write_parquet(&p, good_columns());
    let partial = run(&p, &full_query()).unwrap();
    assert_eq!(partial.scanned_rows, ROWS as u64);
    assert_eq!(partial.scanned_groups, 300);
    assert_eq!(partial.query.groups, 300);
    let r = partial.finish(&full_query()).unwrap();
    let steps = r.funnel.unwrap().sequence;
    assert_eq!((steps[0].matching_groups, steps[1].matching_groups), (300, 300));
}

#[test]
fn random_bytes_are_a_read_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let q = full_query();
    for (i, n) in [1usize, 3, 4, 7, 8, 12, 100, 4096, 65_536].into_iter().enumerate() {
        let p = dir.path().join(format!("random-{i}.parquet"));
        std::fs::write(&p, rng.bytes(n)).unwrap();
        assert_part_read(&p, &q);
    }
}

#[test]
fn random_bytes_with_a_parquet_trailer_are_a_read_error() {
    // Garbage that ends like a Parquet file: footer length + "PAR1", sometimes starting with
    // "PAR1" too, with footer lengths in and out of range.
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(42);
    let q = full_query();
    let mut k = 0;
    for body in [0usize, 1, 16, 200, 5000] {
        for footer_len in [0u32, 1, 8, body as u32, (body as u32).saturating_sub(4), u32::MAX] {
            for head in [false, true] {
                let mut bytes = Vec::new();
                if head {
                    bytes.extend_from_slice(b"PAR1");
                }
                bytes.extend(rng.bytes(body));
                bytes.extend_from_slice(&footer_len.to_le_bytes());
                bytes.extend_from_slice(b"PAR1");
                let p = dir.path().join(format!("trailer-{k}.parquet"));
                k += 1;
                std::fs::write(&p, &bytes).unwrap();
                assert_part_read(&p, &q);
            }
        }
    }
}

#[test]
fn empty_file_is_a_read_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("empty.parquet");
    std::fs::write(&p, b"").unwrap();
    assert_part_read(&p, &full_query());
    assert_part_read(&p, &query(json!({})));
}

#[test]
fn truncated_parquet_is_a_read_error() {
    let dir = tempfile::tempdir().unwrap();
    let good = good_parquet_bytes(dir.path());
    let q = full_query();

    let p = dir.path().join("half.parquet");
    std::fs::write(&p, &good[..good.len() / 2]).unwrap();
    assert_part_read(&p, &q);

    // Every other cut too, including just the trailer missing.
    let cuts: Vec<usize> = (0..good.len())
        .step_by(good.len() / 40)
        .chain([good.len() - 1, good.len() - 4, good.len() - 8, 4])
        .collect();
    for cut in cuts {
        let p = dir.path().join(format!("cut-{cut}.parquet"));
        std::fs::write(&p, &good[..cut]).unwrap();
        assert_part_read(&p, &q);
    }
}

#[test]
fn parquet_missing_its_body_is_a_read_error() {
    // Header and footer intact, the data pages cut out: the footer points past the file's
    // data (or into the footer itself).
    let dir = tempfile::tempdir().unwrap();
    let good = good_parquet_bytes(dir.path());
    let footer_len = u32::from_le_bytes(good[good.len() - 8..good.len() - 4].try_into().unwrap()) as usize;
    let footer_start = good.len() - 8 - footer_len;
    let mut bytes = good[..4].to_vec();
    bytes.extend_from_slice(&good[footer_start..]);
    let p = dir.path().join("no-body.parquet");
    std::fs::write(&p, &bytes).unwrap();
    assert_part_read(&p, &full_query());
}

#[test]
fn missing_column_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("no-price.parquet");
    let cols: Vec<_> = good_columns().into_iter().filter(|(n, _)| *n != "price").collect();
    write_parquet(&p, cols);

    // A query not using the column is fine.
    let ok = query(json!({"query": {"conditions": [{"filter": ["event", "==", "buy"]}]}}));
    assert_eq!(run(&p, &ok).unwrap().query.groups, 300);

    for q in [
        full_query(),
        query(json!({"query": {"conditions": [{"filter": ["price", ">", 1]}]}})),
        query(
            json!({"funnel": {"sequence": [{"filter": ["event", "==", "view"]}], "endAggregations": [{"column": "price"}]}}),
        ),
        query(
            json!({"timeframe": {"from": 1.6e12}, "query": {"conditions": [{"filter": ["event", "==", "buy"]}], "aggregations": [{"column": "price", "type": "count"}]}}),
        ),
    ] {
        let e = run_err(&p, &q);
        assert!(e.to_string().contains("'price'"), "{e}");
        match e {
            EngineError::MissingColumn { file, column } => {
                assert_eq!(file, p.display().to_string());
                assert_eq!(column, "price");
            }
            e => panic!("expected MissingColumn, got {e:?}"),
        }
    }
}

#[test]
fn missing_group_id_or_timestamp_column_is_named() {
    let dir = tempfile::tempdir().unwrap();
    for (missing, q) in [
        ("uid", query(json!({}))),
        // A query that needs timestamps (a sequence); `{}` does not read them at all.
        (
            "ts",
            query(json!({"funnel": {"sequence": [{"filter": ["uid", ">", 0]}]}})),
        ),
        ("ts", query(json!({"timeframe": {"from": 1.6e12, "to": 1.601e12}}))),
    ] {
        let p = dir.path().join(format!("no-{missing}.parquet"));
        let cols: Vec<_> = good_columns().into_iter().filter(|(n, _)| *n != missing).collect();
        write_parquet(&p, cols);
        match run_err(&p, &q) {
            EngineError::MissingColumn { file, column } => {
                assert_eq!(file, p.display().to_string());
                assert_eq!(column, missing);
            }
            e => panic!("expected MissingColumn({missing}), got {e:?}"),
        }
    }
}

#[test]
fn null_group_ids_are_bad_data() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("null-uid.parquet");
    let mut cols = good_columns();
    let uid: Vec<Option<i64>> = (0..ROWS as i64).map(|i| (i % 100 != 5).then_some(i / 10)).collect();
    cols[0].1 = Arc::new(Int64Array::from(uid));
    write_parquet(&p, cols);
    for q in [full_query(), query(json!({}))] {
        let e = run_err(&p, &q);
        let s = e.to_string();
        assert!(s.contains("'uid'") && s.contains("null group ids"), "{s}");
        match e {
            EngineError::BadData { file, column, message } => {
                assert_eq!(file, p.display().to_string());
                assert_eq!(column, "uid");
                assert!(message.starts_with("30 null group ids"), "{message}");
            }
            e => panic!("expected BadData, got {e:?}"),
        }
    }
}

#[test]
fn null_group_ids_outside_the_timeframe_do_not_matter() {
    // Rows dropped by the timeframe are never looked at.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("null-uid-early.parquet");
    let mut cols = good_columns();
    let uid: Vec<Option<i64>> = (0..ROWS as i64).map(|i| (i >= 10).then_some(i / 10)).collect();
    cols[0].1 = Arc::new(Int64Array::from(uid));
    write_parquet(&p, cols);
    let q = query(json!({"timeframe": {"from": 1_600_000_010_000i64}}));
    let partial = run(&p, &q).unwrap();
    assert_eq!(partial.scanned_rows, ROWS as u64 - 10);
    assert_eq!(partial.scanned_groups, 299);
    // Without the timeframe the nulls are seen.
    assert!(matches!(run_err(&p, &query(json!({}))), EngineError::BadData { .. }));
}

#[test]
fn null_timestamps_are_bad_data() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("null-ts.parquet");
    let mut cols = good_columns();
    let ts: Vec<Option<i64>> = (0..ROWS as i64)
        .map(|i| (i != 17).then_some(1_600_000_000_000 + i))
        .collect();
    cols[1].1 = Arc::new(Int64Array::from(ts));
    write_parquet(&p, cols);
    match run_err(&p, &full_query()) {
        EngineError::BadData { column, message, .. } => {
            assert_eq!(column, "ts");
            assert!(message.contains("null timestamps"), "{message}");
        }
        e => panic!("expected BadData, got {e:?}"),
    }
}

#[test]
fn group_id_of_an_unsupported_type_is_a_column_type_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("float-uid.parquet");
    let mut cols = good_columns();
    cols[0].1 = Arc::new(Float64Array::from(
        (0..ROWS).map(|i| (i / 10) as f64).collect::<Vec<_>>(),
    ));
    write_parquet(&p, cols);
    let e = run_err(&p, &query(json!({})));
    assert!(e.to_string().contains("'uid'"), "{e}");
    match e {
        EngineError::ColumnType { column, expected, .. } => {
            assert_eq!(column, "uid");
            assert_eq!(expected, "INT or STRING");
        }
        e => panic!("expected ColumnType, got {e:?}"),
    }
}

#[test]
fn column_with_another_type_than_the_schema_is_an_error_not_a_panic() {
    // The dataset says `price` is FLOAT, this part has strings there.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("string-price.parquet");
    let mut cols = good_columns();
    cols[3].1 = Arc::new(StringArray::from((0..ROWS).map(|i| format!("{i}")).collect::<Vec<_>>()));
    write_parquet(&p, cols);
    for q in [
        query(json!({"query": {"conditions": [{"filter": ["price", ">", 1]}]}})),
        query(
            json!({"query": {"conditions": [{"filter": ["event", "==", "buy"], "target": ["sum", "price", ">", 1]}]}}),
        ),
        query(
            json!({"query": {"aggregations": [{"column": "event", "type": "meanPerValue", "otherColumn": "price"}]}}),
        ),
    ] {
        let e = run_err(&p, &q);
        assert!(e.to_string().contains("price"), "{e}");
    }
}

/// The bytes of a good part, written once.
fn good_bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| good_parquet_bytes(tempfile::tempdir().unwrap().path()))
}

/// Runs the full query on `bytes` written to `path`: Ok, or an error naming the file.
#[track_caller]
fn run_damaged(path: &Path, bytes: &[u8]) -> Result<PartialResult, EngineError> {
    std::fs::write(path, bytes).unwrap();
    let r = run(path, &full_query());
    if let Err(e) = &r {
        assert!(e.to_string().contains(&path.display().to_string()), "{e}");
    }
    r
}

#[test]
fn every_damaged_footer_byte_is_an_error_or_a_result() {
    // Each byte of the footer (file metadata) overwritten in turn with a few values. The
    // Parquet reader panics on some of these (e.g. a negative column chunk offset); the
    // engine must turn that into an error.
    let good = good_bytes();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("damaged-footer.parquet");
    let n = good.len();
    let footer_len = u32::from_le_bytes(good[n - 8..n - 4].try_into().unwrap()) as usize;
    let mut errors = 0;
    for at in n - 8 - footer_len..n - 8 {
        for v in [0x07u8, 0x89, 0xFF] {
            if good[at] == v {
                continue;
            }
            let mut bytes = good.to_vec();
            bytes[at] = v;
            if run_damaged(&p, &bytes).is_err() {
                errors += 1;
            }
        }
    }
    assert!(errors > 0);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Overwriting bytes of a valid part anywhere (pages, page headers, footer) gives
    /// an error or a result, never a panic.
    #[test]
    fn corrupted_parts_never_panic(
        damage in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = good_bytes().to_vec();
        let n = bytes.len();
        for (at, b) in &damage {
            bytes[at.index(n)] = *b;
        }
        let p: PathBuf = dir.path().join("damaged.parquet");
        let _ = run_damaged(&p, &bytes);
    }
}

/// The allocator of this test binary, recording the largest single allocation asked for.
struct Largest;

static LARGEST_ALLOCATION: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only records sizes.
unsafe impl std::alloc::GlobalAlloc for Largest {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        LARGEST_ALLOCATION.fetch_max(layout.size(), std::sync::atomic::Ordering::Relaxed);
        unsafe { std::alloc::System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        LARGEST_ALLOCATION.fetch_max(new_size, std::sync::atomic::Ordering::Relaxed);
        unsafe { std::alloc::System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Largest = Largest;

#[test]
fn a_footer_claiming_more_rows_than_its_pages_hold_is_an_error() {
    // A footer whose row groups claim more rows than their pages hold (a damaged count, or a
    // crafted file): an error naming the file, never an allocation sized by the claim.
    use parquet::file::metadata::{ParquetMetaDataReader, ParquetMetaDataWriter};
    let good = bytes::Bytes::from(good_bytes().to_vec());
    let n = good.len();
    let footer_len = u32::from_le_bytes(good[n - 8..n - 4].try_into().unwrap()) as usize;
    let data_end = n - 8 - footer_len;
    let meta = ParquetMetaDataReader::new().parse_and_finish(&good).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("claims.parquet");
    for claim in [1001i64, 1 << 33, 1 << 40, i64::MAX / 8] {
        let mut builder = meta.clone().into_builder();
        let row_groups = builder
            .take_row_groups()
            .into_iter()
            .map(|rg| rg.into_builder().set_num_rows(claim).build().unwrap())
            .collect();
        let claimed = builder.set_row_groups(row_groups).build();
        let mut bytes = good[..data_end].to_vec();
        ParquetMetaDataWriter::new(&mut bytes, &claimed).finish().unwrap();
        std::fs::write(&p, &bytes).unwrap();
        for q in [full_query(), query(json!({}))] {
            assert_part_read(&p, &q);
        }
        // A timeframe cutting row groups: the group ids read by arrow-rs, which may find the
        // rows its pages hold; never an allocation sized by the claim.
        let cut = json!({"timeframe": {"from": 1_600_000_500_000i64},
                         "query": {"conditions": [{"filter": ["event", "==", "view"]}]}});
        let _ = run(&p, &query(cut));
    }
    // No buffer was sized by the claims (the parts here hold 3,000 rows; other tests of this
    // binary allocate far less too).
    let largest = LARGEST_ALLOCATION.load(std::sync::atomic::Ordering::Relaxed);
    assert!(largest < 256 << 20, "an allocation of {largest} bytes");
}
