//! Image sizes: each step's image built by the repository's Dockerfile, where there is one
//! and a Docker engine answers.

use std::{
    path::Path,
    process::{Command, Stdio},
};

/// The size `docker image ls` gives for `step`'s image, or why there is none ("n/a (…)").
pub fn size(root: &Path, step: &str) -> String {
    image_size(root, step).unwrap_or_else(|reason| format!("n/a ({reason})"))
}

fn image_size(root: &Path, step: &str) -> Result<String, String> {
    if !root.join("Dockerfile").is_file() {
        return Err("no Dockerfile".into());
    }
    docker(root, &["info"]).map_err(|_| "no Docker engine")?;
    let tag = format!("hello-mesos-bench/{step}");
    eprintln!("{step}: docker build --build-arg STEP={step}");
    let build_arg = format!("STEP={step}");
    let args = [
        "build",
        "--quiet",
        "--build-arg",
        &build_arg,
        "--tag",
        &tag,
        ".",
    ];
    docker(root, &args).map_err(|err| format!("docker build failed: {err}"))?;
    let size = docker(root, &["image", "ls", "--format", "{{.Size}}", &tag])?;
    Ok(size.trim().to_string())
}

/// Runs `docker args` in `root` and returns what it printed, or the first line of its error.
/// The client is the one `scripts/docker-engine.sh` picks: one that can build with BuildKit,
/// which the Dockerfile's cache mounts need.
fn docker(root: &Path, args: &[&str]) -> Result<String, String> {
    let script = r#"source scripts/docker-engine.sh && pick_docker && exec "$DOCKER" "$@""#;
    let output = Command::new("bash")
        .args(["-c", script, "docker"])
        .args(args)
        .current_dir(root)
        .stdin(Stdio::null())
        .output()
        .map_err(|err| format!("cannot run docker: {err}"))?;
    match output.status.success() {
        true => Ok(String::from_utf8_lossy(&output.stdout).into_owned()),
        false => {
            let stderr = String::from_utf8_lossy(&output.stderr);
            Err(stderr.lines().next().unwrap_or_default().to_string())
        }
    }
}
