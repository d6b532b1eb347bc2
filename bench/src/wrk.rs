//! The load generator: wrk, a number of connections and threads for a fixed time,
//! reporting through a small Lua script so that nothing depends on its human output.

use std::{fs, path::PathBuf, process::Stdio, time::Duration};

use nix::{
    sys::resource::{UsageWho, getrusage},
    unistd::Pid,
};
use tempfile::TempDir;

use crate::{cores::Cores, median, probe, tools};

/// Called by wrk once the load is over: one line of exact figures (microseconds).
const REPORT_SCRIPT: &str = r#"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("bench-figures %.0f %.0f %.0f %.0f %.0f\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
"#;

/// The same load for every server, on the load generator's core.
pub struct Load {
    wrk: PathBuf,
    pub duration: Duration,
    pub threads: u32,
    /// How many times each endpoint is loaded, on each server.
    pub runs: usize,
    script: TempDir,
    cores: Cores,
}

/// What a load measured: one run's figures, or the runs' medians with their spread.
#[derive(Clone, Copy, Debug)]
pub struct Figures {
    pub requests_per_s: f64,
    /// The slowest and the fastest run's requests/s.
    pub rate_range: (f64, f64),
    pub p50: Duration,
    pub p99: Duration,
    /// The lowest and the highest run's p99.
    pub p99_range: (Duration, Duration),
    /// Failed connections, reads, writes, timeouts, and responses with status 4xx or 5xx.
    pub errors: u64,
    /// The server's CPU time (user and system) per request: what a `cpus` request buys.
    pub cpu_per_request: Duration,
    /// wrk's own CPU time over the load's, in cores: near 1 per thread, wrk was the limit.
    pub load_cpu: f64,
}

impl Figures {
    /// The medians of `runs`, with the spread of their rates and p99s and all their errors.
    pub fn of(runs: &[Figures]) -> Option<Figures> {
        let pick = |f: fn(&Figures) -> Duration| median(runs.iter().map(f).collect());
        // Rates and shares as whole thousandths, to sort them.
        let thousandths = |f: fn(&Figures) -> f64| {
            median(runs.iter().map(|r| (f(r) * 1e3).round() as u64).collect())
                .map(|m| m as f64 / 1e3)
        };
        let rates = || runs.iter().map(|r| r.requests_per_s);
        let p99s = || runs.iter().map(|r| r.p99);
        Some(Figures {
            requests_per_s: thousandths(|r| r.requests_per_s)?,
            rate_range: (
                rates().fold(f64::INFINITY, f64::min),
                rates().fold(0.0, f64::max),
            ),
            p50: pick(|r| r.p50)?,
            p99: pick(|r| r.p99)?,
            p99_range: (p99s().min()?, p99s().max()?),
            errors: runs.iter().map(|r| r.errors).sum(),
            cpu_per_request: pick(|r| r.cpu_per_request)?,
            load_cpu: thousandths(|r| r.load_cpu)?,
        })
    }
}

impl Load {
    pub fn new(
        wrk: PathBuf,
        duration: Duration,
        threads: u32,
        runs: usize,
        cores: Cores,
    ) -> Result<Load, String> {
        let script = TempDir::new().map_err(|err| format!("temporary directory: {err}"))?;
        fs::write(script.path().join("report.lua"), REPORT_SCRIPT)
            .map_err(|err| format!("cannot write wrk's script: {err}"))?;
        Ok(Load {
            wrk,
            duration,
            threads,
            runs: runs.max(1),
            script,
            cores,
        })
    }

    /// How the cores are shared between the servers and wrk.
    pub fn cores(&self) -> &Cores {
        &self.cores
    }

    /// wrk's name and version: `wrk debian/4.1.0-3+b2`.
    pub fn version(&self) -> String {
        let line = tools::version(&self.wrk, "-v").unwrap_or_default();
        let words: Vec<_> = line.split_whitespace().take(2).collect();
        words.join(" ")
    }

    /// Runs the load once against `url` with `connections` open, served by the processes
    /// `server`, and returns what wrk measured, the CPU time the server took meanwhile, and
    /// wrk's own.
    pub fn run(&self, url: &str, connections: u32, server: &[Pid]) -> Result<Figures, String> {
        // The URL is the one the server announced: shown, never obeyed.
        let shown = printable::visible(url);
        eprintln!("  GET {shown} for {} s", self.duration.as_secs());
        let cpu_before = probe::cpu_time(server)?;
        // wrk is the only child that ends during the load: the children's CPU time grows by
        // its own.
        let load_before = children_cpu()?;
        let output = (self.cores.load(&self.wrk))
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
        let load_cpu = children_cpu()?.saturating_sub(load_before);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let [requests, duration_us, p50_us, p99_us, errors] = parse(&stdout).ok_or(format!(
            "wrk {url} printed no figures ({}):\n{stdout}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ))?;
        let rate = requests / (duration_us / 1e6);
        let p99 = Duration::from_secs_f64(p99_us / 1e6);
        Ok(Figures {
            requests_per_s: rate,
            rate_range: (rate, rate),
            p50: Duration::from_secs_f64(p50_us / 1e6),
            p99,
            p99_range: (p99, p99),
            errors: errors as u64,
            cpu_per_request: cpu.div_f64(requests.max(1.0)),
            load_cpu: load_cpu.as_secs_f64() / (duration_us / 1e6),
        })
    }
}

/// The CPU time (user and system) of this process's children that have ended and been waited
/// for.
fn children_cpu() -> Result<Duration, String> {
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).map_err(|err| format!("getrusage: {err}"))?;
    let micros = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(t.tv_sec() as u64) + Duration::from_micros(t.tv_usec() as u64)
    };
    Ok(micros(usage.user_time()) + micros(usage.system_time()))
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
    use super::*;

    fn run(rate: f64, p99_ms: u64) -> Figures {
        let p99 = Duration::from_millis(p99_ms);
        Figures {
            requests_per_s: rate,
            rate_range: (rate, rate),
            p50: Duration::from_millis(1),
            p99,
            p99_range: (p99, p99),
            errors: 1,
            cpu_per_request: Duration::from_micros(7),
            load_cpu: 0.9,
        }
    }

    #[test]
    fn runs_give_their_medians_and_spread() {
        let figures = Figures::of(&[run(100.0, 9), run(300.0, 5), run(200.0, 7)]).unwrap();
        assert_eq!(figures.requests_per_s, 200.0);
        assert_eq!(figures.rate_range, (100.0, 300.0));
        assert_eq!(figures.p99, Duration::from_millis(7));
        assert_eq!(
            figures.p99_range,
            (Duration::from_millis(5), Duration::from_millis(9))
        );
        assert_eq!(figures.errors, 3);
        assert_eq!(figures.load_cpu, 0.9);
        assert!(Figures::of(&[]).is_none());
    }

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
