//! Tasks without Docker, for tests: each "container" is a small HTTP server in this process
//! that really listens on its `TASK_HOST:PORT0`, so the deploy model's health checks are
//! real HTTP. What a task does is chosen by its image's tag:
//!
//! | tag            | the task                                                            |
//! |----------------|---------------------------------------------------------------------|
//! | `no-health…`   | answers `GET /` 200 and `/health` 404, as step 04 does                |
//! | `exit-N…`      | prints two lines and exits with status N (as a missing variable does) |
//! | `missing…`     | cannot start: the image does not exist (Docker's message)            |
//! | `hang…`        | accepts connections and never answers                                |
//! | `redirect-away…` | answers `/health` with a 302 to another host                       |
//! | `redirect-loop…` | answers `/health` with a 302 to `/health`, for ever                |
//! | `redirect…`    | answers `/health` with a 302 to `/`, which answers 200               |
//! | `closed…`      | runs but listens nowhere: every check is refused                     |
//! | `slow…`        | takes 2 s to start (a slow pull), then answers `/health` 200          |
//! | anything else  | answers `GET /health` 200, as step 07 does                            |
//!
//! A task's command is run as `docker run` would run it (see [`CommandInfo::docker`]): the
//! arguments after the image go to its entrypoint, which, as the step apps do, ignores them
//! (they are logged); a shell command replaces the entrypoint, and of those only `exit N`
//! is modelled (the task exits with status N); any other is refused at its start. A forced
//! pull (`forcePullImage`) finds every image but the `missing…` ones, as any start does.
//!
//! [`Simulated::acting`] makes a given image behave as one of these tags instead (e.g. an
//! image tagged `4` as step 04, `no-health`).
//!
//! [`LocalSingularity`] serves the model with this runtime on a loopback port, in a
//! background thread: the Singularity `otpl-deploy`'s tests and the API tests talk to.

use std::{
    collections::HashMap,
    future::Future,
    net::SocketAddr,
    sync::{Arc, Mutex},
    thread,
    time::Duration,
};

use axum::{Router, http::StatusCode, routing::get};
use tokio::{sync::watch, task::JoinHandle};

use super::{CommandInfo, Error, RunStatus, Runtime, TaskSpec};
use crate::singularity::{ModelView, Settings, Singularity};

/// The simulated runtime; clones share their tasks, so a test can keep one to look at them.
#[derive(Clone, Default)]
pub struct Simulated {
    tasks: Arc<Mutex<HashMap<String, Task>>>,
    started: Arc<Mutex<Vec<TaskSpec>>>,
    /// Images that behave as another tag says.
    acting: Arc<Mutex<HashMap<String, String>>>,
}

struct Task {
    status: Arc<Mutex<RunStatus>>,
    logs: Arc<Mutex<Vec<String>>>,
    /// Tells the server to stop (and a hanging answer to give up).
    stop: Option<watch::Sender<bool>>,
    server: Option<JoinHandle<()>>,
}

/// What a task does, from its image's tag.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Behaviour {
    Healthy,
    NoHealth,
    Exit(i32),
    Missing,
    Hang,
    Redirect(&'static str),
    Closed,
}

/// How long a `slow…` image takes to start.
const SLOW_START: Duration = Duration::from_secs(2);

impl Behaviour {
    fn of(tag: &str) -> Behaviour {
        if let Some(code) = tag.strip_prefix("exit-") {
            let digits: String = code.chars().take_while(char::is_ascii_digit).collect();
            return Behaviour::Exit(digits.parse().unwrap_or(1));
        }
        if tag.starts_with("no-health") {
            Behaviour::NoHealth
        } else if tag.starts_with("missing") {
            Behaviour::Missing
        } else if tag.starts_with("hang") {
            Behaviour::Hang
        } else if tag.starts_with("redirect-away") {
            Behaviour::Redirect("http://elsewhere.invalid/health")
        } else if tag.starts_with("redirect-loop") {
            Behaviour::Redirect("/health")
        } else if tag.starts_with("redirect") {
            Behaviour::Redirect("/")
        } else if tag.starts_with("closed") {
            Behaviour::Closed
        } else {
            Behaviour::Healthy
        }
    }
}

impl Simulated {
    pub fn new() -> Simulated {
        Simulated::default()
    }

    /// Makes `image` behave as the tag `as_tag` says (see the table above).
    pub fn acting(self, image: &str, as_tag: &str) -> Simulated {
        (self.acting.lock().expect("acting")).insert(image.into(), as_tag.into());
        self
    }

    fn behaviour(&self, image: &str) -> Behaviour {
        match self.acting.lock().expect("acting").get(image) {
            Some(tag) => Behaviour::of(tag),
            None => Behaviour::of(image.rsplit_once(':').map_or("latest", |(_, tag)| tag)),
        }
    }

