//! Serving one listener, bounded: every port of the platform goes through [`serve`], which puts
//! the [`guard`](crate::guard) in front of the router and bounds what a client can hold:
//!
//! - [`HEAD_TIMEOUT`]: a connection may wait that long for a request head, whether it is new,
//!   idle between two requests (keep-alive) or half-sent; then it is closed.
//! - [`REQUEST_TIMEOUT`]: a request may take that long from its head until its answer is
//!   ready (reading its body included); then it is answered 408 and its connection closed.
//! - [`MAX_CONNECTIONS`]: the connections a listener keeps open. A new one past that closes
//!   the oldest connection that is not serving a request (or, if every one is, the oldest),
//!   so a client holding many idle or half-sent connections cannot lock the learner out:
//!   the newest connection is always served. The same happens when the process runs out of
//!   file descriptors (EMFILE) before the cap.
//!
//! axum's own `serve` has none of these (and waits a whole second after an EMFILE).

use std::{
    collections::BTreeMap,
    convert::Infallible,
    future::Future,
    io,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    body::Body,
    http::{Request, Response, StatusCode, header},
    response::IntoResponse,
};
use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::{oneshot, watch},
};

use crate::guard;

/// How long a connection may wait for a request head. A local client sends it at once; 20 s
/// is longer than the 15 s for which `otpl-deploy`'s HTTP client (ureq) keeps an idle
/// connection, so the tool always lets go of a kept-alive connection before the platform
/// does, and a request never meets a connection being closed. The page polls every second.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(20);

/// How long one request may take, from its head until its answer is ready. The longest ones
/// the platform serves: discovery's `/watch?since=N`, which waits up to 30 s, and a pause,
/// which stops the request's tasks (5 s of grace, then Docker's own time). 60 s is twice the
/// first, and still ends a body sent one byte at a time within a minute.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The connections one listener keeps. A browser opens at most 6 per host and port, each
/// tool one at a time, and step 09's tasks one per call: 128 is ample for a class, and two
/// listeners at the cap hold 256 descriptors, a quarter of the usual limit of 1024 open
/// files, leaving the rest to `docker` calls and health checks.
pub const MAX_CONNECTIONS: usize = 128;

/// The bounds of one listener: [`Limits::PLATFORM`] on every port of the platform; the tests
/// shorten the times, so that they wait for them on the real clock.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// How long a connection may wait for a request head.
    pub head_timeout: Duration,
    /// How long one request may take, from its head until its answer is ready.
    pub request_timeout: Duration,
    /// The connections the listener keeps.
    pub max_connections: usize,
}

impl Limits {
    pub const PLATFORM: Limits = Limits {
        head_timeout: HEAD_TIMEOUT,
        request_timeout: REQUEST_TIMEOUT,
        max_connections: MAX_CONNECTIONS,
    };
}

/// The most a connection buffers of what it reads, and so the largest request head (a larger
/// one is answered 431). Real heads are well under 8 KiB; hyper's default, ~400 KB, times the
/// connections held, would be 100 MB of half-sent heads.
const READ_BUFFER: usize = 64 * 1024;

/// After an EMFILE with no connection of ours to close: the descriptors are held elsewhere
/// (docker calls, health checks) and come back soon.
const EMFILE_PAUSE: Duration = Duration::from_millis(50);

/// Serves `router` on `listener`, behind the guard of the listener's own port, until
/// `shutdown` resolves; then stops accepting, lets each request in progress finish (within
/// [`REQUEST_TIMEOUT`]), closes idle connections, and returns when every connection is closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    serve_within(listener, router, shutdown, Limits::PLATFORM).await
}

/// [`serve`], within `limits`.
pub async fn serve_within(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    limits: Limits,
) -> io::Result<()> {
    let port = listener.local_addr()?.port();
    let app = guard::guarded(router, port);
    let connections = Connections::default();
    // Dropped when `shutdown` resolves: each connection's receiver then sees it closed.
    let (stopping, stopped) = watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        match stream {
            Ok((stream, _)) => {
                if connections.count() >= limits.max_connections {
                    connections.close_one();
                }
                connections.serve(stream, app.clone(), stopped.clone(), limits);
            }
            Err(error) if is_out_of_descriptors(&error) => {
                if !connections.close_one() {
                    tokio::time::sleep(EMFILE_PAUSE).await;
                }
                // Let the closed connection's task run, so its descriptor is free.
                tokio::task::yield_now().await;
            }
            // The client gave up before it was accepted (ECONNABORTED and the like).
            Err(_) => {}
        }
    }
    drop(listener);
    drop(stopping);
    drop(stopped);
    connections.all_closed().await;
    Ok(())
}

fn is_out_of_descriptors(error: &io::Error) -> bool {
    // EMFILE (this process) and ENFILE (the whole system).
    matches!(error.raw_os_error(), Some(23 | 24))
}

/// The open connections of one listener, oldest first.
#[derive(Clone, Default)]
struct Connections {
    inner: Arc<Mutex<Registry>>,
}

