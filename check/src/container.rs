//! `--image NAME`: the service is a Docker image, run as Mesos's Docker containerizer (and the
//! practice platform) runs a task: `docker run --net=host` with the task's environment, the
//! image's own entrypoint as the container's PID 1, stopped by signals to it.
//!
//! The contracts start a program and signal it. Here that program is `docker run` itself, in
//! the foreground: the docker client passes the signals it receives (SIGTERM, SIGINT) on to
//! the container's PID 1, streams its stdout and stderr, and exits with its status. It is
//! started through [`TASK`], a link to this checker's own binary, which runs `docker run`
//! with exactly the environment the contract gave it (see [`run_as_task`]).
//!
//! A docker client killed with SIGKILL (a contract that ends early, or times out) leaves its
//! container running: every container is labelled with this checker's process id, and
//! [`remove_all`] removes those left after each contract, at the end and on Ctrl+C.

use std::{
    ffi::{OsStr, OsString},
    fs, io,
    os::unix::{fs::symlink, process::CommandExt},
    path::PathBuf,
    process::Command,
    sync::OnceLock,
    thread,
    time::{Duration, Instant},
};

use serde::{Deserialize, Serialize};

use test_support::{app::visible, engine};

use crate::service::Service;

/// The name of the link that the contracts start: run under it, the checker is a task.
const TASK: &str = "docker-run";
/// The label on every container this checker starts; its value is the checker's process id.
pub const LABEL: &str = "hello-mesos.check";
/// How long removing this run's containers may take in all: an engine that hangs must not
/// hang the checker.
const DOCKER_DEADLINE: Duration = Duration::from_secs(20);
/// Exit code when Docker cannot be used: no `docker` command, or no engine answers.
pub const NO_DOCKER: u8 = 3;

/// An image name that `docker` cannot read as an option: the characters of a Docker
/// reference (`registry:5000/name:tag@sha256:…`, or an image id), not starting with `-`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image(String);

impl Image {
    /// Parses `name` as given on the command line (clap's value parser).
    pub fn parse(name: &str) -> Result<Image, String> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || "._-/:@".contains(c);
        if name.is_empty() || name.len() > 255 {
            Err("an image name has 1 to 255 characters".into())
        } else if name.starts_with('-') {
            Err(format!("{name:?} is not an image name: it starts with `-`"))
        } else if let Some(c) = name.chars().find(|&c| !allowed(c)) {
            Err(format!(
                "{name:?} is not an image name: {c:?} is not allowed in one"
            ))
        } else {
            Ok(Image(name.to_string()))
        }
    }
}

/// What [`run_as_task`] needs, written by [`prepare`] next to the link.
#[derive(Serialize, Deserialize)]
struct Task {
    image: Image,
    /// `hello-mesos.check=PID`
    label: String,
    /// The variables the docker client itself needs (where the engine is, its settings),
    /// which the container does not get.
    client_env: Vec<(OsString, OsString)>,
}

/// The label of this run's containers, once an image is checked.
static RUN_LABEL: OnceLock<String> = OnceLock::new();

/// Checks that Docker answers and has `image`, then makes the program that the contracts
/// start: a link to this binary named [`TASK`], and its settings beside it. `Err` is the
/// message and the exit code.
pub fn prepare(image: &Image) -> Result<Service, (String, u8)> {
    engine_answers().map_err(|message| (message, NO_DOCKER))?;
    // `check` does not pull: it checks what the learner built, not what a registry holds.
    if docker(&["image", "inspect", "--format", "{{.Id}}", "--", &image.0]).is_err() {
        return Err((
            format!(
                "no image {0} in the local Docker engine: check does not pull, build it first \
                 (`docker build -t {0} .`)",
                image.0
            ),
            1,
        ));
    }
    let label = format!("{LABEL}={}", std::process::id());
    let _ = RUN_LABEL.set(label.clone());
    let failed = |err: io::Error| (format!("cannot prepare the image's start: {err}"), 1);
    let dir = tempfile::Builder::new()
        .prefix("check-")
        .tempdir()
        .map_err(failed)?;
    let task = Task {
        image: image.clone(),
        label,
        client_env: std::env::vars_os()
            .filter(|(name, _)| for_the_client(name))
            .collect(),
    };
    let json = serde_json::to_vec(&task).expect("a task serialises");
    let program = dir.path().join(TASK);
    fs::write(program.with_extension("json"), json).map_err(failed)?;
    symlink(std::env::current_exe().map_err(failed)?, &program).map_err(failed)?;
    Ok(Service::in_dir(program, dir))
}

