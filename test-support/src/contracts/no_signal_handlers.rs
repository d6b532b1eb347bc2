//! Step 03 has no signal handlers yet: that is the problem step 04 solves.

use std::os::unix::process::ExitStatusExt;

use super::*;

pub const SIGTERM_KILLS_IT: About = About {
    class: Class::Fails,
    expected: "without handlers: SIGTERM kills it (the default action)",
    platform: "Mesos's SIGTERM stops it mid-request, before the handlers of step 04.",
    page: "docs/04-signals.md#how-the-platform-stops-a-task",
};

pub fn sigterm_kills_it(bin: &str) -> Outcome {
    let (mut app, _) = serving(bin)?;
    app.send(Signal::SIGTERM)?;
    let status = app.exit_within(EXIT_DEADLINE)?;
    app.check(
        status.signal() == Some(Signal::SIGTERM as i32),
        &format!("exited with {status}"),
    )?;
    Ok(HELD)
}

pub const IGNORES_SIGTERM_AS_PID_1: About = About {
    class: Class::Fails,
    expected: "without handlers, as PID 1 of a container: SIGTERM is ignored",
    platform: "Mesos waits 5 s, then kills it with SIGKILL: the problem step 04 solves.",
    page: "docs/04-signals.md#the-pid-1-problem",
};

pub fn ignores_sigterm_as_pid_1(bin: &str) -> Outcome {
    let mut app = match App::start_as_pid_1(bin, &MESOS_ENV) {
        Ok(app) => app,
        Err(reason) => return skip(&reason),
    };
    let url = app.ready()?;
    app.send(Signal::SIGTERM)?;
    // Nothing can show that a signal was ignored but time: give it plenty to act.
    thread::sleep(Duration::from_millis(500));
    let running = app.is_running();
    app.check(
        running,
        "PID 1 without a SIGTERM handler stopped on SIGTERM",
    )?;
    expect_root_answers(&app, &url)?;
    Ok(HELD)
}
