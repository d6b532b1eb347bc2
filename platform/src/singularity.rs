//! Singularity's API and its deploy model: the part of HubSpot's Singularity the workshop and
//! `otpl-deploy` touch, answering as the real server does (paths, bodies, status codes,
//! messages; see `../shared/specs/singularity-api.md` and, where it is silent, HubSpot's
//! source, cited beside each rule). Generic over the [`Runtime`] that runs the tasks: Docker
//! on a laptop, [`Simulated`](crate::runtime::simulated::Simulated) tasks in tests.
//!
//! # Use
//!
//! ```ignore
//! let singularity = Singularity::new(runtime, Settings { task_host: "localhost".into(), ..Settings::default() });
//! let app = axum::Router::new().merge(singularity.router()); // the API under /singularity
//! // ... serve `app`; each deploy is then checked by its own tokio task.
//! let view: ModelView = singularity.view().await;                  // what the page shows
//! singularity.shutdown().await;                                // stops every task it started
//! ```
//!
//! - [`Singularity::new`] takes the runtime and the [`Settings`] (task host, check interval,
//!   start-up and deploy timeouts: the platform's `--check-interval`, `--startup-timeout`,
//!   `--deploy-timeout`).
//! - [`Singularity::router`] serves, under `/singularity`:
//!   `POST /api/requests`, `GET /api/requests`, `GET /api/requests/request/{id}`,
//!   `POST /api/requests/request/{id}/pause` and `/unpause`, `POST /api/deploys`,
//!   `DELETE /api/deploys/deploy/{deployId}/request/{requestId}`,
//!   `GET /api/history/request/{requestId}/deploy/{deployId}`, and
//!   `POST`/`DELETE /api/disasters/disabled-actions/{action}` (deploys disabled: a 409);
//!   and what one reaches for next: `DELETE /api/requests/request/{id}`, `PUT …/scale`,
//!   `POST …/bounce` (refused), `GET /api/tasks/active`, `/api/tasks/task/{taskId}`,
//!   `/api/tasks/ids/request/{id}`, `/api/history/request/{id}/deploys`,
//!   `/api/sandbox/{taskId}/read`, `/api/state` and `/api/disasters/disabled-actions`.
//! - The deploy checker: `POST /api/deploys` spawns a tokio task (so the router must be
//!   served inside a tokio runtime) that starts the deploy's `instances` tasks (each start
//!   goes on by itself: a slow pull holds nothing back), health-checks them every interval
//!   and ends the deploy as `SingularityDeployChecker` and `SingularityDeployHealthHelper` do
//!   (each look is one pure decision, `decide`, whose unit tests state every rule below):
//!   - `SUCCEEDED` one check after every instance is healthy (the check before sets
//!     `deployProgress.currentActiveInstances` and `stepLaunchComplete`); the previous
//!     deploy's tasks are then stopped with a 5 s grace;
//!   - `FAILED` when a task exits ("Container exited with status N"), when its checks are
//!     refused (nothing listening) past the start-up timeout ("has not responded to
//!     healthchecks after running for …"), or when they fail otherwise (an HTTP error such as
//!     step 04's 404, a timeout) past the whole health-check time, start-up + (interval +
//!     response timeout) × (maxRetries + 1), 55 s by default ("has been running for … and
//!     has yet to pass healthchecks. Last check returned with status code 404"); the new
//!     tasks are stopped, the previous ones keep serving;
//!   - `OVERDUE` past the deploy timeout plus that health-check time (175 s by default), e.g.
//!     tasks that never got to run;
//!   - `CANCELED` on a cancel; `FAILED`, "Request in state PAUSED is not deployable", when
//!     the request was paused meanwhile.
//!
//!   The deploy's own `healthcheck.startupTimeoutSeconds`, `intervalSeconds`,
//!   `responseTimeoutSeconds`, `maxRetries`, and its `deployHealthTimeoutSeconds` and
//!   `considerHealthyAfterRunningForSeconds`, win over the [`Settings`], which stand for
//!   Singularity's configuration. With the deprecated `healthcheckUri`, the deprecated
//!   `healthcheckIntervalSeconds`, `healthcheckTimeoutSeconds` and `healthcheckMaxRetries`
//!   count, as Singularity folds them into its `healthcheck`.
//! - [`Singularity::view`] is a [`ModelView`] (serde-serialisable) for the page: requests; deploys
//!   with state, message, failures and timestamps; tasks with id, deploy, instance,
//!   `host:port`, status and recent health checks. It asks the runtime nothing: tasks are
//!   looked at by their deploy's checker, and all at once every check interval.
//! - [`Singularity::task_lines`]: one task's last lines, kept when it ended, or fetched (at
//!   most once a second) while it runs.
//! - [`Singularity::shutdown`] stops every task still running (Ctrl+C on the platform).
//!
//! # Where this double differs from Singularity
//!
//! Which fields of a deploy are done and which refused, and what is left out, is one table
//! and one list, in docs/platform.md ("Fields: done or refused", "What it leaves out");
//! `platform/tests/api/fields.rs` holds every row to the code. Here, how the model differs:
//!
//! - A task's sandbox is its last lines; a deploy's marker has no `user`. A paused request
//!   becomes `DEPLOYING_TO_UNPAUSE` only once its deploy is accepted (Singularity: before it
//!   checks for a deploy in progress).
//! - A task that exits: the failure's message is Mesos's "Container exited with status N",
//!   then, **added by this platform**, "; last lines: …" with the task's last lines of output
//!   (a real Singularity shows them in its UI, not in the message).
//! - Health checks follow redirects as Singularity's do (up to 5, AsyncHttpClient's
//!   default), but only within the task's own scheme, host and port (Singularity: anywhere);
//!   a redirect elsewhere is a failed check whose error says it was not followed.
//! - Health checks: one every interval, also while refused (Singularity re-checks a refused
//!   one sooner); the options the platform does not model are refused (the table); without a
//!   health check a task is healthy after
//!   running one check interval (`considerTaskHealthyAfterRunningForSeconds` defaults to
//!   5 s, as the interval does). The deploy is looked at every health-check interval, never
//!   more often than every 10 ms; a cancel or a pause wakes the checker at once.
//! - An `OVERDUE` deploy lists its running, unhealthy tasks as `TASK_FAILED_HEALTH_CHECKS`;
//!   tasks still starting are not listed (Singularity: `TASK_NEVER_ENTERED_RUNNING`).
//! - Jackson's leniency is modelled where a deploy file meets it (a number or boolean where a
//!   string is due, a string of digits where a number is due, a float truncated to an int);
//!   Java's printing of a `double` is modelled up to 10⁷ (no exponent form).
//! - The stop grace (5 s) is the Mesos agent's, not a Singularity setting.
//! - Requests and deploys keep only their Java classes' properties, as Singularity's
//!   ObjectMapper does (see `objects`), except that a request's `daemon` is written back.
//! - What it keeps and accepts is bounded (`limits`): bodies of 32 KiB, 50 requests, the
//!   newest 20 deploys of each in the history, health-check timings within an hour.
//! - A platform stopped while a task is still starting stops that task once it has started,
//!   after [`Singularity::shutdown`] has returned.

