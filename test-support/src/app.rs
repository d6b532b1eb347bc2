//! A step's real binary, running as a child process that the test watches from outside.

use std::{
    fmt::Write as _,
    io::{BufRead, BufReader, Read},
    process::{Child, Command, ExitStatus, Stdio},
    sync::{Arc, Mutex, mpsc},
    thread::{self, JoinHandle},
    time::{Duration, Instant},
};

use nix::{
    sys::signal::{Signal, kill},
    unistd::Pid,
};

/// How long a step may take to print its readiness line.
pub const START_DEADLINE: Duration = Duration::from_secs(10);
/// How long a step may take to exit once it should.
pub const EXIT_DEADLINE: Duration = Duration::from_secs(5);
/// The line a step prints once its socket is listening, followed by its base URL.
pub const READY: &str = "Server running at: ";

/// A running step binary. Killed when dropped, so a failing test leaves nothing behind.
pub struct App {
    child: Child,
    /// The process to signal: the binary itself, which under `unshare` is not `child`.
    pid: Pid,
    lines: mpsc::Receiver<String>,
    output: Arc<Mutex<Output>>,
    readers: Vec<JoinHandle<()>>,
}

#[derive(Default)]
struct Output {
    stdout: String,
    stderr: String,
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
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {command:?}: {err}"));
        let output = Arc::new(Mutex::new(Output::default()));
        let (sender, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let readers = vec![
            read_lines(stdout, sender.clone(), Arc::clone(&output), |o| {
                &mut o.stdout
            }),
            read_lines(stderr, sender, Arc::clone(&output), |o| &mut o.stderr),
        ];
        let pid = Pid::from_raw(child.id() as i32);
        App {
            child,
            pid,
            lines,
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
        let line = self.try_wait_for_line(READY, START_DEADLINE)?;
        Ok(line[READY.len()..].to_string())
    }

    /// Waits for a line (on stdout or stderr) that starts with `prefix`, and returns it.
    pub fn wait_for_line(&mut self, prefix: &str, within: Duration) -> String {
        self.try_wait_for_line(prefix, within)
            .unwrap_or_else(|err| self.fail(&err))
    }

    fn try_wait_for_line(&mut self, prefix: &str, within: Duration) -> Result<String, String> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return Ok(line),
                Ok(_) => continue,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    return Err(format!(
                        "no line starting with {prefix:?} within {within:?}"
                    ));
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(format!("exited without a line starting with {prefix:?}"));
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
                    // The pipes close with the process: collect everything it printed.
                    self.readers
                        .drain(..)
                        .for_each(|reader| reader.join().unwrap_or(()));
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

    /// Everything the process printed on stdout so far.
    pub fn stdout(&self) -> String {
        self.output.lock().expect("output lock").stdout.clone()
    }

    /// Everything the process printed on stderr so far.
    pub fn stderr(&self) -> String {
        self.output.lock().expect("output lock").stderr.clone()
    }

    /// Fails the test with `what`, followed by everything the process printed.
    #[track_caller]
    pub fn fail(&self, what: &str) -> ! {
        let output = self.output.lock().expect("output lock");
        let mut report = format!("{what}\n");
        let _ = write!(
            report,
            "--- stdout ---\n{}--- stderr ---\n{}",
            output.stdout, output.stderr
        );
        panic!("{report}");
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
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Copies `stream` line by line into `output` and to `sender`, until the stream ends.
fn read_lines(
    stream: impl Read + Send + 'static,
    sender: mpsc::Sender<String>,
    output: Arc<Mutex<Output>>,
    field: fn(&mut Output) -> &mut String,
) -> JoinHandle<()> {
    thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            let mut output = output.lock().expect("output lock");
            field(&mut output).push_str(&line);
            field(&mut output).push('\n');
            drop(output);
            let _ = sender.send(line);
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
