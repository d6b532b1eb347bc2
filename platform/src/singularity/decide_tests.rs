//! Every rule of a look, without a socket or a sleep: each test states a look and the decision
//! HubSpot's source gives for it (`SingularityDeployChecker`, `SingularityDeployCheckHelper`,
//! `SingularityDeployHealthHelper`, cited per test).

use super::*;

/// Singularity's defaults: start-up 45 s, checks every 5 s with a 5 s timeout, no retry
/// limit, a deploy timeout of 120 s, healthy after 5 s without a health check.
fn timing() -> Timing {
    let secs = Duration::from_secs;
    Timing {
        startup: secs(45),
        interval: secs(5),
        response: secs(5),
        max_retries: None,
        deploy: secs(120),
        consider_healthy: secs(5),
    }
}

fn rules(instances: usize) -> Rules {
    Rules {
        instances,
        health_checked: true,
        timing: timing(),
    }
}

fn running(seconds: u64, healthy: bool) -> Life {
    Life::Running {
        running_for: Duration::from_secs(seconds),
        healthy,
    }
}

/// Instance `n`, never checked.
fn task(n: usize, life: Life) -> Seen {
    Seen {
        id: TaskId::new("hello", "d1", n, "127.0.0.1"),
        life,
        checked: false,
        last: None,
        refused: false,
        nonstartup_checks: 0,
        ports: vec![31000],
    }
}

/// Instance `n`, running for `seconds`, its checks failed (`status`: the last one's status;
/// `None`: refused).
fn failing(n: usize, seconds: u64, status: Option<u16>, failed: u64) -> Seen {
    Seen {
        checked: true,
        last: status,
        refused: status.is_none(),
        nonstartup_checks: if status.is_some() { failed } else { 0 },
        ..task(n, running(seconds, false))
    }
}

fn look(elapsed: u64, tasks: Vec<Seen>) -> Look {
    Look {
        request: RequestState::Active,
        cancel_requested: None,
        step_launch_complete: false,
        elapsed: Duration::from_secs(elapsed),
        tasks,
    }
}

/// The decision's outcome, which must be an end.
fn end(look: &Look, rules: &Rules) -> Outcome {
    match decide(look, rules) {
        Decision::End(outcome) => outcome,
        other => panic!("expected the deploy to end, got {other:?}"),
    }
}

/// Each failure's reason and message.
fn failures(outcome: &Outcome) -> Vec<(FailureReason, &str)> {
    (outcome.failures.iter())
        .map(|f| (f.reason, f.message.as_deref().unwrap_or_default()))
        .collect()
}

#[test]
fn a_request_paused_meanwhile_fails_the_deploy_before_a_cancel_is_looked_at() {
    // `SingularityDeployChecker.checkDeploy`: `isNotInDeployableState` first, then
    // `failPendingDeployDueToState`, "Request in state %s is not deployable".
    let mut look = look(1, vec![task(1, running(1, true))]);
    look.request = RequestState::Paused;
    look.cancel_requested = Some(1234);
    let outcome = end(&look, &rules(1));
    assert_eq!(outcome.state, DeployState::Failed);
    assert_eq!(
        outcome.message.as_deref(),
        Some("Request in state PAUSED is not deployable")
    );
    assert!(outcome.failures.is_empty());
}

#[test]
fn a_cancel_ends_the_deploy_canceled_whatever_its_tasks() {
    // `SingularityDeployChecker.getDeployResult`: "Canceled due to request%s at %s".
    let mut look = look(1, vec![task(1, running(1, true))]);
    look.cancel_requested = Some(1234);
    look.step_launch_complete = true;
    let outcome = end(&look, &rules(1));
    assert_eq!(outcome.state, DeployState::Canceled);
    assert_eq!(
        outcome.message.as_deref(),
        Some("Canceled due to request at 1234")
    );
    // The same without health checks: the early rules need none.
    assert_eq!(ended_early(&look), Some(outcome));
}

