//! Running the checker, and looking for what it may have left behind.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Child, ExitStatus},
    thread,
    time::{Duration, Instant},
};

use assert_cmd::Command;
use nix::{
    sys::signal::{Signal, kill},
    unistd::Pid,
};

/// Longer than any check here should take: a checker that hangs fails the test.
const CHECK_DEADLINE: Duration = Duration::from_secs(180);

/// What the checker did.
#[derive(Debug)]
pub struct Checked {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Checked {
    /// Asserts that the contract named `failing` ("lesson: contract in words") failed.
    pub fn expect_failure(&self, failing: &str) {
        assert_eq!(self.code, Some(1), "{}", self.stdout);
        let heading = format!("\n✗ {failing}\n");
        assert!(
            self.stdout.contains(&heading),
            "no {heading:?} in:\n{}",
            self.stdout
        );
    }

    /// Asserts that the advice named `advice` ("lesson: contract in words") was not followed,
    /// and said so as advice.
    pub fn expect_advice(&self, advice: &str) {
        let heading = format!("\n~ {advice} (advice, not a failure)\n");
        assert!(
            self.stdout.contains(&heading),
            "no {heading:?} in:\n{}",
            self.stdout
        );
    }

    /// Asserts that every contract held (advice aside).
    pub fn expect_success(&self) {
        assert_eq!(self.code, Some(0), "{}", self.stdout);
        assert!(!self.stdout.contains("✗"), "{}", self.stdout);
    }

    /// Asserts that `text` is in what the checker printed on stdout.
    pub fn expect_stdout(&self, text: &str) {
        assert!(
            self.stdout.contains(text),
            "no {text:?} in:\n{}",
            self.stdout
        );
    }
}

/// Runs the checker with `args`.
pub fn check(args: &[&str]) -> Checked {
    let output = Command::new(env!("CARGO_BIN_EXE_check"))
        .args(args)
        .timeout(CHECK_DEADLINE)
        .output()
        .expect("the checker runs");
    Checked {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The repository's root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The target directory this test runs from (`target/PROFILE/deps/TEST` → `target`).
pub fn target_dir() -> PathBuf {
    let test = std::env::current_exe().expect("the running test's path");
    test.ancestors()
        .nth(3)
        .expect("the test runs from target/PROFILE/deps")
        .to_path_buf()
}

/// A word to put in a service's arguments, found in no other process's.
pub fn marker(name: &str) -> String {
    format!("check-test-{name}-{}", std::process::id())
}

/// The processes whose command line holds `marker`, as `PID: command line`.
pub fn processes_with(marker: &str) -> Vec<String> {
    let entries = fs::read_dir("/proc").expect("/proc lists the processes");
    entries
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_string_lossy().parse::<u32>().ok()?;
            let cmdline = fs::read(entry.path().join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            cmdline
                .contains(marker)
                .then(|| format!("{pid}: {cmdline}"))
        })
        .collect()
}

/// Sends SIGINT (Ctrl+C) to the running `checker` and returns how it exited; fails the test
/// if it has not `within`.
pub fn interrupt(checker: &mut Child, within: Duration) -> ExitStatus {
    kill(Pid::from_raw(checker.id() as i32), Signal::SIGINT).expect("SIGINT to the checker");
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = checker.try_wait().expect("waiting for the checker") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = checker.kill();
            panic!("the checker did not stop on SIGINT within {within:?}");
        }
        thread::sleep(Duration::from_millis(10));
    }
}
