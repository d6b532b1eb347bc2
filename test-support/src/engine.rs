//! The Docker engine: `docker` with a deadline (for the checker's `--image` too), and, for the
//! tests that need an engine (ignored by default, run by `.ci/run` after
//! `scripts/docker-test.sh` has built the images), whether it answers and holds their images.

use std::time::Duration;

use crate::browser::skip;

/// How long one `docker` command may take: an engine that hangs must not hang a test.
const DEADLINE: Duration = Duration::from_secs(30);

/// `docker ARGS`: its stdout if it succeeded, else what it printed on stderr.
pub fn docker(args: &[&str]) -> Result<String, String> {
    let output = assert_cmd::Command::new("docker")
        .args(args)
        .timeout(DEADLINE)
        .output()
        .map_err(|err| format!("docker: {err}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().to_string())
    }
}

/// Whether an engine answers and holds `images`; else says why not through [`skip`] (a
/// failure in CI).
pub fn ready_for(images: &[&str]) -> bool {
    if let Err(err) = docker(&["version", "--format", "{{.Server.Version}}"]) {
        skip(&format!("no Docker engine answers: {err}"));
        return false;
    }
    for image in images {
        if docker(&["image", "inspect", "--format", "{{.Id}}", "--", image]).is_err() {
            skip(&format!(
                "no image {image}: scripts/docker-test.sh builds the steps' images"
            ));
            return false;
        }
    }
    true
}
