//! Printing command output as JSON or tables.

use anyhow::Result;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use frocket_engine::conversion::ConversionTimeResult;
use frocket_engine::time::{format_duration, TimeUnit};
use frocket_engine::{AggregationResult, AggregationValue, StageResult};
use frocket_invoker::QueryResponse;
use serde_json::Value;

use crate::OutputFormat;

/// A command's output, renderable either way.
pub enum Rendered {
    /// Registration summary.
    Registered(Value),
    /// Dataset list.
    List(Value),
    /// A schema.
    Schema(Value),
    /// Parts.
    Parts(Value),
    /// A query response, and the unit of its timestamps when known (for durations).
    Query(Box<QueryResponse>, Option<TimeUnit>),
    /// Unregistered.
    Unregistered(Value),
    /// dataprep output.
    Generated(Value),
}

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(header.to_vec());
    t
}

fn agg_tables(out: &mut String, aggs: &Option<Vec<AggregationResult>>, indent: &str) {
    let Some(aggs) = aggs else { return };
    for a in aggs {
        let title = format!(
            "{indent}{} of {}{}{}",
            a.agg_type.name(),
            a.column,
            a.name.as_deref().map_or(String::new(), |n| format!(" ({n})")),
            if a.approximate { " [approximate]" } else { "" }
        );
        match &a.value {
            AggregationValue::Count(c) => out.push_str(&format!("{title}: {c}\n")),
            AggregationValue::Map(m) => {
                let mut t = table(&["value", "result"]);
                for (k, v) in &m.0 {
                    t.add_row(vec![k.clone(), v.to_string()]);
                }
                out.push_str(&format!("{title}:\n{t}\n"));
            }
        }
    }
}

fn stage_line(s: &StageResult) -> String {
    format!("{} groups, {} rows", s.matching_groups, s.matching_group_rows)
}

/// A time to convert: a duration when the unit is known, else the number.
fn time_cell(v: &Value, unit: Option<TimeUnit>) -> String {
    match (v.as_f64(), unit) {
        (None, _) => "-".into(),
        (Some(x), Some(u)) => format_duration(x, u),
        (Some(_), None) => v.to_string(),
    }
}

/// Width of the longest bar, in characters.
const BAR_WIDTH: usize = 30;

/// A horizontal bar of `share` (0..=1) of [`BAR_WIDTH`], in eighths of a character.
fn bar(share: f64) -> String {
    const EIGHTHS: [&str; 8] = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];
    let eighths = (share.clamp(0.0, 1.0) * (BAR_WIDTH * 8) as f64).round() as usize;
    format!("{}{}", "█".repeat(eighths / 8), EIGHTHS[eighths % 8])
}

/// One step's time-to-convert histogram as rows with a bar.
fn histogram_table(ct: &ConversionTimeResult, unit: Option<TimeUnit>) -> Option<Table> {
    let bins = ct.histogram.as_ref()?;
    let most = bins.iter().map(|b| b.groups).max().unwrap_or(0).max(1) as f64;
    let total = ct.groups.max(1) as f64;
    let mut t = table(&["time to convert", "groups", "share", ""]);
    let mut lower: Option<&Value> = None;
    for b in bins {
        let label = match (lower, &b.less_than) {
            (None, Some(hi)) => format!("< {}", time_cell(hi, unit)),
            (Some(lo), Some(hi)) => format!("{} – {}", time_cell(lo, unit), time_cell(hi, unit)),
            (Some(lo), None) => format!("≥ {}", time_cell(lo, unit)),
            (None, None) => "all".into(),
        };
        t.add_row(vec![
            label,
            b.groups.to_string(),
            format!("{:.1}%", 100.0 * b.groups as f64 / total),
            bar(b.groups as f64 / most),
        ]);
        lower = b.less_than.as_ref();
    }
    Some(t)
}

