//! A measured server (a step's binary, a step's image, or Node.js running the workshop's app):
//! started and stopped through test-support's `App` with the environment Mesos gives, on the
//! servers' core, loaded next to nginx, its CPU time and memory read from `/proc`
//! ([`crate::probe`]).

use std::{
    ffi::OsString,
    os::unix::process::ExitStatusExt,
    path::PathBuf,
    process::Command,
    thread,
    time::{Duration, Instant},
};

use nix::{sys::signal::Signal, unistd::Pid};
use test_support::{
    app::{App, EXIT_DEADLINE},
    contracts::{HEALTHY, MESOS_ENV},
};

use crate::{
    cores::Cores,
    median,
    nginx::Nginx,
    probe::{expect_body, shown, status_kib},
    wrk,
};

/// How long to wait for a port that another program holds (step 02 always takes 3000).
const BUSY_PORT_WAIT: Duration = Duration::from_secs(30);

/// How to start one server, and what it answers on `GET /`.
pub struct Server {
    pub name: String,
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub hello: &'static str,
    /// For an image: the container's name (the program is `docker run`, which pins the
    /// container itself and passes the environment on), and the step whose binary it holds.
    pub container: Option<(String, String)>,
}

/// Everything measured on one server.
pub struct Measured {
    pub name: String,
    pub start_stop: StartStop,
    /// One per load shape, in the order of `--connections`.
    pub loads: Vec<Loaded>,
    pub binary_bytes: Option<u64>,
    /// The image's size, or why there is none.
    pub image: Option<String>,
    /// For an image: the step whose binary it holds, to compare with.
    pub binary_of: Option<String>,
}

/// Medians over repeated starts and stops of an idle server.
pub struct StartStop {
    /// From exec to the readiness line.
    pub ready: Duration,
    /// Resident memory just after the readiness line.
    pub idle_rss_kib: u64,
    /// From SIGTERM to exit; `None` when SIGTERM kills the server (it has no handler).
    pub stop: Option<Duration>,
}

/// One endpoint loaded on nginx and, right after, on a server: machine noise that drifts
/// slowly touches both alike.
#[derive(Clone, Copy)]
pub struct Compared {
    pub server: wrk::Figures,
    pub nginx: wrk::Figures,
}

/// A server's figures under one load shape.
pub struct Loaded {
    pub root: Compared,
    /// `None` where the server has no `/health`.
    pub health: Option<Compared>,
    /// Peak resident memory since start, read after both loads.
    pub peak_rss_kib: u64,
}

/// A server that is running and has said it is ready.
struct Started {
    app: App,
    /// The process that serves: the server itself, or the container's first process.
    pid: Pid,
    url: String,
    /// From just before the process was created until its readiness line was read.
    ready_after: Duration,
    /// For an image: the `docker` client and the container to remove when this ends.
    container: Option<(PathBuf, String)>,
}

impl Drop for Started {
    fn drop(&mut self) {
        // Killing `docker run` would leave its container running.
        if let Some((docker, name)) = &self.container {
            let _ = Command::new(docker)
                .args(["rm", "--force", "--", name])
                .output();
        }
    }
}

impl Server {
    /// Starts the server on the servers' core, waiting while its port is held by another
    /// program.
    fn start(&self, cores: &Cores) -> Result<Started, String> {
        let give_up = Instant::now() + BUSY_PORT_WAIT;
        loop {
            let mut command = match self.container {
                Some(_) => Command::new(&self.program),
                None => cores.server(&self.program),
            };
            command.args(&self.args);
            let began = Instant::now();
            let mut app = App::spawn(command, &MESOS_ENV);
            match app.try_ready() {
                Ok(url) => {
                    let ready_after = began.elapsed();
                    let pid = match &self.container {
                        Some((name, _)) => container_pid(&self.program, name)?,
                        None => app.pid(),
                    };
                    return Ok(Started {
                        app,
                        pid,
                        url,
                        ready_after,
                        container: (self.container.as_ref())
                            .map(|(name, _)| (self.program.clone(), name.clone())),
                    });
                }
                Err(_) if app.stderr().contains("in use") && Instant::now() < give_up => {
                    eprintln!("  {}", shown(&app.stderr()));
                    thread::sleep(Duration::from_millis(500));
                }
                Err(err) => {
                    return Err(format!("{}: {err}\n{}", self.name, shown(&app.stderr())));
                }
            }
        }
    }

