//! A step's real binary, running as a child process that the test watches from outside.

use std::{
    cell::RefCell,
    collections::VecDeque,
    fmt::Write as _,
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
/// turns it on kills the groups itself on Ctrl+C ([`kill_every_group`]).
pub fn isolate_process_groups() {
    ISOLATED.store(true, Ordering::SeqCst);
}

/// Kills the process group of every app running (with [`isolate_process_groups`] on).
pub fn kill_every_group() {
    for group in GROUPS.lock().expect("groups lock").iter() {
        let _ = killpg(*group, Signal::SIGKILL);
    }
}

/// Why a contract failed, as [`App::fail`] last reported it on this thread: what was
/// expected and what happened, with the app's last output lines.
#[derive(Debug, Clone)]
pub struct Failed {
    pub what: String,
    pub stdout: String,
    pub stderr: String,
}

thread_local! {
    static LAST_FAILED: RefCell<Option<Failed>> = const { RefCell::new(None) };
}

/// Takes the failure that [`App::fail`] last reported on this thread, if any: a program that
/// runs a contract and catches its panic reads here what the panic's text says.
pub fn take_last_failed() -> Option<Failed> {
    LAST_FAILED.with(|last| last.borrow_mut().take())
}

/// A running step binary. Killed when dropped, so a failing test leaves nothing behind.
pub struct App {
    child: Child,
    /// The process to signal: the binary itself, which under `unshare` is not `child`.
    pid: Pid,
    lines: mpsc::Receiver<String>,
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

    /// Starts `bin` as PID 1 of a new PID namespace, as a container's main process runs.
    /// `Err` says why that is not possible here (no permission for `unshare`).
    pub fn start_as_pid_1(bin: &str, env: &[(&str, &str)]) -> Result<App, String> {
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
    pub fn spawn(mut command: Command, env: &[(&str, &str)]) -> App {
        command.env_clear().envs(env.iter().copied());
        let isolated = ISOLATED.load(Ordering::SeqCst);
        if isolated {
            command.process_group(0);
        }
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {command:?}: {err}"));
        let pid = Pid::from_raw(child.id() as i32);
        let group = isolated.then_some(pid);
        GROUPS.lock().expect("groups lock").extend(group);
        let output = Arc::new(Mutex::new(Output::default()));
        let (sender, lines) = mpsc::sync_channel(QUEUED_LINES);
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let readers = vec![
            read_lines(stdout, sender.clone(), Arc::clone(&output), |o| {
                &mut o.stdout
            }),
            read_lines(stderr, sender, Arc::clone(&output), |o| &mut o.stderr),
        ];
        App {
            child,
            pid,
            lines,
            group,
            output,
            readers,
        }
    }

    /// Waits for the readiness line and returns the base URL it announces.
    pub fn ready(&mut self) -> String {
        self.try_ready().unwrap_or_else(|err| self.fail(&err))
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

    /// Waits for a line (on stdout or stderr) that starts with `prefix`, and returns it.
    pub fn wait_for_line(&mut self, prefix: &str, within: Duration) -> String {
        self.try_wait_for_line(prefix, within)
            .unwrap_or_else(|err| self.fail(&err))
    }

    fn try_wait_for_line(&mut self, prefix: &str, within: Duration) -> Result<String, String> {
        self.try_wait_for(prefix, within, |line| line.starts_with(prefix))
    }

    /// Waits for a line that `wanted` accepts; `what` names it in the error.
    fn try_wait_for(
        &mut self,
        what: &str,
        within: Duration,
        wanted: impl Fn(&str) -> bool,
    ) -> Result<String, String> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if wanted(&line) => return Ok(line),
                Ok(_) => continue,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    return Err(format!("no line {what:?} within {within:?}"));
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(format!("exited without a line {what:?}"));
                }
            }
        }
    }

    /// The process that [`App::signal`] signals: the binary itself.
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Sends `signal` to the binary.
    pub fn signal(&self, signal: Signal) {
        kill(self.pid, signal)
            .unwrap_or_else(|err| self.fail(&format!("cannot send {signal}: {err}")));
    }

    /// Waits for the process to exit, at most `within`, and returns how it exited. It notices
    /// the exit within a millisecond, so the time this takes measures a stop.
    pub fn wait(&mut self, within: Duration) -> ExitStatus {
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
                    return status;
                }
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(1)),
                Ok(None) => self.fail(&format!("still running after {within:?}")),
                Err(err) => self.fail(&format!("cannot wait for the process: {err}")),
            }
        }
    }

    /// Waits for the process to exit with `code` within [`EXIT_DEADLINE`].
    pub fn expect_exit_code(&mut self, code: i32) {
        let status = self.wait(EXIT_DEADLINE);
        if status.code() != Some(code) {
            self.fail(&format!("expected exit code {code}, got {status}"));
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

    /// Fails the test with `what`, followed by what the process printed.
    #[track_caller]
    pub fn fail(&self, what: &str) -> ! {
        let failed = Failed {
            what: what.to_string(),
            stdout: self.stdout(),
            stderr: self.stderr(),
        };
        let mut report = format!("{what}\n");
        let _ = write!(
            report,
            "--- stdout ---\n{}--- stderr ---\n{}",
            failed.stdout, failed.stderr
        );
        LAST_FAILED.with(|last| *last.borrow_mut() = Some(failed));
        panic!("{report}");
    }

    /// Kills the app's process group, if it has one of its own.
    fn kill_group(&mut self) {
        if let Some(group) = self.group.take() {
            let _ = killpg(group, Signal::SIGKILL);
            GROUPS.lock().expect("groups lock").retain(|g| *g != group);
        }
    }

    /// Asserts `condition`, failing with `what` and the process's output otherwise.
    #[track_caller]
    pub fn check(&self, condition: bool, what: &str) {
        if !condition {
            self.fail(what);
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
    sender: mpsc::SyncSender<String>,
    output: Arc<Mutex<Output>>,
    field: fn(&mut Output) -> &mut VecDeque<String>,
) -> JoinHandle<()> {
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
                let text = String::from_utf8_lossy(&line).into_owned();
                line.clear();
                let mut output = output.lock().expect("output lock");
                let kept = field(&mut output);
                if kept.len() == KEPT_LINES {
                    kept.pop_front();
                }
                kept.push_back(text.clone());
                drop(output);
                let _ = sender.try_send(text);
            }
        }
        // A last line without its newline still counts.
        if !line.is_empty() {
            let text = String::from_utf8_lossy(&line).into_owned();
            field(&mut output.lock().expect("output lock")).push_back(text.clone());
            let _ = sender.try_send(text);
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
