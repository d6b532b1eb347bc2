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
//!
//! Each concern has its file: [`requests`], [`list`], [`request_actions`], [`deploys`],
//! [`history`], [`tasks`], [`sandbox`], [`counts`] and [`disasters`] hold the resources'
//! handlers, [`validate`] the validator's rules (no HTTP in them), [`query`] the reading of
//! query strings; this file the routes and the shapes of answers they share.

mod counts;
mod deploys;
mod disasters;
mod history;
mod list;
mod query;
mod request_actions;
mod requests;
mod sandbox;
mod tasks;
mod unmodelled;
mod validate;

use axum::{
    Router,
    body::Bytes,
    extract::{DefaultBodyLimit, rejection::BytesRejection},
    http::{HeaderMap, StatusCode, header::CONTENT_TYPE},
    response::{IntoResponse, Response},
    routing::{delete, get, post, put},
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Singularity, limits};
use crate::runtime::Runtime;
use deploys::{cancel_deploy, start_deploy};
use disasters::{disable_action, disabled_actions, enable_action};
use history::{deploy_history, deploys};
use requests::{get_request, pause, save_request, unpause};

pub(super) fn routes<R: Runtime>(singularity: Singularity<R>) -> Router {
    Router::new()
        .route(
            "/api/requests",
            post(save_request::<R>).get(list::list::<R>),
        )
        .route(
            "/api/requests/request/{id}",
            get(get_request::<R>).delete(request_actions::delete::<R>),
        )
        .route(
            "/api/requests/request/{id}/scale",
            put(request_actions::scale::<R>),
        )
        .route(
            "/api/requests/request/{id}/bounce",
            post(request_actions::bounce::<R>),
        )
        .route("/api/requests/request/{id}/pause", post(pause::<R>))
        .route("/api/requests/request/{id}/unpause", post(unpause::<R>))
        .route(
            "/api/requests/request/{id}/run",
            post(unmodelled::run_request),
        )
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
            "/api/history/request/{request_id}/deploys",
            get(deploys::<R>),
        )
        .route("/api/tasks/active", get(tasks::active::<R>))
        .route("/api/tasks/task/{task_id}", get(tasks::active_task::<R>))
        .route(
            "/api/tasks/ids/request/{request_id}",
            get(tasks::ids_by_status::<R>),
        )
        .route("/api/sandbox/{task_id}/read", get(sandbox::read::<R>))
        .route("/api/state", get(counts::state::<R>))
        .route(
            "/api/disasters/disabled-actions",
            get(disabled_actions::<R>),
        )
        .route(
            "/api/disasters/disabled-actions/{action}",
            post(disable_action::<R>).delete(enable_action::<R>),
        )
        // Jersey's answers to a path no resource has and to a method a path does not take, or
        // the platform's refusal, for an endpoint of Singularity's that it does not model.
        .fallback(unmodelled::no_route)
        .method_not_allowed_fallback(unmodelled::wrong_method)
        .layer(DefaultBodyLimit::max(limits::MAX_BODY))
        .with_state(singularity)
}

pub(super) type Answer = Result<Response, Refusal>;

/// A refused call, as Singularity's server words it.
pub(in crate::singularity) enum Refusal {
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
                crate::json(status, body.to_string())
            }
        }
    }
}

/// An error as Dropwizard's exception mappers write it.
pub(super) fn dropwizard(status: StatusCode, message: &str) -> Refusal {
    Refusal::Mapped(status, message.into())
}

/// A 400 as `checkBadRequest` writes it.
pub(super) fn bad_request(message: impl Into<String>) -> Refusal {
    Refusal::BadRequest(message.into())
}

pub(super) fn ok(body: Value) -> Response {
    crate::json(StatusCode::OK, body.to_string())
}

/// The body, read as Jackson reads it into `T` (unknown fields ignored, as Singularity's
/// ObjectMapper does); one over [`limits::MAX_BODY`] is refused, this platform's own limit.
pub(super) fn read_body<T: for<'de> Deserialize<'de>>(
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

pub(super) fn not_found(request_id: &str) -> Refusal {
    dropwizard(
        StatusCode::NOT_FOUND,
        &format!("Couldn't find request with id {request_id}"),
    )
}
