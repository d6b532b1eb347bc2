//! The contracts of each lesson, checked on a step's real binary from outside. A step keeps
//! the contracts of the steps before it: its tests list them with [`crate::contracts!`].

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

/// How long a step may take to stop after SIGTERM, however busy: Mesos sends SIGKILL 5 s
/// after SIGTERM, and a step must be gone before, with a margin.
pub const STOP_DEADLINE: Duration = Duration::from_secs(4);

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

/// Step 02: hello world on a fixed address.
pub mod hello {
    use super::*;

    pub fn answers_on_localhost_3000(bin: &str) {
        let mut app = App::start(bin, &[]);
        let url = app.ready();
        app.check(url == "http://localhost:3000", &format!("announced {url}"));
        expect_response(
            &app,
            http::get("http://localhost:3000/"),
            200,
            "Hello, Axum.\n",
        );
    }
}

/// Step 03: host and port come from `TASK_HOST` and `PORT0`; bad input exits with a
/// one-line message (3: configuration, 4: cannot listen).
pub mod env {
    use super::*;

    pub fn task_host_is_required(bin: &str) {
        refuses_to_start(
            bin,
            &[("PORT0", "0")],
            3,
            predicate::eq("TASK_HOST not set\n"),
        );
        refuses_to_start(bin, &[], 3, predicate::eq("TASK_HOST not set\n"));
    }

    pub fn empty_task_host_counts_as_missing(bin: &str) {
        let env = [("TASK_HOST", ""), ("PORT0", "0")];
        refuses_to_start(bin, &env, 3, predicate::eq("TASK_HOST not set\n"));
    }

    pub fn port0_is_required(bin: &str) {
        let message = predicate::eq("PORT0 not set\n");
        refuses_to_start(bin, &[("TASK_HOST", "127.0.0.1")], 3, message);
        let empty = [("TASK_HOST", "127.0.0.1"), ("PORT0", "")];
        refuses_to_start(bin, &empty, 3, predicate::eq("PORT0 not set\n"));
    }

    pub fn port0_must_be_a_tcp_port(bin: &str) {
        for value in ["abc", "70000", "65536", "-1", "3000x", " 3000"] {
            let message = format!("PORT0 is not a valid port: {value:?}\n");
            let env = [("TASK_HOST", "127.0.0.1"), ("PORT0", value)];
            refuses_to_start(bin, &env, 3, predicate::eq(message));
        }
    }

    pub fn port0_zero_takes_a_free_port(bin: &str) {
        let (app, url) = serving(bin);
        let port = url
            .strip_prefix("http://127.0.0.1:")
            .and_then(|p| p.parse::<u16>().ok());
        app.check(port.is_some_and(|p| p != 0), &format!("announced {url}"));
        app.check(
            http::accepts_connections(&url),
            &format!("nothing listens on {url}"),
        );
    }

    pub fn root_says_hello(bin: &str) {
        let (app, url) = serving(bin);
        expect_response(&app, http::get(&format!("{url}/")), 200, "Hello, Axum.\n");
    }

    pub fn busy_port_exits_4(bin: &str) {
        let taken = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let port = taken.local_addr().expect("its address").port().to_string();
        let address = format!("Cannot listen on 127.0.0.1:{port}: ");
        let env = [("TASK_HOST", "127.0.0.1"), ("PORT0", port.as_str())];
        let message = predicate::str::starts_with(address).and(predicate::str::contains("in use"));
        refuses_to_start(bin, &env, 4, message);
    }

    pub fn unknown_host_exits_4(bin: &str) {
        let env = [("TASK_HOST", "no-such-host.invalid"), ("PORT0", "0")];
        let message = predicate::str::starts_with("Cannot listen on no-such-host.invalid:0: ");
        refuses_to_start(bin, &env, 4, message);
    }
}

/// Step 03 has no signal handlers yet: that is the problem step 04 solves.
pub mod no_signal_handlers {
    use std::os::unix::process::ExitStatusExt;

    use super::*;

    pub fn sigterm_kills_it(bin: &str) {
        let (mut app, _) = serving(bin);
        app.signal(Signal::SIGTERM);
        let status = app.wait(EXIT_DEADLINE);
        app.check(
            status.signal() == Some(Signal::SIGTERM as i32),
            &format!("exited with {status}"),
        );
    }

    pub fn ignores_sigterm_as_pid_1(bin: &str) {
        let mut app = match App::start_as_pid_1(bin, &MESOS_ENV) {
            Ok(app) => app,
            Err(reason) => return eprintln!("skipped: {reason}"),
        };
        let url = app.ready();
        app.signal(Signal::SIGTERM);
        // Nothing can show that a signal was ignored but time: give it plenty to act.
        thread::sleep(Duration::from_millis(500));
        let running = app.is_running();
        app.check(
            running,
            "PID 1 without a SIGTERM handler stopped on SIGTERM",
        );
        expect_response(&app, http::get(&format!("{url}/")), 200, "Hello, Axum.\n");
    }
}

/// Step 04: SIGINT and SIGTERM stop the app cleanly: it stops accepting connections,
/// finishes the requests it is handling, and exits 0, promptly whatever its clients do.
pub mod signals {
    use super::*;

    /// Sends `signal` as soon as the app is ready, and expects a clean stop.
    fn stops_cleanly_on(bin: &str, signal: Signal) {
        let (mut app, _) = serving(bin);
        app.signal(signal);
        app.expect_exit_code(0);
        let caught = format!("Caught {}", signal.as_str());
        app.check(
            app.stdout().lines().any(|line| line == caught),
            &format!("no line {caught:?}"),
        );
        app.check(app.stderr().is_empty(), "printed errors while stopping");
    }