mod api;
mod checker;
mod decide;
mod health;
mod jackson;
mod lifecycle;
mod limits;
mod objects;
mod state;
mod watch;

use std::{
    ops::RangeInclusive,
    sync::{Arc, atomic::AtomicBool},
    time::Duration,
};

use axum::Router;
use serde::Serialize;
use tokio::sync::Mutex;

pub use self::state::HealthcheckResult;
use self::{
    lifecycle::DeployState,
    state::{State, TaskStatus},
};
use crate::runtime::Runtime;

/// The deploy checker's timings and where tasks run.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The host name tasks get as `TASK_HOST`, and where their health checks go.
    pub task_host: String,
    /// Between two health checks of a task, and two looks at a deploy
    /// (Singularity: `healthcheckIntervalSeconds`, 5 s).
    pub check_interval: Duration,
    /// How long one health check may take (`healthcheckTimeoutSeconds`, 5 s).
    pub check_timeout: Duration,
    /// How long a running task's checks may be refused (nothing listening yet) before the
    /// deploy fails (`startupTimeoutSeconds`, 45 s). Checks that fail otherwise (an HTTP
    /// error) fail the deploy past this plus one interval and one check timeout.
    pub startup_timeout: Duration,
    /// What a deploy may take beyond its health checks before it ends `OVERDUE`
    /// (`deployHealthyBySeconds`, 120 s; Singularity adds the whole health-check time to it).
    pub deploy_timeout: Duration,
    /// Between SIGTERM and SIGKILL when a task is stopped (Mesos ≥ 1.0: 5 s).
    pub stop_grace: Duration,
    /// The agent's port range, handed out as `PORT0`… (Mesos: 31000–32000).
    pub ports: RangeInclusive<u16>,
}

