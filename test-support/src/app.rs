//! A step's real binary, running as a child process that the test watches from outside.

use std::{
    collections::VecDeque,
    fmt,
    io::Read,
    os::unix::process::CommandExt,
    process::{Child, Command, ExitStatus, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
        mpsc,
    },
    thread::{self, JoinHandle},
    time::{Duration, Instant},
};

use nix::{
    sys::signal::{Signal, kill, killpg},
    unistd::Pid,
};

/// How long a step may take to print its readiness line.
pub const START_DEADLINE: Duration = Duration::from_secs(10);
/// How long a step may take to exit once it should.
pub const EXIT_DEADLINE: Duration = Duration::from_secs(5);
/// The line a step prints once its socket is listening, followed by its base URL. The
/// contracts need it to know when and where a service listens, so any service checked must
/// print it (anywhere in a line: a log prefix before it is fine).
pub const READY: &str = "Server running at: ";
/// How many of the last lines of each stream an [`App`] keeps, and how long a line may be:
/// a service that floods its output costs bounded memory.
const KEPT_LINES: usize = 200;
const LONGEST_LINE: usize = 4096;
/// How many lines may wait, unread, for [`App::wait_for_line`]; more are dropped.
const QUEUED_LINES: usize = 10_000;

/// Whether each app runs in a process group of its own, killed whole when the app is dropped
/// (see [`isolate_process_groups`]).
static ISOLATED: AtomicBool = AtomicBool::new(false);
/// The process groups of the apps running, so that an interrupted run can kill them all.
static GROUPS: Mutex<Vec<Pid>> = Mutex::new(Vec::new());

/// From now on, starts each app in a process group of its own and kills the whole group when
/// the app is dropped or its main process exits: a service that leaves a child behind (one
/// that still holds its port) leaves nothing once checked. Off by default, so that Ctrl+C on
/// `cargo test` still reaches the apps through the terminal's process group; a program that
/// turns it on kills the groups itself on Ctrl+C ([`stop_every_app`]).
pub fn isolate_process_groups() {
    ISOLATED.store(true, Ordering::SeqCst);
}

/// Whether `PORT0=0` is replaced by a free port chosen here (see [`choose_ports`]).
static CHOSEN_PORTS: AtomicBool = AtomicBool::new(false);

/// From now on, gives each app started with `PORT0=0` a free port instead, as Mesos gives a
/// task a port of its own: `PORT0=0` (the system chooses) is how the step tests run many apps
/// side by side, a setting of this repository's that a service checked one contract at a time
/// need not take ([`App::start_exactly`] still gives it, to see whether it does).
pub fn choose_ports() {
    CHOSEN_PORTS.store(true, Ordering::SeqCst);
}

/// A port free now on `host` (on 127.0.0.1 if `host` is not an address), or `None`.
fn free_port(host: &str) -> Option<u16> {
    let ip = host
        .parse::<std::net::IpAddr>()
        .unwrap_or(std::net::Ipv4Addr::LOCALHOST.into());
    let listener = std::net::TcpListener::bind((ip, 0))
        .or_else(|_| std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)))
        .ok()?;
    Some(listener.local_addr().ok()?.port())
}

/// Kills the process group of every app running (with [`isolate_process_groups`] on).
pub fn kill_every_group() {
    for group in GROUPS.lock().expect("groups lock").iter() {
        let _ = killpg(*group, Signal::SIGKILL);
    }
}

/// Whether apps may still start (see [`stop_every_app`]).
static STOPPING: AtomicBool = AtomicBool::new(false);

/// Kills the process group of every app running and, from now on, starts none: a thread that
/// would start one waits instead, for a program about to exit (on Ctrl+C), so that nothing
/// it started can outlive it, not even an app whose start was under way.
pub fn stop_every_app() {
    // Set under the lock that each start holds until its group is listed: any start after
    // this sees it, any start before is listed, and killed here.
    let groups = GROUPS.lock().expect("groups lock");
    STOPPING.store(true, Ordering::SeqCst);
    for group in groups.iter() {
        let _ = killpg(*group, Signal::SIGKILL);
    }
}

/// Whether each program started is a container's entry point, PID 1 of its container already.
static CONTAINERS: AtomicBool = AtomicBool::new(false);

