//! HTTP servers that misbehave on purpose, to show that a client bounds what it reads and
//! does not trust what it is told: `otpl-deploy` facing a Singularity gone wrong, and step
//! 09's discovery client facing a seed host or a discovery server gone wrong. A server
//! answers every request the same wrong way, and records what it received (a [`Recorded`]
//! each) so a test can check what was sent, or just how often.
//!
//! Plain threads and sockets, no HTTP library: the point is to send what a library would not.

use std::{
    io::{ErrorKind, Read, Write},
    iter,
    net::{SocketAddr, TcpListener, TcpStream},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread::{self, JoinHandle},
    time::{Duration, Instant},
};

use crate::stand_in::{Log, Recorded};

/// How the server answers every request, once it has read it.
#[derive(Debug)]
pub enum Misbehaviour {
    /// A whole answer with this status, content type and body, e.g. an HTML page with 200.
    Answer(u16, &'static str, String),
    /// A redirect (`status`, e.g. 301 or 302) to `location`.
    Redirect(u16, String),
    /// The answer of the first rule whose `"METHOD /path"` prefix `"METHOD /path "` starts
    /// with (a trailing space: the whole path; `404`, empty, when none does): a server right
    /// about some paths only.
    ByPath(Vec<(&'static str, u16, &'static str, String)>),
    /// `200 OK`, `application/json`, no length, and a body that never ends.
    Endless,
    /// `200 OK` announcing a body of a terabyte, then a discovery listing that never ends.
    EndlessListing,
    /// `HTTP/1.1 100 Continue` and an empty line, again and again: informational answers,
    /// which a client skips while waiting for the real one.
    InformationalFlood,
    /// The head of a `201 Created`, one byte every 50 ms, and a header that never ends.
    Drip,
    /// Reads the request and never answers.
    Hang,
    /// This status with the request's own headers as its `text/plain` body, one a line: a
    /// server whose error page shows what it was sent, credentials included.
    Echo(u16),
}

/// How long any connection is served at most: a hanging or endless answer ends by then.
const SERVE_LIMIT: Duration = Duration::from_secs(30);
/// How long reading a request may take; a client that sends nothing is dropped then.
const READ_LIMIT: Duration = Duration::from_secs(5);
/// The largest request head read.
const HEAD_LIMIT: usize = 64 * 1024;
/// How long a read or a write may block before the server checks whether it should stop:
/// a client that does not read cannot hold up the stop.
const WAIT: Duration = Duration::from_millis(50);
/// The gap between two bytes of a [`Misbehaviour::Drip`].
const DRIP_GAP: Duration = Duration::from_millis(50);

/// A running misbehaving server on a free port of 127.0.0.1. Stops when dropped.
pub struct Misbehaving {
    address: SocketAddr,
    received: Log,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl Misbehaving {
    pub fn start(how: Misbehaviour) -> Misbehaving {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let address = listener.local_addr().expect("a bound address");
        let received = Log::default();
        let stop = Arc::new(AtomicBool::new(false));
        // Shared, not cloned per connection: an answer may be megabytes.
        let how = Arc::new(how);
        let accept = {
            let (received, stop) = (received.clone(), Arc::clone(&stop));
            thread::spawn(move || {
                let mut connections: Vec<JoinHandle<()>> = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let (received, stop, how) =
                                (received.clone(), Arc::clone(&stop), Arc::clone(&how));
                            connections.retain(|connection| !connection.is_finished());
                            connections.push(thread::spawn(move || {
                                serve(stream, &how, &received, &stop);
                            }));
                        }
                        Err(_) => thread::sleep(Duration::from_millis(5)),
                    }
                }
                // Every connection notices the stop within `WAIT`: once joined, nothing
                // is left running behind the test.
                for connection in connections {
                    let _ = connection.join();
                }
            })
        };
        Misbehaving {
            address,
            received,
            stop,
            accept: Some(accept),
        }
    }

    /// `host:port`, without a scheme.
    pub fn host(&self) -> String {
        self.address.to_string()
    }

    /// `http://host:port`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Every request received so far, oldest first.
    pub fn received(&self) -> Vec<Recorded> {
        self.received.all()
    }

    /// How many requests it has received so far.
    pub fn requests(&self) -> usize {
        self.received.len()
    }
}

