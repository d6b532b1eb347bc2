//! Step 03: host and port come from `TASK_HOST` and `PORT0`; bad input exits with a
//! one-line message (3: configuration, 4: cannot listen).

use super::*;

/// Environments without a usable `TASK_HOST`, and without a usable `PORT0`.
const NO_TASK_HOST: [&[(&str, &str)]; 3] =
    [&[("PORT0", "0")], &[], &[("TASK_HOST", ""), ("PORT0", "0")]];
const NO_PORT0: [&[(&str, &str)]; 2] = [
    &[("TASK_HOST", "127.0.0.1")],
    &[("TASK_HOST", "127.0.0.1"), ("PORT0", "")],
];
/// Values of `PORT0` that are not a TCP port.
const NOT_PORTS: [&str; 6] = ["abc", "70000", "65536", "-1", "3000x", " 3000"];

pub fn task_host_is_required(bin: &str) {
    for env in NO_TASK_HOST {
        refuses_to_start(bin, env, 3);
    }
}

pub fn says_task_host_not_set(bin: &str) {
    for env in NO_TASK_HOST {
        says_on_refusal(bin, env, 3, predicate::eq("TASK_HOST not set\n"));
    }
}

pub fn port0_is_required(bin: &str) {
    for env in NO_PORT0 {
        refuses_to_start(bin, env, 3);
    }
}

pub fn says_port0_not_set(bin: &str) {
    for env in NO_PORT0 {
        says_on_refusal(bin, env, 3, predicate::eq("PORT0 not set\n"));
    }
}

pub fn port0_must_be_a_tcp_port(bin: &str) {
    for value in NOT_PORTS {
        refuses_to_start(bin, &[("TASK_HOST", "127.0.0.1"), ("PORT0", value)], 3);
    }
}

pub fn says_port0_is_not_a_valid_port(bin: &str) {
    for value in NOT_PORTS {
        let message = format!("PORT0 is not a valid port: {value:?}\n");
        let env = [("TASK_HOST", "127.0.0.1"), ("PORT0", value)];
        says_on_refusal(bin, &env, 3, predicate::eq(message));
    }
}

pub fn port0_zero_takes_a_free_port(bin: &str) {
    let (app, url) = serving(bin);
    let port = url
        .strip_prefix("http://127.0.0.1:")
        .and_then(|p| p.parse::<u16>().ok());
    app.check(port.is_some_and(|p| p != 0), &format!("announced {url}"));
    app.check(
        http::accepts_connections(&url),
        &format!("nothing listens on {url}"),
    );
}

pub fn root_answers(bin: &str) {
    let (app, url) = serving(bin);
    expect_root_answers(&app, &url);
}

pub fn says_hello_axum(bin: &str) {
    let (app, url) = serving(bin);
    expect_root_answers(&app, &url);
}

/// A port that another socket holds, for as long as the listener returned lives.
fn busy_port() -> (TcpListener, String) {
    let taken = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = taken.local_addr().expect("its address").port().to_string();
    (taken, port)
}

// 192.0.2.1 is reserved for examples: no interface here has it, and finding that out
// needs no network (unlike an unknown host name, whose error differs offline).
const ANOTHER_MACHINE: [(&str, &str); 2] = [("TASK_HOST", "192.0.2.1"), ("PORT0", "0")];
const UNKNOWN_HOST: [(&str, &str); 2] = [("TASK_HOST", "no-such-host.invalid"), ("PORT0", "0")];

pub fn busy_port_exits_4(bin: &str) {
    let (_taken, port) = busy_port();
    refuses_to_start(bin, &[("TASK_HOST", "127.0.0.1"), ("PORT0", &port)], 4);
}

pub fn unknown_host_exits_4(bin: &str) {
    refuses_to_start(bin, &UNKNOWN_HOST, 4);
}

pub fn address_of_another_machine_exits_4(bin: &str) {
    refuses_to_start(bin, &ANOTHER_MACHINE, 4);
}

pub fn says_cannot_listen(bin: &str) {
    let (_taken, port) = busy_port();
    let address = format!("Cannot listen on 127.0.0.1:{port}: ");
    let env = [("TASK_HOST", "127.0.0.1"), ("PORT0", port.as_str())];
    let message = predicate::str::starts_with(address).and(predicate::str::contains("in use"));
    says_on_refusal(bin, &env, 4, message);
    let message = predicate::str::starts_with("Cannot listen on no-such-host.invalid:0: ");
    says_on_refusal(bin, &UNKNOWN_HOST, 4, message);
    let message = predicate::str::starts_with("Cannot listen on 192.0.2.1:0: ")
        .and(predicate::str::contains("Cannot assign requested address"));
    says_on_refusal(bin, &ANOTHER_MACHINE, 4, message);
}

pub fn ipv6_task_host_is_a_url(bin: &str) {
    if TcpListener::bind("[::1]:0").is_err() {
        return skip("no IPv6 loopback (::1) on this machine");
    }
    let mut app = App::start(bin, &[("TASK_HOST", "::1"), ("PORT0", "0")]);
    let url = app.ready();
    // `http://::1:PORT` is not a URL: an IPv6 address goes in brackets.
    let port = url.strip_prefix("http://[::1]:");
    app.check(
        port.is_some_and(|port| port.parse::<u16>().is_ok()),
        &format!("the readiness line's {url:?} is not http://[::1]:PORT"),
    );
    expect_root_answers(&app, &url);
}