/// Whether the docker client needs variable `name` to reach the engine: `PATH` (for its
/// plugins), `HOME` (its contexts and settings, in `~/.docker`) and `DOCKER_*`.
fn for_the_client(name: &OsStr) -> bool {
    let name = name.to_string_lossy();
    name == "PATH" || name == "HOME" || name.starts_with("DOCKER_")
}

/// Run as the link [`TASK`] (by a contract), runs the image and never returns; otherwise
/// `None`, and this is the checker.
pub fn run_as_task() -> Option<u8> {
    let program = PathBuf::from(std::env::args_os().next()?);
    if program.file_name()? != TASK {
        return None;
    }
    let task = fs::read(program.with_extension("json"))
        .map_err(|err| err.to_string())
        .and_then(|json| serde_json::from_slice::<Task>(&json).map_err(|err| err.to_string()));
    let task = match task {
        Ok(task) => task,
        Err(err) => {
            eprintln!("{}: {err}", program.display());
            return Some(127);
        }
    };
    // Exactly the contract's variables go to the container, by name only: `--env=NAME` takes
    // the value from the client's environment, so no value is ever on a command line.
    let names: Vec<OsString> = std::env::vars_os().map(|(name, _)| name).collect();
    let name = format!("hello-mesos-check-{}", std::process::id());
    let err = Command::new("docker")
        .args(run_args(&task.image, &name, &task.label, &names))
        .envs(task.client_env)
        .exec();
    // `exec` returns only if it failed: the docker client is now this process, and the
    // signals the contract sends reach it.
    eprintln!("cannot run docker: {err}");
    Some(127)
}

/// `docker run`'s arguments: every option as `--option=value`, one word, and `--` before the
/// image, so that nothing after it is read as an option.
fn run_args(image: &Image, name: &str, label: &str, env: &[OsString]) -> Vec<OsString> {
    // --pull=never: the image checked is the one inspected before the contracts, never
    // another that a registry has under its name.
    let mut args: Vec<OsString> = ["run", "--rm", "--net=host", "--pull=never"]
        .map(OsString::from)
        .into();
    args.push(format!("--name={name}").into());
    args.push(format!("--label={label}").into());
    for variable in env {
        let mut option = OsString::from("--env=");
        option.push(variable);
        args.push(option);
    }
    args.push("--".into());
    args.push(image.0.clone().into());
    args
}

/// Removes every container of this run, running or not (nothing when no image is checked),
/// and waits until Docker lists none. Bounded: an engine that hangs, or a container that
/// will not go, costs [`DOCKER_DEADLINE`], and is reported with the command to finish.
pub fn remove_all() {
    let Some(label) = RUN_LABEL.get() else {
        return;
    };
    let filter = format!("label={label}");
    let deadline = Instant::now() + DOCKER_DEADLINE;
    let left = loop {
        let listed = docker(&["ps", "--all", "--quiet", "--filter", &filter]);
        let ids: Vec<&str> = match &listed {
            Ok(ids) => ids.split_whitespace().collect(),
            Err(err) => break err.clone(),
        };
        if ids.is_empty() {
            return;
        }
        if Instant::now() > deadline {
            break format!("{} still listed", ids.join(" "));
        }
        // A container that stops on its own is being removed already (`--rm`): Docker
        // refuses a second removal, and the next listing shows when it is gone.
        let _ = docker(&[&["rm", "--force", "--"], ids.as_slice()].concat());
        thread::sleep(Duration::from_millis(50));
    };
    // What Docker said, shown, never obeyed.
    eprintln!(
        "warning: containers of this check may be left ({}): \
         docker rm --force $(docker ps --all --quiet --filter {filter})",
        visible(&left)
    );
}

