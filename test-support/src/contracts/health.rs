//! Step 07: `GET /health` answers 200 so that Singularity counts the task as started.

use super::*;

pub fn health_answers(bin: &str) {
    let (app, url) = serving(bin);
    let body = HEALTHY;
    expect_response(&app, http::get(&format!("{url}/health")), 200, body);
}

pub fn health_answers_head(bin: &str) {
    let (app, url) = serving(bin);
    expect_response(&app, http::head(&format!("{url}/health")), 200, "");
}

pub fn unknown_path_is_not_found(bin: &str) {
    let (app, url) = serving(bin);
    expect_response(&app, http::get(&format!("{url}/healthz")), 404, "");
    expect_response(&app, http::get(&format!("{url}/health/")), 404, "");
}
