//! `make bench-scale`: the distributed fan-out measured as parts grow.
//!
//! One funnel query (`funnel3_step_aggs`) over datasets of 8 … 256 parts (about 20,000 rows a
//! part by default), run by the invoker exactly as the service runs it
//! (`frocket_invoker::run_remote`) through a real `redis-server`, with the tasks taken by
//! - `queue`: N `frocket worker` processes (the release build, started from beside this
//!   binary) on the Redis work queue;
//! - `lambda`: the worker function under `cargo lambda watch --release --concurrency C` (the
//!   Lambda runtime protocol; each task an asynchronous `Invoke`).
//!
//! Reported per mode and part count (median of the repeats, after a warm-up run that also
//! builds and starts the functions): end-to-end seconds, enqueue (or invoke-dispatch) seconds,
//! seconds to the first and the last task result, the mean task time reported by the workers,
//! and the overhead per task — the wall time a worker slot spends not running a task:
//! `(end-to-end × slots − Σ task time) ÷ tasks`.
//!
//! Usage: `fanout_scale [--parts 8,16,32,64,128,256] [--users-per-part N] [--workers N]
//! [--concurrency N] [--modes queue,lambda] [--repeats N] [--root DIR]`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use frocket_bench::{arg, QUERIES};
use frocket_config::Config;
use frocket_dataset::{DatasetInfo, RegisterOptions, RegisterRequest, ValidationMode};
use frocket_datastore::Datastore;
use frocket_invoker::{Dispatch, RemoteOptions};
use frocket_tests::services::{free_port, LambdaEmulator, RedisServer, WorkerProcess};

struct Args {
    parts: Vec<usize>,
    users_per_part: u64,
    workers: usize,
    concurrency: usize,
    modes: Vec<String>,
    repeats: usize,
    root: PathBuf,
}

fn list<T: std::str::FromStr>(args: &[String], name: &str, default: &str) -> Result<Vec<T>, String> {
    let v = args
        .iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, String::as_str);
    v.split(',')
        .map(|x| {
            x.trim()
                .parse::<T>()
                .map_err(|_| format!("{name}: '{x}' in '{v}' is not valid"))
        })
        .collect()
}

fn parse_args() -> Result<Args, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let modes: Vec<String> = list(&args, "--modes", "queue,lambda")?;
    if let Some(m) = modes.iter().find(|m| *m != "queue" && *m != "lambda") {
        return Err(format!("--modes: '{m}' is not queue or lambda"));
    }
    Ok(Args {
        parts: list(&args, "--parts", "8,16,32,64,128,256")?,
        users_per_part: arg(&args, "--users-per-part", 2_000)?,
        workers: arg(&args, "--workers", 4)?,
        concurrency: arg(&args, "--concurrency", 4)?,
        modes,
        repeats: arg(&args, "--repeats", 3)?.max(1),
        root: args
            .iter()
            .position(|a| a == "--root")
            .and_then(|i| args.get(i + 1))
            .map_or_else(|| PathBuf::from("/var/tmp/frocket-bench-data"), PathBuf::from),
    })
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The dataset of `parts` parts (generated once under `root`), registered.
fn dataset(root: &Path, parts: usize, users_per_part: u64) -> Result<DatasetInfo, String> {
    let dir = root.join(format!("scale-u{users_per_part}-p{parts}"));
    let opts = frocket_dataprep::GenerateOptions {
        users: users_per_part * parts as u64,
        parts,
        shuffled: true,
        ..Default::default()
    };
    frocket_bench::generate_once(&opts, &dir)?;
    let req = RegisterRequest {
        name: format!("scale{parts}"),
        basepath: dir.display().to_string(),
        group_id_column: "userid".into(),
        timestamp_column: "timestamp".into(),
        pattern: "*.parquet".into(),
        validation_mode: ValidationMode::Single,
        validate_uniques: false,
        timestamp_unit: None,
    };
    frocket_dataset::register(&req, &RegisterOptions::default()).map_err(|e| e.to_string())
}

/// One row of the report: medians over the repeats.
struct Row {
    end_to_end: f64,
    enqueue: f64,
    first: f64,
    task: f64,
    overhead_ms: f64,
}

/// Runs the query `repeats` times (after one warm-up) over `info` through `dispatch`.
async fn measure(
    ds: &Datastore,
    dispatch: &Dispatch,
    info: &DatasetInfo,
    slots: usize,
    repeats: usize,
) -> Result<Row, String> {
    let (_, text) = QUERIES[1];
    let query = frocket_engine::validate_query(text, &info.query_schema(), 10).map_err(|e| e.to_string())?;
    let opts = RemoteOptions {
        run_timeout_secs: 900.0,
        poll_interval: Duration::from_millis(
            Config::from_vars(Vec::<(&str, String)>::new())
                .map_err(|e| e.to_string())?
                .invoker
                .poll_interval_ms
                .max(1),
        ),
        max_attempts: 3,
        failed_interval_secs: 3.0,
        lost_interval_secs: 600.0,
        self_select_preflight_ms: None,
        reject_age_secs: 900.0,
    };
    let tasks = info.parts.len();
    let (mut e2e, mut enq, mut first, mut task, mut over) = (vec![], vec![], vec![], vec![], vec![]);
    let mut answer = None;
    for r in 0..=repeats {
        let t0 = Instant::now();
        let first_at: Arc<Mutex<Option<f64>>> = Arc::default();
        let seen = first_at.clone();
        let progress = move |p: frocket_invoker::Progress| {
            if p.tasks.ended_success > 0 {
                if let Ok(mut f) = seen.lock() {
                    f.get_or_insert(t0.elapsed().as_secs_f64());
                }
            }
        };
        let id = frocket_invoker::new_request_id();
        let (res, stats) = frocket_invoker::run_remote(ds, dispatch, info, &query, &id, &opts, &progress)
            .await
            .map_err(|e| e.to_string())?;
        let total = t0.elapsed().as_secs_f64();
        let groups: Vec<u64> = res
            .funnel
            .as_ref()
            .map(|f| f.sequence.iter().map(|s| s.matching_groups).collect())
            .unwrap_or_default();
        match &answer {
            None => answer = Some(groups),
            Some(a) if *a != groups => return Err(format!("{}: answers differ between runs", info.name)),
            Some(_) => {}
        }
        if r == 0 {
            continue; // warm-up: builds, cold starts, page cache
        }
        let mean_task = stats.worker.total_time.mean;
        e2e.push(total);
        enq.push(stats.invoker.enqueue_time);
        first.push(first_at.lock().ok().and_then(|f| *f).unwrap_or(total));
        task.push(mean_task);
        let busy = slots.min(tasks) as f64;
        over.push((total * busy - mean_task * tasks as f64) / tasks as f64 * 1000.0);
    }
    Ok(Row {
        end_to_end: median(&mut e2e),
        enqueue: median(&mut enq),
        first: median(&mut first),
        task: median(&mut task),
        overhead_ms: median(&mut over),
    })
}

