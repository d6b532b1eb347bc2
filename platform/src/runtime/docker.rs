//! Tasks as Mesos's Docker containerizer runs them, through the `docker` command line:
//! `docker run -d --net=host -e … IMAGE`, `docker stop -t GRACE`, `docker logs`, `docker ps`.
//!
//! The command line rather than an API client: it is what a learner already uses, its messages
//! are the ones they know (a missing image fails with Docker's own words), and it adds no
//! dependency to build. Every call is bounded in time: a stuck engine never stalls the platform.
//!
//! What a task leaves on the disk is bounded too: its log rotates (see [`LOG_OPTIONS`]), and
//! of the containers of ended tasks only the newest [`STOPPED_KEPT`] are kept. What Docker says
//! reaches the platform's terminal through [`printable::visible`]: it may quote a deploy's
//! command or a task's words.

use std::{
    collections::{HashMap, VecDeque},
    process::{ExitStatus, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::{
    io::{self, AsyncRead, AsyncReadExt},
    process::Command,
    sync::RwLock,
};

use printable::visible;

use crate::lock;

use super::{
    Error, RunStatus, Runtime, TaskSpec,
    agent::{self, Registry, Source},
    reference::Reference,
};

/// The label on every container the platform starts. Its value is the platform's API port, so
/// that two platforms on one machine (a class server, parallel tests) never clean up each
/// other's containers, and a platform restarted on the same port removes what it left.
pub const LABEL: &str = "hello-mesos.platform";

/// The registry the pages push to: `registry:2` on the laptop, on a port macOS leaves free.
pub const DEFAULT_REGISTRY: &str = "localhost:5001";
/// A quick question to the engine (inspect, logs, ps, rm).
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// `docker run`: it may have to pull the image first.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);
/// `docker stop` waits for the grace period, then for the kill: this much on top of it.
const STOP_MARGIN: Duration = Duration::from_secs(30);
/// The most kept of what one `docker` call prints, per stream. Ample for an id, an inspect
/// line or 20 log lines; a task that prints one endless line must not fill the platform's
/// memory through `docker logs` (the rest is read and dropped).
const OUTPUT_LIMIT: u64 = 256 * 1024;
/// Each task's log: Docker's `json-file` driver (whatever the engine's default is, so that
/// `docker logs` always reads it, and `docker inspect --format '{{.LogPath}}'` shows the file),
/// rotated at 1 MB and kept in 2 files: at most 2 MB of disk per task however much it prints,
/// which is still 10 000 lines of a chatty service, far more than the page shows.
pub const LOG_OPTIONS: [&str; 3] = [
    "--log-driver=json-file",
    "--log-opt=max-size=1m",
    "--log-opt=max-file=2",
];
/// How many containers of ended tasks are kept, newest last, for a learner's `docker logs`
/// (the page keeps each ended task's last lines itself); older ones are removed as tasks end.
/// A replaced deploy of 2 instances and a failed one of 2 stay readable.
pub const STOPPED_KEPT: usize = 5;
/// How long the platform's stop waits for `docker run`s under way: a run killed between its
/// create and its start would leave a "Created" container behind.
const STARTS_WAIT: Duration = Duration::from_secs(10);

/// The Docker engine, as the `docker` command reaches it. Clones share their tasks.
#[derive(Clone, Debug)]
pub struct Docker {
    program: String,
    /// The label's value: the platform's port.
    port: String,
    /// `LABEL=<value>` on every container this platform starts.
    owner: String,
    /// Task id → container id, for the tasks this platform started and has not released.
    containers: Arc<Mutex<HashMap<String, String>>>,
    /// The containers of released tasks still kept, oldest first.
    stopped: Arc<Mutex<VecDeque<String>>>,
    /// What this agent pulled itself: name (`:latest` added) → `name@digest` (see
    /// [`agent`]). A platform restarted is a fresh agent, which has pulled nothing.
    pulled: Arc<Mutex<HashMap<String, String>>>,
    /// Asks a registry which digest a name stands for now.
    registry: Registry,
    /// The registries (`host:port`, on this machine) the agent may pull from.
    registries: Vec<String>,
    /// Held (shared) by every `docker run` under way; the platform's stop takes it to wait
    /// for them and sets it to `false`: no run starts after.
    open: Arc<RwLock<bool>>,
}

impl Docker {
    /// A runtime whose containers carry `LABEL=owner` (the platform's port).
    pub fn new(owner: &str) -> Docker {
        Docker {
            // DOCKER names another client, e.g. a full path; `docker` from PATH otherwise.
            program: std::env::var("DOCKER").unwrap_or_else(|_| "docker".into()),
            port: owner.to_string(),
            owner: format!("{LABEL}={owner}"),
            containers: Arc::default(),
            stopped: Arc::default(),
            pulled: Arc::default(),
            registry: Registry::default(),
            registries: vec![DEFAULT_REGISTRY.into()],
            open: Arc::new(RwLock::new(true)),
        }
    }

    /// The same runtime, pulling only from `registries` (`host:port`).
    pub fn pulling_from(self, registries: Vec<String>) -> Docker {
        Docker { registries, ..self }
    }

    /// Checks that an engine answers: its version, and whether it is Docker Desktop's (whose
    /// host network needs a setting, see the platform's docs). `Err` says why not, in one line.
    pub async fn check(&self) -> Result<(String, bool), Error> {
        let info = self
            .call(
                &[
                    "info",
                    "--format",
                    "{{.ServerVersion}}|{{.OperatingSystem}}",
                ],
                CALL_TIMEOUT,
            )
            .await
            .map_err(|error| Error::Failed(format!("no Docker engine answers ({error})")))?;
        let (version, system) = info.trim().split_once('|').unwrap_or((info.trim(), ""));
        Ok((version.to_string(), system.contains("Docker Desktop")))
    }

    /// Removes every container carrying this platform's label, running or not: what a
    /// previous run left if it died, or everything at the end of this one. Returns how many.
    pub async fn remove_all(&self) -> Result<usize, Error> {
        let filter = format!("--filter=label={}", self.owner);
        let listed = self
            .call(&["ps", "--all", "--quiet", &filter], CALL_TIMEOUT)
            .await
            .map_err(Error::Failed)?;
        let ids: Vec<&str> = listed.split_whitespace().collect();
        if !ids.is_empty() {
            let mut args = vec!["rm", "--force", "--volumes", "--"];
            args.extend(&ids);
            (self.call(&args, CALL_TIMEOUT + STOP_MARGIN).await).map_err(Error::Failed)?;
        }
        self.containers_lock().clear();
        lock(&self.stopped).clear();
        Ok(ids.len())
    }

    /// Stops every container this platform started, as `docker stop -t GRACE` does, all at
    /// once, once the runs under way have ended (for [`STARTS_WAIT`] at most); no task
    /// starts after.
    pub async fn stop_all(&self, grace: Duration) -> Result<(), Error> {
        match tokio::time::timeout(STARTS_WAIT, self.open.write()).await {
            Ok(mut open) => *open = false,
            // Still pulling: the run is killed when the platform exits, before any create.
            Err(_) => eprintln!(
                "platform: a task still starting after {} s is left to end with the platform",
                STARTS_WAIT.as_secs()
            ),
        }
        let filter = format!("--filter=label={}", self.owner);
        let listed =
            (self.call(&["ps", "--quiet", &filter], CALL_TIMEOUT).await).map_err(Error::Failed)?;
        let ids: Vec<&str> = listed.split_whitespace().collect();
        if ids.is_empty() {
            return Ok(());
        }
        let seconds = format!("--time={}", grace.as_secs());
        let mut args = vec!["stop", &seconds, "--"];
        args.extend(&ids);
        (self.call(&args, grace + STOP_MARGIN).await)
            .map(drop)
            .map_err(Error::Failed)
    }

    /// The `docker run` arguments for `spec`. Every option carries its value after an `=`,
    /// and `--` ends the options before the image: no value from a deploy (its env, its
    /// command, its image) can be read by Docker as an option of its own. What follows the
    /// image is the container's command line, kept as it is, `-v` included. `pulled` is the
    /// image the agent pulled for it (`name@digest`), if any.
    fn run_args(&self, spec: &TaskSpec, pulled: Option<&str>) -> Result<Vec<String>, Error> {
        let command = spec.command.docker()?;
        let mut args: Vec<String> = ["run", "--detach", "--net=host"].map(String::from).into();
        // A name to find the container by even when `docker run` fails after creating it.
        args.push(format!("--name={}", self.name(&spec.task_id)));
        args.extend(LOG_OPTIONS.map(String::from));
        for label in [
            self.owner.clone(),
            format!("{LABEL}.task={}", spec.task_id),
            format!("{LABEL}.request={}", spec.request_id),
            format!("{LABEL}.deploy={}", spec.deploy_id),
        ] {
            args.push(format!("--label={label}"));
        }
        for (name, value) in &spec.env {
            args.push(format!("--env={name}={value}"));
        }
        // Mesos enforces the deploy's resources as cgroup limits; Docker's flags are the same
        // limits. Docker refuses less than 6 MB of memory: say so through its own message.
        if spec.memory_mb > 0.0 {
            args.push(format!("--memory={}m", spec.memory_mb.ceil()));
        }
        if spec.cpus > 0.0 {
            args.push(format!("--cpus={}", spec.cpus));
        }
        if let Some(entrypoint) = command.entrypoint {
            args.push(format!("--entrypoint={entrypoint}"));
        }
        args.extend(["--".into(), pulled.unwrap_or(&spec.image).to_string()]);
        args.extend(command.args);
        Ok(args)
    }

    /// The task's container name: `hello-mesos.platform-PORT-TASK_ID`, where a character
    /// Docker does not take in a name (e.g. `:` of an IPv6 task host) becomes `_`.
    fn name(&self, task_id: &str) -> String {
        format!("{LABEL}-{}-{task_id}", self.port)
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    }

    /// Pulls `image` as the agent does, by the digest its registry gives for it now, and
    /// records it: its `name@digest`, or the task's failure in Mesos's words (which name the
    /// image with `:latest` added unless the pull was forced, as Mesos's `docker pull` does).
    async fn pull(&self, image: &str, force: bool) -> Result<String, Error> {
        let named = if force {
            image.to_string()
        } else {
            agent::agent_name(image)
        };
        let failed = |said: &str| Error::Failed(agent::pull_failed(&named, said));
        let digest = self.registry.digest(image).await.map_err(|e| failed(&e))?;
        let reference = Reference::parse(image).map_err(failed)?;
        let pinned = agent::pinned(&reference, &digest);
        if let Err(error) = (self.call(&["pull", "--quiet", "--", &pinned], RUN_TIMEOUT)).await {
            return Err(failed(
                error.trim_start_matches("Error response from daemon: "),
            ));
        }
        lock(&self.pulled).insert(agent::agent_name(image), pinned.clone());
        Ok(pinned)
    }

    fn container(&self, task_id: &str) -> Option<String> {
        self.containers_lock().get(task_id).cloned()
    }

    fn containers_lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        lock(&self.containers)
    }

    /// `docker rm --force --volumes IDS`, saying on stderr what failed.
    async fn remove(&self, ids: &[String]) {
        let mut args = vec!["rm", "--force", "--volumes", "--"];
        args.extend(ids.iter().map(String::as_str));
        if let Err(error) = self.call(&args, CALL_TIMEOUT + STOP_MARGIN).await
            && !error.contains("No such container")
        {
            eprintln!("platform: docker rm: {}", visible(&error));
        }
    }

    /// Runs `docker ARGS` within `timeout`: its stdout on success, else its message.
    async fn call(&self, args: &[&str], timeout: Duration) -> Result<String, String> {
        let output = self.output(args, timeout).await?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(
                message(&String::from_utf8_lossy(&output.stderr)).unwrap_or_else(|| {
                    format!("`{} {}` {}", self.program, args.join(" "), output.status)
                }),
            )
        }
    }

    /// Runs `docker ARGS` within `timeout`, keeping at most [`OUTPUT_LIMIT`] of each stream.
    async fn output(&self, args: &[&str], timeout: Duration) -> Result<Output, String> {
        let mut command = Command::new(&self.program);
        command
            .args(args)
            // A process group of its own: Ctrl+C in the platform's terminal goes to the whole
            // foreground group, and must not kill the very `docker stop` that Ctrl+C started.
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // A call that times out is killed, not left behind.
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .map_err(|error| format!("{}: {error}", self.program))?;
        let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
            return Err(format!("{}: no output to read", self.program));
        };
        let run = async {
            let (stdout, stderr) = tokio::join!(bounded(stdout), bounded(stderr));
            let status = child.wait().await?;
            io::Result::Ok(Output {
                status,
                stdout: stdout?,
                stderr: stderr?,
            })
        };
        match tokio::time::timeout(timeout, run).await {
            Ok(Ok(output)) => Ok(output),
            Ok(Err(error)) => Err(format!("{}: {error}", self.program)),
            Err(_) => Err(format!(
                "`{} {}` did not finish within {} s",
                self.program,
                args.first().unwrap_or(&""),
                timeout.as_secs()
            )),
        }
    }
}

