//! What a real Singularity acts on and this platform does not model: refused, saying so, never
//! accepted and ignored. A field gets a 400 (as `checkBadRequest` answers); an endpoint the
//! platform has no route for, a 501. docs/platform.md lists every field with what the platform
//! does with it.

use axum::{
    http::{Method, StatusCode, Uri, header::CONTENT_TYPE},
    response::{IntoResponse, Response},
};
use serde_json::Value;

use super::{Refusal, bad_request, dropwizard};
use crate::singularity::objects::{ContainerType, Deploy, Network, Request, RequestType};

/// Whether a field holds something: present and not `null`, `[]`, `{}` or `""`.
fn set(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::Array(items)) => !items.is_empty(),
        Some(Value::Object(map)) => !map.is_empty(),
        Some(Value::String(text)) => !text.is_empty(),
        Some(_) => true,
    }
}

fn refuse(field: &str, why: &str) -> Result<(), Refusal> {
    Err(bad_request(format!(
        "This practice platform does not model {field}: {why}"
    )))
}

/// A deploy's fields Mesos would act on and the platform cannot, each with why.
pub(super) fn validate_deploy(deploy: &Deploy) -> Result<(), Refusal> {
    let container = deploy.container_info.as_ref();
    let docker = container.and_then(|c| c.docker.as_ref());
    if container.is_some_and(|c| matches!(c.kind, Some(ContainerType::Mesos))) {
        return refuse(
            "containerInfo.type MESOS",
            "its tasks run in Docker, as DOCKER asks",
        );
    }
    match docker.and_then(|d| d.network) {
        Some(Network::Bridge) => {
            return refuse(
                "containerInfo.docker.network BRIDGE",
                "its tasks share the host's network (HOST), where each listens on its PORT0",
            );
        }
        Some(Network::None) => {
            return refuse(
                "containerInfo.docker.network NONE",
                "its tasks share the host's network (HOST), and a task without one could not be health checked",
            );
        }
        Some(Network::Host) | None => {}
    }
    let docker_fields = docker.map(|d| {
        [
            (
                "containerInfo.docker.portMappings",
                set(d.port_mappings.as_ref()),
                "they map ports of a BRIDGE network, which it does not model",
            ),
            (
                "containerInfo.docker.privileged",
                d.privileged == Some(true),
                "it does not give tasks the host's devices",
            ),
            (
                "containerInfo.docker.dockerParameters",
                set(d.docker_parameters.as_ref()) || set(d.parameters.as_ref()),
                "it passes no options of its own to docker run",
            ),
        ]
    });
    let health = deploy.healthcheck.as_ref();
    let health_fields = health.map(|h| {
        let other_than = |value: Option<&Value>, default: &str| {
            value.is_some_and(|v| !v.is_null() && v.as_str() != Some(default))
        };
        [
            (
                "healthcheck.protocol other than HTTP",
                other_than(h.protocol.as_ref(), "HTTP"),
                "it checks over plain HTTP/1.1",
            ),
            (
                "healthcheck.method other than GET",
                other_than(h.method.as_ref(), "GET"),
                "it checks with GET",
            ),
            (
                "healthcheck.startupDelaySeconds",
                h.startup_delay_seconds.is_some_and(|n| n.0 != 0),
                "it checks from the task's start",
            ),
            (
                "healthcheck.startupIntervalSeconds",
                h.startup_interval_seconds.is_some(),
                "start-up checks come every intervalSeconds",
            ),
            (
                "healthcheck.failureStatusCodes",
                h.failure_status_codes
                    .as_ref()
                    .is_some_and(|c| !c.is_empty()),
                "a status that is not 2xx fails a check and no status fails the deploy at once",
            ),
            (
                "healthcheck.healthcheckResultFilePath",
                h.healthcheck_result_file_path.is_some(),
                "it checks over HTTP only",
            ),
        ]
    });
    let deploy_fields = [
        (
            "skipHealthchecksOnDeploy",
            deploy.skip_healthchecks_on_deploy == Some(true),
            "every deploy with a health check waits for it",
        ),
        (
            "containerInfo.volumes",
            set(container.and_then(|c| c.volumes.as_ref())),
            "it mounts nothing into its tasks",
        ),
        (
            "containerInfo.mesos",
            set(container.and_then(|c| c.mesos.as_ref())),
            "its tasks run in Docker",
        ),
        (
            "containerInfo.networkInfos",
            set(container.and_then(|c| c.network_infos.as_ref())),
            "its tasks share the host's network",
        ),
        (
            "uris",
            set(deploy.uris.as_ref()),
            "it downloads no artifacts into a task's sandbox",
        ),
        (
            "taskEnv",
            set(deploy.task_env.as_ref()),
            "every instance gets the deploy's env",
        ),
        (
            "user",
            deploy.user.is_some(),
            "its tasks run as their image's user",
        ),
        (
            "customExecutorCmd",
            deploy.custom_executor_cmd.is_some() || set(deploy.executor_data.as_ref()),
            "its tasks run in Docker, without an executor of their own",
        ),
    ];
    let fields = (docker_fields.into_iter().flatten())
        .chain(health_fields.into_iter().flatten())
        .chain(deploy_fields);
    for (field, is_set, why) in fields {
        if is_set {
            return refuse(field, why);
        }
    }
    Ok(())
}

