//! What the model knows — requests, their deploys, the tasks — and how each renders as the
//! JSON Singularity answers with. Singularity's ObjectMapper leaves absent optionals out
//! (`Include.NON_ABSENT`), so an absent field here is left out too, never `null`.

use std::{
    collections::{BTreeMap, VecDeque},
    sync::Arc,
    time::Instant,
};

use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::Notify;

use super::{
    lifecycle::{DeployState, FailureReason, RequestState},
    objects::{Deploy, Request, non_absent},
};

/// Everything the model holds, behind one lock.
#[derive(Default)]
pub(crate) struct State {
    pub requests: BTreeMap<String, RequestEntry>,
    /// Every task started, oldest first (finished ones are trimmed to the newest few).
    pub tasks: Vec<TaskEntry>,
    /// Actions an administrator disabled (`POST /api/disasters/disabled-actions/{action}`),
    /// with the message a refused call gets.
    pub disabled_actions: BTreeMap<String, String>,
}

impl State {
    /// Sets a live task's status; whether it was still live (a stopped or failed one stays as
    /// it ended).
    pub fn set_status(&mut self, task_id: &str, status: TaskStatus) -> bool {
        match self.tasks.iter_mut().find(|t| t.id.id == task_id) {
            Some(task) if task.status.live() => {
                task.status = status;
                true
            }
            _ => false,
        }
    }

    /// Records the digest of the image `task_id` runs.
    pub fn set_digest(&mut self, task_id: &str, digest: Option<String>) {
        if let Some(task) = self.tasks.iter_mut().find(|t| t.id.id == task_id) {
            task.digest = digest;
        }
    }
}

pub(crate) struct RequestEntry {
    /// The SingularityRequest as saved, `requestType` filled in.
    pub request: Request,
    pub state: RequestState,
    pub active_deploy: Option<String>,
    pub pending: Option<Pending>,
    /// The deploys started for this request, oldest first (the oldest finished ones are
    /// purged, see [`RequestEntry::purge_history`]).
    pub deploys: Vec<DeployEntry>,
}

/// A deploy being checked: `SingularityPendingDeploy`.
pub(crate) struct Pending {
    pub deploy_id: String,
    /// `WAITING` until the deploy has a result.
    pub state: DeployState,
    pub target_instances: usize,
    /// 0 until every instance is healthy (`markStepLaunchFinished`), then their number.
    pub active_instances: usize,
    /// Set with `active_instances`; the deploy succeeds at the check after.
    pub step_launch_complete: bool,
    /// The deploy progress's timestamp (epoch millis): when the deploy started, then when
    /// its progress last changed (each `SingularityDeployProgress.with…` takes the time).
    pub timestamp: u64,
    pub updated_request: Option<Request>,
    /// Set by `DELETE /api/deploys/deploy/{id}/request/{id}`: when the cancel was asked.
    pub cancel_requested: Option<u64>,
    /// Wakes the deploy's checker between two looks (a cancel, a pause), so that it does
    /// not wait out the health-check interval.
    pub wake: Arc<Notify>,
}

pub(crate) struct DeployEntry {
    pub deploy: Deploy,
    pub marker: Marker,
    pub result: Option<DeployResult>,
}

non_absent! {
    /// `SingularityDeployMarker`: who started the deploy, when, and why.
    #[derive(Clone, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub(crate) struct Marker {
        pub request_id: String,
        pub deploy_id: String,
        pub timestamp: u64,
        pub user: Option<String>,
        pub message: Option<String>,
    }
}

non_absent! {
    /// `SingularityDeployResult`.
    #[derive(Clone, Serialize)]
    pub(crate) struct DeployResult {
        #[serde(rename = "deployState")]
        pub state: DeployState,
        pub message: Option<String>,
        #[serde(rename = "deployFailures")]
        pub failures: Vec<Failure>,
        pub timestamp: u64,
    }
}

