//! The deploy checker: starts a deploy's tasks, then looks at them every check interval,
//! health-checks them ([`super::health`]), and carries out what [`super::decide`] decides
//! from each look (its rustdoc lists the rules): wait, complete the step's launch, or end
//! the deploy. A deploy that did not succeed stops its own tasks; the previous deploy's keep
//! serving; one that succeeded stops the previous deploy's.
//!
//! Named after Singularity's `SingularityDeployChecker`; "check" elsewhere is the learners'
//! `check` crate, and the guard's and the validator's functions are `admit` and `validate_*`.

use std::{
    collections::HashSet,
    net::TcpListener,
    sync::{
        Arc, LazyLock,
        atomic::{AtomicU32, Ordering},
    },
    time::{Instant, SystemTime, UNIX_EPOCH},
};

use tokio::sync::Notify;

use super::{
    Inner, Settings,
    decide::{self, Decision, Life, Look, Rules, Seen, Timing},
    health::{self, HealthPort, HealthTarget},
    limits,
    objects::RequestType,
    objects::{Deploy, Request},
    state::{DeployResult, State, TaskEntry, TaskId, TaskStatus, now_millis},
    watch::{self, keep_lines},
};
use crate::runtime::{CommandInfo, Runtime, TaskSpec};

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
    health: Option<HealthTarget>,
    instances: usize,
    /// The deploy's own timings (`healthcheck.*`, `deployHealthTimeoutSeconds`), each
    /// falling back to the platform's setting, as Singularity falls back to its configuration.
    timing: Timing,
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
            Some(HealthTarget {
                uri: options.uri.clone()?,
                port,
            })
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
    let tasks = if plan.deployable {
        launch(&inner, &request_id, &deploy_id, &plan).await
    } else {
        Vec::new()
    };
    let deploy = Deploying {
        request_id: &request_id,
        tasks: &tasks,
        started,
    };
    // Singularity checks deploys on a schedule, not at once: the first look comes one
    // interval after the tasks were started.
    loop {
        // A deploy no longer pending (its request gone) is no longer checked.
        let Some(decision) = next_look(&inner, &deploy, &plan, &wake).await else {
            return;
        };
        // `getDeployResult`: "Scheduled/on demand/paused things can instantly succeed", at
        // the checker's first look (unless paused or canceled), with no task started.
        let decision = if plan.deployable {
            decision
        } else {
            let look = self::look(&inner, &deploy).await;
            let early = look.as_ref().and_then(decide::ended_early);
            Decision::End(early.unwrap_or_else(decide::Outcome::not_deployable))
        };
        match decision {
            Decision::Wait => {}
            Decision::CompleteStep { active } => {
                complete_step(&inner, &request_id, active).await;
            }
            Decision::End(outcome) => {
                finish(&inner, &request_id, &deploy_id, outcome.at(now_millis())).await;
                return;
            }
        }
    }
}

/// The deploy a checker follows.
struct Deploying<'a> {
    request_id: &'a str,
    tasks: &'a [String],
    started: Instant,
}

/// Waits an interval, then looks at the deploy; a cancel or a pause ends the wait, and a
/// look held up by slow health checks, at once.
async fn next_look<R: Runtime>(
    inner: &Arc<Inner<R>>,
    deploy: &Deploying<'_>,
    plan: &Plan,
    wake: &Notify,
) -> Option<Decision> {
    // (A platform started with a tiny `--check-interval` must not make this a busy loop.)
    let interval = plan.timing.interval.max(limits::MIN_INTERVAL);
    let _ = tokio::time::timeout(interval, wake.notified()).await;
    tokio::select! {
        biased;
        () = wake.notified() => {
            let look = look(inner, deploy).await?;
            Some(decide::ended_early(&look).map_or(Decision::Wait, Decision::End))
        }
        decision = look_and_decide(inner, deploy, plan) => decision,
    }
}

/// One look at the deploy: the tasks' statuses brought up to date, the ones still running
/// health-checked, then the decision.
async fn look_and_decide<R: Runtime>(
    inner: &Arc<Inner<R>>,
    deploy: &Deploying<'_>,
    plan: &Plan,
) -> Option<Decision> {
    watch::refresh(inner, |task_id| deploy.tasks.iter().any(|t| t == task_id)).await;
    let look = self::look(inner, deploy).await?;
    // A pause, a cancel or an ended task decides without health checks.
    if let Some(outcome) = decide::ended_early(&look) {
        return Some(Decision::End(outcome));
    }
    health::check_tasks(inner, &look, plan.health.as_ref(), &plan.timing).await;
    let look = self::look(inner, deploy).await?;
    let rules = Rules {
        instances: plan.instances,
        health_checked: plan.health.is_some(),
        timing: plan.timing,
    };
    Some(decide::decide(&look, &rules))
}

/// What the model knows of the deploy now, in one lock; `None` once it is no longer pending.
async fn look<R: Runtime>(inner: &Inner<R>, deploy: &Deploying<'_>) -> Option<Look> {
    let state = inner.state.lock().await;
    let entry = state.requests.get(deploy.request_id)?;
    let pending = entry.pending.as_ref()?;
    let now = Instant::now();
    let tasks = (state.tasks.iter())
        .filter(|t| deploy.tasks.contains(&t.id.id))
        .map(|t| Seen {
            id: t.id.clone(),
            life: Life::of(&t.status, now),
            checked: !t.checks.is_empty(),
            last: t.checks.back().and_then(|c| c.status),
            refused: t.refused,
            nonstartup_checks: t.nonstartup_checks,
            ports: t.ports.clone(),
        })
        .collect();
    Some(Look {
        request: entry.state,
        cancel_requested: pending.cancel_requested,
        step_launch_complete: pending.step_launch_complete,
        elapsed: now.saturating_duration_since(deploy.started),
        tasks,
    })
}

/// Records the step's launch as complete with `active` instances.
async fn complete_step<R: Runtime>(inner: &Inner<R>, request_id: &str, active: usize) {
    let mut state = inner.state.lock().await;
    if let Some(pending) = (state.requests.get_mut(request_id)).and_then(|r| r.pending.as_mut()) {
        pending.complete_step(active, now_millis());
    }
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
                digest: None,
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
            let (status, digest) = match started {
                Ok(digest) => {
                    let since = Instant::now();
                    let running = TaskStatus::Running {
                        since,
                        healthy: false,
                    };
                    (running, digest)
                }
                // The runtime's own words, e.g. Docker's for an image it cannot find.
                Err(error) => {
                    let message = error.to_string();
                    (
                        TaskStatus::Failed {
                            code: None,
                            message,
                        },
                        None,
                    )
                }
            };
            let live = {
                let mut state = inner.state.lock().await;
                state.set_digest(&spec.task_id, digest);
                state.set_status(&spec.task_id, status)
            };
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
    let to_stop: Vec<String> = {
        let mut guard = inner.state.lock().await;
        let state = &mut *guard;
        let Some(entry) = state.requests.get_mut(request_id) else {
            return;
        };
        let succeeded = entry.finish(deploy_id, result);
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
                inner
                    .state
                    .lock()
                    .await
                    .set_status(&task_id, TaskStatus::Killed);
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

/// Stops the request's live tasks of instance numbers above `instances` (a scale down).
pub(super) async fn stop_instances_above<R: Runtime>(
    inner: &Arc<Inner<R>>,
    request_id: &str,
    instances: usize,
) {
    let tasks = live_tasks(inner, |t| {
        t.id.request_id == request_id && t.id.instance_no > instances
    })
    .await;
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
            digest: None,
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
