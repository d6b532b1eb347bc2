//! The HTTP API: paths, validation and answers as Singularity's resources give them
//! (`RequestResource`, `DeployResource`, `HistoryResource`, `SingularityValidator`).
//!
//! Two kinds of error bodies, as Jersey and Dropwizard produce them:
//! - Singularity's `checkBadRequest` builds its own response: **400, `text/plain`, the
//!   message** (`WebExceptions.webException`); Jersey sends an exception that carries an
//!   entity as it is, without exception mappers.
//! - `checkConflict`/`checkNotFound` throw a bare `WebApplicationException(message, status)`:
//!   Dropwizard's `LoggingExceptionMapper` (which Singularity's `NotifyingExceptionMapper`
//!   extends) answers **`application/json` `{"code": 409, "message": "…"}`**.
//! - A body Jackson cannot read (not JSON, or a field of the wrong type) never reaches the
//!   resource: Dropwizard's `JsonProcessingExceptionMapper` (Dropwizard 1.3, Singularity's
//!   version) answers **400 `{"code": 400, "message": "Unable to process JSON"}`**, without
//!   details (they are only shown in debug mode). A body sent without
//!   `Content-Type: application/json` gets Jersey's 415, through the same mapper.

use axum::{
    Router,
    body::Bytes,
    extract::{DefaultBodyLimit, Path, State, rejection::BytesRejection},
    http::{HeaderMap, StatusCode, header::CONTENT_TYPE},
    response::{IntoResponse, Response},
    routing::{delete, get, post},
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    Settings, Singularity, checker, limits,
    objects::{Deploy, JavaInt, Request, RequestType},
    state::{DeployEntry, Marker, Pending, RequestEntry, State as Model, now_millis},
};
use crate::runtime::Runtime;

pub(super) fn routes<R: Runtime>(singularity: Singularity<R>) -> Router {
    Router::new()
        .route(
            "/api/requests",
            post(save_request::<R>).get(list_requests::<R>),
        )
        .route("/api/requests/request/{id}", get(get_request::<R>))
        .route("/api/requests/request/{id}/pause", post(pause::<R>))
        .route("/api/requests/request/{id}/unpause", post(unpause::<R>))
        .route("/api/deploys", post(start_deploy::<R>))
        .route(
            "/api/deploys/deploy/{deploy_id}/request/{request_id}",
            delete(cancel_deploy::<R>),
        )
        .route(
            "/api/history/request/{request_id}/deploy/{deploy_id}",
            get(deploy_history::<R>),
        )
        .route(
            "/api/disasters/disabled-actions/{action}",
            post(disable_action::<R>).delete(enable_action::<R>),
        )
        // Jersey's answers to a path no resource has, and to a method a path does not take.
        .fallback(|| async { dropwizard(StatusCode::NOT_FOUND, "HTTP 404 Not Found") })
        .method_not_allowed_fallback(|| async {
            dropwizard(
                StatusCode::METHOD_NOT_ALLOWED,
                "HTTP 405 Method Not Allowed",
            )
        })
        .layer(DefaultBodyLimit::max(limits::MAX_BODY))
        .with_state(singularity)
}

/// Most limits are Singularity's defaults (`SingularityConfiguration`, `MesosConfiguration`).
const MAX_REQUEST_ID: usize = 100;
const MAX_DEPLOY_ID: usize = 50;
const MAX_INSTANCES: i64 = 25;
const MAX_CPUS_PER_INSTANCE: i32 = 50;
const MAX_CPUS_PER_REQUEST: i32 = 900;
const MAX_MEMORY_MB_PER_INSTANCE: i32 = 24_000;
const MAX_MEMORY_MB_PER_REQUEST: i32 = 450_000;
const MAX_DISK_MB_PER_INSTANCE: i32 = 60_000;
const MAX_DISK_MB_PER_REQUEST: i32 = 3_000_000;

type Answer = Result<Response, Refusal>;

