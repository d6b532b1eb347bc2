//! One look at a deploy, as a pure decision: what the checker saw (the tasks' statuses and
//! health checks, how long each has run, how long the deploy has taken, a pause or a cancel)
//! in, what happens next out: look again later, complete the step's launch, or end the deploy
//! with a result. The rules and their order are `SingularityDeployChecker`'s
//! (`checkDeploy`, `getDeployResult`, `checkDeployProgress`, `markStepLaunchFinished`,
//! `checkOverdue`) and `SingularityDeployHealthHelper`'s (`getDeployHealth`,
//! `getHealthcheckedTaskFailure`, `getNonHealthcheckedTaskFailure`); [`super::checker`]
//! gathers the look and carries the decision out.

use std::time::{Duration, Instant};

use super::{
    Settings,
    lifecycle::{DeployState, FailureReason, RequestState},
    objects::{Deploy, JavaInt},
    state::{DeployResult, Failure, TaskId, TaskStatus, duration_text},
};

/// `HealthcheckOptions` and the deploy's timeouts, with the configuration's defaults.
#[derive(Clone, Copy, Debug)]
pub(super) struct Timing {
    /// `startupTimeoutSeconds`: how long checks may be refused (nothing listening yet).
    pub startup: Duration,
    /// `intervalSeconds`: between two checks of a task.
    pub interval: Duration,
    /// `responseTimeoutSeconds`: how long one check may take.
    pub response: Duration,
    /// `maxRetries`: how many failed checks (not counting refused ones) are tolerated;
    /// Singularity's default is no limit.
    pub max_retries: Option<u64>,
    /// `deployHealthTimeoutSeconds`: what the deploy may take beyond its health checks.
    pub deploy: Duration,
    /// Without a health check, a task is healthy once running this long
    /// (`considerHealthyAfterRunningForSeconds`; here the check interval by default).
    pub consider_healthy: Duration,
}

impl Timing {
    pub fn of(deploy: &Deploy, settings: &Settings) -> Timing {
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
    pub fn max_health(&self) -> Duration {
        let attempts = self.max_retries.unwrap_or(0).saturating_add(1);
        self.startup + (self.interval + self.response) * u32::try_from(attempts).unwrap_or(1)
    }

    /// `getAllowedMillis`: past this the deploy is `OVERDUE` (120 + 55 = 175 s by default
    /// with a health check, 120 + 5 without).
    pub fn allowed(&self, health: bool) -> Duration {
        self.deploy
            + if health {
                self.max_health()
            } else {
                self.consider_healthy
            }
    }
}

/// What a deploy is held to: its instances, whether it has a health check, its timings.
#[derive(Clone, Copy, Debug)]
pub(super) struct Rules {
    pub instances: usize,
    pub health_checked: bool,
    pub timing: Timing,
}

/// What the checker saw of the deploy at one look.
#[derive(Clone, Debug)]
pub(super) struct Look {
    pub request: RequestState,
    /// When a cancel was asked (epoch millis).
    pub cancel_requested: Option<u64>,
    pub step_launch_complete: bool,
    /// Since the deploy started.
    pub elapsed: Duration,
    /// The deploy's tasks that were launched.
    pub tasks: Vec<Seen>,
}

/// What the checker saw of one task.
#[derive(Clone, Debug)]
pub(super) struct Seen {
    pub id: TaskId,
    pub life: Life,
    /// Whether it has been checked at all, the status its last check got, and whether that
    /// check's connection was refused (a start-up check).
    pub checked: bool,
    pub last: Option<u16>,
    pub refused: bool,
    /// Its failed checks that were not refused.
    pub nonstartup_checks: u64,
    /// Its ports, where its health check goes (no part of the decision).
    pub ports: Vec<u16>,
}

/// A task's life at the look, durations instead of instants so that a test can state them.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Life {
    Starting,
    Running {
        running_for: Duration,
        healthy: bool,
    },
    Ended {
        code: Option<i32>,
        message: String,
    },
    Killed,
}