impl Runtime for Docker {
    async fn start(&self, spec: &TaskSpec) -> Result<Option<String>, Error> {
        let open = self.open.read().await;
        if !*open {
            return Err(Error::Stopping);
        }
        let known = agent::source(
            &spec.image,
            spec.force_pull,
            &lock(&self.pulled),
            &self.registries,
        );
        let pulled = match known.map_err(Error::Failed)? {
            Source::Local => None,
            Source::Have(pinned) => Some(pinned),
            Source::Pull => Some(self.pull(&spec.image, spec.force_pull).await?),
        };
        let args = self.run_args(spec, pulled.as_deref())?;
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        match self.call(&args, RUN_TIMEOUT).await {
            Ok(id) => {
                self.containers_lock()
                    .insert(spec.task_id.clone(), id.trim().to_string());
                let digest = pulled.and_then(|p| p.split_once('@').map(|(_, d)| d.to_string()));
                Ok(digest)
            }
            Err(error) => {
                // Created but not started (a start that failed, a run that timed out): the
                // container would stay "Created" until the platform exits. Usually none.
                self.remove(&[self.name(&spec.task_id)]).await;
                Err(Error::Failed(error))
            }
        }
    }

    async fn statuses(&self) -> Result<HashMap<String, RunStatus>, Error> {
        let filter = format!("--filter=label={}", self.owner);
        let format =
            format!("--format={{{{.Label \"{LABEL}.task\"}}}}|{{{{.State}}}}|{{{{.Status}}}}");
        let listed = self
            .call(
                &["ps", "--all", "--no-trunc", &filter, &format],
                CALL_TIMEOUT,
            )
            .await
            .map_err(Error::Failed)?;
        Ok(listing(&listed))
    }