/// From now on, the programs started are containers (the checker's `--image`), whose own
/// entry point is PID 1: [`App::start_as_pid_1`] starts them as they are, without `unshare`.
pub fn programs_are_containers() {
    CONTAINERS.store(true, Ordering::SeqCst);
}

/// Why a contract failed: what was expected and what happened, with the app's last output
/// lines. A contract returns it as a value ([`crate::contracts::Outcome`]).
#[derive(Debug, Clone)]
pub struct Failed {
    pub what: String,
    pub stdout: String,
    pub stderr: String,
}

impl Failed {
    /// A failure that has no output of a service to show.
    pub fn new(what: impl Into<String>) -> Failed {
        Failed {
            what: what.into(),
            stdout: String::new(),
            stderr: String::new(),
        }
    }
}

impl fmt::Display for Failed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}\n--- stdout ---\n{}--- stderr ---\n{}",
            // What failed may quote the service, as its output does.
            visible(&self.what),
            visible(&self.stdout),
            visible(&self.stderr)
        )
    }
}

/// A service's output made safe to print on a terminal, its lines kept: the workspace's one
/// function for it, [`printable::lines`].
pub use printable::lines as visible;

/// Which of a process's streams a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl fmt::Display for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        })
    }
}

/// A running step binary. Killed when dropped, so a failing test leaves nothing behind.
pub struct App {
    child: Child,
    /// The process to signal: the binary itself, which under `unshare` is not `child`.
    pid: Pid,
    /// When it was started: Singularity counts its health-check times from there.
    started: Instant,
    lines: mpsc::Receiver<String>,
    /// Lines received that no wait has taken yet, oldest first: a later wait may want one
    /// (a line printed on the other stream before the readiness line, for instance).
    unclaimed: VecDeque<String>,
    /// The process group to kill at the end, when the app has one of its own.
    group: Option<Pid>,
    output: Arc<Mutex<Output>>,
    readers: Vec<JoinHandle<()>>,
}

/// The last lines of each stream.
#[derive(Default)]
struct Output {
    stdout: VecDeque<String>,
    stderr: VecDeque<String>,
}

impl App {
    /// Starts `bin` with exactly these environment variables: nothing is inherited, so a
    /// `TASK_HOST` set in the developer's shell cannot change what a test sees.
    pub fn start(bin: &str, env: &[(&str, &str)]) -> App {
        App::spawn(Command::new(bin), env)
    }

    /// Starts `bin` with exactly these environment variables, `PORT0=0` included whatever
    /// [`choose_ports`] says.
    pub fn start_exactly(bin: &str, env: &[(&str, &str)]) -> App {
        App::spawn_with(Command::new(bin), env, false)
    }

