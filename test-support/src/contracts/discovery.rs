//! Step 09: outside development mode the app announces itself to the discovery server that
//! the seed host lists, renews the announcement every heartbeat, and takes it back before
//! it stops; discovery failing never stops the app, nor delays its stop. How the client
//! stands up to a discovery that misbehaves is the discovery client's, checked in
//! [`super::discovery_client`].

use uuid::{Uuid, Variant, Version};

use super::*;
use crate::{
    app::START_DEADLINE,
    discovery::{Answer, Discovery},
    stand_in::{Recorded, Reserved},
};

/// A fast heartbeat, so that a test sees several in a fraction of a second.
pub(super) const HEARTBEAT_MS: &str = "100";
/// How long the app may take to reach discovery once it can.
pub(super) const DISCOVERY_DEADLINE: Duration = Duration::from_secs(5);
/// How long a stop may take whatever discovery does: well inside Mesos's 5 s.
pub(super) const DISCOVERY_STOP_DEADLINE: Duration = Duration::from_secs(3);
const NOT_ANNOUNCING: &str = "Not announcing, as running in development mode.";
pub(super) const ERROR: &str = "Discovery error: ";

/// Starts `bin` as Mesos would in `pp-sf`, announcing to `host` with a fast heartbeat,
/// with `more` variables (which win), and returns it with its base URL once it is ready.
pub(super) fn announcing(bin: &str, host: &str, more: &[(&str, &str)]) -> (App, String) {
    let mut env = announce_env(host);
    env.extend(more);
    let mut app = App::start(bin, &env);
    let url = app.ready();
    (app, url)
}

/// Mesos's variables, and those that make the app announce to `host`.
pub(super) fn announce_env(host: &str) -> Vec<(&str, &str)> {
    let mut env = MESOS_ENV.to_vec();
    env.extend([
        ("OT_ENV", "pp-sf"),
        ("DISCOVERY_HOST", host),
        ("DISCOVERY_HEARTBEAT_MS", HEARTBEAT_MS),
    ]);
    env
}

/// Waits until the discovery server has received `count` announcements.
pub(super) fn announcements(app: &App, discovery: &Discovery, count: usize) -> Vec<Recorded> {
    discovery
        .server
        .wait_for("POST", "/announcement", count, DISCOVERY_DEADLINE)
        .unwrap_or_else(|err| app.fail(&err))
}

