//! The deploy checker, as `SingularityDeployChecker` and `SingularityDeployHealthHelper` decide:
//! start the deploy's tasks, look at them every check interval, and end the deploy.
//!
//! - a task that exits: `FAILED`, "At least 0 task(s) for this instance group failed" (the
//!   default `allowedTasksFailuresPerGroup` is 0), with a `TASK_FAILED_ON_STARTUP` failure
//!   carrying Mesos's status message (`TASK_EXPECTED_RUNNING_FINISHED` for exit 0);
//! - every task healthy: the step's launch is complete (`markStepLaunchFinished`), and at the
//!   next check `SUCCEEDED`; the previous deploy's tasks are then stopped;
//! - a task whose checks are refused past the start-up timeout, or fail otherwise past the
//!   whole health-check time (or more than `maxRetries` times): `FAILED`, "Not all tasks for
//!   deploy were healthy", one `TASK_FAILED_HEALTH_CHECKS` per such task;
//! - past the deploy timeout plus the health-check time: `OVERDUE`, "Deploy was able to
//!   launch N tasks, but not all of them became healthy within …";
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

use tokio::sync::Notify;

use super::{
    Inner, Settings, limits,
    objects::{Deploy, JavaInt, Request, RequestType},
    state::{
        CHECKS_KEPT, DeployResult, Failure, HealthCheck, State, TaskEntry, TaskId, TaskStatus,
        duration_text, now_millis,
    },
    watch::{self, keep_lines},
};
use crate::runtime::{CommandInfo, Runtime, TaskSpec};

/// The shortest pause between two looks at a deploy (or at all tasks).
pub(super) const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// What a deploy runs, read from the saved deploy.
struct Plan {
    image: String,
    env: Vec<(String, String)>,
    command: CommandInfo,
    force_pull: bool,
    /// `RequestType.isDeployable`: an ON_DEMAND request's deploy starts no task.
    deployable: bool,
    num_ports: usize,
    memory_mb: f64,
    cpus: f64,
    /// The health check's URI and the port it goes to: an index into the task's ports,
    /// or a fixed port number.
    health: Option<(String, HealthPort)>,
    instances: usize,
    /// The deploy's own timings (`healthcheck.*`, `deployHealthTimeoutSeconds`), each
    /// falling back to the platform's setting, as Singularity falls back to its configuration.
    timing: Timing,
}

#[derive(Clone, Copy)]
enum HealthPort {
    Index(usize),
    Number(u16),
}

/// `HealthcheckOptions` and the deploy's timeouts, with the configuration's defaults.
#[derive(Clone, Copy, Debug)]
struct Timing {
    /// `startupTimeoutSeconds`: how long checks may be refused (nothing listening yet).
    startup: Duration,
    /// `intervalSeconds`: between two checks of a task.
    interval: Duration,
    /// `responseTimeoutSeconds`: how long one check may take.
    response: Duration,
    /// `maxRetries`: how many failed checks (not counting refused ones) are tolerated;
    /// Singularity's default is no limit.
    max_retries: Option<u64>,
    /// `deployHealthTimeoutSeconds`: what the deploy may take beyond its health checks.
    deploy: Duration,
    /// Without a health check, a task is healthy once running this long
    /// (`considerHealthyAfterRunningForSeconds`; here the check interval by default).
    consider_healthy: Duration,
}

impl Timing {
    fn of(deploy: &Deploy, settings: &Settings) -> Timing {
        // Negative values were refused when the deploy was accepted.
        let seconds = |value: Option<i64>, default: Duration| {
            value
                .and_then(|n| u64::try_from(n).ok())
                .map_or(default, Duration::from_secs)
        };
        let options = deploy.healthcheck.clone().unwrap_or_default();
        let int = |value: Option<JavaInt>| value.map(|n| i64::from(n.0));
        Timing {
            startup: seconds(
                int(options.startup_timeout_seconds),
                settings.startup_timeout,
            ),
            interval: seconds(int(options.interval_seconds), settings.check_interval),
            response: seconds(
                int(options.response_timeout_seconds),
                settings.check_timeout,
            ),
            max_retries: int(options.max_retries).and_then(|n| u64::try_from(n).ok()),
            deploy: seconds(
                deploy.deploy_health_timeout_seconds.map(|n| n.0),
                settings.deploy_timeout,
            ),
            consider_healthy: seconds(
                deploy
                    .consider_healthy_after_running_for_seconds
                    .map(|n| n.0),
                settings.check_interval,
            ),
        }
    }

