//! The step binaries: found in the workspace, built in release mode, started and stopped
//! through test-support's `App`, their memory read from `/proc`.

use std::{
    fs,
    os::unix::process::ExitStatusExt,
    path::{Path, PathBuf},
    process::Stdio,
    thread,
    time::{Duration, Instant},
};

use nix::{sys::signal::Signal, unistd::Pid};
use test_support::{
    app::{App, EXIT_DEADLINE},
    contracts::MESOS_ENV,
    http,
};

use super::{median, nginx::Nginx, wrk};
use crate::cargo;

/// What `GET /` answers in every step, and `GET /health` where there is one.
pub use test_support::contracts::{HEALTHY, HELLO};

/// How long to wait for a port that another program holds (step 02 always takes 3000).
const BUSY_PORT_WAIT: Duration = Duration::from_secs(30);

/// A step crate, its directory and its release binary.
pub struct Step {
    pub name: String,
    pub dir: PathBuf,
    pub bin: PathBuf,
}

/// Finds the step crates (the workspace's `step-*` directories) and builds their binaries
/// in release mode.
pub fn build_release(root: &Path) -> Result<Vec<Step>, String> {
    let output = cargo()
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .current_dir(root)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|err| format!("cannot run cargo metadata: {err}"))?;
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).map_err(|err| format!("cargo metadata: {err}"))?;
    let release =
        Path::new(metadata["target_directory"].as_str().unwrap_or("target")).join("release");
    let mut steps: Vec<Step> = metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|package| {
            let dir = Path::new(package["manifest_path"].as_str()?).parent()?;
            if !dir.file_name()?.to_string_lossy().starts_with("step-") {
                return None;
            }
            let name = package["name"].as_str()?.to_string();
            let bin = package["targets"].as_array()?.iter().find_map(|target| {
                let is_bin = target["kind"].as_array()?.iter().any(|k| k == "bin");
                is_bin.then(|| release.join(target["name"].as_str().unwrap_or_default()))
            })?;
            Some(Step {
                name,
                dir: dir.to_path_buf(),
                bin,
            })
        })
        .collect();
    steps.sort_by(|a, b| a.name.cmp(&b.name));
    if steps.is_empty() {
        return Err(format!("no step-* crate in {}", root.display()));
    }

    eprintln!("building {} steps in release mode", steps.len());
    let mut build = cargo();
    build
        .args(["build", "--release", "--quiet"])
        .current_dir(root);
    for step in &steps {
        build.args(["--package", &step.name]);
    }
    let status = build
        .status()
        .map_err(|err| format!("cannot run cargo build: {err}"))?;
    match status.success() {
        true => Ok(steps),
        false => Err(format!("cargo build --release failed: {status}")),
    }
}

/// A step that is running and has said it is ready.
struct Started {
    app: App,
    url: String,
    /// From just before the process was created until its readiness line was read.
    ready_after: Duration,
}

/// Starts `bin` with the environment Mesos gives (a step that takes no environment ignores
/// it), waiting while its port is held by another program.
fn start(bin: &Path) -> Result<Started, String> {
    let path = bin
        .to_str()
        .ok_or(format!("not UTF-8: {}", bin.display()))?;
    let give_up = Instant::now() + BUSY_PORT_WAIT;
    loop {
        let began = Instant::now();
        let mut app = App::start(path, &MESOS_ENV);
        match app.try_ready() {
            Ok(url) => {
                let ready_after = began.elapsed();
                return Ok(Started {
                    app,
                    url,
                    ready_after,
                });
            }
            Err(_) if app.stderr().contains("in use") && Instant::now() < give_up => {
                eprintln!("  {}", app.stderr().trim());
                thread::sleep(Duration::from_millis(500));
            }
            Err(err) => return Err(format!("{path}: {err}\n{}", app.stderr())),
        }
    }
}

/// Medians over repeated starts and stops of an idle step.
pub struct StartStop {
    /// From exec to the readiness line.
    pub ready: Duration,
    /// Resident memory just after the readiness line.
    pub idle_rss_kib: u64,
    /// From SIGTERM to exit; `None` when SIGTERM kills the step (it has no handler).
    pub stop: Option<Duration>,
}

/// Starts `bin`, reads its memory, sends SIGTERM and times its exit, `runs` times.
pub fn start_stop(bin: &Path, runs: usize) -> Result<StartStop, String> {
    let (mut ready, mut idle, mut stop, mut killed) = (vec![], vec![], vec![], 0);
    for _ in 0..runs {
        let Started {
            mut app,
            ready_after,
            ..
        } = start(bin)?;
        ready.push(ready_after);
        idle.push(status_kib(app.pid(), "VmRSS")?);
        let signalled = Instant::now();
        app.signal(Signal::SIGTERM);
        let status = app.wait(EXIT_DEADLINE);
        let took = signalled.elapsed();
        match (status.code(), status.signal()) {
            (Some(0), _) => stop.push(took),
            (_, Some(signal)) if signal == Signal::SIGTERM as i32 => killed += 1,
            _ => return Err(format!("{}: SIGTERM: {status}", bin.display())),
        }
    }
    if killed > 0 && !stop.is_empty() {
        return Err(format!(
            "{}: SIGTERM killed it {killed} times out of {runs}",
            bin.display()
        ));
    }
    Ok(StartStop {
        ready: median(ready).ok_or("no runs")?,
        idle_rss_kib: median(idle).ok_or("no runs")?,
        stop: median(stop),
    })
}

/// One endpoint loaded on nginx and, right after, on a step: machine noise that drifts
/// slowly touches both alike.
#[derive(Clone, Copy)]
pub struct Compared {
    pub step: wrk::Figures,
    pub nginx: wrk::Figures,
}

/// A step's figures under load.
pub struct Loaded {
    pub root: Compared,
    /// `None` where the step has no `/health`.
    pub health: Option<Compared>,
    /// Peak resident memory since start, read after both loads.
    pub peak_rss_kib: u64,
}

/// Starts `bin` once, checks what it answers, and loads `GET /`, then `GET /health` where
/// it answers, each on nginx first.
pub fn under_load(bin: &Path, load: &wrk::Load, nginx: &Nginx) -> Result<Loaded, String> {
    let Started { app, url, .. } = start(bin)?;
    let compare = |path: &str| -> Result<Compared, String> {
        Ok(Compared {
            nginx: load.run(&format!("{}{path}", nginx.url), &nginx.workers())?,
            step: load.run(&format!("{url}{path}"), &[app.pid()])?,
        })
    };
    expect_body(&format!("{url}/"), HELLO)?;
    let root = compare("/")?;
    let health = match expect_body(&format!("{url}/health"), HEALTHY) {
        Ok(()) => Some(compare("/health")?),
        Err(_) => None,
    };
    Ok(Loaded {
        root,
        health,
        peak_rss_kib: status_kib(app.pid(), "VmHWM")?,
    })
}

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
