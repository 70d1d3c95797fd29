//! The CLI as a report and as a finished tool: numbers for people in tables, full precision in
//! CSV, no progress bar or panic when piped, `--version` with the commit, completions and a man
//! page from the clap definitions.

use std::process::{Command, Stdio};

use frocket_tests::{frocket_bin, golden_dir, golden_queries, Frocket};
use serde_json::Value;

fn golden() -> Frocket {
    let f = Frocket::new();
    let dir = golden_dir().join("data");
    f.ok(&["register", "golden", dir.to_str().unwrap(), "visitorid", "timestamp"]);
    f
}

/// Thousands separators and two decimals, written independently of the CLI's formatter.
fn with_separators(x: f64) -> String {
    let s = format!("{:.2}", x.abs());
    let (whole, frac) = s.split_once('.').unwrap();
    let mut grouped: Vec<String> = whole
        .as_bytes()
        .rchunks(3)
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect();
    grouped.reverse();
    format!("{}{}.{frac}", if x < 0.0 { "-" } else { "" }, grouped.join(","))
}

#[test]
fn tables_round_numbers_for_people_and_csv_keeps_every_digit() {
    let f = golden();
    for (file, text, _) in golden_queries() {
        let json = f.ok(&["run", "golden", "--string", &text]);
        let csv_run = f.run_as("csv", &["run", "golden", "--string", &text]);
        assert_eq!(csv_run.code, 0, "{file}: {}", csv_run.stderr);
        assert_eq!(
            csv_run.stderr, "",
            "{file}: nothing on stderr when piped (no progress bar)"
        );
        let mut rows = csv::Reader::from_reader(csv_run.stdout.as_bytes());
        let header: Vec<String> = rows.headers().unwrap().iter().map(str::to_string).collect();
        assert_eq!(header, ["scope", "step", "metric", "column", "key", "value"], "{file}");
        let mut seen = 0;
        for row in rows.records() {
            let row = row.unwrap();
            let (scope, step, metric, column, key, value) = (&row[0], &row[1], &row[2], &row[3], &row[4], &row[5]);
            let stage = match scope {
                "query" => &json["query"],
                "funnel" => &json["funnel"]["sequence"][step.parse::<usize>().unwrap()],
                "funnelEnd" => &json["funnel"],
                other => panic!("{file}: scope {other}"),
            };
            let expected: Value = match metric {
                "matchingGroups" | "matchingGroupRows" => stage[metric].clone(),
                m if m.starts_with("conversionTime.") => {
                    let ct = &stage["conversionTime"];
                    match &m["conversionTime.".len()..] {
                        "histogram" => ct["histogram"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .find(|b| {
                                b["lessThan"].to_string().trim_matches('"') == key
                                    || (key.is_empty() && b["lessThan"].is_null())
                            })
                            .map(|b| b["groups"].clone())
                            .unwrap_or_else(|| panic!("{file}: no bin {key}")),
                        stat => ct[stat].clone(),
                    }
                }
                agg => {
                    let list = if scope == "funnelEnd" {
                        &stage["endAggregations"]
                    } else {
                        &stage["aggregations"]
                    };
                    let a = list
                        .as_array()
                        .unwrap()
                        .iter()
                        .find(|a| a["column"] == column && (a["name"] == agg || a["type"] == agg))
                        .unwrap_or_else(|| panic!("{file}: no aggregation {agg} of {column}"));
                    if key.is_empty() && !a["value"].is_object() {
                        a["value"].clone()
                    } else {
                        a["value"][key].clone()
                    }
                }
            };
            let got: Value = serde_json::from_str(value).unwrap_or(Value::Null);
            match (got.as_f64(), expected.as_f64()) {
                (Some(g), Some(e)) => assert!(g == e, "{file}: {scope} {step} {metric} {column} {key}: {g} != {e}"),
                _ => assert!(
                    expected.is_null() && value.is_empty(),
                    "{file}: {metric} {key}: '{value}' vs {expected}"
                ),
            }
            seen += 1;
        }
        assert!(seen >= 2, "{file}: at least the query's groups and rows");
    }

    // g03's sums and means show with separators and two decimals in a table.
    let (_, text, expected) = golden_queries().into_iter().nth(2).unwrap();
    let table = f.run_as("table", &["run", "golden", "--string", &text]);
    assert_eq!(table.code, 0, "{}", table.stderr);
    let mut checked = 0;
    for a in expected["query"]["aggregations"].as_array().unwrap() {
        for (_, v) in a["value"].as_object().into_iter().flatten() {
            if let Some(x) = v.as_f64().filter(|_| !v.is_u64()) {
                let shown = with_separators(x);
                assert!(table.stdout.contains(&shown), "{shown} not in\n{}", table.stdout);
                checked += 1;
            }
        }
    }
    assert!(checked > 0, "g03 has float aggregations");
    assert!(table.stdout.contains(" rows"), "{}", table.stdout);
}

#[test]
fn funnel_tables_have_a_bar_per_step() {
    let f = golden();
    let (_, text, expected) = golden_queries()
        .into_iter()
        .find(|(_, _, e)| e["funnel"].is_object())
        .unwrap();
    let out = f.run_as("table", &["run", "golden", "--string", &text]);
    let steps = expected["funnel"]["sequence"].as_array().unwrap();
    let first = steps[0]["matchingGroups"].as_f64().unwrap();
    let bars: Vec<usize> = out
        .stdout
        .lines()
        .filter(|l| l.contains('█') || l.contains('▏'))
        .take(steps.len())
        .map(|l| l.chars().filter(|&c| c == '█').count())
        .collect();
    assert_eq!(bars.len(), steps.len(), "{}", out.stdout);
    for (s, full) in steps.iter().zip(&bars) {
        let share = s["matchingGroups"].as_f64().unwrap() / first;
        assert_eq!(*full, (share * 30.0 * 8.0).round() as usize / 8, "{}", out.stdout);
    }
}

#[test]
fn a_reader_that_goes_away_is_not_an_error() {
    let f = golden();
    for args in [vec!["completions", "zsh"], vec!["--output", "csv", "list"], vec!["man"]] {
        let mut child = Command::new(frocket_bin())
            .args(&args)
            .env("FROCKET_HOME", f.home.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // the reader is gone before anything is written
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn version_completions_and_man_page_come_from_the_definitions() {
    let f = Frocket::new();
    let version = Command::new(frocket_bin()).arg("--version").output().unwrap();
    let version = String::from_utf8_lossy(&version.stdout).to_string();
    let commit = version
        .split("(commit ")
        .nth(1)
        .and_then(|c| c.split(')').next())
        .unwrap_or_else(|| panic!("no commit in {version}"));
    assert!(
        commit == "unknown" || (commit.len() == 12 && commit.chars().all(|c| c.is_ascii_hexdigit())),
        "{version}"
    );
    for (shell, marker) in [
        ("bash", "_frocket()"),
        ("zsh", "#compdef frocket"),
        ("fish", "complete -c frocket"),
    ] {
        let r = f.run(&["completions", shell]);
        assert_eq!(r.code, 0, "{shell}: {}", r.stderr);
        assert!(
            r.stdout.contains(marker),
            "{shell}: {}",
            &r.stdout[..r.stdout.len().min(300)]
        );
        // Every subcommand is completed.
        for sub in ["register", "run", "serve", "dataprep", "completions", "man"] {
            assert!(r.stdout.contains(sub), "{shell} completion lacks {sub}");
        }
    }
    let man = f.run(&["man"]);
    assert_eq!(man.code, 0, "{}", man.stderr);
    assert!(
        man.stdout.contains(".TH frocket 1"),
        "{}",
        &man.stdout[..man.stdout.len().min(300)]
    );
    assert!(man.stdout.contains("register"));
    let bad = f.run(&["completions", "tcsh"]);
    assert_ne!(bad.code, 0);
    assert!(bad.stderr.contains("tcsh"), "{}", bad.stderr);
}