non_absent! {
    /// `SingularityDeployFailure`: one task's (or the deploy's) cause.
    #[derive(Clone, Debug, PartialEq, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub(crate) struct Failure {
        pub reason: FailureReason,
        pub task_id: Option<TaskId>,
        pub message: Option<String>,
    }
}

/// `SingularityTaskId`, as Singularity serialises it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TaskId {
    pub request_id: String,
    pub deploy_id: String,
    pub started_at: u64,
    pub instance_no: usize,
    pub host: String,
    pub sanitized_host: String,
    pub sanitized_rack_id: String,
    pub rack_id: String,
    /// `{requestId}-{deployId}-{startedAt}-{instanceNo}-{sanitizedHost}-{sanitizedRackId}`.
    pub id: String,
}

impl TaskId {
    pub fn new(request_id: &str, deploy_id: &str, instance_no: usize, host: &str) -> TaskId {
        let started_at = now_millis();
        // Singularity replaces `-` in host and rack names, so that the id splits back on `-`.
        let sanitized_host = host.replace('-', "_");
        let rack = "DEFAULT";
        TaskId {
            id: format!(
                "{request_id}-{deploy_id}-{started_at}-{instance_no}-{sanitized_host}-{rack}"
            ),
            request_id: request_id.into(),
            deploy_id: deploy_id.into(),
            started_at,
            instance_no,
            host: host.into(),
            sanitized_host,
            sanitized_rack_id: rack.into(),
            rack_id: rack.into(),
        }
    }

    /// `SingularityMesosTaskBuilder.fillInTaskIdValues`: the placeholders Singularity
    /// replaces in an `env` value, and only those (any other `${…}` stays as written).
    pub fn fill_in(&self, value: &str) -> String {
        value
            .replace("${TASK_REQUEST_ID}", &self.request_id)
            .replace("${TASK_DEPLOY_ID}", &self.deploy_id)
            .replace("${TASK_STARTED_AT}", &self.started_at.to_string())
            .replace("${TASK_INSTANCE_NO}", &self.instance_no.to_string())
            .replace("${TASK_HOST}", &self.host)
            .replace("${TASK_RACK_ID}", &self.rack_id)
            .replace("${TASK_ID}", &self.id)
    }
}

/// A task the model started, and what it knows of it.
pub(crate) struct TaskEntry {
    pub id: TaskId,
    pub ports: Vec<u16>,
    pub status: TaskStatus,
    /// The newest health checks, oldest first.
    pub checks: VecDeque<HealthcheckResult>,
    /// Whether its last check's connection was refused (Singularity's start-up check).
    pub refused: bool,
    /// How many of its checks failed otherwise (an HTTP error, a timeout).
    pub nonstartup_checks: u64,
    /// Its last lines of output, kept once it has ended.
    pub lines: Vec<String>,
    /// The digest of the image it runs, when the agent pulled it from a registry.
    pub digest: Option<String>,
}

/// A task's life as Mesos reports it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum TaskStatus {
    Starting,
    Running {
        since: Instant,
        healthy: bool,
    },
    /// Ended by itself: its exit code, and why as Mesos words it.
    Failed {
        code: Option<i32>,
        message: String,
    },
    /// Stopped by the platform (a newer deploy succeeded, or this one failed).
    Killed,
}

impl TaskStatus {
    pub fn live(&self) -> bool {
        matches!(self, TaskStatus::Starting | TaskStatus::Running { .. })
    }

    /// The Mesos task state, as the page shows it.
    pub fn name(&self) -> &'static str {
        match self {
            TaskStatus::Starting => "TASK_STARTING",
            TaskStatus::Running { .. } => "TASK_RUNNING",
            TaskStatus::Failed { code: Some(0), .. } => "TASK_FINISHED",
            TaskStatus::Failed { .. } => "TASK_FAILED",
            TaskStatus::Killed => "TASK_KILLED",
        }
    }
}

/// How many health checks of a task are kept.
pub(crate) const CHECKS_KEPT: usize = 10;