    /// Starts the server, reads its memory, sends SIGTERM and times its exit, `runs` times.
    pub fn idle(&self, runs: usize, cores: &Cores) -> Result<Measured, String> {
        eprintln!("{}: {runs} starts and stops", self.name);
        let (mut ready, mut idle, mut stop, mut killed) = (vec![], vec![], vec![], 0);
        for _ in 0..runs {
            let mut started = self.start(cores)?;
            ready.push(started.ready_after);
            idle.push(status_kib(started.pid, "VmRSS")?);
            let signalled = Instant::now();
            // To `docker run` for an image, which passes it on to the container.
            started.app.signal(Signal::SIGTERM);
            let status = started.app.wait(EXIT_DEADLINE);
            let took = signalled.elapsed();
            match (status.code(), status.signal()) {
                (Some(0), _) => stop.push(took),
                (_, Some(signal)) if signal == Signal::SIGTERM as i32 => killed += 1,
                _ => return Err(format!("{}: SIGTERM: {status}", self.name)),
            }
        }
        if killed > 0 && !stop.is_empty() {
            return Err(format!(
                "{}: SIGTERM killed it {killed} times out of {runs}",
                self.name
            ));
        }
        Ok(Measured {
            name: self.name.clone(),
            start_stop: StartStop {
                ready: median(ready).ok_or("no runs")?,
                idle_rss_kib: median(idle).ok_or("no runs")?,
                stop: median(stop),
            },
            loads: vec![],
            binary_bytes: None,
            image: None,
            binary_of: self.container.as_ref().map(|(_, step)| step.clone()),
        })
    }

    /// Starts the server once, checks what it answers, and loads `GET /`, then `GET /health`
    /// where it answers, with `connections` open: nginx, then the server, as many times as
    /// the load says.
    pub fn under_load(
        &self,
        load: &wrk::Load,
        connections: u32,
        nginx: &Nginx,
    ) -> Result<Loaded, String> {
        eprintln!("{}: under load, {connections} connections", self.name);
        let started = self.start(load.cores())?;
        let url = &started.url;
        let compare = |path: &str| -> Result<Compared, String> {
            let nginx_url = format!("{}{path}", nginx.url);
            let (mut on_nginx, mut on_server) = (vec![], vec![]);
            for _ in 0..load.runs {
                on_nginx.push(load.run(&nginx_url, connections, &nginx.workers())?);
                on_server.push(load.run(&format!("{url}{path}"), connections, &[started.pid])?);
            }
            let of = |runs: &[wrk::Figures]| wrk::Figures::of(runs).ok_or("no load ran");
            Ok(Compared {
                nginx: of(&on_nginx)?,
                server: of(&on_server)?,
            })
        };
        expect_body(&format!("{url}/"), self.hello)?;
        let root = compare("/")?;
        let health = match expect_body(&format!("{url}/health"), HEALTHY) {
            Ok(()) => Some(compare("/health")?),
            Err(_) => None,
        };
        Ok(Loaded {
            root,
            health,
            peak_rss_kib: status_kib(started.pid, "VmHWM")?,
        })
    }
}

/// The host PID of the first process of the running container `name`.
fn container_pid(docker: &PathBuf, name: &str) -> Result<Pid, String> {
    let output = Command::new(docker)
        .args(["inspect", "--format={{.State.Pid}}", "--", name])
        .output()
        .map_err(|err| format!("docker inspect {name}: {err}"))?;
    let pid = String::from_utf8_lossy(&output.stdout).trim().parse();
    pid.map(Pid::from_raw)
        .map_err(|_| format!("docker inspect {name}: no PID"))
}
