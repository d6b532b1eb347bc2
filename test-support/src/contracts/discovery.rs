//! Step 09: outside development mode the app announces itself to the discovery server that
//! the seed host lists, renews the announcement within each lease, and takes it back before
//! it stops listening; discovery failing never stops the app, nor delays its stop. How the
//! client stands up to a discovery that misbehaves is the discovery client's, checked in
//! [`super::discovery_client`].

use uuid::{Uuid, Variant, Version};

use super::*;
use crate::{
    app::START_DEADLINE,
    discovery::{Answer, Discovery},
    stand_in::{Recorded, Reserved},
};

/// A fast heartbeat, so that a test sees several in a fraction of a second (this repository's
/// setting: a service that ignores it renews at its own pace, within the lease).
pub(super) const HEARTBEAT_MS: &str = "100";
/// How long the app may take to reach discovery once it can.
pub(super) const DISCOVERY_DEADLINE: Duration = Duration::from_secs(5);
/// How long an announcement lives: each must be renewed within it.
const LEASE: Duration = Duration::from_secs(10);
/// How long a stop may take whatever discovery does: well inside Mesos's 5 s.
pub(super) const DISCOVERY_STOP_DEADLINE: Duration = Duration::from_secs(3);
const NOT_ANNOUNCING: &str = "Not announcing, as running in development mode.";
pub(super) const ERROR: &str = "Discovery error: ";

const PAGE: &str = "docs/09-discovery.md#why";
const CONFIG_PAGE: &str = "docs/09-discovery.md#configuration";
/// What happens to a service that discovery does not list as it is.
const UNLISTED: &str = "Other services find this one only through discovery: a task that is \
    not announced, or announced wrong, gets no traffic.";
/// What happens to a service that is still listed once it has gone.
const STILL_LISTED: &str = "Discovery keeps listing a task until its announcement is taken back \
    or its lease runs out (10 s): clients are sent to it after it has stopped listening, and \
    their requests fail at every deploy.";
/// What discovery failing must never do.
const OUTAGE: &str = "A discovery outage must never take a service down: its tasks would fail \
    Singularity's health checks, or be stopped late and killed by Mesos, because of another \
    system.";
/// The advice about this repository's discovery settings.
const OUR_SETTINGS: &str = "Nothing: the workshop's original app has its discovery settings \
    written in; refusing wrong ones at start, with exit code 3 and these words, is this \
    repository's choice.";

