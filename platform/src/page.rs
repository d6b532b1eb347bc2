//! The page a learner keeps open at `http://localhost:7099/`, as Singularity's UI was kept open
//! in the workshop: requests, deploys and their state, tasks with their health checks and last
//! log lines, and discovery's announcements. An HTML file, its script and its style, served by
//! the platform itself (nothing from elsewhere, nothing to build); the script asks
//! `/platform/state` for a snapshot every second, and a task's last lines
//! (`/platform/tasks/{taskId}/logs`) only while the learner has them open.
//!
//! What it shows comes from anyone who can announce to discovery or deploy, so the page is
//! built to show it as text: its [`CONTENT_SECURITY_POLICY`] runs no script but the platform's
//! own file (no inline script, no `javascript:` link, no other site's script), and the script
//! puts every value in the page as text, making links only of `http`/`https` URIs.

use axum::{
    Router,
    extract::{Path, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use serde::Serialize;

use crate::{
    discovery::{self, Discovery},
    runtime::Runtime,
    singularity::{self, Singularity},
};

/// Where the page gets its snapshot.
pub const STATE_PATH: &str = "/platform/state";

/// Everything the platform serves on its API port: Singularity's API under `/singularity`,
/// the page at `/` (with `/page.js` and `/page.css`) and its snapshot at [`STATE_PATH`].
pub fn router<R: Runtime>(singularity: Singularity<R>, discovery: Discovery) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { page_file("text/html; charset=utf-8", PAGE) }),
        )
        .route(
            "/page.js",
            get(|| async { page_file("text/javascript; charset=utf-8", SCRIPT) }),
        )
        .route(
            "/page.css",
            get(|| async { page_file("text/css; charset=utf-8", STYLE) }),
        )
        .route(STATE_PATH, get(state::<R>))
        .route("/platform/tasks/{task_id}/logs", get(task_lines::<R>))
        .with_state((singularity.clone(), discovery))
        .merge(singularity.router())
}

/// What the page shows, in one JSON document.
#[derive(Serialize)]
struct Snapshot {
    singularity: singularity::ModelView,
    discovery: discovery::DiscoveryView,
}

async fn state<R: Runtime>(
    State((singularity, discovery)): State<(Singularity<R>, Discovery)>,
) -> Response {
    let snapshot = Snapshot {
        singularity: singularity.view().await,
        discovery: discovery.view(),
    };
    json(serde_json::to_string(&snapshot).unwrap_or_else(|_| "{}".into()))
}

/// A JSON answer the browser never caches.
fn json(body: String) -> Response {
    let answer = crate::json(StatusCode::OK, body);
    ([(header::CACHE_CONTROL, "no-store")], answer).into_response()
}

/// One task's last lines, a JSON array of strings; 404 for a task the page does not list.
async fn task_lines<R: Runtime>(
    State((singularity, _)): State<(Singularity<R>, Discovery)>,
    Path(task_id): Path<String>,
) -> Response {
    match singularity.task_lines(&task_id).await {
        Some(lines) => json(serde_json::to_string(&lines).unwrap_or_else(|_| "[]".into())),
        None => (StatusCode::NOT_FOUND, format!("No task {task_id}")).into_response(),
    }
}

const PAGE: &str = include_str!("page.html");
const SCRIPT: &str = include_str!("page.js");
const STYLE: &str = include_str!("page.css");

/// Scripts, styles and requests from the platform itself only; nothing else, not even a
/// form or a frame around the page (another site framing it could trick a click).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
     form-action 'none'";

/// One of the page's files, with the headers that keep it the platform's own: its policy,
/// and no `Referer` (the page's address) sent to a task's or a service's link.
fn page_file(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}
