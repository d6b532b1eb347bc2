//! `otpl-deploy` against servers that are not Singularity, or not behaving: it follows no
//! redirect, takes nothing but the API's JSON for an answer, reads a bounded amount, gives up
//! at its deadline, and sends its token without ever printing it. One line, exit 1, each time.

use assert_cmd::Command;
use test_support::{
    misbehaving::{Misbehaving, Misbehaviour},
    singularity::{ConfigTree, command, fails, mentions},
    step_bin,
};

/// `otpl-deploy --poll 0.05 [extra] pp-sf 7` against `server`, as the API's base URL.
fn deploy(server: &Misbehaving, tree: &ConfigTree, extra: &[&str]) -> Command {
    let mut args = vec!["--poll", "0.05"];
    args.extend(extra);
    args.extend(["pp-sf", "7"]);
    let url = format!("{}/singularity", server.url());
    command(
        step_bin!(),
        tree.path(),
        &[
            ("SINGULARITY_URL", &url),
            ("SINGULARITY_TOKEN", "s3cret-token"),
        ],
        &args,
    )
}

/// A server that takes the request and the deploy, then answers every look at the deploy's
/// history with `status` and `history`.
fn accepting_then_history(status: u16, history: String) -> Misbehaving {
    let accepted = r#"{"request": {"id": "hello-mesos-alice"}, "state": "ACTIVE"}"#;
    let json = "application/json";
    Misbehaving::start(Misbehaviour::ByPath(vec![
        (
            "POST /singularity/api/requests ",
            200,
            json,
            accepted.into(),
        ),
        ("POST /singularity/api/deploys ", 200, json, accepted.into()),
        ("GET /singularity/api/history/", status, json, history),
    ]))
}

#[test]
fn a_redirect_is_not_followed() {
    for status in [301, 302, 307] {
        let server = Misbehaving::start(Misbehaviour::Redirect(
            status,
            "https://elsewhere.example.com/singularity/api/requests".into(),
        ));
        let tree = ConfigTree::workshop();
        let mut run = deploy(&server, &tree, &[]);
        let assert = run.assert().code(1);
        let output = assert.get_output();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(!stdout.contains("Saved request"), "{stdout}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        mentions(
            &stderr,
            &[
                &format!(
                    "POST {}/singularity/api/requests answered {status} ",
                    server.url()
                ),
                "to https://elsewhere.example.com/singularity/api/requests: redirects are not followed",
            ],
        );
        // One request: the redirect was not followed.
        assert_eq!(server.received().len(), 1, "{:?}", server.received());
    }
}

#[test]
fn an_html_page_is_not_an_answer() {
    let page = "<!DOCTYPE html><html><body>Welcome to our intranet</body></html>".to_string();
    let server = Misbehaving::start(Misbehaviour::Answer(200, "text/html", page));
    let line = fails(deploy(&server, &ConfigTree::workshop(), &[]), 1);
    mentions(
        &line,
        &[
            "/singularity/api/requests answered 200 OK with text/html, not Singularity's JSON: <!DOCTYPE html>",
        ],
    );
}

#[test]
fn json_that_is_not_the_apis_is_not_an_answer() {
    let server = Misbehaving::start(Misbehaviour::Answer(
        200,
        "application/json",
        r#"{"status": "ok"}"#.into(),
    ));
    let line = fails(deploy(&server, &ConfigTree::workshop(), &[]), 1);
    mentions(
        &line,
        &["answered 200 OK with application/json, not Singularity's JSON"],
    );
}

#[test]
fn an_error_status_is_one_line_with_the_url_and_status() {
    let server = Misbehaving::start(Misbehaviour::Answer(
        500,
        "text/plain",
        "Server Error: boom".into(),
    ));
    let line = fails(deploy(&server, &ConfigTree::workshop(), &[]), 1);
    assert_eq!(
        line,
        format!(
            "POST {}/singularity/api/requests answered 500 Internal Server Error: Server Error: boom",
            server.url()
        )
    );
}

#[test]
fn an_endless_answer_is_cut_at_the_limit() {
    let server = Misbehaving::start(Misbehaviour::Endless);
    let line = fails(deploy(&server, &ConfigTree::workshop(), &[]), 1);
    mentions(
        &line,
        &["/api/requests answered 200 OK with more than 1024 KiB: not Singularity's API"],
    );
}

#[test]
fn a_call_without_answer_ends_at_the_timeout() {
    let server = Misbehaving::start(Misbehaviour::Hang);
    let tree = ConfigTree::workshop();
    let run = deploy(&server, &tree, &["--timeout", "1"]);
    // Within 5 s (`fails`): the call's own limit is 10 s, the deadline cuts it short.
    mentions(&fails(run, 1), &["/api/requests: no whole answer within "]);
}

