//! `StateResource`: the counts the model keeps of the whole cluster (`SingularityState`).
//!
//! `SingularityState` has some forty counts; the model answers those it can count truly
//! (requests by state, tasks, deploys in progress) and leaves out the agents', racks',
//! late tasks' and load balancers', which a laptop has none of or does not track.

use axum::{extract::State, response::Response};
use serde_json::{Value, json};

use super::ok;
use crate::runtime::Runtime;
use crate::singularity::{
    Singularity,
    lifecycle::RequestState,
    state::{TaskStatus, now_millis},
};

/// `GET /api/state`, as `StateManager.generateState` counts.
pub(in crate::singularity) async fn state<R: Runtime>(
    State(singularity): State<Singularity<R>>,
) -> Response {
    let state = singularity.inner.state.lock().await;
    let requests = state.requests.values();
    // DEPLOYING_TO_UNPAUSE counts as active (`case DEPLOYING_TO_UNPAUSE: case ACTIVE:`).
    let paused = requests
        .clone()
        .filter(|e| e.state == RequestState::Paused)
        .count();
    let active = state.requests.len() - paused;
    let launching = (state.tasks.iter())
        .filter(|t| t.status == TaskStatus::Starting)
        .count();
    let live = state.tasks.iter().filter(|t| t.status.live()).count();
    // `activeDeploys` are the pending deploys' markers, and `numDeploys` their number.
    let deploys: Vec<Value> = requests
        .filter_map(|entry| entry.deploy(&entry.pending.as_ref()?.deploy_id))
        .map(|deploy| json!(deploy.marker))
        .collect();
    ok(json!({
        "activeTasks": live - launching,
        "launchingTasks": launching,
        "activeRequests": active,
        "pausedRequests": paused,
        "cooldownRequests": 0,
        "numDeploys": deploys.len(),
        "activeDeploys": deploys,
        "generatedAt": now_millis(),
    }))
}
