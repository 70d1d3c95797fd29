//! # frocket-datastore
//!
//! Redis is the single stateful component (operations.md): dataset metadata, task statuses and
//! results, the work queue and a blobstore. Every key carries the configured prefix; every
//! request-scoped key has a TTL, so an abandoned job leaves nothing behind for long, and with
//! `volatile-lru` only those keys are ever evicted — never dataset metadata.
//!
//! Keys (prefix `frocket:` by default):
//!
//! | key | what | TTL |
//! |---|---|---|
//! | `dataset:<name>` | the dataset's JSON (parts, schema) | none |
//! | `datasets` | set of dataset names | none |
//! | `last-used:<name>` | unix seconds of the last query | none |
//! | `queue` | list of task requests (JSON) for queue workers | none (items are consumed) |
//! | `task:<request>:<task>:<attempt>` | status JSON of one attempt | job TTL |
//! | `result:<request>:<task>:<attempt>` | result JSON of one attempt | job TTL |
//! | `blob:<id>` | a blob (e.g. `<request>-group-ids-<task>`: a registration's group ids) | default / max blob TTL |
//! | `parts:<request>`, `selfselect:<request>` | a self-select job's parts and free set | job TTL |

mod connection;
#[cfg(feature = "elasticache")]
mod elasticache;
mod store;

#[cfg(feature = "elasticache")]
pub use elasticache::resolve_redis;
pub use store::{AttemptKey, AttemptStatus, Datastore, DatastoreError, TaskStatus};
