//! Step 03 has no signal handlers yet: that is the problem step 04 solves.

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
        Err(reason) => return skip(&reason),
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
    expect_root_answers(&app, &url);
}
