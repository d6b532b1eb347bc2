//! Stand-ins for the servers a step talks to (discovery, Singularity): an axum `Router` served
//! on this machine in a background thread, recording every request it receives.

use std::{
    net::{SocketAddr, TcpListener},
    sync::{Arc, Mutex},
    thread::{self, JoinHandle},
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::{Body, to_bytes},
    extract::{Request, State},
    middleware::{self, Next},
    response::Response,
};
use socket2::{Domain, Socket, Type};
use tokio::sync::oneshot;

/// One request as a stand-in or a [`Misbehaving`](crate::misbehaving::Misbehaving) server
/// received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// The path and query, e.g. `/announcement/1234`.
    pub path: String,
    /// Names lower-cased, in the order sent.
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// When it arrived.
    pub at: Instant,
}

impl Recorded {
    /// The body parsed as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_default()
    }

    /// The first header named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// What a server received, oldest first: written by its threads, read by the test.
#[derive(Clone, Default)]
pub(crate) struct Log(Arc<Mutex<Vec<Recorded>>>);

impl Log {
    pub(crate) fn push(&self, recorded: Recorded) {
        self.0.lock().expect("request log").push(recorded);
    }

    pub(crate) fn all(&self) -> Vec<Recorded> {
        self.0.lock().expect("request log").clone()
    }

    pub(crate) fn len(&self) -> usize {
        self.0.lock().expect("request log").len()
    }
}

/// A running stand-in server. Stops when dropped.
pub struct StandIn {
    address: SocketAddr,
    log: Log,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl StandIn {
    /// Serves `router` on a free port of 127.0.0.1.
    pub fn start(router: Router) -> StandIn {
        StandIn::start_on("127.0.0.1:0".parse().expect("an address"), router)
    }

    /// Serves `router` on `address`.
    pub fn start_on(address: SocketAddr, router: Router) -> StandIn {
        let listener = TcpListener::bind(address)
            .unwrap_or_else(|err| panic!("stand-in cannot listen on {address}: {err}"));
        StandIn::serve(listener, router)
    }

    /// Serves `router` on the `reserved` port: a stand-in that comes up later on a port
    /// already handed to the app, as a server that was down at first.
    pub fn start_reserved(reserved: Reserved, router: Router) -> StandIn {
        let address = reserved.address();
        reserved
            .socket
            .listen(128)
            .unwrap_or_else(|err| panic!("stand-in cannot listen on {address}: {err}"));
        StandIn::serve(reserved.socket.into(), router)
    }

    /// Serves `router` on `listener`, in a thread of its own.
    fn serve(listener: TcpListener, router: Router) -> StandIn {
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let address = listener.local_addr().expect("a bound address");
        let log = Log::default();
        let app = router.layer(middleware::from_fn_with_state(log.clone(), record));
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a tokio runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("a listener");
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await;
            });
        });
        StandIn {
            address,
            log,
            stop: Some(stop),
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

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<Recorded> {
        self.log.all()
    }

    /// The requests received so far with this method and a path starting with `prefix`.
    pub fn requests_to(&self, method: &str, prefix: &str) -> Vec<Recorded> {
        let mut requests = self.requests();
        requests.retain(|r| r.method == method && r.path.starts_with(prefix));
        requests
    }

    /// Waits until at least `count` requests match `method` and `prefix`, and returns them;
    /// `Err` says how many had come when `within` ran out.
    pub fn wait_for(
        &self,
        method: &str,
        prefix: &str,
        count: usize,
        within: Duration,
    ) -> Result<Vec<Recorded>, String> {
        let deadline = Instant::now() + within;
        loop {
            let requests = self.requests_to(method, prefix);
            if requests.len() >= count {
                return Ok(requests);
            }
            if Instant::now() > deadline {
                let got = requests.len();
                return Err(format!(
                    "{got} of {count} {method} {prefix}… within {within:?}"
                ));
            }
            thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Middleware: records the request, then hands it on unchanged.
async fn record(State(log): State<Log>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, 1 << 20).await.unwrap_or_default();
    log.push(Recorded {
        method: parts.method.to_string(),
        headers: (parts.headers.iter())
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_string(), value)
            })
            .collect(),
        path: parts
            .uri
            .path_and_query()
            .map_or("/".into(), |p| p.to_string()),
        body: String::from_utf8_lossy(&bytes).into_owned(),
        at: Instant::now(),
    });
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// A port on 127.0.0.1 kept for a server that is down: a socket bound to it that does not
/// listen, so that connections to it are refused, and that no other test's server is given
/// it meanwhile (as a port that is merely free could be: then an app pointed at a server
/// that is down would talk to another test's server instead). Released when dropped.
pub struct Reserved {
    socket: Socket,
}

impl Reserved {
    /// Reserves a free port of 127.0.0.1.
    pub fn new() -> Reserved {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("a TCP socket");
        let any: SocketAddr = "127.0.0.1:0".parse().expect("an address");
        socket.bind(&any.into()).expect("a free port");
        Reserved { socket }
    }

    /// Its address, `127.0.0.1:PORT`.
    pub fn address(&self) -> SocketAddr {
        let address = self.socket.local_addr().expect("a bound address");
        address.as_socket().expect("an IP address")
    }
}

impl Default for Reserved {
    fn default() -> Reserved {
        Reserved::new()
    }
}

#[cfg(test)]
mod tests {
    use axum::{http::StatusCode, routing::post};

    use super::*;

    #[test]
    fn records_what_it_answers() {
        let stand_in =
            StandIn::start(Router::new().route("/x", post(|| async { StatusCode::CREATED })));
        let response = reqwest::blocking::Client::builder()
            .no_proxy()
            .build()
            .expect("a client")
            .post(format!("{}/x?y=1", stand_in.url()))
            .body(r#"{"a":1}"#)
            .send()
            .expect("the stand-in answers");
        assert_eq!(response.status().as_u16(), 201);
        let recorded = stand_in
            .wait_for("POST", "/x", 1, Duration::from_secs(5))
            .expect("recorded");
        assert_eq!(recorded[0].path, "/x?y=1");
        assert_eq!(recorded[0].json()["a"], 1);
    }
}
