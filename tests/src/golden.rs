//! The golden set (`shared/golden`): its queries and expected results, and the JSON
//! comparison every path's answers go through. Shared by the workspace's end-to-end tests and
//! the engine's own (which include this file: the engine does not depend on this crate).

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The golden directory: `FROCKET_GOLDEN_DIR`, or `shared/golden` beside the repository (the
/// first `shared/golden` up from the crate being tested).
pub fn golden_dir() -> PathBuf {
    if let Ok(d) = std::env::var("FROCKET_GOLDEN_DIR") {
        return PathBuf::from(d);
    }
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    crate_dir
        .ancestors()
        .map(|d| d.join("shared/golden"))
        .find(|d| d.is_dir())
        .unwrap_or_else(|| crate_dir.join("shared/golden"))
}

/// The golden queries: (query file name, query text, expected result), in `expected.jsonl`
/// order, then those of `sequence-options/`.
pub fn golden_queries() -> Vec<(String, String, Value)> {
    let dir = golden_dir();
    [dir.clone(), dir.join("sequence-options")]
        .iter()
        .flat_map(|d| {
            std::fs::read_to_string(d.join("expected.jsonl"))
                .unwrap_or_else(|e| panic!("golden {}: {e}", d.join("expected.jsonl").display()))
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|line| {
                    let exp: Value = serde_json::from_str(line).expect("a JSON line");
                    let file = exp["file"].as_str().expect("a file name").to_string();
                    let text = std::fs::read_to_string(d.join("queries").join(&file)).expect("the query file");
                    (file, text, exp["result"].clone())
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Compares JSON: integers exactly, floats within `rel`, object keys in the same order.
pub fn json_diff(a: &Value, b: &Value, path: &str, rel: f64) -> Option<String> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if x.is_f64() || y.is_f64() {
                let (x, y) = (x.as_f64()?, y.as_f64()?);
                let tol = rel * x.abs().max(y.abs()).max(1e-300);
                ((x - y).abs() > tol).then(|| format!("{path}: {x} != {y}"))
            } else {
                (x != y).then(|| format!("{path}: {x} != {y}"))
            }
        }
        (Value::Object(x), Value::Object(y)) => {
            let kx: Vec<&String> = x.keys().collect();
            let ky: Vec<&String> = y.keys().collect();
            if kx != ky {
                return Some(format!("{path}: keys {kx:?} != {ky:?}"));
            }
            // A conversion time's percentiles: within its `relativeError` of the exact value.
            let within = y.get("relativeError").and_then(Value::as_f64);
            x.iter()
                .find_map(|(k, v)| match (within, k.as_str(), v.as_f64(), y[k].as_f64()) {
                    (Some(e), "p50" | "p90" | "p99", Some(got), Some(want)) => ((got - want).abs() > e * want.abs())
                        .then(|| format!("{path}.{k}: {got} not within {e} of {want}")),
                    _ => json_diff(v, &y[k], &format!("{path}.{k}"), rel),
                })
        }
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                return Some(format!("{path}: length {} != {}", x.len(), y.len()));
            }
            x.iter()
                .zip(y)
                .enumerate()
                .find_map(|(i, (v, w))| json_diff(v, w, &format!("{path}[{i}]"), rel))
        }
        _ => (a != b).then(|| format!("{path}: {a} != {b}")),
    }
}
