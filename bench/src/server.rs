//! A measured server (a step's binary, or Node.js running the workshop's app): started and
//! stopped through test-support's `App` with the environment Mesos gives, loaded next to
//! nginx, its CPU time and memory read from `/proc` ([`crate::probe`]).

use std::{
    ffi::OsString,
    os::unix::process::ExitStatusExt,
    path::PathBuf,
    process::Command,
    thread,
    time::{Duration, Instant},
};

use nix::sys::signal::Signal;
use test_support::{
    app::{App, EXIT_DEADLINE},
    contracts::{HEALTHY, MESOS_ENV},
};

use crate::{
    median,
    nginx::Nginx,
    probe::{expect_body, status_kib},
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
    url: String,
    /// From just before the process was created until its readiness line was read.
    ready_after: Duration,
}

impl Server {
    /// Starts the server, waiting while its port is held by another program.
    fn start(&self) -> Result<Started, String> {
        let give_up = Instant::now() + BUSY_PORT_WAIT;
        loop {
            let mut command = Command::new(&self.program);
            command.args(&self.args);
            let began = Instant::now();
            let mut app = App::spawn(command, &MESOS_ENV);
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
                Err(err) => return Err(format!("{}: {err}\n{}", self.name, app.stderr())),
            }
        }
    }

    /// Starts the server, reads its memory, sends SIGTERM and times its exit, `runs` times.
    pub fn idle(&self, runs: usize) -> Result<Measured, String> {
        eprintln!("{}: {runs} starts and stops", self.name);
        let (mut ready, mut idle, mut stop, mut killed) = (vec![], vec![], vec![], 0);
        for _ in 0..runs {
            let Started {
                mut app,
                ready_after,
                ..
            } = self.start()?;
            ready.push(ready_after);
            idle.push(status_kib(app.pid(), "VmRSS")?);
            let signalled = Instant::now();
            app.signal(Signal::SIGTERM);
            let status = app.wait(EXIT_DEADLINE);
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
        })
    }

    /// Starts the server once, checks what it answers, and loads `GET /`, then `GET /health`
    /// where it answers, each on nginx first, with `connections` open.
    pub fn under_load(
        &self,
        load: &wrk::Load,
        connections: u32,
        nginx: &Nginx,
    ) -> Result<Loaded, String> {
        eprintln!("{}: under load, {connections} connections", self.name);
        let Started { app, url, .. } = self.start()?;
        let compare = |path: &str| -> Result<Compared, String> {
            let nginx_url = format!("{}{path}", nginx.url);
            Ok(Compared {
                nginx: load.run(&nginx_url, connections, &nginx.workers())?,
                server: load.run(&format!("{url}{path}"), connections, &[app.pid()])?,
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
            peak_rss_kib: status_kib(app.pid(), "VmHWM")?,
        })
    }
}
