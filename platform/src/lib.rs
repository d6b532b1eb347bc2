//! The practice platform: a small, faithful double of the part of OpenTable's Mesos platform
//! the workshop touches. `cargo run -p platform` starts it (see `main.rs`).
//!
//! - [`singularity`]: Singularity's API and its deploy model (requests, deploys, tasks,
//!   health checks, history), generic over what runs the tasks. `otpl-deploy`'s tests run
//!   against it too: one model of the real server, not two.
//! - [`runtime`]: what runs a task: Docker on a laptop, simulated tasks in tests.
//! - [`discovery`]: OpenTable's discovery server (announce, heartbeat, expiry, `/watch`).
//! - [`page`]: the page a learner keeps open in a browser.
//! - [`guard`] and [`serve`]: who gets in (the learner's own browser and tools), and how long
//!   and how many connections each listener keeps.

pub mod discovery;
pub mod guard;
pub mod page;
pub mod runtime;
pub mod serve;
pub mod singularity;

use std::{
    sync::{Mutex, MutexGuard},
    time::{SystemTime, UNIX_EPOCH},
};

use axum::{
    http::{StatusCode, header::CONTENT_TYPE},
    response::{IntoResponse, Response},
};

/// Locks a `std` mutex that only ever guards plain data (no lock is held across an `.await`,
/// so `std`'s is the right kind): a panic elsewhere while it was held leaves the data
/// whole, so it is used on, never poisoned for good.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Now, in milliseconds since the Unix epoch, as Singularity and discovery write times.
pub(crate) fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}

/// An answer with a JSON body: every JSON the platform sends goes through here.
pub(crate) fn json(status: StatusCode, body: String) -> Response {
    (status, [(CONTENT_TYPE, "application/json")], body).into_response()
}
