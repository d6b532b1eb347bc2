//! What the model keeps and accepts, within bounds, so that a page the learner visits or a
//! runaway script cannot fill the laptop's memory or leave a deploy stuck. Where Singularity
//! has a rule, its rule and message are used with a value chosen here (as an operator would
//! set its configuration); where it has none, the limit is this platform's own and its
//! message says so. docs/platform.md lists them.

use std::time::Duration;

use super::{
    Settings,
    objects::{Deploy, JavaInt, JavaLong},
};

/// The largest request or deploy body taken. A real deploy is a few hundred bytes to a
/// couple of KiB; Singularity (Jetty) sets no limit.
pub(super) const MAX_BODY: usize = 32 * 1024;

/// How many requests the model keeps. Singularity keeps as many as its ZooKeeper holds; the
/// workshop uses one or two.
pub(super) const MAX_REQUESTS: usize = 50;

/// How many deploys of a request the history keeps: older finished ones are purged, as
/// Singularity's `SingularityHistoryPurger` does by age (`purgeDeployHistoryAfterDays`, 365)
/// when `historyPurging` is enabled. A class deploys each step a few times: 20 keeps all of
/// a learner's recent ones.
pub(super) const DEPLOYS_KEPT: usize = 20;

/// How many finished tasks the model keeps for the page (the newest; live ones are all
/// kept). Singularity keeps task history in its database, purged by age or count
/// (`deleteTaskHistoryAfterTasksPerRequest`, off by default).
pub(super) const FINISHED_TASKS_KEPT: usize = 50;

/// `healthcheckMaxTotalTimeoutSeconds` as this platform sets it (Singularity: unset, no
/// limit): start-up plus every attempt's interval and response timeout must stay under an
/// hour. The defaults make 55 s; an hour is far beyond any exercise, and a deploy can be
/// canceled at any time.
pub(super) const MAX_TOTAL_HEALTHCHECK_SECONDS: i64 = 3600;

/// The most `deployHealthTimeoutSeconds` and `considerHealthyAfterRunningForSeconds` may be
/// here (Singularity: no limit): an hour, for the same reason.
pub(super) const MAX_DEPLOY_SECONDS: i64 = 3600;

/// The least `intervalSeconds` taken (Singularity: no limit). The checker looks at the
/// deploy and checks every task once an interval; at 0 it would never rest.
pub(super) const MIN_INTERVAL_SECONDS: i64 = 1;

