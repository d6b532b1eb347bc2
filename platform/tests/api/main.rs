//! The platform's API, discovery server and doors, over HTTP, without Docker: simulated tasks
//! or a `docker` stand-in. One test binary, built once with its harness (`--test api`); the
//! tests that need Docker and the steps' images are `--test e2e`.

mod bounds;
mod discovery;
mod fields;
mod harness;
mod requests;
mod security;
mod tasks;
