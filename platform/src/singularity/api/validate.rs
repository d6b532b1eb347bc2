//! `SingularityValidator`'s rules for requests and deploys, in its order and with its
//! messages; no HTTP here, only what a refusal says.

use super::{Refusal, bad_request, unmodelled};
use crate::{
    runtime::reference::Reference,
    singularity::{
        Settings,
        jackson::JavaDouble,
        jackson::java_double,
        limits,
        objects::{Deploy, JavaInt, Request, RequestType},
    },
};

/// Most limits are Singularity's defaults (`SingularityConfiguration`, `MesosConfiguration`).
const MAX_REQUEST_ID: usize = 100;
const MAX_DEPLOY_ID: usize = 50;
const MAX_INSTANCES: i64 = 25;
const MAX_CPUS_PER_INSTANCE: i32 = 50;
const MAX_CPUS_PER_REQUEST: i32 = 900;
const MAX_MEMORY_MB_PER_INSTANCE: i32 = 24_000;
const MAX_MEMORY_MB_PER_REQUEST: i32 = 450_000;
const MAX_DISK_MB_PER_INSTANCE: i32 = 60_000;
const MAX_DISK_MB_PER_REQUEST: i32 = 3_000_000;

/// `SingularityValidator.checkSingularityRequest`: the request as it is saved, `requestType`
/// derived from the deprecated `daemon`/`loadBalanced` when missing (`RequestType.java`).
pub(super) fn validate_request(request: Request) -> Result<Request, Refusal> {
    let Some(id) = &request.id else {
        return Err(bad_request("Request must have an id"));
    };
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        // Sic: the pattern allows `-`, the message does not say so.
        return Err(bad_request(
            "Id cannot be null or contain characters other than [a-zA-Z0-9_]",
        ));
    }
    let request_type = request
        .request_type
        .unwrap_or(if request.schedule.is_some() {
            RequestType::Scheduled
        } else if !request.daemon.unwrap_or(true) {
            RequestType::OnDemand
        } else if request.load_balanced.unwrap_or(false) {
            RequestType::Service
        } else {
            RequestType::Worker
        });
    if request.owners.as_ref().is_some_and(|o| o.contains(&None)) {
        return Err(bad_request("Request owners cannot contain null values"));
    }
    if id.len() > MAX_REQUEST_ID {
        return Err(bad_request(format!(
            "Request id must be less {MAX_REQUEST_ID} characters or less, it is {} ({id})",
            id.len()
        )));
    }
    if request.instances.is_some_and(|n| n.0 <= 0) {
        return Err(bad_request("Instances must be greater than 0"));
    }
    let instances = i64::from(request.instances.map_or(1, |n| n.0));
    if instances > MAX_INSTANCES {
        return Err(bad_request(format!(
            "Instances ({instances}) be greater than {MAX_INSTANCES} (maxInstancesPerRequest in mesos configuration)"
        )));
    }
    if let Some(JavaInt(max_scale)) = request.max_scale
        && matches!(request_type, RequestType::Service | RequestType::Worker)
        && instances > i64::from(max_scale)
    {
        return Err(bad_request(format!(
            "Instances ({instances}) cannot be greater than {max_scale} (maxScale in request)"
        )));
    }
    if let Some(JavaDouble(level)) = request.task_priority_level {
        // Java's comparisons, which NaN fails.
        check_bad_request((0.0..=1.0).contains(&level), || {
            format!(
                "Request taskPriorityLevel {} is invalid, must be between 0 and 1 (inclusive).",
                java_double(level)
            )
        })?;
    }
    let request = Request {
        request_type: Some(request_type),
        ..request.with_agent_twins()
    };
    unmodelled::validate_request(&request)?;
    Ok(request)
}

