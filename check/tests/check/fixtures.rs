//! Services wrong in one way each (tests/fixtures/): each gets a ✗ on the contract it breaks,
//! with a message that says what happened, and leaves no process behind; and learners'
//! services written in their own words, which the platform would take: each passes, its own
//! choices shown as advice.

use std::{
    process::{Command, Stdio},
    sync::atomic::{AtomicUsize, Ordering},
    thread,
    time::{Duration, Instant},
};

use super::support::{Checked, check, interrupt, marker, processes_with, root};

/// Python without writing `__pycache__/` into the fixtures' directory.
const PYTHON: &[&str] = &["python3", "-B"];

/// Checks `fixture` (run by `interpreter`, with `more` arguments) with the checker's `options`,
/// and returns what the checker said, once it has made sure that no process is left.
fn checked(interpreter: &[&str], fixture: &str, options: &[&str], more: &[&str]) -> Checked {
    // A marker of its own for each run: two tests may check the same fixture at once.
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let marker = marker(&format!(
        "{fixture}-{}",
        RUNS.fetch_add(1, Ordering::Relaxed)
    ));
    let path = root().join("check/tests/fixtures").join(fixture);
    let path = path.to_str().expect("a UTF-8 path");
    let mut args = options.to_vec();
    args.push("--");
    args.extend(interpreter);
    args.extend([path, &marker]);
    args.extend(more);
    let checked = check(&args);
    let left = processes_with(&marker);
    assert!(left.is_empty(), "left running: {left:?}");
    checked
}

/// Checks `fixture` (run by `interpreter`) up to `step`, stopping at the first failure, and
/// expects `failing` to fail first, with `happened` in its report, and no process left.
fn expect(interpreter: &[&str], fixture: &str, step: &str, failing: &str, happened: &str) {
    let checked = checked(interpreter, fixture, &[step, "--fail-fast"], &[]);
    checked.expect_failure(failing);
    checked.expect_stdout(happened);
}

/// Checks `fixture` at `step`, and expects the service not to start: the checker says so on
/// stderr, with `happened`, before any contract.
fn expect_no_start(fixture: &str, step: &str, happened: &str) {
    let checked = checked(PYTHON, fixture, &[step], &[]);
    assert_eq!(checked.code, Some(1), "{}", checked.stdout);
    assert!(checked.stdout.is_empty(), "{}", checked.stdout);
    for said in [
        "The service did not start as Mesos would start it",
        happened,
    ] {
        assert!(
            checked.stderr.contains(said),
            "no {said:?} in:\n{}",
            checked.stderr
        );
    }
}

#[test]
fn a_panic_is_not_exit_3() {
    let happened = "expected exit code 3, got exit status: 1";
    expect(
        PYTHON,
        "panics.py",
        "03",
        "env: task host is required",
        happened,
    );
}

/// With PORT0=0 it says port 0: advice only, as Mesos always gives a port (and the checker
/// gives one to the other contracts).
#[test]
fn ready_before_listening_announces_no_port() {
    let checked = checked(PYTHON, "ready_before_bind.py", &["03"], &[]);
    checked.expect_advice("env: port0 zero takes a free port");
    checked.expect_stdout("announced http://127.0.0.1:0");
}

/// A service that refuses PORT0=0 (this repository's setting, for its step tests): the checker
/// gives it a free port, as Mesos gives one, and only the advice says it.
#[test]
fn refusing_port_zero_is_advice() {
    let checked = checked(PYTHON, "refuses_port_zero.py", &["03"], &[]);
    checked.expect_success();
    checked.expect_advice("env: port0 zero takes a free port");
    checked.expect_stdout("  ✓ root answers\n");
}

/// A service that cannot listen on an IPv6 address: Mesos never gives one, so it is advice.
#[test]
fn refusing_ipv6_is_advice() {
    let checked = checked(PYTHON, "ipv4_only.py", &["03"], &[]);
    checked.expect_success();
    checked.expect_advice("env: ipv6 task host is a url");
    checked.expect_stdout("Mesos gives TASK_HOST as the agent's host name");
}

/// A line the snapshots print on stdout, printed on stderr: advice, which names the stream.
#[test]
fn a_line_on_the_other_stream_is_named() {
    let checked = checked(PYTHON, "caught_on_stderr.py", &["04"], &[]);
    checked.expect_advice("signals: says caught sigterm and sigint");
    checked.expect_stdout("no line \"Caught SIGTERM\" on stdout (it is on stderr)");
}

#[test]
fn no_readiness_line_is_named() {
    let happened = "no line \"Server running at: \" within 10s";
    expect_no_start("never_ready.py", "03", happened);
}

#[test]
fn a_flood_is_cut_short() {
    let happened = "no line \"Server running at: \" within 10s";
    expect_no_start("floods.py", "03", happened);
}

/// A command that exits before its readiness line (here, Python given a file that is not
/// there, as when run from the wrong directory): its exit status and what it said come first.
#[test]
fn a_command_that_exits_at_once_shows_its_status_and_streams() {
    let happened = "exited (exit status: 2) without a line \"Server running at: \"";
    expect_no_start("no_such_app.py", "03", happened);
    let text = checked(PYTHON, "no_such_app.py", &["03"], &[]);
    assert!(
        text.stderr.contains("its last stderr:") && text.stderr.contains("No such file"),
        "{}",
        text.stderr
    );
    // For scripts: a document whose status is an error, and a class's table gets one row.
    let json = checked(PYTHON, "no_such_app.py", &["03", "--format", "json"], &[]);
    let document: serde_json::Value = serde_json::from_str(&json.stdout).expect("a document");
    assert_eq!(document["status"], "error", "{document}");
    let message = document["message"].as_str().unwrap_or_default();
    assert!(message.contains("exit status: 2"), "{document}");
    let row = checked(PYTHON, "no_such_app.py", &["03", "--summary", "dave"], &[]);
    assert!(
        row.stdout.starts_with("| dave | The service did not start")
            && row.stdout.lines().count() == 1,
        "{}",
        row.stdout
    );
}

