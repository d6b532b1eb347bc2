//! Step 04: SIGINT and SIGTERM stop the app cleanly: it stops accepting connections,
//! finishes the requests it is handling, and exits 0, promptly whatever its clients do.

use super::*;

/// What a task that does not stop on SIGTERM costs.
const KILLED: &str = "Mesos stops a task with SIGTERM and sends SIGKILL 5 s later: every \
    deploy, scale-down or restart would wait those 5 s, then cut off the requests in progress.";
/// What a task that does not drain, or not in time, costs.
const DRAIN: &str = "At every deploy the old tasks are stopped while clients still use them: \
    requests in progress must finish and new ones go elsewhere, before Mesos's SIGKILL 5 s after \
    SIGTERM. Otherwise the clients see errors at every deploy.";

/// Sends `signal` as soon as the app is ready, and expects a clean stop. A handler
/// installed too late loses that race only now and then, hence a few rounds.
fn stops_cleanly_on(bin: &str, signal: Signal) -> Outcome {
    for _ in 0..10 {
        let (mut app, _) = serving(bin)?;
        app.send(signal)?;
        expect_clean_stop(&mut app)?;
    }
    Ok(HELD)
}

pub const SIGTERM_STOPS_CLEANLY: About = About {
    class: Class::Fails,
    expected: "on SIGTERM, even right after its readiness line: exits 0 within 5 s (the handlers \
               are installed before it listens)",
    platform: KILLED,
    page: "docs/04-signals.md#handlers-first",
};

pub fn sigterm_stops_cleanly(bin: &str) -> Outcome {
    stops_cleanly_on(bin, Signal::SIGTERM)
}

pub const SIGINT_STOPS_CLEANLY: About = About {
    class: Class::Fails,
    expected: "on SIGINT (Ctrl+C), even right after its readiness line: exits 0 within 5 s, as \
               the workshop's original app",
    platform: "Mesos stops a task with SIGTERM; SIGINT is Ctrl+C in `docker run`, which the \
               workshop's original app handles too: without a handler, a container's PID 1 \
               ignores it and only `docker kill` stops it.",
    page: "docs/04-signals.md#handlers-first",
};

pub fn sigint_stops_cleanly(bin: &str) -> Outcome {
    stops_cleanly_on(bin, Signal::SIGINT)
}

pub const SAYS_CAUGHT_SIGTERM_AND_SIGINT: About = About {
    class: Class::Advice,
    expected: "on SIGTERM and SIGINT: prints `Caught SIGTERM` (or `Caught SIGINT`) on stdout, and \
               nothing on stderr",
    platform: OUR_CHOICE,
    page: "docs/04-signals.md#handlers-first",
};

/// The workshop's wording: the app says which signal it caught, and prints no error.
pub fn says_caught_sigterm_and_sigint(bin: &str) -> Outcome {
    for signal in [Signal::SIGTERM, Signal::SIGINT] {
        let (mut app, _) = serving(bin)?;
        app.send(signal)?;
        expect_clean_stop(&mut app)?;
        let caught = format!("Caught {}", signal.as_str());
        let elsewhere = if app.stderr().lines().any(|line| line == caught) {
            " (it is on stderr)"
        } else {
            ""
        };
        app.check(
            app.stdout().lines().any(|line| line == caught),
            &format!("no line {caught:?} on stdout{elsewhere}"),
        )?;
        app.check(app.stderr().is_empty(), "printed errors while stopping")?;
    }
    Ok(HELD)
}

pub const STOPS_ACCEPTING_AFTER_SIGTERM: About = About {
    class: Class::Fails,
    expected: "on SIGTERM: refuses new connections within 1 s, finishes the request in progress, \
               and exits 0 within 4 s",
    platform: DRAIN,
    page: "docs/04-signals.md#draining-bounded",
};

pub fn stops_accepting_after_sigterm(bin: &str) -> Outcome {
    let (mut app, url) = serving(bin)?;
    // A request still arriving keeps the app draining (until its drain limit), so that a
    // refused connection below shows a closed listener, not a process that has gone.
    let _slow = HalfRequest::start(&url, "/").map_err(|err| app.failed(&err))?;
    app.send(Signal::SIGTERM)?;
    let refused = http::refuses_connections_within(&url, Duration::from_secs(1));
    app.check(
        refused,
        "still accepting connections 1 s after the stop signal (is another process, a child, \
         listening on the port?)",
    )?;
    expect_draining(&mut app)?;
    expect_stop_in_time(&mut app)?;
    Ok(HELD)
}

