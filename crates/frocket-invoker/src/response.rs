//! The response envelope of api.md.

use frocket_engine::{FunnelResult, QueryResult, StageResult};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::stats::Stats;

/// A new request id: `<unix-seconds>-<32 hex>` (128 random bits).
///
/// ```
/// let id = frocket_invoker::new_request_id();
/// let (secs, hex) = id.split_once('-').unwrap();
/// assert!(secs.parse::<u64>().is_ok() && hex.len() == 32);
/// ```
///
/// The 128 random bits come from the thread's cryptographically secure generator (ChaCha,
/// seeded by the OS): an asynchronous query's id is its only key, so it must not be guessable.
pub fn new_request_id() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!("{secs}-{:032x}", rand::rng().random::<u128>())
}

/// A successful query response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryResponse {
    /// Always true.
    pub success: bool,
    /// The request id.
    pub request_id: String,
    /// Query stage.
    pub query: StageResult,
    /// Funnel, if requested.
    pub funnel: Option<FunnelResult>,
    /// Job stats.
    pub stats: Stats,
}

impl QueryResponse {
    /// Wraps a result.
    pub fn new(request_id: String, result: QueryResult, stats: Stats) -> Self {
        QueryResponse {
            success: true,
            request_id,
            query: result.query,
            funnel: result.funnel,
            stats,
        }
    }
}

/// A failure response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorResponse {
    /// Always false.
    pub success: bool,
    /// What went wrong.
    pub error_message: String,
    /// The request id.
    pub request_id: String,
    /// A query that failed validation: each error with its JSON path (absent otherwise).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<frocket_engine::ValidationError>,
}
