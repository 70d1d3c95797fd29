//! A deterministic generator of retail-like user activity.
//!
//! Users have a heavy-tailed number of sessions and events; events follow a
//! view → addtocart → transaction funnel with realistic drop-off. The same options (seed
//! included) always give byte-identical files, whatever the number of threads.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, Int64Builder, ListBuilder, RecordBatch, StringBuilder,
    StringDictionaryBuilder,
};
use arrow::datatypes::{DataType, Field, Int32Type, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp, Pareto};

use crate::DataprepError;

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// Number of users.
    pub users: u64,
    /// Number of parts (files); user `u` goes to part `u % parts`.
    pub parts: usize,
    /// Random seed.
    pub seed: u64,
    /// First timestamp (ms since the epoch).
    pub start_ms: i64,
    /// Days of activity after `start_ms`.
    pub days: u32,
    /// Rows per Parquet row group.
    pub row_group_rows: usize,
    /// Rows in random order within each part (same users per part), as pipelines that
    /// partition by user but do not sort write them; otherwise each user's rows are together.
    pub shuffled: bool,
    /// User ids spread over the whole 64-bit range, as hashed ids are (a bijective mix of
    /// `1..=users`), instead of `1..=users`.
    pub sparse_ids: bool,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            users: 100_000,
            parts: 4,
            seed: 42,
            start_ms: 1_600_000_000_000,
            days: 30,
            row_group_rows: 256 * 1024,
            shuffled: false,
            sparse_ids: false,
        }
    }
}

/// What was written.
#[derive(Debug, Clone)]
pub struct GenerateSummary {
    /// The part files, in order.
    pub files: Vec<PathBuf>,
    /// Rows written in all.
    pub rows: u64,
}

/// The schema of generated data.
pub fn schema() -> SchemaRef {
    let dict = || DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    Arc::new(Schema::new(vec![
        Field::new("userid", DataType::Int64, false),
        Field::new("timestamp", DataType::Int64, false),
        Field::new("event", dict(), false),
        Field::new("itemid", DataType::Int64, false),
        Field::new("category", dict(), false),
        Field::new("price", DataType::Float64, true),
        Field::new("available", DataType::Boolean, false),
        Field::new("transactionid", DataType::Int64, true),
        Field::new("device", dict(), false),
        Field::new(
            "tags",
            DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true))),
            true,
        ),
    ]))
}

const DEVICES: [(&str, f64); 4] = [("mobile", 0.55), ("desktop", 0.35), ("tablet", 0.09), ("tv", 0.01)];
const TAGS: [&str; 5] = ["sale", "new", "premium", "gift", "clearance"];
const CATEGORIES: u64 = 60;
const ITEMS: u64 = 50_000;

struct Builders {
    user: Int64Builder,
    ts: Int64Builder,
    event: StringDictionaryBuilder<Int32Type>,
    item: Int64Builder,
    category: StringDictionaryBuilder<Int32Type>,
    price: Float64Builder,
    available: BooleanBuilder,
    txn: Int64Builder,
    device: StringDictionaryBuilder<Int32Type>,
    tags: ListBuilder<StringBuilder>,
    rows: usize,
}

impl Builders {
    fn new() -> Self {
        Builders {
            user: Int64Builder::new(),
            ts: Int64Builder::new(),
            event: StringDictionaryBuilder::new(),
            item: Int64Builder::new(),
            category: StringDictionaryBuilder::new(),
            price: Float64Builder::new(),
            available: BooleanBuilder::new(),
            txn: Int64Builder::new(),
            device: StringDictionaryBuilder::new(),
            tags: ListBuilder::new(StringBuilder::new()),
            rows: 0,
        }
    }

    fn finish(&mut self) -> Result<RecordBatch, arrow::error::ArrowError> {
        self.rows = 0;
        let cols: Vec<ArrayRef> = vec![
            Arc::new(self.user.finish()),
            Arc::new(self.ts.finish()),
            Arc::new(self.event.finish()),
            Arc::new(self.item.finish()),
            Arc::new(self.category.finish()),
            Arc::new(self.price.finish()),
            Arc::new(self.available.finish()),
            Arc::new(self.txn.finish()),
            Arc::new(self.device.finish()),
            Arc::new(self.tags.finish()),
        ];
        RecordBatch::try_new(schema(), cols)
    }
}

