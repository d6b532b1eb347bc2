//! A stand-in for the part of Singularity's API that `otpl-deploy` calls, scripted to end a
//! deploy the way a test needs; a temporary repository holding deploy settings to run the
//! tool in; and the tool's command line with a clean environment and a deadline.

use std::{
    fs,
    path::Path,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Bytes,
    extract::{Path as UrlPath, State},
    http::{StatusCode, header::CONTENT_TYPE},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::stand_in::{Recorded, StandIn, free_address};

/// How long one run of `otpl-deploy` may take in a test.
pub const RUN_DEADLINE: Duration = Duration::from_secs(30);

/// What the deploy's history answers, poll after poll.
#[derive(Clone, Debug)]
pub enum Poll {
    /// 404: Singularity has not recorded the deploy yet.
    NotYet,
    /// 200 without a `deployResult`: recorded, still going.
    Pending,
    /// 200 with `deployResult: {deployState, message}`.
    State(&'static str, &'static str),
}

/// How the stand-in behaves.
#[derive(Clone, Debug)]
pub enum Script {
    /// Takes the request and the deploy; the deploy's history answers these polls in turn,
    /// the last one for ever after.
    Deploy(Vec<Poll>),
    /// Takes the request, answers 409 to the deploy: one is already in progress.
    Conflict,
    /// Answers 500 to everything.
    Broken,
    /// Never answers `POST /api/requests` (until the stand-in stops).
    Stalled,
}

impl Script {
    /// A deploy that is pending for a few polls, then `WAITING`, then ends in `state`.
    pub fn ends(state: &'static str, message: &'static str) -> Script {
        Script::Deploy(vec![
            Poll::NotYet,
            Poll::Pending,
            Poll::State("WAITING", ""),
            Poll::State(state, message),
        ])
    }
}

/// Singularity's answer to a deploy conflict, as 0.4.6 words it.
pub const CONFLICT_MESSAGE: &str =
    "A current deploy is in progress. It may be canceled by calling DELETE";

/// The stand-in's API lives under this path, as Singularity's does behind its web UI.
const BASE_PATH: &str = "/singularity";

struct Shared {
    script: Script,
    /// How many polls of the right deploy were answered.
    polls: usize,
    /// `(requestId, id)` of the deploy posted.
    deploy: Option<(String, String)>,
    /// Set when the stand-in stops: a stalled answer gives up.
    stopping: Arc<AtomicBool>,
}

type Scripted = Arc<Mutex<Shared>>;

/// A running stand-in for Singularity. Stops when dropped.
pub struct Singularity {
    stand_in: StandIn,
    stopping: Arc<AtomicBool>,
}

impl Singularity {
    pub fn start(script: Script) -> Singularity {
        let stopping = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Mutex::new(Shared {
            script,
            polls: 0,
            deploy: None,
            stopping: Arc::clone(&stopping),
        }));
        let api = Router::new()
            .route("/api/requests", post(save_request))
            .route("/api/deploys", post(start_deploy))
            .route(
                "/api/history/request/{request_id}/deploy/{deploy_id}",
                get(deploy_history),
            )
            .with_state(shared);
        Singularity {
            stand_in: StandIn::start(Router::new().nest(BASE_PATH, api)),
            stopping,
        }
    }

    /// The base URL to give as `SINGULARITY_URL`.
    pub fn url(&self) -> String {
        format!("{}{BASE_PATH}", self.stand_in.url())
    }

    /// Every request received so far, oldest first (paths include the base path).
    pub fn requests(&self) -> Vec<Recorded> {
        self.stand_in.requests()
    }

    /// The bodies posted to `api_path` (e.g. `/api/deploys`), parsed.
    pub fn posted(&self, api_path: &str) -> Vec<Value> {
        let path = format!("{BASE_PATH}{api_path}");
        let mut posted = self.stand_in.requests_to("POST", &path);
        posted.retain(|r| r.path == path);
        posted.iter().map(Recorded::json).collect()
    }

    /// The paths polled for a deploy's history.
    pub fn polls(&self) -> Vec<String> {
        let prefix = format!("{BASE_PATH}/api/history/");
        let polls = self.stand_in.requests_to("GET", &prefix);
        polls.into_iter().map(|r| r.path).collect()
    }
}

