//! Time units (query-language.md, "Time units") through the CLI: the unit declared at
//! registration or taken from a TIMESTAMP column, stored and shown in the schema; durations
//! and timeframe bounds written as strings give the same answers as numbers; the errors a
//! newcomer meets; and the edges: symlinked directories, integer timestamps printed as
//! integers, a group id never a categorical.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use frocket_tests::{golden_dir, golden_queries, json_diff, Frocket};
use serde_json::{json, Value};

/// Milliseconds as the largest whole unit a person would write (`"2h"`, `"90s"`, `"250ms"`).
fn duration_string(ms: i64) -> String {
    for (unit, per) in [
        ("w", 604_800_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
    ] {
        if ms % per == 0 {
            return format!("{}{unit}", ms / per);
        }
    }
    format!("{ms}ms")
}

/// Milliseconds since 1970 as an ISO-8601 date-time in UTC (civil-from-days, H. Hinnant), written
/// here independently of the engine's parser.
fn iso(ms: i64) -> String {
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let (h, mi, s, milli) = (rem / 3_600_000, rem / 60_000 % 60, rem / 1000 % 60, rem % 1000);
    // An offset instead of Z for every other bound, the same instant.
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}Z")
}

/// The query with every duration and timeframe bound written as a string.
fn with_strings(q: &mut Value) {
    if let Some(obj) = q.as_object_mut() {
        for (k, v) in obj.iter_mut() {
            match (k.as_str(), v.as_i64()) {
                ("maxDuration" | "within", Some(ms)) => *v = json!(duration_string(ms)),
                ("from" | "to", Some(ms)) => *v = json!(iso(ms)),
                ("bins", _) => {
                    for b in v.as_array_mut().into_iter().flatten() {
                        if let Some(ms) = b.as_i64() {
                            *b = json!(duration_string(ms));
                        }
                    }
                }
                _ => with_strings(v),
            }
        }
    } else if let Some(arr) = q.as_array_mut() {
        arr.iter_mut().for_each(with_strings);
    }
}

#[test]
fn golden_queries_written_with_units_give_the_numeric_answers() {
    let f = Frocket::new();
    let data = golden_dir().join("data");
    f.ok(&[
        "register",
        "golden",
        data.to_str().unwrap(),
        "visitorid",
        "timestamp",
        "--timestamp-unit",
        "ms",
    ]);
    let mut rewritten = 0;
    for (file, text, expected) in golden_queries() {
        let original: Value = serde_json::from_str(&text).unwrap();
        let mut q = original.clone();
        with_strings(&mut q);
        if q != original {
            rewritten += 1;
        }
        let s = q.to_string();
        let out = f.ok(&["run", "golden", "--string", &s]);
        let got = json!({"query": out["query"], "funnel": out["funnel"]});
        assert_eq!(json_diff(&got, &expected, "result", 1e-9), None, "{file} as {s}");
    }
    assert!(
        rewritten >= 5,
        "the golden set has durations and timeframes to rewrite ({rewritten})"
    );

    // The schema records the unit, prints integer timestamps as integers, and the table shows
    // them as dates.
    let schema = f.run(&["schema", "golden"]);
    let v = schema.json();
    assert_eq!(v["timestampUnit"], json!("ms"));
    assert!(v["minTimestamp"].is_u64(), "{}", schema.stdout);
    assert!(!schema.stdout.contains(".0,"), "{}", schema.stdout);
    let table = f.run_as("table", &["schema", "golden"]);
    let min = v["minTimestamp"].as_i64().unwrap();
    let day = &iso(min)[..10];
    assert!(table.stdout.contains(day), "{day} not in {}", table.stdout);
}

