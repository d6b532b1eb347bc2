//! Step 07: `GET /health` answers 200 so that Singularity counts the task as started.

use super::*;

pub fn health_answers(bin: &str) {
    let (app, url) = serving(bin);
    // Singularity counts any 2xx as healthy, whatever the body says.
    let response = http::get(&format!("{url}/health"));
    if !response
        .as_ref()
        .is_ok_and(|r| (200..300).contains(&r.status))
    {
        app.fail(&format!(
            "expected GET {url}/health to answer 2xx, got {response:?}"
        ));
    }
}

pub fn says_started_up(bin: &str) {
    let (app, url) = serving(bin);
    expect_response(&app, http::get(&format!("{url}/health")), 200, HEALTHY);
}

pub fn health_answers_head(bin: &str) {
    let (app, url) = serving(bin);
    expect_response(&app, http::head(&format!("{url}/health")), 200, "");
}

pub fn unknown_path_is_not_found(bin: &str) {
    let (app, url) = serving(bin);
    // Whatever the body says.
    for path in ["/healthz", "/health/"] {
        let response = http::get(&format!("{url}{path}"));
        if !matches!(response, Ok(Response { status: 404, .. })) {
            app.fail(&format!(
                "expected GET {url}{path} to answer 404, got {response:?}"
            ));
        }
    }
}
