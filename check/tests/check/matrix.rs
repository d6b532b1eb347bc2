//! Each step's snapshot, checked as a learner's project is (built with cargo), passes the
//! lessons up to its step and fails the next lesson's first contract.

use super::support::{check, root};

/// Checks the snapshot in `dir` at its own `step`, then at `next`, where `failing` fails (with
/// Singularity's start-up timeout shortened to none: step 04's 404 on /health then fails its
/// health checks after 10 s instead of 55).
fn expect(dir: &str, step: &str, next: &str, failing: &str) {
    let project = root().join(dir);
    let project = project.to_str().expect("a UTF-8 path");
    check(&[step, project]).expect_success();
    let shortened = [next, "--fail-fast", "--startup-timeout", "0", project];
    check(&shortened).expect_failure(failing);
}

#[test]
fn step_02_has_no_environment_yet() {
    expect("step-02-hello", "02", "03", "env: task host is required");
}

#[test]
fn step_03_has_no_signal_handlers_yet() {
    expect("step-03-env", "03", "04", "signals: sigterm stops cleanly");
}

#[test]
fn step_04_has_no_health_yet() {
    expect("step-04-signals", "04", "07", "health: health answers");
}

#[test]
fn step_07_announces_nothing_yet() {
    let failing = "discovery: development mode announces nothing";
    expect("step-07-health", "07", "09", failing);
}

#[test]
fn step_09_passes_every_lesson() {
    let project = root().join("step-09-discovery");
    check(&["09", project.to_str().expect("a UTF-8 path")]).expect_success();
}
