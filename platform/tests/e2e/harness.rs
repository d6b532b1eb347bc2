//! The platform's real binary, started on ports it chooses (`--port 0`) with short timings, and what the
//! end-to-end tests need around it: its API, Docker's view of its containers, the step images.

use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    path::{Path, PathBuf},
    process::Command,
    sync::{Mutex, MutexGuard},
    thread,
    time::{Duration, Instant},
};

use nix::sys::signal::Signal;
use serde_json::Value;
pub use test_support::browser::{chromium, skip};
pub use test_support::engine::{docker, ready_for};
use test_support::{app::App, browser::HEADLESS, platform};

/// The tests share one Docker engine and two cores: one platform at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Timings short enough for tests, long enough for a container to start on a busy machine.
pub const FAST: [&str; 6] = [
    "--check-interval",
    "0.5",
    "--startup-timeout",
    "10",
    "--deploy-timeout",
    "40",
];

/// How long a deploy may take to end, with [`FAST`] timings.
pub const DEPLOY_DEADLINE: Duration = Duration::from_secs(60);

/// The repository's root, where `config/` and the docs are.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A running platform, stopped with SIGINT when dropped; then none of its containers may
/// be left, in any state (the test fails otherwise).
pub struct Platform {
    pub app: App,
    pub port: u16,
    pub discovery: SocketAddr,
    /// `http://127.0.0.1:PORT`
    pub url: String,
    /// The `docker` it runs: Docker's own, or a stand-in (no engine then, none checked).
    docker: Option<String>,
    _turn: MutexGuard<'static, ()>,
}

impl Platform {
    /// Starts the platform with `args` after the ports, and waits for its last start-up line.
    pub fn start(args: &[&str]) -> Platform {
        Platform::start_with(None, args)
    }

    /// Starts the platform with `docker` as its `docker` command (`None`: Docker's own, whose
    /// containers of this platform are checked when it stops) and `args` after the ports,
    /// which it chooses.
    pub fn start_with(docker: Option<&Path>, args: &[&str]) -> Platform {
        let turn = ONE_AT_A_TIME
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let docker = docker.map(|path| path.display().to_string());
        let (app, port, discovery) = spawn(0, 0, args, docker.as_deref());
        Platform {
            app,
            port,
            discovery,
            url: format!("http://127.0.0.1:{port}"),
            docker,
            _turn: turn,
        }
    }

    /// Starts the platform with [`FAST`] timings if Docker holds `images`; else says why not
    /// through [`skip`].
    pub fn start_for(images: &[&str]) -> Option<Platform> {
        ready_for(images).then(|| Platform::start(&FAST))
    }

    /// Kills the platform with SIGKILL, as a crash would, and starts another on its ports.
    pub fn crash_and_restart(&mut self, args: &[&str]) {
        self.app.signal(Signal::SIGKILL);
        self.app.wait(Duration::from_secs(5));
        let ports = (self.port, self.discovery.port());
        (self.app, ..) = spawn(ports.0, ports.1, args, self.docker.as_deref());
    }

    /// Singularity's base URL, as `SINGULARITY_URL` takes it.
    pub fn singularity(&self) -> String {
        format!("{}/singularity", self.url)
    }