pub const REQUESTS_ACROSS_SIGTERM_ALL_COMPLETE: About = About {
    class: Class::Fails,
    expected: "under load, on SIGTERM: every response begun is whole; a client may only find the \
               door closed",
    platform: DRAIN,
    page: "docs/04-signals.md#draining-bounded",
};

pub fn requests_across_sigterm_all_complete(bin: &str) -> Outcome {
    let (mut app, url) = serving(bin)?;
    // Whatever the service says, it says it whole every time.
    let hello = match http::get(&format!("{url}/")) {
        Ok(hello @ Response { status: 200, .. }) => hello,
        other => {
            let what = format!("expected GET {url}/ to answer 200, got {other:?}");
            return Err(app.failed(&what));
        }
    };
    let load = http::Load::start(&format!("{url}/"), 8);
    load.wait_for_responses(100)
        .map_err(|err| app.failed(&err))?;
    let signalled = Instant::now();
    app.send(Signal::SIGTERM)?;
    expect_stop_in_time(&mut app)?;
    let report = load.finish();
    // The load really went on across the signal: some answers came after it was sent.
    let late = report.answers.iter().filter(|a| a.at > signalled).count();
    app.check(late > 0, "no response came after SIGTERM was sent")?;
    let mut wrong = report.answers.iter().filter(|a| a.response != hello);
    if let Some(first) = wrong.next() {
        return Err(app.failed(&format!(
            "{} of {} responses not a whole 200, the first: {first:?}",
            1 + wrong.count(),
            report.answers.len()
        )));
    }
    // A client may find the door closed, never a response cut short or never finished.
    let mut other = report
        .failures
        .iter()
        .filter(|f| !matches!(f, Failure::Connection(_)));
    if let Some(first) = other.next() {
        return Err(app.failed(&format!(
            "a client failed other than by a closed connection: {first:?}"
        )));
    }
    Ok(HELD)
}

pub const STALLED_CLIENTS_DO_NOT_DELAY_THE_STOP: About = About {
    class: Class::Fails,
    expected: "on SIGTERM, with a client that sent half a request and one that never reads: \
               exits 0 within 4 s all the same",
    platform: DRAIN,
    page: "docs/04-signals.md#draining-bounded",
};

pub fn stalled_clients_do_not_delay_the_stop(bin: &str) -> Outcome {
    let (mut app, url) = serving(bin)?;
    // One client sent half a request; another sends requests and never reads the answers
    // (a server that closes each connection after an answer, HTTP/1.0, cannot be held so).
    // Neither may keep the app alive until Mesos's SIGKILL, 5 s after SIGTERM.
    let _half = HalfRequest::start(&url, "/").map_err(|err| app.failed(&err))?;
    let _deaf = StalledReader::start(&url, "/").map_err(|err| app.failed(&err))?;
    app.send(Signal::SIGTERM)?;
    // The half request holds the drain (else this test would show nothing). The deaf client
    // may not: between two of its requests its connection counts as idle, and is closed.
    expect_draining(&mut app)?;
    expect_stop_in_time(&mut app)?;
    Ok(HELD)
}

/// Expects the app to be still running a moment from now: a client holds a request in
/// progress, which the drain waits for (up to the step's limit). The moment matters: a
/// process that is exiting has closed its sockets before it can be seen to have exited.
fn expect_draining(app: &mut App) -> Result<(), Failed> {
    thread::sleep(Duration::from_millis(200));
    let running = app.is_running();
    app.check(
        running,
        "exited at once, leaving a request in progress unfinished",
    )
}

/// Expects exit code 0 within [`STOP_DEADLINE`] of the signal.
fn expect_stop_in_time(app: &mut App) -> Result<(), Failed> {
    let status = app.exit_within(STOP_DEADLINE)?;
    app.check(status.code() == Some(0), &format!("exited with {status}"))
}

pub const STOPS_CLEANLY_AS_PID_1: About = About {
    class: Class::Fails,
    expected: "as PID 1 of a container: exits 0 on SIGTERM",
    platform: KILLED,
    page: "docs/04-signals.md#the-pid-1-problem",
};

pub fn stops_cleanly_as_pid_1(bin: &str) -> Outcome {
    let mut app = match App::start_as_pid_1(bin, &MESOS_ENV) {
        Ok(app) => app,
        Err(reason) => return skip(&reason),
    };
    app.ready()?;
    app.send(Signal::SIGTERM)?;
    app.expect_exit_code(0)?;
    Ok(HELD)
}
