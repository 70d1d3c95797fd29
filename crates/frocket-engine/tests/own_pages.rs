//! Group ids, and INT columns only held constant, are decoded from their pages' dictionaries by
//! the engine's own page decoder when every chunk of the column allows it, and through arrow-rs
//! otherwise (a partial timeframe, an unknown encoding); so are the other INT and FLOAT columns
//! no filter uses (the timestamps, prices with nulls among them), into one buffer each; and those
//! only summed by a condition (prices, items) as each row's entry in its chunk's dictionary.
//! Every way a writer may lay out an INT64 or DOUBLE column — dictionary or plain pages, a dictionary that overflows into plain pages mid-chunk,
//! page format v1 or v2, required or optional, tiny pages, zstd, values dense or spread over the
//! whole i64 range, rows grouped by user or in any order — gives the answers a reference
//! computed here gives.

mod common;

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use frocket_engine::{
    run_part, validate_value, DatasetSchema, ExecOptions, PartialResult, QueryResult, ValidatedQuery,
};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{WriterProperties, WriterVersion};
use serde_json::{json, Value};

use common::Rng;

const T0: i64 = 1_600_000_000_000;

/// One part's rows.
struct Rows {
    uid: Vec<i64>,
    ts: Vec<i64>,
    event: Vec<&'static str>,
    /// Prices, some missing (every 7th row and a run of rows).
    price: Vec<Option<f64>>,
    item: Vec<i64>,
    /// A string of 400 values, some missing (every 5th row and a run of rows).
    device: Vec<Option<String>>,
}

/// `users` users with 1–12 events each; ids `0..users` or spread over i64; rows grouped by
/// user or shuffled.
fn rows(users: usize, sparse: bool, shuffled: bool, seed: u64) -> Rows {
    let mut rng = Rng(seed);
    let mut r = Rows {
        uid: Vec::new(),
        ts: Vec::new(),
        event: Vec::new(),
        price: Vec::new(),
        item: Vec::new(),
        device: Vec::new(),
    };
    for u in 0..users {
        let id = if sparse { rng.next() as i64 } else { u as i64 };
        for _ in 0..1 + rng.next() % 12 {
            // Times distinct and increasing within a user (before any shuffle).
            r.ts.push(T0 + 10 * r.uid.len() as i64 + (rng.next() % 10) as i64);
            r.uid.push(id);
            r.event.push(["view", "cart", "buy"][(rng.next() % 3) as usize]);
            let n = r.uid.len();
            let missing = n % 7 == 3 || (200..260).contains(&(n % 1000));
            r.price.push((!missing).then(|| (rng.next() % 4000) as f64 / 100.0));
            let missing = n % 5 == 1 || (500..580).contains(&(n % 1000));
            r.device
                .push((!missing).then(|| format!("device-{}", rng.next() % 400)));
            let item = (rng.next() % 6) as i64;
            r.item.push(if sparse {
                item * 1_000_000_007 - 3_000_000_000
            } else {
                item
            });
        }
    }
    if shuffled {
        for i in (1..r.uid.len()).rev() {
            let j = (rng.next() % (i as u64 + 1)) as usize;
            r.uid.swap(i, j);
            r.ts.swap(i, j);
            r.event.swap(i, j);
            r.price.swap(i, j);
            r.item.swap(i, j);
            r.device.swap(i, j);
        }
    }
    r
}

