//! End to end: the platform's real binary, the steps' real images in Docker, its real API,
//! short timings. They need a Docker engine and the images scripts/docker-test.sh builds (and
//! one, a learner's service shipped, Debian's `docker-registry` too), so they run only when
//! asked for:
//!
//!   scripts/docker-test.sh && cargo test -p platform --test e2e -- --ignored
//!
//! Without an engine or the images they say so and pass; in CI (CI=true) they fail instead.

#[path = "e2e/harness.rs"]
mod harness;
#[path = "e2e/machine.rs"]
mod machine;
#[path = "e2e/page_cost.rs"]
mod page_cost;
#[path = "e2e/your_service.rs"]
mod your_service;

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread,
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use test_support::{
    contracts::HEALTHY,
    singularity::{ConfigTree, command},
};

use harness::{FAST, Outcome, Platform, docker, get_root, otpl_deploy, root};

const STEP_04: &str = "hello-mesos:step-04-signals";
const STEP_07: &str = "hello-mesos:step-07-health";
const STEP_09: &str = "hello-mesos:step-09-discovery";

/// `otpl-deploy -d hello-mesos --poll 0.5 local TAG`, run in `dir` against `platform`.
fn otpl_deploy_local(platform: &Platform, dir: &std::path::Path, tag: &str) -> assert_cmd::Command {
    let url = platform.singularity();
    command(
        otpl_deploy().to_str().expect("a UTF-8 path"),
        dir,
        &[("SINGULARITY_URL", &url), ("USER", "learner")],
        &["-d", "hello-mesos", "--poll", "0.5", "local", tag],
    )
}

/// The deploy id otpl-deploy made, from its line `Deployed IMAGE to REQUEST` and the page.
fn last_deploy(platform: &Platform) -> String {
    platform.state()["singularity"]["deploys"][0]["deploy_id"]
        .as_str()
        .expect("a deploy on the page")
        .to_string()
}

#[test]
#[ignore = "needs Docker and the steps' images: see the top of this file"]
fn step_07_succeeds_and_every_instance_answers_on_its_own_port() {
    let Some(platform) = Platform::start_for(&[STEP_07]) else {
        return;
    };
    let deployed = otpl_deploy_local(&platform, &root(), "step-07-health")
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&deployed.get_output().stdout).to_string();
    assert!(
        stdout.contains("Deployed hello-mesos:step-07-health to hello-mesos"),
        "{stdout}"
    );

    let tasks = platform.tasks(&last_deploy(&platform));
    assert_eq!(
        tasks.len(),
        2,
        "config/local asks for 2 instances: {tasks:?}"
    );
    let mut ports = Vec::new();
    for task in &tasks {
        let address = task["address"].as_str().expect("host:port");
        let health = test_support::http::get(&format!("http://{address}/health"));
        assert_eq!(
            health.map(|r| (r.status, r.body)),
            Ok((200, HEALTHY.to_string())),
            "{address}"
        );
        // Each listens on the PORT0 it was given, which the page shows.
        let env = docker(&[
            "inspect",
            "--format",
            "{{range .Config.Env}}{{println .}}{{end}}",
            &container_of(task),
        ])
        .expect("docker inspect");
        let port = address.rsplit(':').next().expect("a port");
        assert!(
            env.lines().any(|line| line == format!("PORT0={port}")),
            "{env}"
        );
        assert!((31000..=32000).contains(&port.parse::<u32>().expect("a number")));
        ports.push(port.to_string());
    }
    ports.dedup();
    assert_eq!(ports.len(), 2, "two instances, two ports");
}

/// The container running `task` (from the page), found by the label the platform puts on it.
fn container_of(task: &Value) -> String {
    let id = task["task_id"].as_str().expect("a task id");
    let filter = format!("label=hello-mesos.platform.task={id}");
    let listed = docker(&["ps", "--all", "--quiet", "--filter", &filter]).expect("docker ps");
    listed.trim().to_string()
}