/// `checkForIllegalChanges`: a request's type stays, except a WORKER and a SERVICE that is
/// not load balanced, which may become each other; whether it is load balanced stays.
pub(super) fn validate_changes(existing: &Request, request: &Request) -> Result<(), Refusal> {
    // Both were saved through `validate_request`, which sets the type.
    let kind = |r: &Request| r.request_type.unwrap_or(RequestType::Worker);
    let balanced = |r: &Request| r.load_balanced.unwrap_or(false);
    let (from, to) = (kind(existing), kind(request));
    if from != to {
        use RequestType::{Service, Worker};
        let allowed = (from == Service && !balanced(existing) && to == Worker)
            || (to == Service && !balanced(request) && from == Worker);
        if !allowed {
            return Err(bad_request(format!(
                "Request can not change requestType from {} to {}",
                from.name(),
                to.name()
            )));
        }
    }
    if balanced(existing) != balanced(request) {
        return Err(bad_request(
            "Request can not change whether it is load balanced",
        ));
    }
    Ok(())
}

/// `MesosConfiguration`'s defaults for a deploy without `resources`.
const DEFAULT_RESOURCES: (f64, f64, i32, f64) = (1.0, 64.0, 0, 0.0);

/// `SingularityValidator.checkDeploy` and `checkForIllegalResources`, in their order.
/// Returns the deploy as stored (as `SingularityDeploy`'s constructor leaves it: the
/// deprecated `healthcheckUri` converted to `healthcheck`, its defaults filled in; scalars
/// as Jackson coerced them). The
/// platform's settings stand for the configuration's health-check defaults.
pub(super) fn validate_deploy(
    deploy: Deploy,
    request_id: &str,
    instances: i64,
    used: bool,
    settings: &Settings,
) -> Result<Deploy, Refusal> {
    let deploy = deploy.constructed();
    let Some(deploy_id) = &deploy.id else {
        return Err(bad_request("Id must not be null"));
    };
    if deploy_id.is_empty()
        || !deploy_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
    {
        return Err(bad_request(
            "Id cannot be null or contain characters other than [a-zA-Z0-9_.]",
        ));
    }
    if deploy_id.len() > MAX_DEPLOY_ID {
        return Err(bad_request(format!(
            "Deploy id must be {MAX_DEPLOY_ID} characters or less, it is {} ({deploy_id})",
            deploy_id.len()
        )));
    }
    if deploy.request_id.as_deref() != Some(request_id) {
        return Err(bad_request("Deploy id must match request id"));
    }
    if (deploy.env.iter().flatten())
        .any(|(k, v)| k == "STARTED_BY_USER" || v.0.contains("STARTED_BY_USER"))
    {
        return Err(bad_request("Cannot override STARTED_BY_USER in env"));
    }
    if deploy
        .command
        .as_deref()
        .is_some_and(|c| c.contains("STARTED_BY_USER"))
    {
        return Err(bad_request("Cannot override STARTED_BY_USER in command"));
    }
    validate_resources(&deploy, deploy_id, instances)?;
    let healthcheck =
        (deploy.healthcheck.as_ref()).map(|h| (h.uri.clone(), h.port_index, h.port_number));
    if let Some((uri, port_index, port_number)) = healthcheck {
        if let Some(resources) = &deploy.resources {
            if port_index.is_some() && port_number.is_some() {
                return Err(bad_request(
                    "Can only specify one of portIndex or portNumber for healthchecks",
                ));
            }
            if let Some(JavaInt(index)) = port_index {
                if index < 0 {
                    return Err(bad_request("healthcheckPortIndex cannot be negative"));
                }
                let num_ports = resources.num_ports.0;
                if num_ports <= index {
                    return Err(bad_request(format!(
                        "Must request {} ports for healthcheckPortIndex {index}, only requested {num_ports}",
                        i64::from(index) + 1
                    )));
                }
            }
        }
        if uri.as_deref().unwrap_or_default().is_empty() {
            return Err(bad_request(
                "Must specify a uri or a healthcheck result file pathh when specifying health check parameters",
            ));
        }
        let num_ports = deploy.resources.as_ref().map_or(0, |r| r.num_ports.0);
        if port_number.is_none() && num_ports == 0 {
            return Err(bad_request(
                "Either an explicit port number, or port resources and port index must be specified to run healthchecks against a uri",
            ));
        }
    }
    limits::check_timings(&deploy, settings).map_err(bad_request)?;
    let docker = deploy
        .container_info
        .as_ref()
        .and_then(|c| c.docker.as_ref());
    if deploy.command.is_none() && deploy.container_info.is_none() {
        return Err(bad_request(
            "If not using custom executor, specify a command or containerInfo. If using custom executor, specify executorData and customExecutorCmd and no command.",
        ));
    }
    if deploy
        .container_info
        .as_ref()
        .is_some_and(|c| c.kind.is_none())
    {
        return Err(bad_request("Container type must not be null"));
    }
    if docker.is_none() {
        // Not Singularity's rule: this platform only runs Docker images.
        return Err(bad_request(
            "This practice platform runs Docker images only: set containerInfo.docker.image",
        ));
    }
    if let Err(why) = Reference::parse(deploy.image()) {
        // Not Singularity's rule either: it takes any text, and Mesos fails the task when
        // Docker refuses it. Here, nothing that is not an image may reach `docker run`.
        return Err(bad_request(format!(
            "This practice platform runs only Docker image references: containerInfo.docker.image {:?} \
             is not one, {why} (Singularity accepts it, and the task fails when Docker refuses it)",
            deploy.image()
        )));
    }
    unmodelled::validate_deploy(&deploy)?;
    if used {
        return Err(bad_request(
            "Can not deploy a deploy that has already been deployed",
        ));
    }
    Ok(deploy)
}