    /// `getMaxHealthcheckTimeoutSeconds`: start-up, then `maxRetries + 1` attempts of an
    /// interval and a response timeout each (45 + (5 + 5) × 1 = 55 s by default).
    fn max_health(&self) -> Duration {
        let attempts = self.max_retries.unwrap_or(0).saturating_add(1);
        self.startup + (self.interval + self.response) * u32::try_from(attempts).unwrap_or(1)
    }

    /// `getAllowedMillis`: past this the deploy is `OVERDUE` (120 + 55 = 175 s by default
    /// with a health check, 120 + 5 without).
    fn allowed(&self, health: bool) -> Duration {
        self.deploy
            + if health {
                self.max_health()
            } else {
                self.consider_healthy
            }
    }
}

impl Plan {
    fn of(deploy: &Deploy, request: &Request, settings: &Settings) -> Plan {
        let resources = deploy.resources;
        let health = deploy.healthcheck.as_ref().and_then(|options| {
            let port = match options.port_number {
                Some(number) => HealthPort::Number(u16::try_from(number.0).unwrap_or(0)),
                None => HealthPort::Index(
                    options
                        .port_index
                        .map_or(0, |n| usize::try_from(n.0).unwrap_or(0)),
                ),
            };
            Some((options.uri.clone()?, port))
        });
        let env = deploy
            .env
            .iter()
            .flatten()
            .map(|(key, value)| (key.clone(), value.0.clone()))
            .collect();
        // `prepareCommand`: a deploy with a container runs without a shell unless it asks.
        let command = CommandInfo {
            value: deploy.command.clone(),
            arguments: (deploy.arguments.iter().flatten())
                .map(|a| a.0.clone())
                .collect(),
            shell: deploy.shell.unwrap_or(false),
        };
        Plan {
            image: deploy.image().into(),
            env,
            command,
            force_pull: (deploy.container_info.as_ref())
                .and_then(|c| c.docker.as_ref()?.force_pull_image)
                .unwrap_or(false),
            deployable: request.request_type.is_none_or(RequestType::is_deployable),
            num_ports: resources.map_or(0, |r| usize::try_from(r.num_ports.0).unwrap_or(0)),
            memory_mb: resources.map_or(64.0, |r| r.memory_mb.0),
            cpus: resources.map_or(1.0, |r| r.cpus.0),
            health,
            instances: usize::try_from(request.instances()).unwrap_or(1).max(1),
            timing: Timing::of(deploy, settings),
        }
    }
}

/// Follows one deploy from its start to its end.
pub(super) async fn run<R: Runtime>(inner: Arc<Inner<R>>, request_id: String, deploy_id: String) {
    let started = Instant::now();
    let (plan, wake) = {
        let state = inner.state.lock().await;
        let Some(entry) = state.requests.get(&request_id) else {
            return;
        };
        let Some(pending) = &entry.pending else {
            return;
        };
        let request = pending.updated_request.as_ref().unwrap_or(&entry.request);
        let Some(deploy) = entry.deploy(&deploy_id) else {
            return;
        };
        let plan = Plan::of(&deploy.deploy, request, &inner.settings);
        (plan, Arc::clone(&pending.wake))
    };
    if !plan.deployable {
        let result = not_deployable(&inner, &request_id, &plan, &wake).await;
        finish(&inner, &request_id, &deploy_id, result).await;
        return;
    }
    let tasks = launch(&inner, &request_id, &deploy_id, &plan).await;
    // Singularity checks deploys on a schedule, not at once: the first look comes one
    // interval after the tasks were started.
    loop {
        let result = next_look(&inner, &request_id, &tasks, &plan, started, &wake).await;
        if let Some(result) = result {
            finish(&inner, &request_id, &deploy_id, result).await;
            return;
        }
    }
}

