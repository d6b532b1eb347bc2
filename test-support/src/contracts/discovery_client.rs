//! The discovery client's defences (discovery-client/): whatever a discovery server does,
//! it never fills the service's memory, slows down what it serves or its stop, leads it
//! elsewhere (through a redirect or a proxy), or keeps it on dead servers. Checked on a
//! service that uses the client; step 09's lesson is in [`super::discovery`].

use std::time::Instant;

use axum::Router;

use super::{
    discovery::{
        DISCOVERY_DEADLINE, DISCOVERY_STOP_DEADLINE, ERROR, announce_env, announcements,
        announcing, expect_healthy, expect_nothing_after,
    },
    *,
};
use crate::{
    cpu_quota::{CpuQuota, Throttling},
    discovery::{Answer, Discovery, seed_listing, watch_listing},
    misbehaving::{Misbehaving, Misbehaviour},
    stand_in::{Reserved, StandIn},
};

const PAGE: &str = "docs/09a-discovery-client.md#what-the-client-defends-against";
/// What the client's defences are for.
const DEFENCE: &str = "A discovery server that misbehaves must never take a service down: its \
    tasks would fail Singularity's health checks, or be killed by Mesos at their stop, because \
    of another system.";

pub const IGNORES_PROXY_SETTINGS: About = About {
    class: Class::Fails,
    expected: "talks to discovery directly, whatever http_proxy and the like say",
    platform: DEFENCE,
    page: PAGE,
};

pub fn ignores_proxy_settings(bin: &str) -> Outcome {
    let discovery = Discovery::start(Answer::Accept);
    // A proxy that would see (and refuse) every request sent through it.
    let proxy = StandIn::start(Router::new());
    let url = proxy.url();
    let proxies =
        ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"].map(|name| (name, url.as_str()));
    let (mut app, _) = announcing(bin, &discovery.host(), &proxies)?;
    app.expect_line("ANNOUNCED ", DISCOVERY_DEADLINE)?;
    let proxied = proxy.requests();
    app.check(
        proxied.is_empty(),
        &format!("sent through the proxy: {proxied:?}"),
    )?;
    Ok(HELD)
}

pub const HANGING_SERVER_IS_GIVEN_UP_AND_RETRIED: About = About {
    class: Class::Fails,
    expected: "gives up on a discovery server that never answers, says so, and asks the seed host again",
    platform: DEFENCE,
    page: PAGE,
};

pub fn hanging_server_is_given_up_and_retried(bin: &str) -> Outcome {
    let discovery = Discovery::start(Answer::Hang);
    let (mut app, url) = announcing(bin, &discovery.host(), &[])?;
    announcements(&app, &discovery, 1)?;
    expect_healthy(&app, &url)?;
    // The request times out (an error line), the server is forgotten, and the next
    // heartbeat asks the seed host again.
    app.expect_line(ERROR, DISCOVERY_DEADLINE)?;
    discovery
        .seed
        .wait_for("GET", "/watch", 2, DISCOVERY_DEADLINE)
        .map_err(|err| app.failed(&err))?;
    expect_healthy(&app, &url)?;
    Ok(HELD)
}

pub const STOPS_PROMPTLY_WHEN_DISCOVERY_HANGS: About = About {
    class: Class::Fails,
    expected: "exits 0 promptly on SIGTERM while a request to discovery hangs",
    platform: DEFENCE,
    page: PAGE,
};

pub fn stops_promptly_when_discovery_hangs(bin: &str) -> Outcome {
    let discovery = Discovery::start(Answer::Accept);
    let (mut app, url) = announcing(bin, &discovery.host(), &[])?;
    announcements(&app, &discovery, 1)?;
    // Wait for a heartbeat left hanging: the stop must not wait for it to time out.
    discovery.answer(Answer::Hang);
    let sent = discovery.server.requests_to("POST", "/").len();
    announcements(&app, &discovery, sent + 1)?;
    let signalled = Instant::now();
    app.send(Signal::SIGTERM)?;
    let deletes = discovery
        .server
        .wait_for("DELETE", "/announcement/", 1, DISCOVERY_STOP_DEADLINE)
        .map_err(|err| app.failed(&err))?;
    // While it unannounces it still serves: traffic stops before the app does.
    expect_healthy(&app, &url)?;
    let left = DISCOVERY_STOP_DEADLINE.saturating_sub(signalled.elapsed());
    let status = app.exit_within(left)?;
    app.check(status.code() == Some(0), &format!("exited with {status}"))?;
    expect_nothing_after(&app, &discovery, &deletes[0])?;
    Ok(HELD)
}

