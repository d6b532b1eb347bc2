//! `DisastersResource`: actions switched off and on again, and the check each resource
//! makes before acting.

use axum::{
    body::Bytes,
    extract::{Path, State, rejection::BytesRejection},
    http::{HeaderMap, StatusCode},
    response::IntoResponse,
};
use serde::Deserialize;

use super::{Answer, Refusal, dropwizard, read_body};
use crate::{
    runtime::Runtime,
    singularity::{Singularity, state::State as Model},
};

/// The actions that can be disabled here (`SingularityAction`, the ones this model has).
const ACTIONS: [&str; 4] = [
    "CREATE_REQUEST",
    "UPDATE_REQUEST",
    "DEPLOY",
    "CANCEL_DEPLOY",
];

/// `SingularityValidator.checkActionEnabled`: 409, "Cannot perform action {action}: {message}"
/// (`DisasterManager`).
pub(super) fn check_enabled(state: &Model, action: &str) -> Result<(), Refusal> {
    match state.disabled_actions.get(action) {
        Some(message) => Err(dropwizard(
            StatusCode::CONFLICT,
            &format!("Cannot perform action {action}: {message}"),
        )),
        None => Ok(()),
    }
}

#[derive(Deserialize)]
struct DisabledActionRequest {
    message: Option<String>,
}

/// `DisastersResource.disableAction`: answers 204, as a `void` resource method does.
pub(super) async fn disable_action<R: Runtime>(
    State(singularity): State<Singularity<R>>,
    Path(action): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    if !ACTIONS.contains(&action.as_str()) {
        return Err(dropwizard(StatusCode::NOT_FOUND, "HTTP 404 Not Found"));
    }
    let message = if body.as_ref().is_ok_and(Bytes::is_empty) {
        None
    } else {
        read_body::<DisabledActionRequest>(&headers, body)?.message
    };
    let mut state = singularity.inner.state.lock().await;
    state.disabled_actions.insert(
        action,
        message.unwrap_or_else(|| "Action is currently disabled".into()),
    );
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) async fn enable_action<R: Runtime>(
    State(singularity): State<Singularity<R>>,
    Path(action): Path<String>,
) -> Answer {
    let mut state = singularity.inner.state.lock().await;
    state.disabled_actions.remove(&action);
    Ok(StatusCode::NO_CONTENT.into_response())
}
