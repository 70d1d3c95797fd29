//! `make bench` (fourth part): whole `frocket run` processes in local mode against DuckDB, as
//! threads grow.
//!
//! Every benchmark query runs as a separate `frocket --output json run` process (start-up,
//! catalog, listing, reading and merging included) over the same parts, with `--threads 1`,
//! `2`, …; DuckDB runs the same SQL in-process with as many threads (its time excludes Python's
//! start-up and `import duckdb`, which flatters DuckDB a little). Reported per query and thread
//! count: the best wall time, the speed-up over one thread and its efficiency (speed-up ÷
//! threads), DuckDB's time and the ratio. The answers of every thread count must agree.
//!
//! Usage: `local_scaling [--users N] [--parts N] [--layout grouped|shuffled] [--threads 1,2]
//! [--repeats N] [--root DIR] [--no-duckdb]` (defaults: 760,000 users in 8 parts — about 1M rows
//! a part —, shuffled, threads 1 and 2, best of 3). The `frocket` binary is taken from beside
//! this one (`cargo build --release -p frocket-cli`; `make bench` does).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use frocket_bench::{arg, run_duckdb, QUERIES};

struct Args {
    users: u64,
    parts: usize,
    shuffled: bool,
    threads: Vec<usize>,
    repeats: usize,
    root: PathBuf,
    duckdb: bool,
}

fn parse_args() -> Result<Args, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1));
    let shuffled = match value("--layout").map(String::as_str) {
        None | Some("shuffled") => true,
        Some("grouped") => false,
        Some(other) => return Err(format!("--layout: '{other}' is not grouped or shuffled")),
    };
    let threads = match value("--threads") {
        None => vec![1, 2],
        Some(list) => list
            .split(',')
            .map(|t| t.trim().parse::<usize>().ok().filter(|&t| t > 0))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| format!("--threads: '{list}' is not a list of positive numbers like 1,2"))?,
    };
    Ok(Args {
        users: arg(&args, "--users", 760_000)?,
        parts: arg(&args, "--parts", 8)?,
        shuffled,
        threads,
        repeats: arg(&args, "--repeats", 3)?.max(1),
        root: value("--root").map_or_else(|| PathBuf::from("/var/tmp/frocket-bench-data"), PathBuf::from),
        duckdb: !args.iter().any(|a| a == "--no-duckdb"),
    })
}

/// Runs `frocket` with `args` under `home`; its stdout as JSON (an error names the command).
fn frocket(bin: &Path, home: &Path, args: &[&str]) -> Result<serde_json::Value, String> {
    let out = Command::new(bin)
        .env("FROCKET_HOME", home)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    if !out.status.success() {
        return Err(format!(
            "frocket {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("frocket {}: output is not JSON: {e}", args.join(" ")))
}

fn main() {
    if let Err(e) = real_main() {
        eprintln!("local_scaling: {e}");
        std::process::exit(1);
    }
}

fn real_main() -> Result<(), String> {
    let a = parse_args()?;
    let bin = frocket_bench::frocket_beside()?;
    let layout = if a.shuffled { "-shuffled" } else { "" };
    let dir = a.root.join(format!("u{}-p{}{layout}", a.users, a.parts));
    let opts = frocket_dataprep::GenerateOptions {
        users: a.users,
        parts: a.parts,
        shuffled: a.shuffled,
        ..Default::default()
    };
    frocket_bench::generate_once(&opts, &dir)?;
    let home = tempfile::tempdir().map_err(|e| e.to_string())?;
    let dir_s = dir.display().to_string();
    let reg = frocket(
        bin.as_path(),
        home.path(),
        &["--output", "json", "register", "scale", &dir_s, "userid", "timestamp"],
    )?;
    let size: f64 = reg["totalSize"].as_f64().unwrap_or(0.0);

    let mut duck: Vec<(usize, Vec<serde_json::Value>)> = Vec::new();
    if a.duckdb {
        for &t in &a.threads {
            duck.push((t, run_duckdb(&dir, t, a.repeats)?));
        }
    }

    let first = frocket(
        bin.as_path(),
        home.path(),
        &["--output", "json", "run", "scale", "--empty", "--threads", "1"],
    )?;
    println!(
        "\nLocal mode, whole `frocket run` processes: {} parts{}, {} rows, {:.0} MiB; best of {} (DuckDB in-process, same threads)\n",
        a.parts,
        if a.shuffled { " (rows shuffled)" } else { " (rows grouped by user)" },
        first["query"]["matchingGroupRows"],
        size / 1048576.0,
        a.repeats
    );
    println!("| query | threads | frocket s | speed-up | efficiency | DuckDB s | frocket / DuckDB |");
    println!("|---|---|---|---|---|---|---|");
    for (name, text) in QUERIES {
        let qfile = home.path().join(format!("{name}.json"));
        std::fs::write(&qfile, text).map_err(|e| e.to_string())?;
        let qfile_s = qfile.display().to_string();
        let mut one_thread = None;
        let mut answer: Option<serde_json::Value> = None;
        for &t in &a.threads {
            let ts = t.to_string();
            let mut best = f64::INFINITY;
            for _ in 0..a.repeats {
                let start = Instant::now();
                let out = frocket(
                    bin.as_path(),
                    home.path(),
                    &["--output", "json", "run", "scale", "--file", &qfile_s, "--threads", &ts],
                )?;
                best = best.min(start.elapsed().as_secs_f64());
                let result = serde_json::json!([out["query"], out["funnel"]]);
                match &answer {
                    None => answer = Some(result),
                    Some(a) if *a != result => {
                        return Err(format!(
                            "{name}: the answer with {t} threads differs from the first run's"
                        ))
                    }
                    Some(_) => {}
                }
            }
            let base = *one_thread.get_or_insert(best);
            let speedup = base / best;
            let d = duck
                .iter()
                .find(|(dt, _)| *dt == t)
                .and_then(|(_, rows)| rows.iter().find(|r| r["name"] == name))
                .and_then(|r| r["seconds"].as_f64());
            println!(
                "| {name} | {t} | {best:.3} | {speedup:.2}× | {:.0}% | {} | {} |",
                100.0 * speedup / t as f64,
                d.map_or("-".into(), |d| format!("{d:.3}")),
                d.map_or("-".into(), |d| format!("{:.2}×", best / d)),
            );
        }
    }
    Ok(())
}
