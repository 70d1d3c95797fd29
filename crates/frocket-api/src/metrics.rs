//! Counters served at `/metrics` in the Prometheus text format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// Request and query counters of one server process.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    queries: Mutex<QueryCounters>,
}

#[derive(Debug, Default)]
struct QueryCounters {
    succeeded: u64,
    failed: u64,
    seconds_sum: f64,
    tasks: u64,
    scanned_rows: u64,
}

impl Metrics {
    /// Counts one answered request.
    pub fn request(&self, method: &str, route: &str, status: u16) {
        if let Ok(mut m) = self.requests.lock() {
            *m.entry((method.to_string(), route.to_string(), status)).or_default() += 1;
        }
    }

    /// Counts one finished query.
    pub fn query(&self, ok: bool, seconds: f64, tasks: u64, scanned_rows: u64) {
        if let Ok(mut q) = self.queries.lock() {
            if ok {
                q.succeeded += 1;
            } else {
                q.failed += 1;
            }
            q.seconds_sum += seconds;
            q.tasks += tasks;
            q.scanned_rows += scanned_rows;
        }
    }

    /// The Prometheus text exposition.
    ///
    /// ```
    /// let m = frocket_api::Metrics::default();
    /// m.request("GET", "/datasets", 200);
    /// assert!(m.render().contains(r#"frocket_http_requests_total{method="GET",route="/datasets",status="200"} 1"#));
    /// ```
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "# HELP frocket_http_requests_total HTTP requests answered.");
        let _ = writeln!(s, "# TYPE frocket_http_requests_total counter");
        if let Ok(m) = self.requests.lock() {
            for ((method, route, status), n) in m.iter() {
                let _ = writeln!(
                    s,
                    "frocket_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        if let Ok(q) = self.queries.lock() {
            let _ = writeln!(s, "# HELP frocket_queries_total Queries run, by outcome.");
            let _ = writeln!(s, "# TYPE frocket_queries_total counter");
            let _ = writeln!(s, "frocket_queries_total{{outcome=\"success\"}} {}", q.succeeded);
            let _ = writeln!(s, "frocket_queries_total{{outcome=\"failure\"}} {}", q.failed);
            let _ = writeln!(s, "# HELP frocket_query_seconds_total Time spent running queries.");
            let _ = writeln!(s, "# TYPE frocket_query_seconds_total counter");
            let _ = writeln!(s, "frocket_query_seconds_total {}", q.seconds_sum);
            let _ = writeln!(s, "# HELP frocket_tasks_total Tasks of successful queries.");
            let _ = writeln!(s, "# TYPE frocket_tasks_total counter");
            let _ = writeln!(s, "frocket_tasks_total {}", q.tasks);
            let _ = writeln!(
                s,
                "# HELP frocket_scanned_rows_total Rows scanned by successful queries."
            );
            let _ = writeln!(s, "# TYPE frocket_scanned_rows_total counter");
            let _ = writeln!(s, "frocket_scanned_rows_total {}", q.scanned_rows);
        }
        s
    }
}
