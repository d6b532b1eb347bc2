//! `otpl-deploy --dry-run`: prints what it would send and sends nothing; and the workshop's
//! `config/pp-sf` (as the repository first has it: its template in test-support) passes.

use std::{fs, path::Path};

use serde_json::{Value, json};
use test_support::{
    misbehaving::{Misbehaving, Misbehaviour},
    singularity::{self, ConfigTree, command, dry_run_calls, fails, mentions},
    step_bin,
};

/// A server that records whatever it receives: a dry run must send it nothing.
fn recorder() -> Misbehaving {
    Misbehaving::start(Misbehaviour::Answer(500, "text/plain", "no".into()))
}

/// The request and the deploy request a dry run of `args` in `dir` prints.
fn dry_run(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> (Value, Value) {
    let mut all = vec!["--dry-run"];
    all.extend(args);
    let assert = command(step_bin!(), dir, env, &all).assert().code(0);
    let calls = dry_run_calls(&String::from_utf8_lossy(&assert.get_output().stdout));
    let urls: Vec<&str> = calls.iter().map(|(url, _)| url.as_str()).collect();
    let base = env
        .iter()
        .find(|(name, _)| *name == "SINGULARITY_URL")
        .map_or("$SINGULARITY_URL", |(_, url)| url);
    assert_eq!(
        urls,
        [
            format!("{base}/api/requests"),
            format!("{base}/api/deploys")
        ]
    );
    (calls[0].1.clone(), calls[1].1.clone())
}

/// What `otpl-deploy --dry-run pp-sf 42` in `tree` prints, stdout then stderr; it must exit 0.
fn dry_run_output(tree: &ConfigTree, env: &[(&str, &str)]) -> (String, String) {
    let assert = command(step_bin!(), tree.path(), env, &["--dry-run", "pp-sf", "42"])
        .assert()
        .code(0);
    let output = assert.get_output();
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn prints_both_bodies_and_sends_nothing() {
    let server = recorder();
    let tree = ConfigTree::workshop();
    let url = server.url();
    let (request, deploy_request) = dry_run(
        tree.path(),
        &[
            ("SINGULARITY_URL", &url),
            ("USER", "alice"),
            ("SINGULARITY_TOKEN", "s3cret-token"),
        ],
        &["pp-sf", "42"],
    );

    assert_eq!(
        request,
        serde_json::from_str::<Value>(&singularity::request()).unwrap()
    );
    assert_eq!(deploy_request["unpauseOnSuccessfulDeploy"], false);
    assert_eq!(deploy_request["message"], "otpl-deploy of tag 42 by alice");
    let deploy = &deploy_request["deploy"];
    assert_eq!(
        deploy["containerInfo"]["docker"]["image"],
        "alice/hello-mesos:42"
    );
    assert_eq!(deploy["env"]["OT_ENV"], "pp-sf");
    assert!(
        server.received().is_empty(),
        "sent: {:?}",
        server.received()
    );
}

#[test]
fn the_token_is_never_printed() {
    let tree = ConfigTree::workshop();
    let (stdout, stderr) = dry_run_output(&tree, &[("SINGULARITY_TOKEN", "s3cret-token")]);
    let printed = stdout + &stderr;
    assert!(!printed.contains("s3cret"), "{printed}");
    mentions(&printed, &["SINGULARITY_TOKEN is set"]);
}

#[test]
fn needs_no_singularity_url() {
    let tree = ConfigTree::workshop();
    let (_, deploy_request) = dry_run(tree.path(), &[], &["-d", "bob/other", "pp-sf", "7"]);
    assert_eq!(
        deploy_request["deploy"]["containerInfo"]["docker"]["image"],
        "bob/other:7"
    );
    assert_eq!(
        deploy_request["message"], "otpl-deploy of tag 7",
        "no USER, no user"
    );
}

#[test]
fn deploy_ids_are_valid_and_new_on_every_run() {
    let tree = ConfigTree::workshop();
    let tag = "1.2.3-rc.1-with-a-long-description-of-the-build";
    let id = || {
        let (_, deploy_request) = dry_run(tree.path(), &[], &["pp-sf", tag]);
        deploy_request["deploy"]["id"]
            .as_str()
            .expect("an id")
            .to_string()
    };
    let (first, second) = (id(), id());
    assert_ne!(first, second);
    for id in [first, second] {
        // The tag, `-` replaced, cut at 31 characters, then `_` and a unique part.
        assert!(id.starts_with("1.2.3_rc.1_with_a_long_descript_"), "{id}");
        assert!(id.len() < 50, "{id}");
        let valid = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.';
        assert!(id.chars().all(valid), "{id}");
    }
}

#[test]
fn a_healthcheck_object_replaces_healthcheck_uri() {
    let tree = ConfigTree::workshop();
    tree.edit("config/pp-sf/singularity.json", |deploy| {
        deploy["healthcheck"] = json!({ "uri": "/health", "portIndex": 0 });
    });
    let (_, deploy_request) = dry_run(tree.path(), &[], &["pp-sf", "42"]);
    let deploy = &deploy_request["deploy"];
    assert_eq!(
        deploy["healthcheck"],
        json!({ "uri": "/health", "portIndex": 0 })
    );
    assert_eq!(deploy.get("healthcheckUri"), None);
}

#[test]
fn the_workshops_settings_pass_with_placeholders_noted() {
    let tree = ConfigTree::template();
    let root = tree.path();
    let assert = command(step_bin!(), root, &[], &["--dry-run", "pp-sf", "42"])
        .assert()
        .code(0);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr);
    assert!(
        stderr.contains("note: docker-repo still holds the placeholder <username>"),
        "{stderr}"
    );

    let (request, deploy_request) = dry_run(root, &[], &["pp-sf", "42"]);
    let deploy = &deploy_request["deploy"];
    assert_eq!(request["id"], "hello-mesos-<username>");
    assert_eq!(deploy["requestId"], request["id"]);
    assert_eq!(
        deploy["containerInfo"]["docker"]["image"],
        "<username>/hello-mesos:42"
    );
    // Step 09 announces with these.
    assert_eq!(deploy["env"]["DISCOVERY_HOST"], "discovery-pp-sf.otenv.com");
    assert_eq!(deploy["env"]["SERVICE_TYPE"], "hello-mesos-<username>");
    assert_eq!(deploy["env"]["OT_ENV"], "pp-sf");
}

#[test]
fn the_workshops_settings_are_not_deployed_with_placeholders() {
    let tree = ConfigTree::template();
    let server = recorder();
    let url = server.url();
    let env = [("SINGULARITY_URL", url.as_str())];
    let line = fails(command(step_bin!(), tree.path(), &env, &["pp-sf", "42"]), 2);
    mentions(&line, &["still holds the placeholder <username>"]);
    assert!(server.received().is_empty(), "{:?}", server.received());
}

#[test]
fn the_dry_run_shown_in_the_docs_is_what_it_prints() {
    let page = "docs/08-deploy-config.md";
    let command_line = "$ cargo run -q -p otpl-deploy -- --dry-run pp-sf 7\n";
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let text = fs::read_to_string(root.join(page)).unwrap();
    let shown = text
        .split_once(command_line)
        .and_then(|(_, rest)| rest.split_once("```"))
        .map(|(output, _)| output)
        .unwrap_or_else(|| panic!("{page} shows no `{}`", command_line.trim()));
    // As on a learner's machine, where USER is set (the page's user is alice).
    let env = [("USER", "alice")];
    // The settings a learner starts from, whatever they have made of the committed ones.
    let tree = ConfigTree::template();
    let assert = command(step_bin!(), tree.path(), &env, &["--dry-run", "pp-sf", "7"])
        .assert()
        .code(0);
    let output = assert.get_output();
    let printed = String::from_utf8_lossy(&output.stderr) + String::from_utf8_lossy(&output.stdout);
    // The deploy id ends in a random suffix: compare everything but that.
    let id = |text: &str| -> String {
        let start = text.find("\"7_").map_or(text.len(), |at| at + 3);
        let end = text[start..]
            .find('"')
            .map_or(text.len(), |len| start + len);
        format!("{}{}", &text[..start], &text[end..])
    };
    assert_eq!(
        id(shown),
        id(&printed),
        "{page} no longer shows what `otpl-deploy --dry-run pp-sf 7` prints: paste its output there"
    );
}

#[test]
fn credentials_in_the_url_are_never_printed() {
    let tree = ConfigTree::workshop();
    let env = [(
        "SINGULARITY_URL",
        "https://alice:s3cret@singularity.example.com/singularity",
    )];
    let (stdout, stderr) = dry_run_output(&tree, &env);
    let urls: Vec<String> = dry_run_calls(&stdout)
        .into_iter()
        .map(|(url, _)| url)
        .collect();
    assert_eq!(
        urls,
        [
            "https://***@singularity.example.com/singularity/api/requests",
            "https://***@singularity.example.com/singularity/api/deploys"
        ]
    );
    assert!(
        !stdout.contains("s3cret") && stderr.is_empty(),
        "{stdout}{stderr}"
    );
}

#[test]
fn a_secret_sent_over_plain_http_to_another_machine_is_warned_about() {
    let tree = ConfigTree::workshop();
    // What a dry run prints on stderr for this URL, with or without a token.
    let stderr = |url: &str, token: bool| {
        let mut env = vec![("SINGULARITY_URL", url)];
        if token {
            env.push(("SINGULARITY_TOKEN", "s3cret-token"));
        }
        let (_, stderr) = dry_run_output(&tree, &env);
        assert!(!stderr.contains("s3cret"), "{stderr}");
        stderr
            .lines()
            .filter(|line| line.starts_with("warning:"))
            .map(String::from)
            .collect::<Vec<_>>()
    };
    let remote = "http://singularity.example.com/singularity";
    let warned = stderr(remote, true);
    assert_eq!(warned.len(), 1, "{warned:?}");
    mentions(
        &warned[0],
        &["SINGULARITY_TOKEN", "singularity.example.com", "https://"],
    );
    let warned = stderr("http://alice:s3cret@singularity.example.com", false);
    mentions(&warned.concat(), &["credentials in SINGULARITY_URL"]);
    // Nothing secret to send, https, or this machine: nothing to warn about.
    assert_eq!(stderr(remote, false), Vec::<String>::new());
    for url in [
        "https://singularity.example.com/singularity",
        "http://localhost:7099/singularity",
        "http://127.0.0.1:7099/singularity",
    ] {
        assert_eq!(stderr(url, true), Vec::<String>::new(), "{url}");
    }
}