    /// Starts `bin` as PID 1 of a new PID namespace, as a container's main process runs.
    /// `Err` says why that is not possible here (no permission for `unshare`).
    pub fn start_as_pid_1(bin: &str, env: &[(&str, &str)]) -> Result<App, String> {
        if CONTAINERS.load(Ordering::SeqCst) {
            return Ok(App::start(bin, env));
        }
        let args = unshare_args()?;
        let mut command = Command::new("unshare");
        command.args(args).arg("--").arg(bin);
        let mut app = App::spawn(command, env);
        // `unshare --fork` waits for its child, the binary: that child is the one to signal.
        let children = format!("/proc/{0}/task/{0}/children", app.child.id());
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            let listed = std::fs::read_to_string(&children).unwrap_or_default();
            if let Some(pid) = listed
                .split_whitespace()
                .next()
                .and_then(|p| p.parse().ok())
            {
                app.pid = Pid::from_raw(pid);
                return Ok(app);
            }
            if Instant::now() > deadline {
                app.fail(&format!("no child of unshare listed in {children}"));
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Starts `command` (a program with its arguments) with exactly these environment
    /// variables, as [`App::start`] does.
    pub fn spawn(command: Command, env: &[(&str, &str)]) -> App {
        App::spawn_with(command, env, CHOSEN_PORTS.load(Ordering::SeqCst))
    }

    /// [`App::spawn`], with `PORT0=0` replaced by a free port if `choose`.
    fn spawn_with(mut command: Command, env: &[(&str, &str)], choose: bool) -> App {
        command.env_clear().envs(env.iter().copied());
        if choose && env.contains(&("PORT0", "0")) {
            let host = env.iter().find(|(name, _)| *name == "TASK_HOST");
            if let Some(port) = free_port(host.map_or("", |(_, host)| host)) {
                command.env("PORT0", port.to_string());
            }
        }
        let isolated = ISOLATED.load(Ordering::SeqCst);
        if isolated {
            command.process_group(0);
        }
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // Held from the start to the listing of its group: see `stop_every_app`.
        let mut groups = GROUPS.lock().expect("groups lock");
        if STOPPING.load(Ordering::SeqCst) {
            drop(groups);
            loop {
                thread::park();
            }
        }
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(err) => {
                drop(groups);
                panic!("cannot start {command:?}: {err}");
            }
        };
        let pid = Pid::from_raw(child.id() as i32);
        let group = isolated.then_some(pid);
        groups.extend(group);
        drop(groups);
        let output = Arc::new(Mutex::new(Output::default()));
        let (sender, lines) = mpsc::sync_channel(QUEUED_LINES);
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let readers = vec![
            read_lines(stdout, Stream::Stdout, sender.clone(), Arc::clone(&output)),
            read_lines(stderr, Stream::Stderr, sender, Arc::clone(&output)),
        ];
        App {
            child,
            pid,
            started: Instant::now(),
            lines,
            unclaimed: VecDeque::new(),
            group,
            output,
            readers,
        }
    }

    /// Waits for the readiness line and returns the base URL it announces.
    pub fn ready(&mut self) -> Result<String, Failed> {
        self.try_ready().map_err(|err| self.failed(&err))
    }

    /// Waits for the readiness line and returns the base URL it announces, or says why
    /// there is none (the process exited, or took longer than [`START_DEADLINE`]).
    pub fn try_ready(&mut self) -> Result<String, String> {
        let line = self.try_wait_for(READY, START_DEADLINE, |line| line.contains(READY))?;
        let (_, after) = line.split_once(READY).unwrap_or_default();
        Ok(after
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string())
    }

    /// Waits for a line (on stdout or stderr) that starts with `prefix`, and returns it;
    /// panics (failing the test) if none comes `within`.
    pub fn wait_for_line(&mut self, prefix: &str, within: Duration) -> String {
        self.expect_line(prefix, within)
            .unwrap_or_else(|failed| panic!("{failed}"))
    }

    /// Waits for a line (on stdout or stderr) that starts with `prefix`, and returns it. Each
    /// line is taken once: waiting twice for the same prefix wants two lines.
    pub fn expect_line(&mut self, prefix: &str, within: Duration) -> Result<String, Failed> {
        self.try_wait_for(prefix, within, |line| line.starts_with(prefix))
            .map_err(|err| self.failed(&err))
    }

    /// Waits for a line that `wanted` accepts, among those no wait has taken yet, then those
    /// to come; `what` names it in the error.
    fn try_wait_for(
        &mut self,
        what: &str,
        within: Duration,
        wanted: impl Fn(&str) -> bool,
    ) -> Result<String, String> {
        if let Some(at) = self.unclaimed.iter().position(|line| wanted(line)) {
            return Ok(self.unclaimed.remove(at).expect("a line found"));
        }
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if wanted(&line) => return Ok(line),
                Ok(line) => {
                    if self.unclaimed.len() == QUEUED_LINES {
                        self.unclaimed.pop_front();
                    }
                    self.unclaimed.push_back(line);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let earlier = self.already_seen(&wanted);
                    return Err(format!("no line {what:?} within {within:?}{earlier}"));
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    // Both streams closed: the process has exited, or is about to.
                    let status = match self.exit_within(Duration::from_millis(500)) {
                        Ok(status) => format!(" ({status})"),
                        Err(_) => String::new(),
                    };
                    let earlier = self.already_seen(&wanted);
                    return Err(format!("exited{status} without a line {what:?}{earlier}"));
                }
            }
        }
    }

    /// Where a line that `wanted` accepts was already printed (and taken by an earlier
    /// wait), to say so in an error: " (one was printed earlier, on stderr: …)".
    fn already_seen(&self, wanted: impl Fn(&str) -> bool) -> String {
        let output = self.output.lock().expect("output lock");
        let streams = [
            (Stream::Stdout, &output.stdout),
            (Stream::Stderr, &output.stderr),
        ];
        streams
            .into_iter()
            .find_map(|(stream, lines)| {
                let line = lines.iter().rev().find(|line| wanted(line))?;
                Some(format!(
                    " (one was printed earlier, on {stream}: {:?}, and counted then)",
                    visible(line)
                ))
            })
            .unwrap_or_default()
    }

    /// How long since the process was started.
    pub fn running_for(&self) -> Duration {
        self.started.elapsed()
    }

    /// The process that [`App::signal`] signals: the binary itself.
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Sends `signal` to the binary; panics (failing the test) if it cannot.
    pub fn signal(&self, signal: Signal) {
        self.send(signal)
            .unwrap_or_else(|failed| panic!("{failed}"));
    }

    /// Sends `signal` to the binary.
    pub fn send(&self, signal: Signal) -> Result<(), Failed> {
        kill(self.pid, signal).map_err(|err| self.failed(&format!("cannot send {signal}: {err}")))
    }

    /// Waits for the process to exit, at most `within`, and returns how it exited; panics
    /// (failing the test) if it does not.
    pub fn wait(&mut self, within: Duration) -> ExitStatus {
        self.exit_within(within)
            .unwrap_or_else(|failed| panic!("{failed}"))
    }

    /// Waits for the process to exit, at most `within`, and returns how it exited. It notices
    /// the exit within a millisecond, so the time this takes measures a stop.
    pub fn exit_within(&mut self, within: Duration) -> Result<ExitStatus, Failed> {
        let deadline = Instant::now() + within;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    // What it left behind goes with it, as Mesos kills a task's processes.
                    self.kill_group();
                    // The pipes close with the process: collect everything it printed. A
                    // child left behind may hold them open, so only for a moment.
                    let until = Instant::now() + Duration::from_millis(500);
                    while self.readers.iter().any(|r| !r.is_finished()) && Instant::now() < until {
                        thread::sleep(Duration::from_millis(1));
                    }
                    return Ok(status);
                }
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(1)),
                Ok(None) => return Err(self.failed(&format!("still running after {within:?}"))),
                Err(err) => {
                    return Err(self.failed(&format!("cannot wait for the process: {err}")));
                }
            }
        }
    }

    /// Waits for the process to exit with `code` within [`EXIT_DEADLINE`].
    pub fn expect_exit_code(&mut self, code: i32) -> Result<(), Failed> {
        let status = self.exit_within(EXIT_DEADLINE)?;
        if status.code() == Some(code) {
            Ok(())
        } else {
            Err(self.failed(&format!("expected exit code {code}, got {status}")))
        }
    }

    /// True while the process has not exited.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// What the process printed on stdout so far (its last [`KEPT_LINES`] lines).
    pub fn stdout(&self) -> String {
        joined(&self.output.lock().expect("output lock").stdout)
    }

    /// What the process printed on stderr so far (its last [`KEPT_LINES`] lines).
    pub fn stderr(&self) -> String {
        joined(&self.output.lock().expect("output lock").stderr)
    }

    /// Why a check failed: `what`, with what the process printed so far.
    pub fn failed(&self, what: &str) -> Failed {
        Failed {
            what: what.to_string(),
            stdout: self.stdout(),
            stderr: self.stderr(),
        }
    }

    /// Fails the test with `what`, followed by what the process printed (for tests; the
    /// contracts return [`App::failed`] instead).
    #[track_caller]
    pub fn fail(&self, what: &str) -> ! {
        panic!("{}", self.failed(what));
    }

    /// Kills the app's process group, if it has one of its own.
    fn kill_group(&mut self) {
        if let Some(group) = self.group.take() {
            let _ = killpg(group, Signal::SIGKILL);
            GROUPS.lock().expect("groups lock").retain(|g| *g != group);
        }
    }

    /// Fails the test with `what` unless `condition` holds (for tests; the contracts return
    /// [`App::check`] instead).
    #[track_caller]
    pub fn assert(&self, condition: bool, what: &str) {
        if !condition {
            self.fail(what);
        }
    }

    /// `Ok` if `condition` holds, else the failure `what`, with the process's output.
    pub fn check(&self, condition: bool, what: &str) -> Result<(), Failed> {
        if condition {
            Ok(())
        } else {
            Err(self.failed(what))
        }
    }
}

