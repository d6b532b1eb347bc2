//! `otpl-deploy` with settings it must refuse: exit code 2, one line naming the file and the
//! problem, and nothing sent to Singularity.

use platform::runtime::simulated::LocalSingularity;
use serde_json::json;
use test_support::{
    misbehaving::{Misbehaving, Misbehaviour},
    singularity::{ConfigTree, command, fails, mentions},
    step_bin,
};

/// Runs a deploy of `args` in `tree` that must be refused, and returns the message.
fn refused(tree: &ConfigTree, args: &[&str]) -> String {
    // A server that records whatever it receives: it must receive nothing.
    let server = Misbehaving::start(Misbehaviour::Answer(500, "text/plain", "no".into()));
    let url = server.url();
    let line = fails(
        command(step_bin!(), tree.path(), &[("SINGULARITY_URL", &url)], args),
        2,
    );
    assert!(server.received().is_empty(), "{:?}", server.received());
    line
}

const DEPLOY_FILE: &str = "config/pp-sf/singularity.json";
const REQUEST_FILE: &str = "config/pp-sf/singularity-request.json";

#[test]
fn a_missing_file_is_named() {
    for file in [REQUEST_FILE, DEPLOY_FILE] {
        let tree = ConfigTree::workshop();
        tree.remove(file);
        let line = refused(&tree, &["pp-sf", "42"]);
        assert!(line.starts_with(&format!("{file}: No such file")), "{line}");
        assert!(
            line.ends_with("(run otpl-deploy from the repository root)"),
            "{line}"
        );
    }
}

#[test]
fn an_unknown_environment_names_the_file_it_looked_for() {
    let line = refused(&ConfigTree::workshop(), &["qa-sf", "42"]);
    assert!(
        line.starts_with("config/qa-sf/singularity-request.json: "),
        "{line}"
    );
}

#[test]
fn bad_json_is_named_with_line_and_column() {
    let tree = ConfigTree::workshop();
    tree.write(
        DEPLOY_FILE,
        "{\n  \"requestId\": \"hello-mesos-alice\"\n  \"resources\": {}\n}\n",
    );
    let line = refused(&tree, &["pp-sf", "42"]);
    assert!(line.starts_with(DEPLOY_FILE), "{line}");
    assert!(line.contains("at line 3 column 3"), "{line}");
}

#[test]
fn json_that_is_not_an_object_is_refused() {
    let tree = ConfigTree::workshop();
    tree.write(REQUEST_FILE, "[]");
    let line = refused(&tree, &["pp-sf", "42"]);
    assert_eq!(
        line,
        format!("{REQUEST_FILE}: expected a JSON object, found []")
    );
}

#[test]
fn request_id_must_match_the_request() {
    let tree = ConfigTree::workshop();
    tree.edit(DEPLOY_FILE, |deploy| {
        deploy["requestId"] = json!("hello-mesos-bob")
    });
    let line = refused(&tree, &["pp-sf", "42"]);
    assert!(line.starts_with(DEPLOY_FILE), "{line}");
    assert!(line.contains("\"hello-mesos-bob\""), "{line}");
    assert!(line.contains("\"hello-mesos-alice\""), "{line}");

    tree.edit(DEPLOY_FILE, |deploy| {
        deploy.as_object_mut().unwrap().remove("requestId");
    });
    let line = refused(&tree, &["pp-sf", "42"]);
    assert!(line.contains("\"requestId\" missing"), "{line}");
}

#[test]
fn the_request_needs_an_id() {
    let tree = ConfigTree::workshop();
    tree.edit(REQUEST_FILE, |request| request["id"] = json!(""));
    let line = refused(&tree, &["pp-sf", "42"]);
    assert!(
        line.starts_with(&format!("{REQUEST_FILE}: \"id\"")),
        "{line}"
    );
}

#[test]
fn at_least_one_port_is_needed() {
    for ports in [json!(0), json!(null), json!("1")] {
        let tree = ConfigTree::workshop();
        tree.edit(DEPLOY_FILE, |deploy| {
            deploy["resources"]["numPorts"] = ports.clone()
        });
        let line = refused(&tree, &["pp-sf", "42"]);
        mentions(
            &line,
            &[DEPLOY_FILE, "\"resources.numPorts\" must be at least 1"],
        );
    }
}

