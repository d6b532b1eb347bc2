//! Step 02: Hello, Axum. The smallest web service: it answers `GET /` on localhost:3000.
//!
//! Run it:  cargo run -p step-02-hello
//! Try it:  curl http://localhost:3000

use std::{fmt::Display, process};

use axum::{Router, routing::get};
use tokio::net::TcpListener;

// One thread serves every connection, in the order they became ready: a Mesos task gets a
// fraction of a core anyway, and no connection waits behind the others (docs/02-hello.md).
#[tokio::main(flavor = "current_thread")]
async fn main() {
    // One route: `GET /` is answered by the `hello` function below.
    let app = Router::new().route("/", get(hello));

    // Bind first, then print: the line below appears only once the port is really ours.
    let listener = TcpListener::bind("localhost:3000")
        .await
        .unwrap_or_else(|err| fail(4, format!("Cannot listen on localhost:3000: {err}")));
    println!("Server running at: http://localhost:3000");

    // Serve until the process is killed. There is no signal handling yet: see step 04.
    if let Err(err) = axum::serve(listener, app).await {
        fail(1, format!("Server error: {err}"));
    }
}

/// Answers `GET /`. A `&'static str` becomes a `200 OK` with a `text/plain` body.
async fn hello() -> &'static str {
    "Hello, Axum.\n"
}

/// Prints a one-line error and exits with `code` (the codes are listed in the README).
fn fail(code: i32, message: impl Display) -> ! {
    eprintln!("{message}");
    process::exit(code)
}
