//! # frocket-protocol
//!
//! What passes between the invoker and the workers (queue workers and worker Lambdas), as
//! JSON through the Redis queue, Lambda events and Redis results: a task's request
//! ([`TaskRequest`]) and what a successful attempt stores ([`TaskResult`]). Both sides depend
//! on this crate and on nothing of each other.
//!
//! ```
//! let r: frocket_protocol::SelfSelect = serde_json::from_str(r#"{"preflightMs": 200}"#).unwrap();
//! assert_eq!(r.preflight_ms, 200);
//! ```

use frocket_dataset::{InspectSpec, PartInspection};
use frocket_engine::{PartialResult, ValidatedQuery};
use serde::{Deserialize, Serialize};

/// One task: run `query` over one part of a dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskRequest {
    /// The job's request id.
    pub request_id: String,
    /// Task index (the part's index in the dataset).
    pub task: usize,
    /// Attempt number, from 1.
    pub attempt: u32,
    /// Dataset name.
    pub dataset: String,
    /// The dataset's registration id (cache key).
    pub registration_id: String,
    /// The part to read.
    pub part_path: String,
    /// What to do with the part.
    #[serde(flatten)]
    pub work: TaskWork,
    /// When the invoker sent it (unix seconds).
    pub invoke_time: f64,
    /// TTL of the status and result keys (seconds).
    pub ttl_secs: u64,
    /// When the job gives up (unix seconds: its start plus the run timeout): the worker stops
    /// the query there (a task past it has no one waiting for its result). Absent: no
    /// deadline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<f64>,
    /// Set on a "select a part yourself" request: `task` and `part_path` are then chosen by the
    /// worker from the job's published parts (see [`SelfSelect`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_select: Option<SelfSelect>,
}

/// What a task does with its part.
// Requests are built once per attempt and serialized at once: the size difference of the
// variants does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum TaskWork {
    /// Run a query over it (its `columns` are what to read).
    Query {
        /// The validated query.
        query: ValidatedQuery,
    },
    /// Run a query too large to travel in every request (see [`QUERY_INLINE_MAX_BYTES`]): the
    /// validated query's JSON is in the blobstore under `query_blob`.
    QueryBlob {
        /// The blob id ([`query_blob`]).
        query_blob: String,
    },
    /// Inspect it for registration; the distinct group ids go to the blobstore.
    Inspect {
        /// What to collect.
        inspect: InspectSpec,
    },
}

/// What a successful task returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TaskOutput {
    /// A query's partial result over the part.
    Partial(PartialResult),
    /// The inspection of a part that passed.
    Inspection(PartInspection),
    /// The part was inspected and is not valid for the dataset (a missing or mistyped column,
    /// nulls in the group id…): a finding about the data, not a failure to retry.
    Rejected(String),
}

/// A query whose JSON is larger than this travels once through the blobstore
/// ([`TaskWork::QueryBlob`]) instead of in every task request: the validated form of a query
/// near the 1 MiB body limit is ~1.7 MB, past Lambda's 1 MB for an asynchronous invocation, and
/// a copy per part would fill the Redis queue (256 parts × 550 KB for the heaviest query the
/// limits allow).
pub const QUERY_INLINE_MAX_BYTES: usize = 64 * 1024;

/// The blob id holding a job's query (see [`TaskWork::QueryBlob`]).
pub fn query_blob(request_id: &str) -> String {
    format!("{request_id}-query")
}

/// The blob id holding the group ids of an inspection task.
pub fn group_ids_blob(request_id: &str, task: usize) -> String {
    format!("{request_id}-group-ids-{task}")
}

/// How a worker picks its part in self-select mode: during the preflight window (from the
/// invoke time) it only claims a part it has cached; after it, any free part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SelfSelect {
    /// The preflight window (milliseconds after `invoke_time`).
    pub preflight_ms: u64,
}

/// What a successful attempt stores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskResult {
    /// What the task produced.
    pub output: TaskOutput,
    /// Seconds reading the part.
    pub load_secs: f64,
    /// Seconds for the whole task.
    pub total_secs: f64,
    /// Seconds from invoke to the worker starting the task.
    pub invoke_latency_secs: f64,
    /// Which worker ran it.
    pub worker: String,
    /// Whether the part came from a local disk cache (nothing fetched from the store).
    pub from_cache: bool,
    /// Bytes of the part fetched from the store (S3) for this task.
    #[serde(default)]
    pub bytes_from_source: u64,
    /// Bytes of the part read from the worker's disk cache for this task.
    #[serde(default)]
    pub bytes_from_cache: u64,
    /// Whether this was the first task of its worker process (a cold start).
    #[serde(default)]
    pub cold: bool,
    /// The worker process's peak resident memory after the task (bytes), when known.
    #[serde(default)]
    pub peak_memory_bytes: Option<u64>,
    /// Estimated Lambda compute cost of the task (USD); None outside Lambda.
    #[serde(default)]
    pub cost: Option<f64>,
}

/// Now, in unix seconds (fractional): the one clock of invoke times, status updates and ages
/// on the wire. A clock before 1970 reads as 0.
///
/// ```
/// assert!(frocket_protocol::unix_now() > 1.6e9);
/// ```
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The instant on this process's monotonic clock of `unix_secs` (a wall-clock time, e.g. a
/// task's deadline): now for a time already past (or NaN), `None` for one this clock cannot
/// hold.
///
/// ```
/// let soon = frocket_protocol::instant_at(frocket_protocol::unix_now() + 5.0).unwrap();
/// assert!(soon > std::time::Instant::now());
/// assert!(frocket_protocol::instant_at(f64::INFINITY).is_none());
/// ```
pub fn instant_at(unix_secs: f64) -> Option<std::time::Instant> {
    let left = (unix_secs - unix_now()).max(0.0);
    std::time::Instant::now().checked_add(std::time::Duration::try_from_secs_f64(left).ok()?)
}