impl Drop for Misbehaving {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

/// Reads one request, records it, then misbehaves until the client goes away, the server
/// stops, or [`SERVE_LIMIT`] has passed. One request per connection.
fn serve(mut stream: TcpStream, how: &Misbehaviour, received: &Log, stop: &AtomicBool) {
    let started = Instant::now();
    let stopping = || stop.load(Ordering::SeqCst) || started.elapsed() > SERVE_LIMIT;
    if stream.set_nonblocking(false).is_err()
        || stream.set_read_timeout(Some(WAIT)).is_err()
        || stream.set_write_timeout(Some(WAIT)).is_err()
    {
        return;
    }
    let Some(request) = receive(&mut stream, &stopping) else {
        return;
    };
    let request_line = format!("{} {} ", request.method, request.path);
    let echoed: String = (request.headers.iter())
        .map(|(name, value)| format!("{name}: {value}\n"))
        .collect();
    received.push(request);
    let mut send = |bytes: &[u8]| send_all(&mut stream, bytes, &stopping);
    match how {
        Misbehaviour::Answer(status, content_type, body) => {
            let _ = send(head(*status, content_type, "", body.len()).as_bytes())
                && send(body.as_bytes());
        }
        Misbehaviour::Echo(status) => {
            let _ = send(head(*status, "text/plain", "", echoed.len()).as_bytes())
                && send(echoed.as_bytes());
        }
        Misbehaviour::Redirect(status, location) => {
            let location = format!("location: {location}\r\n");
            send(head(*status, "text/html", &location, 0).as_bytes());
        }
        Misbehaviour::ByPath(rules) => {
            let rule = rules
                .iter()
                .find(|(prefix, ..)| request_line.starts_with(prefix));
            let (status, content_type, body) = match rule {
                Some((_, status, content_type, body)) => (*status, *content_type, body.as_str()),
                None => (404, "text/plain", ""),
            };
            let _ = send(head(status, content_type, "", body.len()).as_bytes())
                && send(body.as_bytes());
        }
        Misbehaviour::Endless => {
            let head =
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n[";
            let chunk = "\"endless\",".repeat(1000);
            if send(head.as_bytes()) {
                while send(chunk.as_bytes()) {}
            }
        }
        Misbehaviour::EndlessListing => {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                        Content-Length: 1000000000000\r\n\r\n{\"updates\":[";
            let entry = r#"{"serviceType":"discovery","serviceUri":"http://127.0.0.1:9"},"#;
            let chunk = entry.repeat(65536 / entry.len());
            if send(head.as_bytes()) {
                while send(chunk.as_bytes()) {}
            }
        }
        Misbehaviour::InformationalFlood => {
            let flood = b"HTTP/1.1 100 Continue\r\n\r\n".repeat(2600);
            while send(&flood) {}
        }
        Misbehaviour::Drip => {
            let head = b"HTTP/1.1 201 Created\r\nX-Drip: ";
            for byte in head.iter().chain(iter::repeat(&b'.')) {
                if !send(&[*byte]) {
                    break;
                }
                thread::sleep(DRIP_GAP);
            }
        }
        Misbehaviour::Hang => {
            while !stopping() {
                thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// The head of a whole answer of `length` bytes, after which the connection closes.
fn head(status: u16, content_type: &str, extra: &str, length: usize) -> String {
    format!(
        "HTTP/1.1 {status} {}\r\ncontent-type: {content_type}\r\n{extra}content-length: {length}\r\nconnection: close\r\n\r\n",
        reason(status)
    )
}

/// Reads a request's head (at most [`HEAD_LIMIT`] bytes) and the body its `content-length`
/// announces, within [`READ_LIMIT`]; `None` when the client goes away or sends too much.
fn receive(stream: &mut TcpStream, stopping: &impl Fn() -> bool) -> Option<Recorded> {
    let deadline = Instant::now() + READ_LIMIT;
    let mut bytes = Vec::new();
    let mut buffer = [0; 8192];
    // With where its body starts and the request's whole length.
    let mut request: Option<(Recorded, usize, usize)> = None;
    // A head cut short is no request; a body cut short is kept as far as it came.
    let with_body = |request: Option<(Recorded, usize, usize)>, bytes: &[u8]| {
        request.map(|(mut received, start, length)| {
            let body = &bytes[start..length.min(bytes.len())];
            received.body = String::from_utf8_lossy(body).into_owned();
            received
        })
    };
    while request
        .as_ref()
        .is_none_or(|(_, _, length)| bytes.len() < *length)
    {
        let too_much = request.is_none() && bytes.len() > HEAD_LIMIT;
        if too_much || stopping() || Instant::now() > deadline {
            return with_body(request, &bytes);
        }
        match stream.read(&mut buffer) {
            Ok(0) => return with_body(request, &bytes),
            Ok(read) => bytes.extend_from_slice(&buffer[..read]),
            Err(err) if waiting(&err) => {}
            Err(_) => return None,
        }
        if request.is_none() {
            request = parse_head(&bytes);
        }
    }
    with_body(request, &bytes)
}

/// The request whose head `bytes` start with (its body still empty), where its body starts
/// and its whole length, once the head is complete.
fn parse_head(bytes: &[u8]) -> Option<(Recorded, usize, usize)> {
    let end = bytes.windows(4).position(|window| window == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&bytes[..end]);
    let mut lines = head.lines();
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let method = request_line.next().unwrap_or_default().to_string();
    let path = request_line.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_string()))
        .collect();
    let received = Recorded {
        method,
        path,
        headers,
        body: String::new(),
        at: Instant::now(),
    };
    let body: usize = received
        .header("content-length")
        .and_then(|value| value.parse().ok())
        .unwrap_or(0);
    Some((received, end, end + body))
}

/// Writes all of `bytes`, waiting while the client does not read; `false` once the client
/// has gone or the server is stopping.
fn send_all(stream: &mut TcpStream, mut bytes: &[u8], stopping: &impl Fn() -> bool) -> bool {
    while !bytes.is_empty() {
        if stopping() {
            return false;
        }
        match stream.write(bytes) {
            Ok(0) => return false,
            Ok(written) => bytes = &bytes[written..],
            Err(err) if waiting(&err) => {}
            Err(_) => return false,
        }
    }
    true
}

/// Whether an I/O error only means that [`WAIT`] has passed.
fn waiting(err: &std::io::Error) -> bool {
    matches!(
        err.kind(),
        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
    )
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        404 => "Not Found",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        _ => "Whatever",
    }
}
