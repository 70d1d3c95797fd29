//! The stats object of api.md.

use std::collections::BTreeMap;
use std::time::Instant;

use frocket_dataset::DatasetInfo;
use frocket_engine::{PartialResult, QueryResult, ValidatedQuery};

use serde::{Deserialize, Serialize};

/// Summary of a set of durations (seconds) or sizes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct Percentiles {
    /// Mean.
    pub mean: f64,
    /// Minimum.
    pub min: f64,
    /// 25th percentile.
    #[serde(rename = "25%")]
    pub p25: f64,
    /// Median.
    #[serde(rename = "50%")]
    pub p50: f64,
    /// 75th percentile.
    #[serde(rename = "75%")]
    pub p75: f64,
    /// 95th percentile.
    #[serde(rename = "95%")]
    pub p95: f64,
    /// 99th percentile.
    #[serde(rename = "99%")]
    pub p99: f64,
    /// Maximum.
    pub max: f64,
}

impl Percentiles {
    /// Percentiles of `values` (nearest rank); all zeros when empty.
    ///
    /// ```
    /// let p = frocket_invoker::Percentiles::of(&[1.0, 2.0, 3.0, 4.0]);
    /// assert_eq!((p.min, p.p50, p.max, p.mean), (1.0, 2.0, 4.0, 2.5));
    /// ```
    pub fn of(values: &[f64]) -> Self {
        if values.is_empty() {
            return Percentiles::default();
        }
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let at = |q: f64| v[(((q * v.len() as f64).ceil() as usize).max(1) - 1).min(v.len() - 1)];
        Percentiles {
            mean: v.iter().sum::<f64>() / v.len() as f64,
            min: v[0],
            p25: at(0.25),
            p50: at(0.5),
            p75: at(0.75),
            p95: at(0.95),
            p99: at(0.99),
            max: v[v.len() - 1],
        }
    }
}

/// Invoker-side stats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct InvokerStats {
    /// Seconds to enqueue / invoke all tasks.
    pub enqueue_time: f64,
    /// Seconds polling for results.
    pub poll_time: f64,
    /// Tasks (parts).
    pub total_tasks: usize,
    /// Failed attempts (each `ENDED_FAILED` seen).
    pub failed_tasks: usize,
    /// Retries made.
    pub retried_tasks: usize,
    /// Completions per 0.25 s slot since the job started (`"0.5": 74` = 74 tasks completed
    /// in `[0.25, 0.5)`).
    pub task_success_over_time: BTreeMap<String, usize>,
}

/// Where parts came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct CacheStats {
    /// Read from the source (local path or S3).
    pub source: usize,
    /// Served from a worker's disk cache (nothing fetched from the source).
    pub disk_cache: usize,
    /// Bytes of parts fetched from the store (S3) by workers: with ranged reads, only the
    /// footers and the chunks of the columns the query reads (local parts: 0).
    #[serde(default)]
    pub bytes_from_source: u64,
    /// Bytes of parts read from workers' disk caches.
    #[serde(default)]
    pub bytes_from_cache: u64,
}

/// Worker-side stats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct WorkerStats {
    /// Tasks that started a new worker.
    pub cold_tasks: usize,
    /// Tasks on an already running worker.
    pub warm_tasks: usize,
    /// From invoke to the worker starting (None for in-process tasks).
    pub invoke_latency: Option<Percentiles>,
    /// Seconds loading a part.
    pub load_time: Percentiles,
    /// Seconds per task.
    pub total_time: Percentiles,
    /// Rows scanned (after the timeframe).
    pub scanned_rows: u64,
    /// Groups scanned.
    pub scanned_groups: u64,
    /// Peak memory per task, when measured.
    pub peak_memory_bytes: Option<Percentiles>,
    /// Part sources.
    pub cache: CacheStats,
}

/// Dataset figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct DatasetStats {
    /// Bytes of all parts.
    pub total_size: u64,
    /// Number of parts.
    pub parts: usize,
}

/// The stats of one job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Seconds for the whole job.
    pub total_time: f64,
    /// Invoker side.
    pub invoker: InvokerStats,
    /// Worker side.
    pub worker: WorkerStats,
    /// Dataset.
    pub dataset: DatasetStats,
    /// Estimated Lambda cost in USD; None for non-Lambda workers.
    pub cost: Option<f64>,
}