fn main() {
    if let Err(e) = real_main() {
        eprintln!("fanout_scale: {e}");
        std::process::exit(1);
    }
}

fn real_main() -> Result<(), String> {
    let a = parse_args()?;
    // Queue workers are `frocket worker` processes; the Lambda mode builds its own binary.
    let bin = if a.modes.iter().any(|m| m == "queue") {
        frocket_bench::frocket_beside()?
    } else {
        std::path::PathBuf::new()
    };
    let mut infos = Vec::new();
    for &p in &a.parts {
        eprintln!("dataset of {p} parts ...");
        infos.push(dataset(&a.root, p, a.users_per_part)?);
    }
    let redis = RedisServer::start();
    // The Lambda SDK needs credentials and a region; the emulator ignores them.
    for (k, v) in [
        ("AWS_ACCESS_KEY_ID", "bench"),
        ("AWS_SECRET_ACCESS_KEY", "bench"),
        ("AWS_REGION", "us-east-1"),
    ] {
        if std::env::var_os(k).is_none() {
            std::env::set_var(k, v);
        }
    }
    let cfg = Config::from_vars([
        ("FROCKET_REDIS_HOST", "127.0.0.1".to_string()),
        ("FROCKET_REDIS_PORT", redis.port.to_string()),
    ])
    .map_err(|e| e.to_string())?;
    let env: Vec<(&str, String)> = vec![
        ("FROCKET_REDIS_HOST", "127.0.0.1".into()),
        ("FROCKET_REDIS_PORT", redis.port.to_string()),
        ("FROCKET_LOG_LEVEL", "warn".into()),
        ("FROCKET_LOG_FORMAT", "text".into()),
        ("AWS_ACCESS_KEY_ID", "bench".into()),
        ("AWS_SECRET_ACCESS_KEY", "bench".into()),
        ("AWS_REGION", "us-east-1".into()),
    ];
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let ds = rt
        .block_on(Datastore::connect(&cfg.redis, 900, 86_400))
        .map_err(|e| e.to_string())?;

    println!(
        "\nFan-out at scale: funnel3_step_aggs, ~{} users (~{}K rows) per part, rows shuffled; median of {} runs after a warm-up\n",
        a.users_per_part,
        a.users_per_part * 105 / 10_000,
        a.repeats
    );
    println!("| mode | parts | end-to-end s | enqueue s | first result s | last result s | task s (mean) | overhead per task ms |");
    println!("|---|---|---|---|---|---|---|---|");
    for mode in &a.modes {
        let (label, slots, dispatch, guard): (String, usize, Dispatch, Box<dyn std::any::Any>) = match mode.as_str() {
            "queue" => {
                let workers: Vec<WorkerProcess> = (0..a.workers)
                    .map(|w| WorkerProcess::start_bin(&bin, &format!("bench-w{w}"), &env))
                    .collect();
                (
                    format!("queue, {} workers", a.workers),
                    a.workers,
                    Dispatch::Queue,
                    Box::new(workers),
                )
            }
            _ => {
                let port = free_port();
                let mut fenv = env.clone();
                if let Ok(t) = std::env::var("CARGO_TARGET_DIR") {
                    fenv.push(("CARGO_TARGET_DIR", t));
                }
                eprintln!("starting cargo lambda watch --release (the first query builds the worker function) ...");
                let emu = LambdaEmulator::start_with(port, &fenv, a.concurrency, &["--release"]);
                let d = rt.block_on(frocket_invoker::LambdaDispatcher::new(
                    "worker",
                    Some(emu.endpoint()),
                    a.concurrency * 2,
                ));
                (
                    format!("lambda, concurrency {}", a.concurrency),
                    a.concurrency,
                    Dispatch::Lambda(d),
                    Box::new(emu),
                )
            }
        };
        for info in &infos {
            let row = rt.block_on(measure(&ds, &dispatch, info, slots, a.repeats))?;
            println!(
                "| {label} | {} | {:.3} | {:.4} | {:.3} | {:.3} | {:.4} | {:.1} |",
                info.parts.len(),
                row.end_to_end,
                row.enqueue,
                row.first,
                row.end_to_end,
                row.task,
                row.overhead_ms
            );
        }
        drop(guard);
    }
    Ok(())
}
