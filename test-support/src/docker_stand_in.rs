//! A `docker` command for running the platform's real binary where no engine is needed (its
//! guard, its connections, what its page costs): the platform runs the program named by
//! `DOCKER`. The stand-in (`docker_stand_in/docker.sh`) models what the platform asks of an
//! engine (info, run, ps, logs, stop, rm), writes down every call, and refuses anything else,
//! saying it is not modelled.

use std::{fs, os::unix::fs::PermissionsExt, path::PathBuf};

use tempfile::TempDir;

const SCRIPT: &str = include_str!("docker_stand_in/docker.sh");

/// The stand-in, in a directory of its own (with its calls and its tasks), removed when
/// dropped.
pub struct DockerStandIn {
    dir: TempDir,
}

impl DockerStandIn {
    pub fn new() -> DockerStandIn {
        let dir = TempDir::new().expect("a temporary directory");
        let program = dir.path().join("docker");
        fs::write(&program, SCRIPT).expect("the stand-in written");
        fs::set_permissions(&program, fs::Permissions::from_mode(0o755))
            .expect("the stand-in made executable");
        DockerStandIn { dir }
    }

    /// Its path, for `DOCKER`.
    pub fn program(&self) -> PathBuf {
        self.dir.path().join("docker")
    }

    /// The calls made since the last time this was asked, each as its arguments.
    pub fn calls(&self) -> Vec<String> {
        let file = self.dir.path().join("calls");
        let calls = fs::read_to_string(&file).unwrap_or_default();
        fs::write(&file, "").expect("the calls emptied");
        calls.lines().map(String::from).collect()
    }
}

impl Default for DockerStandIn {
    fn default() -> Self {
        DockerStandIn::new()
    }
}
