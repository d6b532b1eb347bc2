//! Image sizes: each step's image built by the repository's Dockerfile, where there is one
//! and a Docker engine answers.

use std::{
    fs,
    path::Path,
    process::{Command, Stdio},
};

/// The size `docker image ls` gives for `step`'s image, or why there is none ("n/a (…)").
pub fn size(root: &Path, step: &str) -> String {
    image_size(root, step).unwrap_or_else(|reason| format!("n/a ({reason})"))
}

fn image_size(root: &Path, step: &str) -> Result<String, String> {
    let dockerfile = fs::read_to_string(root.join("Dockerfile")).map_err(|_| "no Dockerfile")?;
    // The Dockerfile serves every step: the build argument that names one has STEP in its name.
    let argument = dockerfile
        .lines()
        .filter_map(|line| line.trim().strip_prefix("ARG "))
        .map(|declared| declared.split('=').next().unwrap_or_default().trim())
        .find(|name| name.to_uppercase().contains("STEP"))
        .ok_or("the Dockerfile has no STEP build argument")?;
    docker(&["info"]).map_err(|_| "no Docker engine")?;
    let tag = format!("hello-mesos-bench/{step}");
    eprintln!("{step}: docker build --build-arg {argument}={step}");
    let build_arg = format!("{argument}={step}");
    let context = root.to_str().ok_or("the workspace path is not UTF-8")?;
    let args = [
        "build",
        "--quiet",
        "--build-arg",
        &build_arg,
        "--tag",
        &tag,
        context,
    ];
    docker(&args).map_err(|err| format!("docker build failed: {err}"))?;
    let size = docker(&["image", "ls", "--format", "{{.Size}}", &tag])?;
    Ok(size.trim().to_string())
}

/// Runs `docker args` and returns what it printed, or the first line of its error.
fn docker(args: &[&str]) -> Result<String, String> {
    let output = Command::new("docker")
        .args(args)
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
