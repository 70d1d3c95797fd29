//! `make bench` (third part): reading cold parts from S3. A generated part is uploaded to an
//! S3-compatible server on loopback (`moto_server`, started on a free port and stopped at the
//! end); then, exactly as a worker does (`frocket_worker::read_for_query`), queries touching a
//! few of its 10 columns read it with an empty disk cache (footer, then ranged GETs of the
//! needed chunks), again with the cache warm, and another query needing other columns with
//! the cache holding the first one's. Against: downloading the whole file.
//!
//! Usage: `cold-reads [--users N] [--repeats N]` (the part is one of `--users` split in 4).

use std::process::{Command, Stdio};

use frocket_bench::{arg, Server};
use std::time::{Duration, Instant};

use frocket_engine::{run_loaded, validate_query, DatasetSchema, ExecOptions};
use frocket_storage::{DiskCache, Storage};

/// Starts moto_server on a free loopback port; waits until it answers (30 s at most).
fn start_moto() -> Result<(Server, u16), String> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let child = Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("moto_server: {e} (pip install 'moto[server]')"))?;
    let moto = Server(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok((moto, port));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err("moto_server did not start within 30 s".into())
}

const QUERIES: [(&str, &str); 3] = [
    (
        "conditions (userid, event, price: 3 of 10 columns)",
        r#"{"query": {"conditions": [{"filter": ["event", "==", "transaction"], "target": ["sum", "price", ">=", 100]}]}}"#,
    ),
    (
        "then a funnel (adds timestamp, 58% of the file)",
        r#"{"funnel": {"sequence": [{"filter": ["event", "==", "view"]}, {"filter": ["event", "==", "addtocart"]}, {"filter": ["event", "==", "transaction"]}]}}"#,
    ),
    ("then the empty query (userid only)", "{}"),
];

fn main() {
    if let Err(e) = real_main() {
        eprintln!("cold-reads: {e}");
        std::process::exit(1);
    }
}

fn real_main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let users = arg(&args, "--users", 400_000)?;
    let repeats = arg(&args, "--repeats", 3)?.max(1);
    let dir = std::path::PathBuf::from("/var/tmp/frocket-bench-data").join(format!("u{users}-p4"));
    let file = dir.join("part-00000.parquet");
    if !file.exists() {
        let opts = frocket_dataprep::GenerateOptions {
            users,
            parts: 4,
            ..Default::default()
        };
        frocket_dataprep::generate(&opts, &dir).map_err(|e| e.to_string())?;
    }
    let bytes = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    let size = bytes.len() as u64;
    let b = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes.clone()))
        .map_err(|e| e.to_string())?;
    let schema = DatasetSchema::from_arrow(b.schema(), "userid", "timestamp").map_err(|e| e.to_string())?;

    let (_moto, port) = start_moto()?;
    for (k, v) in [
        ("AWS_ACCESS_KEY_ID", "bench"),
        ("AWS_SECRET_ACCESS_KEY", "bench"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ] {
        // SAFETY: set before any thread of this process reads the environment.
        unsafe { std::env::set_var(k, v) };
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let storage = Storage::new(Some(format!("http://127.0.0.1:{port}")));
    let url = "s3://bench/part-00000.parquet";
    rt.block_on(async {
        storage.s3().create_bucket("bench").await?;
        storage.s3().upload(url, bytes).await
    })
    .map_err(|e| e.to_string())?;

    println!(
        "\npart: {} ({:.1} MiB, 10 columns) on moto_server (loopback), best of {repeats}\n",
        file.display(),
        size as f64 / 1048576.0
    );
    println!("| read | bytes from S3 | of the file | bytes from cache | load s | load + run s |");
    println!("|---|---|---|---|---|---|");
    // The whole file downloaded (the previous way).
    let mut best = f64::MAX;
    for _ in 0..repeats {
        let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
        let t = Instant::now();
        rt.block_on(storage.s3().download(url, &tmp.path().join("p.parquet")))
            .map_err(|e| e.to_string())?;
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!("| whole file downloaded (before) | {size} | 100% | 0 | {best:.3} | - |");
    // `from`: the cache each repeat starts from (copied, so that a repeat finds it as it was);
    // `None`: an empty one.
    let row = |what: &str, from: Option<&std::path::Path>, q: &str| -> Result<(), String> {
        let q = validate_query(q, &schema, 10).map_err(|e| e.to_string())?;
        let mut best: Option<(f64, f64, (u64, u64))> = None;
        for _ in 0..repeats {
            let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
            if let Some(from) = from {
                copy_dir(from, tmp.path()).map_err(|e| e.to_string())?;
            }
            let c = DiskCache::new(tmp.path(), 1024);
            let t = Instant::now();
            let loaded = rt.block_on(frocket_worker::read_for_query(url, "bench", &q, &storage, &c, true))?;
            let load = t.elapsed().as_secs_f64();
            run_loaded(url, loaded.part, &q, &ExecOptions::default()).map_err(|e| e.to_string())?;
            let total = t.elapsed().as_secs_f64();
            if best.is_none_or(|b| total < b.1) {
                best = Some((load, total, loaded.bytes));
            }
        }
        let (load, total, (src, cached)) = best.unwrap_or_default();
        println!(
            "| {what} | {src} | {:.1}% | {cached} | {load:.3} | {total:.3} |",
            100.0 * src as f64 / size as f64
        );
        Ok(())
    };
    let cache_dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let cache = DiskCache::new(cache_dir.path(), 1024);
    let (name, q0) = QUERIES[0];
    row(&format!("cold: {name}"), None, q0)?;
    // A cache holding what the first query fetched.
    rt.block_on(frocket_worker::read_for_query(
        url,
        "bench",
        &validate_query(q0, &schema, 10).map_err(|e| e.to_string())?,
        &storage,
        &cache,
        true,
    ))?;
    row(&format!("warm: {name}"), Some(cache_dir.path()), q0)?;
    for (name, q) in &QUERIES[1..] {
        row(
            &format!("cache holding the first query's chunks, {name}"),
            Some(cache_dir.path()),
            q,
        )?;
    }
    Ok(())
}

/// Copies a directory tree.
fn copy_dir(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let dest = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &dest)?;
        } else {
            std::fs::copy(e.path(), dest)?;
        }
    }
    Ok(())
}
