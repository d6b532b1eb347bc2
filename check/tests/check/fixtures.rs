//! Services wrong in one way each (tests/fixtures/): each gets a ✗ on the contract it breaks,
//! with a message that says what happened, and leaves no process behind.

use std::{
    process::{Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use nix::{
    sys::signal::{Signal, kill},
    unistd::Pid,
};

use super::support::{check, marker, processes_with, root};

/// Python without writing `__pycache__/` into the fixtures' directory.
const PYTHON: &[&str] = &["python3", "-B"];

/// Checks `fixture` (run by `interpreter`) up to `step`, stopping at the first failure, and
/// expects `failing` to fail first, with `happened` in its report, and no process left.
fn expect(interpreter: &[&str], fixture: &str, step: &str, failing: &str, happened: &str) {
    let marker = marker(fixture);
    let path = root().join("check/tests/fixtures").join(fixture);
    let path = path.to_str().expect("a UTF-8 path");
    let mut args = vec![step, "--fail-fast", "--"];
    args.extend(interpreter);
    args.extend([path, &marker]);
    let checked = check(&args);
    checked.expect_failure(failing);
    assert!(
        checked.stdout.contains(happened),
        "no {happened:?} in:\n{}",
        checked.stdout
    );
    let left = processes_with(&marker);
    assert!(left.is_empty(), "left running: {left:?}");
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

#[test]
fn ready_before_listening_announces_no_port() {
    let happened = "announced http://127.0.0.1:0";
    let failing = "env: port0 zero takes a free port";
    expect(PYTHON, "ready_before_bind.py", "03", failing, happened);
}

#[test]
fn no_readiness_line_is_named() {
    let happened = "no line \"Server running at: \" within 10s";
    let failing = "env: port0 zero takes a free port";
    expect(PYTHON, "never_ready.py", "03", failing, happened);
}

#[test]
fn a_flood_is_cut_short() {
    let happened = "no line \"Server running at: \" within 10s";
    let failing = "env: port0 zero takes a free port";
    expect(PYTHON, "floods.py", "03", failing, happened);
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
    kill(Pid::from_raw(checker.id() as i32), Signal::SIGINT).expect("SIGINT to the checker");
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(status) = checker.try_wait().expect("waiting for the checker") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = checker.kill();
            panic!("the checker did not stop on SIGINT");
        }
        thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(status.code(), Some(130));
    // The kill is immediate, the process table's update a moment later.
    thread::sleep(Duration::from_millis(100));
    let left = processes_with(&marker);
    assert!(left.is_empty(), "left running: {left:?}");
}
