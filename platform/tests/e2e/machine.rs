//! What the platform takes of the machine it runs on: the disk a task's log may fill, and the
//! containers of its port, which a second platform started on that port leaves alone.

use std::{
    thread,
    time::{Duration, Instant},
};

use serde_json::json;

use super::{
    STEP_07,
    harness::{self, FAST, Platform, docker},
};

/// The steps' build image: any image with a shell, to make one that prints without end.
const WITH_A_SHELL: &str = "rust:1.95-slim-bookworm";
/// What the chatty task prints before it waits.
const PRINTED: u64 = 50 * 1024 * 1024;
/// At most 2 files of 1 MB (the platform's log options), and a margin for the file that
/// rotates while it is measured.
const LOG_BOUND: u64 = 3 * 1024 * 1024;

#[test]
#[ignore = "needs Docker and the steps' images: see the top of e2e.rs"]
fn a_second_platform_on_the_same_port_exits_1_and_leaves_the_first_ones_tasks_alone() {
    let Some(platform) = Platform::first_deploy_of(STEP_07) else {
        return;
    };
    assert_eq!(
        platform.result("hello-mesos", "first")["deployState"],
        "SUCCEEDED"
    );
    let running = platform.containers(false);
    assert_eq!(running.len(), 1);

    let mut second = harness::launch(platform.port, platform.discovery, &FAST, None);
    assert_eq!(second.wait(Duration::from_secs(30)).code(), Some(1));
    let stderr = second.stderr();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "platform: cannot listen on 127.0.0.1:{}",
            platform.port
        )),
        "{stderr}"
    );
    assert!(!second.stdout().contains("Removed"), "{}", second.stdout());

    assert_eq!(platform.containers(false), running);
    let tasks = platform.tasks("first");
    assert_eq!(tasks[0]["status"], "TASK_RUNNING", "{tasks:?}");
}

#[test]
#[ignore = "needs Docker and the steps' images: see the top of e2e.rs"]
fn a_task_that_prints_50_mb_keeps_at_most_2_mb_of_log() {
    let Some(platform) = Platform::start_for(&[WITH_A_SHELL]) else {
        return;
    };
    let image = chatty_image();
    let platform = platform.request("chatty");
    // No health check: the task is healthy once it has run one interval.
    let deploy = json!({"deploy": {
        "requestId": "chatty", "id": "d1",
        "containerInfo": {"type": "DOCKER", "docker": {"image": image, "network": "HOST"}},
        "resources": {"cpus": 1, "memoryMb": 64, "numPorts": 1},
    }});
    let (status, body) = platform.call("POST", "/singularity/api/deploys", Some(&deploy));
    assert_eq!(status, 200, "{body}");
    assert_eq!(platform.result("chatty", "d1")["deployState"], "SUCCEEDED");
    let container = platform
        .containers(false)
        .pop()
        .expect("the task's container");

    let deadline = Instant::now() + Duration::from_secs(60);
    while docker(&["logs", "--tail", "1", &container]).map(|last| last.trim().to_string())
        != Ok("printed".into())
    {
        assert!(Instant::now() < deadline, "the task did not print it all");
        thread::sleep(Duration::from_millis(200));
    }
    let log = docker(&["inspect", "--format", "{{.LogPath}}", &container]).expect("inspect");
    let log = log.trim();
    // The log and its rotated files (`…-json.log.1`).
    let dir = std::path::Path::new(log)
        .parent()
        .expect("the log's directory");
    let kept: u64 = std::fs::read_dir(dir)
        .expect("the container's directory")
        .filter_map(Result::ok)
        .filter(|entry| entry.path().to_string_lossy().starts_with(log))
        .map(|entry| entry.metadata().map_or(0, |m| m.len()))
        .sum();
    assert!(
        kept <= LOG_BOUND,
        "{PRINTED} bytes printed, {kept} bytes of log kept"
    );
    // The image goes once its container has: with the platform.
    drop(platform);
    let _ = docker(&["rmi", &image]);
}

/// An image that prints [`PRINTED`] bytes in lines of 41, then `printed`, then waits:
/// [`WITH_A_SHELL`] with another command, committed without a build (no registry needed).
fn chatty_image() -> String {
    let image = "hello-mesos-test:chatty".to_string();
    // What an earlier run that failed may have left.
    let _ = docker(&["rmi", &image]);
    let script = format!(
        "yes 0123456789012345678901234567890123456789 | head -c {PRINTED}; echo; echo printed; \
         exec sleep 600"
    );
    let created = docker(&["create", WITH_A_SHELL, "sh"]).expect("docker create");
    let change = format!("ENTRYPOINT [\"sh\", \"-c\", \"{script}\"]");
    let committed = docker(&["commit", "--change", &change, created.trim(), &image]);
    let _ = docker(&["rm", created.trim()]);
    committed.expect("docker commit");
    image
}