/// The shortest pause between two looks at a deploy (or at all tasks).
pub(super) const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// `SingularityValidator.checkDeploy`'s health-check time rule, with
/// [`MAX_TOTAL_HEALTHCHECK_SECONDS`], then this platform's own bounds on each timing. The
/// platform's [`Settings`] stand for the configuration's defaults of the options left out.
pub(super) fn check_timings(deploy: &Deploy, settings: &Settings) -> Result<(), String> {
    let int = |value: Option<JavaInt>| value.map(|n| i64::from(n.0));
    let secs = |duration: Duration| duration.as_secs() as i64;
    if let Some(options) = &deploy.healthcheck {
        let given = [
            (
                "startupTimeoutSeconds",
                int(options.startup_timeout_seconds),
            ),
            ("intervalSeconds", int(options.interval_seconds)),
            (
                "responseTimeoutSeconds",
                int(options.response_timeout_seconds),
            ),
            ("maxRetries", int(options.max_retries)),
        ];
        for (name, value) in given {
            if let Some(value) = value.filter(|v| *v < 0) {
                return Err(format!(
                    "This practice platform does not accept a negative healthcheck.{name} ({value})"
                ));
            }
        }
        let interval = int(options.interval_seconds).unwrap_or(secs(settings.check_interval));
        if let Some(value) = int(options.interval_seconds).filter(|v| *v < MIN_INTERVAL_SECONDS) {
            return Err(format!(
                "This practice platform does not accept healthcheck.intervalSeconds {value}: \
                 it checks at most once a second (the least is {MIN_INTERVAL_SECONDS})"
            ));
        }
        // Singularity's sum, in 64 bits (its `int` sum would wrap for huge values and pass).
        let response =
            int(options.response_timeout_seconds).unwrap_or(secs(settings.check_timeout));
        let startup =
            int(options.startup_timeout_seconds).unwrap_or(secs(settings.startup_timeout));
        let attempts = int(options.max_retries).unwrap_or(0) + 1;
        let total = startup + (response + interval) * attempts;
        if total >= MAX_TOTAL_HEALTHCHECK_SECONDS {
            return Err(format!(
                "Max healthcheck time cannot be greater than {MAX_TOTAL_HEALTHCHECK_SECONDS}, \
                 (was startup timeout: {startup}, interval: {interval}, attempts: {attempts})"
            ));
        }
    }
    let long = |value: Option<JavaLong>| value.map(|n| n.0);
    for (name, value) in [
        (
            "deployHealthTimeoutSeconds",
            long(deploy.deploy_health_timeout_seconds),
        ),
        (
            "considerHealthyAfterRunningForSeconds",
            long(deploy.consider_healthy_after_running_for_seconds),
        ),
    ] {
        match value {
            Some(value) if value < 0 => {
                return Err(format!(
                    "This practice platform does not accept a negative {name} ({value})"
                ));
            }
            Some(value) if value > MAX_DEPLOY_SECONDS => {
                return Err(format!(
                    "This practice platform does not accept {name} over {MAX_DEPLOY_SECONDS} \
                     (an hour), it is {value}"
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// The refusal of one request too many.
pub(super) fn too_many_requests() -> String {
    format!(
        "This practice platform keeps at most {MAX_REQUESTS} requests; restart it to begin afresh"
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn check(deploy: serde_json::Value) -> Result<(), String> {
        let deploy: Deploy = serde_json::from_value(deploy).unwrap();
        check_timings(&deploy.with_healthcheck_folded(), &Settings::default())
    }

    #[test]
    fn the_defaults_and_the_workshops_timings_pass() {
        assert_eq!(check(json!({ "healthcheckUri": "/health" })), Ok(()));
        assert_eq!(
            check(json!({ "healthcheck": { "uri": "/h", "intervalSeconds": 1,
                "startupTimeoutSeconds": 20, "maxRetries": 3 },
                "deployHealthTimeoutSeconds": 3600 })),
            Ok(())
        );
    }

    #[test]
    fn the_total_health_check_time_is_singularitys_rule_with_an_hour() {
        // 45 + (5 + 2147483647) × 1: Java's int sum would wrap and pass; here it does not.
        assert_eq!(
            check(json!({ "healthcheck": { "uri": "/h", "intervalSeconds": 2_147_483_647 } })),
            Err(
                "Max healthcheck time cannot be greater than 3600, (was startup timeout: 45, \
                 interval: 2147483647, attempts: 1)"
                    .into()
            )
        );
        // 45 + (5 + 5) × 356 = 3605; × 355 = 3595 passes.
        assert!(check(json!({ "healthcheck": { "uri": "/h", "maxRetries": 355 } })).is_err());
        assert_eq!(
            check(json!({ "healthcheck": { "uri": "/h", "maxRetries": 354 } })),
            Ok(())
        );
        // The deprecated options count too, once folded.
        assert!(
            check(json!({ "healthcheckUri": "/h", "healthcheckTimeoutSeconds": 4000 })).is_err()
        );
    }

    #[test]
    fn what_singularity_does_not_bound_is_refused_in_the_platforms_words() {
        assert_eq!(
            check(json!({ "healthcheck": { "uri": "/h", "intervalSeconds": 0 } })),
            Err(
                "This practice platform does not accept healthcheck.intervalSeconds 0: it checks \
                 at most once a second (the least is 1)"
                    .into()
            )
        );
        assert_eq!(
            check(json!({ "healthcheck": { "uri": "/h", "startupTimeoutSeconds": -1 } })),
            Err("This practice platform does not accept a negative healthcheck.startupTimeoutSeconds (-1)".into())
        );
        assert_eq!(
            check(json!({ "deployHealthTimeoutSeconds": 3601 })),
            Err(
                "This practice platform does not accept deployHealthTimeoutSeconds over 3600 \
                 (an hour), it is 3601"
                    .into()
            )
        );
        assert!(check(json!({ "considerHealthyAfterRunningForSeconds": -5 })).is_err());
    }
}