/// One health check: when, and the status it got or why it got none.
#[derive(Clone, Debug, Serialize)]
pub struct HealthcheckResult {
    /// Epoch milliseconds.
    pub at: u64,
    pub status: Option<u16>,
    pub error: Option<String>,
}

impl HealthcheckResult {
    pub fn passed(&self) -> bool {
        self.status
            .is_some_and(|status| (200..300).contains(&status))
    }
}

pub(crate) use crate::now_millis;

/// A duration as Singularity prints one in messages (`JavaUtils.durationFromMillis`:
/// `DurationFormatUtils`, `mm:ss.SSS`): minutes, seconds, milliseconds, e.g. `00:45.012`.
pub(crate) fn duration_text(millis: u128) -> String {
    let (minutes, rest) = (millis / 60_000, millis % 60_000);
    format!("{minutes:02}:{:02}.{:03}", rest / 1000, rest % 1000)
}

impl Marker {
    /// Java's `toString()` of the marker, which the 409 message quotes.
    fn java(&self) -> String {
        format!(
            "SingularityDeployMarker{{requestId='{}', deployId='{}', timestamp={}, user={}, message={}}}",
            self.request_id,
            self.deploy_id,
            self.timestamp,
            java_optional(&self.user),
            java_optional(&self.message)
        )
    }
}

fn java_optional(value: &Option<String>) -> String {
    value
        .as_ref()
        .map_or("Optional.empty".into(), |v| format!("Optional[{v}]"))
}

impl RequestEntry {
    pub fn deploy(&self, deploy_id: &str) -> Option<&DeployEntry> {
        self.deploys
            .iter()
            .find(|d| d.marker.deploy_id == deploy_id)
    }

    /// Keeps the newest `kept` deploys and always the active and pending ones: older ones
    /// leave the history, as Singularity's history purger removes old deploys.
    pub fn purge_history(&mut self, kept: usize) {
        let mut extra = self.deploys.len().saturating_sub(kept);
        let mut protected: Vec<String> = self.active_deploy.iter().cloned().collect();
        protected.extend(self.pending.as_ref().map(|p| p.deploy_id.clone()));
        protected.extend(self.deploys.last().map(|d| d.marker.deploy_id.clone()));
        self.deploys.retain(|d| {
            if extra == 0 || protected.contains(&d.marker.deploy_id) {
                return true;
            }
            extra -= 1;
            false
        });
    }

    pub fn deploy_mut(&mut self, deploy_id: &str) -> Option<&mut DeployEntry> {
        self.deploys
            .iter_mut()
            .find(|d| d.marker.deploy_id == deploy_id)
    }

    /// `SingularityPendingDeploy`, as `pendingDeployState` shows it.
    fn pending_json(&self, pending: &Pending) -> Value {
        let marker = self
            .deploy(&pending.deploy_id)
            .map(|d| json!(d.marker))
            .unwrap_or_default();
        let mut state = json!({
            "deployMarker": marker,
            "currentDeployState": pending.state,
            "deployProgress": {
                "targetActiveInstances": pending.target_instances,
                "currentActiveInstances": pending.active_instances,
                "stepLaunchComplete": pending.step_launch_complete,
                "failedDeployTasks": [],
                "timestamp": pending.timestamp,
                "lbUpdates": {},
                "stepAcceptanceResults": {},
                "acceptanceResultMessageHistory": [],
                "canary": false,
            },
        });
        if let Some(updated) = &pending.updated_request {
            state["updatedRequest"] = json!(updated);
        }
        state
    }

