//! Helpers for the end-to-end tests: run the built `frocket` binary with its own data
//! directory, compare JSON results.

pub mod golden;
pub mod services;

pub use golden::{golden_dir, golden_queries, json_diff};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// The `frocket` binary built by this `cargo test` run.
pub fn frocket_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().and_then(Path::parent).expect("target directory");
    let bin = dir.join(format!("frocket{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} not built: run the tests with `cargo test --workspace`",
        bin.display()
    );
    bin
}

/// A `frocket` with an isolated catalog (`FROCKET_HOME`).
pub struct Frocket {
    /// The data directory.
    pub home: tempfile::TempDir,
    /// Extra environment (e.g. `FROCKET_REDIS_HOST`).
    pub env: Vec<(String, String)>,
}

/// What a command did.
#[derive(Debug)]
pub struct Run {
    /// Exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// Stdout as JSON (panics with the output when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}\nstderr: {}", self.stdout, self.stderr))
    }
}

impl Default for Frocket {
    fn default() -> Self {
        Self::new()
    }
}

impl Frocket {
    /// A fresh, empty catalog.
    pub fn new() -> Self {
        Frocket {
            home: tempfile::tempdir().expect("temp dir"),
            env: vec![],
        }
    }

    /// A `frocket` with extra environment variables.
    pub fn with_env(env: &[(&str, String)]) -> Self {
        Frocket {
            home: tempfile::tempdir().expect("temp dir"),
            env: env.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
        }
    }

    /// Runs `frocket --output json ARGS…`.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_as("json", args)
    }

    /// Runs `frocket --output OUTPUT ARGS…` (`json`, `table` or `csv`).
    pub fn run_as(&self, output: &str, args: &[&str]) -> Run {
        let out: Output = Command::new(frocket_bin())
            .arg("--output")
            .arg(output)
            .args(args)
            .env("FROCKET_HOME", self.home.path())
            .env_remove("FROCKET_REDIS_HOST")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .expect("run frocket");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).to_string(),
        }
    }

    /// Runs and requires success; returns stdout as JSON.
    pub fn ok(&self, args: &[&str]) -> Value {
        let r = self.run(args);
        assert_eq!(r.code, 0, "frocket {args:?} failed: {}", r.stderr);
        r.json()
    }

    /// Runs and requires a failure with a one-line error; returns the error line.
    pub fn fails(&self, args: &[&str]) -> String {
        let r = self.run(args);
        assert_ne!(r.code, 0, "frocket {args:?} should fail but printed {}", r.stdout);
        let lines: Vec<&str> = r.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "expected a one-line error, got: {}", r.stderr);
        assert!(lines[0].starts_with("error: "), "{}", lines[0]);
        lines[0].to_string()
    }
}

/// The heaviest query the default limits allow, as `make bench` builds it (performance.md,
/// "The heaviest query the limits allow"), for the generated datasets' columns (`event`,
/// `category`, `device`): 100 sequence conditions of 64 steps (every other one negative, a
/// one-day window), a relation of 1,000 terms, 100 aggregations with `top` 10,000 on the query,
/// on each step of a 64-step funnel and at its end. Minutes of work on a part of a few hundred
/// thousand rows in a debug build.
pub fn heaviest_allowed_query() -> Value {
    let events = ["view", "addtocart", "transaction"];
    let sequence = |k: usize| -> Vec<Value> {
        (0..64)
            .map(|i| {
                let e = events[(i + k) % 3];
                if i % 2 == 1 && i < 63 {
                    serde_json::json!({"filter": ["event", "==", e], "rowFound": false})
                } else {
                    serde_json::json!({"filter": ["event", "==", e]})
                }
            })
            .collect()
    };
    let conditions: Vec<Value> = (0..100)
        .map(|k| serde_json::json!({"sequence": sequence(k), "maxDuration": 86_400_000}))
        .collect();
    let relation = (0..1000)
        .map(|i| format!("${}", i % 100))
        .collect::<Vec<_>>()
        .join(" or ");
    let columns = ["category", "device", "event"];
    let aggs: Vec<Value> = (0..100)
        .map(|i| serde_json::json!({"column": columns[i % 3], "type": "groupsPerValue", "top": 10000, "name": format!("a{i}")}))
        .collect();
    serde_json::json!({
        "query": {"conditions": conditions, "relation": relation, "aggregations": aggs},
        "funnel": {"sequence": sequence(0), "maxDuration": 86_400_000, "stepAggregations": aggs, "endAggregations": aggs},
    })
}
