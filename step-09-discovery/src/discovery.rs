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
//! down the requests we serve, nor our stop. Each request goes on a connection of its own,
//! which counts what it reads (see [`Capped`]), with hyper's own HTTP/1 client: what is
//! read is bounded only if every byte read is.

use std::{
    cell::Cell,
    env,
    error::Error,
    fmt, io,
    net::IpAddr,
    pin::{Pin, pin},
    rc::Rc,
    task::{Context, Poll, ready},
    thread,
    time::Duration,
};

use http_body_util::{BodyExt, Full};
use hyper::{
    Method, Request, StatusCode,
    body::Bytes,
    client::conn::http1,
    header::{CONTENT_TYPE, HOST},
    http::uri::{Authority, Uri},
};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
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
/// The most we read of an answer before its head has ended: a status line and a few
/// headers take a few hundred bytes. Informational answers (`100 Continue`) come before
/// the head and count too: they are what a server could otherwise send without end (see
/// [`Capped`]).
const HEAD_LIMIT: usize = 16 * 1024;
/// The most we read of the seed host's listing. An announcement takes about 250 bytes, so
/// 1 MiB holds some 4,000: ample for a region of a few hundred services of a few instances
/// each. A longer answer is refused, whether endless or only huge: memory must not depend
/// on what a server sends.
const LISTING_LIMIT: usize = 1024 * 1024;
/// The most we read of the answer to an announcement or an unannouncement: the echo of
/// the announcement, if any, takes about 250 bytes.
const ECHO_LIMIT: usize = 4 * 1024;
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
        let authority = host.parse().ok();
        if !bare || authority.as_ref().and_then(address_of).is_none() {
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

/// Where to connect for `authority` (`host[:port]`): its host, an IPv6 address without its
/// brackets, and its port, 80 if it names none. `None` if the port is not a port number.
fn address_of(authority: &Authority) -> Option<(&str, u16)> {
    let host = authority.host();
    let port = match authority.port_u16() {
        None if authority.as_str() == host => 80,
        port => port?,
    };
    Some((host.trim_start_matches('[').trim_end_matches(']'), port))
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
pub fn start_announcing(settings: Option<Settings>, service_uri: String) -> Announcer {
    let Some(settings) = settings else {
        println!("Not announcing, as running in development mode.");
        return Announcer { heartbeat: None };
    };
    let announcement = Announcement {
        announcement_id: Uuid::new_v4(),
        service_type: settings.service_type,
        service_uri,
        environment: settings.environment,
    };
    let heartbeat = Heartbeat {
        host: settings.host,
        announcement,
        servers: Vec::new(),
        announced_to: None,
    };
    let (stop, stopped) = oneshot::channel();
    let (end, ended) = oneshot::channel::<()>();
    // A thread of its own, with a runtime of its own: whatever keeps the heartbeat busy
    // (a slow DNS lookup, a server we have yet to give up on) keeps this thread busy, not
    // those that serve requests and stop us. Named, so that its CPU time shows on its own
    // (`top -H`).
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
                    if let Err(err) = self.renew().await {
                        eprintln!("Discovery error: {err}");
                    }
                } => {}
            }
        }
        self.unannounce().await;
    }

    /// Sends the announcement to a discovery server, first finding one if we know none.
    async fn renew(&mut self) -> Result<(), String> {
        if self.servers.is_empty() {
            self.servers = self.find_servers().await?;
        }
        let server = self.servers[0].clone();
        let url = format!("{server}/announcement");
        let json = serde_json::to_vec(&self.announcement).map_err(|err| err.to_string())?;
        let sent = send(
            Method::POST,
            &url,
            json.into(),
            &[StatusCode::CREATED],
            ECHO_LIMIT,
        );
        if let Err(err) = within(REQUEST_TIMEOUT, &url, sent).await {
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
        let sent = send(
            Method::GET,
            &url,
            Bytes::new(),
            &[StatusCode::OK],
            LISTING_LIMIT,
        );
        let listing = within(REQUEST_TIMEOUT, &url, sent).await?;
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
        let expected = [StatusCode::OK, StatusCode::NO_CONTENT];
        let sent = send(Method::DELETE, &url, Bytes::new(), &expected, ECHO_LIMIT);
        if let Err(err) = within(UNANNOUNCE_TIMEOUT, &url, sent).await {
            eprintln!("Discovery error: {err}");
        }
    }
}

/// The outcome of `request`, or an error if it takes longer than `limit`.
async fn within<T>(
    limit: Duration,
    url: &str,
    request: impl Future<Output = Result<T, String>>,
) -> Result<T, String> {
    time::timeout(limit, request)
        .await
        .unwrap_or_else(|_| Err(format!("{url} did not answer within {limit:?}")))
}