#[test]
fn a_task_that_ends_by_itself_fails_the_deploy_at_once() {
    // `SingularityDeployHealthHelper.getNonHealthcheckedTaskFailure`: TASK_FAILED_ON_STARTUP
    // with Mesos's message, TASK_EXPECTED_RUNNING_FINISHED for a success; the deploy fails
    // with "At least %s task(s) for this instance group failed" (`checkDeployProgress`,
    // `allowedTasksFailuresPerGroup` 0).
    let crashed = Life::Ended {
        code: Some(1),
        message: "Container exited with status 1".into(),
    };
    let finished = Life::Ended {
        code: Some(0),
        message: "Container exited with status 0".into(),
    };
    let look = look(
        1,
        vec![
            task(1, crashed),
            task(2, finished),
            task(3, running(1, true)),
        ],
    );
    let outcome = end(&look, &rules(3));
    assert_eq!(outcome.state, DeployState::Failed);
    assert_eq!(
        outcome.message.as_deref(),
        Some("At least 0 task(s) for this instance group failed")
    );
    assert_eq!(
        failures(&outcome),
        [
            (
                FailureReason::TaskFailedOnStartup,
                "Container exited with status 1"
            ),
            (
                FailureReason::TaskExpectedRunningFinished,
                "Task was expected to maintain TASK_RUNNING state but finished. (Container exited with status 0)"
            ),
        ]
    );
    assert_eq!(outcome.failures[0].task_id.as_ref().unwrap().instance_no, 1);
}

#[test]
fn every_instance_healthy_completes_the_step_then_succeeds_a_look_later() {
    // `checkDeployProgress`, `DeployHealth.HEALTHY`: `markStepLaunchFinished` (active
    // instances counted, the step complete), and the next look's acceptance check succeeds
    // with no message.
    let tasks = vec![task(1, running(6, true)), task(2, running(6, true))];
    let mut look = look(6, tasks);
    assert_eq!(
        decide(&look, &rules(2)),
        Decision::CompleteStep { active: 2 }
    );
    look.step_launch_complete = true;
    let outcome = end(&look, &rules(2));
    assert_eq!(outcome.state, DeployState::Succeeded);
    assert_eq!(outcome.message, None);
    assert!(outcome.failures.is_empty());

    // One of two healthy: wait.
    let half = self::look(
        6,
        vec![task(1, running(6, true)), task(2, running(6, false))],
    );
    assert_eq!(decide(&half, &rules(2)), Decision::Wait);
}

#[test]
fn refused_checks_fail_the_task_past_the_startup_timeout_only() {
    // `getHealthcheckedTaskFailure`: a start-up check (connection refused) fails the task
    // once it has run longer than `startupTimeoutSeconds`, "Instance %s has not responded to
    // healthchecks after running for %s"; the deploy: "Not all tasks for deploy were healthy".
    let within = look(45, vec![failing(1, 45, None, 0)]);
    assert_eq!(decide(&within, &rules(1)), Decision::Wait);

    let past = look(46, vec![failing(1, 46, None, 0)]);
    let outcome = end(&past, &rules(1));
    assert_eq!(outcome.state, DeployState::Failed);
    assert_eq!(
        outcome.message.as_deref(),
        Some("Not all tasks for deploy were healthy")
    );
    assert_eq!(
        failures(&outcome),
        [(
            FailureReason::TaskFailedHealthChecks,
            "Instance 1 has not responded to healthchecks after running for 00:46.000"
        )]
    );
}

#[test]
fn failed_checks_fail_the_task_past_the_whole_health_check_time() {
    // `getHealthcheckedTaskFailure` with `isRunningLongerThanThreshold` of
    // `getMaxHealthcheckTimeoutSeconds`: 45 + (5 + 5) × 1 = 55 s; "Instance %s has been
    // running for %s and has yet to pass healthchecks." and the last check's status.
    let within = look(55, vec![failing(1, 55, Some(404), 10)]);
    assert_eq!(decide(&within, &rules(1)), Decision::Wait);

    let past = look(56, vec![failing(1, 56, Some(404), 11)]);
    assert_eq!(
        failures(&end(&past, &rules(1))),
        [(
            FailureReason::TaskFailedHealthChecks,
            "Instance 1 has been running for 00:56.000 and has yet to pass healthchecks. Last check returned with status code 404"
        )]
    );
    // A task never checked yet is not failed by the time alone.
    let unchecked = look(56, vec![task(1, running(56, false))]);
    assert_eq!(decide(&unchecked, &rules(1)), Decision::Wait);
}