/// `requestType`s whose tasks Singularity starts by itself after a deploy (SCHEDULED on its
/// `schedule`, RUN_ONCE once), which this platform does not.
pub(super) fn validate_request(request: &Request) -> Result<(), Refusal> {
    if request.skip_healthchecks == Some(true) {
        return refuse(
            "skipHealthchecks",
            "every deploy with a health check waits for it",
        );
    }
    match request.request_type {
        Some(RequestType::Scheduled) => refuse(
            "SCHEDULED requests",
            "it runs no task on a schedule; an ON_DEMAND request's deploy succeeds without running one",
        ),
        Some(RequestType::RunOnce) => refuse(
            "RUN_ONCE requests",
            "it runs no task once a deploy has succeeded",
        ),
        _ => Ok(()),
    }
}

/// `POST /api/requests/request/{id}/run` (`RequestResource.scheduleImmediately`): an
/// ON_DEMAND request's one-off run, which this platform does not start.
pub(super) async fn run_request() -> Refusal {
    bad_request(
        "This practice platform does not model one-off runs: an ON_DEMAND request's deploy succeeds and runs no task",
    )
}

/// A pause's or unpause's optional body (`SingularityPauseRequest`: `killTasks`,
/// `durationMillis`, `actionId`, …; `SingularityUnpauseRequest`: `skipHealthchecks`, …): the
/// platform pauses and unpauses as with no body, so a body is refused rather than ignored.
pub(super) fn check_no_options(body: &[u8], action: &str) -> Result<(), Refusal> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    // `{}`, or options all left unset, asks for nothing the platform does not do.
    if let Ok(Value::Object(options)) = serde_json::from_slice::<Value>(body)
        && !options.values().any(|value| set(Some(value)))
    {
        return Ok(());
    }
    refuse(
        &format!("the options of {action}"),
        "it does it with none; send no body",
    )
}

/// Singularity's resources (`ApiPaths`): the real server has endpoints under each of them,
/// many of which this platform has no route for.
const RESOURCES: [&str; 25] = [
    "/api/agents",
    "/api/auth",
    "/api/configuration",
    "/api/deploys",
    "/api/disasters",
    "/api/groups",
    "/api/history",
    "/api/inactive",
    "/api/logs",
    "/api/metrics",
    "/api/notifications",
    "/api/openapi.json",
    "/api/priority",
    "/api/racks",
    "/api/requests",
    "/api/sandbox",
    "/api/shuffle",
    "/api/slaves",
    "/api/state",
    "/api/tasks",
    "/api/test",
    "/api/track",
    "/api/usage",
    "/api/users",
    "/api/webhooks",
];

