//! The page a learner keeps open at `http://localhost:7099/`, as Singularity's UI was kept open
//! in the workshop: requests, deploys and their state, tasks with their health checks and last
//! log lines, and discovery's announcements. One self-contained HTML file (no external assets,
//! nothing to build) that asks `/platform/state` for a snapshot every second, and a task's
//! last lines (`/platform/tasks/{taskId}/logs`) only while the learner has them open.

use axum::{
    Router,
    extract::{Path, State},
    http::{StatusCode, header},
    response::{Html, IntoResponse, Response},
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
/// the page at `/` and its snapshot at [`STATE_PATH`].
pub fn router<R: Runtime>(singularity: Singularity<R>, discovery: Discovery) -> Router {
    Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route(STATE_PATH, get(state::<R>))
        .route("/platform/tasks/{task_id}/logs", get(task_lines::<R>))
        .with_state((singularity.clone(), discovery))
        .merge(singularity.router())
}

/// What the page shows, in one JSON document.
#[derive(Serialize)]
struct Snapshot {
    singularity: singularity::View,
    discovery: discovery::View,
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
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
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