impl Life {
    pub fn of(status: &TaskStatus, now: Instant) -> Life {
        match status {
            TaskStatus::Starting => Life::Starting,
            TaskStatus::Running { since, healthy } => Life::Running {
                running_for: now.saturating_duration_since(*since),
                healthy: *healthy,
            },
            TaskStatus::Failed { code, message } => Life::Ended {
                code: *code,
                message: message.clone(),
            },
            TaskStatus::Killed => Life::Killed,
        }
    }
}

/// What follows a look.
#[derive(Debug, PartialEq)]
pub(super) enum Decision {
    /// Nothing yet: look again an interval later.
    Wait,
    /// Every instance is healthy: `markStepLaunchFinished` records them, and the deploy
    /// succeeds at the next look (acceptance checks, of which there are none here).
    CompleteStep { active: usize },
    /// The deploy ends.
    End(Outcome),
}

/// A deploy's end: a `SingularityDeployResult` without its timestamp.
#[derive(Debug, PartialEq)]
pub(super) struct Outcome {
    pub state: DeployState,
    pub message: Option<String>,
    pub failures: Vec<Failure>,
}

impl Outcome {
    /// `SingularityDeployCheckHelper.getDeployResultWithFailures`: a single failure that
    /// names no task becomes the message.
    fn new(state: DeployState, message: Option<String>, failures: Vec<Failure>) -> Outcome {
        match failures.as_slice() {
            [only] if only.task_id.is_none() => Outcome {
                state,
                message: only.message.clone(),
                failures: Vec::new(),
            },
            _ => Outcome {
                state,
                message,
                failures,
            },
        }
    }

    /// `getDeployResult` for a request that runs no task of its own on a deploy (ON_DEMAND):
    /// "Scheduled/on demand/paused things can instantly succeed".
    pub fn not_deployable() -> Outcome {
        Outcome::new(
            DeployState::Succeeded,
            Some("Request not deployable".into()),
            Vec::new(),
        )
    }

    pub fn at(self, timestamp: u64) -> DeployResult {
        DeployResult {
            state: self.state,
            message: self.message,
            failures: self.failures,
            timestamp,
        }
    }
}

/// What ends a deploy before its tasks are looked at (`checkDeploy`): a request no longer
/// deployable (`isNotInDeployableState`: paused meanwhile), then a cancel
/// (`getDeployResult`: "Canceled due to request at …"), then a task that ended by itself
/// (`getNonHealthcheckedTaskFailure`: the deploy fails at once, "At least 0 task(s) for this
/// instance group failed", the default `allowedTasksFailuresPerGroup` being 0).
pub(super) fn ended_early(look: &Look) -> Option<Outcome> {
    if look.request == RequestState::Paused {
        return Some(Outcome::new(
            DeployState::Failed,
            Some(format!(
                "Request in state {} is not deployable",
                look.request
            )),
            Vec::new(),
        ));
    }
    if let Some(at) = look.cancel_requested {
        return Some(Outcome::new(
            DeployState::Canceled,
            Some(format!("Canceled due to request at {at}")),
            Vec::new(),
        ));
    }
    let ended: Vec<Failure> = look
        .tasks
        .iter()
        .filter_map(|task| match &task.life {
            // `TASK_FINISHED` is a success for Mesos, not for a service.
            Life::Ended {
                code: Some(0),
                message,
            } => Some(Failure {
                reason: FailureReason::TaskExpectedRunningFinished,
                task_id: Some(task.id.clone()),
                message: Some(format!(
                    "Task was expected to maintain TASK_RUNNING state but finished. ({message})"
                )),
            }),
            Life::Ended { message, .. } => Some(Failure {
                reason: FailureReason::TaskFailedOnStartup,
                task_id: Some(task.id.clone()),
                message: Some(message.clone()),
            }),
            _ => None,
        })
        .collect();
    (!ended.is_empty()).then(|| {
        Outcome::new(
            DeployState::Failed,
            Some("At least 0 task(s) for this instance group failed".into()),
            ended,
        )
    })
}