fn write(path: &Path, r: &Rows, props: WriterProperties, uid_nullable: bool) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("uid", DataType::Int64, uid_nullable),
        Field::new("ts", DataType::Int64, false),
        Field::new("event", DataType::Utf8, false),
        Field::new("price", DataType::Float64, true),
        Field::new("item", DataType::Int64, uid_nullable),
        Field::new("device", DataType::Utf8, true),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(r.uid.clone())),
        Arc::new(Int64Array::from(r.ts.clone())),
        Arc::new(StringArray::from(r.event.clone())),
        Arc::new(Float64Array::from(r.price.clone())),
        Arc::new(Int64Array::from(r.item.clone())),
        Arc::new(StringArray::from(r.device.clone())),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
    let mut w = ArrowWriter::try_new(File::create(path).unwrap(), schema, Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

/// Writer settings that lay the uid column out differently, by name.
fn layouts() -> Vec<(&'static str, WriterProperties, bool)> {
    let base = || {
        WriterProperties::builder()
            .set_max_row_group_row_count(Some(3000))
            .set_data_page_row_count_limit(700)
            .set_write_batch_size(700)
    };
    vec![
        ("dictionary, v1 pages", base().build(), true),
        ("required column", base().build(), false),
        (
            "v2 pages",
            base().set_writer_version(WriterVersion::PARQUET_2_0).build(),
            true,
        ),
        ("plain pages only", base().set_dictionary_enabled(false).build(), true),
        // The dictionary page limit is hit mid-chunk: later pages are plain.
        (
            "dictionary then plain",
            base().set_dictionary_page_size_limit(2048).build(),
            true,
        ),
        (
            "tiny pages, zstd",
            base()
                .set_data_page_row_count_limit(37)
                .set_write_batch_size(37)
                .set_compression(Compression::ZSTD(ZstdLevel::default()))
                .build(),
            true,
        ),
        (
            "one row group, v2, required",
            WriterProperties::builder()
                .set_writer_version(WriterVersion::PARQUET_2_0)
                .build(),
            false,
        ),
    ]
}

fn schema() -> DatasetSchema {
    let arrow = Schema::new(vec![
        Field::new("uid", DataType::Int64, true),
        Field::new("ts", DataType::Int64, false),
        Field::new("event", DataType::Utf8, false),
        Field::new("price", DataType::Float64, true),
        Field::new("item", DataType::Int64, true),
        Field::new("device", DataType::Utf8, true),
    ]);
    let mut s = DatasetSchema::from_arrow(&arrow, "uid", "ts").unwrap();
    s.min_timestamp = Some(T0 as f64);
    s.max_timestamp = Some((T0 + 1_000_000) as f64);
    s
}

fn query(q: Value) -> ValidatedQuery {
    validate_value(&q, &schema(), 10).unwrap()
}

fn run(path: &Path, q: &ValidatedQuery) -> (PartialResult, QueryResult) {
    let partial = run_part(
        &path.display().to_string(),
        File::open(path).unwrap(),
        q,
        &ExecOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (partial.clone(), partial.finish(q).unwrap())
}

/// Users with a `view` and, later, a `buy` of the same item, within `[from, to)`.
fn reference_held(r: &Rows, from: i64, to: i64) -> u64 {
    let mut first_view: HashMap<(i64, i64), i64> = HashMap::new();
    for i in (0..r.uid.len()).filter(|&i| r.event[i] == "view" && r.ts[i] >= from && r.ts[i] < to) {
        let t = first_view.entry((r.uid[i], r.item[i])).or_insert(r.ts[i]);
        *t = (*t).min(r.ts[i]);
    }
    let converted: std::collections::HashSet<i64> = (0..r.uid.len())
        .filter(|&i| r.event[i] == "buy" && r.ts[i] >= from && r.ts[i] < to)
        .filter(|&i| first_view.get(&(r.uid[i], r.item[i])).is_some_and(|&v| v < r.ts[i]))
        .map(|i| r.uid[i])
        .collect();
    converted.len() as u64
}

/// Whether a data page of the STRING column `column` is plain-encoded (its dictionary
/// overflowed), by the footer's page encoding statistics.
fn has_plain_string_pages(path: &Path, column: &str) -> bool {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let reader = SerializedFileReader::new(File::open(path).unwrap()).unwrap();
    let meta = reader.metadata();
    let leaf = (0..meta.file_metadata().schema_descr().num_columns())
        .find(|&l| meta.file_metadata().schema_descr().column(l).name() == column)
        .unwrap();
    meta.row_groups().iter().any(|rg| {
        rg.column(leaf)
            .page_encoding_stats_mask()
            .is_some_and(|m| m.is_set(parquet::basic::Encoding::PLAIN))
    })
}

/// Users with a row of device `wanted`, and the rows per device of those users.
fn reference_devices(r: &Rows, wanted: &str) -> (u64, HashMap<String, u64>) {
    let users: std::collections::HashSet<i64> = (0..r.uid.len())
        .filter(|&i| r.device[i].as_deref() == Some(wanted))
        .map(|i| r.uid[i])
        .collect();
    let mut per_device: HashMap<String, u64> = HashMap::new();
    for i in (0..r.uid.len()).filter(|&i| users.contains(&r.uid[i])) {
        if let Some(d) = &r.device[i] {
            *per_device.entry(d.clone()).or_default() += 1;
        }
    }
    (users.len() as u64, per_device)
}

/// Per event: the sum of its rows' prices and how many have one.
fn reference_prices(r: &Rows) -> HashMap<&'static str, (f64, u64)> {
    let mut out: HashMap<&'static str, (f64, u64)> = HashMap::new();
    for (e, p) in r.event.iter().zip(&r.price) {
        if let Some(p) = p {
            let s = out.entry(e).or_default();
            s.0 += p;
            s.1 += 1;
        }
    }
    out
}

/// Users with a `view` whose `view` rows' items add up to at least `at_least`.
fn reference_item_sums(r: &Rows, at_least: i64) -> u64 {
    let mut sums: HashMap<i64, i128> = HashMap::new();
    for i in (0..r.uid.len()).filter(|&i| r.event[i] == "view") {
        *sums.entry(r.uid[i]).or_default() += r.item[i] as i128;
    }
    sums.values().filter(|&&s| s >= at_least as i128).count() as u64
}

/// Users and rows of the users whose rows (within `[from, to)`) have ≥ 2 `buy` and a `cart`
/// price sum ≥ 50; and all users / rows in that time range.
fn reference(r: &Rows, from: i64, to: i64) -> ((u64, u64), (u64, u64)) {
    let mut per_user: HashMap<i64, (u64, u64, f64)> = HashMap::new();
    for i in 0..r.uid.len() {
        if r.ts[i] < from || r.ts[i] >= to {
            continue;
        }
        let e = per_user.entry(r.uid[i]).or_default();
        e.0 += 1;
        if r.event[i] == "buy" {
            e.1 += 1;
        }
        if r.event[i] == "cart" {
            e.2 += r.price[i].unwrap_or(0.0);
        }
    }
    let all = (per_user.len() as u64, per_user.values().map(|e| e.0).sum());
    let matching: Vec<_> = per_user.values().filter(|e| e.1 >= 2 && e.2 >= 50.0).collect();
    (all, (matching.len() as u64, matching.iter().map(|e| e.0).sum()))
}

#[test]
fn every_layout_of_the_columns_gives_the_reference_answers() {
    let dir = tempfile::tempdir().unwrap();
    let conditions = json!({
        "conditions": [{"filter": ["event", "==", "buy"], "target": ["count", ">=", 2]},
                       {"filter": ["event", "==", "cart"], "target": ["sum", "price", ">=", 50]}]
    });
    // Inside the data's time span: row groups kept in part, read through arrow-rs.
    let (from, to) = (T0 + 25_000, T0 + 70_000);
    let queries = [
        (query(json!({})), i64::MIN, i64::MAX, false),
        (query(json!({"query": conditions})), i64::MIN, i64::MAX, true),
        (
            query(json!({"timeframe": {"from": from, "to": to}, "query": conditions})),
            from,
            to,
            true,
        ),
        (query(json!({"timeframe": {"from": from, "to": to}})), from, to, false),
    ];
    let mut files = 0;
    for (sparse, shuffled, seed) in [(false, false, 1), (false, true, 2), (true, false, 3), (true, true, 4)] {
        let r = rows(1500, sparse, shuffled, seed);
        for (name, props, nullable) in layouts() {
            let path = dir.path().join(format!("part-{files}.parquet"));
            files += 1;
            write(&path, &r, props, nullable);
            // Strings with a dictionary in every page are read by our own decoder, the
            // others (a dictionary that overflowed) through arrow-rs: both are here.
            if name == "dictionary then plain" {
                assert!(has_plain_string_pages(&path, "device"), "{name}");
            }
            for (q, from, to, conditions) in &queries {
                let (all, matching) = reference(&r, *from, *to);
                let (partial, result) = run(&path, q);
                let what = format!("{name}, sparse ids {sparse}, shuffled {shuffled}, [{from}, {to})");
                assert_eq!((partial.scanned_groups, partial.scanned_rows), all, "{what}");
                let got = (result.query.matching_groups, result.query.matching_group_rows);
                assert_eq!(got, if *conditions { matching } else { all }, "{what}");
            }
            // Prices placed in their rows, nulls too: sums and means (over rows with a price)
            // per event.
            let q = query(json!({"query": {"aggregations": [
                {"column": "event", "type": "sumPerValue", "otherColumn": "price"},
                {"column": "event", "type": "meanPerValue", "otherColumn": "price"}]}}));
            let (_, result) = run(&path, &q);
            let got = serde_json::to_value(result.query.aggregations.unwrap()).unwrap();
            let want = reference_prices(&r);
            for (i, kind) in ["sum", "mean"].into_iter().enumerate() {
                for (event, (sum, n)) in &want {
                    let value = got[i]["value"][event].as_f64().unwrap_or(f64::NAN);
                    let expected = if kind == "sum" { *sum } else { sum / *n as f64 };
                    let what = format!("{kind} of {event}: {name}, sparse {sparse}, shuffled {shuffled}");
                    assert!(
                        (value - expected).abs() < 1e-6 * expected.abs().max(1.0),
                        "{what}: {value} vs {expected}"
                    );
                }
            }
            // `item` only summed (an INT column): read as dictionary entries where its chunks
            // have a dictionary.
            let at_least = if sparse { 4_000_000_014 } else { 9 };
            let q = query(json!({"query": {"conditions": [
                {"filter": ["event", "==", "view"], "target": ["sum", "item", ">=", at_least]}]}}));
            let (_, result) = run(&path, &q);
            let what = format!("item sums: {name}, sparse {sparse}, shuffled {shuffled}");
            assert_eq!(
                result.query.matching_groups,
                reference_item_sums(&r, at_least),
                "{what}"
            );
            // A string column with nulls: rows per value, and users with a row of one value
            // (a filter derived as it is read).
            let q = query(json!({"query": {
                "conditions": [{"filter": ["device", "==", "device-7"]}],
                "aggregations": [{"column": "device", "type": "countPerValue", "top": 1000}]}}));
            let (_, result) = run(&path, &q);
            let (users_with_7, per_device) = reference_devices(&r, "device-7");
            let what = format!("device: {name}, sparse {sparse}, shuffled {shuffled}");
            assert_eq!(result.query.matching_groups, users_with_7, "{what}");
            let got = serde_json::to_value(result.query.aggregations.unwrap()).unwrap();
            let got: HashMap<String, u64> = serde_json::from_value(got[0]["value"].clone()).unwrap();
            // (Counted over the matching users only.)
            assert_eq!(got, per_device, "{what}");
            // `item` only held constant: coded from its dictionary (or through arrow-rs with
            // a partial timeframe).
            for (from, to) in [(i64::MIN, i64::MAX), (from, to)] {
                let mut q = json!({"funnel": {"sequence": [{"filter": ["event", "==", "view"]},
                                                           {"filter": ["event", "==", "buy"]}],
                                              "holdConstant": ["item"]}});
                if from > i64::MIN {
                    q["timeframe"] = json!({"from": from, "to": to});
                }
                let (_, result) = run(&path, &query(q));
                let steps = result.funnel.unwrap().sequence;
                let what = format!("held: {name}, sparse {sparse}, shuffled {shuffled}, [{from}, {to})");
                assert_eq!(steps[1].matching_groups, reference_held(&r, from, to), "{what}");
            }
        }
    }
}

#[test]
fn null_group_ids_are_bad_data_on_every_layout() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = rows(200, false, true, 9);
    let n = r.uid.len();
    let schema = Arc::new(Schema::new(vec![
        Field::new("uid", DataType::Int64, true),
        Field::new("ts", DataType::Int64, false),
        Field::new("event", DataType::Utf8, false),
        Field::new("price", DataType::Float64, true),
    ]));
    for (i, (name, props, _)) in layouts().into_iter().filter(|l| l.2).enumerate() {
        let uid: Int64Array = (0..n).map(|k| (k % 97 != 5).then_some(r.uid[k])).collect();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(uid),
            Arc::new(Int64Array::from(std::mem::take(&mut r.ts))),
            Arc::new(StringArray::from(r.event.clone())),
            Arc::new(Float64Array::from(r.price.clone())),
        ];
        r.ts = columns[1]
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap()
            .values()
            .to_vec();
        let path = dir.path().join(format!("nulls-{i}.parquet"));
        let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
        let mut w = ArrowWriter::try_new(File::create(&path).unwrap(), schema.clone(), Some(props)).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        let err = run_part(
            &path.display().to_string(),
            File::open(&path).unwrap(),
            &query(json!({})),
            &ExecOptions::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("null group ids") && err.contains("uid"), "{name}: {err}");
    }
}