    /// `METHOD {url}{path}` with a JSON body: the status and the body.
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, String) {
        let client = reqwest::blocking::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("a client");
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
        let mut request = client.request(method, format!("{}{path}", self.url));
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body.to_string());
        }
        match request.send() {
            Ok(response) => {
                let status = response.status().as_u16();
                (status, response.text().unwrap_or_default())
            }
            Err(err) => self.app.fail(&format!("{path}: {err}")),
        }
    }

    /// `GET {url}{path}` as JSON, which must answer 200.
    pub fn json(&self, path: &str) -> Value {
        let (status, body) = self.call("GET", path, None);
        self.app
            .assert(status == 200, &format!("GET {path} -> {status} {body}"));
        serde_json::from_str(&body).unwrap_or_else(|err| self.app.fail(&format!("{path}: {err}")))
    }

    /// Starts the platform with [`FAST`] timings if Docker holds `image`, creates the request
    /// `hello-mesos` and starts its deploy `first` of `image`; else says why not through
    /// [`skip`].
    pub fn first_deploy_of(image: &str) -> Option<Platform> {
        let platform = Platform::start_for(&[image])?.request("hello-mesos");
        let (status, body) = platform.deploy("hello-mesos", "first", image, serde_json::json!({}));
        platform
            .app
            .assert(status == 200, &format!("POST deploy -> {status} {body}"));
        Some(platform)
    }

    /// Creates the request `id`, of one instance.
    pub fn request(self, id: &str) -> Platform {
        let body = serde_json::json!({"id": id, "daemon": true, "instances": 1});
        let (status, answer) = self.call("POST", "/singularity/api/requests", Some(&body));
        self.app
            .assert(status == 200, &format!("POST request -> {status} {answer}"));
        self
    }

    /// Starts deploy `deploy_id` of `request_id` running `image` with `env`: the answer.
    pub fn deploy(
        &self,
        request_id: &str,
        deploy_id: &str,
        image: &str,
        env: Value,
    ) -> (u16, String) {
        let body = serde_json::json!({"deploy": {
            "requestId": request_id,
            "id": deploy_id,
            "containerInfo": {"type": "DOCKER", "docker": {"image": image, "network": "HOST"}},
            "resources": {"cpus": 0.1, "memoryMb": 64, "numPorts": 1},
            "healthcheckUri": "/health",
            "env": env,
        }});
        self.call("POST", "/singularity/api/deploys", Some(&body))
    }

    /// Waits for the deploy to end: its `deployResult`.
    pub fn result(&self, request_id: &str, deploy_id: &str) -> Value {
        let path = format!("/singularity/api/history/request/{request_id}/deploy/{deploy_id}");
        let deadline = Instant::now() + DEPLOY_DEADLINE;
        loop {
            let history = self.json(&path);
            if !history["deployResult"].is_null() {
                return history["deployResult"].clone();
            }
            if Instant::now() > deadline {
                self.app.fail(&format!(
                    "{deploy_id} still pending after {DEPLOY_DEADLINE:?}"
                ));
            }
            thread::sleep(Duration::from_millis(200));
        }
    }

    /// What the page shows.
    pub fn state(&self) -> Value {
        self.json("/platform/state")
    }

    /// The tasks of `deploy_id` the page lists.
    pub fn tasks(&self, deploy_id: &str) -> Vec<Value> {
        let state = self.state();
        let tasks = state["singularity"]["tasks"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        tasks
            .into_iter()
            .filter(|task| task["deploy_id"] == deploy_id)
            .collect()
    }

    /// The service URIs `/watch` lists for `service_type`.
    pub fn watched(&self, service_type: &str) -> Vec<String> {
        let url = format!("http://{}/watch", self.discovery);
        let body = test_support::http::get(&url)
            .unwrap_or_else(|err| self.app.fail(&format!("/watch: {err}")))
            .body;
        let watch: Value = serde_json::from_str(&body).expect("/watch answers JSON");
        let mut uris: Vec<String> = watch["updates"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|update| update["serviceType"] == service_type)
            .filter_map(|update| update["serviceUri"].as_str().map(String::from))
            .collect();
        uris.sort();
        uris
    }

    /// The ids of the containers carrying this platform's label; `all` includes stopped ones.
    pub fn containers(&self, all: bool) -> Vec<String> {
        containers_of(self.port, all)
    }

    /// Stops the platform with SIGINT (Ctrl+C) and returns its exit code.
    pub fn interrupt(mut self) -> Option<i32> {
        self.app.signal(Signal::SIGINT);
        self.app.wait(Duration::from_secs(30)).code()
    }
}

/// Starts the platform's binary on these ports (0: it chooses), with `docker` as its `docker`
/// command if given, and waits for its last start-up line: the app, and the ports it bound.
fn spawn(port: u16, discovery: u16, args: &[&str], docker: Option<&str>) -> (App, u16, SocketAddr) {
    let (command, env) = command(port, discovery, args, docker);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let started = platform::start(command, &env, Duration::from_secs(60));
    let discovery = SocketAddr::from(([127, 0, 0, 1], started.discovery));
    (started.app, started.port, discovery)
}

