//! A `docker` command for running the platform's real binary where no engine is needed (its
//! guard, its connections, its page): the platform runs the program named by `DOCKER`. It
//! answers only what the platform asks at start-up and shutdown (`info`, and `ps`: no
//! container of ours), and refuses everything else, saying it is not modelled.

use std::{fs, os::unix::fs::PermissionsExt, path::PathBuf};

use tempfile::TempDir;

const SCRIPT: &str = r#"#!/bin/sh
# A stand-in for the docker command: an engine with no container.
case "$1" in
  info) echo "stand-in|a stand-in for Docker"; exit 0 ;;
  ps) exit 0 ;;
esac
echo "docker stand-in: \`docker $*\` is not modelled (only info and ps are)" >&2
exit 1
"#;

/// The stand-in, in a directory of its own, removed when dropped.
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
}

impl Default for DockerStandIn {
    fn default() -> Self {
        DockerStandIn::new()
    }
}
