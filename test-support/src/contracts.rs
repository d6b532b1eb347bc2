//! The contracts of each lesson, checked on a step's real binary from outside. A step keeps
//! the contracts of the steps before it: its tests list them with [`crate::contracts!`].
//! The discovery client's contracts are checked on a service that uses it
//! ([`crate::contracts_on!`]).

use std::{
    net::TcpListener,
    thread,
    time::{Duration, Instant},
};

use assert_cmd::Command;
use nix::sys::signal::Signal;
use predicates::prelude::*;

use crate::{
    app::{App, EXIT_DEADLINE},
    http::{self, Failure, HalfRequest, Response, StalledReader},
};

/// The environment Mesos would give, with a port chosen by the operating system.
pub const MESOS_ENV: [(&str, &str); 2] = [("TASK_HOST", "127.0.0.1"), ("PORT0", "0")];

/// What `GET /` answers, at every step.
pub const HELLO: &str = "Hello, Axum.\n";
/// What `GET /health` answers, from step 07 on.
pub const HEALTHY: &str = "I've started up successfully!\n";

/// How long a step may take to stop after SIGTERM, however busy: Mesos sends SIGKILL 5 s
/// after SIGTERM, and a step must be gone before, with a margin.
pub const STOP_DEADLINE: Duration = Duration::from_secs(4);

/// Says why a contract cannot be checked on this machine, and fails in CI, where every
/// contract must be checked.
fn skip(reason: &str) {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "cannot be checked: {reason}"
    );
    eprintln!("skipped: {reason}");
}

/// Starts `bin` as Mesos would, and returns it with its base URL once it is ready.
pub fn serving(bin: &str) -> (App, String) {
    let mut app = App::start(bin, &MESOS_ENV);
    let url = app.ready();
    (app, url)
}

/// Asserts that `GET url` answers `status` with `body`, showing the app's output otherwise.
#[track_caller]
pub fn expect_response(app: &App, response: Result<Response, String>, status: u16, body: &str) {
    let expected = Response {
        status,
        body: body.to_string(),
    };
    match response {
        Ok(response) if response == expected => {}
        other => app.fail(&format!("expected {expected:?}, got {other:?}")),
    }
}

/// Runs `bin` with exactly `env` and checks that it refuses to start: exit `code`, nothing
/// on stdout, and on stderr one line (no panic, no backtrace) that `message` accepts.
fn refuses_to_start(bin: &str, env: &[(&str, &str)], code: i32, message: impl Predicate<str>) {
    let one_line = predicate::function(|err: &str| err.lines().count() == 1 && err.ends_with('\n'));
    Command::new(bin)
        .env_clear()
        .envs(env.iter().copied())
        .timeout(EXIT_DEADLINE)
        .assert()
        .code(code)
        .stdout("")
        .stderr(one_line.and(message));
}

/// Expects `app`, sent `signal`, to stop cleanly: exit 0, having said which signal it
/// caught, and printed no error.
fn expect_clean_stop(app: &mut App, signal: Signal) {
    app.expect_exit_code(0);
    let caught = format!("Caught {}", signal.as_str());
    app.check(
        app.stdout().lines().any(|line| line == caught),
        &format!("no line {caught:?}"),
    );
    app.check(app.stderr().is_empty(), "printed errors while stopping");
}

// One module per lesson: each holds the contracts of that step's lesson.
pub mod discovery;
pub mod discovery_client;
pub mod env;
pub mod health;
pub mod hello;
pub mod no_health;
pub mod no_signal_handlers;
pub mod signals;
