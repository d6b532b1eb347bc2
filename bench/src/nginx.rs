//! The reference: nginx with one worker answering the same bodies, from a generated
//! configuration in a temporary directory.

use std::{
    fs,
    net::TcpListener,
    path::Path,
    thread,
    time::{Duration, Instant},
};

use nix::{sys::signal::Signal, unistd::Pid};
use tempfile::TempDir;
use test_support::{
    app::{App, EXIT_DEADLINE, START_DEADLINE},
    contracts::{HEALTHY, HELLO},
    http,
};

use crate::{cores::Cores, probe};

/// A master process and one worker that keeps up to `connections` open, logging nothing but
/// errors, on `port`; every temporary path under `dir` so that nothing outside it is touched.
fn config(dir: &Path, port: u16, connections: u32) -> String {
    let dir = dir.display();
    // nginx reads \n in a quoted string as a newline; the bodies contain no other escapes.
    let quoted = |body: &str| format!("\"{}\"", body.replace('\n', "\\n"));
    let (hello, healthy) = (quoted(HELLO), quoted(HEALTHY));
    format!(
        "worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log stderr;
events {{ worker_connections {connections}; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port};
        default_type text/plain;
        location = / {{ return 200 {hello}; }}
        location = /health {{ return 200 {healthy}; }}
    }}
}}
"
    )
}

/// nginx running in the background, for as long as this lives.
pub struct Nginx {
    app: App,
    pub url: String,
    _dir: TempDir,
}

impl Nginx {
    /// Starts `nginx` with a generated configuration for `clients` connections at once, and
    /// checks what it answers. (Its worker gets twice as many: with just enough, it resets
    /// some of 1000 connections under load.)
    pub fn start(nginx: &Path, clients: u32, cores: &Cores) -> Result<Nginx, String> {
        let dir = TempDir::new().map_err(|err| format!("temporary directory: {err}"))?;
        let port = free_port()?;
        let conf = dir.path().join("nginx.conf");
        fs::write(&conf, config(dir.path(), port, 2 * clients))
            .map_err(|err| format!("{conf:?}: {err}"))?;
        // On the servers' core, as each server is: its worker inherits it.
        let mut command = cores.server(nginx);
        command.arg("-p").arg(dir.path()).arg("-c").arg(&conf);
        command.args(["-e", "stderr"]);
        let mut app = App::spawn(command, &[]);
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + START_DEADLINE;
        while !http::accepts_connections(&url) {
            if !app.is_running() || Instant::now() > deadline {
                return Err(format!(
                    "nginx did not start:\n{}",
                    probe::shown(&app.stderr())
                ));
            }
            thread::sleep(Duration::from_millis(10));
        }
        probe::expect_body(&format!("{url}/"), HELLO)?;
        probe::expect_body(&format!("{url}/health"), HEALTHY)?;
        Ok(Nginx {
            app,
            url,
            _dir: dir,
        })
    }

    /// The worker process: the one that answers.
    pub fn workers(&self) -> Vec<Pid> {
        let master = self.app.pid();
        let listed = fs::read_to_string(format!("/proc/{master}/task/{master}/children"));
        let listed = listed.unwrap_or_default();
        listed
            .split_whitespace()
            .filter_map(|child| child.parse().ok().map(Pid::from_raw))
            .collect()
    }

    /// Peak resident memory of the master and its worker, added up.
    pub fn peak_rss_kib(&self) -> Result<u64, String> {
        [self.app.pid()]
            .into_iter()
            .chain(self.workers())
            .map(|pid| probe::status_kib(pid, "VmHWM"))
            .sum()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGQUIT: nginx's graceful stop; the master waits for its worker.
        self.app.signal(Signal::SIGQUIT);
        self.app.wait(EXIT_DEADLINE);
    }
}

/// A port that is free now (the operating system picks it).
fn free_port() -> Result<u16, String> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|err| format!("no free port: {err}"))?;
    let address = listener.local_addr().map_err(|err| err.to_string())?;
    Ok(address.port())
}
