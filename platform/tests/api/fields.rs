//! Every field a real Singularity acts on is either done as Mesos would do it or refused as
//! not modelled, and requests and deploys are answered as Singularity re-serialises them;
//! over HTTP, with simulated tasks. Each test names the HubSpot source it follows.

use crate::harness::{Api, deploy_request, mapped, plain_400};
use platform::runtime::CommandInfo;
use serde_json::{Value, json};

/// `deploy_request("d1", tag)` with `fields` set in its deploy.
fn deploy_with(tag: &str, fields: Value) -> Value {
    let mut body = deploy_request("d1", tag);
    for (key, value) in fields.as_object().unwrap() {
        body["deploy"][key] = value.clone();
    }
    body
}

#[test]
fn requests_and_deploys_are_answered_as_the_java_constructors_leave_them() {
    // `SingularityRequest` reads `daemon` and has no getter for it; `SingularityDeploy`,
    // `SingularityDockerInfo` and `CanaryDeploySettings` fill in their defaults.
    let api = Api::start();
    api.request(1);
    let request = &api.get("/api/requests/request/hello").json()["request"];
    assert_eq!(request.get("daemon"), None, "{request}");
    assert_eq!(request["requestType"], "WORKER");
    api.post("/api/deploys", &deploy_request("d1", "7"));
    let deploy = &api.history("d1").json()["deploy"];
    assert_eq!(
        deploy["containerInfo"]["docker"],
        json!({ "image": "alice/hello-mesos:7", "network": "HOST", "privileged": false,
                "portMappings": [], "forcePullImage": false, "dockerParameters": [] })
    );
    assert_eq!(
        deploy["canaryDeploySettings"],
        json!({ "enableCanaryDeploy": false, "instanceGroupSize": 1, "acceptanceMode": "NONE",
                "waitMillisBetweenGroups": 0, "allowedTasksFailuresPerGroup": 0,
                "canaryCycleCount": 3 })
    );
    assert_eq!(deploy["s3UploaderAdditionalFiles"], json!([]));
}

#[test]
fn command_and_arguments_run_as_the_docker_containerizer_runs_them() {
    // `SingularityMesosTaskBuilder.prepareCommand`: with a container, no shell unless the
    // deploy asks; Mesos's `docker.cpp` then puts the command and arguments after the image,
    // or runs `/bin/sh -c command` as the entrypoint.
    let api = Api::start();
    api.request(1);
    let body = deploy_with(
        "7",
        json!({ "command": "/bin/echo", "arguments": ["a b", 1] }),
    );
    api.post("/api/deploys", &body);
    assert_eq!(api.result("d1")["deployState"], "SUCCEEDED");
    let started = api.singularity.simulated().started();
    let command = &started[0].command;
    assert_eq!(
        *command,
        CommandInfo {
            value: Some("/bin/echo".into()),
            arguments: vec!["a b".into(), "1".into()],
            shell: false
        }
    );
    assert_eq!(command.docker().unwrap().args, ["/bin/echo", "a b", "1"]);
    assert!(!started[0].force_pull);

    let api = Api::start();
    api.request(1);
    api.post(
        "/api/deploys",
        &deploy_with("7", json!({ "command": "exit 3", "shell": true })),
    );
    let result = api.result("d1");
    assert_eq!(result["deployState"], "FAILED", "{result}");
    assert_eq!(
        result["deployFailures"][0]["reason"],
        "TASK_FAILED_ON_STARTUP"
    );
}

#[test]
fn a_forced_pull_is_asked_of_the_runtime() {
    // `SingularityMesosTaskBuilder` passes `forcePullImage` to Mesos's `DockerInfo`, whose
    // containerizer then pulls before each run (`docker run --pull always` here).
    let api = Api::start();
    api.request(1);
    let docker = json!({ "type": "DOCKER",
        "docker": { "image": "alice/hello-mesos:7", "forcePullImage": true } });
    api.post(
        "/api/deploys",
        &deploy_with("7", json!({ "containerInfo": docker })),
    );
    assert_eq!(api.result("d1")["deployState"], "SUCCEEDED");
    assert!(api.singularity.simulated().started()[0].force_pull);
}