/// Starts the platform's binary on these ports, with `docker` as its `docker` command if
/// given, and does not wait: for a start that is to fail.
pub fn launch(port: u16, discovery: SocketAddr, args: &[&str], docker: Option<&str>) -> App {
    let (command, env) = command(port, discovery.port(), args, docker);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    App::spawn(command, &env)
}

/// The platform's command line and environment.
fn command(
    port: u16,
    discovery: u16,
    args: &[&str],
    docker: Option<&str>,
) -> (Command, Vec<(&'static str, String)>) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_platform"));
    command
        .args(["--port", &port.to_string()])
        .args(["--discovery-port", &discovery.to_string()])
        .args(args);
    // Docker's client needs to find itself and its settings.
    let mut env = vec![
        ("PATH", std::env::var("PATH").unwrap_or_default()),
        ("HOME", std::env::var("HOME").unwrap_or_default()),
    ];
    env.extend(docker.map(|docker| ("DOCKER", docker.to_string())));
    (command, env)
}

impl Drop for Platform {
    fn drop(&mut self) {
        if self.app.is_running() {
            self.app.signal(Signal::SIGINT);
            self.app.wait(Duration::from_secs(30));
        }
        if self.docker.is_some() || thread::panicking() {
            return;
        }
        // A container whose create was under way when the platform stopped shows up a moment
        // later: look for a while, then remove what is left so that the next run is clean.
        let deadline = Instant::now() + LEFT_WAIT;
        let mut left = containers_of(self.port, true);
        while left.is_empty() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(200));
            left = containers_of(self.port, true);
        }
        if !left.is_empty() {
            let states = docker(&[
                "ps",
                "--all",
                "--format",
                "{{.ID}} {{.State}}",
                "--filter",
                &format!("label=hello-mesos.platform={}", self.port),
            ]);
            let mut rm = vec!["rm", "--force"];
            rm.extend(left.iter().map(String::as_str));
            let _ = docker(&rm);
            panic!(
                "the platform on port {} left containers: {states:?}",
                self.port
            );
        }
    }
}

/// How long a stopped platform's containers are looked for.
const LEFT_WAIT: Duration = Duration::from_secs(2);

/// The containers labelled for the platform on `port`.
pub fn containers_of(port: u16, all: bool) -> Vec<String> {
    let filter = format!("label=hello-mesos.platform={port}");
    let mut args = vec!["ps", "--quiet", "--filter", &filter];
    if all {
        args.push("--all");
    }
    docker(&args)
        .expect("docker ps")
        .split_whitespace()
        .map(String::from)
        .collect()
}

/// What one `GET /` got, precisely: an answer, a connection the app did not take, or
/// something else (a cut answer, a hang), which a deploy must never cause.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    Answered(u16),
    /// Refused at connect: nothing listens any more.
    Refused,
    /// Reset before a single byte of an answer: the kernel had completed the connection in
    /// the listening socket's queue, and the app closed that socket without accepting it.
    /// Like a refusal, the request never reached the app, and any client may retry it.
    NotAccepted,
    Broken(String),
}

/// `GET /` on a fresh connection to `uri` (`http://host:port`), with `Connection: close`,
/// read to the end within 3 s.
pub fn get_root(uri: &str) -> Outcome {
    let address = uri.trim_start_matches("http://").trim_end_matches('/');
    let Ok(socket) = address.parse::<SocketAddr>() else {
        return Outcome::Broken(format!("not host:port: {uri}"));
    };
    let mut stream = match TcpStream::connect_timeout(&socket, Duration::from_secs(3)) {
        Ok(stream) => stream,
        Err(err) if err.kind() == std::io::ErrorKind::ConnectionRefused => return Outcome::Refused,
        Err(err) => return Outcome::Broken(format!("connect: {err}")),
    };
    let timeout = Some(Duration::from_secs(3));
    let _ = stream.set_read_timeout(timeout);
    let _ = stream.set_write_timeout(timeout);
    let request = format!("GET / HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    let reset = |err: &std::io::Error| {
        use std::io::ErrorKind::{BrokenPipe, ConnectionReset};
        matches!(err.kind(), ConnectionReset | BrokenPipe)
    };
    if let Err(err) = stream.write_all(request.as_bytes()) {
        return if reset(&err) {
            Outcome::NotAccepted
        } else {
            Outcome::Broken(format!("send: {err}"))
        };
    }
    let mut answer = Vec::new();
    if let Err(err) = stream.read_to_end(&mut answer) {
        return if reset(&err) && answer.is_empty() {
            Outcome::NotAccepted
        } else {
            Outcome::Broken(format!("read after {} bytes: {err}", answer.len()))
        };
    }
    let answer = String::from_utf8_lossy(&answer);
    let status = answer
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok());
    match status {
        Some(status) if answer.contains("\r\n\r\n") => Outcome::Answered(status),
        _ => Outcome::Broken(format!("not a whole answer: {answer:?}")),
    }
}

