//! The Redis datastore.

use frocket_config::RedisConfig;
use frocket_dataset::{Catalog, CatalogError, DatasetInfo};
use std::sync::Arc;

use redis::AsyncCommands;

use crate::connection::Connection;
use serde::{Deserialize, Serialize};

/// Datastore failures.
#[derive(Debug, thiserror::Error)]
pub enum DatastoreError {
    /// Connecting or talking to Redis failed.
    #[error("redis at {endpoint}: {message}")]
    Redis {
        /// host:port.
        endpoint: String,
        /// What failed.
        message: String,
    },
    /// A stored value is not what it should be.
    #[error("redis key '{key}': {message}")]
    Corrupt {
        /// The key.
        key: String,
        /// The parse error.
        message: String,
    },
    /// No Redis endpoint could be found (names the variable).
    #[error("{0}")]
    Endpoint(String),
    /// Bad arguments (e.g. a TTL above the maximum).
    #[error("{0}")]
    Invalid(String),
}

/// Task statuses (api.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskStatus {
    /// Waiting for a worker.
    Queued,
    /// A worker is reading the part.
    LoadingData,
    /// A worker is running the query.
    RunningQuery,
    /// Generic running state (registration tasks).
    Running,
    /// Done; the result is stored.
    EndedSuccess,
    /// Failed; the message says why.
    EndedFailed,
}

impl TaskStatus {
    /// True for the ended statuses.
    pub fn is_final(self) -> bool {
        matches!(self, TaskStatus::EndedSuccess | TaskStatus::EndedFailed)
    }
}

/// One attempt's status, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttemptStatus {
    /// The status.
    pub status: TaskStatus,
    /// When it was set (unix seconds, fractional).
    pub updated_at: f64,
    /// Which worker set it.
    pub worker: Option<String>,
    /// Failure message, for `EndedFailed`.
    pub message: Option<String>,
}

/// Identifies one attempt of one task of a job.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttemptKey {
    /// The job's request id.
    pub request: String,
    /// Task index.
    pub task: usize,
    /// Attempt number (from 1).
    pub attempt: u32,
}

/// A connection to the datastore. Cheap to clone (one shared multiplexed connection).
///
/// It survives the server going away: a command in flight when the connection drops fails
/// with [`DatastoreError::Redis`], and the connection is made again in the background
/// (bounded backoff, host name resolved again), so the next command after Redis is back
/// succeeds (see `connection.rs`).
#[derive(Clone)]
pub struct Datastore {
    con: Arc<Connection>,
    /// For blocking queue pops: its own connection (a blocking command holds up a connection's
    /// pipeline) with no client-side response timeout (one shorter than the pop's wait would
    /// abandon a pop the server still completes, losing the task).
    queue_con: Arc<Connection>,
    prefix: String,
    endpoint: String,
    default_ttl: u64,
    max_ttl: u64,
}

