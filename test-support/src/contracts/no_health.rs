//! Step 04 has no `/health` yet: a Singularity deploy of it fails (step 06): FAILED
//! today, OVERDUE in the workshop's Singularity of 2016.

use super::*;

pub const HEALTH_IS_NOT_FOUND: About = About {
    class: Class::Fails,
    expected: "GET /health answers 404: step 04 has no health check yet",
    platform: "Singularity never sees the task healthy: the deploy of page 06 fails.",
    page: "docs/06-manual-deploy.md",
};

pub fn health_is_not_found(bin: &str) -> Outcome {
    let (app, url) = serving(bin)?;
    expect_response(&app, http::get(&format!("{url}/health")), 404, "")?;
    Ok(HELD)
}