#[test]
fn task_placeholders_in_env_values_are_filled_in() {
    // `SingularityMesosTaskBuilder.fillInTaskIdValues`: these seven, and no other `${…}`.
    let api = Api::start();
    api.request(1);
    let env = json!({ "WHO": "${TASK_REQUEST_ID}/${TASK_DEPLOY_ID}/${TASK_INSTANCE_NO}",
                      "WHERE": "${TASK_HOST} ${TASK_RACK_ID}", "ID": "${TASK_ID}",
                      "AT": "${TASK_STARTED_AT}", "KEPT": "${PORT0} ${HOME}" });
    api.post("/api/deploys", &deploy_with("7", json!({ "env": env })));
    api.result("d1");
    let spec = &api.singularity.simulated().started()[0];
    let var = |name: &str| {
        let found = spec.env.iter().find(|(key, _)| key == name);
        found.map(|(_, value)| value.clone()).unwrap()
    };
    assert_eq!(var("WHO"), "hello/d1/1");
    assert_eq!(var("WHERE"), format!("{} DEFAULT", var("TASK_HOST")));
    assert_eq!(var("ID"), spec.task_id);
    assert!(
        spec.task_id.contains(&format!("-{}-", var("AT"))),
        "{spec:?}"
    );
    assert_eq!(var("KEPT"), "${PORT0} ${HOME}");
}

#[test]
fn what_the_platform_does_not_model_is_refused_saying_so() {
    let api = Api::start();
    api.request(1);
    let docker = |extra: Value| {
        let mut docker = json!({ "image": "alice/hello-mesos:7" });
        for (key, value) in extra.as_object().unwrap() {
            docker[key] = value.clone();
        }
        json!({ "containerInfo": { "type": "DOCKER", "docker": docker } })
    };
    for (fields, field) in [
        (
            docker(json!({ "network": "BRIDGE" })),
            "containerInfo.docker.network BRIDGE",
        ),
        (
            docker(json!({ "network": "NONE" })),
            "containerInfo.docker.network NONE",
        ),
        (
            docker(json!({ "portMappings": [{ "containerPort": 80 }] })),
            "containerInfo.docker.portMappings",
        ),
        (
            docker(json!({ "privileged": true })),
            "containerInfo.docker.privileged",
        ),
        (
            docker(json!({ "parameters": { "volume": "/:/host" } })),
            "containerInfo.docker.dockerParameters",
        ),
        (json!({ "uris": ["http://example.com/a"] }), "uris"),
        (
            json!({ "healthcheck": { "uri": "/health", "protocol": "HTTPS" } }),
            "healthcheck.protocol other than HTTP",
        ),
        (
            json!({ "healthcheck": { "uri": "/health", "failureStatusCodes": [500] } }),
            "healthcheck.failureStatusCodes",
        ),
        (
            json!({ "skipHealthchecksOnDeploy": true }),
            "skipHealthchecksOnDeploy",
        ),
        (json!({ "user": "root" }), "user"),
    ] {
        let answer = api.post("/api/deploys", &deploy_with("7", fields));
        assert_eq!(answer.status, 400, "{answer:?}");
        let prefix = format!("This practice platform does not model {field}: ");
        assert!(answer.body.starts_with(&prefix), "{answer:?}");
        assert_eq!(answer.content_type, "text/plain");
    }
    assert!(api.singularity.simulated().started().is_empty());
    // HOST is what the platform does; it is also Mesos's default.
    let answer = api.post(
        "/api/deploys",
        &deploy_with("7", docker(json!({ "network": "HOST" }))),
    );
    assert_eq!(answer.status, 200, "{answer:?}");
}

