//! A server that misbehaves on purpose, to show that a client bounds what it reads and does
//! not trust what it is told: it answers every request the same wrong way, and records what
//! it received (request line and headers) so a test can check what was sent.
//!
//! Plain threads and sockets, no HTTP library: the point is to send what a library would not.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{SocketAddr, TcpListener, TcpStream},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    thread::{self, JoinHandle},
    time::{Duration, Instant},
};

/// How the server answers every request.
#[derive(Clone, Debug)]
pub enum Misbehaviour {
    /// A redirect (`status`, e.g. 301 or 302) to `location`.
    Redirect(u16, String),
    /// A whole answer with this status, content type and body, e.g. an HTML page with 200.
    Answer(u16, &'static str, String),
    /// `200 OK`, `application/json`, and a body that never ends.
    Endless,
    /// Reads the request and never answers.
    Hang,
    /// The answer of the first rule whose `"METHOD /path"` prefix the request line starts
    /// with (`404`, empty, when none does): a server right about some paths only.
    ByPath(Vec<(&'static str, u16, &'static str, String)>),
}

/// One request as received: the request line and the headers, lower-cased names.
#[derive(Clone, Debug)]
pub struct Received {
    pub request_line: String,
    pub headers: Vec<(String, String)>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// A running misbehaving server on 127.0.0.1. Stops when dropped.
pub struct Misbehaving {
    address: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

/// How long any connection is served at most: a hanging or endless answer ends by then.
const SERVE_LIMIT: Duration = Duration::from_secs(30);

impl Misbehaving {
    pub fn start(how: Misbehaviour) -> Misbehaving {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let address = listener.local_addr().expect("a bound address");
        let received = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let accept = {
            let (received, stop) = (Arc::clone(&received), Arc::clone(&stop));
            thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let (received, stop, how) =
                                (Arc::clone(&received), Arc::clone(&stop), how.clone());
                            thread::spawn(move || serve(stream, &how, &received, &stop));
                        }
                        Err(_) => thread::sleep(Duration::from_millis(5)),
                    }
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

    /// `http://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Every request received so far, oldest first.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("received").clone()
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

fn serve(
    stream: TcpStream,
    how: &Misbehaviour,
    received: &Mutex<Vec<Received>>,
    stop: &AtomicBool,
) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(stream) => stream,
        Err(_) => return,
    });
    let mut writer = stream;
    let started = Instant::now();
    // One request per connection: read its head and body, answer, close.
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
        return;
    }
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    let length: u64 = headers
        .iter()
        .find(|(name, _)| name == "content-length")
        .and_then(|(_, value)| value.parse().ok())
        .unwrap_or(0);
    let _ = std::io::copy(&mut (&mut reader).take(length), &mut std::io::sink());
    received.lock().expect("received").push(Received {
        request_line: request_line.trim_end().to_string(),
        headers,
    });
    let whole = |status: u16, content_type: &str, extra: &str, body: &str| {
        format!(
            "HTTP/1.1 {status} {}\r\ncontent-type: {content_type}\r\n{extra}content-length: {}\r\nconnection: close\r\n\r\n{body}",
            reason(status),
            body.len()
        )
    };
    let stopping = || stop.load(Ordering::SeqCst) || started.elapsed() > SERVE_LIMIT;
    match how {
        Misbehaviour::Redirect(status, location) => {
            let answer = whole(
                *status,
                "text/html",
                &format!("location: {location}\r\n"),
                "",
            );
            let _ = writer.write_all(answer.as_bytes());
        }
        Misbehaviour::Answer(status, content_type, body) => {
            let _ = writer.write_all(whole(*status, content_type, "", body).as_bytes());
        }
        Misbehaviour::Endless => {
            let head =
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n[";
            let chunk = "\"endless\",".repeat(1000);
            if writer.write_all(head.as_bytes()).is_ok() {
                while !stopping() && writer.write_all(chunk.as_bytes()).is_ok() {}
            }
        }
        Misbehaviour::ByPath(rules) => {
            let rule = rules
                .iter()
                .find(|(prefix, ..)| request_line.starts_with(prefix));
            let answer = match rule {
                Some((_, status, content_type, body)) => whole(*status, content_type, "", body),
                None => whole(404, "text/plain", "", ""),
            };
            let _ = writer.write_all(answer.as_bytes());
        }
        Misbehaviour::Hang => {
            while !stopping() {
                thread::sleep(Duration::from_millis(10));
            }
        }
    }
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