    pub fn sigterm_stops_cleanly(bin: &str) {
        stops_cleanly_on(bin, Signal::SIGTERM);
    }

    pub fn sigint_stops_cleanly(bin: &str) {
        stops_cleanly_on(bin, Signal::SIGINT);
    }

    pub fn stops_accepting_once_caught(bin: &str) {
        let (mut app, url) = serving(bin);
        // A client that does not read keeps the app draining, so that a refused connection
        // below shows a closed listener, not a process that has already gone.
        let _deaf = StalledReader::start(&url, "/").unwrap_or_else(|err| app.fail(&err));
        app.signal(Signal::SIGTERM);
        app.wait_for_line("Caught SIGTERM", EXIT_DEADLINE);
        let refused = http::refuses_connections_within(&url, Duration::from_secs(1));
        app.check(
            refused,
            "still accepting connections 1 s after the stop signal",
        );
        expect_draining(&mut app);
        expect_stop_in_time(&mut app);
    }

    pub fn requests_across_sigterm_all_complete(bin: &str) {
        let (mut app, url) = serving(bin);
        let load = http::Load::start(&format!("{url}/"), 8);
        load.wait_for_responses(100)
            .unwrap_or_else(|err| app.fail(&err));
        let signalled = Instant::now();
        app.signal(Signal::SIGTERM);
        expect_stop_in_time(&mut app);
        let report = load.finish();
        // The load really went on across the signal: some answers came after it was sent.
        let late = report.answers.iter().filter(|a| a.at > signalled).count();
        app.check(late > 0, "no response came after SIGTERM was sent");
        let hello = Response {
            status: 200,
            body: "Hello, Axum.\n".to_string(),
        };
        let mut wrong = report.answers.iter().filter(|a| a.response != hello);
        if let Some(first) = wrong.next() {
            app.fail(&format!(
                "{} of {} responses not a whole 200, the first: {first:?}",
                1 + wrong.count(),
                report.answers.len()
            ));
        }
        // A client may find the door closed, never a response cut short or never finished.
        let mut other = report
            .failures
            .iter()
            .filter(|f| !matches!(f, Failure::Connection(_)));
        if let Some(first) = other.next() {
            app.fail(&format!(
                "a client failed other than by a closed connection: {first:?}"
            ));
        }
    }

    pub fn stalled_clients_do_not_delay_the_stop(bin: &str) {
        let (mut app, url) = serving(bin);
        // One client sent half a request: hyper counts its connection idle and closes it at
        // once. Another sends requests and never reads the answers, so a response stays in
        // progress. Neither may keep the app alive until Mesos's SIGKILL, 5 s after SIGTERM.
        let _half = HalfRequest::start(&url, "/").unwrap_or_else(|err| app.fail(&err));
        let _deaf = StalledReader::start(&url, "/").unwrap_or_else(|err| app.fail(&err));
        app.signal(Signal::SIGTERM);
        app.wait_for_line("Caught SIGTERM", EXIT_DEADLINE);
        // The response in progress holds the drain (else this test would show nothing).
        expect_draining(&mut app);
        expect_stop_in_time(&mut app);
    }

    /// Expects the app to be still running a moment from now: a client holds a response in
    /// progress, which the drain waits for (up to the step's limit). The moment matters: a
    /// process that is exiting has closed its sockets before it can be seen to have exited.
    fn expect_draining(app: &mut App) {
        thread::sleep(Duration::from_millis(200));
        let running = app.is_running();
        app.check(
            running,
            "exited at once, leaving a response in progress unfinished",
        );
    }

    /// Expects exit code 0 within [`STOP_DEADLINE`] of the signal.
    fn expect_stop_in_time(app: &mut App) {
        let status = app.wait(STOP_DEADLINE);
        app.check(status.code() == Some(0), &format!("exited with {status}"));
    }

    pub fn stops_cleanly_as_pid_1(bin: &str) {
        let mut app = match App::start_as_pid_1(bin, &MESOS_ENV) {
            Ok(app) => app,
            Err(reason) => return eprintln!("skipped: {reason}"),
        };
        app.ready();
        app.signal(Signal::SIGTERM);
        app.expect_exit_code(0);
        app.check(
            app.stdout().contains("Caught SIGTERM\n"),
            "no line \"Caught SIGTERM\"",
        );
    }
}

/// Step 04 has no `/health` yet: a Singularity deploy of it goes OVERDUE (step 06).
pub mod no_health {
    use super::*;

    pub fn health_is_not_found(bin: &str) {
        let (app, url) = serving(bin);
        expect_response(&app, http::get(&format!("{url}/health")), 404, "");
    }
}

/// Step 07: `GET /health` answers 200 so that Singularity counts the task as started.
pub mod health {
    use super::*;

    pub fn health_answers(bin: &str) {
        let (app, url) = serving(bin);
        let body = "I've started up successfully!\n";
        expect_response(&app, http::get(&format!("{url}/health")), 200, body);
    }

    pub fn health_answers_head(bin: &str) {
        let (app, url) = serving(bin);
        expect_response(&app, http::head(&format!("{url}/health")), 200, "");
    }

    pub fn unknown_path_is_not_found(bin: &str) {
        let (app, url) = serving(bin);
        expect_response(&app, http::get(&format!("{url}/healthz")), 404, "");
        expect_response(&app, http::get(&format!("{url}/health/")), 404, "");
    }
}