#[test]
fn more_failed_checks_than_max_retries_fail_the_task() {
    // `getHealthcheckedTaskFailure`: "Instance %s failed %s healthchecks, the max for the
    // deploy." once the failed (not refused) checks pass `maxRetries`.
    let mut rules = rules(1);
    rules.timing.max_retries = Some(2);
    let within = look(20, vec![failing(1, 20, Some(500), 2)]);
    assert_eq!(decide(&within, &rules), Decision::Wait);

    let past = look(20, vec![failing(1, 20, Some(500), 3)]);
    assert_eq!(
        failures(&end(&past, &rules)),
        [(
            FailureReason::TaskFailedHealthChecks,
            "Instance 1 failed 3 healthchecks, the max for the deploy. Last check returned with status code 500"
        )]
    );
}

#[test]
fn past_the_deploy_timeout_and_the_health_check_time_the_deploy_is_overdue() {
    // `checkOverdue`: past `getAllowedMillis` (120 + 55 s), OVERDUE, "Deploy was able to
    // launch %s tasks, but not all of them became healthy within %s", with the unhealthy
    // running tasks as failures (`getDeployResultWithFailures`). Refused checks within a
    // longer start-up timeout fail no task first. With a task to blame, the instance that
    // could not be launched is not listed.
    let mut rules = rules(3);
    rules.timing.startup = Duration::from_secs(300);
    let tasks = vec![failing(1, 170, None, 0), task(2, Life::Starting)];
    assert_eq!(decide(&look(175, tasks.clone()), &rules), Decision::Wait);

    rules.timing.startup = Duration::from_secs(45);
    rules.timing.deploy = Duration::from_secs(300);
    let allowed = rules.timing.allowed(true).as_secs();
    let tasks = vec![failing(1, 30, None, 0), task(2, Life::Starting)];
    let outcome = end(&look(allowed + 1, tasks), &rules);
    assert_eq!(outcome.state, DeployState::Overdue);
    assert_eq!(
        outcome.message.as_deref(),
        Some(
            "Deploy was able to launch 2 tasks, but not all of them became healthy within 05:55.000"
        )
    );
    // The starting task is not listed (the platform's difference, see the model's docs).
    assert_eq!(
        failures(&outcome),
        [(
            FailureReason::TaskFailedHealthChecks,
            "Instance 1 has been running for 00:30.000 and has yet to pass healthchecks."
        )]
    );
}

#[test]
fn an_overdue_deploy_that_could_not_launch_its_tasks_says_so_as_its_message() {
    // `getDeployResultWithFailures`: with fewer tasks than instances and none to blame,
    // TASK_COULD_NOT_BE_SCHEDULED; a single failure naming no task becomes the message.
    let outcome = end(&look(176, vec![task(1, Life::Starting)]), &rules(2));
    assert_eq!(outcome.state, DeployState::Overdue);
    assert_eq!(
        outcome.message.as_deref(),
        Some(
            "Only 1 of 2 tasks could be launched for deploy, there may not be enough resources to launch the remaining tasks"
        )
    );
    assert!(outcome.failures.is_empty());
}

#[test]
fn without_a_health_check_only_the_deploy_timeout_ends_a_task_not_yet_healthy() {
    // `getNoHealthcheckDeployHealth`: no health-check failure; the allowed time is the deploy
    // timeout plus `considerHealthyAfterRunningForSeconds` (120 + 5 s).
    let rules = Rules {
        health_checked: false,
        ..rules(1)
    };
    let unhealthy = |elapsed| look(elapsed, vec![failing(1, elapsed, Some(500), 99)]);
    assert_eq!(decide(&unhealthy(125), &rules), Decision::Wait);
    let outcome = end(&unhealthy(126), &rules);
    assert_eq!(outcome.state, DeployState::Overdue);
    assert!(
        (outcome.message.as_deref().unwrap()).ends_with("became healthy within 02:05.000"),
        "{outcome:?}"
    );
}
