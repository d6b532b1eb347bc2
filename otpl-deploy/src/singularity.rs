//! The part of Singularity's HTTP API a deploy needs: save the request, start the deploy,
//! follow it to its end. Every answer is checked against what the API promises: a status or
//! a body that is not that is an error naming the call and what came back.

use std::{
    thread,
    time::{Duration, Instant},
};

use serde_json::Value;
use ureq::{
    Agent,
    http::{
        HeaderValue, Method, Response, StatusCode,
        header::{AUTHORIZATION, CONTENT_TYPE, LOCATION},
    },
    tls::{RootCerts, TlsConfig},
};

use crate::{Error, Shown, base_url::BaseUrl};

/// The longest any one call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// The most of an answer's body that is read. Singularity's largest answer here, a request
/// with its deploys, is a few kilobytes; anything beyond this is not Singularity talking.
pub const BODY_LIMIT: usize = 1 << 20;

/// How many history polls in a row may answer 404 before the deploy counts as not found.
/// Singularity records the deploy before `POST /api/deploys` answers, so even one is odd;
/// a few allow for a replica that lags behind.
const NOT_FOUND_POLLS: usize = 3;

/// The wait before the next look at a deploy followed for `elapsed`: every 0.25 s for the
/// first 2 s (a deploy refused at once, or whose image is missing, ends there), every second
/// up to a minute (a workshop deploy ends within one), then `longest`, the pace of
/// Singularity's own deploy checker (every 5 s by default); never more than `longest`.
/// Each look is two small GETs, so the quick start costs a server at most 8 calls a second,
/// for 2 s.
pub fn pause(elapsed: Duration, longest: Duration) -> Duration {
    let pace = if elapsed < Duration::from_secs(2) {
        Duration::from_millis(250)
    } else if elapsed < Duration::from_secs(60) {
        Duration::from_secs(1)
    } else {
        longest
    };
    pace.min(longest)
}

/// A finished deploy: its state, Singularity's explanation, and each task's cause.
pub struct DeployResult {
    pub state: String,
    pub message: String,
    pub failures: Vec<DeployFailure>,
}

/// One entry of `deployFailures`.
pub struct DeployFailure {
    pub reason: String,
    pub task_id: String,
    pub message: String,
}

pub struct Singularity {
    base: BaseUrl,
    agent: Agent,
    /// `Bearer …` from `SINGULARITY_TOKEN`, marked sensitive: never shown.
    token: Option<HeaderValue>,
    /// When to give up, whatever is in progress.
    deadline: Instant,
    /// How a line that carries what the server sent is printed.
    shown: Shown,
}

/// One answer: status, content type and body (at most [`BODY_LIMIT`] bytes of it), the
/// secrets it echoed already hidden.
struct Answer {
    call: String,
    status: StatusCode,
    content_type: String,
    location: Option<String>,
    body: String,
    shown: Shown,
}

impl Singularity {
    /// A client for the API at `base` (e.g. `https://singularity.example.com/singularity`),
    /// sending `token` as a bearer token when there is one.
    pub fn new(
        base: BaseUrl,
        token: Option<&str>,
        deadline: Instant,
        shown: Shown,
    ) -> Result<Singularity, Error> {
        // Singularity is inside the datacentre: a proxy set for the outside world must not
        // be used to reach it. A redirect is never followed: a 302 to a POST would be
        // followed as a GET without a body, and its 200 taken for the POST's. Every status
        // is an answer to look at, not an error. Certificates are checked against the
        // operating system's trusted roots, as a browser on the same machine does.
        let agent: Agent = Agent::config_builder()
            .proxy(None)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .http_status_as_error(false)
            .timeout_connect(Some(CALL_TIMEOUT))
            .tls_config(
                TlsConfig::builder()
                    .root_certs(RootCerts::PlatformVerifier)
                    .build(),
            )
            .build()
            .into();
        let token = match token {
            Some(token) => {
                let mut value =
                    HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                        Error::Config(
                            "SINGULARITY_TOKEN holds characters a header cannot carry".into(),
                        )
                    })?;
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        Ok(Singularity {
            base,
            agent,
            token,
            deadline,
            shown,
        })
    }

