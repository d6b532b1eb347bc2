//! `DeployResource`: starting a deploy and cancelling it.

use axum::{
    body::Bytes,
    extract::{Path, State, rejection::BytesRejection},
    http::{HeaderMap, StatusCode},
};
use serde::Deserialize;
use serde_json::json;

use super::{
    Answer, bad_request,
    disasters::check_enabled,
    dropwizard, not_found, ok, read_body,
    requests::entire_parent,
    validate::{validate_deploy, validate_request},
};
use crate::{
    runtime::Runtime,
    singularity::{
        Singularity, checker,
        lifecycle::RequestState,
        limits,
        objects::{Deploy, Request},
        state::{DeployEntry, Marker, Pending, now_millis},
    },
};

/// `SingularityDeployRequest`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeployRequestFields {
    deploy: Option<Deploy>,
    #[serde(default)]
    unpause_on_successful_deploy: bool,
    message: Option<String>,
    updated_request: Option<Request>,
}

pub(super) async fn start_deploy<R: Runtime>(
    State(singularity): State<Singularity<R>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    // The first thing `DeployResource.deploy` checks.
    check_enabled(&*singularity.inner.state.lock().await, "DEPLOY")?;
    let fields = read_body::<DeployRequestFields>(&headers, body)?;
    let Some(deploy) = fields.deploy else {
        return Err(bad_request("DeployRequest must have a deploy object"));
    };
    let Some(request_id) = deploy.request_id.clone() else {
        return Err(bad_request("DeployRequest must have a non-null requestId"));
    };
    let mut state = singularity.inner.state.lock().await;
    let entry = state
        .requests
        .get_mut(&request_id)
        .ok_or_else(|| not_found(&request_id))?;
    let updated_request = fields.updated_request.map(validate_request).transpose()?;
    let instances = updated_request
        .as_ref()
        .unwrap_or(&entry.request)
        .instances();
    if !fields.unpause_on_successful_deploy && entry.state == RequestState::Paused {
        return Err(dropwizard(
            StatusCode::CONFLICT,
            &format!(
                "Request {request_id} is paused. Unable to deploy (it must be manually unpaused first)"
            ),
        ));
    }
    let deploy_id = deploy.id.clone().unwrap_or_default();
    let used = entry
        .deploys
        .iter()
        .any(|d| d.marker.deploy_id == deploy_id);
    let settings = &singularity.inner.settings;
    let stored = validate_deploy(deploy, &request_id, instances, used, settings)?;
    if entry.pending.is_some() {
        return Err(dropwizard(
            StatusCode::CONFLICT,
            &format!(
                "Pending deploy already in progress for {request_id} - cancel it or wait for it to complete ({})",
                entry.pending_java()
            ),
        ));
    }
    let timestamp = now_millis();
    // The deploy and its marker are saved before the answer: its history answers from now on.
    entry.deploys.push(DeployEntry {
        deploy: stored,
        marker: Marker {
            request_id: request_id.clone(),
            deploy_id: deploy_id.clone(),
            timestamp,
            // Singularity takes the user from authentication, of which this platform has none.
            user: None,
            message: fields.message,
        },
        result: None,
    });
    entry.purge_history(limits::DEPLOYS_KEPT);
    let target_instances = usize::try_from(instances).unwrap_or(1);
    let pending = Pending::new(&deploy_id, target_instances, timestamp, updated_request);
    entry.begin_deploy(pending, fields.unpause_on_successful_deploy);
    // `DeployResource.deploy` answers with the request the deploy will bring, if it brings one.
    let updated = entry
        .pending
        .as_ref()
        .and_then(|p| p.updated_request.as_ref())
        .map(|updated| json!(updated));
    let mut parent = entire_parent(&state, &state.requests[&request_id]);
    if let Some(updated) = updated {
        parent["request"] = updated;
    }
    drop(state);
    tokio::spawn(checker::run(
        std::sync::Arc::clone(&singularity.inner),
        request_id,
        deploy_id,
    ));
    Ok(ok(parent))
}

pub(super) async fn cancel_deploy<R: Runtime>(
    State(singularity): State<Singularity<R>>,
    Path((deploy_id, request_id)): Path<(String, String)>,
) -> Answer {
    let mut state = singularity.inner.state.lock().await;
    if !state.requests.contains_key(&request_id) {
        return Err(not_found(&request_id));
    }
    check_enabled(&state, "CANCEL_DEPLOY")?;
    let entry = state
        .requests
        .get_mut(&request_id)
        .ok_or_else(|| not_found(&request_id))?;
    if !entry.request_cancel(&deploy_id, now_millis()) {
        return Err(bad_request(format!(
            "Request {request_id} does not have a pending deploy {deploy_id}"
        )));
    }
    Ok(ok(entire_parent(&state, &state.requests[&request_id])))
}
