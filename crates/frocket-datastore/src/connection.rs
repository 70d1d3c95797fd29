//! A Redis connection that survives the server going away.
//!
//! Each [`Connection`] wraps a [`ConnectionManager`]: when a command finds the connection
//! dropped (a restart, a failover, a network cut) the command fails with that error and the
//! manager reconnects in the background, with exponential backoff and jitter, a bounded number
//! of times; commands sent meanwhile wait for the new connection (bounded by the same
//! schedule) and fail if it cannot be made. The next command after a failed reconnection starts
//! a new one. Every reconnection resolves the host name again, so an ElastiCache failover,
//! which moves the primary endpoint's DNS name to the new primary, is followed.
//!
//! A failover can also leave the connection open to the old primary, now a replica: writes are
//! then answered `READONLY`. That error replaces the manager with a new one, which resolves the
//! endpoint again on its first command.

use std::sync::RwLock;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// How a connection retries (re)connecting: `RETRIES` attempts, delays from `MIN_DELAY`
/// doubling up to `MAX_DELAY` (jittered), each attempt bounded by `CONNECT_TIMEOUT`. About 2 s
/// when nothing listens (refused at once), at most ~10 s when connects time out.
const RETRIES: usize = 4;
const MIN_DELAY: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_secs(1);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Replies slower than this fail the command (and a dropped connection is then reconnected).
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

/// One reconnecting Redis connection, shared by clones of the datastore.
pub(crate) struct Connection {
    client: redis::Client,
    config: ConnectionManagerConfig,
    current: RwLock<ConnectionManager>,
}

impl Connection {
    /// Connects now (retrying per the schedule above); fails with the last error.
    ///
    /// `blocking`: no response timeout, for commands that wait on the server (`BRPOP`): a
    /// client-side timeout shorter than the server's wait would abandon a pop the server
    /// still completes, losing the popped value.
    pub(crate) async fn open(client: redis::Client, blocking: bool) -> redis::RedisResult<Self> {
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(RETRIES)
            .set_min_delay(MIN_DELAY)
            .set_max_delay(MAX_DELAY)
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout((!blocking).then_some(RESPONSE_TIMEOUT));
        let manager = ConnectionManager::new_with_config(client.clone(), config.clone()).await?;
        Ok(Connection {
            client,
            config,
            current: RwLock::new(manager),
        })
    }

    /// The connection to send a command on (a cheap clone).
    pub(crate) fn get(&self) -> ConnectionManager {
        self.current.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Looks at a failed command's error: a `READONLY` reply (connected to a demoted primary)
    /// replaces the connection, so the next command resolves the endpoint again.
    pub(crate) fn saw_error(&self, e: &redis::RedisError) {
        if e.kind() != redis::ErrorKind::Server(redis::ServerErrorKind::ReadOnly) {
            return;
        }
        if let Ok(fresh) = ConnectionManager::new_lazy_with_config(self.client.clone(), self.config.clone()) {
            *self.current.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        }
    }
}