/// The `announcementId` of an announcement.
fn id_of(announcement: &Recorded) -> String {
    announcement.json()["announcementId"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Whether `id` is a random (version 4) UUID, written the usual way.
fn is_uuid_v4(id: &str) -> bool {
    Uuid::parse_str(id).is_ok_and(|uuid| {
        uuid.get_version() == Some(Version::Random)
            && uuid.get_variant() == Variant::RFC4122
            && uuid.hyphenated().to_string() == id
    })
}

/// Checks that `/health` answers 200: what Singularity sees whatever discovery does.
pub(super) fn expect_healthy(app: &App, url: &str) {
    let response = http::get(&format!("{url}/health"));
    let healthy = response.as_ref().is_ok_and(|r| r.status == 200);
    app.check(healthy, &format!("/health answered {response:?}"));
}

/// Checks that the server received nothing after the unannouncement.
pub(super) fn expect_nothing_after(app: &App, discovery: &Discovery, unannounced: &Recorded) {
    let mut later = discovery.requests();
    later.retain(|request| request.at > unannounced.at);
    app.check(
        later.is_empty(),
        &format!("requests after the DELETE: {later:?}"),
    );
}

pub fn development_mode_announces_nothing(bin: &str) {
    let discovery = Discovery::start(Answer::Accept);
    let host = discovery.host();
    for ot_env in [None, Some("development"), Some("")] {
        let mut env = announce_env(&host);
        env.retain(|(name, _)| *name != "OT_ENV");
        env.extend(ot_env.map(|value| ("OT_ENV", value)));
        let mut app = App::start(bin, &env);
        app.ready();
        app.wait_for_line(NOT_ANNOUNCING, START_DEADLINE);
        let second = app.stdout().lines().nth(1).map(str::to_string);
        app.check(
            second.as_deref() == Some(NOT_ANNOUNCING),
            &format!("with OT_ENV={ot_env:?}, the line after the readiness line is {second:?}"),
        );
        // Nothing can show that nothing is sent but time: give it several heartbeats.
        thread::sleep(Duration::from_millis(500));
        app.signal(Signal::SIGTERM);
        app.expect_exit_code(0);
        let requests = discovery.requests();
        app.check(
            requests.is_empty(),
            &format!("with OT_ENV={ot_env:?}, discovery received {requests:?}"),
        );
    }
}

pub fn development_mode_ignores_discovery_settings(bin: &str) {
    let mut env = MESOS_ENV.to_vec();
    env.extend([
        ("OT_ENV", "development"),
        ("DISCOVERY_HOST", "http://not-a-bare-host/"),
        ("DISCOVERY_HEARTBEAT_MS", "never"),
    ]);
    let mut app = App::start(bin, &env);
    let url = app.ready();
    app.wait_for_line(NOT_ANNOUNCING, START_DEADLINE);
    expect_healthy(&app, &url);
}

pub fn announces_to_the_listed_server(bin: &str) {
    let discovery = Discovery::start(Answer::Accept);
    let host = discovery.host();
    let alice = [("SERVICE_TYPE", "hello-mesos-alice")];
    let (mut app, url) = announcing(bin, &host, &alice);
    let line = app.wait_for_line("ANNOUNCED ", DISCOVERY_DEADLINE);
    let expected = format!("ANNOUNCED hello-mesos-alice@{url} to {host}");
    app.check(line == expected, &format!("expected {expected:?}"));
    let announced = announcements(&app, &discovery, 1)[0].json();
    let id = announced["announcementId"].as_str().unwrap_or_default();
    app.check(is_uuid_v4(id), &format!("not a UUID v4: {announced}"));
    let expected = [
        ("serviceType", "hello-mesos-alice"),
        ("serviceUri", url.as_str()),
        ("environment", "pp-sf"),
    ];
    for (field, value) in expected {
        let got = &announced[field];
        app.check(got == value, &format!("{field} is {got}, not {value:?}"));
    }
    // The seed host is only asked where the discovery servers are.
    let seed = discovery.seed.requests();
    app.check(
        !seed.is_empty() && seed.iter().all(|r| r.method == "GET" && r.path == "/watch"),
        &format!("the seed host received {seed:?}"),
    );
    // Said once, right after the readiness line, however many heartbeats follow.
    announcements(&app, &discovery, 3);
    let stdout = app.stdout();
    let lines: Vec<_> = stdout.lines().collect();
    app.check(
        lines.len() == 2 && lines[1] == line,
        "expected the readiness line, then one ANNOUNCED line",
    );
}

pub fn service_type_defaults_to_hello_mesos(bin: &str) {
    let discovery = Discovery::start(Answer::Accept);
    let (mut app, url) = announcing(bin, &discovery.host(), &[]);
    let line = app.wait_for_line("ANNOUNCED ", DISCOVERY_DEADLINE);
    let expected = format!("ANNOUNCED hello-mesos@{url} to {}", discovery.host());
    app.check(line == expected, &format!("expected {expected:?}"));
    let announced = announcements(&app, &discovery, 1)[0].json();
    let service_type = &announced["serviceType"];
    app.check(
        service_type == "hello-mesos",
        &format!("announced {announced}"),
    );
}

pub fn heartbeats_repeat_the_announcement(bin: &str) {
    let discovery = Discovery::start(Answer::Accept);
    let (mut app, _) = announcing(bin, &discovery.host(), &[]);
    let beats = announcements(&app, &discovery, 4);
    let first = beats[0].json();
    app.check(
        beats.iter().all(|beat| beat.json() == first),
        &format!("the heartbeats differ: {beats:?}"),
    );
    // Every DISCOVERY_HEARTBEAT_MS (100), not as fast as it can: on average, as the time a
    // request is recorded is when the stand-in gets to it, and on a busy machine two
    // heartbeats sent 100 ms apart may be recorded a millisecond apart.
    let gaps: Vec<_> = beats.windows(2).map(|w| w[1].at - w[0].at).collect();
    let span = beats[beats.len() - 1].at - beats[0].at;
    app.check(
        span >= Duration::from_millis(50) * gaps.len() as u32,
        &format!("heartbeats too close together: {gaps:?}"),
    );
    let running = app.is_running();
    app.check(running, "stopped while announcing");
}

/// Sends `signal` once the app has announced, and expects exactly one unannouncement,
/// of the announced id, received before the app exited, with nothing after it.
fn unannounces_on(bin: &str, signal: Signal) {
    let discovery = Discovery::start(Answer::Accept);
    let (mut app, _) = announcing(bin, &discovery.host(), &[]);
    let id = id_of(&announcements(&app, &discovery, 2)[0]);
    app.signal(signal);
    expect_clean_stop(&mut app);
    let deletes = discovery.server.requests_to("DELETE", "/");
    app.check(
        deletes.len() == 1 && deletes[0].path == format!("/announcement/{id}"),
        &format!("expected one DELETE /announcement/{id} before the exit, got {deletes:?}"),
    );
    // Whatever the app had sent is received by now.
    thread::sleep(Duration::from_millis(200));
    expect_nothing_after(&app, &discovery, &deletes[0]);
}

pub fn sigterm_unannounces_before_exiting(bin: &str) {
    unannounces_on(bin, Signal::SIGTERM);
}

pub fn sigint_unannounces_before_exiting(bin: &str) {
    unannounces_on(bin, Signal::SIGINT);
}

pub fn announces_once_discovery_comes_up(bin: &str) {
    // Its port is kept for it: refused until then, and no other test's server is given it.
    let seed = Reserved::new();
    let (mut app, url) = announcing(bin, &seed.address().to_string(), &[]);
    app.wait_for_line(ERROR, DISCOVERY_DEADLINE);
    expect_healthy(&app, &url);
    let discovery = Discovery::start_on(seed, Answer::Accept);
    app.wait_for_line("ANNOUNCED ", DISCOVERY_DEADLINE);
    announcements(&app, &discovery, 1);
    expect_healthy(&app, &url);
}

pub fn failing_server_is_retried(bin: &str) {
    let discovery = Discovery::start(Answer::Status(500));
    let (mut app, url) = announcing(bin, &discovery.host(), &[]);
    announcements(&app, &discovery, 3);
    // The failing server is forgotten each time: the seed host is asked again.
    discovery
        .seed
        .wait_for("GET", "/watch", 3, DISCOVERY_DEADLINE)
        .unwrap_or_else(|err| app.fail(&err));
    app.wait_for_line(ERROR, DISCOVERY_DEADLINE);
    app.wait_for_line(ERROR, DISCOVERY_DEADLINE);
    expect_healthy(&app, &url);
    let stderr = app.stderr();
    app.check(
        stderr.lines().all(|line| line.starts_with(ERROR)),
        "printed something other than discovery errors",
    );
    app.check(
        !app.stdout().contains("ANNOUNCED"),
        "said ANNOUNCED without a 201",
    );
    app.signal(Signal::SIGTERM);
    app.expect_exit_code(0);
}

pub fn stops_promptly_when_discovery_is_gone(bin: &str) {
    let discovery = Discovery::start(Answer::Accept);
    // A slow heartbeat: the app still counts on the server when it stops.
    let slow = [("DISCOVERY_HEARTBEAT_MS", "60000")];
    let (mut app, _) = announcing(bin, &discovery.host(), &slow);
    app.wait_for_line("ANNOUNCED ", DISCOVERY_DEADLINE);
    drop(discovery);
    app.signal(Signal::SIGTERM);
    let status = app.wait(DISCOVERY_STOP_DEADLINE);
    app.check(status.code() == Some(0), &format!("exited with {status}"));
    // It tried to unannounce, and said in one line that it could not.
    let stderr = app.stderr();
    app.check(
        stderr.lines().count() == 1 && stderr.starts_with(ERROR),
        "expected one discovery error",
    );
}

/// Runs `bin` set to announce, with `more` variables (which win), and expects it to
/// refuse to start with `message`.
fn refuses_to_announce(bin: &str, more: &[(&str, &str)], message: String) {
    let mut env = announce_env("127.0.0.1:8080");
    env.extend(more);
    says_on_refusal(bin, &env, 3, predicate::eq(message));
}

pub fn discovery_host_is_required(bin: &str) {
    let message = "DISCOVERY_HOST not set\n";
    let unset = MESOS_ENV.into_iter().chain([("OT_ENV", "pp-sf")]);
    says_on_refusal(bin, &unset.collect::<Vec<_>>(), 3, predicate::eq(message));
    refuses_to_announce(bin, &[("DISCOVERY_HOST", "")], message.into());
    // Checked before binding: a port that is taken does not hide it.
    let taken = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = taken.local_addr().expect("its address").port().to_string();
    let busy = [("DISCOVERY_HOST", ""), ("PORT0", port.as_str())];
    refuses_to_announce(bin, &busy, message.into());
}

pub fn discovery_host_must_be_a_bare_host(bin: &str) {
    let values = [
        "http://127.0.0.1:8080",
        "127.0.0.1:8080/",
        "discovery.example/watch",
        "127.0.0.1:99999",
        "user@127.0.0.1",
    ];
    for value in values {
        let message = format!("DISCOVERY_HOST is not a host[:port]: {value:?}\n");
        refuses_to_announce(bin, &[("DISCOVERY_HOST", value)], message);
    }
}

pub fn heartbeat_must_be_positive_milliseconds(bin: &str) {
    for value in ["abc", "0", "-100", "1.5", "10s", " 100"] {
        let message =
            format!("DISCOVERY_HEARTBEAT_MS is not a positive number of milliseconds: {value:?}\n");
        refuses_to_announce(bin, &[("DISCOVERY_HEARTBEAT_MS", value)], message);
    }
}

/// The URL announced is the readiness line's, a URL for an IPv6 address too (checked by
/// the `env` lesson's `ipv6_task_host_is_a_url`).
pub fn ipv6_task_host_is_announced_as_a_url(bin: &str) {
    if TcpListener::bind("[::1]:0").is_err() {
        return skip("no IPv6 loopback (::1) on this machine");
    }
    let discovery = Discovery::start(Answer::Accept);
    let (mut app, url) = announcing(bin, &discovery.host(), &[("TASK_HOST", "::1")]);
    app.wait_for_line("ANNOUNCED ", DISCOVERY_DEADLINE);
    let announced = announcements(&app, &discovery, 1)[0].json();
    let uri = &announced["serviceUri"];
    app.check(uri == url.as_str(), &format!("announced {uri}, not {url}"));
}

pub fn unspecified_task_host_is_refused(bin: &str) {
    for host in ["0.0.0.0", "::"] {
        let message = format!(
            "TASK_HOST {host} cannot be announced: set it to this machine's name or address\n"
        );
        refuses_to_announce(bin, &[("TASK_HOST", host)], message);
    }
    // In development mode it is what a container's port mapping needs.
    let mut app = App::start(bin, &[("TASK_HOST", "0.0.0.0"), ("PORT0", "0")]);
    let url = app.ready();
    app.wait_for_line(NOT_ANNOUNCING, START_DEADLINE);
    expect_healthy(&app, &url);
}
