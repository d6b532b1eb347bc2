//! `GET /api/requests`, as `RequestResource.getRequests` and
//! `RequestHelper.fillDataForRequestsAndFilter` answer it: each `SingularityRequestParent`
//! with its `request`, `state` and `requestDeployState` only (no deploys, no
//! `pendingDeployState`), the one last acted on first; with `includeFullRequestData=true`,
//! each with its `taskIds` too. `requestType` (repeatable) filters, `limit` cuts the list.
//!
//! Where this differs: the last action is the active deploy's time, else the pending one's,
//! also with `includeFullRequestData` (Singularity then reads the request's own history,
//! which the model does not keep). `useWebCache`, `skipCache` and `filterRelevantForUser`
//! change nothing here (no cache, no users), as on a server without authentication.

use axum::extract::{RawQuery, State};
use serde_json::Value;

use super::{
    Answer, ok,
    query::{Params, unconvertible},
    tasks::ids_json,
};
use crate::runtime::Runtime;
use crate::singularity::{Singularity, objects::RequestType, state::RequestEntry};

pub(in crate::singularity) async fn list<R: Runtime>(
    State(singularity): State<Singularity<R>>,
    query: RawQuery,
) -> Answer {
    let query = Params::of(query);
    let types = (query.all("requestType"))
        .map(|name| serde_json::from_value(Value::String(name.into())))
        .collect::<Result<Vec<RequestType>, _>>()
        .map_err(|_| unconvertible())?;
    // Java's `Boolean.valueOf`: "true" in any case, anything else false.
    let full =
        (query.text("includeFullRequestData")).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let limit = query.number::<i32>("limit")?;
    let state = singularity.inner.state.lock().await;
    let mut entries: Vec<&RequestEntry> = (state.requests.values())
        .filter(|e| types.is_empty() || e.request.request_type.is_some_and(|t| types.contains(&t)))
        .collect();
    // Newest action first; a stable sort keeps the others by id.
    entries.sort_by_key(|entry| std::cmp::Reverse(last_action(entry)));
    // `Stream.limit` throws on a negative limit: Jersey's 500, which the model words as a 400.
    let limit = match limit.map(usize::try_from) {
        None => usize::MAX,
        Some(Ok(limit)) => limit,
        Some(Err(_)) => {
            return Err(super::bad_request(
                "This practice platform takes no negative limit",
            ));
        }
    };
    let parents = (entries.into_iter().take(limit))
        .map(|entry| {
            let mut parent = entry.parent_json();
            if let Some(fields) = parent.as_object_mut() {
                for deploy_data in ["activeDeploy", "pendingDeploy", "pendingDeployState"] {
                    fields.remove(deploy_data);
                }
            }
            if full && let Some(id) = &entry.request.id {
                parent["taskIds"] = ids_json(&state, id);
            }
            parent
        })
        .collect();
    Ok(ok(Value::Array(parents)))
}

/// The active deploy's marker time, else the pending deploy's, else 0.
fn last_action(entry: &RequestEntry) -> u64 {
    let time = |id: Option<&String>| {
        id.and_then(|id| entry.deploy(id))
            .map(|d| d.marker.timestamp)
    };
    time(entry.active_deploy.as_ref())
        .or_else(|| time(entry.pending.as_ref().map(|p| &p.deploy_id)))
        .unwrap_or(0)
}