fn pick_device(rng: &mut ChaCha8Rng) -> &'static str {
    let x: f64 = rng.random();
    let mut acc = 0.0;
    for (d, p) in DEVICES {
        acc += p;
        if x < acc {
            return d;
        }
    }
    DEVICES[0].0
}

fn item_price(item: u64) -> f64 {
    // Deterministic per item: 1.00 .. 300.00, skewed towards cheap.
    let h = item.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
    let u = (h % 10_000) as f64 / 10_000.0;
    ((1.0 + 299.0 * u * u) * 100.0).round() / 100.0
}

/// User `uid`'s id spread over the 64-bit range (splitmix64's finalizer: a bijection, so no
/// two users share an id).
fn spread_id(uid: u64) -> i64 {
    let mut z = uid;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) as i64
}

/// Generates one part's users into `path`.
fn generate_part(opts: &GenerateOptions, part: usize, path: &Path) -> Result<u64, DataprepError> {
    let perr = |e: &dyn std::fmt::Display| DataprepError::Parquet {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let file = File::create(path).map_err(|e| DataprepError::Io {
        path: path.display().to_string(),
        source: e,
    })?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(opts.row_group_rows.max(1)))
        .build();
    let mut writer = ArrowWriter::try_new(file, schema(), Some(props)).map_err(|e| perr(&e))?;
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed ^ (part as u64).wrapping_mul(0xA24B_AED4_963E_E407));
    let sessions_dist = Pareto::new(1.0, 1.3).map_err(|e| DataprepError::Invalid(e.to_string()))?;
    let events_dist = Pareto::new(2.0, 1.6).map_err(|e| DataprepError::Invalid(e.to_string()))?;
    let item_dist = Pareto::new(1.0, 0.8).map_err(|e| DataprepError::Invalid(e.to_string()))?;
    let gap_dist = Exp::new(1.0 / 45_000.0).map_err(|e| DataprepError::Invalid(e.to_string()))?;
    let span_ms = opts.days as f64 * 86_400_000.0;
    let categories: Vec<String> = (0..CATEGORIES).map(|c| format!("cat-{c:02}")).collect();
    let mut b = Builders::new();
    // Batches held back until the part is complete (shuffled parts; the last batch).
    let mut held = Vec::new();
    let mut rows = 0u64;
    let mut txn_id = (part as i64) << 40;
    let mut uid = part as u64 + 1;
    let parts = opts.parts.max(1) as u64;
    while uid <= opts.users {
        let id = if opts.sparse_ids { spread_id(uid) } else { uid as i64 };
        let sessions = (sessions_dist.sample(&mut rng) as u64).min(40);
        let mut device = pick_device(&mut rng);
        for _ in 0..sessions {
            if rng.random_bool(0.2) {
                device = pick_device(&mut rng);
            }
            let mut ts = opts.start_ms + (rng.random::<f64>() * span_ms) as i64;
            let events = (events_dist.sample(&mut rng) as u64 - 1).min(200);
            let mut item = (item_dist.sample(&mut rng) as u64) % ITEMS;
            let mut state = 0u8; // 0 view, 1 addtocart, 2 transaction
            for e in 0..events {
                if e > 0 {
                    // About 3% of consecutive events share a timestamp.
                    if !rng.random_bool(0.03) {
                        ts += 1 + gap_dist.sample(&mut rng) as i64;
                    }
                    state = match state {
                        0 if rng.random_bool(0.12) => 1,
                        1 if rng.random_bool(0.35) => 2,
                        _ => 0,
                    };
                    if state == 0 && rng.random_bool(0.6) {
                        item = (item_dist.sample(&mut rng) as u64) % ITEMS;
                    }
                }
                let (event, txn) = match state {
                    0 => ("view", None),
                    1 => ("addtocart", None),
                    _ => {
                        txn_id += 1;
                        ("transaction", Some(txn_id))
                    }
                };
                b.user.append_value(id);
                b.ts.append_value(ts);
                b.event.append_value(event);
                b.item.append_value(item as i64);
                b.category
                    .append_value(&categories[((item * 7919) % CATEGORIES) as usize]);
                if rng.random_bool(0.02) {
                    b.price.append_null();
                } else {
                    b.price.append_value(item_price(item));
                }
                b.available.append_value(!rng.random_bool(0.15));
                b.txn.append_option(txn);
                b.device.append_value(device);
                if rng.random_bool(0.05) {
                    b.tags.append(false);
                } else {
                    let n = rng.random_range(0..3);
                    for _ in 0..n {
                        b.tags.values().append_value(TAGS[rng.random_range(0..TAGS.len())]);
                    }
                    b.tags.append(true);
                }
                b.rows += 1;
                rows += 1;
                if b.rows >= 64 * 1024 {
                    let batch = b.finish().map_err(|e| perr(&e))?;
                    if opts.shuffled {
                        held.push(batch);
                    } else {
                        writer.write(&batch).map_err(|e| perr(&e))?;
                    }
                }
            }
        }
        uid += parts;
    }
    if b.rows > 0 {
        held.push(b.finish().map_err(|e| perr(&e))?);
    }
    if opts.shuffled && !held.is_empty() {
        // The whole part in one batch, its rows permuted (Fisher–Yates, seeded).
        let all = arrow::compute::concat_batches(&schema(), &held).map_err(|e| perr(&e))?;
        held.clear();
        let mut order: Vec<u32> = (0..all.num_rows() as u32).collect();
        for i in (1..order.len()).rev() {
            let j = rng.random_range(0..=i);
            order.swap(i, j);
        }
        let idx = arrow::array::UInt32Array::from(order);
        held.push(arrow::compute::take_record_batch(&all, &idx).map_err(|e| perr(&e))?);
    }
    for batch in held {
        writer.write(&batch).map_err(|e| perr(&e))?;
    }
    writer.close().map_err(|e| perr(&e))?;
    Ok(rows)
}

