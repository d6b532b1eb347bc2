//! What is read of a running server, whichever it is (a step, Node.js, nginx): its answer,
//! its CPU time and its memory, from `/proc`. Its own module, so that the server, nginx and
//! wrk modules each use it and none of them uses another's.

use std::{fs, time::Duration};

use nix::unistd::Pid;
use test_support::http;

/// Checks that `GET url` answers 200 with `body`.
pub fn expect_body(url: &str, body: &str) -> Result<(), String> {
    match http::get(url)? {
        response if response.status == 200 && response.body == body => Ok(()),
        other => Err(format!("GET {url}: expected 200 {body:?}, got {other:?}")),
    }
}

/// The CPU time that the processes `pids` have taken so far, all their threads added up.
pub fn cpu_time(pids: &[Pid]) -> Result<Duration, String> {
    let mut total = Duration::ZERO;
    for pid in pids {
        let tasks = format!("/proc/{pid}/task");
        let threads = fs::read_dir(&tasks).map_err(|err| format!("{tasks}: {err}"))?;
        for thread in threads.flatten() {
            // The first field of schedstat: nanoseconds spent on a CPU.
            let schedstat = fs::read_to_string(thread.path().join("schedstat"));
            let ns = schedstat
                .ok()
                .and_then(|s| s.split_whitespace().next()?.parse().ok());
            total += Duration::from_nanos(ns.unwrap_or(0));
        }
    }
    Ok(total)
}

/// A field of `/proc/PID/status` that counts kB (`VmRSS`: resident now, `VmHWM`: peak).
pub fn status_kib(pid: Pid, field: &str) -> Result<u64, String> {
    let path = format!("/proc/{pid}/status");
    let status = fs::read_to_string(&path).map_err(|err| format!("{path}: {err}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.trim().strip_suffix(" kB")?.parse().ok())
        .ok_or(format!("no {field} in {path}"))
}

/// What a server printed, each line with its control characters shown, not obeyed.
pub fn shown(printed: &str) -> String {
    printable::lines(printed.trim_end())
}
