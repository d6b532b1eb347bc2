//! Singularity's API as the model answers it, over HTTP, with simulated tasks (no Docker):
//! validation and its messages, the request's live state, the deploy history, and each way a
//! deploy ends. Each expectation cites what HubSpot's source does (see the model's docs).

use std::time::{Duration, Instant};

use crate::harness::{Api, call, deploy_request, mapped, plain_400};
use platform::{
    runtime::{Runtime, simulated::LocalSingularity},
    singularity::Settings,
};
use serde_json::{Value, json};

#[test]
fn a_request_is_saved_and_answered_as_a_request_parent() {
    let api = Api::start();
    api.request(2);
    let parent = api.get("/api/requests/request/hello").json();
    assert_eq!(parent["request"]["id"], "hello");
    assert_eq!(parent["request"]["instances"], 2);
    // daemon without loadBalanced: a WORKER (RequestType.fromDaemonAndScheduleAndLoadBalanced).
    assert_eq!(parent["request"]["requestType"], "WORKER");
    assert_eq!(parent["state"], "ACTIVE");
    assert_eq!(parent.get("pendingDeployState"), None);
    assert_eq!(api.get("/api/requests").json()[0]["request"]["id"], "hello");
    mapped(
        &api.get("/api/requests/request/nobody"),
        404,
        "Couldn't find request with id nobody",
    );
}

#[test]
fn request_ids_are_checked_as_singularity_does() {
    let api = Api::start();
    for id in ["alice.smith", "a/b", "x y"] {
        plain_400(
            &api.post("/api/requests", &json!({ "id": id })),
            "Id cannot be null or contain characters other than [a-zA-Z0-9_]",
        );
    }
    let long = "a".repeat(101);
    plain_400(
        &api.post("/api/requests", &json!({ "id": long })),
        &format!("Request id must be less 100 characters or less, it is 101 ({long})"),
    );
    assert_eq!(
        api.post("/api/requests", &json!({ "id": "a".repeat(100) }))
            .status,
        200
    );
    assert_eq!(
        api.post("/api/requests", &json!({ "id": "hello-mesos_1" }))
            .status,
        200
    );
    plain_400(
        &api.post("/api/requests", &json!({ "id": "x", "instances": 0 })),
        "Instances must be greater than 0",
    );
    plain_400(
        &api.post("/api/requests", &json!({ "owners": [] })),
        "Request must have an id",
    );
}