/// A refused call, as Singularity's server words it.
pub(super) enum Refusal {
    /// `checkBadRequest`: 400, the message as plain text.
    BadRequest(String),
    /// Through Dropwizard's exception mappers: `{"code", "message"}` as JSON.
    Mapped(StatusCode, String),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::BadRequest(message) => (
                StatusCode::BAD_REQUEST,
                [(CONTENT_TYPE, "text/plain")],
                message,
            )
                .into_response(),
            Refusal::Mapped(status, message) => {
                let body = json!({ "code": status.as_u16(), "message": message });
                (
                    status,
                    [(CONTENT_TYPE, "application/json")],
                    body.to_string(),
                )
                    .into_response()
            }
        }
    }
}

/// An error as Dropwizard's exception mappers write it.
fn dropwizard(status: StatusCode, message: &str) -> Refusal {
    Refusal::Mapped(status, message.into())
}

/// A 400 as `checkBadRequest` writes it.
fn bad_request(message: impl Into<String>) -> Refusal {
    Refusal::BadRequest(message.into())
}

fn ok(body: Value) -> Response {
    (
        StatusCode::OK,
        [(CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// The body, read as Jackson reads it into `T` (unknown fields ignored, as Singularity's
/// ObjectMapper does); one over [`limits::MAX_BODY`] is refused, this platform's own limit.
fn read_body<T: for<'de> Deserialize<'de>>(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<T, Refusal> {
    if !crate::guard::is_json(headers) {
        return Err(dropwizard(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "HTTP 415 Unsupported Media Type",
        ));
    }
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => Refusal::Mapped(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "This practice platform takes bodies of at most {} KiB",
                limits::MAX_BODY / 1024
            ),
        ),
        status => Refusal::Mapped(status, rejection.body_text()),
    })?;
    let unreadable = || dropwizard(StatusCode::BAD_REQUEST, "Unable to process JSON");
    let value: Value = serde_json::from_slice(&body).map_err(|_| unreadable())?;
    // Jackson reads an object only from a JSON object (serde would take an array too).
    if !value.is_object() {
        return Err(unreadable());
    }
    T::deserialize(&value).map_err(|_| unreadable())
}

/// `SingularityValidator.checkSingularityRequest`: the request as it is saved, `requestType`
/// derived from the deprecated `daemon`/`loadBalanced` when missing (`RequestType.java`).
fn check_request(request: Request) -> Result<Request, Refusal> {
    let Some(id) = &request.id else {
        return Err(bad_request("Request must have an id"));
    };
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        // Sic: the pattern allows `-`, the message does not say so.
        return Err(bad_request(
            "Id cannot be null or contain characters other than [a-zA-Z0-9_]",
        ));
    }
    let request_type = request
        .request_type
        .unwrap_or(if request.schedule.is_some() {
            RequestType::Scheduled
        } else if !request.daemon.unwrap_or(true) {
            RequestType::OnDemand
        } else if request.load_balanced.unwrap_or(false) {
            RequestType::Service
        } else {
            RequestType::Worker
        });
    if request.owners.as_ref().is_some_and(|o| o.contains(&None)) {
        return Err(bad_request("Request owners cannot contain null values"));
    }
    if id.len() > MAX_REQUEST_ID {
        return Err(bad_request(format!(
            "Request id must be less {MAX_REQUEST_ID} characters or less, it is {} ({id})",
            id.len()
        )));
    }
    if request.instances.is_some_and(|n| n.0 <= 0) {
        return Err(bad_request("Instances must be greater than 0"));
    }
    let instances = i64::from(request.instances.map_or(1, |n| n.0));
    if instances > MAX_INSTANCES {
        return Err(bad_request(format!(
            "Instances ({instances}) be greater than {MAX_INSTANCES} (maxInstancesPerRequest in mesos configuration)"
        )));
    }
    Ok(Request {
        request_type: Some(request_type),
        ..request.with_agent_twins()
    })
}

/// `checkForIllegalChanges`: a request's type stays, except a WORKER and a SERVICE that is
/// not load balanced, which may become each other; whether it is load balanced stays.
fn check_changes(existing: &Request, request: &Request) -> Result<(), Refusal> {
    // Both were saved through `check_request`, which sets the type.
    let kind = |r: &Request| r.request_type.unwrap_or(RequestType::Worker);
    let balanced = |r: &Request| r.load_balanced.unwrap_or(false);
    let (from, to) = (kind(existing), kind(request));
    if from != to {
        use RequestType::{Service, Worker};
        let allowed = (from == Service && !balanced(existing) && to == Worker)
            || (to == Service && !balanced(request) && from == Worker);
        if !allowed {
            return Err(bad_request(format!(
                "Request can not change requestType from {} to {}",
                from.name(),
                to.name()
            )));
        }
    }
    if balanced(existing) != balanced(request) {
        return Err(bad_request(
            "Request can not change whether it is load balanced",
        ));
    }
    Ok(())
}

/// The actions that can be disabled here (`SingularityAction`, the ones this model has).
const ACTIONS: [&str; 4] = [
    "CREATE_REQUEST",
    "UPDATE_REQUEST",
    "DEPLOY",
    "CANCEL_DEPLOY",
];

/// `SingularityValidator.checkActionEnabled`: 409, "Cannot perform action {action}: {message}"
/// (`DisasterManager`).
fn check_enabled(state: &Model, action: &str) -> Result<(), Refusal> {
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
async fn disable_action<R: Runtime>(
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

async fn enable_action<R: Runtime>(
    State(singularity): State<Singularity<R>>,
    Path(action): Path<String>,
) -> Answer {
    let mut state = singularity.inner.state.lock().await;
    state.disabled_actions.remove(&action);
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn save_request<R: Runtime>(
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

async fn list_requests<R: Runtime>(State(singularity): State<Singularity<R>>) -> Response {
    let state = singularity.inner.state.lock().await;
    ok(Value::Array(
        state
            .requests
            .values()
            .map(RequestEntry::parent_json)
            .collect(),
    ))
}

fn not_found(request_id: &str) -> Refusal {
    dropwizard(
        StatusCode::NOT_FOUND,
        &format!("Couldn't find request with id {request_id}"),
    )
}

async fn get_request<R: Runtime>(
    State(singularity): State<Singularity<R>>,
    Path(id): Path<String>,
) -> Answer {
    let state = singularity.inner.state.lock().await;
    let entry = state.requests.get(&id).ok_or_else(|| not_found(&id))?;
    Ok(ok(entry.parent_json()))
}

/// Pausing stops the request's tasks, as Singularity's pause cleans them up.
async fn pause<R: Runtime>(
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
async fn unpause<R: Runtime>(
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

/// `MesosConfiguration`'s defaults for a deploy without `resources`.
const DEFAULT_RESOURCES: (f64, f64, i32, f64) = (1.0, 64.0, 0, 0.0);

/// `SingularityValidator.checkDeploy` and `checkForIllegalResources`, in their order.
/// Returns the deploy as stored (the deprecated `healthcheckUri` converted to `healthcheck`,
/// as `SingularityDeploy`'s constructor does; scalars as Jackson coerced them). The
/// platform's settings stand for the configuration's health-check defaults.
fn check_deploy(
    deploy: Deploy,
    request_id: &str,
    instances: i64,
    used: bool,
    settings: &Settings,
) -> Result<Deploy, Refusal> {
    let deploy = deploy.with_healthcheck_folded();
    let Some(deploy_id) = &deploy.id else {
        return Err(bad_request("Id must not be null"));
    };
    if deploy_id.is_empty()
        || !deploy_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
    {
        return Err(bad_request(
            "Id cannot be null or contain characters other than [a-zA-Z0-9_.]",
        ));
    }
    if deploy_id.len() > MAX_DEPLOY_ID {
        return Err(bad_request(format!(
            "Deploy id must be {MAX_DEPLOY_ID} characters or less, it is {} ({deploy_id})",
            deploy_id.len()
        )));
    }
    if deploy.request_id.as_deref() != Some(request_id) {
        return Err(bad_request("Deploy id must match request id"));
    }
    if (deploy.env.iter().flatten())
        .any(|(k, v)| k == "STARTED_BY_USER" || v.0.contains("STARTED_BY_USER"))
    {
        return Err(bad_request("Cannot override STARTED_BY_USER in env"));
    }
    if deploy
        .command
        .as_deref()
        .is_some_and(|c| c.contains("STARTED_BY_USER"))
    {
        return Err(bad_request("Cannot override STARTED_BY_USER in command"));
    }
    check_resources(&deploy, deploy_id, instances)?;
    let healthcheck =
        (deploy.healthcheck.as_ref()).map(|h| (h.uri.clone(), h.port_index, h.port_number));
    if let Some((uri, port_index, port_number)) = healthcheck {
        if let Some(resources) = &deploy.resources {
            if port_index.is_some() && port_number.is_some() {
                return Err(bad_request(
                    "Can only specify one of portIndex or portNumber for healthchecks",
                ));
            }
            if let Some(JavaInt(index)) = port_index {
                if index < 0 {
                    return Err(bad_request("healthcheckPortIndex cannot be negative"));
                }
                let num_ports = resources.num_ports.0;
                if num_ports <= index {
                    return Err(bad_request(format!(
                        "Must request {} ports for healthcheckPortIndex {index}, only requested {num_ports}",
                        i64::from(index) + 1
                    )));
                }
            }
        }
        if uri.as_deref().unwrap_or_default().is_empty() {
            return Err(bad_request(
                "Must specify a uri or a healthcheck result file pathh when specifying health check parameters",
            ));
        }
        let num_ports = deploy.resources.as_ref().map_or(0, |r| r.num_ports.0);
        if port_number.is_none() && num_ports == 0 {
            return Err(bad_request(
                "Either an explicit port number, or port resources and port index must be specified to run healthchecks against a uri",
            ));
        }
    }
    limits::check_timings(&deploy, settings).map_err(bad_request)?;
    let docker = deploy
        .container_info
        .as_ref()
        .and_then(|c| c.docker.as_ref());
    if deploy.command.is_none() && deploy.container_info.is_none() {
        return Err(bad_request(
            "If not using custom executor, specify a command or containerInfo. If using custom executor, specify executorData and customExecutorCmd and no command.",
        ));
    }
    if deploy
        .container_info
        .as_ref()
        .is_some_and(|c| c.kind.is_none())
    {
        return Err(bad_request("Container type must not be null"));
    }
    if docker.is_none() {
        // Not Singularity's rule: this platform only runs Docker images.
        return Err(bad_request(
            "This practice platform runs Docker images only: set containerInfo.docker.image",
        ));
    }
    if used {
        return Err(bad_request(
            "Can not deploy a deploy that has already been deployed",
        ));
    }
    Ok(deploy)
}

/// `checkForIllegalResources`, with `MesosConfiguration`'s limits; numbers as Java's `%s`
/// prints them.
fn check_resources(deploy: &Deploy, deploy_id: &str, instances: i64) -> Result<(), Refusal> {
    let (cpus, memory_mb, disk_mb) = match &deploy.resources {
        Some(r) => (r.cpus.0, r.memory_mb.0, r.disk_mb.0),
        None => (
            DEFAULT_RESOURCES.0,
            DEFAULT_RESOURCES.1,
            DEFAULT_RESOURCES.3,
        ),
    };
    if cpus <= 0.0 {
        return Err(bad_request("Request must have more than 0 cpus"));
    }
    if memory_mb <= 0.0 {
        return Err(bad_request("Request must have more than 0 memoryMb"));
    }
    if disk_mb < 0.0 {
        return Err(bad_request("Request must have non-negative diskMb"));
    }
    let n = instances as f64;
    let limits = [
        (
            cpus,
            MAX_CPUS_PER_INSTANCE,
            MAX_CPUS_PER_REQUEST,
            "many cpus",
            "maxCpusPerInstance",
            "cpusPerRequest",
        ),
        (
            memory_mb,
            MAX_MEMORY_MB_PER_INSTANCE,
            MAX_MEMORY_MB_PER_REQUEST,
            "much memoryMb",
            "maxMemoryMbPerInstance",
            "maxMemoryMbPerRequest",
        ),
        (
            disk_mb,
            MAX_DISK_MB_PER_INSTANCE,
            MAX_DISK_MB_PER_REQUEST,
            "much diskMb",
            "maxDiskMbPerInstance",
            "maxDiskMbPerRequest",
        ),
    ];
    for (value, per_instance, per_request, what, instance_name, request_name) in limits {
        if value > f64::from(per_instance) {
            return Err(bad_request(format!(
                "Deploy {deploy_id} uses too {what} {} ({instance_name} {per_instance} in mesos configuration)",
                java_double(value)
            )));
        }
        if value * n > f64::from(per_request) {
            return Err(bad_request(format!(
                "Deploy {deploy_id} uses too {what} {} ({}*{instances}) ({request_name} {per_request} in mesos configuration)",
                java_double(value * n),
                java_double(value)
            )));
        }
    }
    Ok(())
}

/// A `double` as Java's `String.valueOf` prints it in most cases: `100.0`, `0.5`.
fn java_double(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e7 {
        format!("{value:.1}")
    } else {
        value.to_string()
    }
}

async fn start_deploy<R: Runtime>(
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
    let updated_request = fields.updated_request.map(check_request).transpose()?;
    let instances = updated_request
        .as_ref()
        .unwrap_or(&entry.request)
        .instances();
    if !fields.unpause_on_successful_deploy && entry.state == "PAUSED" {
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
    let stored = check_deploy(deploy, &request_id, instances, used, settings)?;
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
    entry.pending = Some(Pending {
        deploy_id: deploy_id.clone(),
        state: "WAITING",
        target_instances: usize::try_from(instances).unwrap_or(1),
        active_instances: 0,
        step_launch_complete: false,
        timestamp,
        updated_request,
        cancel_requested: None,
        wake: Default::default(),
    });
    // A paused request deployed with `unpauseOnSuccessfulDeploy` (`deployToUnpause`).
    if fields.unpause_on_successful_deploy && entry.state == "PAUSED" {
        entry.state = "DEPLOYING_TO_UNPAUSE";
    }
    // `DeployResource.deploy` answers with the request the deploy will bring, if it brings one.
    let mut parent = entry.parent_json();
    if let Some(updated) = entry
        .pending
        .as_ref()
        .and_then(|p| p.updated_request.as_ref())
    {
        parent["request"] = json!(updated);
    }
    drop(state);
    tokio::spawn(checker::run(
        std::sync::Arc::clone(&singularity.inner),
        request_id,
        deploy_id,
    ));
    Ok(ok(parent))
}

async fn cancel_deploy<R: Runtime>(
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
    match &mut entry.pending {
        Some(pending) if pending.deploy_id == deploy_id => {
            pending.cancel_requested.get_or_insert_with(now_millis);
            // The checker may be between two looks, an interval apart: it looks at once.
            pending.wake.notify_one();
        }
        _ => {
            return Err(bad_request(format!(
                "Request {request_id} does not have a pending deploy {deploy_id}"
            )));
        }
    }
    Ok(ok(entry.parent_json()))
}

async fn deploy_history<R: Runtime>(
    State(singularity): State<Singularity<R>>,
    Path((request_id, deploy_id)): Path<(String, String)>,
) -> Answer {
    let state = singularity.inner.state.lock().await;
    state
        .requests
        .get(&request_id)
        .and_then(|entry| entry.history_json(&deploy_id))
        .map(ok)
        .ok_or_else(|| {
            dropwizard(
                StatusCode::NOT_FOUND,
                &format!(
                    "Deploy history for request {request_id} and deploy {deploy_id} not found"
                ),
            )
        })
}
