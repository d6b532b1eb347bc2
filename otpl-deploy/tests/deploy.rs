//! `otpl-deploy` against Singularity's own model (the practice platform's, with simulated
//! tasks chosen by the image's tag): what it posts, how it follows the deploy through the
//! request's live state to the history's result, and what each ending prints and exits with.

use assert_cmd::Command;
use platform::runtime::simulated::LocalSingularity;
use serde_json::{Value, json};
use test_support::{
    singularity::{self, ConfigTree, command, fails, fails_saying, mentions},
    step_bin,
};

/// `otpl-deploy --poll 0.05 [extra] pp-sf TAG` in `tree`, against Singularity at `url`.
fn deploy(url: &str, tree: &ConfigTree, extra: &[&str], tag: &str) -> Command {
    let mut args = vec!["--poll", "0.05"];
    args.extend(extra);
    args.extend(["pp-sf", tag]);
    command(
        step_bin!(),
        tree.path(),
        &[("SINGULARITY_URL", url), ("USER", "alice")],
        &args,
    )
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The id of the deploy the tool started, from its "Started deploy …" line.
fn started_deploy(out: &str) -> String {
    out.lines()
        .find_map(|line| line.strip_prefix("Started deploy "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no deploy started: {out}"))
        .to_string()
}

/// A client for calls to the model on this machine: no proxy.
fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .no_proxy()
        .build()
        .expect("a client")
}

/// `GET {base}{path}`, as JSON.
fn get(singularity: &LocalSingularity, path: &str) -> Value {
    let url = format!("{}{path}", singularity.url());
    let body = client()
        .get(&url)
        .send()
        .and_then(|r| r.text())
        .unwrap_or_else(|err| panic!("GET {url}: {err}"));
    serde_json::from_str(&body).unwrap_or_else(|err| panic!("{err}: {body}"))
}

/// The model's stored request and the history of `deploy_id`.
fn stored(singularity: &LocalSingularity, deploy_id: &str) -> (Value, Value) {
    (
        get(singularity, "/api/requests/request/hello-mesos-alice"),
        get(
            singularity,
            &format!("/api/history/request/hello-mesos-alice/deploy/{deploy_id}"),
        ),
    )
}

/// Deploys `tag` with the workshop's settings; the run must fail (exit 1): what it printed
/// on stderr.
fn failed_deploy(singularity: &LocalSingularity, tag: &str) -> String {
    let tree = ConfigTree::workshop();
    fails_saying(deploy(&singularity.url(), &tree, &[], tag), 1)
}

/// `POST {base}{path}` with a JSON `body`, as an operator of the Singularity would.
fn post(singularity: &LocalSingularity, path: &str, body: &str) {
    let url = format!("{}{path}", singularity.url());
    let answer = client()
        .post(&url)
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .unwrap_or_else(|err| panic!("POST {url}: {err}"));
    assert!(answer.status().is_success(), "POST {url}: {answer:?}");
}

#[test]
fn saves_the_request_then_deploys_and_follows_it_to_success() {
    let singularity = LocalSingularity::start(LocalSingularity::quick());
    let tree = ConfigTree::workshop();
    let assert = deploy(
        &singularity.url(),
        &tree,
        &["--registry", "docker.example.com"],
        "42",
    )
    .assert()
    .code(0);
    let out = stdout(assert.get_output());
    let id = started_deploy(&out);

    // The request as it is in the file; the deploy with the user's fields, plus what
    // Singularity needs.
    let (parent, history) = stored(&singularity, &id);
    // As Singularity writes a request back (`SingularityRequest`): `requestType` derived from
    // `daemon`, which it reads but does not write.
    let mut request: Value = serde_json::from_str(&singularity::request()).unwrap();
    request["requestType"] = json!("WORKER");
    request.as_object_mut().unwrap().remove("daemon");
    assert_eq!(parent["request"], request);
    assert_eq!(parent["activeDeploy"]["id"], id);
    let mut expected: Value = serde_json::from_str(&singularity::deploy()).unwrap();
    expected["id"] = json!(id);
    expected["containerInfo"] = json!({
        "type": "DOCKER",
        "docker": { "image": "docker.example.com/alice/hello-mesos:42", "network": "HOST",
            // What `SingularityDockerInfo`'s constructor fills in.
            "privileged": false, "portMappings": [], "forcePullImage": false,
            "dockerParameters": [] },
    });
    // What `SingularityDeploy`'s constructor fills in.
    expected["canaryDeploySettings"] = json!({
        "enableCanaryDeploy": false, "instanceGroupSize": 1, "acceptanceMode": "NONE",
        "waitMillisBetweenGroups": 0, "allowedTasksFailuresPerGroup": 0, "canaryCycleCount": 3,
    });
    expected["s3UploaderAdditionalFiles"] = json!([]);
    expected["healthcheckUri"] = json!("/health");
    // Singularity converts the deprecated field.
    expected["healthcheck"] = json!({ "uri": "/health" });
    expected["env"]["OT_ENV"] = json!("pp-sf");
    // Jackson writes `Resources` back whole, its doubles as doubles.
    expected["resources"] = json!({ "cpus": 0.1, "memoryMb": 64.0, "numPorts": 1, "diskMb": 0.0 });
    assert_eq!(history["deploy"], expected);
    assert_eq!(
        history["deployMarker"]["message"],
        "otpl-deploy of tag 42 by alice"
    );
    assert_eq!(history["deployResult"]["deployState"], "SUCCEEDED");

    // Two instances ran, each with the deploy's environment.
    let started = singularity.simulated().started();
    assert_eq!(started.len(), 2);
    assert!(started[0].env.contains(&("OT_ENV".into(), "pp-sf".into())));

    // The live state while it waited, then its end; each change once.
    let states: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("Deploy {id}: ")))
        .collect();
    assert_eq!(states.last(), Some(&"SUCCEEDED"), "{out}");
    for state in &states[..states.len() - 1] {
        assert!(state.starts_with("WAITING ("), "{out}");
    }
    let mut unique = states.clone();
    unique.dedup();
    assert_eq!(unique, states, "{out}");
    assert!(
        out.ends_with("Deployed docker.example.com/alice/hello-mesos:42 to hello-mesos-alice\n"),
        "{out}"
    );
}

