//! `make bench`: the engine on generated data, beside the Parquet decode floor and DuckDB.
//!
//! For each benchmark query it runs every part on one thread, one part at a time, and reports
//! rows per second per core and the peak heap of one part's run; the floor decodes the same
//! columns with the `parquet` crate alone; DuckDB runs the equivalent SQL with one thread.
//!
//! Usage: `frocket-bench [--users N] [--parts N] [--layout grouped|shuffled|both] [--ids dense|sparse] [--root DIR]
//! [--data DIR [--group-id COL] [--timestamp COL]] [--repeats N] [--no-duckdb] [--only QUERY]`:
//! by default both layouts of generated parts are reported, one table each — rows grouped by
//! user, then the same users with their rows in any order (as most pipelines write parts);
//! `--data` takes any directory of parts instead of generated ones (queries whose columns it
//! lacks are skipped); `--ids sparse` generates user ids spread over the 64-bit range, as
//! hashed ids are.

use std::alloc::{GlobalAlloc, Layout, System};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use frocket_engine::{
    read_part, run_loaded, validate_query, DatasetSchema, ExecOptions, PartialResult, ValidatedQuery,
};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;

/// Counts live heap bytes and their peak.
struct PeakAlloc;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// The highest heap peak of one part while it was being read (before execution).
static READ_PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for PeakAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size > layout.size() {
                let now = LIVE.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size - layout.size();
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc;

struct Args {
    users: u64,
    parts: usize,
    /// Where generated datasets are kept.
    root: PathBuf,
    /// The layouts of generated parts to report, in order: rows grouped by user (`false`),
    /// or shuffled (`true`).
    layouts: Vec<bool>,
    /// Generated user ids spread over the 64-bit range (hashed ids) instead of dense.
    sparse_ids: bool,
    /// A directory of parts to use instead of generated ones.
    data: Option<PathBuf>,
    group_id: String,
    timestamp: String,
    repeats: usize,
    duckdb: bool,
    only: Option<String>,
    /// Whether to run the heaviest query the limits allow (minutes).
    worst: bool,
}

const USAGE: &str =
    "usage: frocket-bench [--users N] [--parts N] [--layout grouped|shuffled|both] [--ids dense|sparse] [--repeats N]
                     [--data DIR --group-id COL --timestamp COL] [--root DIR]
                     [--only QUERY|worst_allowed] [--no-duckdb] [--no-worst]";

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        users: 300_000,
        parts: 4,
        root: PathBuf::from("/var/tmp/frocket-bench-data"),
        layouts: vec![false, true],
        sparse_ids: false,
        data: None,
        group_id: "userid".into(),
        timestamp: "timestamp".into(),
        repeats: 3,
        duckdb: true,
        only: None,
        worst: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut val = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match k.as_str() {
            "--users" => a.users = val("--users")?.parse().map_err(|e| format!("--users: {e}"))?,
            "--parts" => a.parts = val("--parts")?.parse().map_err(|e| format!("--parts: {e}"))?,
            "--data" => a.data = Some(PathBuf::from(val("--data")?)),
            "--root" => a.root = PathBuf::from(val("--root")?),
            "--group-id" => a.group_id = val("--group-id")?,
            "--timestamp" => a.timestamp = val("--timestamp")?,
            "--layout" => {
                a.layouts = match val("--layout")?.as_str() {
                    "grouped" => vec![false],
                    "shuffled" => vec![true],
                    "both" => vec![false, true],
                    other => return Err(format!("--layout: '{other}' is not grouped, shuffled or both")),
                }
            }
            "--ids" => {
                a.sparse_ids = match val("--ids")?.as_str() {
                    "dense" => false,
                    "sparse" => true,
                    other => return Err(format!("--ids: '{other}' is not dense or sparse")),
                }
            }
            "--repeats" => a.repeats = val("--repeats")?.parse().map_err(|e| format!("--repeats: {e}"))?,
            "--no-duckdb" => a.duckdb = false,
            "--only" => a.only = Some(val("--only")?),
            "--no-worst" => a.worst = false,
            "--help" | "-h" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    Ok(a)
}

fn summarize(q: &str, r: &frocket_engine::QueryResult) -> serde_json::Value {
    match q {
        "funnel_hold_conversion" => {
            // Per step after the first: groups, min, max, sum of the times, histogram counts.
            let f = r.funnel.as_ref();
            let steps: Vec<serde_json::Value> = f
                .map(|f| {
                    f.sequence
                        .iter()
                        .filter_map(|s| s.conversion_time.clone().flatten())
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
                .into_iter()
                .map(|c| {
                    let sum = c.mean.map_or(0.0, |m| (m * c.groups as f64).round());
                    let hist: Vec<u64> = c.histogram.unwrap_or_default().iter().map(|b| b.groups).collect();
                    serde_json::json!([c.groups, c.min, c.max, sum, hist])
                })
                .collect();
            serde_json::json!({"stepGroups": f.map(|f| f.sequence.iter().map(|s| s.matching_groups).collect::<Vec<_>>()), "times": steps})
        }
        "funnel3_step_aggs" | "funnel_within_strict" => {
            serde_json::json!({"stepGroups": r.funnel.as_ref().map(|f| f.sequence.iter().map(|s| s.matching_groups).collect::<Vec<_>>())})
        }
        "empty" => serde_json::json!({"groups": r.query.matching_groups, "rows": r.query.matching_group_rows}),
        _ => serde_json::json!({"groups": r.query.matching_groups}),
    }
}

fn main() {
    if let Err(e) = real_main() {
        eprintln!("frocket-bench: {e}");
        std::process::exit(1);
    }
}

fn real_main() -> Result<(), String> {
    frocket_engine::memory::keep_freed_memory();
    let args = parse_args()?;
    if args.data.is_some() {
        // Parts given: their rows are in whatever order they were written.
        return run_layout(&args, false);
    }
    for &shuffled in &args.layouts {
        println!(
            "## layout: {}",
            if shuffled {
                "shuffled (each part's rows in any order)"
            } else {
                "grouped (each user's rows together)"
            }
        );
        run_layout(&args, shuffled)?;
        println!();
    }
    Ok(())
}

/// The benchmark over one layout of generated parts (rows `shuffled` or grouped by user), or
/// over the parts of `--data`.
fn run_layout(args: &Args, shuffled: bool) -> Result<(), String> {
    let layout = match (shuffled, args.sparse_ids) {
        (false, false) => "",
        (true, false) => "-shuffled",
        (false, true) => "-sparse",
        (true, true) => "-shuffled-sparse",
    };
    let dir = match &args.data {
        Some(d) => d.clone(),
        None => args.root.join(format!("u{}-p{}{layout}", args.users, args.parts)),
    };
    let mut files: Vec<PathBuf> = match &args.data {
        Some(d) => {
            let mut f: Vec<PathBuf> = std::fs::read_dir(d)
                .map_err(|e| format!("--data {}: {e}", d.display()))?
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
                .collect();
            f.sort();
            if f.is_empty() {
                return Err(format!("--data {}: no *.parquet files", d.display()));
            }
            f
        }
        None => (0..args.parts)
            .map(|p| dir.join(format!("part-{p:05}.parquet")))
            .collect(),
    };
    if args.data.is_none() && !files.iter().all(|f| f.exists()) {
        eprintln!(
            "generating {} users in {} parts into {} ...",
            args.users,
            args.parts,
            dir.display()
        );
        let t = Instant::now();
        let opts = frocket_dataprep::GenerateOptions {
            users: args.users,
            parts: args.parts,
            shuffled,
            sparse_ids: args.sparse_ids,
            ..Default::default()
        };
        let s = frocket_dataprep::generate(&opts, &dir).map_err(|e| e.to_string())?;
        eprintln!("generated {} rows in {:.1}s", s.rows, t.elapsed().as_secs_f64());
        files = s.files;
    }
    let first = File::open(&files[0]).map_err(|e| e.to_string())?;
    let b = ParquetRecordBatchReaderBuilder::try_new(first).map_err(|e| e.to_string())?;
    let schema = DatasetSchema::from_arrow(b.schema(), &args.group_id, &args.timestamp).map_err(|e| e.to_string())?;
    let total_rows: u64 = files
        .iter()
        .map(|f| {
            File::open(f)
                .ok()
                .and_then(|f| ParquetRecordBatchReaderBuilder::try_new(f).ok())
                .map_or(0, |b| b.metadata().file_metadata().num_rows() as u64)
        })
        .sum();
    let sizes: Vec<u64> = files
        .iter()
        .map(|f| std::fs::metadata(f).map_or(0, |m| m.len()))
        .collect();
    let max_part = *sizes.iter().max().unwrap_or(&1);
    println!(
        "dataset: {} rows, {} parts, {:.1} MiB in all, largest part {:.1} MiB",
        total_rows,
        files.len(),
        sizes.iter().sum::<u64>() as f64 / 1048576.0,
        max_part as f64 / 1048576.0
    );

    // The DuckDB SQL names the generated data's columns.
    let duckdb = args.duckdb && (args.data.is_none() || (args.group_id == "userid" && args.timestamp == "timestamp"));
    let duck: Vec<serde_json::Value> = if duckdb {
        frocket_bench::run_duckdb(&dir, 1, args.repeats)?
    } else {
        vec![]
    };

    if args.data.is_none() && args.worst && args.only.as_deref().is_none_or(|o| o == "worst_allowed") {
        worst_allowed(&files[0], &schema, max_part)?;
    }
    if args.only.as_deref() == Some("worst_allowed") {
        return Ok(());
    }

    println!();
    println!("| query | engine s (read + run) | engine Mrows/s/core | decode floor s | engine / floor | floor, mapped s | DuckDB s (1 thread) | DuckDB / engine | peak heap per part (while reading) | peak / part size | groups (engine / DuckDB) |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for (name, text) in frocket_bench::QUERIES {
        if args.only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        let q = match validate_query(text, &schema, 10) {
            Ok(q) => q,
            // Another dataset (`--data`) may lack the columns a query uses.
            Err(e) if args.data.is_some() => {
                println!("| {name} | skipped: {e} |");
                continue;
            }
            Err(e) => return Err(e.to_string()),
        };
        READ_PEAK.store(0, Ordering::Relaxed);
        // The engine and both floors in turn each repeat, best of each: a stretch of load on the
        // machine then slows all three alike instead of one of them.
        let columns = q.columns_to_read();
        let (mut floor, mut mapped) = (f64::INFINITY, f64::INFINITY);
        let (secs, peak, (result, load)) = best_of(args.repeats, || {
            let run = run_engine(&files, &q)?;
            floor = floor.min(decode_floor(&files, &columns, false)?.0);
            mapped = mapped.min(decode_floor(&files, &columns, true)?.0);
            Ok(run)
        })?;
        let d = duck.iter().find(|d| d["name"] == name);
        let dsecs = d.and_then(|d| d["seconds"].as_f64());
        let mine = summarize(name, &result);
        println!(
            "| {name} | {secs:.3} ({load:.3} + {:.3}) | {:.1} | {floor:.3} | {:.2}× | {mapped:.3} | {} | {} | {:.1} MiB ({:.1}) | {:.2}× | {} / {} |",
            (secs - load).max(0.0),
            total_rows as f64 / secs / 1e6,
            secs / floor,
            dsecs.map_or("-".into(), |s| format!("{s:.3}")),
            dsecs.map_or("-".into(), |s| format!("{:.1}×", s / secs)),
            peak as f64 / 1048576.0,
            READ_PEAK.load(Ordering::Relaxed) as f64 / 1048576.0,
            peak as f64 / max_part as f64,
            mine,
            d.map_or("-".to_string(), |d| d["summary"].to_string()),
        );
    }
    Ok(())
}

/// The heaviest query the default limits allow (query-language.md "Limits"), built to cost as
/// much as each bound permits: 100 sequence conditions of 64 steps each (every other step a
/// negative one, a window), a relation of 1,000 terms, 100 aggregations with `top` 10,000, and
/// a funnel of 64 steps with 100 step aggregations and 100 end aggregations. Runs it on one part
/// and prints its time and peak heap against the part's size.
fn worst_allowed(file: &Path, schema: &DatasetSchema, part_size: u64) -> Result<(), String> {
    use frocket_engine::query::QueryLimits;
    use serde_json::json;
    let l = QueryLimits::default();
    let events = ["view", "addtocart", "transaction"];
    let steps = |k: usize| -> Vec<serde_json::Value> {
        (0..l.max_steps)
            .map(|i| {
                let e = events[(i + k) % events.len()];
                if i % 2 == 1 && i + 1 < l.max_steps {
                    json!({"filter": ["event", "==", e], "rowFound": false})
                } else {
                    json!({"filter": ["event", "==", e]})
                }
            })
            .collect()
    };
    let conditions: Vec<serde_json::Value> = (0..l.max_conditions)
        .map(|k| json!({"sequence": steps(k), "maxDuration": 86_400_000}))
        .collect();
    let relation = (0..l.max_relation_terms)
        .map(|i| format!("${}", i % l.max_conditions))
        .collect::<Vec<_>>()
        .join(" or ");
    let columns = ["category", "device", "event"];
    let aggs: Vec<serde_json::Value> = (0..l.max_aggregations)
        .map(|i| json!({"column": columns[i % columns.len()], "type": "groupsPerValue", "top": l.max_top, "name": format!("a{i}")}))
        .collect();
    let q = json!({
        "query": {"conditions": conditions, "relation": relation, "aggregations": aggs},
        "funnel": {"sequence": steps(0), "maxDuration": 86_400_000, "stepAggregations": aggs, "endAggregations": aggs},
    });
    let text = q.to_string();
    let t = Instant::now();
    let q = frocket_engine::query::validate_query_with(&text, schema, 10, &l).map_err(|e| e.to_string())?;
    let validate = t.elapsed().as_secs_f64();
    let (secs, peak, _) = run_engine(std::slice::from_ref(&file.to_path_buf()), &q)?;
    println!();
    println!(
        "worst allowed query ({:.0} KB; validated in {:.1} ms): {secs:.2} s on one part, peak heap {:.1} MiB = {:.2}× the part ({:.1} MiB)",
        text.len() as f64 / 1024.0,
        validate * 1000.0,
        peak as f64 / 1048576.0,
        peak as f64 / part_size.max(1) as f64,
        part_size as f64 / 1048576.0
    );
    Ok(())
}

/// Runs `f` `n` times; the fastest time, the highest peak and the last value.
fn best_of<T>(n: usize, mut f: impl FnMut() -> Result<(f64, usize, T), String>) -> Result<(f64, usize, T), String> {
    let mut best: Option<(f64, T)> = None;
    let mut peak = 0;
    for _ in 0..n.max(1) {
        let (s, p, v) = f()?;
        peak = peak.max(p);
        if best.as_ref().is_none_or(|(b, _)| s < *b) {
            best = Some((s, v));
        }
    }
    best.map(|(s, v)| (s, peak, v)).ok_or_else(|| "no run".into())
}

/// Total seconds over parts (one thread), the highest per-part heap peak, and the result with
/// the seconds spent reading parts (the rest is execution).
fn run_engine(
    files: &[PathBuf],
    q: &ValidatedQuery,
) -> Result<(f64, usize, (frocket_engine::QueryResult, f64)), String> {
    let mut secs = 0.0;
    let mut load = 0.0;
    let mut peak = 0;
    let mut partials = Vec::new();
    for f in files {
        let base = LIVE.load(Ordering::Relaxed);
        PEAK.store(base, Ordering::Relaxed);
        let t = Instant::now();
        // Opened as `frocket run` opens a part (mapped: `FROCKET_READ_MMAP`'s default).
        let file = frocket_engine::open_part(f, true).map_err(|e| e.to_string())?;
        let name = f.display().to_string();
        let part = read_part(&name, file, q).map_err(|e| e.to_string())?;
        load += t.elapsed().as_secs_f64();
        READ_PEAK.fetch_max(PEAK.load(Ordering::Relaxed).saturating_sub(base), Ordering::Relaxed);
        let p = run_loaded(&name, part, q, &ExecOptions::default()).map_err(|e| e.to_string())?;
        secs += t.elapsed().as_secs_f64();
        peak = peak.max(PEAK.load(Ordering::Relaxed).saturating_sub(base));
        partials.push(p);
    }
    let r = PartialResult::merge_all(partials)
        .and_then(|p| p.finish(q))
        .map_err(|e| e.to_string())?;
    Ok((secs, peak, (r, load)))
}

/// Decoding the same columns with `parquet` alone: the physical floor. The file is read with
/// `read` calls (the floor the targets are set against), or mapped as the engine maps it
/// when `mapped` (shown beside it).
fn decode_floor(files: &[PathBuf], columns: &[String], mapped: bool) -> Result<(f64, usize, ()), String> {
    let mut secs = 0.0;
    for f in files {
        let t = Instant::now();
        let file = frocket_engine::open_part(f, mapped).map_err(|e| e.to_string())?;
        let b = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| e.to_string())?;
        let idx: Vec<usize> = columns.iter().filter_map(|c| b.schema().index_of(c).ok()).collect();
        let mask = ProjectionMask::roots(b.parquet_schema(), idx);
        let reader = b
            .with_projection(mask)
            .with_batch_size(64 * 1024)
            .build()
            .map_err(|e| e.to_string())?;
        let mut rows = 0;
        for batch in reader {
            rows += batch.map_err(|e| e.to_string())?.num_rows();
        }
        std::hint::black_box(rows);
        secs += t.elapsed().as_secs_f64();
    }
    Ok((secs, 0, ()))
}