    /// Creates the request, or updates it (`POST /api/requests`).
    pub fn save_request(&self, request: &Value, request_id: &str) -> Result<(), Error> {
        let answer = self.call(Method::POST, "/api/requests", Some(request))?;
        answer.parent()?;
        println!("Saved request {request_id}");
        Ok(())
    }

    /// Starts the deploy (`POST /api/deploys`). A refusal (409: one already pending, the
    /// request paused, deploys disabled; 400: invalid) is reported with Singularity's message.
    pub fn start_deploy(
        &self,
        deploy_request: &Value,
        deploy_id: &str,
        image: &str,
    ) -> Result<(), Error> {
        let answer = self.call(Method::POST, "/api/deploys", Some(deploy_request))?;
        answer.parent()?;
        println!("Started deploy {deploy_id} of {image}");
        Ok(())
    }

    /// Follows the deploy until it ends, at [`pause`]'s pace with `longest` as its upper
    /// bound: its live state from the request's `pendingDeployState`, printed at each
    /// change, and its outcome from the history.
    pub fn follow(
        &self,
        request_id: &str,
        deploy_id: &str,
        longest: Duration,
    ) -> Result<DeployResult, Error> {
        let started = Instant::now();
        let history = format!("/api/history/request/{request_id}/deploy/{deploy_id}");
        let request = format!("/api/requests/request/{request_id}");
        let (mut last, mut not_found) = (String::new(), 0);
        loop {
            let answer = self.call(Method::GET, &history, None)?;
            if answer.status == StatusCode::NOT_FOUND {
                not_found += 1;
                if not_found >= NOT_FOUND_POLLS {
                    return Err(Error::Deploy(format!(
                        "Deploy {deploy_id} of {request_id} not found: {} answered 404 Not Found \
                         {not_found} times in a row: {}",
                        answer.call,
                        answer.message()
                    )));
                }
            } else {
                not_found = 0;
                let history = answer.object("deployMarker")?;
                if let Some(result) = deploy_result(&history["deployResult"], &self.shown) {
                    if result.state != last {
                        self.say(&format!("Deploy {deploy_id}: {}", result.state));
                    }
                    return Ok(result);
                }
                let parent = self.call(Method::GET, &request, None)?.parent()?;
                if let Some(state) = live_state(&parent, deploy_id, &self.shown)
                    && state != last
                {
                    self.say(&format!("Deploy {deploy_id}: {state}"));
                    last = state;
                }
            }
            let poll = pause(started.elapsed(), longest);
            // Stop when the next look would come too late.
            if Instant::now() + poll > self.deadline {
                let last = if last.is_empty() { "pending" } else { &last };
                return Err(Error::Deploy(format!(
                    "Deploy {deploy_id} of {request_id} still {last} when the time ran out \
                     (--timeout); it goes on in Singularity"
                )));
            }
            thread::sleep(poll);
        }
    }

