//! Announcing the service to OpenTable's discovery, so that other services find it by its
//! type rather than by a host and port that change with every deploy.
//!
//! The protocol is plain HTTP and JSON:
//! 1. `GET http://$DISCOVERY_HOST/watch` lists every announcement; those of type
//!    `discovery` are the discovery servers.
//! 2. `POST {server}/announcement` sends ours; `201 Created` means we are listed.
//! 3. The same POST, with the same id, every heartbeat: a server forgets an announcement
//!    that is not renewed within about 10 s, so a task that dies drops out on its own.
//! 4. `DELETE {server}/announcement/{id}` takes us off the list at once, before we stop.
//!
//! Discovery is a server we do not control, and it must never hurt the service: what we
//! read from it is bounded in time and in size, we follow none of its redirects, and the
//! heartbeat runs on a thread of its own, so that a server keeping it busy cannot slow
//! down the requests we serve, nor our stop.

use std::{env, error::Error, net::IpAddr, thread, time::Duration};

use reqwest::{Client, Response, StatusCode, Url, redirect};
use serde::{Deserialize, Serialize};
use tokio::{
    runtime,
    sync::oneshot,
    time::{self, MissedTickBehavior},
};
use uuid::Uuid;

/// How long connecting to a discovery server may take.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// How long a whole request may take: a server that hangs must not stall the heartbeat.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// How long unannouncing may take: it happens between SIGTERM and Mesos's SIGKILL.
const UNANNOUNCE_TIMEOUT: Duration = Duration::from_secs(1);
/// How long the stop waits for the heartbeat to end: a little longer than the unannouncing,
/// so that its error, if any, is said; never longer, however busy the heartbeat is kept.
const LEAVE_LIMIT: Duration = Duration::from_millis(1200);
/// The most we read of the seed host's listing. An announcement takes about 250 bytes, so
/// 1 MiB holds some 4,000: ample for a region of a few hundred services of a few instances
/// each. A longer answer is refused, whether endless or only huge: memory must not depend
/// on what a server sends. (Of the other answers we read only the status.)
const LISTING_LIMIT: usize = 1024 * 1024;
/// How many of the listed discovery servers we keep. Dead servers drop out of the seed
/// host's listing like any other announcement, so once these few have failed, asking the
/// seed again beats trying the rest of a listing that may be old.
const SERVERS_KEPT: usize = 3;

/// Where to announce and what, read from the environment.
pub struct Settings {
    /// The seed host, `host[:port]`: its `/watch` lists the discovery servers.
    host: String,
    service_type: String,
    /// Our home region, e.g. `pp-sf`: the value of `OT_ENV`.
    environment: String,
    heartbeat: Duration,
}

impl Settings {
    /// Reads the settings: `None` in development mode (`OT_ENV` unset or `development`),
    /// because a service running on a laptop must never be announced. `Err` is a
    /// one-line message naming the variable at fault.
    pub fn from_env() -> Result<Option<Settings>, String> {
        let environment = match non_empty_env("OT_ENV") {
            Some(name) if name != "development" => name,
            _ => return Ok(None),
        };
        let host = non_empty_env("DISCOVERY_HOST").ok_or("DISCOVERY_HOST not set")?;
        // The URLs are built around it, so it must be a bare host name or address and
        // an optional port: no scheme, no path.
        let bare = host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._:[]".contains(c));
        if !bare || Url::parse(&format!("http://{host}")).is_err() {
            return Err(format!("DISCOVERY_HOST is not a host[:port]: {host:?}"));
        }
        // We announce TASK_HOST: "every address of this machine" would send others to themselves.
        let task_host = non_empty_env("TASK_HOST").unwrap_or_default();
        if task_host
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_unspecified())
        {
            return Err(format!(
                "TASK_HOST {task_host} cannot be announced: set it to this machine's name or address"
            ));
        }
        let service_type = non_empty_env("SERVICE_TYPE").unwrap_or_else(|| "hello-mesos".into());
        let heartbeat = match non_empty_env("DISCOVERY_HEARTBEAT_MS") {
            None => 10_000,
            Some(ms) => ms.parse().ok().filter(|&ms| ms > 0).ok_or_else(|| {
                format!("DISCOVERY_HEARTBEAT_MS is not a positive number of milliseconds: {ms:?}")
            })?,
        };
        Ok(Some(Settings {
            host,
            service_type,
            environment,
            heartbeat: Duration::from_millis(heartbeat),
        }))
    }
}