/// `otpl-deploy`, built from this workspace (cargo builds it only if it is not up to date).
pub fn otpl_deploy() -> PathBuf {
    let built = Command::new(env!("CARGO"))
        .current_dir(root())
        .args(["build", "--quiet", "-p", "otpl-deploy"])
        .status()
        .expect("cargo build -p otpl-deploy");
    assert!(built.success(), "cargo build -p otpl-deploy failed");
    // This test runs from target/debug/deps/: the tool is in target/debug/.
    let exe = std::env::current_exe().expect("the test's path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/debug")
        .join("otpl-deploy")
}

/// The page at `url` as a headless Chromium renders it after a few seconds of its scripts.
pub fn dump_dom(browser: &str, url: &str) -> String {
    let profile = tempfile::TempDir::new().expect("a temporary profile");
    let mut child = Command::new(browser)
        .args(HEADLESS)
        .args(["--virtual-time-budget=5000", "--dump-dom"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(url)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the browser starts");
    let mut stdout = child.stdout.take().expect("piped");
    let reader = thread::spawn(move || {
        let mut dom = String::new();
        let _ = stdout.read_to_string(&mut dom);
        dom
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("the browser").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{browser} did not render {url} within 60 s");
        }
        thread::sleep(Duration::from_millis(100));
    }
    reader.join().expect("the browser's output")
}

/// Runs a session of the docs in one shell, in `dir` (a learner's crate), against `platform`:
/// its commands as shown, with the platform's ports for the defaults (7099, 8090), `registry`
/// (`localhost:PORT`) for the pages' `localhost:5001`, also as `ship.sh`'s `REGISTRY`, this
/// clone as its `WORKSHOP`, and the workspace's `otpl-deploy` for the one a learner installs.
pub fn run_session(platform: &Platform, dir: &Path, page: &str, name: &str, registry: &str) {
    let (api, discovery) = (
        platform.port.to_string(),
        platform.discovery.port().to_string(),
    );
    let otpl = otpl_deploy().display().to_string();
    let singularity = format!("{}/singularity", platform.url);
    let workshop = root().display().to_string();
    // cargo finds its caches from HOME; the learner's crate builds in this workspace's target
    // directory, where its dependencies are compiled already.
    let home = std::env::var("HOME").unwrap_or_default();
    let target = root().join("target").display().to_string();
    test_support::sessions::run_session(
        page,
        name,
        dir,
        &[
            ("SINGULARITY_URL", &singularity),
            ("REGISTRY", registry),
            ("WORKSHOP", &workshop),
            ("HOME", &home),
            ("CARGO_TARGET_DIR", &target),
        ],
        |command| {
            let command = command
                .replace("localhost:7099", &format!("127.0.0.1:{api}"))
                .replace("localhost:8090", &format!("127.0.0.1:{discovery}"))
                .replace("localhost:5001", registry)
                .replace("cargo run -q -p otpl-deploy --", &otpl);
            // The tool as a learner installs it (`cargo install`), here the one just built.
            match command.strip_prefix("otpl-deploy ") {
                Some(args) => format!("{otpl} {args}"),
                None => command,
            }
        },
        |output| {
            // The registry first: its port may start with the digits of the others.
            output
                .replace(registry, "localhost:5001")
                .replace(&format!(":{api}"), ":7099")
                .replace(&format!(":{discovery}"), ":8090")
        },
    );
}
