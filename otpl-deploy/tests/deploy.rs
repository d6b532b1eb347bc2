//! `otpl-deploy` against a stand-in for Singularity: what it posts, how it follows the
//! deploy to its end, and what each ending means (exit code and message).

use assert_cmd::Command;
use serde_json::{Value, json};
use test_support::{
    singularity::{
        self, CONFLICT_MESSAGE, ConfigTree, Poll, Script, Singularity, command, fails, mentions,
        unreachable_url,
    },
    step_bin,
};

/// `otpl-deploy --poll 0.05 [extra] pp-sf 42` in `tree`, against Singularity at `url`.
fn deploy(url: &str, tree: &ConfigTree, extra: &[&str]) -> Command {
    let mut args = vec!["--poll", "0.05"];
    args.extend(extra);
    args.extend(["pp-sf", "42"]);
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

#[test]
fn posts_the_request_then_the_deploy_and_follows_it_to_success() {
    let singularity = Singularity::start(Script::ends("SUCCEEDED", "Deploy succeeded"));
    let tree = ConfigTree::workshop();
    let assert = deploy(
        &singularity.url(),
        &tree,
        &["--registry", "docker.example.com"],
    )
    .assert()
    .code(0);
    let out = stdout(assert.get_output());

    // The request goes as it is in the file.
    let request: Value = serde_json::from_str(&singularity::request()).unwrap();
    assert_eq!(singularity.posted("/api/requests"), vec![request]);

    // The deploy: the user's fields, plus what Singularity needs.
    let posted = singularity.posted("/api/deploys");
    assert_eq!(posted.len(), 1, "one deploy posted");
    let id = posted[0]["deploy"]["id"]
        .as_str()
        .expect("a deploy id")
        .to_string();
    let mut expected: Value = serde_json::from_str(&singularity::deploy()).unwrap();
    expected["id"] = json!(id);
    expected["containerInfo"] = json!({
        "type": "DOCKER",
        "docker": { "image": "docker.example.com/alice/hello-mesos:42", "network": "HOST" },
    });
    expected["healthcheckUri"] = json!("/health");
    expected["env"]["OT_ENV"] = json!("pp-sf");
    assert_eq!(
        posted[0],
        json!({ "deploy": expected, "unpauseOnSuccessfulDeploy": false, "user": "alice" })
    );

    // In that order, then polls of this deploy's history until it ends, and no more.
    let calls: Vec<String> = singularity
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    let poll = format!("GET /singularity/api/history/request/hello-mesos-alice/deploy/{id}");
    let mut expected_calls = vec![
        "POST /singularity/api/requests".to_string(),
        "POST /singularity/api/deploys".to_string(),
    ];
    expected_calls.extend(vec![poll; 4]);
    assert_eq!(calls, expected_calls);

    // Each change of state once: 404 and "no result yet" are both pending.
    let states: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("Deploy {id}: ")))
        .collect();
    assert_eq!(states, ["pending", "WAITING", "SUCCEEDED"], "{out}");
    assert!(
        out.contains("Deployed docker.example.com/alice/hello-mesos:42 to hello-mesos-alice"),
        "{out}"
    );
}

#[test]
fn never_replaces_a_field_the_user_set() {
    let singularity = Singularity::start(Script::ends("SUCCEEDED", ""));
    let tree = ConfigTree::workshop();
    tree.edit("config/pp-sf/singularity.json", |deploy| {
        deploy["id"] = json!("mine.1");
        deploy["containerInfo"] =
            json!({ "type": "DOCKER", "docker": { "image": "other/app:7", "forcePullImage": true } });
        deploy["env"]["OT_ENV"] = json!("custom");
        deploy["healthcheckUri"] = json!("/ready");
    });
    deploy(&singularity.url(), &tree, &[]).assert().code(0);

    let posted = &singularity.posted("/api/deploys")[0]["deploy"];
    assert_eq!(posted["id"], "mine.1");
    // Fields missing from the user's objects are still added.
    assert_eq!(
        posted["containerInfo"],
        json!({ "type": "DOCKER",
                "docker": { "image": "other/app:7", "forcePullImage": true, "network": "HOST" } })
    );
    assert_eq!(posted["env"]["OT_ENV"], "custom");
    assert_eq!(posted["env"]["SERVICE_TYPE"], "hello-mesos-alice");
    assert_eq!(posted["healthcheckUri"], "/ready");
    assert_eq!(singularity.polls().len(), 4, "followed deploy mine.1");
}