    /// One call, bounded by [`CALL_TIMEOUT`] and by the deadline, its body by [`BODY_LIMIT`].
    /// Fails when there is no answer; any status is returned.
    fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Answer, Error> {
        let url = format!("{}{path}", self.base.url);
        // What messages show: never the URL's credentials.
        let call = format!("{method} {}{path}", self.base.shown);
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Error::Deploy(format!(
                "{call}: the time ran out (--timeout)"
            )));
        }
        let limit = left.min(CALL_TIMEOUT);
        let timeout = |err: &ureq::Error| {
            matches!(err, ureq::Error::Timeout(_))
                .then(|| format!("no whole answer within {:.1} s", limit.as_secs_f64()))
        };
        let mut request = ureq::http::Request::builder().method(method).uri(&url);
        if let Some(token) = &self.token {
            request = request.header(AUTHORIZATION, token.clone());
        }
        let sent = match body {
            Some(body) => request
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_string())
                .map(|request| self.send(request, limit)),
            None => request.body(()).map(|request| self.send(request, limit)),
        };
        let mut response = match sent {
            Ok(Ok(response)) => response,
            Ok(Err(err)) => {
                let cause = timeout(&err).unwrap_or_else(|| root_cause(&err));
                return Err(Error::Deploy(format!("{call}: {cause}")));
            }
            Err(err) => return Err(Error::Deploy(format!("{call}: {err}"))),
        };
        let header = |response: &Response<ureq::Body>, name| {
            response
                .headers()
                .get(name)
                .map(|value: &HeaderValue| String::from_utf8_lossy(value.as_bytes()).into_owned())
        };
        let (status, content_type) = (response.status(), header(&response, CONTENT_TYPE));
        let location = header(&response, LOCATION);
        // The call's timeout covers the body too: an endless answer ends at the limit of size
        // or time, whichever comes first.
        let bytes = match response
            .body_mut()
            .with_config()
            .limit(BODY_LIMIT as u64)
            .read_to_vec()
        {
            Ok(bytes) => bytes,
            Err(ureq::Error::BodyExceedsLimit(_)) => {
                return Err(Error::Deploy(format!(
                    "{call} answered {status} with more than {} KiB: not Singularity's API",
                    BODY_LIMIT / 1024
                )));
            }
            Err(err) => {
                let cause = timeout(&err)
                    .unwrap_or_else(|| format!("reading the answer: {}", root_cause(&err)));
                return Err(Error::Deploy(format!(
                    "{call} answered {status}, then {cause}"
                )));
            }
        };
        // Hidden before anything is cut or parsed out of it: a secret cut in two, or taken
        // out of the JSON around it, is still a secret.
        let hide = |text: &str| self.shown.hide(text);
        Ok(Answer {
            call,
            status,
            content_type: content_type.map(|t| hide(&t)).unwrap_or_default(),
            location: location.map(|l| hide(&l)),
            body: hide(&String::from_utf8_lossy(&bytes)),
            shown: self.shown.clone(),
        })
    }
}

impl Singularity {
    /// Prints a line that carries what the server sent (see [`Shown`]).
    fn say(&self, line: &str) {
        println!("{}", self.shown.text(line));
    }

    /// Sends `request` with a deadline of `limit` for the whole exchange, body included.
    fn send<B: ureq::AsSendBody>(
        &self,
        request: ureq::http::Request<B>,
        limit: Duration,
    ) -> Result<Response<ureq::Body>, ureq::Error> {
        let request = self
            .agent
            .configure_request(request)
            .timeout_global(Some(limit))
            .build();
        self.agent.run(request)
    }
}

impl Answer {
    /// A SingularityRequestParent, which both POSTs and the request's GET answer with.
    fn parent(self) -> Result<Value, Error> {
        self.object("request")
    }

    /// The body of a 200 that must be a JSON object with `field`; anything else is an error
    /// naming the call and what came back.
    fn object(self, field: &str) -> Result<Value, Error> {
        if self.status != StatusCode::OK {
            return Err(Error::Deploy(self.refusal()));
        }
        match serde_json::from_str::<Value>(&self.body) {
            Ok(value) if value.get(field).is_some() => Ok(value),
            _ => Err(Error::Deploy(format!(
                "{} answered {} with {}, not Singularity's JSON: {}",
                self.call,
                self.status,
                if self.content_type.is_empty() {
                    "no content type"
                } else {
                    &self.content_type
                },
                self.excerpt(&self.body)
            ))),
        }
    }

    /// An answer that is not a 200: the status and Singularity's message, or where a
    /// redirect pointed.
    fn refusal(&self) -> String {
        if self.status.is_redirection() {
            return format!(
                "{} answered {}, to {}: redirects are not followed; set SINGULARITY_URL to \
                 the API's own address",
                self.call,
                self.status,
                self.location.as_deref().unwrap_or("nowhere")
            );
        }
        format!("{} answered {}: {}", self.call, self.status, self.message())
    }