impl Default for Settings {
    /// Singularity's and Mesos's own defaults, tasks on `localhost`.
    fn default() -> Settings {
        Settings {
            task_host: "localhost".into(),
            check_interval: Duration::from_secs(5),
            check_timeout: Duration::from_secs(5),
            startup_timeout: Duration::from_secs(45),
            deploy_timeout: Duration::from_secs(120),
            stop_grace: Duration::from_secs(5),
            ports: 31000..=32000,
        }
    }
}

/// The model: cheap to clone (all clones share it).
pub struct Singularity<R: Runtime> {
    inner: Arc<Inner<R>>,
}

impl<R: Runtime> Clone for Singularity<R> {
    fn clone(&self) -> Self {
        Singularity {
            inner: Arc::clone(&self.inner),
        }
    }
}

pub(crate) struct Inner<R> {
    runtime: R,
    settings: Settings,
    state: Mutex<State>,
    /// For health checks: redirects followed within the task's origin, no proxy, a timeout
    /// on every check.
    health: reqwest::Client,
    /// Whether the look at all tasks every check interval has started.
    watching: AtomicBool,
    /// Running tasks' lines last fetched for the page.
    fetched: watch::Cache,
}

/// How many redirects a health check follows: `SingularityHealthchecker` asks its
/// AsyncHttpClient to follow them (`setFollowRedirects(true)`), which stops after 5
/// (`maxRedirects`, AsyncHttpClient's default).
const HEALTH_REDIRECTS: usize = 5;

/// Redirects a health check follows: up to [`HEALTH_REDIRECTS`], and only within the task's
/// own origin (scheme, host and port). Singularity follows them anywhere; this platform is
/// a local service a task must not be able to point at other hosts or the laptop's other
/// ports, and a `/health` that redirects within its own server (to `/health/`, `/ready`)
/// passes as it would there. The check's timeout bounds the whole chain.
fn health_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let first = attempt.previous().first().map(reqwest::Url::origin);
        if attempt.previous().len() > HEALTH_REDIRECTS {
            attempt.error(format!(
                "more than {HEALTH_REDIRECTS} redirects, not followed"
            ))
        } else if first != Some(attempt.url().origin()) {
            let error = format!(
                "a redirect to {} is not followed: this platform follows redirects only \
                 within the task's own host and port",
                attempt.url()
            );
            attempt.error(error)
        } else {
            attempt.follow()
        }
    })
}

impl<R: Runtime> Singularity<R> {
    pub fn new(runtime: R, settings: Settings) -> Singularity<R> {
        let health = reqwest::Client::builder()
            .no_proxy()
            .redirect(health_redirects())
            .timeout(settings.check_timeout)
            .build()
            .expect("an HTTP client without TLS builds");
        let state = State::default();
        Singularity {
            inner: Arc::new(Inner {
                runtime,
                settings,
                state: Mutex::new(state),
                health,
                watching: AtomicBool::new(false),
                fetched: watch::Cache::default(),
            }),
        }
    }

    /// The API, under `/singularity`.
    pub fn router(&self) -> Router {
        Router::new().nest("/singularity", api::routes(self.clone()))
    }

