//! `HistoryResource`: what became of a deploy.

use axum::{
    extract::{Path, State},
    http::StatusCode,
};

use super::{Answer, dropwizard, ok};
use crate::{runtime::Runtime, singularity::Singularity};

pub(super) async fn deploy_history<R: Runtime>(
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
