//! `HistoryResource`: what became of a deploy, and a request's deploys, newest first
//! (`getDeploys`, `DeployHistoryHelper`: each deploy's marker and, once it has one, its
//! result; the deploy itself only in the one deploy's history).

use axum::{
    extract::{Path, RawQuery, State},
    http::StatusCode,
};
use serde_json::{Value, json};

use super::{Answer, Refusal, bad_request, dropwizard, ok, query::Params};
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

/// The deploy histories; an unknown request has none (the real one answers an empty list).
pub(super) async fn deploys<R: Runtime>(
    State(singularity): State<Singularity<R>>,
    Path(request_id): Path<String>,
    query: RawQuery,
) -> Answer {
    let (start, count) = limits(&Params::of(query))?;
    let state = singularity.inner.state.lock().await;
    let mut histories: Vec<Value> = Vec::new();
    if let Some(entry) = state.requests.get(&request_id) {
        // `SingularityDeployHistory.compareTo`: the newer marker first (timestamp, then id).
        let mut deploys: Vec<_> = entry.deploys.iter().collect();
        deploys.sort_by(|a, b| {
            (b.marker.timestamp, &b.marker.deploy_id)
                .cmp(&(a.marker.timestamp, &a.marker.deploy_id))
        });
        for deploy in deploys.into_iter().skip(start).take(count) {
            let mut history = json!({ "deployMarker": json!(deploy.marker) });
            if let Some(result) = &deploy.result {
                history["deployResult"] = json!(result);
            }
            histories.push(history);
        }
    }
    Ok(ok(Value::Array(histories)))
}

/// `getLimitCount` and `getLimitStart`: 100 a page by default, at most 1000; pages from 1.
fn limits(query: &Params) -> Result<(usize, usize), Refusal> {
    let count = match query.number::<i32>("count")? {
        None => 100,
        Some(count) if count < 0 => return Err(bad_request("count param must be non-zero")),
        Some(count) => count.min(1000),
    };
    let start = match query.number::<i32>("page")? {
        None => 0,
        Some(page) if page < 1 => return Err(bad_request("page param must be 1 or greater")),
        Some(page) => i64::from(count) * (i64::from(page) - 1),
    };
    let count = usize::try_from(count).unwrap_or_default();
    Ok((usize::try_from(start).unwrap_or(usize::MAX), count))
}