#[test]
#[ignore = "needs Docker and the steps' images: see the top of this file"]
fn step_04_fails_its_health_checks_and_the_serving_deploy_keeps_serving() {
    let Some(platform) = Platform::start_for(&[STEP_04, STEP_07]) else {
        return;
    };
    otpl_deploy_local(&platform, &root(), "step-07-health")
        .assert()
        .success();
    let serving = platform.tasks(&last_deploy(&platform));

    let failed = otpl_deploy_local(&platform, &root(), "step-04-signals")
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&failed.get_output().stderr).to_string();
    // The cause, for each instance, and what it likely means.
    for part in [
        "ended FAILED: Not all tasks for deploy were healthy",
        "TASK_FAILED_HEALTH_CHECKS",
        // Step 04 answers 404: past the whole health-check time, not refused at the start-up
        // timeout. One line per instance past its limit at that check (usually both).
        "has yet to pass healthchecks. Last check returned with status code 404",
        "never answered GET /health",
    ] {
        assert!(stderr.contains(part), "{part:?} missing from: {stderr}");
    }

    for task in &serving {
        let address = task["address"].as_str().expect("host:port");
        let health = test_support::http::get(&format!("http://{address}/health"));
        assert_eq!(
            health.map(|r| r.status),
            Ok(200),
            "step 07 at {address} stopped serving"
        );
    }
    // The failed deploy's tasks are stopped (`docker stop` may still be at it when the tool
    // reports the failure); the serving ones are then the only ones running.
    let deadline = Instant::now() + Duration::from_secs(15);
    while platform.containers(false).len() > serving.len() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(platform.containers(false).len(), serving.len());
}

#[test]
#[ignore = "needs Docker and the steps' images: see the top of this file"]
fn a_second_deploy_while_one_is_pending_is_409_with_singularitys_message() {
    let Some(platform) = Platform::first_deploy_of(STEP_04) else {
        return;
    };
    let (status, body) = platform.deploy("hello-mesos", "second", STEP_04, json!({}));
    assert_eq!(status, 409, "{body}");
    assert!(
        body.contains(
            "Pending deploy already in progress for hello-mesos - cancel it or wait for it to complete"
        ),
        "{body}"
    );
}

#[test]
#[ignore = "needs Docker and the steps' images: see the top of this file"]
fn a_task_that_exits_fails_the_deploy_with_its_code_and_its_line() {
    let platform = match Platform::start_for(&[STEP_09]) {
        Some(platform) => platform.request("hello-mesos"),
        None => return,
    };
    // Step 09 outside development mode needs DISCOVERY_HOST: without it, it exits 3.
    let failure = failed_deploy(&platform, "exits", STEP_09, json!({"OT_ENV": "local"}));
    for part in ["exited with status 3", "DISCOVERY_HOST not set"] {
        assert!(failure.contains(part), "{part:?} missing from: {failure}");
    }
    // An image that does not exist: the deploy fails with Docker's own message.
    let failure = failed_deploy(&platform, "missing", "hello-mesos:no-such-tag", json!({}));
    assert!(
        failure.contains("Unable to find image 'hello-mesos:no-such-tag'"),
        "{failure}"
    );
}

/// Deploys `image` with `env` as `deploy_id` of `hello-mesos`, which must end FAILED: the
/// message of its first failure.
fn failed_deploy(platform: &Platform, deploy_id: &str, image: &str, env: Value) -> String {
    let (status, body) = platform.deploy("hello-mesos", deploy_id, image, env);
    assert_eq!(status, 200, "{body}");
    let result = platform.result("hello-mesos", deploy_id);
    assert_eq!(result["deployState"], "FAILED", "{result}");
    let message = &result["deployFailures"][0]["message"];
    message.as_str().unwrap_or_default().to_string()
}