/// Waits an interval, then looks at the deploy; a cancel or a pause ends the wait, and a
/// look held up by slow health checks, at once.
async fn next_look<R: Runtime>(
    inner: &Arc<Inner<R>>,
    request_id: &str,
    tasks: &[String],
    plan: &Plan,
    started: Instant,
    wake: &Notify,
) -> Option<DeployResult> {
    // (A platform started with a tiny `--check-interval` must not make this a busy loop.)
    let interval = plan.timing.interval.max(MIN_INTERVAL);
    let _ = tokio::time::timeout(interval, wake.notified()).await;
    tokio::select! {
        biased;
        () = wake.notified() => interrupted(inner, request_id).await,
        result = check(inner, request_id, tasks, plan, started) => result,
    }
}

/// `SingularityDeployChecker.getDeployResult`: "Scheduled/on demand/paused things can
/// instantly succeed", at the checker's first look (after a cancel), with no task started.
async fn not_deployable<R: Runtime>(
    inner: &Inner<R>,
    request_id: &str,
    plan: &Plan,
    wake: &Notify,
) -> DeployResult {
    let _ = tokio::time::timeout(plan.timing.interval.max(MIN_INTERVAL), wake.notified()).await;
    let succeeded = || {
        result(
            "SUCCEEDED",
            Some("Request not deployable".into()),
            Vec::new(),
        )
    };
    interrupted(inner, request_id)
        .await
        .unwrap_or_else(succeeded)
}

/// `isNotInDeployableState` (a request paused meanwhile) and a cancel: each ends the deploy
/// before anything else is looked at.
async fn interrupted<R: Runtime>(inner: &Inner<R>, request_id: &str) -> Option<DeployResult> {
    if let Some(state) = request_state(inner, request_id).await
        && state == "PAUSED"
    {
        return Some(result(
            "FAILED",
            Some(format!("Request in state {state} is not deployable")),
            Vec::new(),
        ));
    }
    let at = cancel_requested(inner, request_id).await?;
    Some(result(
        "CANCELED",
        Some(format!("Canceled due to request at {at}")),
        Vec::new(),
    ))
}

