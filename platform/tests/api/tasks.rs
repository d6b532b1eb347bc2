//! The endpoints a learner reaches for after a deploy, over HTTP with simulated tasks: the
//! tasks and where they listen, their output, the cluster's counts, the deploy list, and
//! removing, scaling and bouncing a request. Each expectation cites HubSpot's source.

use crate::harness::{Api, mapped, plain_400};
use serde_json::{Value, json};

/// A request `hello` with `instances`, deployed as `d1` and SUCCEEDED.
fn deployed(instances: u32) -> Api {
    let api = Api::start();
    let result = api.deploy_to_its_end(instances, "7");
    assert_eq!(result["deployState"], "SUCCEEDED", "{result}");
    api
}

fn active(api: &Api) -> Vec<Value> {
    let answer = api.get("/api/tasks/active");
    assert_eq!(answer.status, 200, "{answer:?}");
    answer.json().as_array().expect("a list").clone()
}

/// The port of a task as `SingularityTask.getPortByIndex(0)` reads it from `mesosTask`.
fn port(task: &Value) -> u64 {
    let resources = task["mesosTask"]["resources"]
        .as_array()
        .expect("resources");
    let ports = resources
        .iter()
        .find(|r| r["name"] == "ports")
        .expect("ports");
    ports["ranges"]["range"][0]["begin"]
        .as_u64()
        .expect("a port")
}

#[test]
fn active_tasks_tell_each_tasks_host_and_port() {
    // TaskResource.getActiveTasks: List<SingularityTask>; the host is `offers[0].hostname`
    // (SingularityTask.getHostname), the ports the `ports` resource of `mesosTask`.
    let api = deployed(2);
    let tasks = active(&api);
    assert_eq!(tasks.len(), 2);
    for task in &tasks {
        assert_eq!(task["taskId"]["requestId"], "hello");
        assert_eq!(task["taskId"]["deployId"], "d1");
        assert_eq!(task["offers"][0]["hostname"], "127.0.0.1");
        assert_eq!(task["taskRequest"]["deploy"]["id"], "d1");
        assert_eq!(task["taskRequest"]["request"]["id"], "hello");
        // The task answers on that host and port.
        let url = format!("http://127.0.0.1:{}/health", port(task));
        assert_eq!(crate::harness::call("GET", &url, None).status, 200);
    }
    // TaskResource.getActiveTask: the same task by its id; `checkActiveTask` 404s otherwise.
    let id = tasks[0]["taskId"]["id"].as_str().expect("an id");
    let task = api.get(&format!("/api/tasks/task/{id}")).json();
    assert_eq!(task, tasks[0]);
    let gone = "hello-d0-1700000000000-1-127.0.0.1-DEFAULT";
    mapped(
        &api.get(&format!("/api/tasks/task/{gone}")),
        404,
        &format!("No active task with id {gone}"),
    );
    // `getTaskIdFromStr`: an id SingularityTaskId.valueOf cannot read is a 400.
    plain_400(
        &api.get("/api/tasks/task/nope"),
        "nope is not a valid taskId: TaskId nope was invalid (There must be at least 5 instances of - (there were 0))",
    );
}

#[test]
fn a_requests_task_ids_are_listed_by_status() {
    // TaskResource.getTaskIdsByStatusForRequest (RequestHelper.getTaskIdsByStatusForRequest),
    // also the request parent's `taskIds` (RequestHelper.fillEntireRequest).
    let api = deployed(2);
    let ids = api.get("/api/tasks/ids/request/hello").json();
    assert_eq!(ids["healthy"].as_array().map(Vec::len), Some(2), "{ids}");
    for empty in [
        "notYetHealthy",
        "pending",
        "cleaning",
        "loadBalanced",
        "killed",
    ] {
        assert_eq!(ids[empty], json!([]), "{empty}");
    }
    let parent = api.get("/api/requests/request/hello").json();
    assert_eq!(parent["taskIds"], ids);
    // An empty Optional: Dropwizard's bare 404.
    mapped(
        &api.get("/api/tasks/ids/request/nobody"),
        404,
        "HTTP 404 Not Found",
    );
}