#[test]
#[ignore = "needs Docker and the steps' images: see the top of this file"]
fn step_09_is_discovered_and_a_redeploy_switches_without_a_broken_request() {
    let Some(platform) = Platform::start_for(&[STEP_09]) else {
        return;
    };
    // A second tag of the same image: the redeploy of a new build.
    docker(&["tag", STEP_09, "hello-mesos:step-09-again"]).expect("docker tag");
    let tree = local_config(&platform);

    otpl_deploy_local(&platform, tree.path(), "step-09-discovery")
        .assert()
        .success();
    let old = platform.tasks(&last_deploy(&platform));
    let old_uris = wait_for_listed(&platform, &old);
    for uri in &old_uris {
        assert_eq!(get_root(uri), Outcome::Answered(200), "{uri}");
    }

    // Clients keep sending GET / to whatever /watch lists, through the switch.
    let switching = Arc::new(AtomicBool::new(true));
    let clients: Vec<_> = (0..3)
        .map(|_| {
            let (switching, discovery) = (Arc::clone(&switching), platform.discovery);
            thread::spawn(move || {
                let mut seen = BTreeMap::<&str, usize>::new();
                while switching.load(Ordering::Relaxed) {
                    for uri in watch(discovery) {
                        let outcome = match get_root(&uri) {
                            Outcome::Answered(200) => "answered 200",
                            Outcome::Refused => "refused at connect",
                            Outcome::NotAccepted => "reset before accepted",
                            other => panic!("GET {uri}/ during the switch: {other:?}"),
                        };
                        *seen.entry(outcome).or_default() += 1;
                    }
                    thread::sleep(Duration::from_millis(20));
                }
                seen
            })
        })
        .collect();
    let since = unix_seconds();
    otpl_deploy_local(&platform, tree.path(), "step-09-again")
        .assert()
        .success();
    let new = platform.tasks(&last_deploy(&platform));
    let new_uris = wait_for_listed(&platform, &new);
    // Until the old tasks are gone.
    let deadline = Instant::now() + Duration::from_secs(20);
    while platform.containers(false).len() > new.len() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(100));
    }
    switching.store(false, Ordering::Relaxed);
    let mut outcomes = BTreeMap::new();
    for client in clients {
        for (outcome, count) in client.join().expect("no client saw a broken request") {
            *outcomes.entry(outcome).or_insert(0) += count;
        }
    }
    eprintln!("requests to the announced URIs during the switch: {outcomes:?}");
    assert!(
        outcomes.values().sum::<usize>() > 10,
        "too few requests: {outcomes:?}"
    );
    assert_eq!(
        platform.watched("hello-mesos"),
        new_uris,
        "only the new instances stay listed"
    );

    // Each old instance left the list before its container exited.
    let unannounced = unannounced_at(&platform);
    let exited = exits_since(since, platform.port);
    for task in &old {
        let uri = format!("http://{}", task["address"].as_str().expect("host:port"));
        let left = unannounced
            .get(&uri)
            .unwrap_or_else(|| panic!("{uri} was never unannounced"));
        let id = task["task_id"].as_str().expect("an id");
        let exit = exited
            .get(id)
            .unwrap_or_else(|| panic!("{id} did not exit: {exited:?}"));
        assert!(
            left < exit,
            "{uri} unannounced at {left} ns, its container exited at {exit} ns"
        );
    }
}

/// A repository root holding `config/local` as committed, announcing to `platform`'s
/// discovery port instead of the default 8090.
fn local_config(platform: &Platform) -> ConfigTree {
    let tree = ConfigTree::workshop();
    for file in ["singularity-request.json", "singularity.json"] {
        let text = std::fs::read_to_string(root().join("config/local").join(file)).expect(file);
        tree.write(&format!("config/local/{file}"), &text);
    }
    tree.edit("config/local/singularity.json", |deploy| {
        deploy["env"]["DISCOVERY_HOST"] = format!("localhost:{}", platform.discovery.port()).into();
    });
    tree
}

/// Waits until `/watch` lists each of `tasks` (by its host:port); returns their URIs.
fn wait_for_listed(platform: &Platform, tasks: &[Value]) -> Vec<String> {
    let mut uris: Vec<String> = tasks
        .iter()
        .map(|task| format!("http://{}", task["address"].as_str().expect("host:port")))
        .collect();
    uris.sort();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !uris
        .iter()
        .all(|uri| platform.watched("hello-mesos").contains(uri))
    {
        assert!(
            Instant::now() < deadline,
            "not all listed in /watch: {uris:?}"
        );
        thread::sleep(Duration::from_millis(100));
    }
    uris
}

/// The `hello-mesos` URIs /watch lists now (none if it does not answer).
fn watch(discovery: std::net::SocketAddr) -> Vec<String> {
    let Ok(response) = test_support::http::get(&format!("http://{discovery}/watch")) else {
        return Vec::new();
    };
    let watch: Value = serde_json::from_str(&response.body).unwrap_or_default();
    watch["updates"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|update| update["serviceType"] == "hello-mesos")
        .filter_map(|update| update["serviceUri"].as_str().map(String::from))
        .collect()
}

