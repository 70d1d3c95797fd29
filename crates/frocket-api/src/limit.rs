//! How many queries one server runs at once, and how many may wait.
//!
//! A query first takes a place in line ([`QueryLimiter::admit`]: refused at once with `503`
//! when the line is full), then waits for a slot ([`Admission::slot`]: `503` when none frees
//! within the queue timeout). The slot is held until the query's response is made. Requests
//! that run no query (`/health`, `/datasets`, polling) never wait here.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;

/// The limit of concurrent queries and the bounded line in front of it.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use std::time::Duration;
/// let limiter = frocket_api::QueryLimiter::new(1, 0, Duration::from_millis(10));
/// let running = limiter.admit().unwrap().slot().await.unwrap();
/// assert_eq!(limiter.admit().unwrap_err().status(), 503); // no place in line
/// drop(running);
/// assert!(limiter.admit().is_ok());
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct QueryLimiter {
    slots: Arc<Semaphore>,
    max_running: usize,
    waiting: Arc<AtomicUsize>,
    max_waiting: usize,
    timeout: Duration,
}

/// A place in line, given back when dropped.
#[derive(Debug)]
pub struct Admission {
    limiter: QueryLimiter,
    /// Whether this admission holds one of the `waiting` places.
    in_line: bool,
}

/// A running query's slot, given back when dropped.
#[derive(Debug)]
pub struct Slot(#[allow(dead_code)] OwnedSemaphorePermit);

impl QueryLimiter {
    /// `max_running` queries at once (at least 1), `max_waiting` more in line, each waiting at
    /// most `timeout`.
    pub fn new(max_running: usize, max_waiting: usize, timeout: Duration) -> Self {
        let max_running = max_running.max(1);
        QueryLimiter {
            slots: Arc::new(Semaphore::new(max_running)),
            max_running,
            waiting: Arc::new(AtomicUsize::new(0)),
            max_waiting,
            timeout,
        }
    }

    /// The limiter of `FROCKET_APISERVER_MAX_CONCURRENT_QUERIES`,
    /// `FROCKET_APISERVER_MAX_QUEUED_QUERIES` and `FROCKET_APISERVER_QUEUE_TIMEOUT`.
    pub fn from_config(cfg: &frocket_config::Config) -> Self {
        Self::new(
            cfg.apiserver_max_concurrent_queries,
            cfg.apiserver_max_queued_queries,
            Duration::from_secs_f64(cfg.apiserver_queue_timeout_secs),
        )
    }

    /// The most queries that run at once.
    pub fn max_running(&self) -> usize {
        self.max_running
    }

    /// The most queries that wait for a slot.
    pub fn max_waiting(&self) -> usize {
        self.max_waiting
    }

    /// Queries running now.
    pub fn running(&self) -> usize {
        self.max_running - self.slots.available_permits()
    }

    /// Queries waiting for a slot now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Takes a place: a free slot needs none; otherwise a place in line, or `503` when the
    /// line is full.
    pub fn admit(&self) -> Result<Admission, ApiError> {
        if self.slots.available_permits() > 0 {
            return Ok(Admission {
                limiter: self.clone(),
                in_line: false,
            });
        }
        let taken = self.waiting.fetch_update(Ordering::AcqRel, Ordering::Acquire, |w| {
            (w < self.max_waiting).then_some(w + 1)
        });
        match taken {
            Ok(_) => Ok(Admission {
                limiter: self.clone(),
                in_line: true,
            }),
            Err(w) => Err(self.busy(w)),
        }
    }

    fn busy(&self, waiting: usize) -> ApiError {
        ApiError::Busy(format!(
            "the server is at its query limit ({} running, {waiting} waiting; FROCKET_APISERVER_MAX_CONCURRENT_QUERIES={}, FROCKET_APISERVER_MAX_QUEUED_QUERIES={}): retry later",
            self.running(),
            self.max_running,
            self.max_waiting
        ))
    }
}

impl Admission {
    /// Waits for a slot, at most the queue timeout (then `503`).
    pub async fn slot(mut self) -> Result<Slot, ApiError> {
        let l = self.limiter.clone();
        let got = tokio::time::timeout(l.timeout, l.slots.clone().acquire_owned()).await;
        self.leave_line();
        match got {
            Ok(Ok(permit)) => Ok(Slot(permit)),
            Ok(Err(_)) => Err(ApiError::Internal("the query limiter was closed".into())),
            Err(_) => Err(ApiError::Busy(format!(
                "no query slot freed within {:.0}s ({} running, FROCKET_APISERVER_MAX_CONCURRENT_QUERIES={}): retry later",
                l.timeout.as_secs_f64(),
                l.running(),
                l.max_running
            ))),
        }
    }

    fn leave_line(&mut self) {
        if std::mem::take(&mut self.in_line) {
            self.limiter.waiting.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.leave_line();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_n_queues_m_refuses_the_rest() {
        let l = QueryLimiter::new(2, 1, Duration::from_millis(50));
        let a = l.admit().unwrap().slot().await.unwrap();
        let _b = l.admit().unwrap().slot().await.unwrap();
        assert_eq!(l.running(), 2);
        let queued = l.admit().unwrap();
        assert_eq!(l.waiting(), 1);
        assert_eq!(l.admit().unwrap_err().status(), 503);
        // The one in line times out with 503 and leaves the line.
        assert_eq!(queued.slot().await.unwrap_err().status(), 503);
        assert_eq!(l.waiting(), 0);
        // A freed slot goes to the next in line.
        let next = l.admit().unwrap();
        drop(a);
        assert!(next.slot().await.is_ok());
        assert_eq!(l.waiting(), 0);
    }

    #[tokio::test]
    async fn a_dropped_admission_leaves_the_line() {
        let l = QueryLimiter::new(1, 1, Duration::from_secs(5));
        let _running = l.admit().unwrap().slot().await.unwrap();
        let queued = l.admit().unwrap();
        assert_eq!(l.waiting(), 1);
        drop(queued);
        assert_eq!(l.waiting(), 0);
        assert!(l.admit().is_ok());
    }
}
