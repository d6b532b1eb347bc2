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