#[test]
fn the_request_list_carries_no_deploys() {
    // RequestResource.getRequests → RequestHelper.fillDataForRequestsAndFilter: request, state
    // and requestDeployState only; `taskIds` with includeFullRequestData.
    let api = deployed(1);
    let list = api.get("/api/requests").json();
    let parent = &list[0];
    assert_eq!(parent["request"]["id"], "hello");
    assert_eq!(
        parent["requestDeployState"]["activeDeploy"]["deployId"],
        "d1"
    );
    for absent in [
        "activeDeploy",
        "pendingDeploy",
        "pendingDeployState",
        "taskIds",
    ] {
        assert_eq!(parent.get(absent), None, "{absent}");
    }
    let full = api.get("/api/requests?includeFullRequestData=true").json();
    assert_eq!(
        full[0]["taskIds"]["healthy"].as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(
        api.get("/api/requests?requestType=SERVICE").json(),
        json!([])
    );
    assert_eq!(
        api.get("/api/requests?requestType=WORKER")
            .json()
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    mapped(&api.get("/api/requests?limit=x"), 404, "HTTP 404 Not Found");
}

#[test]
fn the_deploy_list_is_newest_first_without_the_deploys() {
    // HistoryResource.getDeploys: DeployHistoryHelper.getFromZk, sorted by
    // SingularityDeployHistory.compareTo (newest marker first), `loadEntireHistory` false.
    let api = deployed(1);
    api.deploy("d2", "7");
    api.result("d2");
    let list = api.get("/api/history/request/hello/deploys").json();
    let ids: Vec<&Value> = (list.as_array().expect("a list").iter())
        .map(|h| &h["deployMarker"]["deployId"])
        .collect();
    assert_eq!(ids, [&json!("d2"), &json!("d1")]);
    assert_eq!(list[0]["deployResult"]["deployState"], "SUCCEEDED");
    assert_eq!(list[0].get("deploy"), None);
    let second = api
        .get("/api/history/request/hello/deploys?count=1&page=2")
        .json();
    assert_eq!(second[0]["deployMarker"]["deployId"], "d1");
    // `getLimitStart`: pages start at 1.
    plain_400(
        &api.get("/api/history/request/hello/deploys?page=0"),
        "page param must be 1 or greater",
    );
    assert_eq!(
        api.get("/api/history/request/nobody/deploys").json(),
        json!([])
    );
}

#[test]
fn a_tasks_output_is_read_through_the_sandbox() {
    // SandboxResource.read: a MesosFileChunkObject from the agent's /files/read.
    let api = Api::start();
    let result = api.deploy_to_its_end(1, "exit-3");
    assert_eq!(result["deployState"], "FAILED", "{result}");
    let task_id = result["deployFailures"][0]["taskId"]["id"]
        .as_str()
        .expect("the failed task")
        .to_string();
    let read = |query: &str| api.get(&format!("/api/sandbox/{task_id}/read?{query}"));
    // Its lines are kept once it has been looked at after its end: a moment after the result.
    let path = format!("/api/sandbox/{task_id}/read?path=stdout&offset=0");
    let whole = api.wait_for(&path, |chunk| chunk["data"] != "");
    let text = format!("{task_id}: starting\nsimulated failure: exit status 3\n");
    assert_eq!(whole, json!({ "data": text, "offset": 0 }));
    // Without an offset, Mesos answers the file's size and no data.
    assert_eq!(
        read("path=stdout").json(),
        json!({ "data": "", "offset": text.len() })
    );
    let tail = read(&format!("path=stdout&offset={}&length=10", text.len() - 10)).json();
    assert_eq!(tail["data"], " status 3\n");
    plain_400(&read("offset=0"), "Must specify 'path'");
    mapped(
        &read("path=nothing"),
        404,
        &format!("File nothing does not exist for task ID {task_id}"),
    );
    mapped(&read("path=stdout&offset=x"), 404, "HTTP 404 Not Found");
    let unknown = "hello-d9-1700000000000-1-127.0.0.1-DEFAULT";
    mapped(
        &api.get(&format!("/api/sandbox/{unknown}/read?path=stdout")),
        404,
        &format!("No history for task {unknown}"),
    );
}

#[test]
fn the_state_counts_requests_and_tasks() {
    // StateResource.getState: StateManager.generateState's counts.
    let api = deployed(2);
    let state = api.get("/api/state").json();
    assert_eq!(state["activeRequests"], 1);
    assert_eq!(state["pausedRequests"], 0);
    assert_eq!(state["activeTasks"], 2);
    assert_eq!(state["launchingTasks"], 0);
    assert_eq!(state["numDeploys"], 0);
    assert_eq!(state.get("activeSlaves"), None, "no agents are modelled");
    // A pause stops the tasks.
    assert_eq!(
        api.post("/api/requests/request/hello/pause", &json!({}))
            .status,
        200
    );
    let state = api.get("/api/state").json();
    assert_eq!(
        (&state["activeRequests"], &state["pausedRequests"]),
        (&json!(0), &json!(1))
    );
    assert_eq!(state["activeTasks"], 0);
    // A deploy in progress is counted with its marker; its tasks launch for 2 s (`slow`).
    assert_eq!(
        api.post("/api/requests/request/hello/unpause", &json!({}))
            .status,
        200
    );
    assert_eq!(api.deploy("d2", "slow").status, 200);
    let state = api.get("/api/state").json();
    assert_eq!(state["numDeploys"], 1);
    assert_eq!(state["activeDeploys"][0]["deployId"], "d2");
    assert!(state["launchingTasks"].as_u64() >= Some(2), "{state}");
}

#[test]
fn disabled_actions_are_listed() {
    // DisastersResource.disabledActions: List<SingularityDisabledAction>.
    let api = Api::start();
    assert_eq!(api.get("/api/disasters/disabled-actions").json(), json!([]));
    let answer = api.post(
        "/api/disasters/disabled-actions/DEPLOY",
        &json!({ "message": "freeze" }),
    );
    assert_eq!(answer.status, 204);
    assert_eq!(
        api.get("/api/disasters/disabled-actions").json(),
        json!([{ "type": "DEPLOY", "message": "freeze", "automaticallyClearable": false }])
    );
}

#[test]
fn a_deleted_request_stops_its_tasks() {
    // RequestResource.deleteRequest: answers the SingularityRequest; its tasks are cleaned up.
    let api = deployed(2);
    let answer = api.delete("/api/requests/request/hello");
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.json()["id"], "hello");
    assert_eq!(active(&api), Vec::<Value>::new());
    assert_eq!(api.singularity.simulated().running(), Vec::<String>::new());
    mapped(
        &api.get("/api/requests/request/hello"),
        404,
        "Couldn't find request with id hello",
    );
    mapped(
        &api.delete("/api/requests/request/hello"),
        404,
        "Couldn't find request with id hello",
    );
}

#[test]
fn scaling_down_stops_the_highest_instances_and_up_is_refused() {
    // RequestResource.scale: the request saved with the new instances; the scheduler's
    // cleanup stops the tasks above them.
    let api = deployed(3);
    let parent = api.put(
        "/api/requests/request/hello/scale",
        &json!({ "instances": 1 }),
    );
    assert_eq!(parent.status, 200, "{parent:?}");
    assert_eq!(parent.json()["request"]["instances"], 1);
    let left = api.wait_for("/api/tasks/active", |tasks| {
        tasks.as_array().is_some_and(|t| t.len() == 1)
    });
    assert_eq!(left[0]["taskId"]["instanceNo"], 1);
    plain_400(
        &api.put(
            "/api/requests/request/hello/scale",
            &json!({ "instances": 1 }),
        ),
        "Scale request has no affect on the # of instances (1)",
    );
    plain_400(
        &api.put(
            "/api/requests/request/hello/scale",
            &json!({ "instances": 2 }),
        ),
        "This practice platform starts tasks only for a deploy: deploy again with 2 instances",
    );
    mapped(
        &api.put(
            "/api/requests/request/nobody/scale",
            &json!({ "instances": 2 }),
        ),
        404,
        "Couldn't find request with id nobody",
    );
}

#[test]
fn a_bounce_is_refused_as_not_modelled() {
    let api = deployed(1);
    plain_400(
        &api.post("/api/requests/request/hello/bounce", &json!({})),
        "This practice platform does not model bounces: deploy again to restart the tasks",
    );
    // RequestResource.bounce looks the request up first.
    mapped(
        &api.post("/api/requests/request/nobody/bounce", &json!({})),
        404,
        "Couldn't find request with id nobody",
    );
}

/// `hello-mesos` with 2 instances, deployed as `otpl-deploy local step-09-discovery` does.
fn hello_mesos() -> Api {
    let api = Api::start();
    let request = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../config/local/singularity-request.json"
    ))
    .expect("config/local's request");
    let request: Value = serde_json::from_str(&request).expect("JSON");
    assert_eq!(api.post("/api/requests", &request).status, 200);
    let mut deploy = crate::harness::deploy_request("9_1", "step-09-discovery");
    deploy["deploy"]["requestId"] = json!("hello-mesos");
    deploy["deploy"]["containerInfo"]["docker"]["image"] = json!("hello-mesos:step-09-discovery");
    assert_eq!(api.post("/api/deploys", &deploy).status, 200);
    let history = "/api/history/request/hello-mesos/deploy/9_1";
    let done = api.wait_for(history, |h| h["deployResult"]["deployState"].is_string());
    assert_eq!(done["deployResult"]["deployState"], "SUCCEEDED", "{done}");
    api
}