#[test]
fn never_replaces_a_field_the_user_set() {
    let singularity = LocalSingularity::start(LocalSingularity::quick());
    let tree = ConfigTree::workshop();
    tree.edit("config/pp-sf/singularity.json", |deploy| {
        deploy["id"] = json!("mine.1");
        deploy["containerInfo"] =
            json!({ "type": "DOCKER", "docker": { "image": "other/app:7", "forcePullImage": true } });
        deploy["env"]["OT_ENV"] = json!("custom");
        deploy["healthcheckUri"] = json!("/ready");
    });
    // The simulated app answers /health only: a check of /ready fails, as it should.
    let stderr = fails_saying(deploy(&singularity.url(), &tree, &[], "42"), 1);
    mentions(
        &stderr,
        &["Deploy mine.1 of hello-mesos-alice ended FAILED"],
    );

    let (_, history) = stored(&singularity, "mine.1");
    let posted = &history["deploy"];
    assert_eq!(posted["id"], "mine.1");
    // Fields missing from the user's objects are still added.
    assert_eq!(
        posted["containerInfo"],
        json!({ "type": "DOCKER",
                "docker": { "image": "other/app:7", "forcePullImage": true, "network": "HOST",
                            "privileged": false, "portMappings": [], "dockerParameters": [] } })
    );
    assert_eq!(posted["env"]["OT_ENV"], "custom");
    assert_eq!(posted["env"]["SERVICE_TYPE"], "hello-mesos-alice");
    assert_eq!(posted["healthcheckUri"], "/ready");
}

#[test]
fn never_healthy_prints_each_tasks_failure_and_the_health_hint() {
    let singularity = LocalSingularity::start(LocalSingularity::quick());
    let stderr = failed_deploy(&singularity, "no-health");
    let lines: Vec<&str> = stderr.lines().collect();
    mentions(
        lines[0],
        &["of hello-mesos-alice ended FAILED: Not all tasks for deploy were healthy"],
    );
    // Singularity lists the tasks past their health-check time when it fails the deploy: both
    // here, or on a busy machine only the one that got there first. Each is printed.
    let deploys = get(
        &singularity,
        "/api/history/request/hello-mesos-alice/deploys",
    );
    let failures = deploys[0]["deployResult"]["deployFailures"]
        .as_array()
        .expect("the deploy's failures")
        .clone();
    assert!(!failures.is_empty(), "{deploys}");
    assert_eq!(lines.len(), failures.len() + 2, "{stderr}");
    for (line, failure) in lines[1..].iter().zip(&failures) {
        let message = failure["message"].as_str().expect("a message");
        mentions(
            line,
            &[
                "  TASK_FAILED_HEALTH_CHECKS hello-mesos-alice-no_health_",
                &format!(": {message}"),
                " has been running for 00:0",
                " and has yet to pass healthchecks. Last check returned with status code 404",
            ],
        );
    }
    mentions(
        lines.last().unwrap(),
        &["Likely cause", "GET /health", "PORT0", "2xx"],
    );
}

