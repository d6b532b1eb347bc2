//! The workspace's steps: found with cargo metadata, built in release mode, their images built
//! by the repository's Dockerfile, and the debug build times a learner waits for in class.

use std::{
    fs::File,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant, SystemTime},
};

use tempfile::TempDir;
use test_support::contracts::{HELLO, MESOS_ENV};

use crate::{cores::Cores, server::Server, tools};

/// A step crate: how to start its release binary, and its directory.
pub struct Step {
    pub server: Server,
    pub dir: PathBuf,
}

/// The cargo that runs this program (`cargo run` sets `CARGO`), or the one on PATH.
fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Finds the step crates (the workspace's `step-*` packages), builds their binaries in
/// release mode, and returns them with the workspace's target directory.
pub fn build_release(root: &Path) -> Result<(Vec<Step>, PathBuf), String> {
    let mut metadata = cargo();
    metadata
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .current_dir(root);
    let metadata: serde_json::Value = serde_json::from_str(&output(metadata, "cargo metadata")?)
        .map_err(|err| format!("cargo metadata: {err}"))?;
    let target = PathBuf::from(metadata["target_directory"].as_str().unwrap_or("target"));
    let packages = metadata["packages"].as_array().into_iter().flatten();
    let mut steps: Vec<Step> = packages
        .filter_map(|package| {
            let name = package["name"]
                .as_str()
                .filter(|n| n.starts_with("step-"))?;
            let server = Server {
                name: name.to_string(),
                program: target.join("release").join(name),
                args: vec![],
                hello: HELLO,
                container: None,
            };
            let dir = Path::new(package["manifest_path"].as_str()?).parent()?;
            Some(Step {
                server,
                dir: dir.to_path_buf(),
            })
        })
        .collect();
    steps.sort_by(|a, b| a.server.name.cmp(&b.server.name));
    if steps.is_empty() {
        return Err(format!("no step-* crate in {}", root.display()));
    }

    eprintln!("building {} steps in release mode", steps.len());
    let mut build = cargo();
    build
        .args(["build", "--release", "--quiet"])
        .current_dir(root);
    for step in &steps {
        build.args(["--package", &step.server.name]);
    }
    output(build, "cargo build --release")?;
    Ok((steps, target))
}

/// Times debug builds, each with what it is: the workspace from nothing (a fresh target
/// directory; sources already downloaded), the same after touching the last step, and that
/// step alone from nothing, as `cargo run --package` builds it in class.
pub fn measure_builds(root: &Path, steps: &[Step]) -> Result<Vec<(String, Duration)>, String> {
    let step = steps.last().ok_or("no steps")?;
    let name = &step.server.name;
    let fresh_target = || TempDir::new().map_err(|err| format!("temporary directory: {err}"));
    let target = fresh_target()?;
    let clean = timed_build(root, &target, &["--workspace"])?;
    let main = step.dir.join("src/main.rs");
    File::options()
        .write(true)
        .open(&main)
        .and_then(|file| file.set_modified(SystemTime::now()))
        .map_err(|err| format!("cannot touch {}: {err}", main.display()))?;
    let incremental = timed_build(root, &target, &["--workspace"])?;
    drop(target);
    let alone = timed_build(root, &fresh_target()?, &["--package", name])?;
    Ok(vec![
        ("clean, `cargo build --workspace`".into(), clean),
        (
            format!("incremental, {name}/src/main.rs touched"),
            incremental,
        ),
        (format!("clean, `cargo build -p {name}` alone"), alone),
    ])
}

/// Runs `cargo build args` with its target directory in `target`, and times it.
fn timed_build(root: &Path, target: &TempDir, args: &[&str]) -> Result<Duration, String> {
    let what = format!("cargo build {}", args.join(" "));
    eprintln!("{what} (target directory {})", target.path().display());
    let began = Instant::now();
    let mut build = cargo();
    build
        .args(["build", "--quiet"])
        .args(args)
        .env("CARGO_TARGET_DIR", target.path())
        .current_dir(root);
    output(build, &what)?;
    Ok(began.elapsed())
}

/// The size `docker image ls` gives for `step`'s image built by the repository's
/// Dockerfile, or why there is none ("n/a (…)").
pub fn image_size(root: &Path, step: &str) -> String {
    let size = || -> Result<String, String> {
        if !root.join("Dockerfile").is_file() {
            return Err("no Dockerfile".into());
        }
        docker(root, &["info"]).map_err(|_| "no Docker engine")?;
        let tag = format!("hello-mesos-bench/{step}");
        eprintln!("{step}: docker build --build-arg STEP={step}");
        let build_arg = format!("STEP={step}");
        let build = [
            "build",
            "--quiet",
            "--build-arg",
            &build_arg,
            "--tag",
            &tag,
            ".",
        ];
        docker(root, &build)?;
        let size = docker(root, &["image", "ls", "--format", "{{.Size}}", &tag])?;
        Ok(size.trim().to_string())
    };
    size().unwrap_or_else(|reason| format!("n/a ({reason})"))
}

/// `step`'s image (built by [`image_size`]) as a server: `docker run` with the host's network
/// and the environment Mesos gives, the container on the servers' core, as the platform runs a
/// task. `None` without a Docker client.
pub fn image_server(step: &str, cores: &Cores) -> Option<Server> {
    let docker = tools::find("docker").or_else(|| tools::find("/usr/bin/docker"))?;
    let name = format!("hello-mesos-bench-{step}");
    let mut args: Vec<String> = ["run", "--rm", "--net=host"].map(String::from).into();
    args.push(format!("--name={name}"));
    args.extend(MESOS_ENV.map(|(key, value)| format!("--env={key}={value}")));
    args.extend(
        cores
            .server_core()
            .map(|core| format!("--cpuset-cpus={core}")),
    );
    args.extend(["--".into(), format!("hello-mesos-bench/{step}")]);
    Some(Server {
        name: format!("{step} image"),
        program: docker,
        args: args.into_iter().map(Into::into).collect(),
        hello: HELLO,
        container: Some((name, step.to_string())),
    })
}

/// Runs `docker args` in `root` and returns what it printed. The client is the one
/// `scripts/docker-engine.sh` picks.
fn docker(root: &Path, args: &[&str]) -> Result<String, String> {
    let script = r#"source scripts/docker-engine.sh && pick_docker && exec "$DOCKER" "$@""#;
    let mut docker = Command::new("bash");
    docker
        .args(["-c", script, "docker"])
        .args(args)
        .current_dir(root)
        .stdin(Stdio::null());
    output(docker, &format!("docker {}", args[0]))
}

/// What `command` printed on stdout, or that it failed and the first line of its error.
fn output(mut command: Command, what: &str) -> Result<String, String> {
    let output = command
        .output()
        .map_err(|err| format!("cannot run {what}: {err}"))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    match output.status.success() {
        true => Ok(String::from_utf8_lossy(&output.stdout).into_owned()),
        false => Err(format!(
            "{what} failed: {}",
            stderr.lines().next().unwrap_or_default()
        )),
    }
}