    /// What a task's command makes it do instead of its image's tag: `None` when it runs
    /// the image's entrypoint (see the module's docs).
    fn command_behaviour(&self, command: &CommandInfo) -> Result<Option<Behaviour>, Error> {
        let docker = command.docker()?;
        let Some(entrypoint) = docker.entrypoint else {
            return Ok(None);
        };
        match docker.args.as_slice() {
            [flag, script] if flag == "-c" => script
                .trim()
                .strip_prefix("exit ")
                .and_then(|code| code.trim().parse().ok())
                .map(|code| Some(Behaviour::Exit(code)))
                .ok_or_else(|| {
                    Error::Command(format!("the simulated runtime runs only `exit N` in {entrypoint} -c, not {script:?}"))
                }),
            _ => Err(Error::Command(format!("the simulated runtime does not run {entrypoint}"))),
        }
    }

    /// Every task started so far, as the model asked for it (environment included).
    pub fn started(&self) -> Vec<TaskSpec> {
        self.started.lock().expect("started tasks").clone()
    }

    /// The ids of the tasks running now.
    pub fn running(&self) -> Vec<String> {
        let tasks = self.tasks.lock().expect("tasks");
        let mut running: Vec<String> = tasks
            .iter()
            .filter(|(_, task)| *task.status.lock().expect("status") == RunStatus::Running)
            .map(|(id, _)| id.clone())
            .collect();
        running.sort();
        running
    }
}

fn env<'a>(spec: &'a TaskSpec, name: &str) -> Option<&'a str> {
    spec.env
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

impl Runtime for Simulated {
    fn start(&self, spec: &TaskSpec) -> impl Future<Output = Result<Option<String>, Error>> + Send {
        let spec = spec.clone();
        let this = self.clone();
        async move {
            this.started
                .lock()
                .expect("started tasks")
                .push(spec.clone());
            let behaviour = match this.command_behaviour(&spec.command)? {
                Some(behaviour) => behaviour,
                None => this.behaviour(&spec.image),
            };
            let image = &spec.image;
            if image
                .rsplit_once(':')
                .is_some_and(|(_, tag)| tag.starts_with("slow"))
            {
                tokio::time::sleep(SLOW_START).await;
            }
            if behaviour == Behaviour::Missing {
                let repository = image.rsplit_once(':').map_or(image.as_str(), |(r, _)| r);
                return Err(Error::Failed(format!(
                    "Unable to find image '{image}' locally: pull access denied for {repository}, \
                     repository does not exist or may require 'docker login'"
                )));
            }
            let status = Arc::new(Mutex::new(RunStatus::Running));
            let logs = Arc::new(Mutex::new(Vec::new()));
            let (stop, stopped) = watch::channel(false);
            let mut task = Task {
                status: Arc::clone(&status),
                logs: Arc::clone(&logs),
                stop: Some(stop),
                server: None,
            };
            let log = move |line: String| logs.lock().expect("logs").push(line);
            if let Ok(docker) = spec.command.docker()
                && docker.entrypoint.is_none()
                && !docker.args.is_empty()
            {
                log(format!("arguments: {}", docker.args.join(" ")));
            }
            if let Behaviour::Exit(code) = behaviour {
                log(format!("{}: starting", spec.task_id));
                log(format!("simulated failure: exit status {code}"));
                // The container runs for a moment, then its process ends.
                task.server = Some(tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    *status.lock().expect("status") = RunStatus::Exited { code: Some(code) };
                }));
            } else if behaviour == Behaviour::Closed {
                log(format!("{}: not listening", spec.task_id));
            } else {
                let host = env(&spec, "TASK_HOST").unwrap_or("127.0.0.1");
                let port = env(&spec, "PORT0").unwrap_or("0");
                let listener = tokio::net::TcpListener::bind(format!("{host}:{port}"))
                    .await
                    .map_err(|err| {
                        Error::Failed(format!("cannot listen on {host}:{port}: {err}"))
                    })?;
                let address: SocketAddr = listener
                    .local_addr()
                    .map_err(|err| Error::Failed(err.to_string()))?;
                log(format!("listening on http://{address}"));
                task.server = Some(tokio::spawn(serve(listener, behaviour, stopped)));
            }
            this.tasks
                .lock()
                .expect("tasks")
                .insert(spec.task_id.clone(), task);
            Ok(None)
        }
    }

    fn statuses(&self) -> impl Future<Output = Result<HashMap<String, RunStatus>, Error>> + Send {
        let statuses = self
            .tasks
            .lock()
            .expect("tasks")
            .iter()
            .map(|(id, task)| (id.clone(), task.status.lock().expect("status").clone()))
            .collect();
        async move { Ok(statuses) }
    }

    fn stop(&self, task_id: &str, grace: Duration) -> impl Future<Output = ()> + Send {
        let (stop, server, status, logs) = {
            let mut tasks = self.tasks.lock().expect("tasks");
            match tasks.get_mut(task_id) {
                Some(task) => (
                    task.stop.take(),
                    task.server.take(),
                    Some(Arc::clone(&task.status)),
                    Some(Arc::clone(&task.logs)),
                ),
                None => (None, None, None, None),
            }
        };
        async move {
            if let Some(stop) = stop {
                let _ = stop.send(true);
            }
            if let Some(server) = server {
                // SIGTERM: the server drains; SIGKILL after the grace.
                let abort = server.abort_handle();
                if tokio::time::timeout(grace, server).await.is_err() {
                    abort.abort();
                }
            }
            if let (Some(status), Some(logs)) = (status, logs) {
                let mut status = status.lock().expect("status");
                if *status == RunStatus::Running {
                    *status = RunStatus::Exited { code: Some(0) };
                    logs.lock().expect("logs").push("stopped".into());
                }
            }
        }
    }

    fn logs(&self, task_id: &str, lines: usize) -> impl Future<Output = Vec<String>> + Send {
        let logs = self
            .tasks
            .lock()
            .expect("tasks")
            .get(task_id)
            .map_or(Vec::new(), |task| {
                let logs = task.logs.lock().expect("logs");
                logs[logs.len().saturating_sub(lines)..].to_vec()
            });
        async move { logs }
    }

    fn release(&self, task_id: &str) -> impl Future<Output = ()> + Send {
        // Nothing is kept of an ended task: the model has its lines.
        self.tasks.lock().expect("tasks").remove(task_id);
        async {}
    }
}