/// Starts `bin` as Mesos would in `pp-sf`, announcing to `host` with a fast heartbeat,
/// with `more` variables (which win), and returns it with its base URL once it is ready.
pub(super) fn announcing(
    bin: &str,
    host: &str,
    more: &[(&str, &str)],
) -> Result<(App, String), Failed> {
    let mut env = announce_env(host);
    env.extend(more);
    let mut app = App::start(bin, &env);
    let url = app.ready()?;
    Ok((app, url))
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

/// Waits until the discovery server has received `count` announcements: the first within
/// [`DISCOVERY_DEADLINE`], each next one within a lease.
pub(super) fn announcements(
    app: &App,
    discovery: &Discovery,
    count: usize,
) -> Result<Vec<Recorded>, Failed> {
    let renewals = u32::try_from(count.saturating_sub(1)).unwrap_or(u32::MAX);
    let within = DISCOVERY_DEADLINE + LEASE.saturating_mul(renewals);
    discovery
        .server
        .wait_for("POST", "/announcement", count, within)
        .map_err(|err| app.failed(&err))
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

/// Checks that `/health` answers 2xx: what Singularity sees whatever discovery does.
pub(super) fn expect_healthy(app: &App, url: &str) -> Result<(), Failed> {
    let response = http::get(&format!("{url}/health"));
    let healthy = response
        .as_ref()
        .is_ok_and(|r| (200..300).contains(&r.status));
    app.check(healthy, &format!("/health answered {response:?}"))
}

/// Checks that the server received nothing after the unannouncement.
pub(super) fn expect_nothing_after(
    app: &App,
    discovery: &Discovery,
    unannounced: &Recorded,
) -> Result<(), Failed> {
    let mut later = discovery.requests();
    later.retain(|request| request.at > unannounced.at);
    app.check(
        later.is_empty(),
        &format!("requests after the DELETE: {later:?}"),
    )
}

/// The lines, on either stream, that start with `prefix`.
fn lines_starting(app: &App, prefix: &str) -> Vec<String> {
    let all = app.stdout() + &app.stderr();
    all.lines()
        .filter(|line| line.starts_with(prefix))
        .map(str::to_string)
        .collect()
}

pub const DEVELOPMENT_MODE_ANNOUNCES_NOTHING: About = About {
    class: Class::Fails,
    expected: "with OT_ENV unset, empty or `development`: prints `Not announcing, as running in \
               development mode.` (on either stream), and sends discovery nothing",
    platform: "A service on a laptop announced to a shared discovery server would be sent other \
               people's requests: the workshop's original app announces only outside \
               development mode, and says so.",
    page: PAGE,
};

pub fn development_mode_announces_nothing(bin: &str) -> Outcome {
    let discovery = Discovery::start(Answer::Accept);
    let host = discovery.host();
    for ot_env in [None, Some("development"), Some("")] {
        let mut env = announce_env(&host);
        env.retain(|(name, _)| *name != "OT_ENV");
        env.extend(ot_env.map(|value| ("OT_ENV", value)));
        let mut app = App::start(bin, &env);
        app.ready()?;
        app.expect_line(NOT_ANNOUNCING, START_DEADLINE)?;
        // Nothing can show that nothing is sent but time: give it several heartbeats.
        thread::sleep(Duration::from_millis(500));
        app.send(Signal::SIGTERM)?;
        app.expect_exit_code(0)?;
        let requests = discovery.requests();
        app.check(
            requests.is_empty(),
            &format!("with OT_ENV={ot_env:?}, discovery received {requests:?}"),
        )?;
    }
    Ok(HELD)
}

pub const DEVELOPMENT_MODE_IGNORES_DISCOVERY_SETTINGS: About = About {
    class: Class::Advice,
    expected: "in development mode, starts whatever DISCOVERY_HOST and DISCOVERY_HEARTBEAT_MS say",
    platform: "Nothing: these are this repository's settings; the workshop's original app has \
               them written in.",
    page: CONFIG_PAGE,
};

pub fn development_mode_ignores_discovery_settings(bin: &str) -> Outcome {
    let mut env = MESOS_ENV.to_vec();
    env.extend([
        ("OT_ENV", "development"),
        ("DISCOVERY_HOST", "http://not-a-bare-host/"),
        ("DISCOVERY_HEARTBEAT_MS", "never"),
    ]);
    let mut app = App::start(bin, &env);
    let url = app.ready()?;
    app.expect_line(NOT_ANNOUNCING, START_DEADLINE)?;
    expect_healthy(&app, &url)?;
    Ok(HELD)
}

pub const ANNOUNCES_TO_THE_LISTED_SERVER: About = About {
    class: Class::Fails,
    expected: "with OT_ENV=pp-sf: asks the seed host (DISCOVERY_HOST) for the discovery servers, \
               POSTs to one of them an announcement with a UUID v4, its serviceType, its \
               readiness line's URL and environment pp-sf, and prints `ANNOUNCED \
               TYPE@URL to HOST` once (on either stream)",
    platform: UNLISTED,
    page: PAGE,
};

pub fn announces_to_the_listed_server(bin: &str) -> Outcome {
    let discovery = Discovery::start(Answer::Accept);
    let host = discovery.host();
    let (mut app, url) = announcing(bin, &host, &[])?;
    let line = app.expect_line("ANNOUNCED ", DISCOVERY_DEADLINE)?;
    let announced = announcements(&app, &discovery, 1)?[0].json();
    let id = announced["announcementId"].as_str().unwrap_or_default();
    app.check(is_uuid_v4(id), &format!("not a UUID v4: {announced}"))?;
    let service_type = announced["serviceType"].as_str().unwrap_or_default();
    app.check(
        !service_type.is_empty(),
        &format!("no serviceType: {announced}"),
    )?;
    let expected = [("serviceUri", url.as_str()), ("environment", "pp-sf")];
    for (field, value) in expected {
        let got = &announced[field];
        app.check(got == value, &format!("{field} is {got}, not {value:?}"))?;
    }
    let expected = format!("ANNOUNCED {service_type}@{url} to {host}");
    app.check(
        line == expected,
        &format!("expected {expected:?}, got {line:?}"),
    )?;
    // The seed host is only asked where the discovery servers are.
    let seed = discovery.seed.requests();
    app.check(
        !seed.is_empty() && seed.iter().all(|r| r.method == "GET" && r.path == "/watch"),
        &format!("the seed host received {seed:?}"),
    )?;
    // Said once, however many heartbeats follow.
    announcements(&app, &discovery, 2)?;
    let said = lines_starting(&app, "ANNOUNCED ");
    app.check(
        said.len() == 1,
        &format!("expected one ANNOUNCED line, got {said:?}"),
    )?;
    Ok(HELD)
}

pub const SERVICE_TYPE_DEFAULTS_TO_HELLO_MESOS: About = About {
    class: Class::Advice,
    expected: "announces the type SERVICE_TYPE names, `hello-mesos` when it is unset",
    platform: "Nothing: the workshop's original app has its type written in. Taking it from \
               SERVICE_TYPE, so that each learner's differs, is this repository's choice.",
    page: CONFIG_PAGE,
};

pub fn service_type_defaults_to_hello_mesos(bin: &str) -> Outcome {
    for (more, service_type) in [
        (&[][..], "hello-mesos"),
        (
            &[("SERVICE_TYPE", "hello-mesos-alice")][..],
            "hello-mesos-alice",
        ),
    ] {
        let discovery = Discovery::start(Answer::Accept);
        let (mut app, url) = announcing(bin, &discovery.host(), more)?;
        let line = app.expect_line("ANNOUNCED ", DISCOVERY_DEADLINE)?;
        let expected = format!("ANNOUNCED {service_type}@{url} to {}", discovery.host());
        app.check(line == expected, &format!("expected {expected:?}"))?;
        let announced = announcements(&app, &discovery, 1)?[0].json();
        app.check(
            announced["serviceType"] == service_type,
            &format!("announced {announced}"),
        )?;
    }
    Ok(HELD)
}

pub const HEARTBEATS_REPEAT_THE_ANNOUNCEMENT: About = About {
    class: Class::Fails,
    expected: "renews the same announcement within each 10 s lease, at the pace \
               DISCOVERY_HEARTBEAT_MS sets (or its own), never in a busy loop",
    platform: "An announcement not renewed within its lease (10 s) is dropped: the task is no \
               longer found, though it runs.",
    page: PAGE,
};

pub fn heartbeats_repeat_the_announcement(bin: &str) -> Outcome {
    let discovery = Discovery::start(Answer::Accept);
    let (mut app, _) = announcing(bin, &discovery.host(), &[])?;
    let beats = announcements(&app, &discovery, 3)?;
    let first = beats[0].json();
    app.check(
        beats.iter().all(|beat| beat.json() == first),
        &format!("the heartbeats differ: {beats:?}"),
    )?;
    // Every DISCOVERY_HEARTBEAT_MS (100), not as fast as it can: on average, as the time a
    // request is recorded is when the stand-in gets to it, and on a busy machine two
    // heartbeats sent 100 ms apart may be recorded a millisecond apart.
    let gaps: Vec<_> = beats.windows(2).map(|w| w[1].at - w[0].at).collect();
    let span = beats[beats.len() - 1].at - beats[0].at;
    app.check(
        span >= Duration::from_millis(50) * gaps.len() as u32,
        &format!("heartbeats too close together: {gaps:?}"),
    )?;
    let running = app.is_running();
    app.check(running, "stopped while announcing")?;
    Ok(HELD)
}

/// Sends `signal` once the app has announced, and expects exactly one unannouncement,
/// of the announced id, received before the app exited, with nothing after it.
fn unannounces_on(bin: &str, signal: Signal) -> Outcome {
    let discovery = Discovery::start(Answer::Accept);
    let (mut app, _) = announcing(bin, &discovery.host(), &[])?;
    let id = id_of(&announcements(&app, &discovery, 1)?[0]);
    // Once it says so: a stop while its first announcement is on its way may leave nothing
    // for it to take back, as far as it knows.
    app.expect_line("ANNOUNCED ", DISCOVERY_DEADLINE)?;
    app.send(signal)?;
    expect_clean_stop(&mut app)?;
    let deletes = discovery.server.requests_to("DELETE", "/");
    app.check(
        deletes.len() == 1 && deletes[0].path == format!("/announcement/{id}"),
        &format!("expected one DELETE /announcement/{id} before the exit, got {deletes:?}"),
    )?;
    // Whatever the app had sent is received by now.
    thread::sleep(Duration::from_millis(200));
    expect_nothing_after(&app, &discovery, &deletes[0])?;
    Ok(HELD)
}

pub const SIGTERM_UNANNOUNCES_BEFORE_EXITING: About = About {
    class: Class::Fails,
    expected: "on SIGTERM: DELETEs its announcement (once, its own id) before it exits 0, and \
               sends nothing after",
    platform: STILL_LISTED,
    page: PAGE,
};

pub fn sigterm_unannounces_before_exiting(bin: &str) -> Outcome {
    unannounces_on(bin, Signal::SIGTERM)
}

pub const SIGINT_UNANNOUNCES_BEFORE_EXITING: About = About {
    class: Class::Fails,
    expected: "on SIGINT: DELETEs its announcement (once, its own id) before it exits 0",
    platform: STILL_LISTED,
    page: PAGE,
};

pub fn sigint_unannounces_before_exiting(bin: &str) -> Outcome {
    unannounces_on(bin, Signal::SIGINT)
}

pub const UNANNOUNCES_BEFORE_IT_STOPS_LISTENING: About = About {
    class: Class::Fails,
    expected: "on SIGTERM: discovery has its DELETE before the service stops accepting \
               connections (unannounce first, then drain)",
    platform: "Between the listener closing and the announcement going, discovery still sends \
               clients to a port that refuses them: requests fail at every deploy. Taking the \
               announcement back first lets them go elsewhere while it drains.",
    page: PAGE,
};

pub fn unannounces_before_it_stops_listening(bin: &str) -> Outcome {
    let discovery = Discovery::start(Answer::Accept);
    let (mut app, url) = announcing(bin, &discovery.host(), &[])?;
    announcements(&app, &discovery, 1)?;
    app.expect_line("ANNOUNCED ", DISCOVERY_DEADLINE)?;
    // A request in progress keeps the drain going, so that a closed listener is seen apart
    // from a process that has gone.
    let _slow = HalfRequest::start(&url, "/").map_err(|err| app.failed(&err))?;
    app.send(Signal::SIGTERM)?;
    let deadline = Instant::now() + STOP_DEADLINE;
    while Instant::now() < deadline {
        if !discovery.server.requests_to("DELETE", "/").is_empty() {
            return Ok(HELD);
        }
        if !http::accepts_connections(&url) {
            let refused_at = Instant::now();
            // A DELETE recorded before the refusal was seen came first, however close.
            let deletes = discovery.server.requests_to("DELETE", "/");
            if deletes.iter().any(|delete| delete.at <= refused_at) {
                return Ok(HELD);
            }
            let listed = if app.is_running() {
                "stopped listening while its announcement was still listed (it unannounces \
                 after closing its listener: take the announcement back first)"
            } else {
                "exited without taking its announcement back"
            };
            return Err(app.failed(listed));
        }
        thread::sleep(Duration::from_millis(5));
    }
    Err(app.failed(&format!(
        "neither unannounced nor stopped listening within {STOP_DEADLINE:?} of SIGTERM"
    )))
}

pub const ANNOUNCES_ONCE_DISCOVERY_COMES_UP: About = About {
    class: Class::Fails,
    expected: "with discovery down at start: prints a `Discovery error: …` line (on either \
               stream), keeps serving and answering /health, and announces once discovery is up",
    platform: OUTAGE,
    page: PAGE,
};

pub fn announces_once_discovery_comes_up(bin: &str) -> Outcome {
    // Its port is kept for it: refused until then, and no other test's server is given it.
    let seed = Reserved::new();
    let (mut app, url) = announcing(bin, &seed.address().to_string(), &[])?;
    app.expect_line(ERROR, DISCOVERY_DEADLINE)?;
    expect_healthy(&app, &url)?;
    let discovery = Discovery::start_on(seed, Answer::Accept);
    app.expect_line("ANNOUNCED ", DISCOVERY_DEADLINE + LEASE)?;
    announcements(&app, &discovery, 1)?;
    expect_healthy(&app, &url)?;
    Ok(HELD)
}

pub const FAILING_SERVER_IS_RETRIED: About = About {
    class: Class::Fails,
    expected: "when discovery answers 500: says `Discovery error: …` (on either stream), asks \
               the seed host again and retries at each heartbeat, never says ANNOUNCED, and \
               keeps serving",
    platform: OUTAGE,
    page: PAGE,
};

pub fn failing_server_is_retried(bin: &str) -> Outcome {
    let discovery = Discovery::start(Answer::Status(500));
    let (mut app, url) = announcing(bin, &discovery.host(), &[])?;
    announcements(&app, &discovery, 3)?;
    // The failing server is forgotten each time: the seed host is asked again.
    discovery
        .seed
        .wait_for("GET", "/watch", 3, DISCOVERY_DEADLINE)
        .map_err(|err| app.failed(&err))?;
    app.expect_line(ERROR, DISCOVERY_DEADLINE)?;
    app.expect_line(ERROR, DISCOVERY_DEADLINE)?;
    expect_healthy(&app, &url)?;
    let said = lines_starting(&app, "ANNOUNCED");
    app.check(said.is_empty(), "said ANNOUNCED without a 201")?;
    app.send(Signal::SIGTERM)?;
    app.expect_exit_code(0)?;
    Ok(HELD)
}

pub const STOPS_PROMPTLY_WHEN_DISCOVERY_IS_GONE: About = About {
    class: Class::Fails,
    expected: "with discovery gone when it stops: exits 0 within 3 s of SIGTERM all the same, \
               with a `Discovery error: …` line (on either stream)",
    platform: OUTAGE,
    page: PAGE,
};

pub fn stops_promptly_when_discovery_is_gone(bin: &str) -> Outcome {
    let discovery = Discovery::start(Answer::Accept);
    // A slow heartbeat: the app still counts on the server when it stops.
    let slow = [("DISCOVERY_HEARTBEAT_MS", "60000")];
    let (mut app, _) = announcing(bin, &discovery.host(), &slow)?;
    app.expect_line("ANNOUNCED ", DISCOVERY_DEADLINE)?;
    drop(discovery);
    app.send(Signal::SIGTERM)?;
    let status = app.exit_within(DISCOVERY_STOP_DEADLINE)?;
    app.check(status.code() == Some(0), &format!("exited with {status}"))?;
    // It tried to unannounce, and said that it could not.
    app.expect_line(ERROR, Duration::from_millis(500))?;
    Ok(HELD)
}

/// Runs `bin` set to announce, with `more` variables (which win), and expects it to
/// refuse to start with `message`.
fn refuses_to_announce(bin: &str, more: &[(&str, &str)], message: String) -> Result<(), Failed> {
    let mut env = announce_env("127.0.0.1:8080");
    env.extend(more);
    says_on_refusal(bin, &env, 3, predicate::eq(message))
}

pub const DISCOVERY_HOST_IS_REQUIRED: About = About {
    class: Class::Advice,
    expected: "outside development mode without DISCOVERY_HOST: exit code 3 before listening, \
               with the one line `DISCOVERY_HOST not set` on stderr",
    platform: OUR_SETTINGS,
    page: CONFIG_PAGE,
};

pub fn discovery_host_is_required(bin: &str) -> Outcome {
    let message = "DISCOVERY_HOST not set\n";
    let unset = MESOS_ENV.into_iter().chain([("OT_ENV", "pp-sf")]);
    says_on_refusal(bin, &unset.collect::<Vec<_>>(), 3, predicate::eq(message))?;
    refuses_to_announce(bin, &[("DISCOVERY_HOST", "")], message.into())?;
    // Checked before binding: a port that is taken does not hide it.
    let taken = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = taken.local_addr().expect("its address").port().to_string();
    let busy = [("DISCOVERY_HOST", ""), ("PORT0", port.as_str())];
    refuses_to_announce(bin, &busy, message.into())?;
    Ok(HELD)
}

pub const DISCOVERY_HOST_MUST_BE_A_BARE_HOST: About = About {
    class: Class::Advice,
    expected: "with a DISCOVERY_HOST that is not host[:port] (a scheme, a path, a user): exit \
               code 3, with the one line `DISCOVERY_HOST is not a host[:port]: \"VALUE\"`",
    platform: OUR_SETTINGS,
    page: CONFIG_PAGE,
};

pub fn discovery_host_must_be_a_bare_host(bin: &str) -> Outcome {
    let values = [
        "http://127.0.0.1:8080",
        "127.0.0.1:8080/",
        "discovery.example/watch",
        "127.0.0.1:99999",
        "user@127.0.0.1",
    ];
    for value in values {
        let message = format!("DISCOVERY_HOST is not a host[:port]: {value:?}\n");
        refuses_to_announce(bin, &[("DISCOVERY_HOST", value)], message)?;
    }
    Ok(HELD)
}

pub const HEARTBEAT_MUST_BE_POSITIVE_MILLISECONDS: About = About {
    class: Class::Advice,
    expected: "with a DISCOVERY_HEARTBEAT_MS that is not a positive whole number: exit code 3, \
               with the one line `DISCOVERY_HEARTBEAT_MS is not a positive number of \
               milliseconds: \"VALUE\"`",
    platform: OUR_SETTINGS,
    page: CONFIG_PAGE,
};

pub fn heartbeat_must_be_positive_milliseconds(bin: &str) -> Outcome {
    for value in ["abc", "0", "-100", "1.5", "10s", " 100"] {
        let message =
            format!("DISCOVERY_HEARTBEAT_MS is not a positive number of milliseconds: {value:?}\n");
        refuses_to_announce(bin, &[("DISCOVERY_HEARTBEAT_MS", value)], message)?;
    }
    Ok(HELD)
}

pub const IPV6_TASK_HOST_IS_ANNOUNCED_AS_A_URL: About = About {
    class: Class::Advice,
    expected: "with TASK_HOST=::1: announces its readiness line's URL, `http://[::1]:PORT`",
    platform: "Nothing: Mesos gives TASK_HOST as the agent's host name, not an IPv6 literal.",
    page: CONFIG_PAGE,
};

/// The URL announced is the readiness line's, a URL for an IPv6 address too (checked by
/// the `env` lesson's `ipv6_task_host_is_a_url`).
pub fn ipv6_task_host_is_announced_as_a_url(bin: &str) -> Outcome {
    if TcpListener::bind("[::1]:0").is_err() {
        return skip("no IPv6 loopback (::1) on this machine");
    }
    let discovery = Discovery::start(Answer::Accept);
    let (mut app, url) = announcing(bin, &discovery.host(), &[("TASK_HOST", "::1")])?;
    app.expect_line("ANNOUNCED ", DISCOVERY_DEADLINE)?;
    let announced = announcements(&app, &discovery, 1)?[0].json();
    let uri = &announced["serviceUri"];
    app.check(uri == url.as_str(), &format!("announced {uri}, not {url}"))?;
    Ok(HELD)
}

pub const UNSPECIFIED_TASK_HOST_IS_REFUSED: About = About {
    class: Class::Advice,
    expected: "outside development mode with TASK_HOST 0.0.0.0 or `::`: exit code 3, with the \
               one line `TASK_HOST HOST cannot be announced: set it to this machine's name or \
               address`; in development mode it starts",
    platform: "Nothing: Mesos gives TASK_HOST as the agent's name, never \"every address\". \
               Refusing to announce one is this repository's choice.",
    page: CONFIG_PAGE,
};

pub fn unspecified_task_host_is_refused(bin: &str) -> Outcome {
    for host in ["0.0.0.0", "::"] {
        let message = format!(
            "TASK_HOST {host} cannot be announced: set it to this machine's name or address\n"
        );
        refuses_to_announce(bin, &[("TASK_HOST", host)], message)?;
    }
    // In development mode it is what a container's port mapping needs.
    let mut app = App::start(bin, &[("TASK_HOST", "0.0.0.0"), ("PORT0", "0")]);
    let url = app.ready()?;
    app.expect_line(NOT_ANNOUNCING, START_DEADLINE)?;
    expect_healthy(&app, &url)?;
    Ok(HELD)
}