/// Buckets completion times (seconds since start) into 0.25 s slots keyed by the slot's end.
pub fn success_over_time(done_at: &[f64]) -> BTreeMap<String, usize> {
    let mut slots: BTreeMap<u64, usize> = BTreeMap::new();
    for &t in done_at {
        *slots.entry((t / 0.25).floor() as u64 + 1).or_default() += 1;
    }
    slots
        .into_iter()
        .map(|(k, n)| (format!("{}", k as f64 * 0.25), n))
        .collect()
}

/// What an invoker knows about one finished task.
#[derive(Debug, Clone)]
pub struct TaskOutcome {
    /// Seconds reading the part.
    pub load_secs: f64,
    /// Seconds for the task.
    pub total_secs: f64,
    /// Seconds since the job started when the invoker saw it finish.
    pub done_at: f64,
    /// Invoke-to-start latency, for tasks that travel (None in-process).
    pub invoke_latency_secs: Option<f64>,
    /// Whether the part came from a worker's disk cache.
    pub from_cache: bool,
    /// Bytes fetched from the store and read from the disk cache.
    pub bytes: (u64, u64),
    /// Whether the task was its worker's first (a cold start).
    pub cold: bool,
    /// The worker's peak memory after the task (bytes), when measured.
    pub peak_memory_bytes: Option<u64>,
    /// Estimated Lambda cost of the task (USD), for Lambda workers.
    pub cost: Option<f64>,
}

/// Job-level figures besides the tasks'.
#[derive(Debug, Clone, Copy, Default)]
pub struct JobCounts {
    /// Seconds to enqueue / invoke all tasks.
    pub enqueue_time: f64,
    /// Failed attempts.
    pub failed_tasks: usize,
    /// Retries sent.
    pub retried_tasks: usize,
}

/// Finishes the merged partial of every part into the result and builds the job's stats from
/// the tasks' outcomes.
pub fn finish_job(
    started: Instant,
    dataset: &DatasetInfo,
    query: &ValidatedQuery,
    merged: PartialResult,
    outcomes: Vec<TaskOutcome>,
    job: JobCounts,
) -> Result<(QueryResult, Stats), crate::InvokerError> {
    let n = dataset.parts.len();
    let loads: Vec<f64> = outcomes.iter().map(|o| o.load_secs).collect();
    let totals: Vec<f64> = outcomes.iter().map(|o| o.total_secs).collect();
    let done_at: Vec<f64> = outcomes.iter().map(|o| o.done_at).collect();
    let latencies: Vec<f64> = outcomes.iter().filter_map(|o| o.invoke_latency_secs).collect();
    let from_cache = outcomes.iter().filter(|o| o.from_cache).count();
    let cold = outcomes.iter().filter(|o| o.cold).count();
    let memory: Vec<f64> = outcomes
        .iter()
        .filter_map(|o| o.peak_memory_bytes)
        .map(|b| b as f64)
        .collect();
    let costs: Vec<f64> = outcomes.iter().filter_map(|o| o.cost).collect();
    let (scanned_rows, scanned_groups) = (merged.scanned_rows, merged.scanned_groups);
    let result = merged.finish(query)?;
    let total_time = started.elapsed().as_secs_f64();
    let stats = Stats {
        total_time,
        invoker: InvokerStats {
            enqueue_time: job.enqueue_time,
            poll_time: total_time - job.enqueue_time,
            total_tasks: n,
            failed_tasks: job.failed_tasks,
            retried_tasks: job.retried_tasks,
            task_success_over_time: success_over_time(&done_at),
        },
        worker: WorkerStats {
            cold_tasks: cold,
            warm_tasks: n.saturating_sub(cold),
            invoke_latency: (!latencies.is_empty()).then(|| Percentiles::of(&latencies)),
            load_time: Percentiles::of(&loads),
            total_time: Percentiles::of(&totals),
            scanned_rows,
            scanned_groups,
            peak_memory_bytes: (!memory.is_empty()).then(|| Percentiles::of(&memory)),
            cache: CacheStats {
                source: n.saturating_sub(from_cache),
                disk_cache: from_cache,
                bytes_from_source: outcomes.iter().map(|o| o.bytes.0).sum(),
                bytes_from_cache: outcomes.iter().map(|o| o.bytes.1).sum(),
            },
        },
        dataset: DatasetStats {
            total_size: dataset.total_size(),
            parts: n,
        },
        cost: (!costs.is_empty()).then(|| costs.iter().sum()),
    };
    Ok((result, stats))
}
