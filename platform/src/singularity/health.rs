//! The health checks of a deploy's tasks, as `SingularityHealthchecker` makes them: an HTTP
//! `GET` of the deploy's URI on the task's port, its status recorded on the task.

use std::{sync::Arc, time::Duration};

use super::{
    Inner,
    decide::{Life, Look, Timing},
    state::{CHECKS_KEPT, HealthcheckResult, TaskStatus, now_millis},
};
use crate::runtime::Runtime;

/// Where a deploy's health check goes: its URI, and an index into the task's ports or a
/// fixed port number.
pub(super) struct HealthTarget {
    pub uri: String,
    pub port: HealthPort,
}

#[derive(Clone, Copy)]
pub(super) enum HealthPort {
    Index(usize),
    Number(u16),
}

/// Checks every running task of the look that has not passed yet, all at once, and records
/// each check on its task. Without a health check, a task is healthy once running for
/// `considerHealthyAfterRunningForSeconds`.
pub(super) async fn check_tasks<R: Runtime>(
    inner: &Arc<Inner<R>>,
    look: &Look,
    target: Option<&HealthTarget>,
    timing: &Timing,
) {
    let mut checks = Vec::new();
    for task in &look.tasks {
        let Life::Running {
            running_for,
            healthy: false,
        } = task.life
        else {
            continue;
        };
        let Some(target) = target else {
            if running_for >= timing.consider_healthy {
                mark_healthy(inner, &task.id.id).await;
            }
            continue;
        };
        let port = match target.port {
            HealthPort::Number(number) => number,
            HealthPort::Index(index) => task.ports.get(index).copied().unwrap_or_default(),
        };
        let url = health_url(&inner.settings.task_host, port, &target.uri);
        let (inner, task_id, timeout) = (Arc::clone(inner), task.id.id.clone(), timing.response);
        checks.push(tokio::spawn(async move {
            let (check, refused) = health_check(&inner.health, &url, timeout).await;
            let passed = check.passed();
            let mut state = inner.state.lock().await;
            if let Some(task) = state.tasks.iter_mut().find(|t| t.id.id == task_id) {
                task.checks.push_back(check);
                while task.checks.len() > CHECKS_KEPT {
                    task.checks.pop_front();
                }
                task.refused = refused;
                if !passed && !refused {
                    task.nonstartup_checks += 1;
                }
                if let TaskStatus::Running { healthy, .. } = &mut task.status {
                    *healthy = passed;
                }
            }
        }));
    }
    for check in checks {
        let _ = check.await;
    }
}

/// `SingularityHealthchecker.getHealthcheckUri`: a leading `/` of the deploy's URI is
/// dropped and one always put back, so `health` and `/health` check the same path.
fn health_url(host: &str, port: u16, uri: &str) -> String {
    format!(
        "http://{host}:{port}/{}",
        uri.strip_prefix('/').unwrap_or(uri)
    )
}

async fn mark_healthy<R: Runtime>(inner: &Inner<R>, task_id: &str) {
    let mut state = inner.state.lock().await;
    if let Some(task) = state.tasks.iter_mut().find(|t| t.id.id == task_id)
        && let TaskStatus::Running { healthy, .. } = &mut task.status
    {
        *healthy = true;
    }
}

/// `GET url`: the status, or why there is none, and whether the connection was refused
/// (Singularity's "startup" check: a `ConnectException`, nothing listening yet). The body is
/// never read (a check needs only the status), redirects are followed as the client's policy
/// allows (within the task's origin), and `timeout` bounds the whole exchange, redirects
/// included.
async fn health_check(
    client: &reqwest::Client,
    url: &str,
    timeout: Duration,
) -> (HealthcheckResult, bool) {
    let at = now_millis();
    match client.get(url).timeout(timeout).send().await {
        Ok(response) => (
            HealthcheckResult {
                at,
                status: Some(response.status().as_u16()),
                error: None,
            },
            false,
        ),
        Err(err) => (
            HealthcheckResult {
                at,
                status: None,
                error: Some(if err.is_timeout() {
                    "timed out".to_string()
                } else {
                    root_cause(&err)
                }),
            },
            err.is_connect() && !err.is_timeout(),
        ),
    }
}

fn root_cause(err: &dyn std::error::Error) -> String {
    let mut cause = err;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}
