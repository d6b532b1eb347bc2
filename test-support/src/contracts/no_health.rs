//! Step 04 has no `/health` yet: a Singularity deploy of it fails (step 06): FAILED
//! today, OVERDUE in the workshop's Singularity of 2016.

use super::*;

pub fn health_is_not_found(bin: &str) {
    let (app, url) = serving(bin);
    expect_response(&app, http::get(&format!("{url}/health")), 404, "");
}
