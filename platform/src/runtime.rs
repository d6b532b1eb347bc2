//! What runs a task. The deploy model in [`crate::singularity`] decides *what* runs and when;
//! a [`Runtime`] only starts, watches and stops tasks, as a Mesos agent does.

pub mod agent;
pub mod docker;
pub mod reference;
pub mod simulated;

use std::{collections::HashMap, fmt, future::Future, time::Duration};

/// One task to start: an instance of a deploy.
#[derive(Clone, Debug)]
pub struct TaskSpec {
    /// Unique, Singularity-style (`{requestId}-{deployId}-{millis}-{instanceNo}-…`).
    pub task_id: String,
    pub request_id: String,
    pub deploy_id: String,
    /// The deploy's `containerInfo.docker.image`.
    pub image: String,
    /// The whole environment, as Singularity gives it to Mesos: `INSTANCE_NO`, `TASK_HOST`,
    /// `TASK_RACK_ID`, `AVAILABILITY_ZONE`, `TASK_REQUEST_ID`, `TASK_DEPLOY_ID`, `TASK_ID`,
    /// `ESTIMATED_INSTANCE_COUNT`, the deploy's `env` (which replaces any of those), then
    /// `PORT` and `PORT0`… (which replace the deploy's); each name once.
    pub env: Vec<(String, String)>,
    /// `resources.memoryMb` and `resources.cpus`, applied as limits.
    pub memory_mb: f64,
    pub cpus: f64,
    /// What the container runs instead of the image's default command.
    pub command: CommandInfo,
    /// `containerInfo.docker.forcePullImage`: pull the image even when it is there, as
    /// Mesos's Docker containerizer does before each run.
    pub force_pull: bool,
}

/// The task's Mesos `CommandInfo`, as `SingularityMesosTaskBuilder.prepareCommand` fills it
/// from the deploy's `command`, `arguments` and `shell`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CommandInfo {
    pub value: Option<String>,
    pub arguments: Vec<String>,
    /// Singularity sets it to `false` for a deploy with a container unless the deploy's
    /// `shell` says otherwise.
    pub shell: bool,
}

/// How `docker run` is asked to run a [`CommandInfo`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DockerCommand {
    /// `--entrypoint`, replacing the image's.
    pub entrypoint: Option<String>,
    /// Put after the image: they replace the image's `CMD`, and are the arguments of its
    /// entrypoint.
    pub args: Vec<String>,
}

impl CommandInfo {
    /// As Mesos's Docker containerizer does it (`Docker::run` in Mesos's `docker.cpp`): in a
    /// shell, `/bin/sh -c <value>` replaces the entrypoint and the arguments are not used;
    /// otherwise the value and the arguments follow the image, as its `CMD`. A shell without
    /// a value fails the task, with Mesos's words.
    pub fn docker(&self) -> Result<DockerCommand, Error> {
        if self.shell {
            let value = (self.value.clone()).ok_or(Error::Command(
                "Shell specified but no command value provided".into(),
            ))?;
            return Ok(DockerCommand {
                entrypoint: Some("/bin/sh".into()),
                args: vec!["-c".into(), value],
            });
        }
        let args = self.value.iter().chain(&self.arguments).cloned().collect();
        Ok(DockerCommand {
            entrypoint: None,
            args,
        })
    }
}

/// What a task is doing now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunStatus {
    Running,
    /// It ended by itself or was stopped: its exit code (`None` when killed by a signal or
    /// unknown).
    Exited {
        code: Option<i32>,
    },
}

/// Why a runtime did not do what it was asked. Its `Display` is the runtime's own words,
/// which a task's `TASK_FAILED` update carries and the platform prints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// The platform is stopping: no task starts any more.
    Stopping,
    /// The task's command cannot be run as given (Mesos's words for a shell without a
    /// value; the simulated runtime's for a command it does not imitate).
    Command(String),
    /// The runtime refused or did not answer, in its words: Docker's message for an image
    /// that does not exist, a `docker` that is missing or timed out.
    Failed(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Stopping => f.write_str("the platform is stopping"),
            Error::Command(message) | Error::Failed(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for Error {}

/// What runs tasks: Docker for the platform, simulated tasks in tests.
pub trait Runtime: Send + Sync + 'static {
    /// Starts the task: `Some(digest)` when its image was pulled from a registry and runs by
    /// its digest. `Err` carries the runtime's own message, e.g. Docker's for an image that
    /// does not exist.
    fn start(&self, spec: &TaskSpec) -> impl Future<Output = Result<Option<String>, Error>> + Send;
    /// What every task it started and still holds is doing, in one look (one `docker ps`,
    /// however many tasks): a task missing from the answer is gone. `Err` when the runtime
    /// did not answer, which says nothing about the tasks.
    fn statuses(&self) -> impl Future<Output = Result<HashMap<String, RunStatus>, Error>> + Send;
    /// SIGTERM, then SIGKILL after `grace`; returns once the task is gone.
    fn stop(&self, task_id: &str, grace: Duration) -> impl Future<Output = ()> + Send;
    /// The last `lines` lines the task printed (stdout and stderr, in order).
    fn logs(&self, task_id: &str, lines: usize) -> impl Future<Output = Vec<String>> + Send;
    /// The task has ended and the model has kept what it shows of it (its last lines): the
    /// runtime may let it go. Docker keeps the newest few stopped containers, so that
    /// `docker logs` still finds a task that just ended, and removes the older ones.
    fn release(&self, task_id: &str) -> impl Future<Output = ()> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_becomes_docker_run_arguments_as_mesos_makes_them() {
        let command = |value: Option<&str>, arguments: &[&str], shell| CommandInfo {
            value: value.map(String::from),
            arguments: arguments.iter().map(|a| a.to_string()).collect(),
            shell,
        };
        // Without a shell: the value, then the arguments, after the image.
        let docker = command(Some("/app"), &["-v", "x y"], false)
            .docker()
            .unwrap();
        assert_eq!(docker.entrypoint, None);
        assert_eq!(docker.args, ["/app", "-v", "x y"]);
        // Arguments alone go to the image's entrypoint; nothing at all keeps its CMD.
        let docker = command(None, &["-v"], false).docker().unwrap();
        assert_eq!(docker.args, ["-v"]);
        assert_eq!(
            CommandInfo::default().docker().unwrap(),
            DockerCommand::default()
        );
        // In a shell: `/bin/sh -c value`, the arguments unused.
        let docker = command(Some("echo $HOME"), &["unused"], true)
            .docker()
            .unwrap();
        assert_eq!(docker.entrypoint.as_deref(), Some("/bin/sh"));
        assert_eq!(docker.args, ["-c", "echo $HOME"]);
        assert_eq!(
            command(None, &["x"], true)
                .docker()
                .map_err(|e| e.to_string()),
            Err("Shell specified but no command value provided".into())
        );
    }
}
