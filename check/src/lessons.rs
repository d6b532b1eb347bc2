//! Which lessons a step has taught, and what each contract means on the platform: what it
//! expects in words, what the platform does to a service that breaks it, and the page that
//! teaches it. Pure tables, so that the tests can check every contract has its advice.

use test_support::contracts::{LESSONS, Lesson};

/// The lessons whose contracts a service at `step` keeps, in the order they are taught.
/// Step 02's fixed address gives way to step 03's environment; steps 05, 06 and 08 deploy
/// and teach no new behaviour.
pub fn up_to(step: u8) -> Vec<&'static Lesson> {
    let names: &[&str] = match step {
        2 => &["hello"],
        3 => &["env"],
        4..=6 => &["env", "signals"],
        7 | 8 => &["env", "signals", "health"],
        _ => &["env", "signals", "health", "discovery"],
    };
    names
        .iter()
        .map(|name| {
            LESSONS
                .iter()
                .find(|lesson| lesson.name == *name)
                .expect("every lesson named here has contracts in test-support")
        })
        .collect()
}

/// The step that teaches `lesson`, and its page.
pub fn page_of(lesson: &str) -> (&'static str, &'static str) {
    match lesson {
        "hello" => ("02", "docs/02-hello.md"),
        "env" => ("03", "docs/03-env.md"),
        "signals" => ("04", "docs/04-signals.md"),
        "health" => ("07", "docs/07-health.md"),
        _ => ("09", "docs/09-discovery.md"),
    }
}

/// What a contract means, for a learner whose service breaks it.
#[derive(Debug, PartialEq, Eq)]
pub struct Advice {
    /// What the service should do, in words.
    pub expected: &'static str,
    /// What the platform does to a service that does not.
    pub platform: &'static str,
    /// The page section that teaches it.
    pub page: &'static str,
}

const NO_ANSWER: &str = "Singularity's health checks would never reach it: the deploy would be \
    marked FAILED after about 55 s (45 s start-up timeout, then one 5 s interval and one 5 s \
    check timeout), and its tasks stopped.";
const BAD_CONFIG: &str = "A task started with a wrong setting must stop at once and say why in one \
    line: Singularity shows the task as failed with that line in its log. A panic buries the \
    reason in a backtrace; a service that starts anyway on a guessed address is never reached, \
    and its deploy is marked FAILED after about 55 s with no reason in sight.";
const CANNOT_LISTEN: &str = "Exit code 4 and one line tell the operator the address is at fault \
    (not the settings, exit 3): the task fails at once with the reason in its log.";
const KILLED: &str = "Mesos stops a task with SIGTERM and sends SIGKILL 5 s later: every \
    deploy, scale-down or restart would wait those 5 s and then cut off the requests in \
    progress.";
const DRAIN: &str = "At every deploy the old tasks are stopped while clients still use them: \
    requests in progress must finish, new ones go to the new tasks, and the task must be gone \
    before Mesos's SIGKILL 5 s after SIGTERM.";
const UNHEALTHY: &str = "Singularity counts a task as started only once GET /health answers \
    2xx: without it the deploy is marked FAILED after about 55 s (45 s start-up timeout, then \
    one 5 s interval and one 5 s check timeout), and its tasks are stopped.";
const UNDISCOVERED: &str = "Other services find this one only through discovery: a task that \
    does not announce itself gets no traffic, and one that does not take its announcement back \
    before it stops is sent requests after it has gone.";

/// The advice for `contract` of `lesson`.
pub fn advice(lesson: &str, contract: &str) -> Advice {
    let (expected, platform, page) = match (lesson, contract) {
        ("hello", _) => (
            "prints `Server running at: http://localhost:3000` once listening there, and GET / answers 200",
            NO_ANSWER,
            "docs/02-hello.md#the-code",
        ),
        ("env", "task_host_is_required") => (
            "without TASK_HOST (or with it empty): exit code 3, nothing on stdout, one line on stderr",
            BAD_CONFIG,
            "docs/03-env.md#why",
        ),
        ("env", "port0_is_required" | "port0_must_be_a_tcp_port") => (
            "without PORT0, or with a PORT0 that is not a number from 0 to 65535: exit code 3, \
             nothing on stdout, one line on stderr",
            BAD_CONFIG,
            "docs/03-env.md#why",
        ),
        (
            "env",
            "busy_port_exits_4" | "unknown_host_exits_4" | "address_of_another_machine_exits_4",
        ) => (
            "when it cannot listen on TASK_HOST:PORT0 (port taken, unknown host, another machine's \
             address): exit code 4, nothing on stdout, one line on stderr",
            CANNOT_LISTEN,
            "docs/03-env.md#why",
        ),
        ("env", _) => (
            "listens on TASK_HOST and PORT0 (PORT0=0: a free port), prints `Server running at: URL` \
             with the real port (an IPv6 host in brackets), and GET / answers 200",
            NO_ANSWER,
            "docs/03-env.md#why",
        ),
        ("signals", "stops_cleanly_as_pid_1") => (
            "as PID 1 of a container, exits 0 on SIGTERM",
            KILLED,
            "docs/04-signals.md#the-pid-1-problem",
        ),
        ("signals", "sigterm_stops_cleanly" | "sigint_stops_cleanly") => (
            "on SIGTERM and SIGINT, exits 0 within 5 s",
            KILLED,
            "docs/04-signals.md#how-the-platform-stops-a-task",
        ),
        ("signals", _) => (
            "on SIGTERM: stops accepting connections, finishes the requests in progress, and exits 0 \
             within 4 s whatever its clients do",
            DRAIN,
            "docs/04-signals.md#draining-bounded",
        ),
        ("health", "unknown_path_is_not_found") => (
            "answers 404 to paths it does not serve (/healthz, /health/)",
            "A health-check path mistyped in a deploy must fail the deploy, not pass it: a service \
             that answers 200 everywhere hides the mistake.",
            "docs/07-health.md#why",
        ),
        ("health", _) => (
            "GET /health (and HEAD /health) answers 2xx as soon as it is ready",
            UNHEALTHY,
            "docs/07-health.md#why",
        ),
        _ => (
            "announces itself to discovery outside development mode, renews it every heartbeat, \
             takes it back before it stops, and never lets discovery delay its answers or its stop",
            UNDISCOVERED,
            "docs/09-discovery.md",
        ),
    };
    Advice {
        expected,
        platform,
        page,
    }
}

/// A contract's name in words: `port0_is_required` → "port0 is required".
pub fn in_words(contract: &str) -> String {
    contract.replace('_', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_step_keeps_the_lessons_before_it() {
        let names = |step| up_to(step).iter().map(|l| l.name).collect::<Vec<_>>();
        assert_eq!(names(2), ["hello"]);
        assert_eq!(names(6), ["env", "signals"]);
        assert_eq!(names(9), ["env", "signals", "health", "discovery"]);
    }

    #[test]
    fn every_page_named_exists() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        for lesson in up_to(9).into_iter().chain(up_to(2)) {
            for contract in lesson.contracts {
                let page = advice(lesson.name, contract.name).page;
                let file = page.split('#').next().unwrap_or_default();
                assert!(std::path::Path::new(root).join(file).is_file(), "{page}");
            }
        }
    }
}