    async fn stop(&self, task_id: &str, grace: Duration) {
        let Some(id) = self.container(task_id) else {
            return;
        };
        // Whole seconds, as `docker stop -t` takes them; the container stays (stopped) so that
        // its logs can still be read, until the platform ends and removes it.
        let seconds = format!("--time={}", grace.as_secs());
        if let Err(error) = self
            .call(&["stop", &seconds, "--", &id], grace + STOP_MARGIN)
            .await
            && !error.contains("No such container")
        {
            eprintln!("docker stop {task_id}: {}", visible(&error));
        }
    }

    async fn logs(&self, task_id: &str, lines: usize) -> Vec<String> {
        let Some(id) = self.container(task_id) else {
            return Vec::new();
        };
        let tail = format!("--tail={lines}");
        // stdout and stderr arrive on two pipes: their timestamps put them back in order.
        let args = ["logs", "--timestamps", &tail, "--", &id];
        let Ok(output) = self.output(&args, CALL_TIMEOUT).await else {
            return Vec::new();
        };
        if !output.status.success() {
            return Vec::new();
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        merge_by_timestamp(&stdout, &stderr, lines)
    }

    async fn release(&self, task_id: &str) {
        let Some(id) = self.containers_lock().remove(task_id) else {
            return;
        };
        let older: Vec<String> = {
            let mut stopped = lock(&self.stopped);
            stopped.push_back(id);
            let extra = stopped.len().saturating_sub(STOPPED_KEPT);
            stopped.drain(..extra).collect()
        };
        if !older.is_empty() {
            self.remove(&older).await;
        }
    }
}

/// What `docker ps --format '{{.Label "…task"}}|{{.State}}|{{.Status}}'` lists: each task's
/// status. Running, paused or restarting is running; anything else has ended, with the code
/// of its `Status` (`Exited (3) 2 seconds ago`) when it shows one.
fn listing(listed: &str) -> HashMap<String, RunStatus> {
    listed
        .lines()
        .filter_map(|line| {
            let mut fields = line.splitn(3, '|');
            let (task, state, status) = (fields.next()?, fields.next()?, fields.next()?);
            let status = match state {
                "running" | "paused" | "restarting" => RunStatus::Running,
                _ => RunStatus::Exited {
                    code: status
                        .strip_prefix("Exited (")
                        .and_then(|rest| rest.split_once(')'))
                        .and_then(|(code, _)| code.parse().ok()),
                },
            };
            (!task.is_empty()).then(|| (task.to_string(), status))
        })
        .collect()
}

/// What a `docker` call printed (each stream cut at [`OUTPUT_LIMIT`]) and how it ended.
struct Output {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// The first [`OUTPUT_LIMIT`] bytes of `stream`; the rest is read to its end and dropped, so
/// that `docker` never blocks on a full pipe.
async fn bounded(mut stream: impl AsyncRead + Unpin) -> io::Result<Vec<u8>> {
    let mut kept = Vec::new();
    (&mut stream)
        .take(OUTPUT_LIMIT)
        .read_to_end(&mut kept)
        .await?;
    io::copy(&mut stream, &mut io::sink()).await?;
    Ok(kept)
}

/// The useful part of what `docker` printed on failure, on one line: Docker's own message,
/// without the hints and warnings around it; `None` if it printed nothing else.
fn message(stderr: &str) -> Option<String> {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|line| {
            !line.is_empty()
                && !line.starts_with("See 'docker")
                && !line.starts_with("Run 'docker")
                && !line.starts_with("WARNING")
        })
        .collect();
    (!lines.is_empty()).then(|| lines.join(" "))
}

/// Merges `docker logs --timestamps` output of both streams into the last `lines` lines, in
/// the order they were written, without the timestamps. Docker's timestamps have a fixed
/// width (RFC 3339 with nanoseconds), so comparing them as text orders them in time.
fn merge_by_timestamp(stdout: &str, stderr: &str, lines: usize) -> Vec<String> {
    let mut all: Vec<(&str, &str)> = stdout
        .lines()
        .chain(stderr.lines())
        .map(|line| line.split_once(' ').unwrap_or(("", line)))
        .collect();
    all.sort_by(|a, b| a.0.cmp(b.0));
    let skip = all.len().saturating_sub(lines);
    all.into_iter()
        .skip(skip)
        .map(|(_, line)| line.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use test_support::docker_stand_in::DockerStandIn;

    use super::*;
    use crate::runtime::CommandInfo;

    #[tokio::test]
    async fn a_call_keeps_at_most_the_limit_of_what_docker_prints() {
        // `sh` stands in for `docker`: one line of 1 MiB, as from a task that never prints a
        // newline, and a short one on stderr.
        let docker = Docker {
            program: "sh".into(),
            ..Docker::new("7099")
        };
        let script = "head -c 1048576 /dev/zero | tr '\\0' x; echo err >&2";
        let output = docker.output(&["-c", script], CALL_TIMEOUT).await.unwrap();
        assert!(output.status.success());
        assert_eq!(output.stdout.len() as u64, OUTPUT_LIMIT);
        assert_eq!(output.stderr, b"err\n");
    }

    #[test]
    fn logs_of_both_streams_come_back_in_order() {
        let stdout = "2026-01-01T00:00:01.000000000Z one\n2026-01-01T00:00:03.000000000Z three\n";
        let stderr = "2026-01-01T00:00:02.000000000Z two\n";
        assert_eq!(
            merge_by_timestamp(stdout, stderr, 5),
            ["one", "two", "three"]
        );
        assert_eq!(merge_by_timestamp(stdout, stderr, 2), ["two", "three"]);
    }

    #[test]
    fn a_failed_run_keeps_dockers_message_only() {
        let stderr = "Unable to find image 'nope:1' locally\n\
            docker: Error response from daemon: pull access denied for nope.\n\
            See 'docker run --help'.\n";
        assert_eq!(
            message(stderr).as_deref(),
            Some(
                "Unable to find image 'nope:1' locally docker: Error response from daemon: pull access denied for nope."
            )
        );
    }

    #[test]
    fn run_arguments_follow_the_spec() {
        let spec = TaskSpec {
            task_id: "r-d-1-1".into(),
            request_id: "r".into(),
            deploy_id: "d".into(),
            image: "hello-mesos:7".into(),
            env: vec![("PORT0".into(), "31000".into())],
            memory_mb: 64.0,
            cpus: 0.1,
            command: CommandInfo::default(),
            force_pull: false,
        };
        let args = Docker::new("7099").run_args(&spec, None).unwrap().join(" ");
        assert_eq!(
            args,
            "run --detach --net=host --name=hello-mesos.platform-7099-r-d-1-1 \
             --log-driver=json-file --log-opt=max-size=1m --log-opt=max-file=2 \
             --label=hello-mesos.platform=7099 --label=hello-mesos.platform.task=r-d-1-1 \
             --label=hello-mesos.platform.request=r --label=hello-mesos.platform.deploy=d \
             --env=PORT0=31000 --memory=64m --cpus=0.1 -- hello-mesos:7"
        );
        let with = |value: &str, shell| TaskSpec {
            command: CommandInfo {
                value: Some(value.into()),
                arguments: vec!["a b".into()],
                shell,
            },
            ..spec.clone()
        };
        let args = Docker::new("7099").run_args(&with("/bin/echo", false), None);
        assert!(
            args.unwrap()
                .ends_with(&["hello-mesos:7", "/bin/echo", "a b"].map(String::from))
        );
        let args = Docker::new("7099")
            .run_args(&with("exit 3", true), None)
            .unwrap();
        let args = args.join(" ");
        assert!(
            args.ends_with("--entrypoint=/bin/sh -- hello-mesos:7 -c exit 3"),
            "{args}"
        );
        let forced = TaskSpec {
            force_pull: true,
            ..spec.clone()
        };
        // An image the agent pulled runs by its digest: pulled already, nothing more to pull.
        let pinned = format!("localhost:5001/a/b@sha256:{}", "a".repeat(64));
        let args = Docker::new("7099")
            .run_args(&forced, Some(&pinned))
            .unwrap();
        assert!(args.ends_with(&["--".into(), pinned]), "{args:?}");
        assert!(!args.contains(&"--pull=always".into()), "{args:?}");
    }

    #[test]
    fn nothing_a_deploy_carries_is_read_as_an_option() {
        let hostile = TaskSpec {
            image: "--volume=/:/host".into(),
            env: vec![("--privileged".into(), "-v /:/host".into())],
            command: CommandInfo {
                value: Some("--privileged".into()),
                arguments: vec!["-v".into()],
                shell: false,
            },
            ..spec("t")
        };
        let args = Docker::new("7099").run_args(&hostile, None).unwrap();
        let end = args
            .iter()
            .position(|a| a == "--")
            .expect("`--` before the image");
        // Before `--`, each word is an option of ours with its value after `=`, or a flag.
        for option in &args[1..end] {
            assert!(
                option.starts_with("--") && (option.contains('=') || option == "--detach"),
                "{option}"
            );
        }
        assert_eq!(
            args[end..],
            ["--", "--volume=/:/host", "--privileged", "-v"].map(String::from)
        );
        assert!(args.contains(&"--env=--privileged=-v /:/host".to_string()));
    }

    #[test]
    fn a_container_name_takes_only_what_docker_allows() {
        assert_eq!(
            Docker::new("7099").name("r-d-1-1-::1-DEFAULT"),
            "hello-mesos.platform-7099-r-d-1-1-__1-DEFAULT"
        );
    }

    #[test]
    fn the_listing_gives_each_tasks_status_and_exit_code() {
        let listed = "a|running|Up 3 seconds\n\
            b|exited|Exited (3) 2 seconds ago\n\
            c|exited|Exited (137) About a minute ago\n\
            d|paused|Up 1 second (Paused)\n\
            e|dead|Dead\n\
            |running|Up 1 second\n";
        let statuses = listing(listed);
        assert_eq!(statuses.len(), 5);
        assert_eq!(statuses["a"], RunStatus::Running);
        assert_eq!(statuses["b"], RunStatus::Exited { code: Some(3) });
        assert_eq!(statuses["c"], RunStatus::Exited { code: Some(137) });
        assert_eq!(statuses["d"], RunStatus::Running);
        assert_eq!(statuses["e"], RunStatus::Exited { code: None });
    }

    /// A runtime whose `docker` is test-support's stand-in.
    fn recording(stand_in: &DockerStandIn) -> Docker {
        Docker {
            program: stand_in.program().display().to_string(),
            ..Docker::new("7099")
        }
    }

    fn spec(task_id: &str) -> TaskSpec {
        TaskSpec {
            task_id: task_id.into(),
            request_id: "r".into(),
            deploy_id: "d".into(),
            image: "hello-mesos:7".into(),
            env: Vec::new(),
            memory_mb: 0.0,
            cpus: 0.0,
            command: CommandInfo::default(),
            force_pull: false,
        }
    }

    #[tokio::test]
    async fn only_the_newest_released_containers_are_kept() {
        let stand_in = DockerStandIn::new();
        let docker = recording(&stand_in);
        let tasks: Vec<String> = (1..=STOPPED_KEPT + 2).map(|n| format!("t{n}")).collect();
        for task in &tasks {
            docker.start(&spec(task)).await.unwrap();
        }
        for task in &tasks {
            docker.release(task).await;
        }
        let calls = stand_in.calls();
        let removed: Vec<&String> = calls.iter().filter(|l| l.starts_with("rm")).collect();
        // The two oldest, each as the next one ended.
        assert_eq!(
            removed,
            [
                "rm --force --volumes -- c-t1",
                "rm --force --volumes -- c-t2"
            ]
        );
    }

    #[tokio::test]
    async fn an_image_this_agent_does_not_pull_fails_its_task_and_asks_docker_nothing() {
        let stand_in = DockerStandIn::new();
        let docker = recording(&stand_in);
        for (image, force_pull, why) in [
            (
                "localhost:6379/a/b:7",
                false,
                "pulls only from the registries",
            ),
            ("hello-mesos:7", true, "does not pull from Docker Hub"),
        ] {
            let spec = TaskSpec {
                image: image.into(),
                force_pull,
                ..spec("t")
            };
            let failed = docker.start(&spec).await.unwrap_err().to_string();
            assert!(failed.contains(why), "{failed}");
        }
        assert_eq!(stand_in.calls(), Vec::<String>::new());
    }

    #[tokio::test]
    async fn no_task_starts_once_the_platform_stops() {
        let stand_in = DockerStandIn::new();
        let docker = recording(&stand_in);
        docker.stop_all(Duration::from_secs(1)).await.unwrap();
        assert_eq!(
            docker.start(&spec("late")).await.map_err(|e| e.to_string()),
            Err("the platform is stopping".into())
        );
    }
}
