//! HTTP from the test's side: whole requests through `reqwest`, and requests sent
//! half-way over a raw socket to keep them in progress while the server is signalled.

use std::{
    error::Error,
    io::{self, Write},
    net::{SocketAddr, TcpStream},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    thread::{self, JoinHandle},
    time::{Duration, Instant},
};

use socket2::{Domain, Socket, Type};

/// How long any request may take.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(5);

/// The parts of a response that the contracts check.
#[derive(Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: String,
}

/// `GET url`, with a deadline and no proxy from the environment.
pub fn get(url: &str) -> Result<Response, String> {
    send(&client(), reqwest::Method::GET, url)
}

/// `HEAD url`, with a deadline and no proxy from the environment.
pub fn head(url: &str) -> Result<Response, String> {
    send(&client(), reqwest::Method::HEAD, url)
}

/// A client with a deadline on every request, that ignores proxy settings: tests talk to
/// processes on this machine only.
pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(REQUEST_DEADLINE)
        .build()
        .expect("an HTTP client without TLS builds")
}

fn send(
    client: &reqwest::blocking::Client,
    method: reqwest::Method,
    url: &str,
) -> Result<Response, String> {
    send_or_fail(client, method, url).map_err(|failure| match failure {
        Failure::Connection(message) | Failure::Other(message) => message,
    })
}

/// Why a request got no whole response.
#[derive(Debug)]
pub enum Failure {
    /// No response began: the connection was refused, or closed or reset before an answer
    /// came. What clients of a server that has stopped accepting may see.
    Connection(String),
    /// Anything else: a deadline passed, or a response was cut short.
    Other(String),
}

fn send_or_fail(
    client: &reqwest::blocking::Client,
    method: reqwest::Method,
    url: &str,
) -> Result<Response, Failure> {
    let what = format!("{method} {url}");
    let response = client.request(method, url).send().map_err(|err| {
        let message = format!("{what}: {}", with_causes(&err));
        if err.is_timeout() || !(err.is_connect() || err.is_request()) {
            Failure::Other(message)
        } else {
            Failure::Connection(message)
        }
    })?;
    let status = response.status().as_u16();
    let body = response
        .text()
        .map_err(|err| Failure::Other(format!("{what}: body: {}", with_causes(&err))))?;
    Ok(Response { status, body })
}

/// `err` and the errors that caused it, which reqwest keeps out of its own message.
fn with_causes(err: &dyn Error) -> String {
    let mut message = err.to_string();
    let mut cause = err.source();
    while let Some(err) = cause {
        message = format!("{message}: {err}");
        cause = err.source();
    }
    message
}

/// A client that stops half-way through sending a `GET`'s head and then waits: a stop signal
/// must not wait for it until Mesos's SIGKILL.
pub struct HalfRequest {
    _stream: TcpStream,
}

impl HalfRequest {
    /// Connects to `url` (`http://host:port`) and sends the first half of `GET path`.
    pub fn start(url: &str, path: &str) -> Result<HalfRequest, String> {
        let address = url
            .strip_prefix("http://")
            .ok_or(format!("not an http URL: {url}"))?;
        let mut stream =
            TcpStream::connect(address).map_err(|err| format!("connect {address}: {err}"))?;
        stream
            .set_read_timeout(Some(REQUEST_DEADLINE))
            .map_err(|err| err.to_string())?;
        stream
            .set_write_timeout(Some(REQUEST_DEADLINE))
            .map_err(|err| err.to_string())?;
        write!(stream, "GET {path} HTTP/1.1\r\nHost: {address}\r\n")
            .map_err(|err| format!("send: {err}"))?;
        // Until the server has read those bytes, its side of the connection may still wait in
        // the listener's queue, and a stop then simply drops it: wait until they are read.
        wait_until_read(&stream)?;
        Ok(HalfRequest { _stream: stream })
    }
}

/// Waits until the server has read everything sent on `stream`: until the kernel's table of
/// TCP sockets shows nothing left to read on the server's side of the connection.
fn wait_until_read(stream: &TcpStream) -> Result<(), String> {
    let (ours, theirs) = (
        stream.local_addr().map_err(|err| err.to_string())?,
        stream.peer_addr().map_err(|err| err.to_string())?,
    );
    let table = if ours.is_ipv4() {
        "/proc/net/tcp"
    } else {
        "/proc/net/tcp6"
    };
    // A line of the table: `sl local_address rem_address st tx_queue:rx_queue …`, with the
    // addresses as HEX_IP:HEX_PORT; the server's side is local to their port, remote to ours.
    let server_side = |line: &str| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let port = |field: &str| {
            let hex = field.rsplit(':').next()?;
            u16::from_str_radix(hex, 16).ok()
        };
        let unread = |queues: &str| u32::from_str_radix(queues.split(':').nth(1)?, 16).ok();
        match fields.as_slice() {
            [_, local, remote, _, queues, ..]
                if port(local) == Some(theirs.port()) && port(remote) == Some(ours.port()) =>
            {
                unread(queues)
            }
            _ => None,
        }
    };
    let deadline = Instant::now() + REQUEST_DEADLINE;
    loop {
        let sockets = match std::fs::read_to_string(table) {
            Ok(sockets) => sockets,
            // Not Linux (macOS has no such table): give the server a moment, which is
            // almost always enough on an idle machine.
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                thread::sleep(Duration::from_millis(200));
                return Ok(());
            }
            Err(err) => return Err(format!("{table}: {err}")),
        };
        if sockets
            .lines()
            .filter_map(server_side)
            .any(|unread| unread == 0)
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{theirs} has not read our request within {REQUEST_DEADLINE:?}"
            ));
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// Whether a TCP connection to `url` (`http://host:port`) is accepted now.
pub fn accepts_connections(url: &str) -> bool {
    let address = url.trim_start_matches("http://");
    TcpStream::connect(address).is_ok()
}