fn query_table(r: &QueryResponse, unit: Option<TimeUnit>) -> String {
    let mut out = format!("Matching: {}\n", stage_line(&r.query));
    agg_tables(&mut out, &r.query.aggregations, "");
    if let Some(f) = &r.funnel {
        let times = f.sequence.iter().any(|s| s.conversion_time.is_some());
        let mut header = vec!["step", "groups", "rows", "of previous", "of first"];
        if times {
            header.extend(["median time", "p90 time"]);
        }
        let mut t = table(&header);
        let first = f.sequence.first().map_or(0, |s| s.matching_groups).max(1) as f64;
        let mut prev = first;
        for (i, s) in f.sequence.iter().enumerate() {
            let g = s.matching_groups as f64;
            let mut row = vec![
                i.to_string(),
                s.matching_groups.to_string(),
                s.matching_group_rows.to_string(),
                format!("{:.1}%", 100.0 * g / prev.max(1.0)),
                format!("{:.1}%", 100.0 * g / first),
            ];
            if times {
                let ct = s.conversion_time.as_ref().and_then(Option::as_ref);
                row.push(ct.map_or("-".into(), |c| time_cell(&c.p50, unit)));
                row.push(ct.map_or("-".into(), |c| time_cell(&c.p90, unit)));
            }
            t.add_row(row);
            prev = g;
        }
        out.push_str(&format!("Funnel:\n{t}\n"));
        if times && unit.is_none() {
            out.push_str("Times are in the timestamp's unit; --time-unit ms (or s, us, ns) shows them as durations.\n");
        }
        for (i, s) in f.sequence.iter().enumerate() {
            if let Some(Some(ct)) = &s.conversion_time {
                if let Some(h) = histogram_table(ct, unit) {
                    out.push_str(&format!(
                        "Time to convert to step {i} ({} groups, mean {}, p99 {}):\n{h}\n",
                        ct.groups,
                        time_cell(&ct.mean.map_or(Value::Null, Value::from), unit),
                        time_cell(&ct.p99, unit)
                    ));
                }
            }
        }
        for (i, s) in f.sequence.iter().enumerate() {
            if s.aggregations.is_some() {
                out.push_str(&format!("Step {i} aggregations:\n"));
                agg_tables(&mut out, &s.aggregations, "  ");
            }
        }
        if f.end_aggregations.is_some() {
            out.push_str("End aggregations:\n");
            agg_tables(&mut out, &f.end_aggregations, "  ");
        }
    }
    out.push_str(&format!(
        "{} parts, {} rows scanned in {:.3}s (request {})\n",
        r.stats.dataset.parts, r.stats.worker.scanned_rows, r.stats.total_time, r.request_id
    ));
    out
}

fn kv_table(v: &Value) -> String {
    let mut t = table(&["key", "value"]);
    if let Some(m) = v.as_object() {
        for (k, x) in m {
            t.add_row(vec![
                k.clone(),
                if let Some(s) = x.as_str() {
                    s.to_string()
                } else {
                    x.to_string()
                },
            ]);
        }
    }
    t.to_string()
}

/// Prints the output in the chosen format.
pub fn print_output(format: OutputFormat, out: Rendered) -> Result<()> {
    let text = match (format, &out) {
        (OutputFormat::Json, Rendered::Query(r, _)) => serde_json::to_string_pretty(r)?,
        (
            OutputFormat::Json,
            Rendered::Registered(v)
            | Rendered::List(v)
            | Rendered::Schema(v)
            | Rendered::Parts(v)
            | Rendered::Unregistered(v)
            | Rendered::Generated(v),
        ) => serde_json::to_string_pretty(v)?,
        (OutputFormat::Table, Rendered::Query(r, unit)) => query_table(r, *unit),
        (OutputFormat::Table, Rendered::List(v)) => {
            let mut t = table(&["name", "parts", "size", "group id", "timestamp", "basepath"]);
            for d in v.as_array().into_iter().flatten() {
                t.add_row(vec![
                    d["name"].as_str().unwrap_or_default().to_string(),
                    d["parts"].to_string(),
                    d["totalSize"].to_string(),
                    d["groupIdColumn"].as_str().unwrap_or_default().to_string(),
                    d["timestampColumn"].as_str().unwrap_or_default().to_string(),
                    d["basepath"].as_str().unwrap_or_default().to_string(),
                ]);
            }
            t.to_string()
        }
        (OutputFormat::Table, Rendered::Schema(v)) => {
            let mut t = table(&["column", "type"]);
            if let Some(cols) = v["columns"].as_object() {
                for (k, ty) in cols {
                    t.add_row(vec![k.clone(), ty.as_str().unwrap_or_default().to_string()]);
                }
            }
            let mut s = format!(
                "{t}\nminTimestamp: {}  maxTimestamp: {}\nsourceCategoricals: {}\npotentialCategoricals: {}",
                v["minTimestamp"], v["maxTimestamp"], v["sourceCategoricals"], v["potentialCategoricals"]
            );
            if let Some(d) = v.get("details") {
                s.push_str(&format!("\ndetails: {}", serde_json::to_string_pretty(d)?));
            }
            s
        }
        (OutputFormat::Table, Rendered::Parts(v)) => {
            let mut t = table(&["path", "size"]);
            for p in v["parts"].as_array().into_iter().flatten() {
                t.add_row(vec![
                    p["path"].as_str().unwrap_or_default().to_string(),
                    p["size"].to_string(),
                ]);
            }
            format!("{t}\n{} parts, {} bytes", v["count"], v["totalSize"])
        }
        (OutputFormat::Table, Rendered::Registered(v) | Rendered::Unregistered(v) | Rendered::Generated(v)) => {
            kv_table(v)
        }
    };
    println!("{text}");
    Ok(())
}
