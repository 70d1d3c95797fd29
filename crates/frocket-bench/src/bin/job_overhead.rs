//! `make bench` (second part): the overhead of a distributed job. An empty query over many tiny
//! parts (default 256) with 4 queue workers: the time to enqueue every task, to the first
//! result and to the last.
//!
//! It starts its own `redis-server` on a free loopback port (stopped at the end) and runs the
//! workers in this process, each with its own Redis connections, exactly as `frocket worker`
//! does (`frocket_worker::run_queue_worker`).
//!
//! Usage: `job-overhead [--parts N] [--workers N] [--repeats N]`

use frocket_bench::arg;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use frocket_config::Config;
use frocket_dataset::{RegisterOptions, RegisterRequest, ValidationMode};
use frocket_datastore::Datastore;
use frocket_invoker::{Dispatch, RemoteOptions};
use frocket_storage::{DiskCache, Storage};
use frocket_worker::WorkerOptions;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parts = arg(&args, "--parts", 256)?;
    let workers = arg(&args, "--workers", 4)?;
    let repeats = arg(&args, "--repeats", 5)?.max(1);

    let tmp = std::env::temp_dir().join(format!("frocket-job-overhead-{}", std::process::id()));
    let data = tmp.join("data");
    let gen = frocket_dataprep::GenerateOptions {
        users: (parts * 10) as u64,
        parts,
        ..Default::default()
    };
    let summary = frocket_dataprep::generate(&gen, &data).map_err(|e| e.to_string())?;
    eprintln!("{} parts, {} rows", parts, summary.rows);

    let redis = frocket_tests::services::RedisServer::start();
    let port = redis.port;
    let cfg = Config::from_vars([
        ("FROCKET_REDIS_HOST", "127.0.0.1".to_string()),
        ("FROCKET_REDIS_PORT", port.to_string()),
    ])
    .map_err(|e| e.to_string())?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let result = rt.block_on(async {
        let connect = || Datastore::connect(&cfg.redis, 600, 86_400);
        let mut ds = None;
        for _ in 0..100 {
            match connect().await {
                Ok(d) => {
                    ds = Some(d);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        let ds = ds.ok_or("redis-server did not start")?;

        let req = RegisterRequest {
            name: "overhead".into(),
            basepath: data.display().to_string(),
            group_id_column: "userid".into(),
            timestamp_column: "timestamp".into(),
            pattern: "*.parquet".into(),
            validation_mode: ValidationMode::Single,
            validate_uniques: false,
            timestamp_unit: None,
        };
        let info = frocket_dataset::register(&req, &RegisterOptions::default()).map_err(|e| e.to_string())?;
        let query = frocket_engine::validate_query("{}", &info.query_schema(), 10).map_err(|e| e.to_string())?;

        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut handles = Vec::new();
        for w in 0..workers {
            let wds = connect().await.map_err(|e| e.to_string())?;
            let opts = WorkerOptions::new(
                format!("w{w}"),
                cfg.worker.reject_age_secs,
                Storage::new(None),
                DiskCache::new(tmp.join(format!("cache-{w}")), 100),
            );
            let mut rx = stop_rx.clone();
            handles.push(tokio::spawn(async move {
                let _ = frocket_worker::run_queue_worker(&wds, &opts, async move {
                    let _ = rx.wait_for(|s| *s).await;
                })
                .await;
            }));
        }

        println!(
            "\nJob overhead: empty query, {parts} parts ({} rows), {workers} queue workers, poll every {} ms; median of {repeats} runs (after one warm-up)\n",
            summary.rows, cfg.invoker.poll_interval_ms
        );
        println!("| mode | enqueue s | first result s | last result s | per task ms |");
        println!("|---|---|---|---|---|");
        // Local parts: every task names its part (self-select applies to S3 parts only, where
        // it adds up to the preflight window before uncached parts are taken).
        for (mode, select) in [("local parts, tasks name their part", None)] {
            let opts = RemoteOptions {
                run_timeout_secs: 120.0,
                poll_interval: Duration::from_millis(cfg.invoker.poll_interval_ms.max(1)),
                max_attempts: 3,
                failed_interval_secs: 3.0,
                lost_interval_secs: 20.0,
                self_select_preflight_ms: select,
                reject_age_secs: cfg.worker.reject_age_secs,
            };
            let (mut enq, mut first, mut last) = (Vec::new(), Vec::new(), Vec::new());
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
                let id = format!("{}-{r:08x}", 1_800_000_000 + r);
                let (res, stats) = frocket_invoker::run_remote(&ds, &Dispatch::Queue, &info, &query, &id, &opts, &progress)
                    .await
                    .map_err(|e| e.to_string())?;
                let total = t0.elapsed().as_secs_f64();
                if res.query.matching_groups != (parts * 10) as u64 {
                    return Err(format!("wrong answer: {} groups", res.query.matching_groups));
                }
                if r > 0 {
                    enq.push(stats.invoker.enqueue_time);
                    first.push(first_at.lock().ok().and_then(|f| *f).unwrap_or(total));
                    last.push(total);
                }
            }
            let (e, f, l) = (median(&mut enq), median(&mut first), median(&mut last));
            println!(
                "| {mode} | {e:.4} | {f:.3} | {l:.3} | {:.2} |",
                l * 1000.0 / parts as f64
            );
        }
        let _ = stop_tx.send(true);
        for h in handles {
            let _ = h.await;
        }
        Ok::<(), String>(())
    });
    let _ = std::fs::remove_dir_all(&tmp);
    result
}