#[test]
fn env_must_be_an_object() {
    let tree = ConfigTree::workshop();
    tree.edit(DEPLOY_FILE, |deploy| {
        deploy["env"] = json!(["OT_ENV=pp-sf"])
    });
    mentions(
        &refused(&tree, &["pp-sf", "42"]),
        &["\"env\" must be an object"],
    );
}

#[test]
fn a_placeholder_left_is_named_with_its_file_and_field() {
    let tree = ConfigTree::workshop();
    tree.edit(REQUEST_FILE, |request| {
        request["owners"][0] = json!("<username>@example.com")
    });
    assert_eq!(
        refused(&tree, &["pp-sf", "42"]),
        format!(
            "{REQUEST_FILE}: \"owners[0]\" still holds the placeholder <username>: replace it with your own value"
        )
    );

    let tree = ConfigTree::workshop();
    tree.edit(DEPLOY_FILE, |deploy| {
        deploy["env"]["SERVICE_TYPE"] = json!("hello-<user_name>")
    });
    let line = refused(&tree, &["pp-sf", "42"]);
    mentions(
        &line,
        &[&format!(
            "{DEPLOY_FILE}: \"env.SERVICE_TYPE\" still holds the placeholder <user_name>"
        )],
    );

    let tree = ConfigTree::workshop();
    tree.write("docker-repo", "<username>/hello-mesos\n");
    let line = refused(&tree, &["pp-sf", "42"]);
    mentions(
        &line,
        &["docker-repo still holds the placeholder <username>"],
    );
}

#[test]
fn angle_brackets_that_are_no_placeholder_are_fine() {
    let tree = ConfigTree::workshop();
    tree.edit(DEPLOY_FILE, |deploy| {
        deploy["env"]["NOTE"] = json!("a < b > c, <>")
    });
    let singularity = LocalSingularity::start(LocalSingularity::quick());
    let url = singularity.url();
    let env = [("SINGULARITY_URL", url.as_str())];
    command(
        step_bin!(),
        tree.path(),
        &env,
        &["--poll", "0.05", "pp-sf", "42"],
    )
    .assert()
    .code(0);
}

#[test]
fn docker_repo_is_required_unless_given() {
    let tree = ConfigTree::workshop();
    tree.remove("docker-repo");
    let line = refused(&tree, &["pp-sf", "42"]);
    assert!(line.starts_with("docker-repo: No such file"), "{line}");
    assert!(line.contains("-d REPO"), "{line}");

    tree.write("docker-repo", "\n");
    let line = refused(&tree, &["pp-sf", "42"]);
    assert!(
        line.starts_with("docker-repo: expected one image repository"),
        "{line}"
    );
}

#[test]
fn the_tag_must_be_a_docker_tag() {
    for tag in ["has space", "-x", "a/b", ""] {
        let line = refused(&ConfigTree::workshop(), &["pp-sf", "--", tag]);
        assert!(
            line.starts_with("TAG is not a Docker tag"),
            "{tag:?}: {line}"
        );
    }
}

#[test]
fn the_registry_is_a_host_not_a_url() {
    let line = refused(
        &ConfigTree::workshop(),
        &["--registry", "https://docker.example.com", "pp-sf", "42"],
    );
    assert!(line.starts_with("--registry takes a host"), "{line}");
}

#[test]
fn poll_and_timeout_are_positive_seconds() {
    for arg in ["--poll=0", "--timeout=-1", "--poll=soon"] {
        let tree = ConfigTree::workshop();
        let assert = command(
            step_bin!(),
            tree.path(),
            &[],
            &[arg, "--dry-run", "pp-sf", "42"],
        )
        .assert()
        .code(2);
        let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
        mentions(&stderr, &["not a positive number of seconds"]);
    }
}

#[test]
fn a_request_id_singularity_would_refuse_is_a_config_error() {
    for id in ["alice.smith", "hello mesos", &"a".repeat(101)] {
        let tree = ConfigTree::workshop();
        tree.edit(REQUEST_FILE, |request| request["id"] = json!(id));
        tree.edit(DEPLOY_FILE, |deploy| deploy["requestId"] = json!(id));
        let line = refused(&tree, &["pp-sf", "42"]);
        assert_eq!(
            line,
            format!(
                "{REQUEST_FILE}: \"id\" {id:?} is not a request id Singularity accepts: \
                 letters, digits, _ and - only, at most 100 characters"
            )
        );
    }
}
