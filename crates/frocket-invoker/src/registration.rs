//! The registration job on remote workers: one inspection task per sampled part. Each worker
//! downloads its part, checks it (required columns, types, no null ids) and returns what it
//! learned; the distinct group ids go through the blobstore. The caller then checks schema
//! consistency and group-id overlap ([`frocket_dataset::finish_registration`]).

use std::time::Instant;

use frocket_dataset::{inspect_spec, GroupIds, PartInspection, PartRef, RegisterError, RegisterRequest};
use frocket_datastore::Datastore;
use frocket_protocol::{unix_now, TaskOutput, TaskRequest, TaskResult, TaskWork};

use crate::local::Progress;
use crate::remote::{run_tasks, task_ttl, Dispatch, RemoteJob, RemoteOptions, Take};
use crate::InvokerError;

/// Inspects the `picked` parts of `parts` on remote workers, for the registration `req` whose
/// id is `registration_id` (the workers cache the parts under it, so the first query finds
/// them). Returns the inspections in `picked` order, with their group ids loaded from the
/// blobstore. A part found invalid, or that no attempt could read, is a
/// [`RegisterError::Part`] naming it.
#[allow(clippy::too_many_arguments)]
pub async fn inspect_remote(
    ds: &Datastore,
    dispatch: &Dispatch,
    req: &RegisterRequest,
    registration_id: &str,
    parts: &[PartRef],
    picked: &[usize],
    request_id: &str,
    opts: &RemoteOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Vec<PartInspection>, InvokerError> {
    let ttl = task_ttl(opts);
    let make = |task: usize, attempt: u32| TaskRequest {
        request_id: request_id.to_string(),
        task,
        attempt,
        dataset: req.name.clone(),
        registration_id: registration_id.to_string(),
        part_path: parts[picked[task]].path.clone(),
        work: TaskWork::Inspect {
            inspect: inspect_spec(req, task),
        },
        invoke_time: unix_now(),
        ttl_secs: ttl,
        deadline: None,
        self_select: None,
    };
    let job = RemoteJob {
        request_id,
        parts: picked.iter().map(|&i| parts[i].path.clone()).collect(),
        make: &make,
        self_select_preflight_ms: None,
    };
    let keep: Take<TaskResult> = std::sync::Arc::new(|_, r| Ok(r));
    let done = match run_tasks(ds, dispatch, &job, opts, progress, Instant::now(), keep).await {
        Ok((done, _)) => done,
        Err(InvokerError::TaskFailed { part, message }) => {
            return Err(RegisterError::Part { part, message }.into());
        }
        Err(e) => return Err(e),
    };
    let mut found = Vec::with_capacity(done.len());
    for (task, (r, _)) in done.into_iter().enumerate() {
        let part = &job.parts[task];
        let mut inspection = match r.output {
            TaskOutput::Inspection(i) => i,
            TaskOutput::Rejected(message) => {
                // The worker's message already names the part.
                return Err(RegisterError::Invalid(message).into());
            }
            TaskOutput::Partial(_) => {
                return Err(RegisterError::Part {
                    part: part.clone(),
                    message: "the worker answered a query result to an inspection".into(),
                }
                .into())
            }
        };
        if let Some(blob) = &inspection.group_ids_blob {
            let bytes = ds.blob(blob).await?.ok_or_else(|| RegisterError::Part {
                part: part.clone(),
                message: format!("its group ids (blob '{blob}') expired before they were read"),
            })?;
            let ids: GroupIds = serde_json::from_slice(&bytes).map_err(|e| RegisterError::Part {
                part: part.clone(),
                message: format!("unreadable group ids (blob '{blob}'): {e}"),
            })?;
            inspection.group_ids = Some(ids);
        }
        found.push(inspection);
    }
    Ok(found)
}