#[test]
fn an_on_demand_deploy_succeeds_at_once_and_runs_nothing() {
    // `SingularityDeployChecker.getDeployResult` ("Scheduled/on demand/paused things can
    // instantly succeed"), `RequestType.isDeployable`; `daemon: false` is ON_DEMAND
    // (`RequestType.fromDaemonAndScheduleAndLoadBalanced`).
    let api = Api::start();
    let answer = api.post("/api/requests", &json!({ "id": "hello", "daemon": false }));
    assert_eq!(answer.json()["request"]["requestType"], "ON_DEMAND");
    api.post("/api/deploys", &deploy_request("d1", "7"));
    let result = api.result("d1");
    assert_eq!(result["deployState"], "SUCCEEDED");
    assert_eq!(result["message"], "Request not deployable");
    let parent = api.get("/api/requests/request/hello").json();
    assert_eq!(parent["activeDeploy"]["id"], "d1");
    assert!(api.singularity.simulated().started().is_empty());
    // Runs are not modelled; nor are requests whose tasks Singularity starts by itself.
    plain_400(
        &api.post("/api/requests/request/hello/run", &json!({})),
        "This practice platform does not model one-off runs: an ON_DEMAND request's deploy succeeds and runs no task",
    );
    for (request, kind) in [
        (
            json!({ "id": "cron", "schedule": "0 * * * *" }),
            "SCHEDULED",
        ),
        (
            json!({ "id": "once", "requestType": "RUN_ONCE" }),
            "RUN_ONCE",
        ),
    ] {
        let answer = api.post("/api/requests", &request);
        assert_eq!(answer.status, 400, "{answer:?}");
        let prefix = format!("This practice platform does not model {kind} requests: ");
        assert!(answer.body.starts_with(&prefix), "{answer:?}");
    }
}

#[test]
fn a_pauses_options_are_refused_not_ignored() {
    // `RequestResource.pause` and `unpause` take an optional `SingularityPauseRequest` /
    // `SingularityUnpauseRequest` (`killTasks`, `durationMillis`, `skipHealthchecks`…); the
    // platform models a pause without them.
    let api = Api::start();
    api.request(1);
    let answer = api.post(
        "/api/requests/request/hello/pause",
        &json!({"killTasks": false}),
    );
    plain_400(
        &answer,
        "This practice platform does not model the options of a pause: it does it with none; send no body",
    );
    assert_eq!(
        api.get("/api/requests/request/hello").json()["state"],
        "ACTIVE"
    );
    // Without a body, as otpl-deploy and the pages pause.
    let paused = crate::harness::call("POST", &api.url("/api/requests/request/hello/pause"), None);
    assert_eq!(paused.status, 200, "{}", paused.body);
    let answer = api.post(
        "/api/requests/request/hello/unpause",
        &json!({"skipHealthchecks": true}),
    );
    plain_400(
        &answer,
        "This practice platform does not model the options of an unpause: it does it with none; send no body",
    );
}

#[test]
fn an_image_that_is_not_a_docker_reference_is_refused_and_nothing_runs() {
    // `SingularityValidator` takes any text as the image; Mesos hands it to Docker. Here it
    // never reaches `docker run`, where `--volume=/:/host` would mount the laptop's disk.
    let api = Api::start();
    api.request(1);
    for (image, why) in [
        (
            "--volume=/:/host",
            "its repository name is not lowercase letters",
        ),
        (
            "--privileged",
            "its repository name is not lowercase letters",
        ),
        (
            "alice/Hello-mesos:7",
            "its repository name must be lowercase",
        ),
        (
            "alice/hello mesos",
            "its repository name is not lowercase letters",
        ),
        ("alice/hello-mesos:-7", "its tag is not 1 to 128"),
    ] {
        let body = deploy_with(
            "7",
            json!({ "containerInfo": { "type": "DOCKER", "docker": { "image": image } },
                    "command": "/bin/true", "arguments": ["-v", "/:/host"] }),
        );
        let answer = api.post("/api/deploys", &body);
        assert_eq!(
            (answer.status, answer.content_type.as_str()),
            (400, "text/plain"),
            "{image}: {}",
            answer.body
        );
        let expected = format!(
            "This practice platform runs only Docker image references: containerInfo.docker.image {image:?} is not one, {why}"
        );
        assert!(answer.body.starts_with(&expected), "{}", answer.body);
        assert!(
            answer
                .body
                .ends_with("(Singularity accepts it, and the task fails when Docker refuses it)"),
            "{}",
            answer.body
        );
    }
    assert!(api.singularity.simulated().started().is_empty());
}