/// Whether a Docker engine answers; `Err` says, in one line, why not.
fn engine_answers() -> Result<(), String> {
    match docker(&["version", "--format", "{{.Server.Version}}"]) {
        Ok(_) => Ok(()),
        Err(err) if err.contains("No such file") => Err(format!(
            "--image needs Docker, and there is no docker command here ({err})"
        )),
        Err(err) => Err(format!(
            "--image needs Docker: no Docker engine answers ({err})"
        )),
    }
}

/// `docker ARGS`, its stdout if it succeeded; else the first line of what went wrong, within
/// test-support's deadline for a `docker` command.
fn docker(args: &[&str]) -> Result<String, String> {
    engine::docker(args).map_err(|err| {
        let first = err.lines().find(|line| !line.trim().is_empty());
        first.unwrap_or("docker failed").to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(args: Vec<OsString>) -> Vec<String> {
        args.into_iter()
            .map(|word| word.into_string().expect("UTF-8"))
            .collect()
    }

    #[test]
    fn every_option_is_one_word_and_the_image_comes_after_a_double_dash() {
        let image = Image::parse("hello-mesos:step-07-health").expect("a valid name");
        let env = ["TASK_HOST".into(), "PORT0".into()];
        let args = words(run_args(&image, "c-1", "hello-mesos.check=42", &env));
        assert_eq!(
            args,
            [
                "run",
                "--rm",
                "--net=host",
                "--pull=never",
                "--name=c-1",
                "--label=hello-mesos.check=42",
                "--env=TASK_HOST",
                "--env=PORT0",
                "--",
                "hello-mesos:step-07-health",
            ]
        );
    }

    #[test]
    fn an_empty_environment_gives_the_container_none() {
        let image = Image::parse("hello-mesos").expect("a valid name");
        let args = words(run_args(&image, "c", "l=1", &[]));
        assert!(!args.iter().any(|arg| arg.starts_with("--env")), "{args:?}");
    }

    #[test]
    fn docker_references_are_image_names() {
        for name in [
            "hello-mesos",
            "hello-mesos:step-07-health",
            "registry.example.com:5000/alice/hello-mesos:7",
            "alice/hello_mesos@sha256:d281b6b9c5ff2d2fc1037c561efce8615b726a8d9730131cf97b62791d12e7ab",
            "d281b6b9c5ff",
        ] {
            assert_eq!(Image::parse(name), Ok(Image(name.into())), "{name}");
        }
    }

    #[test]
    fn what_docker_could_read_as_an_option_or_more_is_refused() {
        for (name, says) in [
            ("--privileged", "starts with `-`"),
            ("-v/:/host", "starts with `-`"),
            ("", "1 to 255 characters"),
            ("hello mesos", "' ' is not allowed"),
            ("hello;rm", "';' is not allowed"),
            ("hello\nmesos", "'\\n' is not allowed"),
        ] {
            let err = Image::parse(name).expect_err(name);
            assert!(err.contains(says), "{name:?}: {err}");
        }
        assert!(Image::parse(&"a".repeat(256)).is_err());
    }

    #[test]
    fn the_client_keeps_what_reaches_the_engine_and_nothing_else() {
        for name in [
            "PATH",
            "HOME",
            "DOCKER_HOST",
            "DOCKER_CONFIG",
            "DOCKER_CONTEXT",
        ] {
            assert!(for_the_client(OsStr::new(name)), "{name}");
        }
        for name in ["TASK_HOST", "PORT0", "USER", "DISCOVERY_HOST"] {
            assert!(!for_the_client(OsStr::new(name)), "{name}");
        }
    }
}