#[test]
fn overdue_names_the_health_check_as_the_likely_cause() {
    // Tasks that take 2 s to start (a slow pull) and a deploy allowed 0 + 0.1 + 0.05 + 0.1 s
    // (deploy timeout, start-up, interval, check timeout): OVERDUE, none of them running.
    let singularity = LocalSingularity::start(platform::singularity::Settings {
        startup_timeout: std::time::Duration::from_millis(100),
        check_timeout: std::time::Duration::from_millis(100),
        deploy_timeout: std::time::Duration::ZERO,
        ..LocalSingularity::quick()
    });
    let stderr = failed_deploy(&singularity, "slow");
    let lines: Vec<&str> = stderr.lines().collect();
    mentions(
        lines[0],
        &[
            "ended OVERDUE: Deploy was able to launch 2 tasks, but not all of them became healthy within 00:00.250",
        ],
    );
    mentions(lines.last().unwrap(), &["Likely cause", "GET /health"]);
}

#[test]
fn a_task_that_exits_is_reported_with_its_status_and_no_health_hint() {
    let singularity = LocalSingularity::start(LocalSingularity::quick());
    let stderr = failed_deploy(&singularity, "exit-3");
    let lines: Vec<&str> = stderr.lines().collect();
    mentions(
        lines[0],
        &["ended FAILED: At least 0 task(s) for this instance group failed"],
    );
    mentions(
        lines[1],
        &[
            "  TASK_FAILED_ON_STARTUP hello-mesos-alice-exit_3_",
            ": Container exited with status 3",
            "simulated failure: exit status 3",
        ],
    );
    assert!(
        !stderr.contains("/health"),
        "not the health check: {stderr}"
    );
}

#[test]
fn a_failed_deploy_leaves_the_previous_one_serving() {
    let singularity = LocalSingularity::start(LocalSingularity::quick());
    let tree = ConfigTree::workshop();
    deploy(&singularity.url(), &tree, &[], "7").assert().code(0);
    let serving = singularity.simulated().running();
    assert_eq!(serving.len(), 2);
    fails_saying(deploy(&singularity.url(), &tree, &[], "no-health"), 1);
    assert_eq!(singularity.simulated().running(), serving);
}

#[test]
fn a_conflict_prints_singularitys_own_message_only() {
    let singularity = LocalSingularity::start(platform::singularity::Settings {
        startup_timeout: std::time::Duration::from_secs(30),
        deploy_timeout: std::time::Duration::from_secs(30),
        ..LocalSingularity::quick()
    });
    let tree = ConfigTree::workshop();
    // A deploy whose tasks never answer stays pending.
    let mut first = deploy(&singularity.url(), &tree, &["--timeout", "0.5"], "hang");
    first.assert().code(1);
    let line = fails(deploy(&singularity.url(), &tree, &[], "7"), 1);
    mentions(
        &line,
        &[
            "/api/deploys answered 409 Conflict: Pending deploy already in progress for \
             hello-mesos-alice - cancel it or wait for it to complete (SingularityPendingDeploy{",
        ],
    );
    assert!(!line.contains("let it finish"), "no guessed cause: {line}");
}

#[test]
fn a_paused_request_is_a_conflict_with_its_message() {
    let singularity = LocalSingularity::start(LocalSingularity::quick());
    let tree = ConfigTree::workshop();
    deploy(&singularity.url(), &tree, &[], "7").assert().code(0);
    post(
        &singularity,
        "/api/requests/request/hello-mesos-alice/pause",
        "{}",
    );
    let line = fails(deploy(&singularity.url(), &tree, &[], "8"), 1);
    mentions(
        &line,
        &[
            "answered 409 Conflict: Request hello-mesos-alice is paused. Unable to deploy (it must be manually unpaused first)",
        ],
    );
}