#[test]
fn unreadable_bodies_get_dropwizards_answers() {
    let api = Api::start();
    // Not JSON, not an object, or a field of the wrong type: Jackson cannot read it.
    for body in ["{", "not json", "[]", r#"{"id": "x", "instances": "two"}"#] {
        let answer = call("POST", &api.url("/api/requests"), Some(body));
        mapped(&answer, 400, "Unable to process JSON");
    }
    for body in [
        "{",
        "[]",
        r#"{"deploy": []}"#,
        r#"{"deploy": {"env": {"A": []}}}"#,
    ] {
        let answer = call("POST", &api.url("/api/deploys"), Some(body));
        mapped(&answer, 400, "Unable to process JSON");
    }
    let client = reqwest::blocking::Client::builder()
        .no_proxy()
        .build()
        .unwrap();
    let answer = client
        .post(api.url("/api/requests"))
        .body(r#"{"id": "x"}"#)
        .send()
        .unwrap();
    assert_eq!(answer.status().as_u16(), 415);
    mapped(&api.get("/api/nothing"), 404, "HTTP 404 Not Found");
}

#[test]
fn the_answers_with_a_request_parent_carry_its_task_ids() {
    // `fillEntireRequest` fills in `taskIds` in the answers to a save, a deploy, a pause and an
    // unpause, as in a read.
    let api = Api::start();
    let saved = api.post("/api/requests", &json!({ "id": "hello", "instances": 1 }));
    assert_eq!(saved.json()["taskIds"]["healthy"], json!([]), "{saved:?}");
    let deployed = api.deploy("d1", "7");
    assert!(
        deployed.json()["taskIds"]["pending"].is_array(),
        "{deployed:?}"
    );
    assert_eq!(api.result("d1")["deployState"], "SUCCEEDED");
    // The pause answers before its tasks are stopped.
    let paused = api.post("/api/requests/request/hello/pause", &json!({}));
    let healthy = paused.json()["taskIds"]["healthy"].clone();
    assert_eq!(healthy.as_array().map(Vec::len), Some(1), "{paused:?}");
    let unpaused = api.post("/api/requests/request/hello/unpause", &json!({}));
    assert!(
        unpaused.json()["taskIds"]["healthy"].is_array(),
        "{unpaused:?}"
    );
}

#[test]
fn an_endpoint_of_singularitys_that_the_platform_lacks_is_refused_as_not_modelled() {
    let api = Api::start();
    for (method, path) in [
        ("GET", "/api/history/request/hello/tasks/active"),
        ("GET", "/api/requests/active"),
        ("POST", "/api/webhooks"),
        // Paths the platform routes, with a method Singularity takes there and it does not.
        ("DELETE", "/api/tasks/task/hello-1"),
        ("DELETE", "/api/requests/request/hello/pause"),
    ] {
        let answer = call(method, &api.url(path), None);
        assert_eq!(
            (answer.status, answer.content_type.as_str()),
            (501, "text/plain"),
            "{method} {path}: {answer:?}"
        );
        let refusal = format!("This practice platform does not model {method} {path}: ");
        assert!(answer.body.starts_with(&refusal), "{answer:?}");
    }
}

#[test]
fn a_deploy_is_in_the_history_from_the_moment_it_is_accepted() {
    let api = Api::start();
    api.request(2);
    // Tasks that never answer keep the deploy pending.
    let parent = api.deploy("d1", "hang").json();
    let state = &parent["pendingDeployState"];
    assert_eq!(state["currentDeployState"], "WAITING");
    assert_eq!(state["deployMarker"]["deployId"], "d1");
    assert_eq!(state["deployMarker"]["message"], "why");
    assert_eq!(state["deployProgress"]["targetActiveInstances"], 2);
    assert_eq!(parent["pendingDeploy"]["id"], "d1");

    // 200 at once, with the marker and the deploy, and no result yet.
    let history = api.history("d1").json();
    assert_eq!(history["deployMarker"]["requestId"], "hello");
    assert_eq!(history["deploy"]["id"], "d1");
    assert_eq!(history.get("deployResult"), None, "{history}");
    std::thread::sleep(Duration::from_millis(200));
    let live = api.get("/api/requests/request/hello").json();
    assert_eq!(live["pendingDeployState"]["currentDeployState"], "WAITING");
    assert_eq!(api.history("d1").json().get("deployResult"), None);
    api.delete("/api/deploys/deploy/d1/request/hello");
    assert_eq!(api.result("d1")["deployState"], "CANCELED");

    api.deploy("d2", "7");
    let result = api.result("d2");
    assert_eq!(result["deployState"], "SUCCEEDED");
    assert_eq!(result["deployFailures"], json!([]));
    let parent = api.get("/api/requests/request/hello").json();
    assert_eq!(parent["activeDeploy"]["id"], "d2");
    assert_eq!(parent.get("pendingDeployState"), None);
    mapped(
        &api.history("nope"),
        404,
        "Deploy history for request hello and deploy nope not found",
    );
}

#[test]
fn tasks_get_the_environment_mesos_gives_them() {
    let api = Api::start();
    api.request(2);
    api.deploy("d1", "7");
    assert_eq!(api.result("d1")["deployState"], "SUCCEEDED");
    let mut started = api.singularity.simulated().started();
    started.sort_by_key(|task| task.task_id.clone());
    assert_eq!(started.len(), 2);
    let mut ports = Vec::new();
    for (index, task) in started.iter().enumerate() {
        let env = |name: &str| {
            task.env
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.clone())
                .unwrap_or_else(|| panic!("{name} missing: {:?}", task.env))
        };
        assert_eq!(env("TASK_HOST"), "127.0.0.1");
        let port: u16 = env("PORT0").parse().unwrap();
        assert!((31000..=32000).contains(&port), "{port}");
        assert_eq!(env("PORT"), env("PORT0"));
        assert_eq!(env("INSTANCE_NO"), (index + 1).to_string());
        assert_eq!(env("TASK_REQUEST_ID"), "hello");
        assert_eq!(env("TASK_DEPLOY_ID"), "d1");
        assert_eq!(env("ESTIMATED_INSTANCE_COUNT"), "2");
        assert_eq!(env("OT_ENV"), "pp-sf");
        assert!(task.task_id.starts_with("hello-d1-"), "{}", task.task_id);
        ports.push(port);
        // Each instance answers its health check on its own PORT0.
        assert_eq!(
            call("GET", &format!("http://127.0.0.1:{port}/health"), None).status,
            200
        );
    }
    assert_ne!(ports[0], ports[1]);
}

