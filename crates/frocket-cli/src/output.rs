//! Printing command output as JSON or tables.

use anyhow::Result;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use frocket_engine::conversion::ConversionTimeResult;
use frocket_engine::time::{format_duration, format_instant, TimeUnit};
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

/// Right-aligns the given columns (numbers) of `t`.
fn align_right(t: &mut Table, columns: impl IntoIterator<Item = usize>) {
    for c in columns {
        if let Some(col) = t.column_mut(c) {
            col.set_cell_alignment(comfy_table::CellAlignment::Right);
        }
    }
}

/// An integer with thousands separators: `1,234,567`.
pub(crate) fn human_int(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A number for people: integers with separators (`1,234`), other numbers with two decimals
/// (`44,326,706.80`), or two significant digits when smaller than 0.1 (`0.0012`). Full
/// precision stays in JSON and CSV.
fn human_number(v: &Value) -> String {
    if let Some(u) = v.as_u64() {
        return human_int(u);
    }
    if let Some(i) = v.as_i64() {
        return format!("-{}", human_int(i.unsigned_abs()));
    }
    let Some(x) = v.as_f64() else {
        return v.to_string();
    };
    if !x.is_finite() {
        return x.to_string();
    }
    let sign = if x < 0.0 { "-" } else { "" };
    let a = x.abs();
    if a != 0.0 && a < 1.0 {
        // Significant digits, not a rounded-away zero.
        let decimals = (1 - a.log10().floor() as i32).clamp(2, 12) as usize;
        return format!("{sign}{a:.decimals$}");
    }
    let cents = format!("{a:.2}");
    let (whole, frac) = cents.split_once('.').unwrap_or((&cents, "00"));
    match whole.parse::<u64>() {
        Ok(w) => format!("{sign}{}.{frac}", human_int(w)),
        Err(_) => format!("{sign}{cents}"),
    }
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
            AggregationValue::Count(c) => out.push_str(&format!("{title}: {}\n", human_int(*c))),
            AggregationValue::Map(m) => {
                let mut t = table(&["value", "result"]);
                for (k, v) in &m.0 {
                    t.add_row(vec![k.clone(), human_number(v)]);
                }
                align_right(&mut t, [1]);
                out.push_str(&format!("{title}:\n{t}\n"));
            }
        }
    }
}