/// Whether connections to `url` are refused, now or before `within` has passed.
pub fn refuses_connections_within(url: &str, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while accepts_connections(url) {
        if Instant::now() > deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(10));
    }
    true
}

/// How long a server must have read nothing for [`StalledReader`] to count it stalled: long
/// enough that a server that is only slow (a debug build on a busy machine) is not taken for
/// one that cannot write (at 100 ms, 2 runs in 5 went wrong with 4 CPU hogs on 2 cores).
const STALL: Duration = Duration::from_millis(500);

/// A client that sends requests one after another on one connection and never reads the
/// answers: once the socket buffers are full, the server cannot write to it any more. A server
/// that closes each connection after one answer (HTTP/1.0) cannot be held this way, and is
/// left as it is.
pub struct StalledReader {
    _socket: Socket,
}

impl StalledReader {
    /// Connects to `url` (`http://host:port`) and sends `GET path` until the server stops
    /// reading, which happens only once its answers have filled every buffer.
    pub fn start(url: &str, path: &str) -> Result<StalledReader, String> {
        let address: SocketAddr = url
            .trim_start_matches("http://")
            .parse()
            .map_err(|err| format!("not an http://ip:port URL: {url}: {err}"))?;
        let socket = Socket::new(Domain::for_address(address), Type::STREAM, None)
            .map_err(|err| err.to_string())?;
        // A small receive buffer fills fast: what the server writes then stays in its own.
        socket
            .set_recv_buffer_size(4096)
            .map_err(|err| err.to_string())?;
        socket
            .connect(&address.into())
            .map_err(|err| format!("connect {address}: {err}"))?;
        socket
            .set_nonblocking(true)
            .map_err(|err| err.to_string())?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\n\r\n");
        let deadline = Instant::now() + REQUEST_DEADLINE;
        let (mut sent, mut blocked_since) = (0, None);
        // A send that would block shows only that the server reads more slowly than we
        // write; once it has not read for a while, its answers fill every buffer.
        while blocked_since.is_none_or(|since: Instant| since.elapsed() < STALL) {
            match (&socket).write(&request.as_bytes()[sent..]) {
                Ok(n) => (sent, blocked_since) = ((sent + n) % request.len(), None),
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                    blocked_since.get_or_insert_with(Instant::now);
                    thread::sleep(Duration::from_millis(5));
                }
                // The server closes each connection once it has answered (HTTP/1.0, or
                // `Connection: close`): no client can hold it by not reading.
                Err(err) if closed_by_peer(&err) => break,
                Err(err) => return Err(format!("send to {address}: {err}")),
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{address} still reads requests after {REQUEST_DEADLINE:?}"
                ));
            }
        }
        Ok(StalledReader { _socket: socket })
    }
}

/// Whether `err` says the other side closed the connection (or reset it on being sent more).
fn closed_by_peer(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
    )
}

/// Clients that each send `GET url` over and over on a kept-alive connection, until a
/// request fails (as they all do once the server has stopped).
pub struct Load {
    answered: Arc<AtomicUsize>,
    clients: Vec<JoinHandle<LoadReport>>,
}

/// A response that a [`Load`] client received, and when it had received all of it.
#[derive(Debug)]
pub struct TimedResponse {
    pub at: Instant,
    pub response: Response,
}

/// What the clients of a [`Load`] received: every response, and the failure that ended each.
#[derive(Debug, Default)]
pub struct LoadReport {
    pub answers: Vec<TimedResponse>,
    pub failures: Vec<Failure>,
}

impl Load {
    /// Starts `clients` clients sending `GET url`.
    pub fn start(url: &str, clients: usize) -> Load {
        let answered = Arc::new(AtomicUsize::new(0));
        let clients = (0..clients)
            .map(|_| {
                let (url, answered) = (url.to_string(), Arc::clone(&answered));
                thread::spawn(move || {
                    let client = client();
                    let mut report = LoadReport::default();
                    loop {
                        match send_or_fail(&client, reqwest::Method::GET, &url) {
                            Ok(response) => report.answers.push(TimedResponse {
                                at: Instant::now(),
                                response,
                            }),
                            Err(failure) => break report.failures.push(failure),
                        }
                        answered.fetch_add(1, Ordering::Relaxed);
                    }
                    report
                })
            })
            .collect();
        Load { answered, clients }
    }

    /// Waits until the clients have received `count` responses in all.
    pub fn wait_for_responses(&self, count: usize) -> Result<(), String> {
        let deadline = Instant::now() + REQUEST_DEADLINE;
        while self.answered.load(Ordering::Relaxed) < count {
            if Instant::now() > deadline {
                return Err(format!(
                    "fewer than {count} responses within {REQUEST_DEADLINE:?}"
                ));
            }
            thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }

    /// Waits for every client to stop (each stops at its first failed request, at the
    /// latest after [`REQUEST_DEADLINE`]) and gathers what they received.
    pub fn finish(self) -> LoadReport {
        let mut all = LoadReport::default();
        for client in self.clients {
            let report = client.join().expect("a load client panicked");
            all.answers.extend(report.answers);
            all.failures.extend(report.failures);
        }
        all
    }
}
