//! Helpers shared by the benchmark binaries: numeric flags and the servers they start.

use std::path::Path;
use std::process::{Child, Command};

/// A server process started for a benchmark, killed when dropped.
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The release `frocket` binary beside the running benchmark (`make bench` builds it); an
/// error saying how to build it when it is missing.
pub fn frocket_beside() -> Result<std::path::PathBuf, String> {
    let bin = std::env::current_exe()
        .map_err(|e| format!("the benchmark's own path: {e}"))?
        .with_file_name("frocket");
    if bin.exists() {
        Ok(bin)
    } else {
        Err(format!(
            "{} not found: cargo build --release -p frocket-cli (make bench does)",
            bin.display()
        ))
    }
}

/// Generates `opts` into `dir` unless its parts (`part-00000.parquet` …) are already there.
pub fn generate_once(opts: &frocket_dataprep::GenerateOptions, dir: &Path) -> Result<(), String> {
    if (0..opts.parts).all(|p| dir.join(format!("part-{p:05}.parquet")).exists()) {
        return Ok(());
    }
    eprintln!(
        "generating {} users in {} parts into {} ...",
        opts.users,
        opts.parts,
        dir.display()
    );
    frocket_dataprep::generate(opts, dir)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// The number after flag `name` in `args`, or `default` when the flag is absent.
///
/// ```
/// let args: Vec<String> = ["x", "--parts", "8"].iter().map(|s| s.to_string()).collect();
/// assert_eq!(frocket_bench::arg(&args, "--parts", 4), Ok(8u64));
/// assert_eq!(frocket_bench::arg(&args, "--users", 4), Ok(4u64));
/// ```
pub fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> Result<T, String> {
    match args.iter().position(|a| a == name) {
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("{name} needs a number")),
        None => Ok(default),
    }
}

/// The benchmark queries, by name (DuckDB equivalents in `duckdb_bench.py`).
pub const QUERIES: [(&str, &str); 6] = [
    ("empty", "{}"),
    (
        "funnel3_step_aggs",
        r#"{"funnel": {"sequence": [{"filter": ["event", "==", "view"]}, {"filter": ["event", "==", "addtocart"]},
                                   {"filter": ["event", "==", "transaction"]}],
                      "stepAggregations": [{"column": "device", "type": "countPerValue"},
                                           {"column": "category", "type": "groupsPerValue"}]}}"#,
    ),
    (
        "conditions_relation",
        r#"{"query": {"relation": "$0 and ($1 or not $2)",
                     "conditions": [{"filter": ["event", "==", "transaction"]},
                                    {"filter": ["event", "==", "addtocart"], "target": ["sum", "price", ">=", 100]},
                                    {"filter": ["device", "==", "tv"]}],
                     "aggregations": [{"column": "category", "type": "countPerValue"}]}}"#,
    ),
    (
        "sequence_window_negative",
        r#"{"query": {"conditions": [{"sequence": [{"filter": ["event", "==", "addtocart"]},
                                                   {"filter": ["event", "==", "view"], "rowFound": false},
                                                   {"filter": ["event", "==", "transaction"]}],
                                      "maxDuration": 3600000}]}}"#,
    ),
    (
        "funnel_hold_conversion",
        r#"{"funnel": {"sequence": [{"filter": ["event", "==", "view"]}, {"filter": ["event", "==", "addtocart"]},
                                   {"filter": ["event", "==", "transaction"]}],
                      "holdConstant": ["itemid"],
                      "conversionTime": {"bins": [60000, 600000, 3600000, 86400000]}}}"#,
    ),
    (
        "funnel_within_strict",
        r#"{"funnel": {"sequence": [{"filter": ["event", "==", "view"]},
                                   {"filter": ["event", "==", "addtocart"], "within": 600000},
                                   {"filter": ["event", "==", "transaction"], "within": 3600000}],
                      "order": "strict"}}"#,
    ),
];

/// Runs the DuckDB side (`duckdb_bench.py`) over `dir/*.parquet` with `threads` threads, best of
/// `repeats`: one JSON object per query, `{"name", "seconds", "summary"}`.
pub fn run_duckdb(dir: &Path, threads: usize, repeats: usize) -> Result<Vec<serde_json::Value>, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("duckdb_bench.py");
    let glob = dir.join("*.parquet");
    let out = Command::new("python3")
        .arg(&script)
        .arg(glob.display().to_string())
        .arg(threads.to_string())
        .arg(repeats.to_string())
        .output()
        .map_err(|e| format!("cannot run python3 for DuckDB: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "DuckDB script failed (pip install duckdb, or pass --no-duckdb): {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).map_err(|e| format!("DuckDB output: {e}: {l}")))
        .collect()
}
