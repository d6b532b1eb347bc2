//! Step 03: the environment decides the host and the port, as Mesos does.
//!
//! Run it:  TASK_HOST=localhost PORT0=3000 cargo run -p step-03-env
//! Try it:  curl http://localhost:3000

use std::{env, fmt::Display, net::IpAddr, process};

use axum::{Router, routing::get};
use tokio::net::TcpListener;

// One thread serves every connection, in the order they became ready: a Mesos task gets a
// fraction of a core anyway, and no connection waits behind the others (docs/02-hello.md).
#[tokio::main(flavor = "current_thread")]
async fn main() {
    // Mesos picks the machine and the port for us and passes them in the environment.
    // Without them we cannot start: say which one is missing and exit with code 3.
    let host = require_env("TASK_HOST");
    let port = require_env("PORT0");
    let port: u16 = port
        .parse()
        .unwrap_or_else(|_| fail(3, format!("PORT0 is not a valid port: {port:?}")));

    // One route: `GET /` is answered by the `hello` function below.
    let app = Router::new().route("/", get(hello));

    // Bind first, then print: the line below appears only once the port is really ours.
    let listener = TcpListener::bind((host.as_str(), port))
        .await
        .unwrap_or_else(|err| fail(4, format!("Cannot listen on {host}:{port}: {err}")));
    // With PORT0=0 the operating system chooses a free port: print the one we got.
    let port = listener.local_addr().map_or(port, |addr| addr.port());
    let url = url_of(&host, port);
    println!("Server running at: {url}");

    // Serve until the process is killed. There is no signal handling yet: see step 04.
    if let Err(err) = axum::serve(listener, app).await {
        fail(1, format!("Server error: {err}"));
    }
}

/// Answers `GET /`. A `&'static str` becomes a `200 OK` with a `text/plain` body.
async fn hello() -> &'static str {
    "Hello, Axum.\n"
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