#[test]
fn resources_that_are_not_numbers_are_refused_as_singularity_refuses_them() {
    // `checkForIllegalResources`: `cpus > 0`, `memoryMb > 0`, `diskMb >= 0`, which NaN
    // fails; Jackson reads "NaN" and "Infinity" in a string, and Java prints `Infinity`.
    let api = Api::start();
    api.request(1);
    for (resources, message) in [
        (
            json!({ "cpus": "NaN", "memoryMb": 64 }),
            "Request must have more than 0 cpus",
        ),
        (
            json!({ "cpus": 0.1, "memoryMb": "NaN" }),
            "Request must have more than 0 memoryMb",
        ),
        (
            json!({ "cpus": 0.1, "memoryMb": 64, "diskMb": "NaN" }),
            "Request must have non-negative diskMb",
        ),
        (
            json!({ "cpus": "Infinity", "memoryMb": 64 }),
            "Deploy d1 uses too many cpus Infinity (maxCpusPerInstance 50 in mesos configuration)",
        ),
        (
            json!({ "cpus": 0.1, "memoryMb": "INF" }),
            "Deploy d1 uses too much memoryMb Infinity (maxMemoryMbPerInstance 24000 in mesos configuration)",
        ),
    ] {
        let answer = api.post(
            "/api/deploys",
            &deploy_with("7", json!({ "resources": resources })),
        );
        plain_400(&answer, message);
    }
    // Rust's own names for them are no number to Jackson: the body is not a deploy.
    let answer = api.post(
        "/api/deploys",
        &deploy_with(
            "7",
            json!({ "resources": { "cpus": "nan", "memoryMb": 64 } }),
        ),
    );
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(api.singularity.simulated().started().is_empty());
}

#[test]
fn a_requests_priority_and_max_scale_are_checked_as_singularity_checks_them() {
    // `SingularityValidator.checkSingularityRequest`: instances within `maxScale` (for a
    // long-running request), `taskPriorityLevel` between 0 and 1, which NaN is not.
    let api = Api::start();
    let request = |fields: Value| {
        let mut body = json!({ "id": "hello", "owners": ["alice@example.com"] });
        for (key, value) in fields.as_object().unwrap() {
            body[key] = value.clone();
        }
        api.post("/api/requests", &body)
    };
    plain_400(
        &request(json!({ "instances": 3, "maxScale": 1 })),
        "Instances (3) cannot be greater than 1 (maxScale in request)",
    );
    for (level, shown) in [
        (json!("NaN"), "NaN"),
        (json!("Infinity"), "Infinity"),
        (json!(5), "5.0"),
    ] {
        plain_400(
            &request(json!({ "taskPriorityLevel": level })),
            &format!(
                "Request taskPriorityLevel {shown} is invalid, must be between 0 and 1 (inclusive)."
            ),
        );
    }
    assert_eq!(
        request(json!({ "instances": 1, "maxScale": 1, "taskPriorityLevel": 0.5 })).status,
        200
    );
    // A long out of a long's range is no long to Jackson: the body is not a deploy.
    api.request(1);
    let body = deploy_with("7", json!({ "deployHealthTimeoutSeconds": 1e300 }));
    mapped(
        &api.post("/api/deploys", &body),
        400,
        "Unable to process JSON",
    );
}
