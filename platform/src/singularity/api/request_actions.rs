//! Removing, scaling and bouncing a request, as `RequestResource` does them.
//!
//! Where this differs: a scale up of a request whose tasks run is refused (the model starts
//! tasks only for a deploy or an unpause: deploy again with more instances); a scale down
//! stops the tasks of the highest instance numbers, as Singularity's cleanup does. Bounces,
//! expiring scales (`durationMillis`) and the skipping of health checks are refused.

use axum::{
    body::Bytes,
    extract::{Path, State, rejection::BytesRejection},
    http::HeaderMap,
};
use serde::Deserialize;
use serde_json::json;

use crate::singularity::lifecycle::RequestState;

use super::{
    Answer, Refusal, bad_request,
    disasters::check_enabled,
    not_found, ok, read_body,
    requests::{check_no_changing_deploy, entire_parent},
    validate::validate_request,
};
use crate::runtime::Runtime;
use crate::singularity::{Singularity, checker, jackson::JavaInt};

/// `SingularityDeleteRequestRequest`.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeleteOptions {
    /// Kept by Singularity in the request's history and its mail, which the model has not.
    #[allow(dead_code)]
    message: Option<String>,
    #[allow(dead_code)]
    action_id: Option<String>,
    delete_from_load_balancer: Option<bool>,
}

/// `DELETE /api/requests/request/{requestId}`: answers the request as it was, stops its
/// tasks; it is then gone, its deploy history with it.
pub(in crate::singularity) async fn delete<R: Runtime>(
    State(singularity): State<Singularity<R>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let options = if body.as_ref().is_ok_and(Bytes::is_empty) {
        DeleteOptions::default()
    } else {
        read_body::<DeleteOptions>(&headers, body)?
    };
    let request = {
        let mut state = singularity.inner.state.lock().await;
        let entry = state.requests.get(&id).ok_or_else(|| not_found(&id))?;
        check_enabled(&state, "REMOVE_REQUEST")?;
        if options.delete_from_load_balancer == Some(true) {
            return Err(bad_request(
                "This practice platform has no load balancer to delete a request from",
            ));
        }
        if let Some(pending) = &entry.pending {
            return Err(bad_request(format!(
                "This practice platform does not delete a request while its deploy {} is in progress: cancel it first",
                pending.deploy_id
            )));
        }
        state.requests.remove(&id).map(|entry| entry.request)
    };
    checker::stop_request_tasks(&singularity.inner, &id).await;
    Ok(ok(json!(request)))
}

/// `SingularityScaleRequest`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ScaleRequest {
    instances: Option<JavaInt>,
    duration_millis: Option<i64>,
    skip_healthchecks: Option<bool>,
    /// Singularity writes it in the request's history and its mail, which the model has not.
    #[allow(dead_code)]
    message: Option<String>,
    #[allow(dead_code)]
    action_id: Option<String>,
    bounce: Option<bool>,
    #[allow(dead_code)]
    incremental: Option<bool>,
    #[allow(dead_code)]
    skip_email_notification: Option<bool>,
}

/// `PUT /api/requests/request/{requestId}/scale`: the request saved with the new
/// `instances` (validated as a saved request is), the tasks then brought to that number.
pub(in crate::singularity) async fn scale<R: Runtime>(
    State(singularity): State<Singularity<R>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let scale = read_body::<ScaleRequest>(&headers, body)?;
    let (parent, instances) = {
        let mut state = singularity.inner.state.lock().await;
        let entry = state.requests.get(&id).ok_or_else(|| not_found(&id))?;
        check_enabled(&state, "SCALE_REQUEST")?;
        let mut request = entry.request.clone();
        request.instances = scale.instances;
        let request = validate_request(request)?;
        let (old, new) = (entry.request.instances(), request.instances());
        if old == new {
            return Err(bad_request(format!(
                "Scale request has no affect on the # of instances ({new})"
            )));
        }
        if scale.bounce == Some(true) {
            return Err(no_bounces());
        }
        if scale.duration_millis.is_some() || scale.skip_healthchecks.is_some() {
            return Err(bad_request(
                "This practice platform does not model expiring scales or skipped health checks",
            ));
        }
        check_no_changing_deploy(Some(entry), &id)?;
        let running = entry.active_deploy.is_some() && entry.state != RequestState::Paused;
        if new > old && running {
            return Err(bad_request(format!(
                "This practice platform starts tasks only for a deploy: deploy again with {new} instances"
            )));
        }
        let entry = state.requests.get_mut(&id).ok_or_else(|| not_found(&id))?;
        entry.request = request;
        let entry = state.requests.get(&id).ok_or_else(|| not_found(&id))?;
        (
            entire_parent(&state, entry),
            usize::try_from(new).unwrap_or(1),
        )
    };
    checker::stop_instances_above(&singularity.inner, &id, instances).await;
    Ok(ok(parent))
}

/// `POST /api/requests/request/{requestId}/bounce`: refused, after the request is found.
pub(in crate::singularity) async fn bounce<R: Runtime>(
    State(singularity): State<Singularity<R>>,
    Path(id): Path<String>,
) -> Answer {
    let state = singularity.inner.state.lock().await;
    state.requests.get(&id).ok_or_else(|| not_found(&id))?;
    Err(no_bounces())
}

fn no_bounces() -> Refusal {
    bad_request("This practice platform does not model bounces: deploy again to restart the tasks")
}