impl Drop for App {
    fn drop(&mut self) {
        // Only while the child runs: once reaped, its PID may already be another process's.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = kill(self.pid, Signal::SIGKILL);
        }
        // Before the reaping below, the group's number cannot be anyone else's.
        self.kill_group();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn joined(lines: &VecDeque<String>) -> String {
    lines.iter().map(|line| format!("{line}\n")).collect()
}

/// Copies `stream` line by line into `output` and to `sender`, until the stream ends. A
/// line longer than [`LONGEST_LINE`] is cut there; lines nobody waits for are dropped.
fn read_lines(
    mut stream: impl Read + Send + 'static,
    which: Stream,
    sender: mpsc::SyncSender<String>,
    output: Arc<Mutex<Output>>,
) -> JoinHandle<()> {
    let keep = move |text: String| {
        let mut output = output.lock().expect("output lock");
        let kept = match which {
            Stream::Stdout => &mut output.stdout,
            Stream::Stderr => &mut output.stderr,
        };
        if kept.len() == KEPT_LINES {
            kept.pop_front();
        }
        kept.push_back(text.clone());
        drop(output);
        let _ = sender.try_send(text);
    };
    thread::spawn(move || {
        let mut line = Vec::new();
        let mut chunk = [0; 8192];
        while let Ok(read @ 1..) = stream.read(&mut chunk) {
            for &byte in &chunk[..read] {
                if byte != b'\n' {
                    if line.len() < LONGEST_LINE {
                        line.push(byte);
                    }
                    continue;
                }
                keep(String::from_utf8_lossy(&line).into_owned());
                line.clear();
            }
        }
        // A last line without its newline still counts.
        if !line.is_empty() {
            keep(String::from_utf8_lossy(&line).into_owned());
        }
    })
}

/// The `unshare` arguments that give a new PID namespace on this machine: as root, or
/// as a user mapped to root in a new user namespace.
fn unshare_args() -> Result<&'static [&'static str], String> {
    const CHOICES: [&[&str]; 2] = [
        &["--pid", "--fork"],
        &["--user", "--map-root-user", "--pid", "--fork"],
    ];
    for args in CHOICES {
        let works = Command::new("unshare")
            .args(args)
            .arg("true")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if works {
            return Ok(args);
        }
    }
    Err("`unshare --pid --fork` is not permitted here (not even in a user namespace)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A shell running `script`, as an app.
    fn shell(script: &str) -> App {
        let mut command = Command::new("/bin/sh");
        command.args(["-c", script]);
        App::spawn(command, &[])
    }

    #[test]
    fn a_line_before_the_readiness_line_on_the_other_stream_is_still_found() {
        let script = "echo 'Not yet' >&2; sleep 0.2; echo 'Server running at: http://x:1'; sleep 5";
        let mut app = shell(script);
        assert_eq!(app.ready().map_err(|f| f.what), Ok("http://x:1".into()));
        let line = app.expect_line("Not yet", Duration::from_secs(1));
        assert_eq!(line.map_err(|f| f.what), Ok("Not yet".into()));
    }

    #[test]
    fn a_line_already_counted_is_named_with_its_stream() {
        let mut app = shell("echo 'Not yet' >&2; sleep 5");
        assert!(app.expect_line("Not yet", Duration::from_secs(1)).is_ok());
        let again = app.expect_line("Not yet", Duration::from_millis(100));
        let what = again.expect_err("one line, taken once").what;
        assert!(what.contains("printed earlier, on stderr"), "{what}");
    }

    #[test]
    fn an_exit_before_the_readiness_line_says_its_status() {
        let mut app = shell("echo 'no such file' >&2; exit 2");
        let failed = app.ready().expect_err("no readiness line");
        assert!(
            failed.what.contains("exited (exit status: 2)"),
            "{}",
            failed.what
        );
        assert_eq!(failed.stderr, "no such file\n");
    }

    #[test]
    fn control_characters_are_made_visible() {
        assert_eq!(visible("a\u{1b}[31mb\tc\n"), "a\\u{1b}[31mb\tc\n");
    }
}