/// Runs a page's `curl` session against `api`, its `localhost:7099` being the model's.
fn run_page(api: &Api, page: &str, name: &str) {
    let base = api.url("");
    let here = base
        .trim_end_matches("/singularity")
        .trim_start_matches("http://");
    let dir = tempfile::tempdir().expect("a directory");
    test_support::sessions::run_session(
        page,
        name,
        dir.path(),
        &[],
        |command| command.replace("localhost:7099", here),
        |output| output.replace(here, "localhost:7099"),
    );
}

#[test]
fn the_pages_api_sessions_print_what_is_shown() {
    let api = hello_mesos();
    run_page(&api, "09-discovery.md", "09-tasks");
    run_page(&api, "platform.md", "platform-api");
}

#[test]
fn the_new_endpoints_are_behind_the_host_and_origin_guard() {
    // Not Singularity's: the platform's own guard (guard.rs) answers before any resource.
    let api = deployed(1);
    let client = reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(std::time::Duration::from_secs(5))
        .build()
        .expect("a client");
    let task = &active(&api)[0]["taskId"]["id"];
    let sandbox = format!(
        "/api/sandbox/{}/read?path=stdout",
        task.as_str().expect("an id")
    );
    for path in ["/api/tasks/active", "/api/state", sandbox.as_str()] {
        let answer = client
            .get(api.url(path))
            .header("Host", "rebound.example.com")
            .send()
            .expect("an answer");
        assert_eq!(answer.status(), 403, "{path}");
    }
    let answer = client
        .delete(api.url("/api/requests/request/hello"))
        .header("Origin", "https://elsewhere.example.com")
        .send()
        .expect("an answer");
    assert_eq!(answer.status(), 403);
    assert_eq!(active(&api).len(), 1, "the request is still there");
}