#[test]
fn deploy_ids_are_checked_as_singularity_does() {
    let api = Api::start();
    api.request(1);
    plain_400(
        &api.deploy("has-dash", "7"),
        "Id cannot be null or contain characters other than [a-zA-Z0-9_.]",
    );
    let long = "a".repeat(51);
    plain_400(
        &api.deploy(&long, "7"),
        &format!("Deploy id must be 50 characters or less, it is 51 ({long})"),
    );
    let mut no_deploy = deploy_request("x", "7");
    no_deploy.as_object_mut().unwrap().remove("deploy");
    plain_400(
        &api.post("/api/deploys", &no_deploy),
        "DeployRequest must have a deploy object",
    );
    mapped(
        &api.post(
            "/api/deploys",
            &json!({ "deploy": { "requestId": "nobody", "id": "x" } }),
        ),
        404,
        "Couldn't find request with id nobody",
    );
    let mut no_cpus = deploy_request("x", "7");
    no_cpus["deploy"]["resources"]["cpus"] = json!(0);
    plain_400(
        &api.post("/api/deploys", &no_cpus),
        "Request must have more than 0 cpus",
    );
    let mut no_ports = deploy_request("x", "7");
    no_ports["deploy"]["resources"]["numPorts"] = json!(0);
    plain_400(
        &api.post("/api/deploys", &no_ports),
        "Either an explicit port number, or port resources and port index must be specified to run healthchecks against a uri",
    );
    let mut index = deploy_request("x", "7");
    index["deploy"]["healthcheck"] = json!({ "uri": "/health", "portIndex": 1 });
    plain_400(
        &api.post("/api/deploys", &index),
        "Must request 2 ports for healthcheckPortIndex 1, only requested 1",
    );

    assert_eq!(api.deploy("a_1.2", "7").status, 200);
    assert_eq!(api.result("a_1.2")["deployState"], "SUCCEEDED");
    plain_400(
        &api.deploy("a_1.2", "7"),
        "Can not deploy a deploy that has already been deployed",
    );
}

#[test]
fn a_second_deploy_while_one_is_pending_is_a_conflict() {
    let api = Api::start();
    api.request(1);
    assert_eq!(api.deploy("first", "hang").status, 200);
    let answer = api.deploy("second", "7");
    assert_eq!(answer.status, 409);
    let message = answer.json()["message"].as_str().unwrap().to_string();
    assert!(
        message.starts_with(
            "Pending deploy already in progress for hello - cancel it or wait for it to complete \
             (SingularityPendingDeploy{deployMarker=SingularityDeployMarker{requestId='hello', deployId='first'"
        ),
        "{message}"
    );
    // Refused before anything was recorded.
    assert_eq!(api.history("second").status, 404);
}

#[test]
fn a_paused_request_refuses_deploys() {
    let api = Api::start();
    api.request(1);
    assert_eq!(
        api.post("/api/requests/request/hello/pause", &json!({}))
            .status,
        200
    );
    mapped(
        &api.deploy("d1", "7"),
        409,
        "Request hello is paused. Unable to deploy (it must be manually unpaused first)",
    );
}

/// How long the deploy took from its start to its result, in milliseconds.
fn took(api: &Api, deploy_id: &str) -> u64 {
    let history = api.history(deploy_id).json();
    let started = history["deployMarker"]["timestamp"].as_u64().unwrap();
    history["deployResult"]["timestamp"].as_u64().unwrap() - started
}

#[test]
fn an_http_error_fails_after_the_whole_health_check_time_and_the_previous_deploy_keeps_serving() {
    // Quick timings: start-up 1 s, interval 50 ms, response timeout 500 ms: a 404 fails
    // past 1 + (0.05 + 0.5) × 1 = 1.55 s (`getMaxHealthcheckTimeoutSeconds`), not at 1 s.
    let api = Api::start();
    api.request(2);
    api.deploy("good", "7");
    assert_eq!(api.result("good")["deployState"], "SUCCEEDED");
    let serving = api.singularity.simulated().running();

    api.deploy("step04", "no-health");
    let result = api.result("step04");
    assert_eq!(result["deployState"], "FAILED");
    assert_eq!(result["message"], "Not all tasks for deploy were healthy");
    assert!(took(&api, "step04") >= 1550, "{}", took(&api, "step04"));
    let failures = result["deployFailures"].as_array().unwrap();
    assert_eq!(failures.len(), 2, "{result}");
    for failure in failures {
        assert_eq!(failure["reason"], "TASK_FAILED_HEALTH_CHECKS");
        assert!(
            failure["taskId"]["id"]
                .as_str()
                .unwrap()
                .starts_with("hello-step04-")
        );
        let message = failure["message"].as_str().unwrap();
        let running = message
            .strip_prefix(&format!(
                "Instance {} has been running for ",
                failure["taskId"]["instanceNo"]
            ))
            .and_then(|rest| {
                rest.strip_suffix(
                    " and has yet to pass healthchecks. Last check returned with status code 404",
                )
            })
            .unwrap_or_else(|| panic!("{message}"));
        // mm:ss.SSS, past 1.55 s.
        assert!(
            running.starts_with("00:0") && running.len() == 9,
            "{running}"
        );
        assert!(running >= "00:01.550", "{running}");
    }
    // The new tasks are stopped; the previous deploy's still run.
    assert_eq!(api.singularity.simulated().running(), serving);
    let parent = api.get("/api/requests/request/hello").json();
    assert_eq!(parent["activeDeploy"]["id"], "good");
    let view = api.singularity.view();
    let task = view.tasks.iter().find(|t| t.deploy_id == "step04").unwrap();
    assert_eq!(task.status, "TASK_KILLED");
    assert_eq!(task.health_checks.last().unwrap().status, Some(404));
}