#[test]
fn strings_without_a_unit_or_out_of_step_with_it_are_clear_errors() {
    let f = Frocket::new();
    let data = golden_dir().join("data");
    f.ok(&["register", "golden", data.to_str().unwrap(), "visitorid", "timestamp"]);
    assert_eq!(f.ok(&["schema", "golden"])["timestampUnit"], Value::Null);
    let q = r#"{"funnel": {"sequence": [{"filter": ["event", "==", "view"]}], "maxDuration": "1h"}}"#;
    let e = f.fails(&["run", "golden", "--string", q]);
    assert!(
        e.contains("funnel.maxDuration") && e.contains("--timestamp-unit"),
        "{e}"
    );
    let q = r#"{"timeframe": {"from": "2020-09-20"}}"#;
    let e = f.fails(&["run", "golden", "--string", q]);
    assert!(e.contains("timeframe.from") && e.contains("timestampUnit"), "{e}");

    // Seconds in an INT column: half a second is not a whole number of them.
    f.ok(&[
        "register",
        "secs",
        data.to_str().unwrap(),
        "visitorid",
        "timestamp",
        "--timestamp-unit",
        "s",
    ]);
    let q = r#"{"funnel": {"sequence": [{"filter": ["event", "==", "view"]}, {"filter": ["event", "==", "addtocart"], "within": "1.5s"}]}}"#;
    let e = f.fails(&["run", "secs", "--string", q]);
    assert!(
        e.contains("funnel.sequence[1].within") && e.contains("not a whole number of s"),
        "{e}"
    );
    for (bad, path) in [
        (
            r#"{"funnel": {"sequence": [{"filter": ["event", "==", "view"]}], "maxDuration": "90 minutes"}}"#,
            "funnel.maxDuration",
        ),
        (
            r#"{"funnel": {"sequence": [{"filter": ["event", "==", "view"]}], "maxDuration": "0s"}}"#,
            "funnel.maxDuration",
        ),
        (
            r#"{"funnel": {"sequence": [{"filter": ["event", "==", "view"]}], "conversionTime": {"bins": ["1h", "30m"]}}}"#,
            "funnel.conversionTime.bins[1]",
        ),
        (r#"{"timeframe": {"from": "2021-02-30"}}"#, "timeframe.from"),
        (r#"{"timeframe": {"from": "2021-01-01T00:00:00"}}"#, "timeframe.from"),
        (
            r#"{"timeframe": {"from": "2021-01-02", "to": "2021-01-01"}}"#,
            "timeframe",
        ),
    ] {
        let e = f.fails(&["run", "secs", "--string", bad]);
        assert!(e.contains(path), "{bad}: {e}");
    }
    // An unknown unit at registration names the flag.
    let r = f.run(&[
        "register",
        "x",
        data.to_str().unwrap(),
        "visitorid",
        "timestamp",
        "--timestamp-unit",
        "sec",
    ]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("--timestamp-unit") && r.stderr.contains("sec"),
        "{}",
        r.stderr
    );
}

fn write_parquet(path: &Path, batch: &arrow::array::RecordBatch) {
    let mut w = parquet::arrow::ArrowWriter::try_new(File::create(path).unwrap(), batch.schema(), None).unwrap();
    w.write(batch).unwrap();
    w.close().unwrap();
}

/// Two users; user 1 views at 00:00 and buys at 01:30 on 2024-02-29 (UTC), user 2 views on
/// 2024-03-01 and buys 10 minutes later. `ts` is a TIMESTAMP in `unit`; `uid` a string.
fn timestamp_part(dir: &Path, unit: arrow::datatypes::TimeUnit) {
    use arrow::array::{ArrayRef, RecordBatch, StringArray};
    use arrow::datatypes::TimeUnit as U;
    let leap_day_s = 1_709_164_800i64; // 2024-02-29T00:00:00Z
    let secs = [
        leap_day_s,
        leap_day_s + 5400,
        leap_day_s + 86_400,
        leap_day_s + 86_400 + 600,
    ];
    let ts: ArrayRef = match unit {
        U::Second => Arc::new(arrow::array::TimestampSecondArray::from(secs.to_vec())),
        U::Millisecond => Arc::new(arrow::array::TimestampMillisecondArray::from(
            secs.map(|s| s * 1000).to_vec(),
        )),
        U::Microsecond => Arc::new(arrow::array::TimestampMicrosecondArray::from(
            secs.map(|s| s * 1_000_000).to_vec(),
        )),
        U::Nanosecond => Arc::new(arrow::array::TimestampNanosecondArray::from(
            secs.map(|s| s * 1_000_000_000).to_vec(),
        )),
    };
    let batch = RecordBatch::try_from_iter([
        (
            "uid",
            Arc::new(StringArray::from(vec!["u1", "u1", "u2", "u2"])) as ArrayRef,
        ),
        ("ts", ts),
        (
            "event",
            Arc::new(StringArray::from(vec!["view", "buy", "view", "buy"])) as ArrayRef,
        ),
    ])
    .unwrap();
    std::fs::create_dir_all(dir).unwrap();
    write_parquet(&dir.join("part-0.parquet"), &batch);
}

#[test]
fn timestamp_columns_carry_their_unit_in_every_unit() {
    use arrow::datatypes::TimeUnit as U;
    let tmp = tempfile::tempdir().unwrap();
    for (unit, name) in [
        (U::Second, "s"),
        (U::Millisecond, "ms"),
        (U::Microsecond, "us"),
        (U::Nanosecond, "ns"),
    ] {
        let f = Frocket::new();
        let dir = tmp.path().join(name);
        timestamp_part(&dir, unit);
        let d = dir.to_str().unwrap();
        f.ok(&["register", "t", d, "uid", "ts"]);
        let schema = f.ok(&["schema", "t"]);
        assert_eq!(schema["timestampUnit"], json!(name), "{schema}");
        // A string user id is never a categorical, however few users a part has.
        for key in ["sourceCategoricals", "potentialCategoricals"] {
            assert!(
                !schema[key].as_array().unwrap().contains(&json!("uid")),
                "{key}: {schema}"
            );
        }
        // A declared unit must agree with the logical type.
        let other = if name == "ms" { "s" } else { "ms" };
        let e = f.fails(&["register", "t2", d, "uid", "ts", "--timestamp-unit", other]);
        assert!(e.contains("disagrees") && e.contains(name), "{e}");
        f.ok(&["register", "t3", d, "uid", "ts", "--timestamp-unit", name]);

        // Within an hour: only user 2; within two: both. Leap day and the day after as bounds,
        // with an offset on one of them.
        let run = |q: &str| f.ok(&["run", "t", "--string", q]);
        let funnel = |within: &str| {
            let q = format!(
                r#"{{"funnel": {{"sequence": [{{"filter": ["event", "==", "view"]}}, {{"filter": ["event", "==", "buy"], "within": "{within}"}}]}}}}"#
            );
            run(&q)["funnel"]["sequence"][1]["matchingGroups"].clone()
        };
        assert_eq!(funnel("1h"), json!(1), "{name}");
        assert_eq!(funnel("1.5h"), json!(2), "{name}");
        assert_eq!(funnel("5399s"), json!(1), "{name}");
        let q = r#"{"timeframe": {"from": "2024-02-29", "to": "2024-03-01T01:00:00+01:00"}}"#;
        assert_eq!(
            run(q)["query"]["matchingGroupRows"],
            json!(2),
            "{name}: the leap day's rows"
        );
        let q = r#"{"timeframe": {"from": "2024-02-29T01:30:00Z"}}"#;
        assert_eq!(
            run(q)["query"]["matchingGroupRows"],
            json!(3),
            "{name}: from is inclusive"
        );
    }
}

#[test]
fn symlinked_directories_are_datasets_like_any_other() {
    let f = Frocket::new();
    let tmp = tempfile::tempdir().unwrap();
    let link = tmp.path().join("golden-link");
    std::os::unix::fs::symlink(golden_dir().join("data"), &link).unwrap();
    let reg = f.ok(&["register", "linked", link.to_str().unwrap(), "visitorid", "timestamp"]);
    assert_eq!(reg["parts"], json!(2), "{reg}");
    let direct = golden_queries().into_iter().next().unwrap().2;
    let out = f.ok(&["run", "linked", "--empty"]);
    assert_eq!(out["query"]["matchingGroups"], direct["query"]["matchingGroups"]);

    // dataprep repartition reads a symlinked directory of parts (and symlinked parts in it).
    let parts = tmp.path().join("parts");
    std::fs::create_dir(&parts).unwrap();
    for p in ["part-00000.parquet", "part-00001.parquet"] {
        std::os::unix::fs::symlink(golden_dir().join("data").join(p), parts.join(p)).unwrap();
    }
    let parts_link = tmp.path().join("parts-link");
    std::os::unix::fs::symlink(&parts, &parts_link).unwrap();
    let out = tmp.path().join("out");
    let r = f.run(&[
        "dataprep",
        "repartition",
        parts_link.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--group-id-column",
        "visitorid",
        "--parts",
        "3",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    f.ok(&["register", "re", out.to_str().unwrap(), "visitorid", "timestamp"]);
    let again = f.ok(&["run", "re", "--empty"]);
    assert_eq!(again["query"], direct["query"]);
}