#[test]
fn overdue_names_the_health_check_as_the_likely_cause() {
    let message = "Task(s) hello-mesos-alice-1 became running but not all of them became healthy";
    let singularity = Singularity::start(Script::ends("OVERDUE", message));
    let line = fails(deploy(&singularity.url(), &ConfigTree::workshop(), &[]), 1);
    mentions(
        &line,
        &[
            "hello-mesos-alice ended OVERDUE",
            message,
            "GET /health",
            "PORT0",
        ],
    );
    assert_eq!(singularity.polls().len(), 4, "stops polling once it ends");
}

#[test]
fn failed_and_canceled_deploys_exit_1_with_singularitys_message() {
    for state in ["FAILED", "CANCELED", "FAILED_INTERNAL_STATE"] {
        let singularity = Singularity::start(Script::ends(state, "Task failed: exit code 3"));
        let line = fails(deploy(&singularity.url(), &ConfigTree::workshop(), &[]), 1);
        mentions(
            &line,
            &[&format!("ended {state}: Task failed: exit code 3")],
        );
        assert!(
            !line.contains("/health"),
            "the health check is not the cause: {line}"
        );
        assert_eq!(
            singularity.polls().len(),
            4,
            "{state}: stops polling once it ends"
        );
    }
}

#[test]
fn a_deploy_in_progress_is_reported_and_not_followed() {
    let singularity = Singularity::start(Script::Conflict);
    let line = fails(deploy(&singularity.url(), &ConfigTree::workshop(), &[]), 1);
    mentions(
        &line,
        &[
            "already in progress for request hello-mesos-alice",
            CONFLICT_MESSAGE,
        ],
    );
    assert_eq!(singularity.polls(), Vec::<String>::new());
}

#[test]
fn an_error_status_is_one_line_with_the_url_and_status() {
    let singularity = Singularity::start(Script::Broken);
    let line = fails(deploy(&singularity.url(), &ConfigTree::workshop(), &[]), 1);
    let call = format!("POST {}/api/requests answered ", singularity.url());
    mentions(
        &line,
        &[&call, "500 Internal Server Error: Server Error: boom"],
    );
    assert_eq!(singularity.posted("/api/deploys"), Vec::<Value>::new());
}

#[test]
fn an_unreachable_singularity_is_one_line_with_the_url() {
    let url = unreachable_url();
    let line = fails(deploy(&url, &ConfigTree::workshop(), &[]), 1);
    mentions(&line, &[&format!("POST {url}/api/requests: "), "refused"]);
}

#[test]
fn a_call_without_answer_ends_at_the_timeout() {
    let singularity = Singularity::start(Script::Stalled);
    let tree = ConfigTree::workshop();
    let run = deploy(&singularity.url(), &tree, &["--timeout", "1"]);
    // Within 5 s (`fails`): the call's own limit is 10 s, the deadline cuts it short.
    mentions(&fails(run, 1), &["/api/requests: no answer within 1.0 s"]);
}

#[test]
fn a_deploy_that_never_ends_stops_at_the_timeout() {
    let singularity = Singularity::start(Script::Deploy(vec![Poll::NotYet, Poll::Pending]));
    let tree = ConfigTree::workshop();
    let run = deploy(&singularity.url(), &tree, &["--timeout", "0.5"]);
    mentions(
        &fails(run, 1),
        &["of hello-mesos-alice still pending", "--timeout"],
    );
    let polls = singularity.polls();
    assert!(polls.len() >= 5, "polled every 0.05 s: {polls:?}");
}

#[test]
fn ignores_proxies_set_in_the_environment() {
    let singularity = Singularity::start(Script::ends("SUCCEEDED", ""));
    let tree = ConfigTree::workshop();
    let proxy = unreachable_url();
    let mut run = deploy(&singularity.url(), &tree, &[]);
    for name in ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"] {
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
fn singularity_url_must_be_http() {
    for url in [
        "https://singularity.example.com/singularity",
        "singularity.example.com",
    ] {
        let line = fails(deploy(url, &ConfigTree::workshop(), &[]), 2);
        mentions(&line, &["SINGULARITY_URL is not an http:// URL"]);
    }
}