#[test]
fn refused_checks_fail_at_the_startup_timeout() {
    // A response timeout of 2 s puts the whole health-check time at 3.05 s: refused checks
    // (nothing listening) fail at the start-up timeout, 1 s, long before.
    let api = Api::with(Settings {
        check_timeout: Duration::from_secs(2),
        ..LocalSingularity::quick()
    });
    let result = api.deploy_to_its_end(1, "closed");
    assert_eq!(result["deployState"], "FAILED", "{result}");
    let message = result["deployFailures"][0]["message"].as_str().unwrap();
    assert!(
        message
            .starts_with("Instance 1 has not responded to healthchecks after running for 00:01."),
        "{message}"
    );
    assert!(took(&api, "d1") < 3000, "{}", took(&api, "d1"));
}

/// Quick checks, but a minute's start-up and deploy timeouts: a deploy's own must win.
fn minute_long() -> Settings {
    Settings {
        startup_timeout: Duration::from_secs(60),
        deploy_timeout: Duration::from_secs(60),
        ..LocalSingularity::quick()
    }
}

#[test]
fn the_deploys_own_health_check_options_are_honoured() {
    // The platform's timings would wait a minute; the deploy's own say 1 s.
    let api = Api::with(minute_long());
    api.request(1);
    let mut deploy = deploy_request("d1", "closed");
    deploy["deploy"]["healthcheck"] =
        json!({ "uri": "/health", "portIndex": 0, "startupTimeoutSeconds": 1 });
    api.post("/api/deploys", &deploy);
    let result = api.result("d1");
    let message = result["deployFailures"][0]["message"].as_str().unwrap();
    assert!(
        message
            .starts_with("Instance 1 has not responded to healthchecks after running for 00:01."),
        "{message}"
    );

    // maxRetries 1: the second failed (not refused) check fails the task.
    let mut deploy = deploy_request("d2", "no-health");
    deploy["deploy"]["healthcheck"] = json!({ "uri": "/health", "portIndex": 0, "maxRetries": 1 });
    api.post("/api/deploys", &deploy);
    let result = api.result("d2");
    assert_eq!(
        result["deployFailures"][0]["message"],
        "Instance 1 failed 2 healthchecks, the max for the deploy. Last check returned with status code 404"
    );

    // The deprecated top-level options, folded into `healthcheck` with `healthcheckUri`.
    let mut deploy = deploy_request("d3", "no-health");
    deploy["deploy"]["healthcheckMaxRetries"] = json!(0);
    api.post("/api/deploys", &deploy);
    let result = api.result("d3");
    assert_eq!(
        result["deployFailures"][0]["message"],
        "Instance 1 failed 1 healthchecks, the max for the deploy. Last check returned with status code 404"
    );
    assert_eq!(
        api.history("d3").json()["deploy"]["healthcheck"],
        json!({ "uri": "/health", "maxRetries": 0 })
    );
}