// What a misbehaving discovery must not do: fill the app's memory, slow down what it
// serves or its stop, lead it elsewhere, or keep it on dead servers. The figures measured
// are printed (run with `--nocapture`; on the release build with `--release`).

/// How much a misbehaving discovery may raise the app's peak memory.
const MEMORY_MARGIN_KIB: u64 = 8 * 1024;
/// How long the app is watched while discovery misbehaves: a flood or a drip lasts until
/// the request's deadline (2 s), then starts again at the next heartbeat.
const MISBEHAVING: Duration = Duration::from_secs(5);
/// The slowest `GET /` that the checks below accept at the 99th percentile, whatever
/// discovery does.
const SLOWEST_P99: Duration = Duration::from_millis(100);

/// The CPU time that the app's thread named `thread` has used so far (`utime` and `stime`
/// in `/proc/PID/task/TID/stat`, in the kernel's clock ticks: 100 a second).
fn cpu_time(app: &App, thread: &str) -> Result<Duration, Failed> {
    let tasks = std::fs::read_dir(format!("/proc/{}/task", app.pid()));
    let ticks = tasks.into_iter().flatten().flatten().find_map(|task| {
        let comm = std::fs::read_to_string(task.path().join("comm")).ok()?;
        if comm.trim_end() != thread {
            return None;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).ok()?;
        // The fields after the name, which is in brackets and may hold spaces.
        let (_, fields) = stat.rsplit_once(')')?;
        let fields: Vec<&str> = fields.split_whitespace().collect();
        let user: u64 = fields.get(11)?.parse().ok()?;
        let system: u64 = fields.get(12)?.parse().ok()?;
        Some(user + system)
    });
    let ticks = ticks.ok_or_else(|| app.failed(&format!("no thread {thread:?} in /proc")))?;
    Ok(Duration::from_millis(10 * ticks))
}

/// The app's peak resident memory so far, in KiB (`VmHWM` in `/proc/PID/status`).
fn peak_rss_kib(app: &App) -> Result<u64, Failed> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", app.pid()));
    let peak = status
        .as_deref()
        .unwrap_or_default()
        .lines()
        .find_map(|line| {
            let kib = line.strip_prefix("VmHWM:")?.trim().strip_suffix("kB")?;
            kib.trim().parse().ok()
        });
    peak.ok_or_else(|| app.failed("no VmHWM in /proc/PID/status"))
}

/// The peak memory of `bin` after a few heartbeats with a discovery that behaves.
fn peak_rss_with_good_discovery(bin: &str) -> Result<u64, Failed> {
    let discovery = Discovery::start(Answer::Accept);
    let (app, _) = announcing(bin, &discovery.host(), &[])?;
    announcements(&app, &discovery, 5)?;
    peak_rss_kib(&app)
}

/// Waits for `count` discovery errors, and returns the last.
fn errors(app: &mut App, count: usize) -> Result<String, Failed> {
    let mut last = String::new();
    for _ in 0..count {
        last = app.expect_line(ERROR, DISCOVERY_DEADLINE)?;
    }
    Ok(last)
}

/// Checks that a misbehaving discovery leaves the app's peak memory within
/// [`MEMORY_MARGIN_KIB`] of its peak with a discovery that behaves, and the app serving.
fn expect_memory_bounded(bin: &str, app: &App, url: &str, baseline: u64) -> Result<(), Failed> {
    let peak = peak_rss_kib(app)?;
    let grown = peak.saturating_sub(baseline);
    eprintln!(
        "peak RSS: {peak} KiB, {grown} KiB above {baseline} KiB with a good discovery ({bin})"
    );
    app.check(
        grown <= MEMORY_MARGIN_KIB,
        &format!("peak RSS {peak} KiB, {grown} KiB above {baseline} KiB"),
    )?;
    expect_healthy(app, url)
}

