//! The contracts of each lesson, checked on a step's real binary from outside. A step keeps
//! the contracts of the steps before it: its tests list them with [`crate::contracts!`].
//! The discovery client's contracts are checked on a service that uses it
//! ([`crate::contracts_on!`]).

use std::{
    net::TcpListener,
    thread,
    time::{Duration, Instant},
};

use nix::sys::signal::Signal;
use predicates::prelude::*;

use crate::{
    app::{App, EXIT_DEADLINE},
    http::{self, Failure, HalfRequest, Response, StalledReader},
};

/// The environment Mesos would give, with a port chosen by the operating system.
pub const MESOS_ENV: [(&str, &str); 2] = [("TASK_HOST", "127.0.0.1"), ("PORT0", "0")];

/// What `GET /` answers, at every step (the workshop's wording: a learner's service may say
/// anything).
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

/// Runs `bin` with exactly `env` and checks that it refuses to start as the platform needs:
/// exit `code`, nothing on stdout, and on stderr one line (no panic, no backtrace). Returns
/// the app, for a wording contract to check what that line says.
fn refuses_to_start(bin: &str, env: &[(&str, &str)], code: i32) -> App {
    let mut app = App::start(bin, env);
    let status = app.wait(EXIT_DEADLINE);
    let shown = env_shown(env);
    if status.code() != Some(code) {
        app.fail(&format!(
            "with {shown}: expected exit code {code}, got {status}"
        ));
    }
    app.check(
        app.stdout().is_empty(),
        &format!("with {shown}: printed on stdout, where nothing was expected (the one line goes on stderr)"),
    );
    let err = app.stderr();
    app.check(
        err.lines().count() == 1 && err.ends_with('\n'),
        &format!(
            "with {shown}: expected one line on stderr, got {} lines",
            err.lines().count()
        ),
    );
    app
}

/// Checks that `bin`, run with `env`, refuses to start and says what `message` accepts.
fn says_on_refusal(bin: &str, env: &[(&str, &str)], code: i32, message: impl Predicate<str>) {
    let app = refuses_to_start(bin, env, code);
    let err = app.stderr();
    app.check(
        message.eval(&err),
        &format!("with {}: stderr is {err:?}, not {message}", env_shown(env)),
    );
}

/// The environment as a shell would show it.
fn env_shown(env: &[(&str, &str)]) -> String {
    if env.is_empty() {
        return "an empty environment".into();
    }
    let pairs: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    pairs.join(" ")
}

/// Expects `app`, sent a stop signal, to stop cleanly: exit 0.
fn expect_clean_stop(app: &mut App) {
    app.expect_exit_code(0);
}

/// Expects `GET {url}/` to answer 200, whatever it says.
fn expect_root_answers(app: &App, url: &str) {
    let response = http::get(&format!("{url}/"));
    if !matches!(response, Ok(Response { status: 200, .. })) {
        app.fail(&format!(
            "expected GET {url}/ to answer 200, got {response:?}"
        ));
    }
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

/// A contract: a check of a service's binary, which panics (through [`App::fail`] where it
/// can, so that [`crate::app::take_last_failed`] tells why) when it does not hold.
#[derive(Debug, Clone, Copy)]
pub struct Contract {
    pub name: &'static str,
    pub check: fn(&str),
}

impl Contract {
    /// Whether this contract checks the workshop's own wording (its name starts with
    /// `says_`) rather than what the platform needs: the step tests hold the snapshots to
    /// it, a learner's service need not.
    pub fn is_wording(&self) -> bool {
        self.name.starts_with("says_")
    }
}

/// A lesson and its contracts.
#[derive(Debug, Clone, Copy)]
pub struct Lesson {
    pub name: &'static str,
    pub contracts: &'static [Contract],
}

include!(concat!(env!("OUT_DIR"), "/lessons.rs"));
