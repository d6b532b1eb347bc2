//! The load generator: wrk, a number of connections and threads for a fixed time,
//! reporting through a small Lua script so that nothing depends on its human output.

use std::{
    fs,
    path::PathBuf,
    process::{Command, Stdio},
    time::Duration,
};

use nix::unistd::Pid;
use tempfile::TempDir;

use crate::{probe, tools};

/// Called by wrk once the load is over: one line of exact figures (microseconds).
const REPORT_SCRIPT: &str = r#"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("bench-figures %.0f %.0f %.0f %.0f %.0f\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
"#;

/// The same load for every server.
pub struct Load {
    wrk: PathBuf,
    pub duration: Duration,
    pub threads: u32,
    script: TempDir,
}

/// What one load measured.
#[derive(Clone, Copy, Debug)]
pub struct Figures {
    pub requests_per_s: f64,
    pub p50: Duration,
    pub p99: Duration,
    /// Failed connections, reads, writes, timeouts, and responses with status 4xx or 5xx.
    pub errors: u64,
    /// The server's CPU time (user and system) per request: what a `cpus` request buys.
    pub cpu_per_request: Duration,
}

impl Load {
    pub fn new(wrk: PathBuf, duration: Duration, threads: u32) -> Result<Load, String> {
        let script = TempDir::new().map_err(|err| format!("temporary directory: {err}"))?;
        fs::write(script.path().join("report.lua"), REPORT_SCRIPT)
            .map_err(|err| format!("cannot write wrk's script: {err}"))?;
        Ok(Load {
            wrk,
            duration,
            threads,
            script,
        })
    }

    /// wrk's name and version: `wrk debian/4.1.0-3+b2`.
    pub fn version(&self) -> String {
        let line = tools::version(&self.wrk, "-v").unwrap_or_default();
        let words: Vec<_> = line.split_whitespace().take(2).collect();
        words.join(" ")
    }

    /// Runs the load against `url` with `connections` open, served by the processes `server`,
    /// and returns what wrk measured and the CPU time the server took meanwhile.
    pub fn run(&self, url: &str, connections: u32, server: &[Pid]) -> Result<Figures, String> {
        eprintln!("  GET {url} for {} s", self.duration.as_secs());
        let cpu_before = probe::cpu_time(server)?;
        let output = Command::new(&self.wrk)
            .arg(format!("--threads={}", self.threads))
            .arg(format!("--connections={connections}"))
            .arg(format!("--duration={}s", self.duration.as_secs()))
            .arg("--script")
            .arg(self.script.path().join("report.lua"))
            .arg(url)
            .stdin(Stdio::null())
            .output()
            .map_err(|err| format!("cannot run {}: {err}", self.wrk.display()))?;
        let cpu = probe::cpu_time(server)? - cpu_before;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let [requests, duration_us, p50_us, p99_us, errors] = parse(&stdout).ok_or(format!(
            "wrk {url} printed no figures ({}):\n{stdout}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ))?;
        Ok(Figures {
            requests_per_s: requests / (duration_us / 1e6),
            p50: Duration::from_secs_f64(p50_us / 1e6),
            p99: Duration::from_secs_f64(p99_us / 1e6),
            errors: errors as u64,
            cpu_per_request: cpu.div_f64(requests.max(1.0)),
        })
    }
}

/// The numbers on the line that [`REPORT_SCRIPT`] prints: requests, duration in µs, p50 and
/// p99 latency in µs, errors.
fn parse(stdout: &str) -> Option<[f64; 5]> {
    let line = stdout
        .lines()
        .find_map(|line| line.strip_prefix("bench-figures "))?;
    let numbers: Vec<f64> = line
        .split_whitespace()
        .map(|n| n.parse().ok())
        .collect::<Option<_>>()?;
    numbers.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn reads_the_line_of_figures_among_wrk_output() {
        let stdout = "Running 10s test @ http://127.0.0.1:3000/\n  2 threads and 50 connections\n\
                      bench-figures 1436042 10002117 248 16530 3\nRequests/sec: 143574.75\n";
        assert_eq!(
            parse(stdout),
            Some([1436042.0, 10002117.0, 248.0, 16530.0, 3.0])
        );
    }

    #[test]
    fn refuses_a_line_it_cannot_read_whole() {
        assert_eq!(parse("Requests/sec: 143574.75\n"), None);
        assert_eq!(parse("bench-figures 1436042 10002117 248\n"), None);
        assert_eq!(parse("bench-figures 1436042 10002117 248 16530 x\n"), None);
        assert_eq!(parse("bench-figures 1 2 3 4 5 6\n"), None);
    }
}