    /// What the server said: the `message` of Dropwizard's `{"code", "message"}`, other JSON
    /// as it reads once parsed (its escapes undone, so that no secret hides behind one), or the
    /// plain text of Singularity's 400s.
    fn message(&self) -> String {
        match serde_json::from_str::<Value>(&self.body) {
            Ok(Value::Object(error)) if error.get("message").is_some_and(Value::is_string) => {
                self.excerpt(error["message"].as_str().unwrap_or_default())
            }
            Ok(json) => self.excerpt(&json.to_string()),
            Err(_) => self.excerpt(&self.body),
        }
    }

    fn excerpt(&self, text: &str) -> String {
        excerpt(&self.shown.hide(text))
    }
}

/// `deployResult`, once the deploy has one. Every field is the server's: each on one line, its
/// secrets hidden, so that none can forge a line of ours.
fn deploy_result(result: &Value, shown: &Shown) -> Option<DeployResult> {
    let line = |value: &Value| one_line(&shown.hide(value.as_str().unwrap_or_default()));
    let state = line(result.get("deployState").filter(|s| s.is_string())?);
    let failures = result["deployFailures"]
        .as_array()
        .map_or(Vec::new(), |failures| {
            failures
                .iter()
                .map(|failure| {
                    // A SingularityTaskId is an object whose `id` is the task's name.
                    let task = &failure["taskId"];
                    DeployFailure {
                        reason: line(&failure["reason"]),
                        task_id: match task.get("id") {
                            Some(id) => line(id),
                            None => line(task),
                        },
                        message: excerpt(
                            &shown.hide(failure["message"].as_str().unwrap_or_default()),
                        ),
                    }
                })
                .collect()
        });
    Some(DeployResult {
        state,
        message: excerpt(&shown.hide(result["message"].as_str().unwrap_or_default())),
        failures,
    })
}

/// The deploy's live state from a SingularityRequestParent: `WAITING` or `CANCELING`, with
/// the deploy's progress when Singularity says: its active instances out of those wanted.
/// Singularity counts none active until every instance has passed its health check, then
/// all of them at once, a check before the deploy succeeds. `None` once the request no
/// longer shows it pending: it has just ended, and the history has its result.
fn live_state(parent: &Value, deploy_id: &str, shown: &Shown) -> Option<String> {
    let pending = &parent["pendingDeployState"];
    if pending["deployMarker"]["deployId"] != deploy_id {
        return None;
    }
    let state = one_line(&shown.hide(pending["currentDeployState"].as_str()?));
    let progress = &pending["deployProgress"];
    Some(
        match (
            progress["currentActiveInstances"].as_u64(),
            progress["targetActiveInstances"].as_u64(),
        ) {
            (Some(active), Some(target)) => {
                format!("{state} ({active} of {target} instances active)")
            }
            _ => state,
        },
    )
}

/// Text on one line, at most 1000 characters: a server's message, or the start of a body.
fn excerpt(text: &str) -> String {
    match one_line(text) {
        line if line.is_empty() => "(no message)".into(),
        line => line,
    }
}

/// `text` on one line (every run of white space, line breaks included, one space), at most
/// 1000 characters.
fn one_line(text: &str) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(1000) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    }
}

/// The innermost cause of an error, e.g. `Connection refused (os error 111)` or
/// `invalid peer certificate: UnknownIssuer`: the outer layers only repeat what failed.
fn root_cause(err: &ureq::Error) -> String {
    let mut cause: &dyn std::error::Error = match err {
        ureq::Error::Io(io) => io,
        other => other,
    };
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_come_quickly_at_first_then_back_off_to_the_longest_wait() {
        let (s, ms) = (Duration::from_secs, Duration::from_millis);
        let five = s(5);
        assert_eq!(pause(ms(0), five), ms(250));
        assert_eq!(pause(ms(1999), five), ms(250));
        assert_eq!(pause(s(2), five), s(1));
        assert_eq!(pause(s(59), five), s(1));
        assert_eq!(pause(s(60), five), five);
        // `--poll` bounds every wait.
        assert_eq!(pause(ms(0), ms(50)), ms(50));
        assert_eq!(pause(s(30), ms(500)), ms(500));
    }
}
