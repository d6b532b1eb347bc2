//! HTTP servers that misbehave on purpose, written on raw TCP because no well-behaved
//! framework sends what they send: to check that the app's discovery client survives a
//! seed host or a discovery server gone wrong, whatever the request.

use std::{
    io::{ErrorKind, Read, Write},
    iter,
    net::{SocketAddr, TcpListener, TcpStream},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    thread::{self, JoinHandle},
    time::Duration,
};

/// What the server sends once it has read a request's head.
#[derive(Clone, Debug)]
pub enum Misbehaviour {
    /// `HTTP/1.1 100 Continue` and an empty line, again and again, as fast as the
    /// client reads: informational answers, which a client skips while waiting for the
    /// real one.
    InformationalFlood,
    /// `200 OK` announcing a body of a terabyte, then that body as fast as the client reads.
    EndlessBody,
    /// `200 OK` with this JSON body, whole.
    Json(Arc<String>),
    /// The head of a `201 Created`, one byte every 50 ms, and a header that never ends.
    Drip,
}

/// How long a write may block before the server checks whether it should stop.
const WRITE_WAIT: Duration = Duration::from_millis(50);
/// The gap between two bytes of a [`Misbehaviour::Drip`].
const DRIP_GAP: Duration = Duration::from_millis(50);

/// A misbehaving server on a free port of 127.0.0.1. Stops when dropped.
pub struct Misbehaving {
    address: SocketAddr,
    stopping: Arc<AtomicBool>,
    requests: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl Misbehaving {
    pub fn start(misbehaviour: Misbehaviour) -> Misbehaving {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let address = listener.local_addr().expect("a bound address");
        let stopping = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicUsize::new(0));
        let (stop, count) = (Arc::clone(&stopping), Arc::clone(&requests));
        let thread = thread::spawn(move || {
            let mut connections = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (stop, count) = (Arc::clone(&stop), Arc::clone(&count));
                        let misbehaviour = misbehaviour.clone();
                        connections.push(thread::spawn(move || {
                            serve(stream, &misbehaviour, &stop, &count);
                        }));
                    }
                    Err(err) if err.kind() == ErrorKind::WouldBlock => {
                        thread::sleep(Duration::from_millis(5));
                    }
                    Err(_) => break,
                }
            }
            connections
                .into_iter()
                .for_each(|connection| connection.join().unwrap_or(()));
        });
        Misbehaving {
            address,
            stopping,
            requests,
            thread: Some(thread),
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

    /// How many request heads it has read so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }
}

impl Drop for Misbehaving {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads a request's head, then misbehaves until the client goes away or the server stops.
fn serve(
    mut stream: TcpStream,
    misbehaviour: &Misbehaviour,
    stop: &AtomicBool,
    count: &AtomicUsize,
) {
    if read_head(&mut stream).is_err() || stream.set_write_timeout(Some(WRITE_WAIT)).is_err() {
        return;
    }
    count.fetch_add(1, Ordering::Relaxed);
    let send = |stream: &mut TcpStream, bytes: &[u8]| send_all(stream, bytes, stop);
    match misbehaviour {
        Misbehaviour::InformationalFlood => {
            let flood = b"HTTP/1.1 100 Continue\r\n\r\n".repeat(2600);
            while send(&mut stream, &flood) {}
        }
        Misbehaviour::EndlessBody => {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                        Content-Length: 1000000000000\r\n\r\n{\"updates\":[";
            let entry = r#"{"serviceType":"discovery","serviceUri":"http://127.0.0.1:9"},"#;
            let body = entry.repeat(65536 / entry.len());
            if send(&mut stream, head.as_bytes()) {
                while send(&mut stream, body.as_bytes()) {}
            }
        }
        Misbehaviour::Json(body) => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            let _ = send(&mut stream, head.as_bytes()) && send(&mut stream, body.as_bytes());
        }
        Misbehaviour::Drip => {
            let head = b"HTTP/1.1 201 Created\r\nX-Drip: ";
            for byte in head.iter().chain(iter::repeat(&b'.')) {
                if !send(&mut stream, &[*byte]) {
                    break;
                }
                thread::sleep(DRIP_GAP);
            }
        }
    }
}

/// Reads until the empty line that ends a request's head (any body is left unread).
fn read_head(stream: &mut TcpStream) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut head = Vec::new();
    let mut byte = [0];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 65536 || stream.read(&mut byte)? == 0 {
            return Err(ErrorKind::InvalidData.into());
        }
        head.push(byte[0]);
    }
    Ok(())
}

/// Writes all of `bytes`, waiting while the client does not read; `false` once the client
/// has gone or the server is stopping.
fn send_all(stream: &mut TcpStream, mut bytes: &[u8], stop: &AtomicBool) -> bool {
    while !bytes.is_empty() {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        match stream.write(bytes) {
            Ok(0) => return false,
            Ok(n) => bytes = &bytes[n..],
            Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return false,
        }
    }
    true
}
