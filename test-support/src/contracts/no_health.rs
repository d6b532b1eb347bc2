//! Step 04 has no `/health` yet: a Singularity deploy of it goes OVERDUE (step 06).

use super::*;

pub fn health_is_not_found(bin: &str) {
    let (app, url) = serving(bin);
    expect_response(&app, http::get(&format!("{url}/health")), 404, "");
}