#[test]
fn disabled_deploys_are_a_conflict_with_their_message() {
    let singularity = LocalSingularity::start(LocalSingularity::quick());
    post(
        &singularity,
        "/api/disasters/disabled-actions/DEPLOY",
        r#"{"message": "frozen for the release"}"#,
    );
    let tree = ConfigTree::workshop();
    let line = fails(deploy(&singularity.url(), &tree, &[], "7"), 1);
    mentions(
        &line,
        &[
            "/api/deploys answered 409 Conflict: Cannot perform action DEPLOY: frozen for the release",
        ],
    );
}

#[test]
fn a_refused_request_prints_the_plain_text_message() {
    let singularity = LocalSingularity::start(LocalSingularity::quick());
    let tree = ConfigTree::workshop();
    tree.edit("config/pp-sf/singularity-request.json", |request| {
        request["instances"] = json!(0)
    });
    let line = fails(deploy(&singularity.url(), &tree, &[], "7"), 1);
    assert_eq!(
        line,
        format!(
            "POST {}/api/requests answered 400 Bad Request: Instances must be greater than 0",
            singularity.url()
        )
    );
}

#[test]
fn a_deploy_that_never_ends_stops_at_the_timeout() {
    let singularity = LocalSingularity::start(LocalSingularity::quick());
    let tree = ConfigTree::workshop();
    let run = deploy(&singularity.url(), &tree, &["--timeout", "0.5"], "hang");
    mentions(
        &fails(run, 1),
        &[
            "of hello-mesos-alice still WAITING (0 of 2 instances active) when the time ran out",
            "--timeout",
        ],
    );
}

#[test]
fn an_unreachable_singularity_is_one_line_with_the_url() {
    let (_reserved, url) = singularity::unreachable_url();
    let line = fails(deploy(&url, &ConfigTree::workshop(), &[], "7"), 1);
    mentions(&line, &[&format!("POST {url}/api/requests: "), "refused"]);
}

#[test]
fn ignores_proxies_set_in_the_environment() {
    let singularity = LocalSingularity::start(LocalSingularity::quick());
    let tree = ConfigTree::workshop();
    let (_reserved, proxy) = singularity::unreachable_url();
    let mut run = deploy(&singularity.url(), &tree, &[], "7");
    for name in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "all_proxy",
    ] {
        run.env(name, &proxy);
    }
    run.assert().code(0);
}

#[test]
fn singularity_url_is_required() {
    let tree = ConfigTree::workshop();
    let line = fails(command(step_bin!(), tree.path(), &[], &["pp-sf", "42"]), 2);
    assert!(line.starts_with("SINGULARITY_URL not set"), "{line}");
}

#[test]
fn singularity_url_must_be_http_or_https() {
    for url in ["ftp://singularity.example.com", "singularity.example.com"] {
        let line = fails(deploy(url, &ConfigTree::workshop(), &[], "7"), 2);
        mentions(
            &line,
            &["SINGULARITY_URL is not an https:// or http:// URL"],
        );
    }
}

#[test]
fn https_is_spoken() {
    // Plain HTTP behind an https:// URL: the TLS handshake is tried, and fails, on one line.
    let singularity = LocalSingularity::start(LocalSingularity::quick());
    let url = singularity.url().replace("http://", "https://");
    let line = fails(deploy(&url, &ConfigTree::workshop(), &[], "7"), 1);
    mentions(&line, &[&format!("POST {url}/api/requests: ")]);
    assert!(
        singularity.view().requests.is_empty(),
        "nothing was saved in plain HTTP"
    );
}

#[test]
fn shows_the_end_within_about_a_second_of_singularity_recording_it() {
    // The default pace (no `--poll`), against a deploy whose task takes 2 s to start
    // (a `slow…` image): the time from the history's recorded end to the tool's exit.
    let singularity = LocalSingularity::start(LocalSingularity::quick());
    let tree = ConfigTree::workshop();
    let env = [
        ("SINGULARITY_URL", singularity.url()),
        ("USER", "alice".into()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let assert = command(step_bin!(), tree.path(), &env, &["pp-sf", "slow"])
        .assert()
        .code(0);
    let exited = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let id = started_deploy(&stdout(assert.get_output()));
    let (_, history) = stored(&singularity, &id);
    let recorded = history["deployResult"]["timestamp"].as_i64().unwrap();
    let delay = exited - recorded;
    assert!(
        (0..1_300).contains(&delay),
        "seen {delay} ms after it ended"
    );
}