/// Runs `bin` with a seed host that answers `/watch` as `seed` does, and checks that
/// each heartbeat refuses the listing at the bound, within the memory margin.
fn expect_listing_refused(bin: &str, seed: Misbehaviour) -> Outcome {
    let baseline = peak_rss_with_good_discovery(bin)?;
    let seed = Misbehaving::start(seed);
    let (mut app, url) = announcing(bin, &seed.host(), &[])?;
    let error = errors(&mut app, 3)?;
    expect_memory_bounded(bin, &app, &url, baseline)?;
    app.check(
        error.contains("/watch sent more than 1048576 bytes"),
        "expected an error naming the bound",
    )?;
    Ok(HELD)
}

pub const ENDLESS_LISTING_IS_CUT_SHORT: About = About {
    class: Class::Fails,
    expected: "refuses a seed host's listing that never ends, in bounded memory",
    platform: DEFENCE,
    page: PAGE,
};

pub fn endless_listing_is_cut_short(bin: &str) -> Outcome {
    expect_listing_refused(bin, Misbehaviour::EndlessListing)
}

pub const HUGE_LISTING_IS_REFUSED: About = About {
    class: Class::Fails,
    expected: "refuses a seed host's listing too large to be one, in bounded memory",
    platform: DEFENCE,
    page: PAGE,
};

pub fn huge_listing_is_refused(bin: &str) -> Outcome {
    // A valid listing of 8 MiB, with a discovery server that works at its very end.
    let discovery = Discovery::start(Answer::Accept);
    let mut servers = vec!["http://127.0.0.1:9".to_string(); 8 * 1024 * 1024 / 150];
    servers.push(discovery.server.url());
    let listing = watch_listing(&servers, "http://127.0.0.1:9");
    expect_listing_refused(bin, Misbehaviour::Answer(200, "application/json", listing))?;
    let announced = discovery.server.requests();
    if announced.is_empty() {
        Ok(HELD)
    } else {
        Err(Failed::new("announced from a refused listing"))
    }
}

/// Sends `GET /` to `url` over a new connection, and returns how long the whole answer took.
fn timed_hello(url: &str) -> Result<Duration, String> {
    let address = url.trim_start_matches("http://");
    let started = Instant::now();
    let mut stream = std::net::TcpStream::connect(address).map_err(|err| err.to_string())?;
    stream
        .set_read_timeout(Some(http::REQUEST_DEADLINE))
        .map_err(|err| err.to_string())?;
    let request = format!("GET / HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    std::io::Write::write_all(&mut stream, request.as_bytes()).map_err(|err| err.to_string())?;
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut stream, &mut answer).map_err(|err| err.to_string())?;
    if !answer.starts_with("HTTP/1.1 200") || !answer.ends_with(HELLO) {
        return Err(format!("answered {answer:?}"));
    }
    Ok(started.elapsed())
}

/// Sends `GET /` every 10 ms for `during`, checks that every request was answered, and
/// returns the 99th percentile of their times.
fn serving_p99(app: &App, url: &str, during: Duration, what: &str) -> Result<Duration, Failed> {
    let mut times = Vec::new();
    let started = Instant::now();
    while started.elapsed() < during {
        times.push(timed_hello(url).map_err(|err| app.failed(&format!("GET /: {err}")))?);
        thread::sleep(Duration::from_millis(10));
    }
    times.sort();
    let p99 = times[times.len() * 99 / 100];
    let slowest = times[times.len() - 1];
    eprintln!(
        "GET / {what}: {} requests, p99 {p99:?}, slowest {slowest:?}",
        times.len()
    );
    Ok(p99)
}

/// Checks that every `GET /` sent for `during` is answered, the 99th percentile of their
/// times within [`SLOWEST_P99`].
fn expect_serving(app: &App, url: &str, during: Duration, what: &str) -> Result<(), Failed> {
    let p99 = serving_p99(app, url, during, what)?;
    app.check(p99 <= SLOWEST_P99, &format!("GET / p99 {p99:?} {what}"))
}

/// Checks that SIGTERM stops the app within [`DISCOVERY_STOP_DEADLINE`].
fn expect_prompt_stop(app: &mut App, what: &str) -> Result<(), Failed> {
    let signalled = Instant::now();
    app.send(Signal::SIGTERM)?;
    let status = app.exit_within(DISCOVERY_STOP_DEADLINE)?;
    eprintln!("stopped {what} in {:?}", signalled.elapsed());
    app.check(status.code() == Some(0), &format!("exited with {status}"))
}

pub const INFORMATIONAL_FLOOD_SLOWS_NEITHER_SERVING_NOR_THE_STOP: About = About {
    class: Class::Fails,
    expected: "a discovery server that floods it with `100 Continue` slows neither its answers nor its stop",
    platform: DEFENCE,
    page: PAGE,
};

