//! State of asynchronous queries (`POST /queries`, `GET /queries/{requestId}`): in memory for
//! a single server, in Redis (blobstore, with a TTL) when several invokers may answer the poll.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::error::ApiError;

/// Most asynchronous queries kept in memory; the oldest are dropped first.
const MEMORY_CAP: usize = 1000;

/// Where asynchronous query states live.
#[derive(Debug, Clone)]
pub enum JobStore {
    /// In this process (request ids start with the unix time, so the oldest sort first).
    Memory(Arc<Mutex<BTreeMap<String, Value>>>),
    /// In the Redis blobstore under `query:<requestId>`, expiring after `ttl_secs`.
    #[cfg(feature = "distributed")]
    Redis {
        /// The datastore.
        ds: frocket_datastore::Datastore,
        /// Seconds a state is kept.
        ttl_secs: u64,
    },
}

impl JobStore {
    /// An empty in-memory store.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let s = frocket_api::JobStore::memory();
    /// s.put("1-a", &serde_json::json!({"stage": "DONE"})).await.unwrap();
    /// assert_eq!(s.get("1-a").await.unwrap().unwrap()["stage"], "DONE");
    /// # });
    /// ```
    pub fn memory() -> Self {
        JobStore::Memory(Arc::new(Mutex::new(BTreeMap::new())))
    }

    /// Stores (replaces) the state of query `id`.
    pub async fn put(&self, id: &str, state: &Value) -> Result<(), ApiError> {
        match self {
            JobStore::Memory(m) => {
                let mut m = m
                    .lock()
                    .map_err(|_| ApiError::Internal("query state store poisoned".into()))?;
                m.insert(id.to_string(), state.clone());
                while m.len() > MEMORY_CAP {
                    m.pop_first();
                }
                Ok(())
            }
            #[cfg(feature = "distributed")]
            JobStore::Redis { ds, ttl_secs } => {
                let bytes = serde_json::to_vec(state)
                    .map_err(|e| ApiError::Internal(format!("cannot encode query state: {e}")))?;
                Ok(ds.put_blob(&format!("query:{id}"), &bytes, Some(*ttl_secs)).await?)
            }
        }
    }

    /// The state of query `id`, if known.
    pub async fn get(&self, id: &str) -> Result<Option<Value>, ApiError> {
        match self {
            JobStore::Memory(m) => Ok(m
                .lock()
                .map_err(|_| ApiError::Internal("query state store poisoned".into()))?
                .get(id)
                .cloned()),
            #[cfg(feature = "distributed")]
            JobStore::Redis { ds, .. } => match ds.blob(&format!("query:{id}")).await? {
                Some(b) => serde_json::from_slice(&b)
                    .map(Some)
                    .map_err(|e| ApiError::Internal(format!("query state of '{id}' is corrupt: {e}"))),
                None => Ok(None),
            },
        }
    }
}