/// When each URI was unannounced, in nanoseconds since the epoch, from the page's events.
fn unannounced_at(platform: &Platform) -> BTreeMap<String, u128> {
    let events = platform.state()["discovery"]["events"].clone();
    events
        .as_array()
        .into_iter()
        .flatten()
        .filter(|event| event["event"] == "UNANNOUNCED")
        .map(|event| {
            let uri = event["serviceUri"].as_str().unwrap_or_default().to_string();
            let millis = event["timestamp"].as_u64().unwrap_or_default();
            (uri, u128::from(millis) * 1_000_000)
        })
        .collect()
}

/// When each of the platform's containers exited since `since`, by task id, in nanoseconds
/// since the epoch, as Docker's events tell.
fn exits_since(since: u64, port: u16) -> BTreeMap<String, u128> {
    let until = unix_seconds() + 1;
    let format = r#"{{.TimeNano}} {{index .Actor.Attributes "hello-mesos.platform.task"}}"#;
    let listed = docker(&[
        "events",
        "--since",
        &since.to_string(),
        "--until",
        &until.to_string(),
        "--filter",
        "event=die",
        "--filter",
        &format!("label=hello-mesos.platform={port}"),
        "--format",
        format,
    ])
    .expect("docker events");
    listed
        .lines()
        .filter_map(|line| {
            let (nanos, task) = line.split_once(' ')?;
            Some((task.to_string(), nanos.parse().ok()?))
        })
        .collect()
}

fn unix_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

#[test]
#[ignore = "needs Docker and the steps' images: see the top of this file"]
fn stopped_with_sigint_or_crashed_it_leaves_no_container() {
    let Some(mut platform) = Platform::start_for(&[STEP_07]) else {
        return;
    };
    otpl_deploy_local(&platform, &root(), "step-07-health")
        .assert()
        .success();
    assert_eq!(platform.containers(false).len(), 2);

    // Killed without a chance to clean up: the next start on its port removes what it left.
    platform.crash_and_restart(&FAST);
    let removed = platform.app.stdout();
    assert!(
        removed.contains("Removed 2 container(s) left by an earlier run"),
        "{removed}"
    );
    assert!(platform.containers(true).is_empty());

    otpl_deploy_local(&platform, &root(), "step-07-health")
        .assert()
        .success();
    let port = platform.port;
    let started = Instant::now();
    assert_eq!(platform.interrupt(), Some(0));
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        harness::containers_of(port, true).is_empty(),
        "containers left after Ctrl+C"
    );
}

#[test]
fn without_docker_it_says_so_in_one_line_and_exits_1() {
    // No docker command at all, and a command but no engine.
    for (name, value) in [
        ("DOCKER", "/nonexistent/docker"),
        ("DOCKER_HOST", "unix:///nonexistent/docker.sock"),
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_platform"))
            .args(["--port", "0"])
            .env(name, value)
            .output()
            .expect("the platform runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with("platform: no Docker engine answers"),
            "{stderr}"
        );
    }
}

#[test]
#[ignore = "needs Docker and the steps' images: see the top of this file"]
fn the_page_shows_a_deploys_state_and_a_tasks_log_line_in_a_browser() {
    let Some(browser) = harness::chromium() else {
        return;
    };
    let Some(platform) = Platform::start_for(&[STEP_07]) else {
        return;
    };
    otpl_deploy_local(&platform, &root(), "step-07-health")
        .assert()
        .success();
    let task = &platform.tasks(&last_deploy(&platform))[0];
    let line = format!(
        "Server running at: http://{}",
        task["address"].as_str().expect("host:port")
    );

    // The page fetches a task's lines only while they are open: the address opens these.
    let url = format!(
        "{}/#lines={}",
        platform.url,
        task["task_id"].as_str().expect("an id")
    );
    let dom = harness::dump_dom(&browser, &url);
    for part in ["SUCCEEDED", line.as_str(), "hello-mesos:step-07-health"] {
        assert!(dom.contains(part), "{part:?} missing from the page:\n{dom}");
    }
}
