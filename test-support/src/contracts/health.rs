//! Step 07: `GET /health` answers 2xx so that Singularity counts the task as started, checked
//! as Singularity checks it ([`crate::health`]): with its start-up window, interval and timeout.

use super::*;
use crate::health::{self, Next};

const PAGE: &str = "docs/07-health.md#why";

/// Checks `{url}/health` as Singularity does, until it is healthy (`Ok` with how long after the
/// start that took, and after how many checks) or Singularity would give up on it. A process that
/// exits meanwhile is a task that failed. The first check comes at the readiness line, where
/// Singularity's comes `startupIntervalSeconds` (2 s) after the task runs: a healthy service is
/// seen so at once, and the later checks keep Singularity's intervals and limits.
fn until_healthy(app: &mut App, url: &str) -> Result<(Duration, u32), Failed> {
    let rules = health::rules();
    let url = format!("{url}/health");
    for checks in 1.. {
        let check = health::check(&rules, &url);
        let running_for = app.running_for();
        let wait = match health::next(&rules, running_for, &check) {
            Next::Healthy => return Ok((running_for, checks)),
            Next::Unhealthy(why) => return Err(app.failed(&why)),
            Next::Again(wait) => wait,
        };
        let until = Instant::now() + wait;
        while Instant::now() < until {
            if !app.is_running() {
                let status = app.exit_within(EXIT_DEADLINE)?;
                let what = format!("exited ({status}) during its health checks, at {check:?}");
                return Err(app.failed(&what));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
    unreachable!("the checks go on until one decides")
}

pub const HEALTH_ANSWERS: About = About {
    class: Class::Fails,
    expected: "GET /health answers 2xx within Singularity's start-up window: checked every 2 s \
               while the port refuses (45 s at most), every 5 s after any other answer (55 s at \
               most), 5 s per check",
    platform: "Singularity counts a task as started only once GET /health answers 2xx: otherwise \
               the deploy is marked FAILED (TASK_FAILED_HEALTH_CHECKS) after 45 s of refused \
               checks, or 55 s of failing ones, and its tasks are stopped.",
    page: PAGE,
};

pub fn health_answers(bin: &str) -> Outcome {
    let (mut app, url) = serving(bin)?;
    let (after, checks) = until_healthy(&mut app, &url)?;
    let note = match checks {
        1 => "healthy at the first check".to_string(),
        n => format!(
            "healthy at check {n}, {:.1} s after it started",
            after.as_secs_f64()
        ),
    };
    Ok(Held { note: Some(note) })
}

pub const SAYS_STARTED_UP: About = About {
    class: Class::Advice,
    expected: "GET /health answers 200 with `I've started up successfully!` (the snapshots' words)",
    platform: "Nothing: Singularity takes any 2xx, whatever the body says.",
    page: PAGE,
};

pub fn says_started_up(bin: &str) -> Outcome {
    let (app, url) = serving(bin)?;
    expect_response(&app, http::get(&format!("{url}/health")), 200, HEALTHY)?;
    Ok(HELD)
}

pub const HEALTH_ANSWERS_HEAD: About = About {
    class: Class::Advice,
    expected: "HEAD /health answers 200 too",
    platform: "Nothing: Singularity's health checks are GETs. Answering HEAD is this \
               repository's choice, for tools that check with it.",
    page: PAGE,
};

pub fn health_answers_head(bin: &str) -> Outcome {
    let (app, url) = serving(bin)?;
    expect_response(&app, http::head(&format!("{url}/health")), 200, "")?;
    Ok(HELD)
}

pub const UNKNOWN_PATH_IS_NOT_FOUND: About = About {
    class: Class::Advice,
    expected: "answers 404 to paths it does not serve (/healthz, /health/)",
    platform: "Nothing: Singularity checks only the deploy's own path. A 404 elsewhere is this \
               repository's choice, so that a mistyped health-check path fails a deploy \
               instead of passing it.",
    page: PAGE,
};

pub fn unknown_path_is_not_found(bin: &str) -> Outcome {
    let (app, url) = serving(bin)?;
    // Whatever the body says.
    for path in ["/healthz", "/health/"] {
        let response = http::get(&format!("{url}{path}"));
        app.check(
            matches!(response, Ok(Response { status: 404, .. })),
            &format!("expected GET {url}{path} to answer 404, got {response:?}"),
        )?;
    }
    Ok(HELD)
}
