//! Step 02: hello world on a fixed address.

use std::sync::{Mutex, MutexGuard};

use super::*;

/// Port 3000 serves one app at a time: the tests of one process take turns.
static PORT_3000: Mutex<()> = Mutex::new(());

/// Starts `bin` as step 02 runs, with no environment, and returns it once it says it is
/// ready, after its turn on port 3000 (dropped after the app, as declared first).
fn on_localhost_3000(bin: &str) -> Result<(MutexGuard<'static, ()>, App), Failed> {
    // A contract that failed while holding the turn has ended its app all the same.
    let turn = PORT_3000
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut app = App::start(bin, &[]);
    let url = app.ready()?;
    app.check(url == "http://localhost:3000", &format!("announced {url}"))?;
    Ok((turn, app))
}

pub const ANSWERS_ON_LOCALHOST_3000: About = About {
    class: Class::Fails,
    expected: "prints `Server running at: http://localhost:3000` once listening there, and GET / \
               answers 200 (the workshop's original app does both)",
    platform: "Nothing yet: step 02 runs on your machine only. The readiness line and the answer \
               are what every later step builds on.",
    page: "docs/02-hello.md#the-code",
};

pub fn answers_on_localhost_3000(bin: &str) -> Outcome {
    let (_turn, app) = on_localhost_3000(bin)?;
    expect_root_answers(&app, "http://localhost:3000")?;
    Ok(HELD)
}

pub const SAYS_HELLO_AXUM: About = About {
    class: Class::Advice,
    expected: "GET / answers `Hello, Axum.` (the snapshots' greeting)",
    platform: OUR_CHOICE,
    page: "docs/02-hello.md#the-code",
};

pub fn says_hello_axum(bin: &str) -> Outcome {
    let (_turn, app) = on_localhost_3000(bin)?;
    expect_response(&app, http::get("http://localhost:3000/"), 200, HELLO)?;
    Ok(HELD)
}
