//! Reading a part from only the byte ranges a query needs (its footer and
//! `needed_ranges`) gives the same partial as reading the whole file; a range not fetched
//! is an error naming it, not a panic.

mod common;

use bytes::Bytes;
use frocket_engine::exec::{coalesce, footer_len, needed_ranges, parse_footer, SparseFile, COALESCE_GAP};
use frocket_engine::{run_part, validate_query, ExecOptions};

fn parts() -> Vec<std::path::PathBuf> {
    let dir = common::golden_dir().join("data");
    let mut parts: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .collect();
    parts.sort();
    parts
}

/// The footer and the needed ranges of `bytes`, as a sparse file; and the bytes it holds.
fn sparse(name: &str, bytes: &Bytes, q: &frocket_engine::ValidatedQuery, gap: u64) -> (SparseFile, u64) {
    let size = bytes.len() as u64;
    let flen = footer_len(name, &bytes[bytes.len() - 8..]).unwrap();
    let footer = bytes.slice((size - flen) as usize..);
    let meta = parse_footer(name, &footer).unwrap();
    let mut f = SparseFile::new(size);
    f.insert(size - flen, footer);
    for r in coalesce(needed_ranges(name, &meta, q).unwrap(), gap) {
        f.insert(r.start, bytes.slice(r.start as usize..r.end as usize));
    }
    let held = f.held();
    (f, held)
}

#[test]
fn needed_ranges_read_like_the_whole_file() {
    let parts = parts();
    let schema = common::schema_of(&parts, "visitorid", "timestamp");
    let mut n = 0;
    for (file, text, _) in common::golden_queries() {
        let q = validate_query(&text, &schema, 10).unwrap();
        for p in &parts {
            let name = p.display().to_string();
            let bytes = Bytes::from(std::fs::read(p).unwrap());
            let whole = run_part(&name, bytes.clone(), &q, &ExecOptions::default()).unwrap();
            for gap in [0, COALESCE_GAP] {
                let (f, held) = sparse(&name, &bytes, &q, gap);
                assert!(held <= bytes.len() as u64);
                let got = run_part(&name, f, &q, &ExecOptions::default())
                    .unwrap_or_else(|e| panic!("{file} over {name} (gap {gap}): {e}"));
                assert_eq!(got, whole, "{file} over {name}");
            }
        }
        n += 1;
    }
    assert_eq!(n, 17);
}

#[test]
fn fewer_columns_need_fewer_bytes() {
    let parts = parts();
    let schema = common::schema_of(&parts, "visitorid", "timestamp");
    let p = &parts[0];
    let name = p.display().to_string();
    let bytes = Bytes::from(std::fs::read(p).unwrap());
    let held = |text: &str| sparse(&name, &bytes, &validate_query(text, &schema, 10).unwrap(), 0).1;
    let empty = held("{}");
    let event = held(r#"{"query": {"conditions": [{"filter": ["event", "==", "view"]}]}}"#);
    let wide = held(
        r#"{"query": {"conditions": [{"filter": ["event", "==", "view"]}], "aggregations": [{"column": "categoryid"}, {"column": "tags"}]}}"#,
    );
    assert!(
        empty < event && event < wide && wide < bytes.len() as u64,
        "{empty} {event} {wide}"
    );
}

#[test]
fn a_range_not_fetched_is_an_error_naming_it() {
    let parts = parts();
    let schema = common::schema_of(&parts, "visitorid", "timestamp");
    let p = &parts[0];
    let name = p.display().to_string();
    let bytes = Bytes::from(std::fs::read(p).unwrap());
    // Ranges for the empty query, used for one reading `price`.
    let (f, _) = sparse(&name, &bytes, &validate_query("{}", &schema, 10).unwrap(), 0);
    let q = validate_query(
        r#"{"query": {"aggregations": [{"column": "price", "type": "count"}]}}"#,
        &schema,
        10,
    )
    .unwrap();
    let e = run_part(&name, f, &q, &ExecOptions::default()).unwrap_err().to_string();
    assert!(e.contains(&name) && e.contains("were not fetched"), "{e}");
}

#[test]
fn a_timeframe_fetches_only_the_row_groups_it_keeps() {
    use arrow::compute::{sort_to_indices, take_record_batch};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;
    let parts = parts();
    let schema = common::schema_of(&parts, "visitorid", "timestamp");
    // The first golden part rewritten in time order, in row groups of 2,000 rows.
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&parts[0]).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<_> = reader.map(|b| b.unwrap()).collect();
    let batch = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
    let order = sort_to_indices(batch.column_by_name("timestamp").unwrap(), None, None).unwrap();
    let sorted = take_record_batch(&batch, &order).unwrap();
    let mut buf = Vec::new();
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(2000))
        .build();
    let mut w = ArrowWriter::try_new(&mut buf, sorted.schema(), Some(props)).unwrap();
    w.write(&sorted).unwrap();
    w.close().unwrap();
    let bytes = Bytes::from(buf);
    let (lo, hi) = (schema.min_timestamp.unwrap(), schema.max_timestamp.unwrap());
    let mid = (lo + (hi - lo) / 2.0).round();
    let text = format!(
        r#"{{"timeframe": {{"from": {mid}, "to": {}}}, "query": {{"aggregations": [{{"column": "event"}}]}}}}"#,
        mid + (hi - lo) / 20.0
    );
    let q = validate_query(&text, &schema, 10).unwrap();
    let wide = format!(
        r#"{{"timeframe": {{"from": {lo}, "to": {}}}, "query": {{"aggregations": [{{"column": "event"}}]}}}}"#,
        hi + 1.0
    );
    let all = validate_query(&wide, &schema, 10).unwrap();
    let (f, held) = sparse("sorted", &bytes, &q, 0);
    let (_, held_all) = sparse("sorted", &bytes, &all, 0);
    assert!(held * 4 < held_all, "{held} vs {held_all} bytes");
    let whole = run_part("sorted", bytes.clone(), &q, &ExecOptions::default()).unwrap();
    assert!(whole.query.rows > 0);
    assert_eq!(run_part("sorted", f, &q, &ExecOptions::default()).unwrap(), whole);
}