#[derive(Default)]
struct Registry {
    next_id: u64,
    open: BTreeMap<u64, Open>,
    /// Woken when the last connection closes.
    empty: Option<oneshot::Sender<()>>,
}

struct Open {
    /// Whether a request is being served on it.
    busy: bool,
    /// Dropping it closes the connection at once.
    _close: oneshot::Sender<()>,
}

impl Connections {
    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        crate::lock(&self.inner)
    }

    fn count(&self) -> usize {
        self.lock().open.len()
    }

    /// Closes the connection [`to_close`] picks; false if there is none.
    fn close_one(&self) -> bool {
        let mut registry = self.lock();
        let picked = to_close(registry.open.iter().map(|(id, open)| (*id, open.busy)));
        picked.is_some_and(|id| registry.open.remove(&id).is_some())
    }

    /// Serves HTTP/1 on `stream` in a task of its own, until the client closes it, a timeout
    /// does, [`Connections::close_one`] picks it, or the listener stops (`stopped` closes).
    fn serve(
        &self,
        stream: TcpStream,
        app: Router,
        mut stopped: watch::Receiver<()>,
        limits: Limits,
    ) {
        let (close, mut closed) = oneshot::channel();
        let id = {
            let mut registry = self.lock();
            let id = registry.next_id;
            registry.next_id += 1;
            let open = Open {
                busy: false,
                _close: close,
            };
            registry.open.insert(id, open);
            id
        };
        let connections = self.clone();
        let app = TowerToHyperService::new(app);
        let service = service_fn(move |request: Request<Incoming>| {
            let _busy = Busy::mark(&connections, id);
            let answer = hyper::service::Service::call(&app, request);
            async move {
                let _busy = _busy;
                match tokio::time::timeout(limits.request_timeout, answer).await {
                    Ok(answer) => answer,
                    Err(_) => Ok::<_, Infallible>(too_slow(limits.request_timeout)),
                }
            }
        });
        let registered = Registered {
            connections: self.clone(),
            id,
        };
        tokio::spawn(async move {
            let _registered = registered;
            let mut connection = std::pin::pin!(
                http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(limits.head_timeout)
                    .max_buf_size(READ_BUFFER)
                    .serve_connection(TokioIo::new(stream), service)
            );
            tokio::select! {
                _ = connection.as_mut() => return,
                _ = &mut closed => return,
                _ = stopped.changed() => connection.as_mut().graceful_shutdown(),
            }
            tokio::select! {
                _ = connection => {}
                _ = closed => {}
            }
        });
    }

    /// Resolves once no connection is open.
    async fn all_closed(&self) {
        let empty = {
            let mut registry = self.lock();
            if registry.open.is_empty() {
                return;
            }
            let (sender, receiver) = oneshot::channel();
            registry.empty = Some(sender);
            receiver
        };
        let _ = empty.await;
    }
}

/// Which connection to close to make room, given `(id, busy)` oldest first: the oldest that
/// is not serving a request, else the oldest of all.
fn to_close(open: impl Iterator<Item = (u64, bool)>) -> Option<u64> {
    let mut oldest = None;
    for (id, busy) in open {
        if !busy {
            return Some(id);
        }
        oldest.get_or_insert(id);
    }
    oldest
}

/// Takes a connection off the registry when its task ends (or is dropped).
struct Registered {
    connections: Connections,
    id: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        let mut registry = self.connections.lock();
        registry.open.remove(&self.id);
        if registry.open.is_empty()
            && let Some(empty) = registry.empty.take()
        {
            let _ = empty.send(());
        }
    }
}

/// Marks a connection busy while a request is served on it.
struct Busy {
    connections: Connections,
    id: u64,
}

impl Busy {
    fn mark(connections: &Connections, id: u64) -> Busy {
        Busy::set(connections, id, true);
        Busy {
            connections: connections.clone(),
            id,
        }
    }

    fn set(connections: &Connections, id: u64, busy: bool) {
        if let Some(open) = connections.lock().open.get_mut(&id) {
            open.busy = busy;
        }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        Busy::set(&self.connections, self.id, false);
    }
}