pub fn informational_flood_slows_neither_serving_nor_the_stop(bin: &str) -> Outcome {
    let baseline = peak_rss_with_good_discovery(bin)?;
    let seed = Misbehaving::start(Misbehaviour::InformationalFlood);
    let (mut app, url) = announcing(bin, &seed.host(), &[])?;
    seed_asked(&app, &seed)?;
    let what = "during a 1xx flood";
    expect_serving(&app, &url, MISBEHAVING, what)?;
    expect_memory_bounded(bin, &app, &url, baseline)?;
    // Cut short at the bound of an answer's head, long before the listing's: parsing
    // informational answers costs CPU, even when it costs no memory.
    let error = app.expect_line(ERROR, DISCOVERY_DEADLINE)?;
    app.check(
        error.ends_with("/watch sent more than 16384 bytes"),
        "expected an error naming the bound of an answer's head",
    )?;
    expect_prompt_stop(&mut app, what)?;
    Ok(HELD)
}

pub const INFORMATIONAL_FLOOD_ON_A_TENTH_OF_A_CPU: About = About {
    class: Class::Fails,
    expected: "the same flood, on a tenth of a CPU, slows neither its answers nor its stop",
    platform: DEFENCE,
    page: PAGE,
};

pub fn informational_flood_on_a_tenth_of_a_cpu(bin: &str) -> Outcome {
    // Mesos gives the task `cpus: 0.1` (config/pp-sf/singularity.json): 10 ms of every 100.
    let cpus = 0.1;
    let quota = match CpuQuota::new(cpus) {
        Ok(quota) => quota,
        Err(reason) => return skip(&reason),
    };
    let seed = Misbehaving::start(Misbehaviour::InformationalFlood);
    let mut app = App::spawn(quota.command(bin), &announce_env(&seed.host()));
    let url = app.ready()?;
    seed_asked(&app, &seed)?;
    let what = "during a 1xx flood, on 0.1 CPU";
    let before = quota.throttling();
    let (cpu_before, started) = (cpu_time(&app, "discovery")?, Instant::now());
    let p99 = serving_p99(&app, &url, MISBEHAVING, what)?;
    let Throttling { periods, throttled } = quota.throttling().since(before);
    let (used, elapsed) = (cpu_time(&app, "discovery")? - cpu_before, started.elapsed());
    eprintln!("the quota held the app back in {throttled} of {periods} periods ({what})");
    eprintln!("the discovery thread used {used:?} of CPU in {elapsed:?} ({what})");
    app.check(p99 <= SLOWEST_P99, &format!("GET / p99 {p99:?} {what}"))?;
    // A request that comes once the app has used up its quota waits for the next period,
    // up to 90 ms: a discovery that used up the quota in every period could still leave
    // the 99th percentile just under 100 ms, and the timing depends on how busy this
    // machine is too. So check the cause as well, in CPU time, which does not: the thread
    // that the app names `discovery` used at most a third of the quota (a release build
    // uses a few percent of it, a debug build some 15%).
    let share = elapsed.mul_f64(cpus);
    app.check(
        used * 3 <= share,
        &format!("the discovery thread used {used:?} of the {share:?} allowed {what}"),
    )?;
    expect_prompt_stop(&mut app, what)?;
    Ok(HELD)
}