fn stage_line(s: &StageResult) -> String {
    format!(
        "{} groups, {} rows",
        human_int(s.matching_groups),
        human_int(s.matching_group_rows)
    )
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
            human_int(b.groups),
            format!("{:.1}%", 100.0 * b.groups as f64 / total),
            bar(b.groups as f64 / most),
        ]);
        lower = b.less_than.as_ref();
    }
    align_right(&mut t, [1, 2]);
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
        header.push("");
        let mut t = table(&header);
        let first = f.sequence.first().map_or(0, |s| s.matching_groups).max(1) as f64;
        let mut prev = first;
        for (i, s) in f.sequence.iter().enumerate() {
            let g = s.matching_groups as f64;
            let mut row = vec![
                i.to_string(),
                human_int(s.matching_groups),
                human_int(s.matching_group_rows),
                format!("{:.1}%", 100.0 * g / prev.max(1.0)),
                format!("{:.1}%", 100.0 * g / first),
            ];
            if times {
                let ct = s.conversion_time.as_ref().and_then(Option::as_ref);
                row.push(ct.map_or("-".into(), |c| time_cell(&c.p50, unit)));
                row.push(ct.map_or("-".into(), |c| time_cell(&c.p90, unit)));
            }
            row.push(bar(g / first));
            t.add_row(row);
            prev = g;
        }
        align_right(&mut t, 1..if times { 7 } else { 5 });
        out.push_str(&format!("Funnel:\n{t}\n"));
        if times && unit.is_none() {
            out.push_str("Times are in the timestamp's unit; --time-unit ms (or s, us, ns), or registering with --timestamp-unit, shows them as durations.\n");
        }
        for (i, s) in f.sequence.iter().enumerate() {
            if let Some(Some(ct)) = &s.conversion_time {
                if let Some(h) = histogram_table(ct, unit) {
                    out.push_str(&format!(
                        "Time to convert to step {i} ({} groups, mean {}, p99 {}):\n{h}\n",
                        human_int(ct.groups),
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
        human_int(r.stats.dataset.parts as u64),
        human_int(r.stats.worker.scanned_rows),
        r.stats.total_time,
        r.request_id
    ));
    out
}

/// A cell of a CSV row: JSON strings unquoted, other values as JSON (full precision).
fn csv_cell(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Rows `(scope, step, metric, column, key, value)` of aggregation results.
fn agg_rows(rows: &mut Vec<[String; 6]>, scope: &str, step: &str, aggs: &Option<Vec<AggregationResult>>) {
    for a in aggs.iter().flatten() {
        let metric = a.name.clone().unwrap_or_else(|| a.agg_type.name().to_string());
        match &a.value {
            AggregationValue::Count(c) => rows.push([
                scope.into(),
                step.into(),
                metric,
                a.column.clone(),
                String::new(),
                c.to_string(),
            ]),
            AggregationValue::Map(m) => {
                for (k, v) in &m.0 {
                    rows.push([
                        scope.into(),
                        step.into(),
                        metric.clone(),
                        a.column.clone(),
                        k.clone(),
                        csv_cell(v),
                    ]);
                }
            }
        }
    }
}

/// A query's results as one tidy table: `scope` (`query`, `funnel`, `funnelEnd`), `step`
/// (funnel steps), `metric` (`matchingGroups`, `matchingGroupRows`, an aggregation's type or
/// name, `conversionTime.p50` …, `conversionTime.histogram`), `column` and `key` (an
/// aggregation's column and map key, a histogram bin's upper bound), `value`.
fn query_rows(r: &QueryResponse) -> Vec<[String; 6]> {
    let mut rows = Vec::new();
    let stage = |rows: &mut Vec<[String; 6]>, scope: &str, step: &str, s: &StageResult| {
        for (m, v) in [
            ("matchingGroups", s.matching_groups),
            ("matchingGroupRows", s.matching_group_rows),
        ] {
            rows.push([
                scope.into(),
                step.into(),
                m.into(),
                String::new(),
                String::new(),
                v.to_string(),
            ]);
        }
        agg_rows(rows, scope, step, &s.aggregations);
    };
    stage(&mut rows, "query", "", &r.query);
    if let Some(f) = &r.funnel {
        for (i, s) in f.sequence.iter().enumerate() {
            let step = i.to_string();
            stage(&mut rows, "funnel", &step, s);
            if let Some(Some(ct)) = &s.conversion_time {
                let mean = ct.mean.map_or(Value::Null, Value::from);
                let stats = [
                    ("groups", Value::from(ct.groups)),
                    ("min", ct.min.clone()),
                    ("max", ct.max.clone()),
                    ("mean", mean),
                    ("p50", ct.p50.clone()),
                    ("p90", ct.p90.clone()),
                    ("p99", ct.p99.clone()),
                ];
                for (m, v) in stats {
                    let metric = format!("conversionTime.{m}");
                    rows.push([
                        "funnel".into(),
                        step.clone(),
                        metric,
                        String::new(),
                        String::new(),
                        csv_cell(&v),
                    ]);
                }
                for b in ct.histogram.iter().flatten() {
                    let key = b.less_than.as_ref().map_or(String::new(), csv_cell);
                    let metric = "conversionTime.histogram".to_string();
                    rows.push([
                        "funnel".into(),
                        step.clone(),
                        metric,
                        String::new(),
                        key,
                        b.groups.to_string(),
                    ]);
                }
            }
        }
        agg_rows(&mut rows, "funnelEnd", "", &f.end_aggregations);
    }
    rows
}

/// CSV text of a header and rows.
fn csv_text<const N: usize>(header: [&str; N], rows: impl IntoIterator<Item = [String; N]>) -> Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header)?;
    for r in rows {
        w.write_record(&r)?;
    }
    let bytes = w.into_inner().map_err(|e| anyhow::anyhow!("writing CSV: {e}"))?;
    Ok(String::from_utf8(bytes)?.trim_end().to_string())
}

/// A command's output as CSV.
fn csv_output(out: &Rendered) -> Result<String> {
    let s = |v: &Value| csv_cell(v);
    match out {
        Rendered::Query(r, _) => csv_text(["scope", "step", "metric", "column", "key", "value"], query_rows(r)),
        Rendered::List(v) => {
            const KEYS: [&str; 6] = [
                "name",
                "parts",
                "totalSize",
                "groupIdColumn",
                "timestampColumn",
                "basepath",
            ];
            csv_text(KEYS, v.as_array().into_iter().flatten().map(|d| KEYS.map(|k| s(&d[k]))))
        }
        Rendered::Schema(v) => csv_text(
            ["column", "type"],
            v["columns"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, ty)| [k.clone(), s(ty)]),
        ),
        Rendered::Parts(v) => csv_text(
            ["path", "size"],
            v["parts"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| [s(&p["path"]), s(&p["size"])]),
        ),
        Rendered::Registered(v) | Rendered::Unregistered(v) | Rendered::Generated(v) => csv_text(
            ["key", "value"],
            v.as_object().into_iter().flatten().map(|(k, x)| [k.clone(), s(x)]),
        ),
    }
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
        (OutputFormat::Csv, o) => csv_output(o)?,
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
            // Timestamps in human form when the unit is known, as numbers otherwise.
            let unit: Option<TimeUnit> = v["timestampUnit"].as_str().and_then(|u| u.parse().ok());
            let instant = |x: &Value| match (x.as_f64(), unit) {
                (Some(n), Some(u)) => format!("{} ({x})", format_instant(n, u)),
                _ => x.to_string(),
            };
            let mut s = format!(
                "{t}\nminTimestamp: {}  maxTimestamp: {}  timestampUnit: {}\nsourceCategoricals: {}\npotentialCategoricals: {}",
                instant(&v["minTimestamp"]),
                instant(&v["maxTimestamp"]),
                unit.map_or("unknown (frocket register --timestamp-unit)".to_string(), |u| u.to_string()),
                v["sourceCategoricals"],
                v["potentialCategoricals"]
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
    write_stdout(&format!("{text}\n"))
}

/// Writes `text` to standard output; a reader that went away (`frocket … | head`) is not an
/// error.
pub(crate) fn write_stdout(text: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_read_like_a_report() {
        assert_eq!(human_int(0), "0");
        assert_eq!(human_int(999), "999");
        assert_eq!(human_int(1_000), "1,000");
        assert_eq!(human_int(44_326_706), "44,326,706");
        assert_eq!(human_number(&json!(44326706.79998437)), "44,326,706.80");
        assert_eq!(human_number(&json!(-1234.5)), "-1,234.50");
        assert_eq!(human_number(&json!(12)), "12");
        assert_eq!(human_number(&json!(-12)), "-12");
        assert_eq!(human_number(&json!(0.0012346)), "0.0012");
        assert_eq!(human_number(&json!(0.5)), "0.50");
        assert_eq!(human_number(&json!(0.0)), "0.00");
    }

    #[test]
    fn csv_cells_keep_full_precision_and_quote_commas() {
        let text = csv_text(
            ["key", "value"],
            [["a,b".to_string(), csv_cell(&json!(44326706.79998437))]],
        )
        .unwrap();
        assert_eq!(text, "key,value\n\"a,b\",44326706.79998437");
    }
}
