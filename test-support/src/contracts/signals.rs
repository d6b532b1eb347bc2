//! Step 04: SIGINT and SIGTERM stop the app cleanly: it stops accepting connections,
//! finishes the requests it is handling, and exits 0, promptly whatever its clients do.

use super::*;

/// Sends `signal` as soon as the app is ready, and expects a clean stop. A handler
/// installed too late loses that race only now and then, hence a few rounds.
fn stops_cleanly_on(bin: &str, signal: Signal) {
    for _ in 0..10 {
        let (mut app, _) = serving(bin);
        app.signal(signal);
        expect_clean_stop(&mut app);
    }
}

pub fn sigterm_stops_cleanly(bin: &str) {
    stops_cleanly_on(bin, Signal::SIGTERM);
}

pub fn sigint_stops_cleanly(bin: &str) {
    stops_cleanly_on(bin, Signal::SIGINT);
}

/// The workshop's wording: the app says which signal it caught, and prints no error.
pub fn says_caught_sigterm_and_sigint(bin: &str) {
    for signal in [Signal::SIGTERM, Signal::SIGINT] {
        let (mut app, _) = serving(bin);
        app.signal(signal);
        expect_clean_stop(&mut app);
        let caught = format!("Caught {}", signal.as_str());
        app.check(
            app.stdout().lines().any(|line| line == caught),
            &format!("no line {caught:?}"),
        );
        app.check(app.stderr().is_empty(), "printed errors while stopping");
    }
}

pub fn stops_accepting_after_sigterm(bin: &str) {
    let (mut app, url) = serving(bin);
    // A request still arriving keeps the app draining (until its drain limit), so that a
    // refused connection below shows a closed listener, not a process that has gone.
    let _slow = HalfRequest::start(&url, "/").unwrap_or_else(|err| app.fail(&err));
    app.signal(Signal::SIGTERM);
    let refused = http::refuses_connections_within(&url, Duration::from_secs(1));
    app.check(
        refused,
        "still accepting connections 1 s after the stop signal (is another process, a child, \
         listening on the port?)",
    );
    expect_draining(&mut app);
    expect_stop_in_time(&mut app);
}

pub fn requests_across_sigterm_all_complete(bin: &str) {
    let (mut app, url) = serving(bin);
    // Whatever the service says, it says it whole every time.
    let hello = match http::get(&format!("{url}/")) {
        Ok(hello @ Response { status: 200, .. }) => hello,
        other => app.fail(&format!("expected GET {url}/ to answer 200, got {other:?}")),
    };
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
    // One client sent half a request; another sends requests and never reads the answers.
    // Neither may keep the app alive until Mesos's SIGKILL, 5 s after SIGTERM.
    let _half = HalfRequest::start(&url, "/").unwrap_or_else(|err| app.fail(&err));
    let _deaf = StalledReader::start(&url, "/").unwrap_or_else(|err| app.fail(&err));
    app.signal(Signal::SIGTERM);
    // The half request holds the drain (else this test would show nothing). The deaf client
    // may not: between two of its requests its connection counts as idle, and is closed.
    expect_draining(&mut app);
    expect_stop_in_time(&mut app);
}

/// Expects the app to be still running a moment from now: a client holds a request in
/// progress, which the drain waits for (up to the step's limit). The moment matters: a
/// process that is exiting has closed its sockets before it can be seen to have exited.
fn expect_draining(app: &mut App) {
    thread::sleep(Duration::from_millis(200));
    let running = app.is_running();
    app.check(
        running,
        "exited at once, leaving a request in progress unfinished",
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
        Err(reason) => return skip(&reason),
    };
    app.ready();
    app.signal(Signal::SIGTERM);
    app.expect_exit_code(0);
}