#[test]
fn overdue_comes_past_the_deploy_timeout_plus_the_health_check_time_and_a_slow_start_does_not_hold_it_back()
 {
    // deployHealthTimeoutSeconds 0 + start-up 1 s + interval 50 ms + response 0 s = 1.05 s
    // (`getAllowedMillis`); the task takes 2 s to start.
    let api = Api::with(minute_long());
    api.request(1);
    let mut deploy = deploy_request("d1", "slow");
    deploy["deploy"]["deployHealthTimeoutSeconds"] = json!(0);
    deploy["deploy"]["healthcheck"] = json!({ "uri": "/health", "portIndex": 0,
        "startupTimeoutSeconds": 1, "responseTimeoutSeconds": 0 });
    let posted = Instant::now();
    api.post("/api/deploys", &deploy);
    let result = api.result("d1");
    assert_eq!(result["deployState"], "OVERDUE", "{result}");
    assert_eq!(
        result["message"],
        "Deploy was able to launch 1 tasks, but not all of them became healthy within 00:01.050"
    );
    assert!(took(&api, "d1") < 2000, "{}", took(&api, "d1"));
    // The task that started after its deploy ended (2 s after it was asked for) is stopped
    // as soon as it has started.
    std::thread::sleep(
        (posted + Duration::from_millis(2300)).saturating_duration_since(Instant::now()),
    );
    let deadline = posted + Duration::from_secs(5);
    while !api.singularity.simulated().running().is_empty() {
        assert!(Instant::now() < deadline, "the late task still runs");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(api.singularity.simulated().started().len(), 1);
}

#[test]
fn a_task_that_exits_fails_the_deploy_with_its_status_and_lines() {
    let api = Api::start();
    let result = api.deploy_to_its_end(1, "exit-3");
    assert_eq!(result["deployState"], "FAILED");
    assert_eq!(
        result["message"],
        "At least 0 task(s) for this instance group failed"
    );
    let failure = &result["deployFailures"][0];
    assert_eq!(failure["reason"], "TASK_FAILED_ON_STARTUP");
    let message = failure["message"].as_str().unwrap();
    assert!(
        message.starts_with("Container exited with status 3"),
        "{message}"
    );
    assert!(
        message.contains("simulated failure: exit status 3"),
        "{message}"
    );
}

#[test]
fn an_image_that_does_not_exist_fails_the_deploy_with_the_runtimes_message() {
    let api = Api::start();
    let result = api.deploy_to_its_end(1, "missing");
    assert_eq!(result["deployState"], "FAILED");
    let message = result["deployFailures"][0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("Unable to find image 'alice/hello-mesos:missing'"),
        "{message}"
    );
}

#[test]
fn a_canceled_deploy_ends_canceled() {
    let api = Api::start();
    api.request(1);
    api.deploy("d1", "hang");
    plain_400(
        &api.delete("/api/deploys/deploy/other/request/hello"),
        "Request hello does not have a pending deploy other",
    );
    let answer = api.delete("/api/deploys/deploy/d1/request/hello");
    assert_eq!(answer.status, 200, "{answer:?}");
    let result = api.result("d1");
    assert_eq!(result["deployState"], "CANCELED");
    assert!(
        result["message"]
            .as_str()
            .unwrap()
            .starts_with("Canceled due to request at "),
        "{result}"
    );
    assert!(api.singularity.simulated().running().is_empty());
}

#[test]
fn a_successful_deploy_stops_the_previous_ones_tasks() {
    let api = Api::start();
    api.request(1);
    api.deploy("one", "7");
    assert_eq!(api.result("one")["deployState"], "SUCCEEDED");
    let first = api.singularity.simulated().running();
    api.deploy("two", "8");
    assert_eq!(api.result("two")["deployState"], "SUCCEEDED");
    let deadline = Instant::now() + Duration::from_secs(5);
    while api.singularity.simulated().running().contains(&first[0]) {
        assert!(Instant::now() < deadline, "the old task still runs");
        std::thread::sleep(Duration::from_millis(20));
    }
    let running = api.singularity.simulated().running();
    assert_eq!(running.len(), 1);
    assert!(running[0].starts_with("hello-two-"), "{running:?}");
}

#[test]
fn a_task_that_ends_after_its_deploy_is_seen_without_anyone_asking() {
    let api = Api::start();
    assert_eq!(api.deploy_to_its_end(1, "7")["deployState"], "SUCCEEDED");
    let task = api.singularity.simulated().running()[0].clone();
    // Ended behind the platform's back, as by `docker kill`: the look at every task each
    // check interval finds it, with no page open.
    let ended = api.singularity.simulated().stop(&task, Duration::ZERO);
    tokio::runtime::Runtime::new()
        .expect("a runtime")
        .block_on(ended);
    let deadline = Instant::now() + Duration::from_secs(2);
    while api.singularity.view().tasks[0].status != "TASK_FINISHED" {
        assert!(
            Instant::now() < deadline,
            "the ended task is still listed running"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Its last lines, kept when it ended.
    let lines = api.singularity.task_lines(&task).expect("a listed task");
    assert_eq!(
        lines.last().map(String::as_str),
        Some("stopped"),
        "{lines:?}"
    );
}

#[test]
fn a_health_check_follows_a_redirect_to_a_200() {
    // `SingularityHealthchecker`: the AsyncHttpClient request is built with
    // `setFollowRedirects(true)`, so a `/health` that redirects to a 200 passes.
    let api = Api::start();
    let result = api.deploy_to_its_end(1, "redirect");
    assert_eq!(result["deployState"], "SUCCEEDED", "{result}");
    let view = api.singularity.view();
    assert_eq!(
        view.tasks[0].health_checks.last().unwrap().status,
        Some(200)
    );
}

#[test]
fn a_health_check_redirect_elsewhere_or_in_a_loop_is_not_followed() {
    // The platform's own bound (docs/platform.md): within the task's origin, at most 5
    // redirects (AsyncHttpClient's `maxRedirects`). Each is a failed check: the deploy fails
    // past 0.2 + 0.05 + 0.5 s.
    let api = Api::with(Settings {
        startup_timeout: Duration::from_millis(200),
        ..LocalSingularity::quick()
    });
    for (deploy_id, tag, error) in [
        (
            "d1",
            "redirect-away",
            "http://elsewhere.invalid/health is not followed",
        ),
        ("d2", "redirect-loop", "more than 5 redirects"),
    ] {
        api.request(1);
        assert_eq!(api.deploy(deploy_id, tag).status, 200);
        let result = api.result(deploy_id);
        assert_eq!(result["deployState"], "FAILED", "{result}");
        let view = api.singularity.view();
        let task = view
            .tasks
            .iter()
            .find(|t| t.deploy_id == deploy_id)
            .unwrap();
        let check = task.health_checks.last().unwrap();
        assert_eq!(check.status, None);
        assert!(
            check.error.as_deref().unwrap_or_default().contains(error),
            "{check:?}"
        );
    }
}

#[test]
fn ports_in_use_are_not_handed_out() {
    // Two ports of the range, the first taken by someone else.
    let (taken, port) = (31000..32000)
        .find_map(|port| {
            let taken = std::net::TcpListener::bind(("0.0.0.0", port)).ok()?;
            std::net::TcpListener::bind(("0.0.0.0", port + 1)).ok()?;
            Some((taken, port))
        })
        .expect("two free ports in 31000-32000");
    let api = Api::with(Settings {
        ports: port..=port + 1,
        deploy_timeout: Duration::from_millis(800),
        startup_timeout: Duration::from_millis(200),
        ..LocalSingularity::quick()
    });
    // One instance gets the free port; the other none: not enough resources.
    let result = api.deploy_to_its_end(2, "7");
    assert_eq!(result["deployState"], "OVERDUE");
    assert_eq!(
        result["message"],
        "Only 1 of 2 tasks could be launched for deploy, there may not be enough resources to launch the remaining tasks"
    );
    let started = api.singularity.simulated().started();
    assert_eq!(started.len(), 1);
    assert!(
        started[0]
            .env
            .contains(&("PORT0".into(), (port + 1).to_string()))
    );
    let view = api.singularity.view();
    assert_eq!(view.tasks[0].address, format!("127.0.0.1:{}", port + 1));
    assert_eq!(
        api.singularity
            .task_lines(&view.tasks[0].task_id)
            .expect("a listed task"),
        [
            format!("listening on http://127.0.0.1:{}", port + 1),
            "stopped".to_string()
        ]
    );
    drop(taken);
}

#[test]
fn disabled_deploys_are_a_conflict_with_the_administrators_message() {
    let api = Api::start();
    api.request(1);
    let disable = |body: &Value| {
        api.post("/api/disasters/disabled-actions/DEPLOY", body)
            .status
    };
    assert_eq!(
        disable(&json!({ "message": "frozen for the release" })),
        204
    );
    mapped(
        &api.deploy("d1", "7"),
        409,
        "Cannot perform action DEPLOY: frozen for the release",
    );
    assert_eq!(
        api.delete("/api/disasters/disabled-actions/DEPLOY").status,
        204
    );
    assert_eq!(disable(&json!({})), 204);
    mapped(
        &api.deploy("d1", "7"),
        409,
        "Cannot perform action DEPLOY: Action is currently disabled",
    );
    api.delete("/api/disasters/disabled-actions/DEPLOY");
    assert_eq!(api.deploy("d1", "7").status, 200);
}

#[test]
fn progress_counts_instances_only_once_all_are_healthy_and_success_comes_a_check_later() {
    // A check every 300 ms, so that the step between the two is seen.
    let api = Api::with(Settings {
        check_interval: Duration::from_millis(300),
        ..LocalSingularity::quick()
    });
    api.request(2);
    api.deploy("d1", "7");
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while api.history("d1").json().get("deployResult").is_none() {
        assert!(Instant::now() < deadline, "no result");
        let parent = api.get("/api/requests/request/hello").json();
        let progress = &parent["pendingDeployState"]["deployProgress"];
        if !progress.is_null() {
            let step = (
                progress["currentActiveInstances"].as_u64().unwrap(),
                progress["stepLaunchComplete"].as_bool().unwrap(),
            );
            if seen.last().map(|(step, _)| step) != Some(&step) {
                let marker = &parent["pendingDeployState"]["deployMarker"]["timestamp"];
                let timestamp = progress["timestamp"].as_u64().unwrap();
                seen.push((step, timestamp - marker.as_u64().unwrap()));
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // `markStepLaunchFinished`: 0 while launching, both at once when all are healthy.
    let steps: Vec<_> = seen.iter().map(|(step, _)| *step).collect();
    assert_eq!(steps, [(0, false), (2, true)]);
    // `SingularityDeployProgress`: the deploy's start, then each change's time (the step
    // completes at the first look, an interval after the start).
    let since_start: Vec<u64> = seen.iter().map(|(_, millis)| *millis).collect();
    assert_eq!(since_start[0], 0, "{since_start:?}");
    assert!(since_start[1] >= 300, "{since_start:?}");
    let result = api.result("d1");
    assert_eq!(result["deployState"], "SUCCEEDED");
    // `SingularityDeployResult` of SUCCEEDED has no message.
    assert_eq!(result.get("message"), None, "{result}");

    // Running but never healthy: still 0.
    api.deploy("d2", "hang");
    std::thread::sleep(Duration::from_millis(700));
    let parent = api.get("/api/requests/request/hello").json();
    assert_eq!(
        parent["pendingDeployState"]["deployProgress"]["currentActiveInstances"],
        0
    );
    assert_eq!(api.singularity.simulated().running().len(), 4);
}

#[test]
fn the_deploys_env_comes_before_the_ports_and_after_the_tasks_own_variables() {
    let api = Api::start();
    api.request(1);
    let mut deploy = deploy_request("d1", "7");
    deploy["deploy"]["env"] = json!({ "PORT": "1", "PORT0": "2", "INSTANCE_NO": "9", "N": 1 });
    assert_eq!(api.post("/api/deploys", &deploy).status, 200);
    assert_eq!(api.result("d1")["deployState"], "SUCCEEDED");
    let task = &api.singularity.simulated().started()[0];
    let env = |name: &str| {
        let values: Vec<&String> = task
            .env
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value)
            .collect();
        assert_eq!(values.len(), 1, "{name}: {:?}", task.env);
        values[0].clone()
    };
    // `prepareEnvironment` fills one map: the deploy's env replaces the task's variables,
    // the ports replace the deploy's env.
    assert_eq!(env("INSTANCE_NO"), "9");
    assert_ne!(env("PORT0"), "2");
    assert_eq!(env("PORT"), env("PORT0"));
    // Jackson reads the number 1 into a String.
    assert_eq!(env("N"), "1");
    assert_eq!(env("TASK_ID"), task.task_id);
    assert_eq!(env("TASK_RACK_ID"), "DEFAULT");
    assert_eq!(env("AVAILABILITY_ZONE"), "DEFAULT");
    let history = api.history("d1").json();
    assert_eq!(history["deploy"]["env"]["N"], "1");
}

#[test]
fn resources_are_checked_as_check_for_illegal_resources_does() {
    let api = Api::start();
    api.request(2);
    let with = |resources: Value| {
        let mut deploy = deploy_request("x", "7");
        deploy["deploy"]["resources"] = resources;
        api.post("/api/deploys", &deploy)
    };
    plain_400(
        &with(json!({ "cpus": 51, "memoryMb": 64, "numPorts": 1 })),
        "Deploy x uses too many cpus 51.0 (maxCpusPerInstance 50 in mesos configuration)",
    );
    plain_400(
        &with(json!({ "cpus": 0.5, "memoryMb": 24001, "numPorts": 1 })),
        "Deploy x uses too much memoryMb 24001.0 (maxMemoryMbPerInstance 24000 in mesos configuration)",
    );
    // A field left out of `resources` is Java's 0.
    plain_400(
        &with(json!({ "cpus": 1, "numPorts": 1 })),
        "Request must have more than 0 memoryMb",
    );
    // Resources come before the health check's rules.
    plain_400(
        &with(json!({ "cpus": 0, "memoryMb": 64 })),
        "Request must have more than 0 cpus",
    );
    let mut negative = deploy_request("x", "7");
    negative["deploy"]["healthcheck"] = json!({ "uri": "/health", "portIndex": -1 });
    plain_400(
        &api.post("/api/deploys", &negative),
        "healthcheckPortIndex cannot be negative",
    );
}

#[test]
fn jackson_reads_enums_strictly_and_coerces_scalars() {
    let api = Api::start();
    for (field, value) in [("network", "host"), ("network", "OVERLAY")] {
        let mut deploy = deploy_request("x", "7");
        deploy["deploy"]["containerInfo"]["docker"][field] = json!(value);
        mapped(
            &api.post("/api/deploys", &deploy),
            400,
            "Unable to process JSON",
        );
    }
    let mut deploy = deploy_request("x", "7");
    deploy["deploy"]["containerInfo"]["type"] = json!("docker");
    mapped(
        &api.post("/api/deploys", &deploy),
        400,
        "Unable to process JSON",
    );
    let answer = api.post("/api/requests", &json!({ "id": "hello", "instances": "2" }));
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.json()["request"]["instances"], 2);
}

#[test]
fn smaller_points_of_the_api() {
    let api = Api::start();
    // No deploy yet: no requestDeployState.
    api.request(1);
    let parent = api.get("/api/requests/request/hello").json();
    assert_eq!(parent.get("requestDeployState"), None, "{parent}");
    // A method a path does not take: Jersey's 405, through Dropwizard's mapper.
    mapped(&api.get("/api/deploys"), 405, "HTTP 405 Method Not Allowed");
    // `healthcheck.uri` without a leading slash checks the same path.
    let mut deploy = deploy_request("d1", "7");
    deploy["deploy"]["healthcheck"] = json!({ "uri": "health", "portIndex": 0 });
    api.post("/api/deploys", &deploy);
    assert_eq!(api.result("d1")["deployState"], "SUCCEEDED");
    let parent = api.get("/api/requests/request/hello").json();
    assert_eq!(
        parent["requestDeployState"]["activeDeploy"]["deployId"],
        "d1"
    );

    // The answer to a deploy with an updated request shows the updated request.
    let mut deploy = deploy_request("d2", "hang");
    deploy["updatedRequest"] = json!({ "id": "hello", "instances": 3 });
    let answer = api.post("/api/deploys", &deploy).json();
    assert_eq!(answer["request"]["instances"], 3);
    // While it is pending, any change of the request is a conflict, checked before the
    // request itself.
    mapped(
        &api.post("/api/requests", &json!({ "id": "hello", "instances": 0 })),
        409,
        "Request hello has a pending deploy that may change the request data. Try again when the deploy has finished",
    );
    api.delete("/api/deploys/deploy/d2/request/hello");
    api.result("d2");

    // A WORKER may become a SERVICE that is not load balanced; nothing may change
    // whether it is load balanced.
    let answer = api.post(
        "/api/requests",
        &json!({ "id": "hello", "requestType": "SERVICE" }),
    );
    assert_eq!(answer.status, 200, "{answer:?}");
    plain_400(
        &api.post(
            "/api/requests",
            &json!({ "id": "hello", "requestType": "SERVICE", "loadBalanced": true }),
        ),
        "Request can not change whether it is load balanced",
    );
    plain_400(
        &api.post(
            "/api/requests",
            &json!({ "id": "hello", "requestType": "ON_DEMAND" }),
        ),
        "Request can not change requestType from SERVICE to ON_DEMAND",
    );
}

#[test]
fn a_request_paused_during_its_deploy_fails_the_deploy() {
    let api = Api::start();
    api.request(1);
    api.deploy("d1", "hang");
    api.post("/api/requests/request/hello/pause", &json!({}));
    let result = api.result("d1");
    assert_eq!(result["deployState"], "FAILED");
    assert_eq!(
        result["message"],
        "Request in state PAUSED is not deployable"
    );
    assert_eq!(result["deployFailures"], json!([]));
}

#[test]
fn a_deploy_to_unpause_leaves_the_request_active_only_if_it_succeeds() {
    let api = Api::start();
    api.request(1);
    api.post("/api/requests/request/hello/pause", &json!({}));
    let state = || api.get("/api/requests/request/hello").json()["state"].clone();
    let mut deploy = deploy_request("d1", "hang");
    deploy["unpauseOnSuccessfulDeploy"] = json!(true);
    assert_eq!(
        api.post("/api/deploys", &deploy).json()["state"],
        "DEPLOYING_TO_UNPAUSE"
    );
    api.delete("/api/deploys/deploy/d1/request/hello");
    assert_eq!(api.result("d1")["deployState"], "CANCELED");
    assert_eq!(state(), "PAUSED");

    let mut deploy = deploy_request("d2", "7");
    deploy["unpauseOnSuccessfulDeploy"] = json!(true);
    api.post("/api/deploys", &deploy);
    assert_eq!(api.result("d2")["deployState"], "SUCCEEDED");
    assert_eq!(state(), "ACTIVE");
}
