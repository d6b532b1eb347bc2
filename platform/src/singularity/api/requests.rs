//! `RequestResource`: saving, listing, reading, pausing and unpausing requests.

use axum::{
    body::Bytes,
    extract::{Path, State, rejection::BytesRejection},
    http::{HeaderMap, StatusCode},
    response::Response,
};
use serde_json::Value;

use super::{
    Answer, bad_request,
    disasters::check_enabled,
    dropwizard, not_found, ok, read_body,
    validate::{check_changes, check_request},
};
use crate::{
    runtime::Runtime,
    singularity::{Singularity, checker, limits, objects::Request, state::RequestEntry},
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
    if let Some(entry) = state.requests.get(&id)
        && entry
            .pending
            .as_ref()
            .is_some_and(|p| p.updated_request.is_some())
    {
        return Err(dropwizard(
            StatusCode::CONFLICT,
            &format!(
                "Request {id} has a pending deploy that may change the request data. Try again when the deploy has finished"
            ),
        ));
    }
    let action = if state.requests.contains_key(&id) {
        "UPDATE_REQUEST"
    } else {
        "CREATE_REQUEST"
    };
    check_enabled(&state, action)?;
    let request = check_request(request)?;
    let count = state.requests.len();
    match state.requests.get_mut(&id) {
        Some(entry) => {
            check_changes(&entry.request, &request)?;
            entry.request = request;
            Ok(ok(entry.parent_json()))
        }
        // This platform's own limit: Singularity keeps as many as ZooKeeper holds.
        None if count >= limits::MAX_REQUESTS => Err(bad_request(limits::too_many_requests())),
        None => {
            let entry = state.requests.entry(id).or_insert(RequestEntry {
                request,
                state: "ACTIVE",
                active_deploy: None,
                pending: None,
                deploys: Vec::new(),
            });
            Ok(ok(entry.parent_json()))
        }
    }
}

pub(super) async fn list_requests<R: Runtime>(
    State(singularity): State<Singularity<R>>,
) -> Response {
    let state = singularity.inner.state.lock().await;
    ok(Value::Array(
        state
            .requests
            .values()
            .map(RequestEntry::parent_json)
            .collect(),
    ))
}

pub(super) async fn get_request<R: Runtime>(
    State(singularity): State<Singularity<R>>,
    Path(id): Path<String>,
) -> Answer {
    let state = singularity.inner.state.lock().await;
    let entry = state.requests.get(&id).ok_or_else(|| not_found(&id))?;
    Ok(ok(entry.parent_json()))
}

/// Pausing stops the request's tasks, as Singularity's pause cleans them up.
pub(super) async fn pause<R: Runtime>(
    State(singularity): State<Singularity<R>>,
    Path(id): Path<String>,
) -> Answer {
    let parent = {
        let mut state = singularity.inner.state.lock().await;
        let entry = state.requests.get_mut(&id).ok_or_else(|| not_found(&id))?;
        if entry.state == "PAUSED" {
            return Err(dropwizard(
                StatusCode::CONFLICT,
                &format!(
                    "Request {id} is paused. Unable to pause (it must be manually unpaused first)"
                ),
            ));
        }
        entry.state = "PAUSED";
        // A deploy in progress fails at the checker's next look: make that now.
        if let Some(pending) = &entry.pending {
            pending.wake.notify_one();
        }
        entry.parent_json()
    };
    checker::stop_request_tasks(&singularity.inner, &id).await;
    Ok(ok(parent))
}

/// Unpausing starts the active deploy's tasks again.
pub(super) async fn unpause<R: Runtime>(
    State(singularity): State<Singularity<R>>,
    Path(id): Path<String>,
) -> Answer {
    let (parent, active) = {
        let mut state = singularity.inner.state.lock().await;
        let entry = state.requests.get_mut(&id).ok_or_else(|| not_found(&id))?;
        if entry.state != "PAUSED" {
            return Err(dropwizard(
                StatusCode::CONFLICT,
                &format!(
                    "Request {id} is not in PAUSED state, it is in {}",
                    entry.state
                ),
            ));
        }
        entry.state = "ACTIVE";
        (entry.parent_json(), entry.active_deploy.clone())
    };
    if let Some(deploy_id) = active {
        checker::restart(&singularity.inner, &id, &deploy_id).await;
    }
    Ok(ok(parent))
}
