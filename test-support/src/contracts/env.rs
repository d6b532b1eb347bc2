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

/// What a task that cannot start on the platform goes through.
const BAD_CONFIG: &str = "Mesos always sets TASK_HOST and PORT0; a task started without them \
    (a wrong image, a wrong command) must exit at once with a non-zero code and its reason in its \
    log, as the workshop's original app does with exit code 3: Singularity sees the task fail \
    on start-up and the deploy fails then. A service that starts anyway, on an address it \
    guessed, may not be where Singularity checks it: its deploy is then marked FAILED only after \
    the whole health-check time (55 s), with no reason in its log.";
const PAGE: &str = "docs/03-env.md#what-changed-since-step-02";
/// The advice about a refusal's line.
const ONE_LINE: &str = "Singularity shows a failed task's log; any non-zero exit fails it. \
    One line on stderr (no panic, no backtrace), worded as the snapshots word it, is this \
    repository's choice.";

pub const TASK_HOST_IS_REQUIRED: About = About {
    class: Class::Fails,
    expected: "without TASK_HOST (or with it empty): exit code 3, as the workshop's original app",
    platform: BAD_CONFIG,
    page: PAGE,
};

pub fn task_host_is_required(bin: &str) -> Outcome {
    for env in NO_TASK_HOST {
        refuses_to_start(bin, env, 3)?;
    }
    Ok(HELD)
}

pub const SAYS_TASK_HOST_NOT_SET: About = About {
    class: Class::Advice,
    expected: "without TASK_HOST: nothing on stdout, and on stderr the one line `TASK_HOST not set`",
    platform: ONE_LINE,
    page: PAGE,
};

pub fn says_task_host_not_set(bin: &str) -> Outcome {
    for env in NO_TASK_HOST {
        says_on_refusal(bin, env, 3, predicate::eq("TASK_HOST not set\n"))?;
    }
    Ok(HELD)
}

pub const PORT0_IS_REQUIRED: About = About {
    class: Class::Fails,
    expected: "without PORT0 (or with it empty): exit code 3, as the workshop's original app",
    platform: BAD_CONFIG,
    page: PAGE,
};

pub fn port0_is_required(bin: &str) -> Outcome {
    for env in NO_PORT0 {
        refuses_to_start(bin, env, 3)?;
    }
    Ok(HELD)
}

pub const SAYS_PORT0_NOT_SET: About = About {
    class: Class::Advice,
    expected: "without PORT0: nothing on stdout, and on stderr the one line `PORT0 not set`",
    platform: ONE_LINE,
    page: PAGE,
};

pub fn says_port0_not_set(bin: &str) -> Outcome {
    for env in NO_PORT0 {
        says_on_refusal(bin, env, 3, predicate::eq("PORT0 not set\n"))?;
    }
    Ok(HELD)
}

pub const PORT0_MUST_BE_A_TCP_PORT: About = About {
    class: Class::Advice,
    expected: "with a PORT0 that is not a number from 0 to 65535: exit code 3",
    platform: "Nothing: Mesos always gives a valid port. Refusing any other value at once, \
               rather than guessing, is this repository's choice.",
    page: PAGE,
};

pub fn port0_must_be_a_tcp_port(bin: &str) -> Outcome {
    for value in NOT_PORTS {
        refuses_to_start(bin, &[("TASK_HOST", "127.0.0.1"), ("PORT0", value)], 3)?;
    }
    Ok(HELD)
}

pub const SAYS_PORT0_IS_NOT_A_VALID_PORT: About = About {
    class: Class::Advice,
    expected: "with a PORT0 that is not a port: on stderr the one line `PORT0 is not a valid \
               port: \"VALUE\"`",
    platform: ONE_LINE,
    page: PAGE,
};

pub fn says_port0_is_not_a_valid_port(bin: &str) -> Outcome {
    for value in NOT_PORTS {
        let message = format!("PORT0 is not a valid port: {value:?}\n");
        let env = [("TASK_HOST", "127.0.0.1"), ("PORT0", value)];
        says_on_refusal(bin, &env, 3, predicate::eq(message))?;
    }
    Ok(HELD)
}

pub const PORT0_ZERO_TAKES_A_FREE_PORT: About = About {
    class: Class::Advice,
    expected: "with PORT0=0: listens on a port the system chooses, and prints that port in its \
               readiness line",
    platform: "Nothing: Mesos always gives a port of its own range. PORT0=0 is how this \
               repository's tests run services side by side.",
    page: PAGE,
};

pub fn port0_zero_takes_a_free_port(bin: &str) -> Outcome {
    let mut app = App::start_exactly(bin, &[("TASK_HOST", "127.0.0.1"), ("PORT0", "0")]);
    let url = app.ready()?;
    let port = url
        .strip_prefix("http://127.0.0.1:")
        .and_then(|p| p.parse::<u16>().ok());
    app.check(port.is_some_and(|p| p != 0), &format!("announced {url}"))?;
    app.check(
        http::accepts_connections(&url),
        &format!("nothing listens on {url}"),
    )?;
    Ok(HELD)
}