/// The URL at which a service listening on `host` and `port` is reached. An IPv6 address
/// goes in brackets (`http://[::1]:3000`): without them, its colons and the port's mix up.
pub fn url_of(host: &str, port: u16) -> String {
    match host.parse() {
        Ok(IpAddr::V6(_)) => format!("http://[{host}]:{port}"),
        _ => format!("http://{host}:{port}"),
    }
}

/// What we announce: the same announcement, with the same id, on every heartbeat.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Announcement {
    announcement_id: Uuid,
    service_type: String,
    service_uri: String,
    environment: String,
}

/// The part of the answer to `GET /watch` that we read: the announcements listed.
#[derive(Deserialize)]
struct Watch {
    updates: Vec<Listed>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Listed {
    service_type: String,
    service_uri: String,
}

/// The heartbeat running in the background, if we announce. [`Announcer::leave`] stops it.
pub struct Announcer {
    /// `None` in development mode: there is nothing to stop.
    heartbeat: Option<Running>,
}

struct Running {
    /// Sending on it tells the heartbeat to unannounce and end.
    stop: oneshot::Sender<()>,
    /// Closed once the heartbeat has ended.
    ended: oneshot::Receiver<()>,
}

/// Starts announcing `service_uri` in the background, unless in development mode.
/// Discovery failing never stops the service: each failure is one line on stderr, and
/// the next heartbeat tries again.
pub fn announce(settings: Option<Settings>, service_uri: String) -> Announcer {
    let Some(settings) = settings else {
        println!("Not announcing, as running in development mode.");
        return Announcer { heartbeat: None };
    };
    // Every request has a deadline, and goes straight to discovery: a proxy set in the
    // environment for the machine's other traffic must not stand in the way. A redirect is
    // an answer, not an order: a 302 would turn our POST into a GET that announces nothing,
    // a 307 would announce us to a server that we would not unannounce from.
    let http = Client::builder()
        .no_proxy()
        .redirect(redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .build();
    let http = match http {
        Ok(http) => http,
        Err(err) => {
            eprintln!("Discovery error: {}", explain(err));
            return Announcer { heartbeat: None };
        }
    };
    let announcement = Announcement {
        announcement_id: Uuid::new_v4(),
        service_type: settings.service_type,
        service_uri,
        environment: settings.environment,
    };
    let heartbeat = Heartbeat {
        http,
        host: settings.host,
        announcement,
        servers: Vec::new(),
        announced_to: None,
    };
    let (stop, stopped) = oneshot::channel();
    let (end, ended) = oneshot::channel::<()>();
    // A thread of its own, with a runtime of its own: a server that keeps the heartbeat
    // busy (one sending `100 Continue` without end keeps the HTTP client parsing for up to
    // seconds at a time, deaf to every timer of its runtime) keeps this thread busy, not
    // those that serve requests and stop us.
    let thread = thread::Builder::new().name("discovery".into());
    let spawned = thread.spawn(move || {
        // Dropped when the thread ends, which closes `ended`.
        let _end = end;
        match runtime::Builder::new_current_thread().enable_all().build() {
            Ok(runtime) => runtime.block_on(heartbeat.run(settings.heartbeat, stopped)),
            Err(err) => eprintln!("Discovery error: {err}"),
        }
    });
    if let Err(err) = spawned {
        eprintln!("Discovery error: {err}");
        return Announcer { heartbeat: None };
    }
    Announcer {
        heartbeat: Some(Running { stop, ended }),
    }
}

impl Announcer {
    /// Stops the heartbeat, which then unannounces, and waits for it to end, at most
    /// [`LEAVE_LIMIT`]: the stop never waits for discovery longer than that.
    pub async fn leave(self) {
        if let Some(Running { stop, ended }) = self.heartbeat {
            let _ = stop.send(());
            let _ = time::timeout(LEAVE_LIMIT, ended).await;
        }
    }
}

/// The client side of the protocol, run on the heartbeat's thread.
struct Heartbeat {
    http: Client,
    /// The seed host, `DISCOVERY_HOST`.
    host: String,
    announcement: Announcement,
    /// The first [`SERVERS_KEPT`] discovery servers the seed host listed; we announce to
    /// the first. A server that fails is dropped, and once none is left the seed host is
    /// asked again.
    servers: Vec<String>,
    /// The server that last accepted the announcement: the one to take it back from.
    announced_to: Option<String>,
}

impl Heartbeat {
    /// Announces at once and then every `period`, until `stop`; then unannounces.
    async fn run(mut self, period: Duration, mut stop: oneshot::Receiver<()>) {
        let mut beat = time::interval(period);
        // If a beat ever takes longer than the period (a server that hangs until the request
        // times out, with a short period), start the next one a whole period later.
        beat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            // The stop interrupts a beat wherever it is, even half-way through a request:
            // after it, we only unannounce.
            tokio::select! {
                _ = &mut stop => break,
                _ = async {
                    beat.tick().await;
                    if let Err(err) = self.announce().await {
                        eprintln!("Discovery error: {err}");
                    }
                } => {}
            }
        }
        self.unannounce().await;
    }

    /// Sends the announcement to a discovery server, first finding one if we know none.
    async fn announce(&mut self) -> Result<(), String> {
        if self.servers.is_empty() {
            self.servers = self.find_servers().await?;
        }
        let server = self.servers[0].clone();
        let url = format!("{server}/announcement");
        let sent = self.http.post(url).json(&self.announcement).send().await;
        if let Err(err) = answered(sent, &[StatusCode::CREATED]) {
            self.servers.remove(0);
            return Err(err);
        }
        if self.announced_to.replace(server).is_none() {
            let Announcement {
                service_type,
                service_uri,
                ..
            } = &self.announcement;
            println!("ANNOUNCED {service_type}@{service_uri} to {}", self.host);
        }
        Ok(())
    }

    /// Asks the seed host for the discovery servers.
    async fn find_servers(&self) -> Result<Vec<String>, String> {
        let url = format!("http://{}/watch", self.host);
        let sent = self.http.get(&url).send().await;
        let listing = body_of(answered(sent, &[StatusCode::OK])?, LISTING_LIMIT).await?;
        let watch: Watch = serde_json::from_slice(&listing)
            .map_err(|err| format!("{url} answered an invalid listing: {err}"))?;
        let servers: Vec<String> = watch
            .updates
            .into_iter()
            .filter(|listed| listed.service_type == "discovery")
            .map(|listed| listed.service_uri.trim_end_matches('/').to_string())
            .take(SERVERS_KEPT)
            .collect();
        if servers.is_empty() {
            return Err(format!("{url} lists no discovery server"));
        }
        Ok(servers)
    }

    /// Takes the announcement off the server that last accepted it, if one did.
    async fn unannounce(&self) {
        let Some(server) = &self.announced_to else {
            return;
        };
        let id = self.announcement.announcement_id;
        let url = format!("{server}/announcement/{id}");
        let sent = self
            .http
            .delete(url)
            .timeout(UNANNOUNCE_TIMEOUT)
            .send()
            .await;
        if let Err(err) = answered(sent, &[StatusCode::OK, StatusCode::NO_CONTENT]) {
            eprintln!("Discovery error: {err}");
        }
    }
}

/// The response to a request, if it came with one of the `expected` statuses.
fn answered(sent: reqwest::Result<Response>, expected: &[StatusCode]) -> Result<Response, String> {
    let response = sent.map_err(explain)?;
    if !expected.contains(&response.status()) {
        return Err(format!("{} answered {}", response.url(), response.status()));
    }
    Ok(response)
}

/// The body of `response`, read a chunk at a time, or an error as soon as it is longer
/// than `limit` bytes: what a server sends without end must not fill our memory.
async fn body_of(mut response: Response, limit: usize) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(explain)? {
        if body.len() + chunk.len() > limit {
            return Err(format!("{} sent more than {limit} bytes", response.url()));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A reqwest error on one line, with the causes it keeps behind its own message
/// (such as "Connection refused").
fn explain(err: reqwest::Error) -> String {
    let mut line = err.to_string();
    let mut cause = err.source();
    while let Some(source) = cause {
        line = format!("{line}: {source}");
        cause = source.source();
    }
    line
}

/// Reads an optional variable: unset and empty both mean "not given".
fn non_empty_env(name: &str) -> Option<String> {
    env::var(name).ok().filter(|value| !value.is_empty())
}