impl Drop for Singularity {
    fn drop(&mut self) {
        // Release a stalled answer, or the stand-in's graceful stop would wait for it.
        self.stopping.store(true, Ordering::SeqCst);
    }
}

/// A base URL where nothing listens.
pub fn unreachable_url() -> String {
    format!("http://{}{BASE_PATH}", free_address())
}

async fn save_request(State(shared): State<Scripted>, body: Bytes) -> Response {
    let (script, stopping) = {
        let shared = shared.lock().expect("stand-in state");
        (shared.script.clone(), Arc::clone(&shared.stopping))
    };
    match script {
        Script::Broken => server_error(),
        Script::Stalled => {
            let deadline = Instant::now() + RUN_DEADLINE;
            while !stopping.load(Ordering::SeqCst) && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            server_error()
        }
        // Singularity answers with the request it saved.
        _ => json_answer(
            StatusCode::OK,
            json!({ "request": parse(&body), "state": "ACTIVE" }),
        ),
    }
}

async fn start_deploy(State(shared): State<Scripted>, body: Bytes) -> Response {
    let mut shared = shared.lock().expect("stand-in state");
    match shared.script {
        Script::Broken => server_error(),
        Script::Conflict => (StatusCode::CONFLICT, CONFLICT_MESSAGE).into_response(),
        _ => {
            let deploy = &parse(&body)["deploy"];
            let field = |name: &str| deploy[name].as_str().unwrap_or_default().to_string();
            shared.deploy = Some((field("requestId"), field("id")));
            json_answer(
                StatusCode::OK,
                json!({ "pendingDeploy": deploy, "state": "ACTIVE" }),
            )
        }
    }
}