#[test]
fn strings_read_in_batches_that_cut_pages_give_the_reference_answers() {
    // Row groups of 3 × 4,096 rows are read in batches of 4,096; pages of 700 rows straddle
    // the batches' ends (with nulls on both sides of a cut).
    let dir = tempfile::tempdir().unwrap();
    let r = rows(4000, false, true, 5);
    assert!(r.uid.len() > 2 * 12_288);
    for version in [WriterVersion::PARQUET_1_0, WriterVersion::PARQUET_2_0] {
        let props = WriterProperties::builder()
            .set_writer_version(version)
            .set_max_row_group_row_count(Some(12_288))
            .set_data_page_row_count_limit(700)
            .set_write_batch_size(700)
            .build();
        let path = dir.path().join(format!("batches-{version:?}.parquet"));
        write(&path, &r, props, true);
        for wanted in ["device-7", "device-123"] {
            let q = query(json!({"query": {
                "conditions": [{"filter": ["device", "==", wanted]}],
                "aggregations": [{"column": "device", "type": "countPerValue", "top": 1000}]}}));
            let (_, result) = run(&path, &q);
            let (users, per_device) = reference_devices(&r, wanted);
            assert_eq!(result.query.matching_groups, users, "{version:?} {wanted}");
            let got = serde_json::to_value(result.query.aggregations.unwrap()).unwrap();
            let got: HashMap<String, u64> = serde_json::from_value(got[0]["value"].clone()).unwrap();
            assert_eq!(got, per_device, "{version:?} {wanted}");
        }
    }
}
