//! A Docker registry on this machine, for the tests that push and deploy a learner's image:
//! Debian's `docker-registry`, the same distribution server as Docker's `registry:2` image,
//! started on a free port of 127.0.0.1 with its storage in a temporary directory, and killed
//! when dropped. Docker pushes to and pulls from a registry on 127.0.0.0/8 over plain HTTP
//! without being told to.

use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use tempfile::TempDir;

/// How long the registry may take to answer its first request.
const START_DEADLINE: Duration = Duration::from_secs(10);

/// A running registry.
pub struct Registry {
    child: Child,
    /// `localhost:PORT`: what image names start with.
    pub host: String,
    _storage: TempDir,
}

impl Registry {
    /// Starts `docker-registry` (or `$DOCKER_REGISTRY`), or says why it cannot.
    pub fn start() -> Result<Registry, String> {
        let program = std::env::var("DOCKER_REGISTRY").unwrap_or_else(|_| "docker-registry".into());
        let storage = tempfile::tempdir().map_err(|err| format!("a temporary directory: {err}"))?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map_err(|err| format!("a free port: {err}"))?
            .port();
        let config = storage.path().join("config.yml");
        let settings = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n\
             http:\n  addr: 127.0.0.1:{port}\n",
            storage.path().join("data").display()
        );
        std::fs::write(&config, settings).map_err(|err| format!("{}: {err}", config.display()))?;
        let child = Command::new(&program)
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|err| {
                format!("cannot run {program} ({err}): apt-get install docker-registry")
            })?;
        let mut registry = Registry {
            child,
            host: format!("localhost:{port}"),
            _storage: storage,
        };
        let url = format!("http://127.0.0.1:{port}/v2/");
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            let answer = reqwest::blocking::Client::new()
                .get(&url)
                .timeout(Duration::from_secs(1))
                .send();
            if answer.is_ok_and(|answer| answer.status().is_success()) {
                return Ok(registry);
            }
            if let Ok(Some(status)) = registry.child.try_wait() {
                return Err(format!("{program} exited at once ({status})"));
            }
            if Instant::now() > deadline {
                return Err(format!("{url} did not answer within {START_DEADLINE:?}"));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