pub const ROOT_ANSWERS: About = About {
    class: Class::Fails,
    expected: "listens on TASK_HOST and PORT0, prints `Server running at: URL` once it does, and \
               GET / answers 200 (as the workshop's original app)",
    platform: "Mesos gives the task its host and port: a service listening elsewhere is never \
               reached, by Singularity's health checks or by anyone.",
    page: PAGE,
};

pub fn root_answers(bin: &str) -> Outcome {
    let (app, url) = serving(bin)?;
    expect_root_answers(&app, &url)?;
    Ok(HELD)
}

pub const SAYS_HELLO_AXUM: About = About {
    class: Class::Advice,
    expected: "GET / answers `Hello, Axum.` (the snapshots' greeting)",
    platform: OUR_CHOICE,
    page: PAGE,
};

pub fn says_hello_axum(bin: &str) -> Outcome {
    let (app, url) = serving(bin)?;
    expect_response(&app, http::get(&format!("{url}/")), 200, HELLO)?;
    Ok(HELD)
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

/// What the platform does with a service that cannot listen where it is told.
const CANNOT_LISTEN: &str = "Any non-zero exit fails the task at once, with its log. Exit \
    code 4 (the address is at fault, not the settings: 3) is this repository's choice.";

pub const BUSY_PORT_EXITS_4: About = About {
    class: Class::Advice,
    expected: "when PORT0 is taken: exit code 4",
    platform: CANNOT_LISTEN,
    page: PAGE,
};

pub fn busy_port_exits_4(bin: &str) -> Outcome {
    let (_taken, port) = busy_port();
    refuses_to_start(bin, &[("TASK_HOST", "127.0.0.1"), ("PORT0", &port)], 4)?;
    Ok(HELD)
}

pub const UNKNOWN_HOST_EXITS_4: About = About {
    class: Class::Advice,
    expected: "when TASK_HOST is a name that does not resolve: exit code 4",
    platform: CANNOT_LISTEN,
    page: PAGE,
};

pub fn unknown_host_exits_4(bin: &str) -> Outcome {
    refuses_to_start(bin, &UNKNOWN_HOST, 4)?;
    Ok(HELD)
}

pub const ADDRESS_OF_ANOTHER_MACHINE_EXITS_4: About = About {
    class: Class::Advice,
    expected: "when TASK_HOST is another machine's address: exit code 4",
    platform: CANNOT_LISTEN,
    page: PAGE,
};

pub fn address_of_another_machine_exits_4(bin: &str) -> Outcome {
    refuses_to_start(bin, &ANOTHER_MACHINE, 4)?;
    Ok(HELD)
}

pub const SAYS_CANNOT_LISTEN: About = About {
    class: Class::Advice,
    expected: "when it cannot listen: on stderr the one line `Cannot listen on HOST:PORT: REASON`",
    platform: ONE_LINE,
    page: PAGE,
};

pub fn says_cannot_listen(bin: &str) -> Outcome {
    let (_taken, port) = busy_port();
    let address = format!("Cannot listen on 127.0.0.1:{port}: ");
    let env = [("TASK_HOST", "127.0.0.1"), ("PORT0", port.as_str())];
    let message = predicate::str::starts_with(address).and(predicate::str::contains("in use"));
    says_on_refusal(bin, &env, 4, message)?;
    let message = predicate::str::starts_with("Cannot listen on no-such-host.invalid:0: ");
    says_on_refusal(bin, &UNKNOWN_HOST, 4, message)?;
    let message = predicate::str::starts_with("Cannot listen on 192.0.2.1:0: ")
        .and(predicate::str::contains("Cannot assign requested address"));
    says_on_refusal(bin, &ANOTHER_MACHINE, 4, message)?;
    Ok(HELD)
}

pub const IPV6_TASK_HOST_IS_A_URL: About = About {
    class: Class::Advice,
    expected: "with TASK_HOST=::1: listens there, and prints the URL with the address in brackets \
               (`http://[::1]:PORT`)",
    platform: "Nothing: Mesos gives TASK_HOST as the agent's host name, not an IPv6 literal. \
               Taking one is this repository's choice.",
    page: PAGE,
};

pub fn ipv6_task_host_is_a_url(bin: &str) -> Outcome {
    if TcpListener::bind("[::1]:0").is_err() {
        return skip("no IPv6 loopback (::1) on this machine");
    }
    let mut app = App::start(bin, &[("TASK_HOST", "::1"), ("PORT0", "0")]);
    let url = app.ready()?;
    // `http://::1:PORT` is not a URL: an IPv6 address goes in brackets.
    let port = url.strip_prefix("http://[::1]:");
    app.check(
        port.is_some_and(|port| port.parse::<u16>().is_ok()),
        &format!("the readiness line's {url:?} is not http://[::1]:PORT"),
    )?;
    expect_root_answers(&app, &url)?;
    Ok(HELD)
}
