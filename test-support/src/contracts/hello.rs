//! Step 02: hello world on a fixed address.

use super::*;

pub fn answers_on_localhost_3000(bin: &str) {
    let mut app = App::start(bin, &[]);
    let url = app.ready();
    app.check(url == "http://localhost:3000", &format!("announced {url}"));
    expect_response(&app, http::get("http://localhost:3000/"), 200, HELLO);
}