/// `checkForIllegalResources`, with `MesosConfiguration`'s limits; numbers as Java's `%s`
/// prints them.
fn validate_resources(deploy: &Deploy, deploy_id: &str, instances: i64) -> Result<(), Refusal> {
    let (cpus, memory_mb, disk_mb) = match &deploy.resources {
        Some(r) => (r.cpus.0, r.memory_mb.0, r.disk_mb.0),
        None => (
            DEFAULT_RESOURCES.0,
            DEFAULT_RESOURCES.1,
            DEFAULT_RESOURCES.3,
        ),
    };
    // Java's comparisons, which NaN fails: `"cpus": "NaN"` is refused here, as there.
    check_bad_request(cpus > 0.0, || "Request must have more than 0 cpus".into())?;
    check_bad_request(memory_mb > 0.0, || {
        "Request must have more than 0 memoryMb".into()
    })?;
    check_bad_request(disk_mb >= 0.0, || {
        "Request must have non-negative diskMb".into()
    })?;
    let n = instances as f64;
    let limits = [
        (
            cpus,
            MAX_CPUS_PER_INSTANCE,
            MAX_CPUS_PER_REQUEST,
            "many cpus",
            "maxCpusPerInstance",
            "cpusPerRequest",
        ),
        (
            memory_mb,
            MAX_MEMORY_MB_PER_INSTANCE,
            MAX_MEMORY_MB_PER_REQUEST,
            "much memoryMb",
            "maxMemoryMbPerInstance",
            "maxMemoryMbPerRequest",
        ),
        (
            disk_mb,
            MAX_DISK_MB_PER_INSTANCE,
            MAX_DISK_MB_PER_REQUEST,
            "much diskMb",
            "maxDiskMbPerInstance",
            "maxDiskMbPerRequest",
        ),
    ];
    for (value, per_instance, per_request, what, instance_name, request_name) in limits {
        check_bad_request(value <= f64::from(per_instance), || {
            format!(
                "Deploy {deploy_id} uses too {what} {} ({instance_name} {per_instance} in mesos configuration)",
                java_double(value)
            )
        })?;
        check_bad_request(value * n <= f64::from(per_request), || {
            format!(
                "Deploy {deploy_id} uses too {what} {} ({}*{instances}) ({request_name} {per_request} in mesos configuration)",
                java_double(value * n),
                java_double(value)
            )
        })?;
    }
    Ok(())
}

/// Singularity's `checkBadRequest`: a 400 with the message unless `condition` holds.
fn check_bad_request(condition: bool, message: impl FnOnce() -> String) -> Result<(), Refusal> {
    if condition {
        Ok(())
    } else {
        Err(bad_request(message()))
    }
}
