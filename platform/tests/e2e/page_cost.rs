//! What the page costs the machine, seen from outside and without an engine: the platform's
//! real binary runs its tasks through test-support's stand-in for `docker`, which
//! writes down each call, so that a test can count what a poll of the page makes it run.

use std::{
    thread,
    time::{Duration, Instant},
};

use serde_json::json;
use test_support::docker_stand_in::DockerStandIn;

use super::harness::Platform;

/// Tasks are looked at all at once every this many seconds.
const INTERVAL: &str = "0.2";
/// Singularity's most per request.
const INSTANCES: usize = 25;

/// How many of `calls` are `docker COMMAND …`.
fn count(calls: &[String], command: &str) -> usize {
    calls
        .iter()
        .filter(|call| call.split(' ').next() == Some(command))
        .count()
}

/// A platform whose `docker` is `docker`, running [`INSTANCES`] healthy tasks.
fn running_many(docker: &DockerStandIn) -> Platform {
    let platform = Platform::start_with(Some(&docker.program()), &["--check-interval", INTERVAL]);
    let request = json!({"id": "many", "daemon": true, "instances": INSTANCES});
    let (status, body) = platform.call("POST", "/singularity/api/requests", Some(&request));
    assert_eq!(status, 200, "{body}");
    // No health check: each task is healthy once it has run one interval.
    let deploy = json!({"deploy": {
        "requestId": "many", "id": "d1",
        "containerInfo": {"type": "DOCKER", "docker": {"image": "hello-mesos:7"}},
        "resources": {"cpus": 0.1, "memoryMb": 64, "numPorts": 1},
    }});
    let (status, body) = platform.call("POST", "/singularity/api/deploys", Some(&deploy));
    assert_eq!(status, 200, "{body}");
    assert_eq!(platform.result("many", "d1")["deployState"], "SUCCEEDED");
    platform
}

#[test]
fn a_state_poll_runs_no_docker_process_per_task() {
    let docker = DockerStandIn::new();
    let platform = running_many(&docker);
    docker.calls(); // only those from now on

    let started = Instant::now();
    for _ in 0..20 {
        let tasks = platform.state()["singularity"]["tasks"].clone();
        let tasks = tasks.as_array().expect("tasks");
        assert_eq!(tasks.len(), INSTANCES);
        assert!(tasks.iter().all(|t| t["status"] == "TASK_RUNNING"));
        thread::sleep(Duration::from_millis(50));
    }
    let seconds = started.elapsed().as_secs_f64();
    let calls = docker.calls();
    // One look at all tasks per interval, whatever the page asks; nothing per task.
    let looks = count(&calls, "ps");
    let others = calls.len() - looks;
    assert_eq!(others, 0, "{others} other calls, e.g. {:?}", calls.last());
    let interval: f64 = INTERVAL.parse().expect("seconds");
    assert!(
        looks as f64 <= seconds / interval + 2.0,
        "{looks} looks in {seconds:.1} s"
    );
}

#[test]
fn a_tasks_lines_are_fetched_at_most_once_a_second() {
    let docker = DockerStandIn::new();
    let platform = running_many(&docker);
    let task = platform.state()["singularity"]["tasks"][0]["task_id"]
        .as_str()
        .expect("a task id")
        .to_string();
    docker.calls(); // only those from now on

    let started = Instant::now();
    for _ in 0..10 {
        let lines = platform.json(&format!("/platform/tasks/{task}/logs"));
        assert_eq!(lines, json!(["a line"]));
    }
    let seconds = started.elapsed().as_secs_f64();
    let fetches = count(&docker.calls(), "logs");
    assert!(
        (1..=1 + seconds as usize).contains(&fetches),
        "{fetches} fetches in {seconds:.1} s"
    );

    let (status, _) = platform.call("GET", "/platform/tasks/no-such-task/logs", None);
    assert_eq!(status, 404);
}
