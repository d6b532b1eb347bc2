//! `RequestResource`: saving, listing, reading, pausing and unpausing requests.

use axum::{
    body::Bytes,
    extract::{Path, State, rejection::BytesRejection},
    http::{HeaderMap, StatusCode},
};

use serde_json::Value;

use super::{
    Answer, Refusal, bad_request,
    disasters::check_enabled,
    dropwizard, not_found, ok, read_body, unmodelled,
    validate::{validate_changes, validate_request},
};
use crate::{
    runtime::Runtime,
    singularity::{
        Singularity, checker, limits,
        objects::Request,
        state::{RequestEntry, State as Model},
    },
};

pub(super) async fn save_request<R: Runtime>(
    State(singularity): State<Singularity<R>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let request = read_body::<Request>(&headers, body)?;
    // `RequestResource.submitRequest`: the id, a pending deploy that changes the request,
    // the action's switch, and only then the validator.
    let Some(id) = request.id.clone() else {
        return Err(bad_request("Request must have an id"));
    };
    let mut state = singularity.inner.state.lock().await;
    check_no_changing_deploy(state.requests.get(&id), &id)?;
    let action = if state.requests.contains_key(&id) {
        "UPDATE_REQUEST"
    } else {
        "CREATE_REQUEST"
    };
    check_enabled(&state, action)?;
    let request = validate_request(request)?;
    let count = state.requests.len();
    match state.requests.get_mut(&id) {
        Some(entry) => {
            validate_changes(&entry.request, &request)?;
            entry.request = request;
        }
        // This platform's own limit: Singularity keeps as many as ZooKeeper holds.
        None if count >= limits::MAX_REQUESTS => {
            return Err(bad_request(limits::too_many_requests()));
        }
        None => {
            state
                .requests
                .insert(id.clone(), RequestEntry::new(request));
        }
    }
    Ok(ok(entire_parent(&state, &state.requests[&id])))
}

/// `submitRequest`'s first check (a save, a scale): no pending deploy brings its own
/// request data, which would overwrite this change.
pub(super) fn check_no_changing_deploy(
    entry: Option<&RequestEntry>,
    id: &str,
) -> Result<(), Refusal> {
    let pending = entry.and_then(|e| e.pending.as_ref());
    if pending.is_some_and(|p| p.updated_request.is_some()) {
        return Err(dropwizard(
            StatusCode::CONFLICT,
            &format!(
                "Request {id} has a pending deploy that may change the request data. Try again when the deploy has finished"
            ),
        ));
    }
    Ok(())
}

pub(super) async fn get_request<R: Runtime>(
    State(singularity): State<Singularity<R>>,
    Path(id): Path<String>,
) -> Answer {
    let state = singularity.inner.state.lock().await;
    let entry = state.requests.get(&id).ok_or_else(|| not_found(&id))?;
    Ok(ok(entire_parent(&state, entry)))
}

/// `fillEntireRequest`, with which Singularity answers a save, a read, a pause, an unpause, a
/// scale and a deploy: the request parent with its task ids by status.
pub(super) fn entire_parent(state: &Model, entry: &RequestEntry) -> Value {
    let mut parent = entry.parent_json();
    let id = entry.request.id.as_deref().unwrap_or_default();
    parent["taskIds"] = super::tasks::ids_json(state, id);
    parent
}

/// Pausing stops the request's tasks, as Singularity's pause cleans them up.
pub(super) async fn pause<R: Runtime>(
    State(singularity): State<Singularity<R>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    unmodelled::check_no_options(&body, "a pause")?;
    let parent = {
        let mut state = singularity.inner.state.lock().await;
        let entry = state.requests.get_mut(&id).ok_or_else(|| not_found(&id))?;
        if !entry.pause() {
            return Err(dropwizard(
                StatusCode::CONFLICT,
                &format!(
                    "Request {id} is paused. Unable to pause (it must be manually unpaused first)"
                ),
            ));
        }
        entire_parent(&state, &state.requests[&id])
    };
    checker::stop_request_tasks(&singularity.inner, &id).await;
    Ok(ok(parent))
}

/// Unpausing starts the active deploy's tasks again.
pub(super) async fn unpause<R: Runtime>(
    State(singularity): State<Singularity<R>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    unmodelled::check_no_options(&body, "an unpause")?;
    let (parent, active) = {
        let mut state = singularity.inner.state.lock().await;
        let entry = state.requests.get_mut(&id).ok_or_else(|| not_found(&id))?;
        if let Err(current) = entry.unpause() {
            return Err(dropwizard(
                StatusCode::CONFLICT,
                &format!("Request {id} is not in PAUSED state, it is in {current}"),
            ));
        }
        let active = entry.active_deploy.clone();
        (entire_parent(&state, &state.requests[&id]), active)
    };
    if let Some(deploy_id) = active {
        checker::restart(&singularity.inner, &id, &deploy_id).await;
    }
    Ok(ok(parent))
}
