//! The tasks a request runs, as `TaskResource` answers them: the active tasks with their host
//! and ports (how one finds where a task listens), one active task, and a request's task ids
//! by status (`SingularityTaskIdsByStatus`, also the request parent's `taskIds`).
//!
//! A `SingularityTask` carries only what the model knows truthfully: its `taskId`, the
//! `taskRequest`'s request and deploy, the agent's `hostname` in `offers` (and the
//! deprecated `offer`), the `ports` resource in `mesosTask`, and `rackId`. Mesos's ids of the
//! offer, agent and framework, and the pending task, are left out.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::Response,
};
use serde_json::{Value, json};

use super::{Answer, Refusal, bad_request, dropwizard, ok};
use crate::runtime::Runtime;
use crate::singularity::{
    Singularity,
    state::{State as Model, TaskEntry, TaskStatus},
};

/// `GET /api/tasks/active`: every task launched and not yet ended, oldest first.
pub(in crate::singularity) async fn active<R: Runtime>(
    State(singularity): State<Singularity<R>>,
) -> Response {
    let state = singularity.inner.state.lock().await;
    let tasks: Vec<Value> = (state.tasks.iter())
        .filter(|task| task.status.live())
        .map(|task| task_json(&state, task))
        .collect();
    ok(Value::Array(tasks))
}

/// `GET /api/tasks/task/{taskId}`: `checkActiveTask`, a 404 for a task that has ended.
pub(in crate::singularity) async fn active_task<R: Runtime>(
    State(singularity): State<Singularity<R>>,
    Path(task_id): Path<String>,
) -> Answer {
    parse_task_id(&task_id)
        .map_err(|why| bad_request(format!("{task_id} is not a valid taskId: {why}")))?;
    let state = singularity.inner.state.lock().await;
    state
        .tasks
        .iter()
        .find(|task| task.id.id == task_id && task.status.live())
        .map(|task| ok(task_json(&state, task)))
        .ok_or_else(|| {
            dropwizard(
                StatusCode::NOT_FOUND,
                &format!("No active task with id {task_id}"),
            )
        })
}

/// `GET /api/tasks/ids/request/{requestId}`: an `Optional` the resource returns empty for
/// an unknown request, which Dropwizard answers with its bare 404.
pub(in crate::singularity) async fn ids_by_status<R: Runtime>(
    State(singularity): State<Singularity<R>>,
    Path(request_id): Path<String>,
) -> Answer {
    let state = singularity.inner.state.lock().await;
    if !state.requests.contains_key(&request_id) {
        return Err(dropwizard(StatusCode::NOT_FOUND, "HTTP 404 Not Found"));
    }
    Ok(ok(ids_json(&state, &request_id)))
}

/// `RequestHelper.getTaskIdsByStatusForRequest`: the request's live tasks, healthy or not
/// yet. The model launches at once and stops at once, so nothing is ever `pending`,
/// `cleaning` or `killed`-but-running, and no request is load balanced.
pub(in crate::singularity) fn ids_json(state: &Model, request_id: &str) -> Value {
    let (mut healthy, mut not_yet_healthy) = (Vec::new(), Vec::new());
    for task in state.tasks.iter().filter(|t| t.id.request_id == request_id) {
        match task.status {
            TaskStatus::Running { healthy: true, .. } => healthy.push(&task.id),
            TaskStatus::Running { .. } | TaskStatus::Starting => not_yet_healthy.push(&task.id),
            TaskStatus::Failed { .. } | TaskStatus::Killed => {}
        }
    }
    json!({
        "healthy": healthy,
        "notYetHealthy": not_yet_healthy,
        "pending": [],
        "cleaning": [],
        "loadBalanced": [],
        "killed": [],
    })
}

/// `SingularityTask`, with what the model knows of it (see the module's docs).
fn task_json(state: &Model, task: &TaskEntry) -> Value {
    let entry = state.requests.get(&task.id.request_id);
    let mut task_request = json!({});
    if let Some(entry) = entry {
        task_request["request"] = json!(entry.request);
        if let Some(deploy) = entry.deploy(&task.id.deploy_id) {
            task_request["deploy"] = json!(deploy.deploy);
        }
    }
    // Mesos hands ports out as ranges; each of ours is a range of one.
    let ranges: Vec<Value> = (task.ports.iter())
        .map(|port| json!({ "begin": port, "end": port }))
        .collect();
    let offer = json!({ "hostname": task.id.host });
    json!({
        "taskId": task.id,
        "taskRequest": task_request,
        "offer": offer,
        "offers": [offer],
        "mesosTask": {
            "taskId": { "value": task.id.id },
            "resources": [{ "name": "ports", "ranges": { "range": ranges } }],
        },
        "rackId": task.id.rack_id,
    })
}

/// `SingularityTaskId.valueOf`: the six parts split from the end on `-` (the request id may
/// hold `-`), `startedAt` and `instanceNo` numbers. `Err` is the exception's message.
pub(in crate::singularity) fn parse_task_id(id: &str) -> Result<(), String> {
    let parts: Vec<&str> = id.split('-').collect();
    if parts.len() < 6 {
        return Err(format!(
            "TaskId {id} was invalid (There must be at least 5 instances of - (there were {}))",
            parts.len() - 1
        ));
    }
    let n = parts.len();
    let (started_at, instance_no) = (parts[n - 4], parts[n - 3]);
    let bad =
        |part: &str| format!("TaskId {id} had an invalid parameter (For input string: \"{part}\")");
    started_at.parse::<i64>().map_err(|_| bad(started_at))?;
    instance_no.parse::<i32>().map_err(|_| bad(instance_no))?;
    Ok(())
}

/// A refusal for a task id `valueOf` cannot read, as the history and sandbox resources word it.
pub(in crate::singularity) fn check_history_task_id(task_id: &str) -> Result<(), Refusal> {
    parse_task_id(task_id)
        .map_err(|why| bad_request(format!("{task_id} is not a valid task id: {why}")))
}

#[cfg(test)]
mod tests {
    use super::parse_task_id;

    #[test]
    fn task_ids_are_read_as_singularity_reads_them() {
        assert_eq!(
            parse_task_id("hello-mesos-d1-1700000000000-1-localhost-DEFAULT"),
            Ok(())
        );
        assert_eq!(
            parse_task_id("a-b"),
            Err(
                "TaskId a-b was invalid (There must be at least 5 instances of - (there were 1))"
                    .into()
            )
        );
        assert_eq!(
            parse_task_id("r-d-x-1-h-DEFAULT"),
            Err(
                "TaskId r-d-x-1-h-DEFAULT had an invalid parameter (For input string: \"x\")"
                    .into()
            )
        );
    }
}