/// Waits until the misbehaving `server` has been sent a request.
fn seed_asked(app: &App, server: &Misbehaving) -> Result<(), Failed> {
    let deadline = Instant::now() + DISCOVERY_DEADLINE;
    while server.requests() == 0 {
        app.check(Instant::now() < deadline, "discovery was never asked")?;
        thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

pub const DRIPPING_SERVER_IS_GIVEN_UP: About = About {
    class: Class::Fails,
    expected: "gives up on a discovery server that answers a byte at a time",
    platform: DEFENCE,
    page: PAGE,
};

pub fn dripping_server_is_given_up(bin: &str) -> Outcome {
    let drip = Misbehaving::start(Misbehaviour::Drip);
    let seed = seed_listing(&[drip.url()]);
    let (mut app, url) = announcing(bin, &seed.host(), &[])?;
    // The request is given up at its deadline, and the seed host is asked again.
    app.expect_line(ERROR, DISCOVERY_DEADLINE)?;
    seed.wait_for("GET", "/watch", 2, DISCOVERY_DEADLINE)
        .map_err(|err| app.failed(&err))?;
    expect_serving(&app, &url, Duration::from_secs(1), "during a drip")?;
    expect_prompt_stop(&mut app, "during a drip")?;
    Ok(HELD)
}

pub const REDIRECTS_ARE_NOT_FOLLOWED: About = About {
    class: Class::Fails,
    expected: "follows no redirect from discovery, and says so",
    platform: DEFENCE,
    page: PAGE,
};

pub fn redirects_are_not_followed(bin: &str) -> Outcome {
    for (code, status) in [(302, "302 Found"), (307, "307 Temporary Redirect")] {
        // A discovery server that sends everything to another, which would accept it.
        let elsewhere = Discovery::start(Answer::Accept);
        let location = format!("{}/announcement", elsewhere.server.url());
        let redirect = move || {
            let location = location.clone();
            async move {
                let code = axum::http::StatusCode::from_u16(code).expect("a status");
                (code, [(axum::http::header::LOCATION, location)])
            }
        };
        let redirecting = StandIn::start(Router::new().route(
            "/announcement",
            axum::routing::post(redirect.clone()).get(redirect),
        ));
        let seed = seed_listing(&[redirecting.url()]);
        let (mut app, _) = announcing(bin, &seed.host(), &[])?;
        let error = app.expect_line(ERROR, DISCOVERY_DEADLINE)?;
        let expected = format!(
            "{ERROR}{}/announcement answered {status}",
            redirecting.url()
        );
        app.check(error == expected, &format!("expected {expected:?}"))?;
        // Several heartbeats later, nothing reached the other server.
        redirecting
            .wait_for("POST", "/announcement", 3, DISCOVERY_DEADLINE)
            .map_err(|err| app.failed(&err))?;
        let followed = elsewhere.requests();
        app.check(followed.is_empty(), &format!("followed to {followed:?}"))?;
        app.check(!app.stdout().contains("ANNOUNCED"), "said ANNOUNCED")?;
    }
    Ok(HELD)
}

pub const DEAD_SERVERS_ARE_REPLACED_FROM_THE_SEED: About = About {
    class: Class::Fails,
    expected: "replaces discovery servers that are gone with those the seed host lists now",
    platform: DEFENCE,
    page: PAGE,
};

pub fn dead_servers_are_replaced_from_the_seed(bin: &str) -> Outcome {
    // A thousand discovery servers listed, none of them up.
    let dead = Reserved::new();
    let seed = seed_listing(&vec![format!("http://{}", dead.address()); 1000]);
    let (app, _) = announcing(bin, &seed.host(), &[])?;
    // At a heartbeat every 100 ms, the listing is asked for again within a few.
    seed.wait_for("GET", "/watch", 3, Duration::from_secs(3))
        .map_err(|err| app.failed(&err))?;
    Ok(HELD)
}

pub const LISTED_URIS_ARE_NEVER_PRINTED_RAW: About = About {
    class: Class::Fails,
    expected: "prints no control character that a listed discovery server's URI holds",
    platform: "A seed host's listing is someone else's text: its control characters, printed as \
        they are, would retitle the terminal of whoever reads the task's output, or rewrite \
        lines of it.",
    page: PAGE,
};

pub fn listed_uris_are_never_printed_raw(bin: &str) -> Outcome {
    // A URI that http takes (bytes past ASCII may stand in a path): a C1 CSI, a right-to-left
    // override, on a port where nothing listens.
    let dead = Reserved::new();
    let hostile = format!("http://{}/\u{9b}2J\u{9b}1A\u{202e}", dead.address());
    let seed = seed_listing(&[hostile]);
    let (mut app, url) = announcing(bin, &seed.host(), &[])?;
    app.expect_line(ERROR, DISCOVERY_DEADLINE)?;
    seed.wait_for("GET", "/watch", 2, DISCOVERY_DEADLINE)
        .map_err(|err| app.failed(&err))?;
    let raw = |c: char| {
        (c.is_control() && c != '\n' && c != '\t') || ('\u{202a}'..='\u{2069}').contains(&c)
    };
    let printed = app.stdout() + &app.stderr();
    app.check(
        !printed.chars().any(raw),
        "printed a control character of the listing",
    )?;
    expect_healthy(&app, &url)?;
    Ok(HELD)
}
