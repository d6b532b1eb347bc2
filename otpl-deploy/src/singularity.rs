//! The part of Singularity's HTTP API a deploy needs: save the request, start the deploy,
//! follow it to its end.

use std::{
    thread,
    time::{Duration, Instant},
};

use reqwest::{
    Method, StatusCode,
    blocking::{Client, Response},
    header::CONTENT_TYPE,
};
use serde_json::Value;

use crate::Error;

/// The longest any one call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// A deploy's end: its state and Singularity's explanation.
pub struct DeployResult {
    pub state: String,
    pub message: String,
}

pub struct Singularity {
    base: String,
    client: Client,
    /// When to give up, whatever is in progress.
    deadline: Instant,
}

impl Singularity {
    /// A client for the API at `base` (e.g. `http://singularity.example.com/singularity`).
    pub fn new(base: &str, deadline: Instant) -> Result<Singularity, Error> {
        // Singularity is inside the datacentre: a proxy set for the outside world must not
        // be used to reach it.
        let client = Client::builder()
            .no_proxy()
            .connect_timeout(CALL_TIMEOUT)
            .build()
            .map_err(|err| Error::Deploy(format!("Cannot make an HTTP client: {err}")))?;
        Ok(Singularity {
            base: base.to_string(),
            client,
            deadline,
        })
    }

    /// Creates the request, or updates it (`POST /api/requests`).
    pub fn save_request(&self, request: &Value, request_id: &str) -> Result<(), Error> {
        let (call, response) = self.call(Method::POST, "/api/requests", Some(request))?;
        ok_or_fail(&call, response)?;
        println!("Saved request {request_id}");
        Ok(())
    }

    /// Starts the deploy (`POST /api/deploys`); Singularity allows one at a time per request.
    pub fn start_deploy(
        &self,
        deploy_request: &Value,
        request_id: &str,
        deploy_id: &str,
        image: &str,
    ) -> Result<(), Error> {
        let (call, response) = self.call(Method::POST, "/api/deploys", Some(deploy_request))?;
        if response.status() == StatusCode::CONFLICT {
            return Err(Error::Deploy(format!(
                "A deploy is already in progress for request {request_id}: let it finish, or \
                 cancel it in Singularity, then deploy again ({})",
                excerpt(response)
            )));
        }
        ok_or_fail(&call, response)?;
        println!("Started deploy {deploy_id} of {image}");
        Ok(())
    }

    /// Looks at the deploy every `poll` until it ends, printing each change of state.
    pub fn follow(
        &self,
        request_id: &str,
        deploy_id: &str,
        poll: Duration,
    ) -> Result<DeployResult, Error> {
        let path = format!("/api/history/request/{request_id}/deploy/{deploy_id}");
        let mut last = String::new();
        loop {
            let state = self.deploy_result(&path)?;
            let name = state.as_ref().map_or("pending", |s| s.state.as_str());
            if name != last {
                println!("Deploy {deploy_id}: {name}");
                last = name.to_string();
            }
            if let Some(result) =
                state.filter(|s| !matches!(s.state.as_str(), "WAITING" | "CANCELING"))
            {
                return Ok(result);
            }
            // Stop when the next look would come too late.
            if Instant::now() + poll > self.deadline {
                return Err(Error::Deploy(format!(
                    "Deploy {deploy_id} of {request_id} still {last} when the time ran out \
                     (--timeout); it goes on in Singularity"
                )));
            }
            thread::sleep(poll);
        }
    }

    /// The deploy's result, or `None` while it is pending: Singularity answers 404 until it
    /// records the deploy in its history, and leaves out `deployResult` until the deploy ends.
    fn deploy_result(&self, path: &str) -> Result<Option<DeployResult>, Error> {
        let (call, response) = self.call(Method::GET, path, None)?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let body = ok_or_fail(&call, response)?;
        let history: Value = serde_json::from_str(&body)
            .map_err(|err| Error::Deploy(format!("{call}: the answer is not JSON: {err}")))?;
        let result = &history["deployResult"];
        Ok(result["deployState"].as_str().map(|state| DeployResult {
            state: state.to_string(),
            message: result["message"].as_str().unwrap_or_default().to_string(),
        }))
    }

    /// One call, bounded by [`CALL_TIMEOUT`] and by the deadline. Returns the call as text
    /// (`POST http://...`) with the answer, whatever its status; fails when there is none.
    fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(String, Response), Error> {
        let url = format!("{}{path}", self.base);
        let call = format!("{method} {url}");
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Error::Deploy(format!(
                "{call}: the time ran out (--timeout)"
            )));
        }
        let mut request = self
            .client
            .request(method, &url)
            .timeout(left.min(CALL_TIMEOUT));
        if let Some(body) = body {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_string());
        }
        match request.send() {
            Ok(response) => Ok((call, response)),
            Err(err) if err.is_timeout() => Err(Error::Deploy(format!(
                "{call}: no answer within {:.1} s",
                left.min(CALL_TIMEOUT).as_secs_f64()
            ))),
            Err(err) => Err(Error::Deploy(format!("{call}: {}", root_cause(&err)))),
        }
    }
}

/// The body of a 2xx answer; any other status fails with the call, the status and what
/// Singularity said.
fn ok_or_fail(call: &str, response: Response) -> Result<String, Error> {
    let status = response.status();
    if status.is_success() {
        return response
            .text()
            .map_err(|err| Error::Deploy(format!("{call}: {}", root_cause(&err))));
    }
    Err(Error::Deploy(format!(
        "{call} answered {status}: {}",
        excerpt(response)
    )))
}

/// The start of an answer's body on one line: Singularity explains its refusals there.
fn excerpt(response: Response) -> String {
    let body = response.text().unwrap_or_default();
    let line = body.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None if line.is_empty() => "(no message)".into(),
        None => line,
    }
}

/// The innermost cause of an HTTP error, e.g. `Connection refused (os error 111)`: the
/// outer layers only repeat the URL.
fn root_cause(err: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = err;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}