/// The task's HTTP server, until told to stop.
async fn serve(
    listener: tokio::net::TcpListener,
    behaviour: Behaviour,
    mut stopped: watch::Receiver<bool>,
) {
    let mut hang = stopped.clone();
    let app =
        match behaviour {
            Behaviour::NoHealth => Router::new().route("/", get(|| async { "Hello, world!" })),
            Behaviour::Redirect(to) => Router::new()
                .route("/", get(|| async { "Hello, world!" }))
                .route(
                    "/health",
                    get(move || async move {
                        (StatusCode::FOUND, [(axum::http::header::LOCATION, to)])
                    }),
                ),
            Behaviour::Hang => Router::new().fallback(|| async move {
                let _ = hang.wait_for(|stop| *stop).await;
                StatusCode::SERVICE_UNAVAILABLE
            }),
            _ => Router::new()
                .route("/", get(|| async { "Hello, world!" }))
                .route("/health", get(|| async { StatusCode::OK })),
        };
    let _ = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        })
        .await;
}

/// The model with simulated tasks, served on a free loopback port in a background thread
/// (its own tokio runtime). Stops its tasks and its server when dropped.
pub struct LocalSingularity {
    runtime: Option<tokio::runtime::Runtime>,
    singularity: Singularity<Simulated>,
    simulated: Simulated,
    address: SocketAddr,
    stop: Option<watch::Sender<bool>>,
}

impl LocalSingularity {
    /// Serves the model with `settings` (whose `task_host` should be `127.0.0.1`).
    pub fn start(settings: Settings) -> LocalSingularity {
        LocalSingularity::start_with(settings, Simulated::new())
    }

    /// Serves the model with `settings`, its tasks run by `simulated`.
    pub fn start_with(settings: Settings, simulated: Simulated) -> LocalSingularity {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let singularity = Singularity::new(simulated.clone(), settings);
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("a loopback port");
        let address = listener.local_addr().expect("a bound address");
        let (stop, mut stopped) = watch::channel(false);
        let app = singularity.router();
        // Served as the platform serves it (its guard, its bounds): the clients tested
        // against it, such as otpl-deploy, are the ones a learner runs against the platform.
        runtime.spawn(crate::serve::serve(listener, app, async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        }));
        LocalSingularity {
            runtime: Some(runtime),
            singularity,
            simulated,
            address,
            stop: Some(stop),
        }
    }

    /// The settings tests use: tasks on 127.0.0.1, checks every 50 ms, start-up timeout
    /// 1 s, deploy timeout 3 s, stop grace 1 s.
    pub fn quick() -> Settings {
        Settings {
            task_host: "127.0.0.1".into(),
            check_interval: Duration::from_millis(50),
            check_timeout: Duration::from_millis(500),
            startup_timeout: Duration::from_secs(1),
            deploy_timeout: Duration::from_secs(3),
            stop_grace: Duration::from_secs(1),
            ..Settings::default()
        }
    }

    /// The base URL, e.g. `http://127.0.0.1:41234/singularity` (for `SINGULARITY_URL`).
    pub fn url(&self) -> String {
        format!("http://{}/singularity", self.address)
    }

    /// What the page would show now.
    pub fn view(&self) -> ModelView {
        self.block_on(self.singularity.view())
    }

    /// A task's last lines, as the page gets them.
    pub fn task_lines(&self, task_id: &str) -> Option<Vec<String>> {
        self.block_on(self.singularity.task_lines(task_id))
    }

    /// The runtime's tasks.
    pub fn simulated(&self) -> &Simulated {
        &self.simulated
    }

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.as_ref().expect("a runtime").block_on(future)
    }
}

impl Drop for LocalSingularity {
    fn drop(&mut self) {
        if thread::panicking() {
            // Leave quickly: the runtime's shutdown below still ends every task.
        } else {
            let singularity = self.singularity.clone();
            self.block_on(async move {
                let _ = tokio::time::timeout(Duration::from_secs(5), singularity.shutdown()).await;
            });
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(1));
        }
    }
}
