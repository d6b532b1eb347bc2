//! A service that announces itself, as small as it gets: it answers `GET /` and
//! `GET /health` on a port of 127.0.0.1 that the system picks, announces itself outside
//! development mode, and on SIGTERM leaves discovery before it stops. This crate's tests
//! run it against discovery servers that misbehave.
//!
//! Run it:  OT_ENV=pp-sf DISCOVERY_HOST=localhost:8090 cargo run -p discovery-client --example service

use std::process;

use axum::{Router, routing::get};
use discovery_client::{Settings, start_announcing};
use tokio::{
    net::TcpListener,
    signal::unix::{SignalKind, signal},
};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut sigterm = signal(SignalKind::terminate()).expect("a SIGTERM handler");
    let settings = Settings::from_env().unwrap_or_else(|message| {
        eprintln!("{message}");
        process::exit(3)
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let url = format!("http://{}", listener.local_addr().expect("its address"));
    println!("Server running at: {url}");
    let announcer = start_announcing(settings, url);

    let app = Router::new()
        .route("/", get(|| async { "Hello, Axum.\n" }))
        .route(
            "/health",
            get(|| async { "I've started up successfully!\n" }),
        );
    let stop = async move {
        sigterm.recv().await;
        announcer.leave().await;
    };
    axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await
        .expect("serving");
}