    /// What the page shows, newest deploys and tasks first. It costs no call to the runtime.
    pub async fn view(&self) -> ModelView {
        let state = self.inner.state.lock().await;
        let mut view = ModelView::default();
        for (id, entry) in &state.requests {
            view.requests.push(RequestView {
                id: id.clone(),
                state: entry.state.name(),
                instances: entry.request.instances().unsigned_abs(),
                active_deploy: entry.active_deploy.clone(),
                pending_deploy: entry.pending.as_ref().map(|p| p.deploy_id.clone()),
            });
            for deploy in &entry.deploys {
                let pending = entry
                    .pending
                    .as_ref()
                    .filter(|p| p.deploy_id == deploy.marker.deploy_id);
                let result = deploy.result.as_ref();
                view.deploys.push(DeployView {
                    request_id: id.clone(),
                    deploy_id: deploy.marker.deploy_id.clone(),
                    image: deploy.deploy.image().into(),
                    state: (result.map(|r| r.state))
                        .or(pending.map(|p| p.state))
                        .unwrap_or(DeployState::Waiting)
                        .name(),
                    message: result.and_then(|r| r.message.clone()),
                    failures: result.map_or(Vec::new(), |r| {
                        r.failures
                            .iter()
                            .map(|f| FailureView {
                                reason: f.reason.name(),
                                task_id: f.task_id.as_ref().map(|t| t.id.clone()),
                                message: f.message.clone(),
                            })
                            .collect()
                    }),
                    started_at: deploy.marker.timestamp,
                    finished_at: result.map(|r| r.timestamp),
                    user: deploy.marker.user.clone(),
                    deploy_message: deploy.marker.message.clone(),
                });
            }
        }
        view.deploys
            .sort_by_key(|d| std::cmp::Reverse(d.started_at));
        for task in state.tasks.iter().rev() {
            view.tasks.push(TaskView {
                task_id: task.id.id.clone(),
                request_id: task.id.request_id.clone(),
                deploy_id: task.id.deploy_id.clone(),
                instance_no: task.id.instance_no,
                address: format!(
                    "{}:{}",
                    self.inner.settings.task_host,
                    task.ports.first().copied().unwrap_or_default()
                ),
                status: task.status.name(),
                healthy: matches!(task.status, TaskStatus::Running { healthy: true, .. }),
                exit_code: match task.status {
                    TaskStatus::Failed { code, .. } => code,
                    _ => None,
                },
                health_checks: task.checks.iter().cloned().collect(),
                digest: task.digest.clone(),
            });
        }
        view
    }

    /// The last lines of `task_id`'s output (at most 20): kept since it ended, or fetched
    /// while it runs, at most once a second however often it is asked. `None` for a task the
    /// model does not list.
    pub async fn task_lines(&self, task_id: &str) -> Option<Vec<String>> {
        watch::lines(&self.inner, task_id).await
    }

    /// Stops every task still running, each with the stop grace; returns when all are gone.
    pub async fn shutdown(&self) {
        checker::stop_all(&self.inner).await;
    }
}

/// What the page shows: a snapshot of the model.
#[derive(Debug, Default, Serialize)]
pub struct ModelView {
    pub requests: Vec<RequestView>,
    /// Newest first.
    pub deploys: Vec<DeployView>,
    /// Newest first; finished tasks are kept for a while.
    pub tasks: Vec<TaskView>,
}

#[derive(Debug, Serialize)]
pub struct RequestView {
    pub id: String,
    /// `ACTIVE`, `PAUSED`, or `DEPLOYING_TO_UNPAUSE`.
    pub state: &'static str,
    pub instances: u64,
    pub active_deploy: Option<String>,
    pub pending_deploy: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct DeployView {
    pub request_id: String,
    pub deploy_id: String,
    pub image: String,
    /// `WAITING`, `CANCELING`, or a final `DeployState`.
    pub state: &'static str,
    /// Singularity's message once the deploy has ended.
    pub message: Option<String>,
    pub failures: Vec<FailureView>,
    /// Epoch milliseconds.
    pub started_at: u64,
    pub finished_at: Option<u64>,
    /// Who deployed and why (the deploy request's `message`), when known.
    pub user: Option<String>,
    pub deploy_message: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct FailureView {
    pub reason: &'static str,
    pub task_id: Option<String>,
    pub message: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct TaskView {
    pub task_id: String,
    pub request_id: String,
    pub deploy_id: String,
    pub instance_no: usize,
    /// `TASK_HOST:PORT0`.
    pub address: String,
    /// The Mesos task state: `TASK_STARTING`, `TASK_RUNNING`, `TASK_FAILED`,
    /// `TASK_FINISHED` (exited 0) or `TASK_KILLED`.
    pub status: &'static str,
    /// Whether its health check has passed.
    pub healthy: bool,
    pub exit_code: Option<i32>,
    /// The newest checks, oldest first.
    pub health_checks: Vec<HealthcheckResult>,
    /// The digest of the image it runs, when the agent pulled it from a registry (an image
    /// without a registry host runs as the laptop's engine has it: no digest).
    pub digest: Option<String>,
}
