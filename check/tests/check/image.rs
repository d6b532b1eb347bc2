//! `--image NAME`: the steps' images, checked as Mesos runs them, pass and fail as their crates
//! do, their containers get exactly the contract's environment, and no container is left, also
//! after Ctrl+C. They need a Docker engine and the images scripts/docker-test.sh builds: .ci/run
//! runs them after it, with `-- --ignored image::`. Without an engine or the images they say so
//! and pass, except in CI (CI=true). Refusals that need no engine run with the other tests.

use std::{
    process::{Command, Stdio},
    sync::{Mutex, MutexGuard},
    thread,
    time::{Duration, Instant},
};

use test_support::engine::{self, docker};

use super::support::{check, interrupt};

/// One check of an image at a time: they share one engine, and "no container left" must not
/// see another test's.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The turn to use the engine, if it answers and holds `images`; else says why not (a
/// failure in CI) and gives none.
fn engine_with(images: &[&str]) -> Option<MutexGuard<'static, ()>> {
    let turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    engine::ready_for(images).then_some(turn)
}

/// The containers a checker labelled (`=PID` for one checker's, empty for any), in any state.
fn containers(value: &str) -> Vec<String> {
    let filter = format!("label=hello-mesos.check{value}");
    let listed = docker(&["ps", "--all", "--filter", &filter, "--format", "{{.Names}}"]);
    let listed = listed.expect("docker lists containers");
    listed.lines().map(str::to_string).collect()
}

#[test]
#[ignore = "needs Docker and the steps' images: see the top of this file"]
fn step_07_image_passes_step_07() {
    let Some(_turn) = engine_with(&["hello-mesos:step-07-health"]) else {
        return;
    };
    check(&["07", "--image", "hello-mesos:step-07-health"]).expect_success();
    assert_eq!(containers(""), Vec::<String>::new(), "left behind");
}

#[test]
#[ignore = "needs Docker and the steps' images: see the top of this file"]
fn step_04_image_has_no_health() {
    let Some(_turn) = engine_with(&["hello-mesos:step-04-signals"]) else {
        return;
    };
    // Each contract that fails kills its docker client: the containers are removed even so.
    let args = ["07", "--startup-timeout", "0", "--no-advice"];
    let checked = check(&[&args[..], &["--image", "hello-mesos:step-04-signals"]].concat());
    checked.expect_failure("health: health answers");
    assert_eq!(containers(""), Vec::<String>::new(), "left behind");
}

#[test]
#[ignore = "needs Docker and the steps' images: see the top of this file"]
fn step_03_image_ignores_sigterm_as_pid_1() {
    let Some(_turn) = engine_with(&["hello-mesos:step-03-env"]) else {
        return;
    };
    // Its container is killed by the checker, not stopped by the signal: removed all the same.
    let args = [
        "04",
        "--fail-fast",
        "--no-advice",
        "--image",
        "hello-mesos:step-03-env",
    ];
    check(&args).expect_failure("signals: sigterm stops cleanly");
    assert_eq!(containers(""), Vec::<String>::new(), "left behind");
}

#[test]
#[ignore = "needs Docker and the steps' images: see the top of this file"]
fn an_image_not_in_the_engine_is_named_before_any_contract() {
    let Some(_turn) = engine_with(&[]) else {
        return;
    };
    let checked = check(&["07", "--image", "hello-mesos:no-such-step"]);
    assert_eq!(checked.code, Some(1), "{checked:?}");
    assert_eq!(checked.stdout, "");
    let said = "no image hello-mesos:no-such-step in the local Docker engine: check does not pull";
    assert!(checked.stderr.starts_with(said), "{}", checked.stderr);
    assert_eq!(checked.stderr.lines().count(), 1, "{}", checked.stderr);
}

/// Ctrl+C while a container runs removes it; and that container got the contract's
/// variables, not the checker's.
#[test]
#[ignore = "needs Docker and the steps' images: see the top of this file"]
fn interrupting_the_check_of_an_image_removes_its_containers() {
    let image = "hello-mesos:step-07-health";
    let Some(_turn) = engine_with(&[image]) else {
        return;
    };
    let mut checker = Command::new(env!("CARGO_BIN_EXE_check"))
        .args(["07", "--image", image])
        // The checker's own, which no container may get.
        .env("TASK_HOST", "checker.invalid")
        .env("HELLO_MESOS_CHECKER_ONLY", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the checker starts");
    let label = format!("={}", checker.id());
    let deadline = Instant::now() + Duration::from_secs(20);
    let running = loop {
        if let Some(name) = containers(&label).first() {
            break name.clone();
        }
        assert!(Instant::now() < deadline, "no container started");
        thread::sleep(Duration::from_millis(20));
    };
    // It may have ended already, its contract done: then the next one is inspected.
    let env = |what: &str, name: &str| {
        docker(&["inspect", "--format", "{{json .Config.Env}}", "--", name])
            .map(|json| serde_json::from_str::<Vec<String>>(&json).expect(what))
    };
    let image_env = env("the image's", image).expect("the image's environment");
    let deadline = Instant::now() + Duration::from_secs(20);
    let container_env = loop {
        let named = containers(&label);
        if let Some(Ok(env)) = named.first().map(|name| env("the container's", name)) {
            break env;
        }
        assert!(
            Instant::now() < deadline,
            "{running} ended, and no other ran"
        );
        thread::sleep(Duration::from_millis(20));
    };
    let added: Vec<&str> = container_env
        .iter()
        .filter(|variable| !image_env.contains(variable))
        .map(|variable| variable.split('=').next().unwrap_or_default())
        .collect();
    // At step 07, each contract gives TASK_HOST, PORT0 or both; the checker's own never go.
    assert!(
        !added.is_empty()
            && added
                .iter()
                .all(|name| ["TASK_HOST", "PORT0"].contains(name)),
        "not the contract's variables: {container_env:?}"
    );
    assert!(
        !container_env.iter().any(|v| v.contains("checker.invalid")),
        "{container_env:?}"
    );
    // Removing a container may take the engine a few seconds.
    let status = interrupt(&mut checker, Duration::from_secs(30));
    assert_eq!(status.code(), Some(130));
    assert_eq!(containers(&label), Vec::<String>::new(), "left behind");
}

/// Refused before Docker is asked anything: a name docker would read as an option.
#[test]
fn an_image_name_that_reads_as_an_option_is_refused() {
    for name in ["--image=--privileged", "--image=-v/:/host"] {
        let checked = check(&["07", name]);
        assert_eq!(checked.code, Some(2), "{name}: {checked:?}");
        assert!(
            checked
                .stderr
                .contains("is not an image name: it starts with `-`"),
            "{name}: {}",
            checked.stderr
        );
    }
}

/// Without a `docker` command: one line, exit 3, before any contract.
#[test]
fn without_docker_the_check_of_an_image_says_so() {
    let empty = tempfile::tempdir().expect("a temporary directory");
    let output = Command::new(env!("CARGO_BIN_EXE_check"))
        .args(["07", "--image", "hello-mesos"])
        .env("PATH", empty.path())
        .output()
        .expect("the checker runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.starts_with("--image needs Docker, and there is no docker command here"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(output.stdout.is_empty());
}