/// The answer to a request that took longer than `timeout`.
fn too_slow(timeout: Duration) -> Response<Body> {
    let message = format!(
        "the request took longer than {} s: it was stopped\n",
        timeout.as_secs_f64()
    );
    (
        StatusCode::REQUEST_TIMEOUT,
        [(header::CONNECTION, "close")],
        message,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use axum::routing::get;
    use tokio::{
        io::{AsyncReadExt, AsyncWriteExt},
        time::Instant,
    };

    use super::*;

    /// The platform's bounds, with times short enough to wait for on the real clock (a
    /// paused clock jumps ahead whenever the runtime waits on a socket, even one whose data
    /// is on its way, and fires the timeouts too early on a busy machine).
    const LIMITS: Limits = Limits {
        head_timeout: Duration::from_millis(400),
        request_timeout: Duration::from_millis(800),
        max_connections: 16,
    };

    /// How late a timeout may close a connection on a busy machine.
    const LATE: Duration = Duration::from_secs(2);

    /// Serves a router (`/` answers at once, `/never` never does) on a free port, within
    /// [`LIMITS`].
    async fn start() -> u16 {
        start_within(LIMITS).await
    }

    async fn start_within(limits: Limits) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let port = listener.local_addr().expect("bound").port();
        let router = Router::new()
            .route("/", get(|| async { "hi" }))
            .route("/never", get(std::future::pending::<()>));
        tokio::spawn(serve_within(
            listener,
            router,
            std::future::pending(),
            limits,
        ));
        port
    }

    async fn connect(port: u16, sent: &str) -> TcpStream {
        let mut stream = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connected");
        stream.write_all(sent.as_bytes()).await.expect("sent");
        stream
    }

    /// Everything the server sends until it closes the connection, and when it closed it;
    /// fails if it is still open after `within`.
    async fn until_closed(stream: &mut TcpStream, within: Duration) -> (String, Instant) {
        let mut answer = Vec::new();
        let read = tokio::time::timeout(within, stream.read_to_end(&mut answer)).await;
        assert!(read.is_ok(), "still open after {within:?}");
        (
            String::from_utf8_lossy(&answer).into_owned(),
            Instant::now(),
        )
    }

    /// Checks that the server closes `stream`, with nothing more to say, one head timeout
    /// after `since` (and not much later).
    async fn closed_after_head_timeout(stream: &mut TcpStream, since: Instant) {
        let (rest, closed) = until_closed(stream, LIMITS.head_timeout + LATE).await;
        assert_eq!(rest, "");
        let waited = closed - since;
        assert!(waited >= LIMITS.head_timeout, "closed after {waited:?}");
    }

    /// Reads the beginning of an answer, which must be a 200.
    async fn answered_200(stream: &mut TcpStream) {
        let mut answer = [0; 1024];
        let read = tokio::time::timeout(LATE, stream.read(&mut answer)).await;
        let read = read.expect("an answer in time").expect("an answer");
        assert!(answer[..read].starts_with(b"HTTP/1.1 200"));
    }

    fn get_head(port: u16, path: &str) -> String {
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n")
    }

    #[tokio::test]
    async fn a_half_sent_head_is_closed_after_the_head_timeout() {
        let port = start().await;
        let started = Instant::now();
        let mut stream = connect(
            port,
            &format!("GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"),
        )
        .await;
        closed_after_head_timeout(&mut stream, started).await;
    }

    #[tokio::test]
    async fn an_idle_kept_alive_connection_is_closed_after_the_head_timeout() {
        let port = start().await;
        let mut stream = connect(port, &get_head(port, "/")).await;
        answered_200(&mut stream).await;
        closed_after_head_timeout(&mut stream, Instant::now()).await;
    }

    #[tokio::test]
    async fn a_request_that_takes_too_long_is_answered_408() {
        let port = start().await;
        let started = Instant::now();
        let mut stream = connect(port, &get_head(port, "/never")).await;
        let (answer, closed) = until_closed(&mut stream, LIMITS.request_timeout + LATE).await;
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.ends_with("the request took longer than 0.8 s: it was stopped\n"));
        assert!(closed - started >= LIMITS.request_timeout);
    }

    #[tokio::test]
    async fn past_the_cap_the_oldest_idle_connection_makes_room() {
        // Timeouts that cannot close a connection during the test: only the cap can.
        let long = Duration::from_secs(60);
        let port = start_within(Limits {
            head_timeout: long,
            request_timeout: long,
            ..LIMITS
        })
        .await;
        // The oldest is busy (its answer never comes): the next oldest makes room.
        let mut busy = connect(port, &get_head(port, "/never")).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut idle = connect(port, "").await;
        let mut held = Vec::new();
        for _ in 2..LIMITS.max_connections {
            held.push(connect(port, "").await);
        }
        let mut newest = connect(port, &get_head(port, "/")).await;
        answered_200(&mut newest).await;
        let (nothing, _) = until_closed(&mut idle, LATE).await;
        assert_eq!(nothing, "");
        let mut byte = [0; 1];
        let still_open = tokio::time::timeout(Duration::from_millis(100), busy.read(&mut byte));
        assert!(still_open.await.is_err(), "the busy connection was closed");
    }

    #[tokio::test]
    async fn too_slow_says_the_platforms_limit() {
        let body = too_slow(Limits::PLATFORM.request_timeout).into_body();
        let bytes = axum::body::to_bytes(body, 1024).await.expect("a body");
        assert_eq!(bytes, "the request took longer than 60 s: it was stopped\n");
    }

    #[test]
    fn the_oldest_idle_connection_makes_room_first() {
        let open = [(3, true), (5, false), (8, false)];
        assert_eq!(to_close(open.into_iter()), Some(5));
    }

    #[test]
    fn when_every_connection_is_busy_the_oldest_makes_room() {
        let open = [(3, true), (5, true)];
        assert_eq!(to_close(open.into_iter()), Some(3));
        assert_eq!(to_close(std::iter::empty()), None);
    }
}