/// One look at the deploy, after its tasks' health checks.
pub(super) fn decide(look: &Look, rules: &Rules) -> Decision {
    if let Some(outcome) = ended_early(look) {
        return Decision::End(outcome);
    }
    let healthy = look
        .tasks
        .iter()
        .filter(|task| matches!(task.life, Life::Running { healthy: true, .. }))
        .count();
    // `DeployHealth.HEALTHY`: the step's launch completes, and the look after succeeds
    // with no message (`SingularityDeployResult` leaves it absent).
    if healthy == rules.instances {
        return match look.step_launch_complete {
            true => Decision::End(Outcome::new(DeployState::Succeeded, None, Vec::new())),
            false => Decision::CompleteStep { active: healthy },
        };
    }
    let failures: Vec<Failure> = (look.tasks.iter())
        .filter_map(|task| health_failure(task, rules))
        .collect();
    if !failures.is_empty() {
        return Decision::End(Outcome::new(
            DeployState::Failed,
            Some("Not all tasks for deploy were healthy".into()),
            failures,
        ));
    }
    let allowed = rules.timing.allowed(rules.health_checked);
    if look.elapsed > allowed {
        return Decision::End(overdue(look, rules, allowed));
    }
    Decision::Wait
}

/// `getHealthcheckedTaskFailure`, for a running task not yet healthy.
fn health_failure(task: &Seen, rules: &Rules) -> Option<Failure> {
    let Life::Running {
        running_for,
        healthy: false,
    } = task.life
    else {
        return None;
    };
    if !rules.health_checked {
        return None;
    }
    let timing = &rules.timing;
    // Refused connections are start-up checks: they fail past the start-up timeout.
    if task.refused && running_for > timing.startup {
        return Some(unhealthy_task(
            &task.id,
            format!(
                "has not responded to healthchecks after running for {}",
                duration_text(running_for.as_millis())
            ),
        ));
    }
    if let Some(retries) = timing.max_retries
        && task.nonstartup_checks > retries
    {
        return Some(unhealthy_task(
            &task.id,
            format!(
                "failed {} healthchecks, the max for the deploy.{}",
                retries + 1,
                last_status(task)
            ),
        ));
    }
    // Any other failed check (an HTTP error, a timeout): past the whole health-check time.
    (task.checked && running_for > timing.max_health()).then(|| yet_to_pass(task, running_for))
}

/// `checkOverdue`: past the deploy timeout plus the health-check time. Running tasks not yet
/// healthy are listed; when there are none and fewer tasks than instances were launched, the
/// one failure is that they could not be scheduled.
fn overdue(look: &Look, rules: &Rules, allowed: Duration) -> Outcome {
    let launched = look.tasks.len();
    let mut failures: Vec<Failure> = (look.tasks.iter())
        .filter_map(|task| match task.life {
            Life::Running {
                running_for,
                healthy: false,
            } => Some(yet_to_pass(task, running_for)),
            _ => None,
        })
        .collect();
    if failures.is_empty() && launched < rules.instances {
        failures.push(Failure {
            reason: FailureReason::TaskCouldNotBeScheduled,
            task_id: None,
            message: Some(format!(
                "Only {launched} of {} tasks could be launched for deploy, there may not be enough resources to launch the remaining tasks",
                rules.instances
            )),
        });
    }
    Outcome::new(
        DeployState::Overdue,
        Some(format!(
            "Deploy was able to launch {launched} tasks, but not all of them became healthy within {}",
            duration_text(allowed.as_millis())
        )),
        failures,
    )
}

fn yet_to_pass(task: &Seen, running_for: Duration) -> Failure {
    unhealthy_task(
        &task.id,
        format!(
            "has been running for {} and has yet to pass healthchecks.{}",
            duration_text(running_for.as_millis()),
            last_status(task)
        ),
    )
}

fn last_status(task: &Seen) -> String {
    task.last.map_or(String::new(), |status| {
        format!(" Last check returned with status code {status}")
    })
}

/// A task that did not pass its health checks: "Instance N {what}".
fn unhealthy_task(id: &TaskId, what: String) -> Failure {
    Failure {
        reason: FailureReason::TaskFailedHealthChecks,
        task_id: Some(id.clone()),
        message: Some(format!("Instance {} {what}", id.instance_no)),
    }
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