    /// Java's `toString()` of the pending deploy, which the 409 message quotes.
    pub fn pending_java(&self) -> String {
        let Some(pending) = &self.pending else {
            return "null".into();
        };
        let marker = self
            .deploy(&pending.deploy_id)
            .map_or("null".into(), |d| d.marker.java());
        format!(
            "SingularityPendingDeploy{{deployMarker={marker}, currentDeployState={}, \
             deployProgress=SingularityDeployProgress{{targetActiveInstances={}, \
             currentActiveInstances={}, stepLaunchComplete={}, stepAcceptanceResults={{}}, \
             acceptanceResultMessageHistory=[], failedDeployTasks=[], timestamp={}, lbUpdates={{}}, \
             pendingLbUpdate=Optional.empty, canary=false}}, updatedRequest={}}}",
            pending.state,
            pending.target_instances,
            pending.active_instances,
            pending.step_launch_complete,
            pending.timestamp,
            if pending.updated_request.is_some() {
                "Optional[SingularityRequest{…}]"
            } else {
                "Optional.empty"
            },
        )
    }

    /// `SingularityRequestParent`: what `GET /api/requests/request/{id}` and the POSTs answer.
    pub fn parent_json(&self) -> Value {
        let request_id = self.request.id.as_deref().unwrap_or_default();
        let mut parent = json!({ "request": self.request, "state": self.state });
        let mut deploy_state = json!({ "requestId": request_id });
        if let Some(active) = self.active_deploy.as_deref().and_then(|id| self.deploy(id)) {
            parent["activeDeploy"] = json!(active.deploy);
            deploy_state["activeDeploy"] = json!(active.marker);
        }
        if let Some(pending) = &self.pending {
            if let Some(deploy) = self.deploy(&pending.deploy_id) {
                parent["pendingDeploy"] = json!(deploy.deploy);
                deploy_state["pendingDeploy"] = json!(deploy.marker);
            }
            parent["pendingDeployState"] = self.pending_json(pending);
        }
        // `SingularityRequestDeployState` is saved with the first deploy: absent before.
        if !self.deploys.is_empty() {
            parent["requestDeployState"] = deploy_state;
        }
        parent
    }

    /// `SingularityDeployHistory`: the marker and the deploy from the moment it is started,
    /// the result once it has one.
    pub fn history_json(&self, deploy_id: &str) -> Option<Value> {
        let deploy = self.deploy(deploy_id)?;
        let mut history = json!({ "deployMarker": deploy.marker, "deploy": deploy.deploy });
        if let Some(result) = &deploy.result {
            history["deployResult"] = json!(result);
        }
        Some(history)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(deploys: usize, active: Option<&str>, pending: Option<&str>) -> RequestEntry {
        let deploys = (1..=deploys)
            .map(|n| DeployEntry {
                deploy: Deploy::default(),
                marker: Marker {
                    request_id: "r".into(),
                    deploy_id: format!("d{n}"),
                    timestamp: 0,
                    user: None,
                    message: None,
                },
                result: None,
            })
            .collect();
        RequestEntry {
            request: Request::default(),
            state: RequestState::Active,
            active_deploy: active.map(Into::into),
            pending: pending.map(|id| Pending {
                deploy_id: id.into(),
                state: DeployState::Waiting,
                target_instances: 1,
                active_instances: 0,
                step_launch_complete: false,
                timestamp: 0,
                updated_request: None,
                cancel_requested: None,
                wake: Default::default(),
            }),
            deploys,
        }
    }

    fn ids(entry: &RequestEntry) -> Vec<&str> {
        entry
            .deploys
            .iter()
            .map(|d| d.marker.deploy_id.as_str())
            .collect()
    }

    #[test]
    fn the_history_purge_keeps_the_newest_and_the_active_and_pending_ones() {
        let mut entry = self::entry(6, Some("d1"), Some("d2"));
        entry.purge_history(3);
        assert_eq!(ids(&entry), ["d1", "d2", "d6"]);

        let mut entry = self::entry(6, Some("d5"), None);
        entry.purge_history(3);
        assert_eq!(ids(&entry), ["d4", "d5", "d6"]);

        let mut entry = self::entry(2, None, None);
        entry.purge_history(3);
        assert_eq!(ids(&entry), ["d1", "d2"]);
    }
}