#[test]
fn a_deploy_that_stays_not_found_ends_the_run() {
    let not_found = r#"{"code":404,"message":"Deploy history for request hello-mesos-alice and deploy x not found"}"#;
    let server = accepting_then_history(404, not_found.into());
    let line = fails(deploy(&server, &ConfigTree::workshop(), &[]), 1);
    mentions(
        &line,
        &[
            "of hello-mesos-alice not found: GET ",
            "answered 404 Not Found 3 times in a row: Deploy history for request hello-mesos-alice and deploy x not found",
        ],
    );
    let polls = server
        .received()
        .iter()
        .filter(|r| r.method == "GET")
        .count();
    assert_eq!(polls, 3);
}

#[test]
fn the_token_is_sent_as_a_bearer_and_never_printed() {
    // The server's error page echoes the request's headers, the token among them.
    let server = Misbehaving::start(Misbehaviour::Echo(500));
    let tree = ConfigTree::workshop();
    let line = fails(deploy(&server, &tree, &[]), 1);
    assert!(!line.contains("s3cret"), "{line}");
    mentions(
        &line,
        &[
            "answered 500 Internal Server Error: ",
            "authorization: Bearer *** ",
        ],
    );
    let received = server.received();
    assert_eq!(
        received[0].header("authorization"),
        Some("Bearer s3cret-token")
    );
}

#[test]
fn credentials_in_the_url_are_sent_and_never_printed() {
    let server = Misbehaving::start(Misbehaviour::Echo(401));
    let tree = ConfigTree::workshop();
    let shown = format!("{}/singularity", server.url()).replace("http://", "http://***@");
    let url = shown.replace("***", "alice:s3cret");
    let line = fails(
        command(
            step_bin!(),
            tree.path(),
            &[("SINGULARITY_URL", &url)],
            &["pp-sf", "7"],
        ),
        1,
    );
    // As HTTP Basic authentication: "alice:s3cret" in base64, which the server echoed.
    let basic = "YWxpY2U6czNjcmV0";
    assert!(!line.contains("s3cret") && !line.contains(basic), "{line}");
    mentions(
        &line,
        &[
            &format!("POST {shown}/api/requests answered 401"),
            "authorization: Basic *** ",
        ],
    );
    assert_eq!(
        server.received()[0].header("authorization"),
        Some(&*format!("Basic {basic}"))
    );
}

#[test]
fn what_the_server_sends_reaches_the_terminal_with_its_control_characters_shown() {
    // A deploy whose state and failure carry a terminal's controls: a new title, the line
    // above erased, and a fake success (as a task's last lines might); and line breaks that
    // would start a line of the tool's own words.
    let hostile = r"\u001b]0;pwned\u0007\u001b[1A\u001b[2KDeploy SUCCEEDED\r";
    let forged = r"\nDeployed alice/hello-mesos:7 to hello-mesos-alice\r\n";
    let history = format!(
        r#"{{"deployMarker": {{}}, "deployResult": {{"deployState": "FAILED{hostile}{forged}",
            "message": "{hostile}", "deployFailures": [{{"reason": "TASK{forged}",
            "taskId": {{"id": "t\u009b2J{forged}"}}, "message": "last lines: {hostile}"}}]}}}}"#
    );
    let server = accepting_then_history(200, history);
    let assert = deploy(&server, &ConfigTree::workshop(), &[])
        .assert()
        .code(1);
    let output = assert.get_output();
    let printed = String::from_utf8_lossy(&output.stdout) + String::from_utf8_lossy(&output.stderr);
    let raw = |c: char| c.is_control() && c != '\n' || ('\u{202a}'..='\u{2069}').contains(&c);
    assert!(!printed.chars().any(raw), "{printed:?}");
    mentions(
        &printed,
        &[
            "Deploy ",
            r": FAILED\u{1b}]0;pwned\u{7}\u{1b}[1A\u{1b}[2KDeploy SUCCEEDED Deployed alice",
            r"TASK Deployed alice/hello-mesos:7 to hello-mesos-alice t\u{9b}2J Deployed",
            r": last lines: \u{1b}]0;pwned",
        ],
    );
    // Every line is the tool's: none starts with what the server wrote.
    assert!(
        !printed.lines().any(|line| line.starts_with("Deployed")),
        "{printed}"
    );
}

#[test]
fn a_secret_is_hidden_where_the_message_is_cut_and_behind_json_escapes() {
    let late = format!("{}Bearer s3cret-token and more", "x".repeat(990));
    let escaped = r#"{"seen": "Bearer s3cret\u002dtoken", "also": "s3cret-token"}"#;
    for (content_type, body) in [("text/plain", late), ("application/json", escaped.into())] {
        let server = Misbehaving::start(Misbehaviour::Answer(500, content_type, body));
        let line = fails(deploy(&server, &ConfigTree::workshop(), &[]), 1);
        assert!(!line.contains("s3cr"), "{line}");
        mentions(&line, &["Bearer ***"]);
    }
}