impl std::fmt::Debug for Datastore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Datastore")
            .field("endpoint", &self.endpoint)
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl Datastore {
    /// Connects using the Redis configuration (host, port, db, TLS and its CA file, AUTH token,
    /// prefix).
    pub async fn connect(cfg: &RedisConfig, blob_default_ttl: u64, blob_max_ttl: u64) -> Result<Self, DatastoreError> {
        let host = cfg
            .host
            .clone()
            .ok_or_else(|| DatastoreError::Invalid("FROCKET_REDIS_HOST is not set".into()))?;
        let endpoint = format!("{host}:{}", cfg.port);
        let scheme = if cfg.tls { "rediss" } else { "redis" };
        let auth = cfg
            .auth_token
            .as_deref()
            .map(|t| format!(":{}@", urlencode(t)))
            .unwrap_or_default();
        let url = format!("{scheme}://{auth}{host}:{}/{}", cfg.port, cfg.db);
        let err = |e: redis::RedisError| DatastoreError::Redis {
            endpoint: endpoint.clone(),
            message: e.to_string(),
        };
        let client = match (&cfg.tls_ca_file, cfg.tls) {
            (Some(ca), true) => {
                let pem = std::fs::read(ca).map_err(|e| {
                    DatastoreError::Invalid(format!("FROCKET_REDIS_TLS_CA_FILE='{}': {e}", ca.display()))
                })?;
                let certs = redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem),
                };
                redis::Client::build_with_tls(url.as_str(), certs).map_err(err)?
            }
            _ => redis::Client::open(url.as_str()).map_err(err)?,
        };
        let con = Connection::open(client.clone(), false).await.map_err(err)?;
        let queue_con = Connection::open(client, true).await.map_err(err)?;
        Ok(Datastore {
            con: Arc::new(con),
            queue_con: Arc::new(queue_con),
            prefix: cfg.prefix.clone(),
            endpoint,
            default_ttl: blob_default_ttl,
            max_ttl: blob_max_ttl,
        })
    }

    fn key(&self, parts: &[&str]) -> String {
        let mut k = self.prefix.clone();
        k.push_str(&parts.join(":"));
        k
    }

    fn err(&self, e: redis::RedisError) -> DatastoreError {
        self.con.saw_error(&e);
        self.queue_con.saw_error(&e);
        DatastoreError::Redis {
            endpoint: self.endpoint.clone(),
            message: e.to_string(),
        }
    }

    /// PING: whether the datastore answers.
    pub async fn ping(&self) -> Result<(), DatastoreError> {
        let mut c = self.con.get();
        redis::cmd("PING")
            .query_async::<String>(&mut c)
            .await
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    // ------------------------------------------------------------------ queue

    /// Appends task requests to the work queue.
    pub async fn enqueue(&self, tasks: &[String]) -> Result<(), DatastoreError> {
        if tasks.is_empty() {
            return Ok(());
        }
        let mut c = self.con.get();
        let _: usize = c.lpush(self.key(&["queue"]), tasks).await.map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Takes the oldest task request, waiting up to `timeout_secs` (None when none came).
    pub async fn dequeue(&self, timeout_secs: f64) -> Result<Option<String>, DatastoreError> {
        let mut c = self.queue_con.get();
        let v: Option<(String, String)> = c
            .brpop(self.key(&["queue"]), timeout_secs)
            .await
            .map_err(|e| self.err(e))?;
        Ok(v.map(|(_, t)| t))
    }

    /// Whether `task` (a request exactly as enqueued) is still waiting in the queue.
    pub async fn queue_contains(&self, task: &str) -> Result<bool, DatastoreError> {
        let mut c = self.con.get();
        let pos: Option<usize> = redis::cmd("LPOS")
            .arg(self.key(&["queue"]))
            .arg(task)
            .query_async(&mut c)
            .await
            .map_err(|e| self.err(e))?;
        Ok(pos.is_some())
    }

    /// Publishes the parts of a self-select job: the free set `selfselect:<request>` holds
    /// every part index, and the blob `parts:<request>` their paths (JSON list).
    pub async fn publish_parts(&self, request: &str, paths: &[String], ttl_secs: u64) -> Result<(), DatastoreError> {
        let json = serde_json::to_vec(paths).map_err(|e| DatastoreError::Invalid(format!("part list: {e}")))?;
        self.put_blob(&format!("parts:{request}"), &json, Some(ttl_secs))
            .await?;
        if paths.is_empty() {
            return Ok(());
        }
        let key = self.key(&["selfselect", request]);
        let mut c = self.con.get();
        let _: () = redis::pipe()
            .atomic()
            .sadd(&key, (0..paths.len()).collect::<Vec<usize>>())
            .ignore()
            .expire(&key, ttl_secs as i64)
            .ignore()
            .query_async(&mut c)
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// The part paths of a self-select job.
    pub async fn published_parts(&self, request: &str) -> Result<Option<Vec<String>>, DatastoreError> {
        match self.blob(&format!("parts:{request}")).await? {
            Some(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|e| DatastoreError::Invalid(format!("part list of '{request}': {e}"))),
            None => Ok(None),
        }
    }

    /// Claims part `index` of a self-select job; true when this caller got it (atomic).
    pub async fn claim_part(&self, request: &str, index: usize) -> Result<bool, DatastoreError> {
        let mut c = self.con.get();
        let n: usize = c
            .srem(self.key(&["selfselect", request]), index)
            .await
            .map_err(|e| self.err(e))?;
        Ok(n == 1)
    }

    /// Claims any free part of a self-select job (atomic); None when all are taken.
    pub async fn claim_any_part(&self, request: &str) -> Result<Option<usize>, DatastoreError> {
        let mut c = self.con.get();
        c.spop(self.key(&["selfselect", request]))
            .await
            .map_err(|e| self.err(e))
    }

    /// Whether part `index` of a self-select job is still unclaimed.
    pub async fn part_is_free(&self, request: &str, index: usize) -> Result<bool, DatastoreError> {
        let mut c = self.con.get();
        c.sismember(self.key(&["selfselect", request]), index)
            .await
            .map_err(|e| self.err(e))
    }

    /// Number of queued task requests.
    pub async fn queue_len(&self) -> Result<usize, DatastoreError> {
        let mut c = self.con.get();
        c.llen(self.key(&["queue"])).await.map_err(|e| self.err(e))
    }

    // ------------------------------------------------------------------ tasks

    /// The status key of one attempt.
    fn task_key(&self, request: &str, task: usize, attempt: u32) -> String {
        self.key(&["task", request, &task.to_string(), &attempt.to_string()])
    }

    /// Sets an attempt's status (with a TTL).
    pub async fn set_status(
        &self,
        key: &AttemptKey,
        status: TaskStatus,
        worker: Option<&str>,
        message: Option<&str>,
        ttl_secs: u64,
    ) -> Result<(), DatastoreError> {
        let v = AttemptStatus {
            status,
            updated_at: frocket_protocol::unix_now(),
            worker: worker.map(str::to_string),
            message: message.map(str::to_string),
        };
        let json = serde_json::to_string(&v).map_err(|e| DatastoreError::Invalid(e.to_string()))?;
        let mut c = self.con.get();
        let _: () = c
            .set_ex(
                self.task_key(&key.request, key.task, key.attempt),
                json,
                ttl_secs.max(1),
            )
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Sets many attempts `QUEUED` at once (one pipelined round trip), before they are sent.
    pub async fn set_queued(&self, keys: &[AttemptKey], ttl_secs: u64) -> Result<(), DatastoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        let v = AttemptStatus {
            status: TaskStatus::Queued,
            updated_at: frocket_protocol::unix_now(),
            worker: None,
            message: None,
        };
        let json = serde_json::to_string(&v).map_err(|e| DatastoreError::Invalid(e.to_string()))?;
        let mut pipe = redis::pipe();
        for key in keys {
            pipe.set_ex(
                self.task_key(&key.request, key.task, key.attempt),
                &json,
                ttl_secs.max(1),
            )
            .ignore();
        }
        let mut c = self.con.get();
        let _: () = pipe.query_async(&mut c).await.map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Statuses of `(task, attempt)` pairs, in order (None where unset or expired).
    pub async fn statuses(
        &self,
        request: &str,
        attempts: &[(usize, u32)],
    ) -> Result<Vec<Option<AttemptStatus>>, DatastoreError> {
        if attempts.is_empty() {
            return Ok(vec![]);
        }
        let keys: Vec<String> = attempts.iter().map(|&(t, a)| self.task_key(request, t, a)).collect();
        let mut c = self.con.get();
        let raw: Vec<Option<String>> = redis::cmd("MGET")
            .arg(&keys)
            .query_async(&mut c)
            .await
            .map_err(|e| self.err(e))?;
        raw.into_iter()
            .zip(&keys)
            .map(|(v, k)| {
                v.map(|s| {
                    serde_json::from_str(&s).map_err(|e| DatastoreError::Corrupt {
                        key: k.clone(),
                        message: e.to_string(),
                    })
                })
                .transpose()
            })
            .collect()
    }

    /// Stores an attempt's result (with a TTL).
    pub async fn put_result(&self, key: &AttemptKey, json: &str, ttl_secs: u64) -> Result<(), DatastoreError> {
        let mut c = self.con.get();
        let k = self.key(&["result", &key.request, &key.task.to_string(), &key.attempt.to_string()]);
        let _: () = c.set_ex(k, json, ttl_secs.max(1)).await.map_err(|e| self.err(e))?;
        Ok(())
    }

    /// An attempt's result.
    pub async fn result(&self, key: &AttemptKey) -> Result<Option<String>, DatastoreError> {
        let mut c = self.con.get();
        let k = self.key(&["result", &key.request, &key.task.to_string(), &key.attempt.to_string()]);
        c.get(k).await.map_err(|e| self.err(e))
    }

    // ------------------------------------------------------------------ blobs

    /// Stores a blob under `id` for `ttl_secs` (default TTL when None; never above the max).
    pub async fn put_blob(&self, id: &str, data: &[u8], ttl_secs: Option<u64>) -> Result<(), DatastoreError> {
        let ttl = ttl_secs.unwrap_or(self.default_ttl);
        if ttl == 0 || ttl > self.max_ttl {
            return Err(DatastoreError::Invalid(format!(
                "blob TTL {ttl}s is outside 1..={} (FROCKET_BLOBSTORE_MAX_TTL)",
                self.max_ttl
            )));
        }
        let mut c = self.con.get();
        let _: () = c
            .set_ex(self.key(&["blob", id]), data, ttl)
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// A blob, if it has not expired.
    pub async fn blob(&self, id: &str) -> Result<Option<Vec<u8>>, DatastoreError> {
        let mut c = self.con.get();
        c.get(self.key(&["blob", id])).await.map_err(|e| self.err(e))
    }

    /// Seconds a key has left (for tests and diagnostics): None if it has no TTL or is absent.
    pub async fn ttl_of(&self, key_without_prefix: &str) -> Result<Option<i64>, DatastoreError> {
        let mut c = self.con.get();
        let t: i64 = c
            .ttl(format!("{}{key_without_prefix}", self.prefix))
            .await
            .map_err(|e| self.err(e))?;
        Ok((t >= 0).then_some(t))
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn cat_err(e: DatastoreError) -> CatalogError {
    match e {
        DatastoreError::Redis { .. } => CatalogError::Unavailable(e.to_string()),
        other => CatalogError::Io {
            path: "redis".into(),
            message: other.to_string(),
        },
    }
}

impl Catalog for Datastore {
    async fn put(&self, info: &DatasetInfo) -> Result<(), CatalogError> {
        let json = serde_json::to_string(info).map_err(|e| CatalogError::Io {
            path: "redis".into(),
            message: e.to_string(),
        })?;
        let mut c = self.con.get();
        // One MULTI/EXEC: the dataset and its index entry appear (or are replaced) together.
        redis::pipe()
            .atomic()
            .set(self.key(&["dataset", &info.name]), json)
            .ignore()
            .sadd(self.key(&["datasets"]), &info.name)
            .ignore()
            .query_async::<()>(&mut c)
            .await
            .map_err(|e| cat_err(self.err(e)))
    }

    async fn get(&self, name: &str) -> Result<Option<DatasetInfo>, CatalogError> {
        let key = self.key(&["dataset", name]);
        let mut c = self.con.get();
        let v: Option<String> = c.get(&key).await.map_err(|e| cat_err(self.err(e)))?;
        v.map(|s| {
            serde_json::from_str(&s).map_err(|e| CatalogError::Corrupt {
                path: key.clone(),
                message: e.to_string(),
            })
        })
        .transpose()
    }

    async fn list(&self) -> Result<Vec<DatasetInfo>, CatalogError> {
        let mut c = self.con.get();
        let mut names: Vec<String> = c
            .smembers(self.key(&["datasets"]))
            .await
            .map_err(|e| cat_err(self.err(e)))?;
        names.sort();
        let mut out = Vec::with_capacity(names.len());
        for n in names {
            if let Some(d) = self.get(&n).await? {
                out.push(d);
            }
        }
        Ok(out)
    }

    async fn remove(&self, name: &str) -> Result<bool, CatalogError> {
        let mut c = self.con.get();
        let (deleted, _, _): (usize, usize, usize) = redis::pipe()
            .atomic()
            .del(self.key(&["dataset", name]))
            .srem(self.key(&["datasets"]), name)
            .del(self.key(&["last-used", name]))
            .query_async(&mut c)
            .await
            .map_err(|e| cat_err(self.err(e)))?;
        Ok(deleted > 0)
    }

    async fn touch(&self, name: &str, unix_secs: u64) -> Result<(), CatalogError> {
        let mut c = self.con.get();
        let _: () = c
            .set(self.key(&["last-used", name]), unix_secs)
            .await
            .map_err(|e| cat_err(self.err(e)))?;
        Ok(())
    }

    async fn last_used(&self, name: &str) -> Result<Option<u64>, CatalogError> {
        let mut c = self.con.get();
        c.get(self.key(&["last-used", name]))
            .await
            .map_err(|e| cat_err(self.err(e)))
    }
}