/// A service in Python's standard library, as a learner may write it: HTTP/1.0 (a connection
/// per request), its refusals in its own words and on stdout (as the workshop's original app),
/// its discovery errors on stdout. The platform would take it: it passes every lesson, and the
/// repository's own choices it does not follow are advice.
#[test]
fn a_service_in_its_own_words_passes_09() {
    let checked = checked(PYTHON, "own_words.py", &["09"], &[]);
    checked.expect_success();
    checked.expect_stdout("  ✓ stalled clients do not delay the stop\n");
    checked.expect_stdout("  ✓ failing server is retried\n");
    checked.expect_advice("env: says task host not set");
    checked.expect_advice("env: says hello axum");
    checked.expect_advice("discovery: service type defaults to hello mesos");
    checked.expect_advice("discovery: discovery host is required");
    checked.expect_stdout("printed on stdout, where nothing was expected");
}

/// The same service, taking its announcement back only once it has stopped listening and
/// drained: discovery sends clients to a closed port meanwhile.
#[test]
fn unannouncing_after_the_drain_fails_09() {
    let options = ["09", "--fail-fast", "--no-advice"];
    let checked = checked(
        PYTHON,
        "own_words.py",
        &options,
        &["--unannounce-after-drain"],
    );
    checked.expect_failure("discovery: unannounces before it stops listening");
    checked.expect_stdout("stopped listening while its announcement was still listed");
    // The older contracts did not see it.
    checked.expect_stdout("  ✓ sigterm unannounces before exiting\n");
}

/// A service in Rust whose /health answers 503 for its first 3 s: Singularity checks again 5 s
/// later and finds it healthy, so the checker does too, and says when.
#[test]
fn a_warm_up_passes_07() {
    let project = root().join("check/tests/fixtures/warm-up");
    let checked = check(&["07", "--no-advice", project.to_str().expect("a UTF-8 path")]);
    checked.expect_success();
    checked.expect_stdout("  ✓ health answers: healthy at check 2, ");
}

/// `--format json`: one document, shaped like Exercism's results.json, with the lesson, class
/// and page of each test.
#[test]
fn json_results_for_scripts() {
    let checked = checked(PYTHON, "panics.py", &["03", "--format", "json"], &[]);
    assert_eq!(checked.code, Some(1), "{}", checked.stdout);
    let document: serde_json::Value =
        serde_json::from_str(&checked.stdout).expect("one JSON document");
    assert_eq!(document["version"], 2);
    assert_eq!(document["status"], "fail");
    let tests = document["tests"].as_array().expect("a list of tests");
    let test = |name: &str| {
        tests
            .iter()
            .find(|test| test["name"] == name)
            .unwrap_or_else(|| panic!("no test {name:?} in {document}"))
    };
    let failed = test("env: task host is required");
    assert_eq!(failed["status"], "fail");
    assert_eq!(failed["class"], "fails");
    assert_eq!(failed["lesson"], "env");
    assert_eq!(failed["page"], "docs/03-env.md#what-changed-since-step-02");
    assert!(
        failed["message"]
            .as_str()
            .is_some_and(|m| m.contains("exit code 3"))
    );
    assert_eq!(test("env: root answers")["status"], "pass");
    assert_eq!(test("env: says task host not set")["class"], "advice");
}

#[test]
fn ignoring_sigterm_fails_the_stop() {
    let happened = "still running after 5s";
    let failing = "signals: sigterm stops cleanly";
    expect(PYTHON, "ignores_sigterm.py", "04", failing, happened);
}

#[test]
fn exiting_without_draining_fails_the_drain() {
    let happened = "exited at once, leaving a request in progress unfinished";
    let failing = "signals: stops accepting after sigterm";
    expect(PYTHON, "no_drain.py", "04", failing, happened);
}

#[test]
fn a_child_holding_the_port_is_found_and_killed() {
    let happened = "still accepting connections 1 s after the stop signal";
    let failing = "signals: stops accepting after sigterm";
    expect(&["sh"], "child_holds_port.sh", "04", failing, happened);
}

/// Ctrl+C on the checker, while it waits for a service that ignores SIGTERM, stops the
/// service's whole process group too.
#[test]
fn interrupting_the_checker_stops_the_service() {
    let marker = marker("interrupted");
    let fixture = root().join("check/tests/fixtures/child_holds_port.sh");
    let mut checker = Command::new(env!("CARGO_BIN_EXE_check"))
        .args(["04", "--"])
        .arg("sh")
        .arg(fixture)
        .arg(&marker)
        .stdout(Stdio::null())
        .spawn()
        .expect("the checker starts");
    let deadline = Instant::now() + Duration::from_secs(10);
    // The child, started by the script: the service is running, with a process of its own.
    while !processes_with(&marker)
        .iter()
        .any(|p| p.contains("no_drain.py"))
    {
        assert!(Instant::now() < deadline, "the service never started");
        thread::sleep(Duration::from_millis(10));
    }
    let status = interrupt(&mut checker, Duration::from_secs(5));
    assert_eq!(status.code(), Some(130));
    // The kill is immediate, the process table's update a moment later.
    thread::sleep(Duration::from_millis(100));
    let left = processes_with(&marker);
    assert!(left.is_empty(), "left running: {left:?}");
}
