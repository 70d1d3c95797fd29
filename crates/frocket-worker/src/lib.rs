//! # frocket-worker
//!
//! A worker runs one task: one query over one part, or the inspection of one part at
//! registration. It reports `LOADING_DATA`,
//! `RUNNING_QUERY` and `ENDED_SUCCESS` / `ENDED_FAILED` through the datastore and stores its
//! partial result there. Requests and results are the types of `frocket-protocol`. The same [`handle_task`] serves the queue worker
//! ([`run_queue_worker`], `frocket worker`) and the worker Lambda.

mod task;

pub use task::{
    handle_task, lambda_price_per_gb_second, peak_memory_bytes, read_for_query, run_queue_worker, Loaded, WorkerOptions,
};