/// Sends `method url`, with `body` (JSON) if not empty, on a connection of its own, and
/// returns the answer's body if its status is one of `expected`: [`HEAD_LIMIT`] bytes at
/// most until its head has ended, `body_limit` bytes at most after. There is no redirect
/// to follow, and no proxy to go through: a redirect is an answer like any other, and
/// discovery is reached directly.
async fn send(
    method: Method,
    url: &str,
    body: Bytes,
    expected: &[StatusCode],
    body_limit: usize,
) -> Result<Bytes, String> {
    let uri: Uri = url
        .parse()
        .map_err(|err| format!("{url} is not a URL: {err}"))?;
    let address = match (uri.scheme_str(), uri.authority()) {
        (Some("http"), Some(authority)) => {
            address_of(authority).map(|address| (authority, address))
        }
        _ => None,
    };
    let Some((authority, address)) = address else {
        return Err(format!("{url} is not an http:// URL"));
    };
    let stream = time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address))
        .await
        .map_err(|_| format!("{url}: no connection within {CONNECT_TIMEOUT:?}"))?
        .map_err(|err| format!("{url}: {err}"))?;
    // What the connection may read: HEAD_LIMIT bytes, then body_limit once the head is in.
    let allowance = Rc::new(Cell::new(Allowance::of(HEAD_LIMIT)));
    let capped = Capped {
        stream,
        allowance: Rc::clone(&allowance),
    };
    let (mut sender, connection) = http1::handshake(TokioIo::new(capped))
        .await
        .map_err(|err| explain(url, &err))?;
    let path = uri.path_and_query().map_or("/", |path| path.as_str());
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(HOST, authority.as_str())
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(body))
        .map_err(|err| format!("{url}: {err}"))?;
    let failed = |err: hyper::Error| explain(url, &err);
    let answer = async {
        let response = sender.send_request(request).await.map_err(failed)?;
        if !expected.contains(&response.status()) {
            return Err(format!("{url} answered {}", response.status()));
        }
        allowance.set(Allowance::of(body_limit));
        let body = response.into_body().collect().await.map_err(failed)?;
        Ok(body.to_bytes())
    };
    // hyper's `connection` does the reading and the writing, alongside the answer, and
    // ends with it. (An error that comes once the head is in, it returns itself.)
    tokio::select! {
        biased;
        answer = answer => answer,
        Err(err) = pin!(connection) => Err(failed(err)),
    }
}

/// A TCP connection that fails its reads once it has read more than it may. hyper reads
/// whatever a server sends, for as long as it sends, even before the answer: hyper 1.x
/// skips informational answers (`100 Continue`) in a loop that does not yield, so a server
/// sending them without end keeps our CPU busy for up to a second at a time, and the
/// timeout of the request cannot fire meanwhile (see docs/09-discovery.md). The bound is
/// what stops it.
struct Capped {
    stream: TcpStream,
    /// [`send`] sets it, each read counts it down.
    allowance: Rc<Cell<Allowance>>,
}

/// The most that a [`Capped`] connection may read of the part of the answer it reads now,
/// and what is left of it.
#[derive(Clone, Copy)]
struct Allowance {
    bound: usize,
    left: usize,
}

impl Allowance {
    fn of(bound: usize) -> Allowance {
        Allowance { bound, left: bound }
    }
}

/// What a [`Capped`] connection's read fails with, past its bound.
#[derive(Debug)]
struct TooLong(usize);

impl fmt::Display for TooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "more than {} bytes", self.0)
    }
}

impl Error for TooLong {}

impl AsyncRead for Capped {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.stream).poll_read(cx, buf))?;
        let read = buf.filled().len() - before;
        let Allowance { bound, left } = self.allowance.get();
        if read > left {
            return Poll::Ready(Err(io::Error::other(TooLong(bound))));
        }
        self.allowance.set(Allowance {
            bound,
            left: left - read,
        });
        Poll::Ready(Ok(()))
    }
}

// Writing is the stream's own.
impl AsyncWrite for Capped {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// A hyper error on one line, after the URL it concerns: "sent more than … bytes" if the
/// connection refused to read on, else the error with the causes it keeps behind its own
/// message (such as "Connection reset by peer").
fn explain(url: &str, err: &hyper::Error) -> String {
    let mut line = format!("{url}: {err}");
    let mut cause = err.source();
    while let Some(source) = cause {
        // Ours, from `Capped`, in the I/O error that hyper wraps.
        let inner = source
            .downcast_ref::<io::Error>()
            .and_then(io::Error::get_ref);
        if let Some(TooLong(bound)) = inner.and_then(|inner| inner.downcast_ref()) {
            return format!("{url} sent more than {bound} bytes");
        }
        line = format!("{line}: {source}");
        cause = source.source();
    }
    line
}

/// Reads an optional variable: unset and empty both mean "not given".
fn non_empty_env(name: &str) -> Option<String> {
    env::var(name).ok().filter(|value| !value.is_empty())
}
