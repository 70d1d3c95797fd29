//! `dataprep generate` is deterministic; `dataprep repartition` keeps query answers.

use frocket_tests::Frocket;
use serde_json::json;

fn files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut f: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    f.sort();
    f
}

#[test]
fn generate_is_byte_identical_for_a_seed() {
    let f = Frocket::new();
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    for (d, seed) in [(&a, "7"), (&b, "7"), (&c, "8")] {
        f.ok(&[
            "dataprep",
            "generate",
            "--out",
            &d.path().display().to_string(),
            "--users",
            "2000",
            "--parts",
            "2",
            "--seed",
            seed,
        ]);
    }
    let (fa, fb, fc) = (files(a.path()), files(b.path()), files(c.path()));
    assert_eq!(fa.len(), 2);
    for (x, y) in fa.iter().zip(&fb) {
        assert_eq!(std::fs::read(x).unwrap(), std::fs::read(y).unwrap(), "{}", x.display());
    }
    assert_ne!(std::fs::read(&fa[0]).unwrap(), std::fs::read(&fc[0]).unwrap());
}

#[test]
fn repartition_keeps_query_answers() {
    let f = Frocket::new();
    let (orig, re) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    f.ok(&[
        "dataprep",
        "generate",
        "--out",
        &orig.path().display().to_string(),
        "--users",
        "3000",
        "--parts",
        "2",
    ]);
    let r = f.ok(&[
        "dataprep",
        "repartition",
        &orig.path().display().to_string(),
        "--out",
        &re.path().display().to_string(),
        "--group-id-column",
        "userid",
        "--parts",
        "5",
        "--dictionary-ratio",
        "0.2",
    ]);
    assert_eq!(r["files"], json!(5));
    f.ok(&[
        "register",
        "orig",
        &orig.path().display().to_string(),
        "userid",
        "timestamp",
    ]);
    f.ok(&[
        "register",
        "re",
        &re.path().display().to_string(),
        "userid",
        "timestamp",
    ]);
    for q in [
        "{}",
        r#"{"funnel": {"sequence": [{"filter": ["event", "==", "view"]}, {"filter": ["event", "==", "addtocart"], "rowFound": false}, {"filter": ["event", "==", "transaction"]}], "maxDuration": 3600000, "endAggregations": [{"column": "category"}]}}"#,
        r#"{"query": {"conditions": [{"filter": ["price", ">", 100], "target": ["count", ">=", 2]}], "aggregations": [{"column": "device", "type": "sumPerValue", "otherColumn": "price"}]}}"#,
    ] {
        let a = f.ok(&["run", "orig", "--string", q]);
        let b = f.ok(&["run", "re", "--string", q]);
        let ra = json!({"query": a["query"], "funnel": a["funnel"]});
        let rb = json!({"query": b["query"], "funnel": b["funnel"]});
        assert_eq!(frocket_tests::json_diff(&ra, &rb, "result", 1e-9), None, "{q}");
    }
}

/// `--shuffled` writes the same rows in random order within each part (users not contiguous):
/// every query answers as on the grouped layout.
#[test]
fn shuffled_parts_answer_like_grouped_ones() {
    let f = Frocket::new();
    let (grouped, shuffled) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for (d, extra) in [(&grouped, None), (&shuffled, Some("--shuffled"))] {
        let mut args = vec![
            "dataprep",
            "generate",
            "--out",
            d.path().to_str().unwrap(),
            "--users",
            "3000",
            "--parts",
            "2",
        ];
        args.extend(extra);
        f.ok(&args);
    }
    assert_ne!(
        std::fs::read(&files(grouped.path())[0]).unwrap(),
        std::fs::read(&files(shuffled.path())[0]).unwrap()
    );
    f.ok(&["register", "g", grouped.path().to_str().unwrap(), "userid", "timestamp"]);
    f.ok(&[
        "register",
        "s",
        shuffled.path().to_str().unwrap(),
        "userid",
        "timestamp",
    ]);
    let queries = [
        r#"{}"#,
        r#"{"funnel": {"sequence": [{"filter": ["event", "==", "view"]}, {"filter": ["event", "==", "addtocart"]}, {"filter": ["event", "==", "transaction"]}], "stepAggregations": [{"column": "device", "type": "groupsPerValue"}]}}"#,
        r#"{"query": {"conditions": [{"sequence": [{"filter": ["event", "==", "addtocart"]}, {"filter": ["event", "==", "view"], "rowFound": false}, {"filter": ["event", "==", "transaction"]}], "maxDuration": 3600000}], "aggregations": [{"column": "category", "type": "sumPerValue", "otherColumn": "price"}]}}"#,
        r#"{"funnel": {"sequence": [{"filter": ["event", "==", "view"]}, {"filter": ["event", "==", "addtocart"], "within": 600000}], "holdConstant": ["itemid"], "conversionTime": true}}"#,
    ];
    for q in queries {
        let (a, b) = (f.ok(&["run", "g", "--string", q]), f.ok(&["run", "s", "--string", q]));
        assert_eq!(
            frocket_tests::json_diff(
                &json!([a["query"], a["funnel"]]),
                &json!([b["query"], b["funnel"]]),
                "",
                1e-9
            ),
            None,
            "{q}"
        );
    }
}
