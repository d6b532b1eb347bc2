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
    app::{App, EXIT_DEADLINE, Failed},
    http::{self, Failure, HalfRequest, Response, StalledReader},
};

/// How a contract went: `Ok` with what is worth knowing when it holds, or why it fails.
pub type Outcome = Result<Held, Failed>;

/// A contract that holds, with a note for the learner (how long the service took to be
/// healthy, for instance).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Held {
    pub note: Option<String>,
}

/// A contract that holds, with nothing more to say.
pub const HELD: Held = Held { note: None };

/// The environment Mesos would give, with a port chosen by the operating system (`PORT0=0`, so
/// that the step tests run side by side; the checker gives a free port instead, as Mesos gives
/// one: [`crate::app::choose_ports`]).
pub const MESOS_ENV: [(&str, &str); 2] = [("TASK_HOST", "127.0.0.1"), ("PORT0", "0")];

/// What `GET /` answers, at every step (the workshop's wording: a learner's service may say
/// anything).
pub const HELLO: &str = "Hello, Axum.\n";
/// What `GET /health` answers, from step 07 on.
pub const HEALTHY: &str = "I've started up successfully!\n";

/// How long a step may take to stop after SIGTERM, however busy: Mesos sends SIGKILL 5 s
/// after SIGTERM, and a step must be gone before, with a margin.
pub const STOP_DEADLINE: Duration = Duration::from_secs(4);

/// Says why a contract cannot be checked on this machine (it holds, with that note), and
/// fails in CI, where every contract must be checked.
fn skip(reason: &str) -> Outcome {
    if std::env::var("CI").as_deref() == Ok("true") {
        return Err(Failed::new(format!("cannot be checked: {reason}")));
    }
    eprintln!("skipped: {reason}");
    Ok(Held {
        note: Some(format!("not checked: {reason}")),
    })
}

/// Starts `bin` as Mesos would, and returns it with its base URL once it is ready.
pub fn serving(bin: &str) -> Result<(App, String), Failed> {
    let mut app = App::start(bin, &MESOS_ENV);
    let url = app.ready()?;
    Ok((app, url))
}

/// Checks that `GET url` answered `status` with `body`, showing the app's output otherwise.
pub fn expect_response(
    app: &App,
    response: Result<Response, String>,
    status: u16,
    body: &str,
) -> Result<(), Failed> {
    let expected = Response {
        status,
        body: body.to_string(),
    };
    match response {
        Ok(response) if response == expected => Ok(()),
        other => Err(app.failed(&format!("expected {expected:?}, got {other:?}"))),
    }
}

/// Runs `bin` with exactly `env` (`PORT0=0` included) and checks that it refuses to start as
/// the platform sees it: exit `code`. Returns the app, for advice on what it printed.
fn refuses_to_start(bin: &str, env: &[(&str, &str)], code: i32) -> Result<App, Failed> {
    let mut app = App::start_exactly(bin, env);
    let status = app.exit_within(EXIT_DEADLINE)?;
    if status.code() != Some(code) {
        let shown = env_shown(env);
        return Err(app.failed(&format!(
            "with {shown}: expected exit code {code}, got {status}"
        )));
    }
    Ok(app)
}

/// Checks that `bin`, run with `env`, refuses to start with exit `code` as this repository's
/// snapshots do: nothing on stdout, and on stderr one line (no panic, no backtrace) that
/// `message` accepts.
fn says_on_refusal(
    bin: &str,
    env: &[(&str, &str)],
    code: i32,
    message: impl Predicate<str>,
) -> Result<(), Failed> {
    let app = refuses_to_start(bin, env, code)?;
    let shown = env_shown(env);
    app.check(
        app.stdout().is_empty(),
        &format!("with {shown}: printed on stdout, where nothing was expected (the one line goes on stderr)"),
    )?;
    let err = app.stderr();
    app.check(
        err.lines().count() == 1 && err.ends_with('\n'),
        &format!(
            "with {shown}: expected one line on stderr, got {} lines",
            err.lines().count()
        ),
    )?;
    app.check(
        message.eval(&err),
        &format!("with {shown}: stderr is {err:?}, not {message}"),
    )
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
fn expect_clean_stop(app: &mut App) -> Result<(), Failed> {
    app.expect_exit_code(0)
}

/// Expects `GET {url}/` to answer 200, whatever it says.
fn expect_root_answers(app: &App, url: &str) -> Result<(), Failed> {
    let response = http::get(&format!("{url}/"));
    app.check(
        matches!(response, Ok(Response { status: 200, .. })),
        &format!("expected GET {url}/ to answer 200, got {response:?}"),
    )
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

/// Whose rule a contract checks, which decides what its failure means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// What Singularity, Mesos or discovery observe, or what the workshop's original app
    /// teaches: a service that breaks it fails.
    Fails,
    /// This repository's own choice (wording, stream, exit codes beyond the original's, our
    /// test settings): advice, never a failure.
    Advice,
}

/// What a contract means, for whoever's service breaks it; written beside the contract, as
/// a constant named like it in capitals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct About {
    pub class: Class,
    /// What the service should do, in words.
    pub expected: &'static str,
    /// What the platform does about a service that does not: true of this contract.
    pub platform: &'static str,
    /// The page and section that teach it (`docs/PAGE.md#anchor`).
    pub page: &'static str,
}

/// The platform's answer to anything that is only this repository's choice.
const OUR_CHOICE: &str = "Nothing: the platform does not look at this. It is this \
    repository's choice, which its snapshots follow and its tests hold them to.";

/// A contract: a check of a service's binary, which says how it went.
#[derive(Debug, Clone, Copy)]
pub struct Contract {
    pub name: &'static str,
    pub check: fn(&str) -> Outcome,
    pub about: About,
}

impl Contract {
    /// Whether breaking this contract is only advice.
    pub fn is_advice(&self) -> bool {
        self.about.class == Class::Advice
    }
}

/// A lesson and its contracts.
#[derive(Debug, Clone, Copy)]
pub struct Lesson {
    pub name: &'static str,
    pub contracts: &'static [Contract],
}

include!(concat!(env!("OUT_DIR"), "/lessons.rs"));