/// Writes `opts.parts` files `part-00000.parquet`… into `out_dir` (created if needed),
/// generating parts in parallel.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let opts = frocket_dataprep::GenerateOptions { users: 50, parts: 2, ..Default::default() };
/// let s = frocket_dataprep::generate(&opts, dir.path()).unwrap();
/// assert_eq!(s.files.len(), 2);
/// assert!(s.rows > 50);
/// ```
pub fn generate(opts: &GenerateOptions, out_dir: &Path) -> Result<GenerateSummary, DataprepError> {
    if opts.parts == 0 {
        return Err(DataprepError::Invalid("parts must be at least 1".into()));
    }
    if opts.users == 0 {
        return Err(DataprepError::Invalid("users must be at least 1".into()));
    }
    std::fs::create_dir_all(out_dir).map_err(|e| DataprepError::Io {
        path: out_dir.display().to_string(),
        source: e,
    })?;
    let files: Vec<PathBuf> = (0..opts.parts)
        .map(|p| out_dir.join(format!("part-{p:05}.parquet")))
        .collect();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(opts.parts);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<Result<u64, DataprepError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let p = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if p >= opts.parts {
                            break;
                        }
                        out.push((p, generate_part(opts, p, &files[p])));
                    }
                    out
                })
            })
            .collect();
        let mut all: Vec<(usize, Result<u64, DataprepError>)> =
            handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect();
        all.sort_by_key(|(p, _)| *p);
        all.into_iter().map(|(_, r)| r).collect()
    });
    if results.len() != opts.parts {
        return Err(DataprepError::Invalid("a generator thread failed".into()));
    }
    let mut rows = 0;
    for r in results {
        rows += r?;
    }
    Ok(GenerateSummary { files, rows })
}