/// The resource of Singularity's that `path` is under, if any. A path with an empty segment
/// (`/api/sandbox//read`, from an unset shell variable) matches none of Singularity's
/// templates, whose parameters are never empty: Jersey answers it 404.
pub(super) fn resource_of(path: &str) -> Option<&'static str> {
    if path.contains("//") {
        return None;
    }
    RESOURCES.into_iter().find(|resource| {
        path.strip_prefix(resource)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

/// Methods Singularity takes on paths the platform routes for other methods (`RequestResource`,
/// `TaskResource`); `*` is one segment.
const METHODS: [(Method, &str, &str); 4] = [
    (
        Method::DELETE,
        "/api/requests/request/*/scale",
        "deletes the expiring scale",
    ),
    (
        Method::DELETE,
        "/api/requests/request/*/pause",
        "deletes the expiring pause",
    ),
    (
        Method::DELETE,
        "/api/requests/request/*/bounce",
        "deletes the expiring bounce",
    ),
    (Method::DELETE, "/api/tasks/task/*", "kills the task"),
];

/// What Singularity does with `method` on `path`, if it is one of [`METHODS`].
pub(super) fn unmodelled_method(method: &Method, path: &str) -> Option<&'static str> {
    let matches = |pattern: &str| {
        pattern.split('/').count() == path.split('/').count()
            && (pattern.split('/').zip(path.split('/')))
                .all(|(want, got)| want == got || (want == "*" && !got.is_empty()))
    };
    METHODS
        .iter()
        .find(|(known, pattern, _)| known == method && matches(pattern))
        .map(|(_, _, what)| *what)
}

/// The answer to a method that a routed path does not take: Jersey's 405, or for a method
/// Singularity takes there, a 501 that says this platform does not model it.
pub(super) async fn wrong_method(method: Method, uri: Uri) -> Response {
    let path = uri.path();
    match unmodelled_method(&method, path) {
        None => dropwizard(
            StatusCode::METHOD_NOT_ALLOWED,
            "HTTP 405 Method Not Allowed",
        )
        .into_response(),
        Some(what) => not_modelled(format!(
            "This practice platform does not model {method} {path}: on Singularity, it {what}"
        )),
    }
}

/// A 501, `text/plain`: what the platform does not model.
fn not_modelled(message: String) -> Response {
    (
        StatusCode::NOT_IMPLEMENTED,
        [(CONTENT_TYPE, "text/plain")],
        message,
    )
        .into_response()
}

/// The answer to a path that no route has. Outside Singularity's resources, Jersey's 404, as
/// the real server answers. Under one of them, the real server may have that endpoint: a 501
/// says that this platform does not model it, rather than a 404 that would say Singularity
/// has no such thing.
pub(super) async fn no_route(method: Method, uri: Uri) -> Response {
    let path = uri.path();
    match resource_of(path) {
        None => dropwizard(StatusCode::NOT_FOUND, "HTTP 404 Not Found").into_response(),
        Some(resource) => not_modelled(format!(
            "This practice platform does not model {method} {path}: it is under Singularity's \
             {resource} resource, but the platform has no such endpoint (docs/platform.md \
             lists those it has). Check the path: Singularity may not have it either."
        )),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::Method;

    use super::{resource_of, unmodelled_method};

    #[test]
    fn singularitys_other_methods_on_routed_paths_are_named() {
        let kill = unmodelled_method(&Method::DELETE, "/api/tasks/task/hello-1");
        assert_eq!(kill, Some("kills the task"));
        let scale = unmodelled_method(&Method::DELETE, "/api/requests/request/hello/scale");
        assert_eq!(scale, Some("deletes the expiring scale"));
    }

    #[test]
    fn other_methods_are_not() {
        for (method, path) in [
            (Method::PUT, "/api/tasks/task/hello-1"),
            (Method::DELETE, "/api/tasks/task/"),
            (Method::DELETE, "/api/tasks/task/a/b"),
            (Method::GET, "/api/requests/request/hello/pause"),
            (Method::DELETE, "/api/requests/request/hello/unpause"),
        ] {
            assert_eq!(unmodelled_method(&method, path), None, "{method} {path}");
        }
    }

    #[test]
    fn a_path_under_one_of_singularitys_resources_is_named_by_it() {
        assert_eq!(
            resource_of("/api/history/request/x/tasks/active"),
            Some("/api/history")
        );
        assert_eq!(resource_of("/api/webhooks"), Some("/api/webhooks"));
        assert_eq!(resource_of("/api/openapi.json"), Some("/api/openapi.json"));
    }

    #[test]
    fn other_paths_are_under_none() {
        assert_eq!(resource_of("/api/nothing"), None);
        assert_eq!(resource_of("/api/tasksx"), None);
        assert_eq!(resource_of("/api"), None);
        assert_eq!(resource_of("/history"), None);
        assert_eq!(resource_of("/api/sandbox//read"), None);
    }
}