/// One look at the deploy: its result once it has one.
async fn check<R: Runtime>(
    inner: &Arc<Inner<R>>,
    request_id: &str,
    tasks: &[String],
    plan: &Plan,
    started: Instant,
) -> Option<DeployResult> {
    let timing = &plan.timing;
    if let Some(result) = interrupted(inner, request_id).await {
        return Some(result);
    }
    watch::refresh(inner, |task_id| tasks.iter().any(|t| t == task_id)).await;

    // A task that ended by itself fails the deploy at once.
    let snapshot = snapshot(inner, tasks).await;
    let failed: Vec<Failure> = snapshot
        .iter()
        .filter_map(|task| match &task.status {
            TaskStatus::Failed { code, message } => Some(Failure {
                reason: if *code == Some(0) {
                    "TASK_EXPECTED_RUNNING_FINISHED"
                } else {
                    "TASK_FAILED_ON_STARTUP"
                },
                task_id: Some(task.id.clone()),
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
            Some("At least 0 task(s) for this instance group failed".into()),
            failed,
        ));
    }

    health_checks(inner, &snapshot, plan).await;
    let snapshot = self::snapshot(inner, tasks).await;
    let healthy = snapshot
        .iter()
        .filter(|task| matches!(task.status, TaskStatus::Running { healthy: true, .. }))
        .count();

    if healthy == plan.instances {
        // `markStepLaunchFinished`: the progress counts the instances, the step is complete,
        // and the deploy stays WAITING; the next check (acceptance, none here) succeeds,
        // with no message (`SingularityDeployResult` leaves it absent).
        if !step_launch_complete(inner, request_id, healthy).await {
            return None;
        }
        return Some(result("SUCCEEDED", None, Vec::new()));
    }

    // Running, not healthy: `getHealthcheckedTaskFailure`, for the tasks past a limit.
    let failures: Vec<Failure> = snapshot
        .iter()
        .filter_map(|task| {
            let TaskStatus::Running {
                since,
                healthy: false,
            } = task.status
            else {
                return None;
            };
            plan.health.as_ref()?;
            let running = since.elapsed();
            let last_status = task.last.map_or(String::new(), |status| {
                format!(" Last check returned with status code {status}")
            });
            // Refused connections are start-up checks: they fail past the start-up timeout.
            if task.refused && running > timing.startup {
                return Some(unhealthy_task(
                    &task.id,
                    format!(
                        "has not responded to healthchecks after running for {}",
                        duration_text(running.as_millis())
                    ),
                ));
            }
            if let Some(retries) = timing.max_retries
                && task.nonstartup_checks > retries
            {
                return Some(unhealthy_task(
                    &task.id,
                    format!(
                        "failed {} healthchecks, the max for the deploy.{last_status}",
                        retries + 1
                    ),
                ));
            }
            // Any other failed check (an HTTP error, a timeout): past the whole
            // health-check time.
            (task.checked && running > timing.max_health()).then(|| {
                unhealthy_task(
                    &task.id,
                    format!(
                        "has been running for {} and has yet to pass healthchecks.{last_status}",
                        duration_text(running.as_millis())
                    ),
                )
            })
        })
        .collect();
    if !failures.is_empty() {
        return Some(result(
            "FAILED",
            Some("Not all tasks for deploy were healthy".into()),
            failures,
        ));
    }
    let allowed = timing.allowed(plan.health.is_some());
    if started.elapsed() > allowed {
        let mut failures: Vec<Failure> = snapshot
            .iter()
            .filter_map(|task| match task.status {
                TaskStatus::Running {
                    since,
                    healthy: false,
                } => {
                    let status = task.last.map_or(String::new(), |status| {
                        format!(" Last check returned with status code {status}")
                    });
                    Some(unhealthy_task(
                        &task.id,
                        format!(
                            "has been running for {} and has yet to pass healthchecks.{status}",
                            duration_text(since.elapsed().as_millis())
                        ),
                    ))
                }
                _ => None,
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
            Some(format!(
                "Deploy was able to launch {} tasks, but not all of them became healthy within {}",
                snapshot.len(),
                duration_text(allowed.as_millis())
            )),
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

fn result(state: &'static str, message: Option<String>, failures: Vec<Failure>) -> DeployResult {
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
        message,
        failures,
        timestamp: now_millis(),
    }
}

async fn request_state<R: Runtime>(inner: &Inner<R>, request_id: &str) -> Option<&'static str> {
    let state = inner.state.lock().await;
    state.requests.get(request_id).map(|entry| entry.state)
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

/// Records the step's launch as complete with `count` active instances; whether it already was.
async fn step_launch_complete<R: Runtime>(
    inner: &Inner<R>,
    request_id: &str,
    count: usize,
) -> bool {
    let mut state = inner.state.lock().await;
    let Some(pending) = state
        .requests
        .get_mut(request_id)
        .and_then(|r| r.pending.as_mut())
    else {
        return false;
    };
    let complete = pending.step_launch_complete;
    pending.active_instances = count;
    pending.step_launch_complete = true;
    complete
}

/// What the checker needs of a task.
struct Seen {
    id: TaskId,
    status: TaskStatus,
    /// Whether it has been checked at all, the status its last check got, and whether that
    /// check's connection was refused (a start-up check).
    checked: bool,
    last: Option<u16>,
    refused: bool,
    /// Its failed checks that were not refused.
    nonstartup_checks: u64,
    ports: Vec<u16>,
}

type Snapshot = Vec<Seen>;

async fn snapshot<R: Runtime>(inner: &Inner<R>, tasks: &[String]) -> Snapshot {
    let state = inner.state.lock().await;
    state
        .tasks
        .iter()
        .filter(|t| tasks.contains(&t.id.id))
        .map(|t| Seen {
            id: t.id.clone(),
            status: t.status.clone(),
            checked: !t.checks.is_empty(),
            last: t.checks.back().and_then(|c| c.status),
            refused: t.refused,
            nonstartup_checks: t.nonstartup_checks,
            ports: t.ports.clone(),
        })
        .collect()
}

/// Sets a live task's status; whether it was still live (a stopped or failed one stays as
/// it ended).
pub(super) async fn set_status<R: Runtime>(
    inner: &Inner<R>,
    task_id: &str,
    status: TaskStatus,
) -> bool {
    let mut state = inner.state.lock().await;
    match state.tasks.iter_mut().find(|t| t.id.id == task_id) {
        Some(task) if task.status.live() => {
            task.status = status;
            true
        }
        _ => false,
    }
}

/// Checks every running task that has not passed yet, all at once.
async fn health_checks<R: Runtime>(inner: &Arc<Inner<R>>, snapshot: &Snapshot, plan: &Plan) {
    let mut checks = Vec::new();
    for task in snapshot {
        let TaskStatus::Running {
            since,
            healthy: false,
        } = task.status
        else {
            continue;
        };
        let Some((uri, port)) = &plan.health else {
            // No health check: healthy once running for a while
            // (`considerHealthyAfterRunningForSeconds`).
            if since.elapsed() >= plan.timing.consider_healthy {
                mark_healthy(inner, &task.id.id).await;
            }
            continue;
        };
        let port = match port {
            HealthPort::Number(number) => *number,
            HealthPort::Index(index) => task.ports.get(*index).copied().unwrap_or_default(),
        };
        let url = health_url(&inner.settings.task_host, port, uri);
        let (inner, task_id, timeout) =
            (Arc::clone(inner), task.id.id.clone(), plan.timing.response);
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
/// never read (a check needs only the status), redirects are not followed (a 3xx is a failed
/// check, as in Singularity), and `timeout` bounds the whole exchange.
async fn health_check(
    client: &reqwest::Client,
    url: &str,
    timeout: Duration,
) -> (HealthCheck, bool) {
    let at = now_millis();
    match client.get(url).timeout(timeout).send().await {
        Ok(response) => (
            HealthCheck {
                at,
                status: Some(response.status().as_u16()),
                error: None,
            },
            false,
        ),
        Err(err) => (
            HealthCheck {
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
            // `SingularityMesosTaskBuilder.prepareEnvironment`: a map, so the deploy's `env`
            // replaces the task's variables, except the ports, which are put last.
            let mut env: Vec<(String, String)> = Vec::new();
            let mut set = |key: String, value: String| match env.iter_mut().find(|(k, _)| *k == key)
            {
                Some(entry) => entry.1 = value,
                None => env.push((key, value)),
            };
            set("INSTANCE_NO".into(), instance_no.to_string());
            set("TASK_HOST".into(), settings.task_host.clone());
            set("TASK_RACK_ID".into(), id.rack_id.clone());
            set("AVAILABILITY_ZONE".into(), id.rack_id.clone());
            set("TASK_REQUEST_ID".into(), request_id.to_string());
            set("TASK_DEPLOY_ID".into(), deploy_id.to_string());
            set("TASK_ID".into(), id.id.clone());
            set(
                "ESTIMATED_INSTANCE_COUNT".into(),
                plan.instances.to_string(),
            );
            for (key, value) in &plan.env {
                set(key.clone(), id.fill_in(value));
            }
            for (index, port) in ports.iter().enumerate() {
                if index == 0 {
                    set("PORT".into(), port.to_string());
                }
                set(format!("PORT{index}"), port.to_string());
            }
            specs.push(TaskSpec {
                task_id: id.id.clone(),
                request_id: request_id.into(),
                deploy_id: deploy_id.into(),
                image: plan.image.clone(),
                env,
                memory_mb: plan.memory_mb,
                cpus: plan.cpus,
                command: plan.command.clone(),
                force_pull: plan.force_pull,
            });
            state.tasks.push(TaskEntry {
                id,
                ports,
                status: TaskStatus::Starting,
                checks: Default::default(),
                refused: false,
                nonstartup_checks: 0,
                lines: Vec::new(),
            });
        }
        trim(&mut state);
    }
    watch::start(inner);
    let ids: Vec<String> = specs.iter().map(|s| s.task_id.clone()).collect();
    // Each start (a pull may take minutes) goes on by itself: the checker keeps looking,
    // so a cancel or the deploy's time limit is not held back by a slow start.
    for spec in specs {
        let inner = Arc::clone(inner);
        tokio::spawn(async move {
            let started = inner.runtime.start(&spec).await;
            let ran = started.is_ok();
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
            let live = set_status(&inner, &spec.task_id, status).await;
            if ran && !live {
                // Stopped (deploy ended, platform stopping) while it was starting.
                inner
                    .runtime
                    .stop(&spec.task_id, inner.settings.stop_grace)
                    .await;
                keep_lines(&inner, &spec.task_id).await;
            }
        });
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
    let mut extra = finished.saturating_sub(limits::FINISHED_TASKS_KEPT);
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
            if let Some(updated) = pending.and_then(|p| p.updated_request) {
                entry.request = updated;
            }
        }
        // `finishDeploy`: a deploy to unpause leaves the request active if it succeeded,
        // paused again otherwise.
        if entry.state == "DEPLOYING_TO_UNPAUSE" {
            entry.state = if succeeded { "ACTIVE" } else { "PAUSED" };
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

/// Stops these tasks, all at once, each with the stop grace, and keeps their last lines.
async fn stop<R: Runtime>(inner: &Arc<Inner<R>>, tasks: Vec<String>) {
    stop_then(inner, tasks, true).await;
}

/// Stops these tasks, all at once, each with the stop grace; keeps their last lines if `keep`.
async fn stop_then<R: Runtime>(inner: &Arc<Inner<R>>, tasks: Vec<String>, keep: bool) {
    let stops: Vec<_> = tasks
        .into_iter()
        .map(|task_id| {
            let inner = Arc::clone(inner);
            tokio::spawn(async move {
                // Marked first: a task still starting then stops itself once started.
                set_status(&inner, &task_id, TaskStatus::Killed).await;
                inner
                    .runtime
                    .stop(&task_id, inner.settings.stop_grace)
                    .await;
                if keep {
                    keep_lines(&inner, &task_id).await;
                }
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

/// Stops every live task (the platform stops: nothing is kept of them).
pub(super) async fn stop_all<R: Runtime>(inner: &Arc<Inner<R>>) {
    let tasks = live_tasks(inner, |_| true).await;
    stop_then(inner, tasks, false).await;
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
        let Some(deploy) = entry.deploy(deploy_id) else {
            return;
        };
        Plan::of(&deploy.deploy, &entry.request, &inner.settings)
    };
    if plan.deployable {
        launch(inner, request_id, deploy_id, &plan).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_newest_finished_tasks_are_kept_and_every_live_one() {
        let task = |n: usize, status: TaskStatus| TaskEntry {
            id: TaskId::new("r", "d", n, "h"),
            ports: Vec::new(),
            status,
            checks: Default::default(),
            refused: false,
            nonstartup_checks: 0,
            lines: Vec::new(),
        };
        let mut state = State::default();
        state.tasks.push(task(0, TaskStatus::Starting));
        for n in 1..=limits::FINISHED_TASKS_KEPT + 5 {
            state.tasks.push(task(n, TaskStatus::Killed));
        }
        trim(&mut state);
        let kept: Vec<usize> = state.tasks.iter().map(|t| t.id.instance_no).collect();
        assert_eq!(kept.len(), limits::FINISHED_TASKS_KEPT + 1);
        assert_eq!(kept[..2], [0, 6]);
    }
}