/// Answers for the deploy that was posted only; any other path stays 404.
async fn deploy_history(
    State(shared): State<Scripted>,
    UrlPath((request_id, deploy_id)): UrlPath<(String, String)>,
) -> Response {
    let mut shared = shared.lock().expect("stand-in state");
    let polls = match &shared.script {
        Script::Deploy(polls) => polls.clone(),
        Script::Broken => return server_error(),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    if shared.deploy != Some((request_id.clone(), deploy_id.clone())) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let poll = polls[shared.polls.min(polls.len() - 1)].clone();
    shared.polls += 1;
    let marker = json!({ "requestId": request_id, "deployId": deploy_id, "user": "alice" });
    match poll {
        Poll::NotYet => StatusCode::NOT_FOUND.into_response(),
        Poll::Pending => json_answer(StatusCode::OK, json!({ "deployMarker": marker })),
        Poll::State(state, message) => json_answer(
            StatusCode::OK,
            json!({
                "deployMarker": marker,
                "deployResult": { "deployState": state, "message": message, "timestamp": 0 },
            }),
        ),
    }
}

fn parse(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or_default()
}

fn json_answer(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn server_error() -> Response {
    (StatusCode::INTERNAL_SERVER_ERROR, "Server Error: boom").into_response()
}

/// The repository's own `config/pp-sf/singularity-request.json`, filled in for the user `alice`.
pub fn request() -> String {
    committed("config/pp-sf/singularity-request.json")
}

/// The repository's own `config/pp-sf/singularity.json`, filled in for `alice`.
pub fn deploy() -> String {
    committed("config/pp-sf/singularity.json")
}

/// A committed settings file with every `<username>` replaced by `alice`, so that the tests
/// run on the settings a learner starts from, not on a copy that could drift from them.
fn committed(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(file);
    let text = fs::read_to_string(&path).unwrap_or_else(|err| panic!("{file}: {err}"));
    text.replace("<username>", "alice")
}

/// A temporary repository root holding deploy settings: `config/pp-sf/…` and `docker-repo`.
/// Removed when dropped.
pub struct ConfigTree {
    dir: TempDir,
}

impl ConfigTree {
    /// The workshop's settings for `pp-sf`, filled in for the user `alice`.
    pub fn workshop() -> ConfigTree {
        let tree = ConfigTree {
            dir: TempDir::new().expect("a temporary directory"),
        };
        tree.write("config/pp-sf/singularity-request.json", &request());
        tree.write("config/pp-sf/singularity.json", &deploy());
        tree.write("docker-repo", "alice/hello-mesos\n");
        tree
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `file` (a path relative to the root), creating its folders.
    pub fn write(&self, file: &str, text: &str) {
        let path = self.dir.path().join(file);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("a config folder");
        }
        fs::write(&path, text).unwrap_or_else(|err| panic!("cannot write {file}: {err}"));
    }

    /// Changes the JSON in `file`.
    pub fn edit(&self, file: &str, change: impl FnOnce(&mut Value)) {
        let path = self.dir.path().join(file);
        let text = fs::read_to_string(&path).expect("a config file");
        let mut value = serde_json::from_str(&text).expect("JSON");
        change(&mut value);
        self.write(file, &serde_json::to_string_pretty(&value).expect("JSON"));
    }

    pub fn remove(&self, file: &str) {
        fs::remove_file(self.dir.path().join(file)).expect("a file to remove");
    }
}

/// `bin` run in `dir` with `args`, a deadline, and `env` as its whole environment: no
/// `SINGULARITY_URL`, proxy or `USER` from the developer's shell.
pub fn command(bin: &str, dir: &Path, env: &[(&str, &str)], args: &[&str]) -> assert_cmd::Command {
    let mut command = assert_cmd::Command::new(bin);
    command
        .current_dir(dir)
        .env_clear()
        .envs(env.iter().copied())
        .args(args)
        .timeout(RUN_DEADLINE);
    command
}

/// The calls a dry run prints: each `POST URL` line with the JSON that follows it.
pub fn dry_run_calls(stdout: &str) -> Vec<(String, Value)> {
    let mut calls: Vec<(String, String)> = Vec::new();
    for line in stdout.lines() {
        match (line.strip_prefix("POST "), calls.last_mut()) {
            (Some(url), _) => calls.push((url.to_string(), String::new())),
            (None, Some((_, json))) => {
                json.push_str(line);
                json.push('\n');
            }
            (None, None) => panic!("a dry run's output starts with a POST line: {stdout}"),
        }
    }
    calls
        .into_iter()
        .map(|(url, json)| {
            let value = serde_json::from_str(&json)
                .unwrap_or_else(|err| panic!("not JSON after POST {url}: {err}\n{json}"));
            (url, value)
        })
        .collect()
}

/// How long a run that fails may take: long enough for any refusal, well under the
/// tool's own 10-second limit on a call, so a test of `--timeout` sees it respected.
pub const FAIL_DEADLINE: Duration = Duration::from_secs(5);

/// Runs `command`, which must exit with `code` within [`FAIL_DEADLINE`] and print one line on
/// stderr (no panic, no backtrace); returns that line.
pub fn fails(mut command: assert_cmd::Command, code: i32) -> String {
    let started = Instant::now();
    let assert = command.assert().code(code);
    let took = started.elapsed();
    assert!(took < FAIL_DEADLINE, "took {took:?}");
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr);
    assert!(!stderr.contains("panicked"), "a panic: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "not one line: {stderr}");
    stderr.trim_end().to_string()
}

/// Checks that `line` contains each of `parts`.
pub fn mentions(line: &str, parts: &[&str]) {
    for part in parts {
        assert!(line.contains(part), "{part:?} missing from: {line}");
    }
}
