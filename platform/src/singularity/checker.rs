//! The deploy checker, as `SingularityDeployChecker` and `SingularityDeployHealthHelper` decide:
//! start the deploy's tasks, look at them every check interval, and end the deploy.
//!
//! - a task that exits: `FAILED`, "At least 0 task(s) for this instance group failed" (the
//!   default `allowedTasksFailuresPerGroup` is 0), with a `TASK_FAILED_ON_STARTUP` failure
//!   carrying Mesos's status message (`TASK_EXPECTED_RUNNING_FINISHED` for exit 0);
//! - every task healthy: `SUCCEEDED`, and the previous deploy's tasks are stopped;
//! - a task running longer than the start-up timeout without a passing check: `FAILED`,
//!   "Not all tasks for deploy were healthy", one `TASK_FAILED_HEALTH_CHECKS` per such task;
//! - past the deploy timeout: `OVERDUE`, "Deploy was able to launch N tasks, but not all of
//!   them became healthy within …";
//! - a cancel: `CANCELED`, "Canceled due to request at {millis}".
//!
//! A deploy that did not succeed stops its own tasks; the previous deploy's keep serving.

use std::{
    collections::HashSet,
    net::TcpListener,
    sync::{
        Arc, LazyLock,
        atomic::{AtomicU32, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use serde_json::Value;

use super::{
    Inner,
    state::{
        CHECKS_KEPT, DeployResult, Failure, HealthCheck, State, TaskEntry, TaskId, TaskStatus,
        duration_text, now_millis,
    },
};
use crate::runtime::{self, Runtime, TaskSpec};

/// How many finished tasks are kept for the page.
const FINISHED_KEPT: usize = 50;

/// How many log lines a failure's message quotes.
const FAILURE_LOG_LINES: usize = 5;

/// What a deploy runs, read from the saved deploy.
struct Plan {
    image: String,
    env: Vec<(String, String)>,
    num_ports: usize,
    memory_mb: f64,
    cpus: f64,
    /// The health check's URI and the port it goes to: an index into the task's ports,
    /// or a fixed port number.
    health: Option<(String, HealthPort)>,
    instances: usize,
}

#[derive(Clone, Copy)]
enum HealthPort {
    Index(usize),
    Number(u16),
}

impl Plan {
    fn of(deploy: &Value, request: &Value) -> Plan {
        let resources = &deploy["resources"];
        let healthcheck = &deploy["healthcheck"];
        let health = healthcheck["uri"].as_str().map(|uri| {
            let port = match healthcheck["portNumber"].as_u64() {
                Some(number) => HealthPort::Number(u16::try_from(number).unwrap_or(0)),
                None => HealthPort::Index(healthcheck["portIndex"].as_u64().unwrap_or(0) as usize),
            };
            (uri.to_string(), port)
        });
        let env = deploy["env"]
            .as_object()
            .map(|env| {
                env.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        Plan {
            image: deploy["containerInfo"]["docker"]["image"]
                .as_str()
                .unwrap_or_default()
                .into(),
            env,
            num_ports: resources["numPorts"].as_u64().unwrap_or(0) as usize,
            memory_mb: resources["memoryMb"].as_f64().unwrap_or(64.0),
            cpus: resources["cpus"].as_f64().unwrap_or(1.0),
            health,
            instances: request["instances"].as_u64().unwrap_or(1).max(1) as usize,
        }
    }
}

/// Follows one deploy from its start to its end.
pub(super) async fn run<R: Runtime>(inner: Arc<Inner<R>>, request_id: String, deploy_id: String) {
    let started = Instant::now();
    let plan = {
        let state = inner.state.lock().await;
        let Some(entry) = state.requests.get(&request_id) else {
            return;
        };
        let request = entry
            .pending
            .as_ref()
            .and_then(|p| p.updated_request.as_ref())
            .unwrap_or(&entry.request);
        let Some(deploy) = entry
            .deploys
            .iter()
            .find(|d| d.marker.deploy_id == deploy_id)
        else {
            return;
        };
        Plan::of(&deploy.deploy, request)
    };
    let tasks = launch(&inner, &request_id, &deploy_id, &plan).await;
    let settings = &inner.settings;
    // Singularity checks deploys on a schedule, not at once: the first look comes one
    // interval after the tasks were started.
    loop {
        tokio::time::sleep(settings.check_interval).await;
        let result = check(&inner, &request_id, &tasks, &plan, started).await;
        if let Some(result) = result {
            finish(&inner, &request_id, &deploy_id, result).await;
            return;
        }
    }
}

/// One look at the deploy: its result once it has one.
async fn check<R: Runtime>(
    inner: &Arc<Inner<R>>,
    request_id: &str,
    tasks: &[String],
    plan: &Plan,
    started: Instant,
) -> Option<DeployResult> {
    let settings = &inner.settings;
    if let Some(at) = cancel_requested(inner, request_id).await {
        return Some(result(
            "CANCELED",
            format!("Canceled due to request at {at}"),
            Vec::new(),
        ));
    }
    refresh_statuses(inner, tasks).await;

    // A task that ended by itself fails the deploy at once.
    let snapshot = snapshot(inner, tasks).await;
    let failed: Vec<Failure> = snapshot
        .iter()
        .filter_map(|(id, status, _, _)| match status {
            TaskStatus::Failed { code, message } => Some(Failure {
                reason: if *code == Some(0) {
                    "TASK_EXPECTED_RUNNING_FINISHED"
                } else {
                    "TASK_FAILED_ON_STARTUP"
                },
                task_id: Some(id.clone()),
                message: Some(if *code == Some(0) {
                    format!(
                        "Task was expected to maintain TASK_RUNNING state but finished. ({message})"
                    )
                } else {
                    message.clone()
                }),
            }),
            _ => None,
        })
        .collect();
    if !failed.is_empty() {
        return Some(result(
            "FAILED",
            "At least 0 task(s) for this instance group failed".into(),
            failed,
        ));
    }

    let running = snapshot
        .iter()
        .filter(|(_, status, _, _)| matches!(status, TaskStatus::Running { .. }))
        .count();
    set_active_instances(inner, request_id, running).await;
    health_checks(inner, &snapshot, plan).await;
    let snapshot = self::snapshot(inner, tasks).await;
    let healthy = snapshot
        .iter()
        .filter(|(_, status, _, _)| matches!(status, TaskStatus::Running { healthy: true, .. }))
        .count();

    if healthy == plan.instances {
        // With no acceptance hooks, Singularity's message is their (empty) history joined.
        return Some(result("SUCCEEDED", String::new(), Vec::new()));
    }

    // Running, not healthy: how long for, and the last status its check got.
    let unhealthy: Vec<(TaskId, Duration, Option<u16>)> = snapshot
        .iter()
        .filter_map(|(id, status, last, _)| match status {
            TaskStatus::Running {
                since,
                healthy: false,
            } => Some((id.clone(), since.elapsed(), *last)),
            _ => None,
        })
        .collect();
    let timed_out = unhealthy
        .iter()
        .any(|(_, running, _)| *running > settings.startup_timeout);
    if timed_out && plan.health.is_some() {
        let failures = unhealthy
            .iter()
            .map(|(id, running, _)| {
                unhealthy_task(
                    id,
                    format!(
                        "has not responded to healthchecks after running for {}",
                        duration_text(running.as_millis())
                    ),
                )
            })
            .collect();
        return Some(result(
            "FAILED",
            "Not all tasks for deploy were healthy".into(),
            failures,
        ));
    }
    if started.elapsed() > settings.deploy_timeout {
        let mut failures: Vec<Failure> = unhealthy
            .iter()
            .map(|(id, running, last)| {
                let status = last.map_or(String::new(), |status| {
                    format!(" Last check returned with status code {status}")
                });
                unhealthy_task(
                    id,
                    format!(
                        "has been running for {} and has yet to pass healthchecks.{status}",
                        duration_text(running.as_millis())
                    ),
                )
            })
            .collect();
        if failures.is_empty() && snapshot.len() < plan.instances {
            failures.push(Failure {
                reason: "TASK_COULD_NOT_BE_SCHEDULED",
                task_id: None,
                message: Some(format!(
                    "Only {} of {} tasks could be launched for deploy, there may not be enough resources to launch the remaining tasks",
                    snapshot.len(),
                    plan.instances
                )),
            });
        }
        return Some(result(
            "OVERDUE",
            format!(
                "Deploy was able to launch {} tasks, but not all of them became healthy within {}",
                snapshot.len(),
                duration_text(settings.deploy_timeout.as_millis())
            ),
            failures,
        ));
    }
    None
}

/// A task that did not pass its health checks: "Instance N {what}".
fn unhealthy_task(id: &TaskId, what: String) -> Failure {
    Failure {
        reason: "TASK_FAILED_HEALTH_CHECKS",
        task_id: Some(id.clone()),
        message: Some(format!("Instance {} {what}", id.instance_no)),
    }
}

fn result(state: &'static str, message: String, failures: Vec<Failure>) -> DeployResult {
    // `getDeployResultWithFailures`: a single failure that names no task becomes the message.
    if let [only] = failures.as_slice()
        && only.task_id.is_none()
    {
        return DeployResult {
            state,
            message: only.message.clone(),
            failures: Vec::new(),
            timestamp: now_millis(),
        };
    }
    DeployResult {
        state,
        message: Some(message),
        failures,
        timestamp: now_millis(),
    }
}

async fn cancel_requested<R: Runtime>(inner: &Inner<R>, request_id: &str) -> Option<u64> {
    let state = inner.state.lock().await;
    state
        .requests
        .get(request_id)?
        .pending
        .as_ref()?
        .cancel_requested
}

async fn set_active_instances<R: Runtime>(inner: &Inner<R>, request_id: &str, count: usize) {
    let mut state = inner.state.lock().await;
    if let Some(pending) = state
        .requests
        .get_mut(request_id)
        .and_then(|r| r.pending.as_mut())
    {
        pending.active_instances = count;
    }
}

/// Each task's id, status, last health-check status and first port.
type Snapshot = Vec<(TaskId, TaskStatus, Option<u16>, Vec<u16>)>;

async fn snapshot<R: Runtime>(inner: &Inner<R>, tasks: &[String]) -> Snapshot {
    let state = inner.state.lock().await;
    state
        .tasks
        .iter()
        .filter(|t| tasks.contains(&t.id.id))
        .map(|t| {
            let last = t.checks.back().and_then(|c| c.status);
            (t.id.clone(), t.status.clone(), last, t.ports.clone())
        })
        .collect()
}

/// Asks the runtime whether each live task still runs; one that ended becomes `Failed` with
/// Mesos's message and its last lines.
pub(super) async fn refresh_statuses<R: Runtime>(inner: &Inner<R>, tasks: &[String]) {
    for task_id in tasks {
        let live = {
            let state = inner.state.lock().await;
            state
                .tasks
                .iter()
                .any(|t| &t.id.id == task_id && matches!(t.status, TaskStatus::Running { .. }))
        };
        if !live {
            continue;
        }
        if let runtime::TaskStatus::Exited { code } = inner.runtime.status(task_id).await {
            let lines = inner.runtime.logs(task_id, FAILURE_LOG_LINES).await;
            let mut message = match code {
                Some(code) => format!("Container exited with status {code}"),
                None => "Container terminated by a signal".to_string(),
            };
            if !lines.is_empty() {
                message.push_str(&format!("; last lines: {}", lines.join(" | ")));
            }
            set_status(inner, task_id, TaskStatus::Failed { code, message }).await;
        }
    }
}

async fn set_status<R: Runtime>(inner: &Inner<R>, task_id: &str, status: TaskStatus) {
    let mut state = inner.state.lock().await;
    if let Some(task) = state.tasks.iter_mut().find(|t| t.id.id == task_id) {
        // Only a live task changes: a stopped or failed one stays as it ended.
        if task.status.live() {
            task.status = status;
        }
    }
}

/// Checks every running task that has not passed yet, all at once.
async fn health_checks<R: Runtime>(inner: &Arc<Inner<R>>, snapshot: &Snapshot, plan: &Plan) {
    let mut checks = Vec::new();
    for (id, status, _, ports) in snapshot {
        let TaskStatus::Running {
            since,
            healthy: false,
        } = status
        else {
            continue;
        };
        let Some((uri, port)) = &plan.health else {
            // No health check: healthy once running for a while (Singularity:
            // `considerTaskHealthyAfterRunningForSeconds`, 5 s; here one check interval).
            if since.elapsed() >= inner.settings.check_interval {
                mark_healthy(inner, &id.id).await;
            }
            continue;
        };
        let port = match port {
            HealthPort::Number(number) => *number,
            HealthPort::Index(index) => ports.get(*index).copied().unwrap_or_default(),
        };
        let url = format!("http://{}:{port}{uri}", inner.settings.task_host);
        let (inner, task_id) = (Arc::clone(inner), id.id.clone());
        checks.push(tokio::spawn(async move {
            let check = health_check(&inner.health, &url).await;
            let passed = check.passed();
            let mut state = inner.state.lock().await;
            if let Some(task) = state.tasks.iter_mut().find(|t| t.id.id == task_id) {
                task.checks.push_back(check);
                while task.checks.len() > CHECKS_KEPT {
                    task.checks.pop_front();
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

async fn mark_healthy<R: Runtime>(inner: &Inner<R>, task_id: &str) {
    let mut state = inner.state.lock().await;
    if let Some(task) = state.tasks.iter_mut().find(|t| t.id.id == task_id)
        && let TaskStatus::Running { healthy, .. } = &mut task.status
    {
        *healthy = true;
    }
}

/// `GET url`: the status, or why there is none. The body is never read (a check needs only
/// the status), redirects are not followed (a 3xx is a failed check, as in Singularity), and
/// the client's timeout bounds the whole exchange.
async fn health_check(client: &reqwest::Client, url: &str) -> HealthCheck {
    let at = now_millis();
    match client.get(url).send().await {
        Ok(response) => HealthCheck {
            at,
            status: Some(response.status().as_u16()),
            error: None,
        },
        Err(err) => HealthCheck {
            at,
            status: None,
            error: Some(if err.is_timeout() {
                "timed out".to_string()
            } else {
                root_cause(&err)
            }),
        },
    }
}

fn root_cause(err: &dyn std::error::Error) -> String {
    let mut cause = err;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

/// Starts the deploy's tasks, each with its ports and environment; returns their ids.
async fn launch<R: Runtime>(
    inner: &Arc<Inner<R>>,
    request_id: &str,
    deploy_id: &str,
    plan: &Plan,
) -> Vec<String> {
    let settings = &inner.settings;
    let mut specs = Vec::new();
    {
        let mut state = inner.state.lock().await;
        for instance_no in 1..=plan.instances {
            let Some(ports) = allocate(&state, &settings.ports, plan.num_ports) else {
                break;
            };
            let id = TaskId::new(request_id, deploy_id, instance_no, &settings.task_host);
            // The environment Mesos's Docker containerizer passes (`docker run -e`).
            let mut env = vec![("TASK_HOST".to_string(), settings.task_host.clone())];
            for (index, port) in ports.iter().enumerate() {
                env.push((format!("PORT{index}"), port.to_string()));
            }
            if let Some(port) = ports.first() {
                env.push(("PORT".into(), port.to_string()));
            }
            env.extend([
                ("INSTANCE_NO".to_string(), instance_no.to_string()),
                ("TASK_REQUEST_ID".to_string(), request_id.to_string()),
                ("TASK_DEPLOY_ID".to_string(), deploy_id.to_string()),
                (
                    "ESTIMATED_INSTANCE_COUNT".to_string(),
                    plan.instances.to_string(),
                ),
            ]);
            env.extend(plan.env.iter().cloned());
            specs.push(TaskSpec {
                task_id: id.id.clone(),
                request_id: request_id.into(),
                deploy_id: deploy_id.into(),
                image: plan.image.clone(),
                env,
                memory_mb: plan.memory_mb,
                cpus: plan.cpus,
            });
            state.tasks.push(TaskEntry {
                id,
                ports,
                status: TaskStatus::Starting,
                checks: Default::default(),
            });
        }
        trim(&mut state);
    }
    let ids: Vec<String> = specs.iter().map(|s| s.task_id.clone()).collect();
    let starts: Vec<_> = specs
        .into_iter()
        .map(|spec| {
            let inner = Arc::clone(inner);
            tokio::spawn(async move {
                let started = inner.runtime.start(&spec).await;
                let status = match started {
                    Ok(()) => TaskStatus::Running {
                        since: Instant::now(),
                        healthy: false,
                    },
                    // The runtime's own words, e.g. Docker's for an image it cannot find.
                    Err(message) => TaskStatus::Failed {
                        code: None,
                        message,
                    },
                };
                set_status(&inner, &spec.task_id, status).await;
            })
        })
        .collect();
    for start in starts {
        let _ = start.await;
    }
    ids
}

/// Where the search for a free port goes on: shared by every model in the process (tests run
/// several at once), started at a random point so that two processes are unlikely to try
/// the same ports, and moving on so that a port just freed is not handed out again at once.
static PORT_CURSOR: LazyLock<AtomicU32> = LazyLock::new(|| {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos());
    AtomicU32::new(nanos ^ std::process::id())
});

/// `count` ports of the range that no live task holds and that can be bound now.
fn allocate(
    state: &State,
    range: &std::ops::RangeInclusive<u16>,
    count: usize,
) -> Option<Vec<u16>> {
    let used: HashSet<u16> = state
        .tasks
        .iter()
        .filter(|t| t.status.live())
        .flat_map(|t| t.ports.iter().copied())
        .collect();
    let (low, high) = (u32::from(*range.start()), u32::from(*range.end()));
    let span = high - low + 1;
    // Each search starts where the last one (of any model here) left off.
    let start = PORT_CURSOR.fetch_add(count as u32, Ordering::Relaxed);
    let mut ports = Vec::new();
    for step in 0..span {
        if ports.len() == count {
            break;
        }
        let port = (low + start.wrapping_add(step) % span) as u16;
        if used.contains(&port) || TcpListener::bind(("0.0.0.0", port)).is_err() {
            continue;
        }
        ports.push(port);
    }
    (ports.len() == count).then_some(ports)
}

/// Keeps the newest finished tasks only.
fn trim(state: &mut State) {
    let finished = state.tasks.iter().filter(|t| !t.status.live()).count();
    let mut extra = finished.saturating_sub(FINISHED_KEPT);
    state.tasks.retain(|t| {
        if extra > 0 && !t.status.live() {
            extra -= 1;
            return false;
        }
        true
    });
}

/// Records the deploy's result, then stops what must stop: on success the previous deploy's
/// tasks, otherwise this deploy's own.
async fn finish<R: Runtime>(
    inner: &Arc<Inner<R>>,
    request_id: &str,
    deploy_id: &str,
    result: DeployResult,
) {
    let succeeded = result.state == "SUCCEEDED";
    let to_stop: Vec<String> = {
        let mut guard = inner.state.lock().await;
        let state = &mut *guard;
        let Some(entry) = state.requests.get_mut(request_id) else {
            return;
        };
        if let Some(deploy) = entry.deploy_mut(deploy_id) {
            deploy.result = Some(result);
        }
        let pending = entry.pending.take();
        if succeeded {
            entry.active_deploy = Some(deploy_id.to_string());
            if let Some(pending) = pending {
                if let Some(updated) = pending.updated_request {
                    entry.request = updated;
                }
                if pending.unpause_on_success {
                    entry.state = "ACTIVE";
                }
            }
        }
        state
            .tasks
            .iter()
            .filter(|t| t.status.live() && t.id.request_id == request_id)
            .filter(|t| (t.id.deploy_id == deploy_id) != succeeded)
            .map(|t| t.id.id.clone())
            .collect()
    };
    stop(inner, to_stop).await;
}

/// Stops these tasks, all at once, each with the stop grace.
async fn stop<R: Runtime>(inner: &Arc<Inner<R>>, tasks: Vec<String>) {
    let stops: Vec<_> = tasks
        .into_iter()
        .map(|task_id| {
            let inner = Arc::clone(inner);
            tokio::spawn(async move {
                inner
                    .runtime
                    .stop(&task_id, inner.settings.stop_grace)
                    .await;
                set_status(&inner, &task_id, TaskStatus::Killed).await;
            })
        })
        .collect();
    for stop in stops {
        let _ = stop.await;
    }
}

/// Stops every live task of the request (a pause).
pub(super) async fn stop_request_tasks<R: Runtime>(inner: &Arc<Inner<R>>, request_id: &str) {
    let tasks = live_tasks(inner, |t| t.id.request_id == request_id).await;
    stop(inner, tasks).await;
}

/// Stops every live task (the platform stops).
pub(super) async fn stop_all<R: Runtime>(inner: &Arc<Inner<R>>) {
    let tasks = live_tasks(inner, |_| true).await;
    stop(inner, tasks).await;
}

async fn live_tasks<R: Runtime>(
    inner: &Inner<R>,
    keep: impl Fn(&TaskEntry) -> bool,
) -> Vec<String> {
    let state = inner.state.lock().await;
    state
        .tasks
        .iter()
        .filter(|t| t.status.live() && keep(t))
        .map(|t| t.id.id.clone())
        .collect()
}

/// Starts the active deploy's tasks again (an unpause), without a deploy check.
pub(super) async fn restart<R: Runtime>(inner: &Arc<Inner<R>>, request_id: &str, deploy_id: &str) {
    let plan = {
        let state = inner.state.lock().await;
        let Some(entry) = state.requests.get(request_id) else {
            return;
        };
        let Some(deploy) = entry
            .deploys
            .iter()
            .find(|d| d.marker.deploy_id == deploy_id)
        else {
            return;
        };
        Plan::of(&deploy.deploy, &entry.request)
    };
    launch(inner, request_id, deploy_id, &plan).await;
}

/// The live tasks' statuses brought up to date (for the page).
pub(super) async fn refresh_all<R: Runtime>(inner: &Inner<R>) {
    let tasks = live_tasks(inner, |_| true).await;
    refresh_statuses(inner, &tasks).await;
}
