//! Step 09: announce the service to discovery, so that other services can find it.
//!
//! Run it:  TASK_HOST=localhost PORT0=3000 cargo run -p step-09-discovery
//! Try it:  it says it is not announcing; deployed with OT_ENV=pp-sf and DISCOVERY_HOST set,
//!          it is listed by curl http://$DISCOVERY_HOST/watch

use std::{env, fmt::Display, net::IpAddr, process, time::Duration};

use axum::{Router, routing::get};
use discovery_client::{Announcer, Settings, start_announcing};
use tokio::{
    net::TcpListener,
    signal::unix::{SignalKind, signal},
};

/// How long the requests in progress may take to finish once we are asked to stop.
/// Mesos sends SIGKILL 5 s after SIGTERM: we leave on our own well before that.
const DRAIN_LIMIT: Duration = Duration::from_secs(2);

// One thread serves every connection, in the order they became ready: a Mesos task gets a
// fraction of a core anyway, and no connection waits behind the others (docs/02-hello.md).
#[tokio::main(flavor = "current_thread")]
async fn main() {
    // Handle the stop signals before anything else. A signal that arrives before its
    // handler exists kills the process mid-start-up, and a process running as PID 1
    // (as in a container) ignores SIGTERM unless it has a handler.
    let stop = stop_signal();

    // Mesos picks the machine and the port for us and passes them in the environment.
    // Without them we cannot start: say which one is missing and exit with code 3.
    let host = require_env("TASK_HOST");
    let port = require_env("PORT0");
    let port: u16 = port
        .parse()
        .unwrap_or_else(|_| fail(3, format!("PORT0 is not a valid port: {port:?}")));
    // Outside development mode we announce ourselves: check those settings now, before binding.
    let settings = Settings::from_env().unwrap_or_else(|message| fail(3, message));

    // Two routes: `GET /` says hello; `GET /health` tells Singularity we are up.
    let app = Router::new()
        .route("/", get(hello))
        .route("/health", get(health));

    // Bind first, then print: the line below appears only once the port is really ours.
    let listener = TcpListener::bind((host.as_str(), port))
        .await
        .unwrap_or_else(|err| fail(4, format!("Cannot listen on {host}:{port}: {err}")));
    // With PORT0=0 the operating system chooses a free port: print the one we got.
    let port = listener.local_addr().map_or(port, |addr| addr.port());
    let url = url_of(&host, port);
    println!("Server running at: {url}");
    // Only now can others reach us: tell discovery where, and keep telling it until we stop.
    let announcer = start_announcing(settings, url);

    // Serve until a stop signal arrives. Then axum stops accepting connections, closes the
    // idle ones, and waits for the requests in progress; main returns and the exit code is 0.
    let server = axum::serve(listener, app).with_graceful_shutdown(drain_on(stop, announcer));
    if let Err(err) = server.await {
        fail(1, format!("Server error: {err}"));
    }
}

/// Answers `GET /`. A `&'static str` becomes a `200 OK` with a `text/plain` body.
async fn hello() -> &'static str {
    "Hello, Axum.\n"
}

/// Answers `GET /health` (and `HEAD`). After starting the task, Singularity calls this on
/// PORT0 until it answers 2xx; a deploy whose tasks never answer fails.
async fn health() -> &'static str {
    "I've started up successfully!\n"
}

/// Installs the SIGINT and SIGTERM handlers right now, and returns a future that
/// completes with the name of the first of the two signals to arrive.
fn stop_signal() -> impl Future<Output = &'static str> {
    let mut sigint = signal(SignalKind::interrupt())
        .unwrap_or_else(|err| fail(1, format!("Cannot handle SIGINT: {err}")));
    let mut sigterm = signal(SignalKind::terminate())
        .unwrap_or_else(|err| fail(1, format!("Cannot handle SIGTERM: {err}")));
    async move {
        tokio::select! {
            _ = sigint.recv() => "SIGINT",
            _ = sigterm.recv() => "SIGTERM",
        }
    }
}

/// Waits for the stop signal and says so; axum starts draining when this returns. A client
/// that stops reading its answer would keep the drain going forever, so a timer ends it.
async fn drain_on(stop: impl Future<Output = &'static str>, announcer: Announcer) {
    println!("Caught {}", stop.await);
    // Leave discovery first, so that traffic stops coming before we stop taking it.
    announcer.leave().await;
    tokio::spawn(async {
        tokio::time::sleep(DRAIN_LIMIT).await;
        eprintln!("Requests still in progress after {DRAIN_LIMIT:?}: exiting anyway");
        process::exit(0);
    });
}

/// Reads a variable that must be set and not empty, or exits with code 3 naming it.
fn require_env(name: &str) -> String {
    match env::var(name) {
        Ok(value) if !value.is_empty() => value,
        _ => fail(3, format!("{name} not set")),
    }
}

/// Prints a one-line error and exits with `code` (the codes are listed in the README).
fn fail(code: i32, message: impl Display) -> ! {
    eprintln!("{message}");
    process::exit(code)
}

/// The URL at which a server listening on `host` and `port` is reached. An IPv6 address
/// goes in brackets (`http://[::1]:3000`): without them, its colons and the port's mix up.
fn url_of(host: &str, port: u16) -> String {
    match host.parse() {
        Ok(IpAddr::V6(_)) => format!("http://[{host}]:{port}"),
        _ => format!("http://{host}:{port}"),
    }
}
