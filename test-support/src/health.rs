//! Singularity's health checks of a task, with its default timing, so that a service is held
//! healthy exactly when Singularity's deploy checker would hold it so. From HubSpot/Singularity
//! (`SingularityService/src/main/java/com/hubspot/singularity/`):
//!
//! - `config/SingularityConfiguration.java`: `startupTimeoutSeconds = 45`,
//!   `startupIntervalSeconds = 2`, `healthcheckIntervalSeconds = 5`,
//!   `healthcheckTimeoutSeconds = 5`, `startupDelaySeconds` and `healthcheckMaxRetries` unset;
//! - `scheduler/SingularityHealthcheckAsyncHandler.java`: a check whose connection is refused
//!   (`ConnectException`) is a start-up check; any other failure is not;
//! - `scheduler/SingularityHealthchecker.java` (`getDelaySeconds`): the next check comes a
//!   start-up interval after a start-up check, an interval after any other failure;
//! - `scheduler/SingularityDeployHealthHelper.java`: a task is healthy at its first 2xx; it is
//!   unhealthy once refused past the start-up timeout, or failing past
//!   `getMaxHealthcheckTimeoutSeconds` (start-up timeout + (interval + timeout) × (retries + 1)
//!   = 45 + 10 = 55 s), and the deploy ends FAILED.
//!
//! [`next`] is that decision, a pure function; [`check`] makes one check.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

/// Singularity's timing of the health checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// `startupTimeoutSeconds`: how long a task's port may refuse connections.
    pub startup_timeout: Duration,
    /// `startupIntervalSeconds`: between checks while the port refuses.
    pub startup_interval: Duration,
    /// `healthcheckIntervalSeconds`: between checks after any other failure.
    pub interval: Duration,
    /// `healthcheckTimeoutSeconds`: how long one check may take.
    pub timeout: Duration,
}

/// Singularity's defaults.
pub const SINGULARITY: Rules = Rules {
    startup_timeout: Duration::from_secs(45),
    startup_interval: Duration::from_secs(2),
    interval: Duration::from_secs(5),
    timeout: Duration::from_secs(5),
};

/// The start-up timeout in use, in milliseconds: Singularity's, unless shortened.
static STARTUP_TIMEOUT_MS: AtomicU64 = AtomicU64::new(45_000);

/// Shortens the start-up timeout (a class that wants to see a failure in seconds, not a
/// minute): the checks then end sooner than on the platform, never later.
pub fn set_startup_timeout(timeout: Duration) {
    let timeout = timeout.min(SINGULARITY.startup_timeout);
    let millis = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
    STARTUP_TIMEOUT_MS.store(millis, Ordering::SeqCst);
}

/// The rules in use: Singularity's, with the start-up timeout that was set.
pub fn rules() -> Rules {
    Rules {
        startup_timeout: Duration::from_millis(STARTUP_TIMEOUT_MS.load(Ordering::SeqCst)),
        ..SINGULARITY
    }
}

impl Rules {
    /// `getMaxHealthcheckTimeoutSeconds` without retries: past this, a task whose checks fail
    /// (other than refused) is unhealthy.
    pub fn max_health(&self) -> Duration {
        self.startup_timeout + self.interval + self.timeout
    }
}

/// What one check saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// An answer with this status.
    Answered(u16),
    /// The connection was refused: nothing listens yet (a start-up check).
    Refused(String),
    /// Anything else: a timeout, a connection closed without an answer.
    Broken(String),
}

/// What follows a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// The task is healthy: the deploy can succeed.
    Healthy,
    /// Check again after this long.
    Again(Duration),
    /// Singularity gives up on the task, for this reason.
    Unhealthy(String),
}

/// What Singularity does after `check`, made when the task had run for `running_for`.
pub fn next(rules: &Rules, running_for: Duration, check: &Check) -> Next {
    let seconds = |d: Duration| format!("{:.1} s", d.as_secs_f64());
    match check {
        Check::Answered(200..=299) => Next::Healthy,
        Check::Refused(why) if running_for > rules.startup_timeout => Next::Unhealthy(format!(
            "still refused after {} ({why}), past the start-up timeout of {}",
            seconds(running_for),
            seconds(rules.startup_timeout)
        )),
        Check::Refused(_) => Next::Again(rules.startup_interval),
        failed if running_for > rules.max_health() => {
            let last = match failed {
                Check::Answered(status) => format!("answered {status}"),
                Check::Refused(why) | Check::Broken(why) => why.clone(),
            };
            Next::Unhealthy(format!(
                "not healthy after {} (the last check: {last}), past the health-check time of {}",
                seconds(running_for),
                seconds(rules.max_health())
            ))
        }
        _ => Next::Again(rules.interval),
    }
}

/// One check as Singularity makes it: `GET url`, at most `rules.timeout`.
pub fn check(rules: &Rules, url: &str) -> Check {
    let client = reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(rules.timeout)
        .build()
        .expect("an HTTP client without TLS builds");
    match client.get(url).send() {
        Ok(response) => Check::Answered(response.status().as_u16()),
        Err(err) if err.is_connect() && !err.is_timeout() => {
            Check::Refused(format!("GET {url}: connection refused"))
        }
        Err(err) => Check::Broken(format!("GET {url}: {err}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn a_2xx_is_healthy_at_once() {
        assert_eq!(
            next(&SINGULARITY, S(0), &Check::Answered(204)),
            Next::Healthy
        );
    }

    #[test]
    fn a_refused_port_is_checked_every_2_s_for_45_s() {
        let refused = Check::Refused("refused".into());
        assert_eq!(next(&SINGULARITY, S(44), &refused), Next::Again(S(2)));
        assert!(matches!(
            next(&SINGULARITY, S(46), &refused),
            Next::Unhealthy(_)
        ));
    }

    #[test]
    fn an_error_is_checked_every_5_s_for_55_s() {
        let error = Check::Answered(500);
        assert_eq!(next(&SINGULARITY, S(3), &error), Next::Again(S(5)));
        assert_eq!(next(&SINGULARITY, S(54), &error), Next::Again(S(5)));
        let late = next(&SINGULARITY, S(56), &error);
        assert!(matches!(&late, Next::Unhealthy(why) if why.contains("answered 500")));
    }

    #[test]
    fn a_shorter_start_up_window_ends_sooner() {
        let rules = Rules {
            startup_timeout: S(0),
            ..SINGULARITY
        };
        assert_eq!(rules.max_health(), S(10));
        assert!(matches!(
            next(&rules, S(11), &Check::Answered(404)),
            Next::Unhealthy(_)
        ));
    }
}
