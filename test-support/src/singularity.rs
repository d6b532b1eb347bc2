//! Running `otpl-deploy` in a test: a temporary repository holding deploy settings to run the
//! tool in, and the tool's command line with a clean environment and a deadline. (The
//! Singularity it talks to is the practice platform's own model, `platform::singularity`;
//! servers that misbehave are in [`crate::misbehaving`].)

use std::{
    fs,
    path::Path,
    time::{Duration, Instant},
};

use serde_json::Value;
use tempfile::TempDir;

use crate::stand_in::Reserved;

/// How long one run of `otpl-deploy` may take in a test.
pub const RUN_DEADLINE: Duration = Duration::from_secs(30);

/// A base URL where nothing listens, for as long as the [`Reserved`] port is kept: no other
/// test's server can be given it meanwhile.
pub fn unreachable_url() -> (Reserved, String) {
    let reserved = Reserved::new();
    let url = format!("http://{}/singularity", reserved.address());
    (reserved, url)
}

/// The workshop's `config/pp-sf/singularity-request.json`, filled in for the user `alice`.
pub fn request() -> String {
    template("config/pp-sf/singularity-request.json").replace("<username>", "alice")
}

/// The workshop's `config/pp-sf/singularity.json`, filled in for `alice`.
pub fn deploy() -> String {
    template("config/pp-sf/singularity.json").replace("<username>", "alice")
}

/// The workshop's template of a settings file (`config/pp-sf/…`, `docker-repo`), placeholders
/// included: the copy in `test-support/fixtures/workshop/`, not the committed file, which a
/// learner makes their own (page 08). `.ci/run` checks that the two start out the same.
pub fn template(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/workshop")
        .join(file);
    fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// The settings files page 08 has a learner fill in.
const SETTINGS: [&str; 3] = [
    "config/pp-sf/singularity-request.json",
    "config/pp-sf/singularity.json",
    "docker-repo",
];

/// A temporary repository root holding deploy settings: `config/pp-sf/…` and `docker-repo`.
/// Removed when dropped.
pub struct ConfigTree {
    dir: TempDir,
}

impl ConfigTree {
    /// The workshop's settings for `pp-sf`, filled in for the user `alice`.
    pub fn workshop() -> ConfigTree {
        let tree = ConfigTree::template();
        for file in SETTINGS {
            tree.write(file, &template(file).replace("<username>", "alice"));
        }
        tree
    }

    /// The workshop's settings for `pp-sf` as a learner first gets them: placeholders and all.
    pub fn template() -> ConfigTree {
        let tree = ConfigTree {
            dir: TempDir::new().expect("a temporary directory"),
        };
        for file in SETTINGS {
            tree.write(file, &template(file));
        }
        tree
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `file` (a path relative to the root), creating its folders.
    pub fn write(&self, file: &str, text: &str) {
        let path = self.dir.path().join(file);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("a config folder");
        }
        fs::write(&path, text).unwrap_or_else(|err| panic!("cannot write {file}: {err}"));
    }

    /// Changes the JSON in `file`.
    pub fn edit(&self, file: &str, change: impl FnOnce(&mut Value)) {
        let path = self.dir.path().join(file);
        let text = fs::read_to_string(&path).expect("a config file");
        let mut value = serde_json::from_str(&text).expect("JSON");
        change(&mut value);
        self.write(file, &serde_json::to_string_pretty(&value).expect("JSON"));
    }

    pub fn remove(&self, file: &str) {
        fs::remove_file(self.dir.path().join(file)).expect("a file to remove");
    }
}

/// `bin` run in `dir` with `args`, a deadline, and `env` as its whole environment: no
/// `SINGULARITY_URL`, proxy or `USER` from the developer's shell.
pub fn command(bin: &str, dir: &Path, env: &[(&str, &str)], args: &[&str]) -> assert_cmd::Command {
    let mut command = assert_cmd::Command::new(bin);
    command
        .current_dir(dir)
        .env_clear()
        .envs(env.iter().copied())
        .args(args)
        .timeout(RUN_DEADLINE);
    command
}

/// The calls a dry run prints: each `POST URL` line with the JSON that follows it.
pub fn dry_run_calls(stdout: &str) -> Vec<(String, Value)> {
    let mut calls: Vec<(String, String)> = Vec::new();
    for line in stdout.lines() {
        match (line.strip_prefix("POST "), calls.last_mut()) {
            (Some(url), _) => calls.push((url.to_string(), String::new())),
            (None, Some((_, json))) => {
                json.push_str(line);
                json.push('\n');
            }
            (None, None) => panic!("a dry run's output starts with a POST line: {stdout}"),
        }
    }
    calls
        .into_iter()
        .map(|(url, json)| {
            let value = serde_json::from_str(&json)
                .unwrap_or_else(|err| panic!("not JSON after POST {url}: {err}\n{json}"));
            (url, value)
        })
        .collect()
}

/// How long a run that fails may take: long enough for any refusal on a busy machine, under
/// the tool's own 10-second limit on a call, so a test of `--timeout` sees it respected.
pub const FAIL_DEADLINE: Duration = Duration::from_secs(8);

/// Runs `command`, which must exit with `code` within [`FAIL_DEADLINE`] and print one line on
/// stderr (no panic, no backtrace); returns that line.
pub fn fails(command: assert_cmd::Command, code: i32) -> String {
    let stderr = fails_saying(command, code);
    assert_eq!(stderr.lines().count(), 1, "not one line: {stderr}");
    stderr.trim_end().to_string()
}

/// Runs `command`, which must exit with `code` within [`FAIL_DEADLINE`] without a panic;
/// returns what it printed on stderr.
pub fn fails_saying(mut command: assert_cmd::Command, code: i32) -> String {
    let started = Instant::now();
    // A run that hangs is killed, and fails the test, rather than hanging it.
    let assert = command.timeout(RUN_DEADLINE).assert().code(code);
    let took = started.elapsed();
    assert!(took < FAIL_DEADLINE, "took {took:?}");
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(!stderr.contains("panicked"), "a panic: {stderr}");
    stderr
}

/// Checks that `line` contains each of `parts`.
pub fn mentions(line: &str, parts: &[&str]) {
    for part in parts {
        assert!(line.contains(part), "{part:?} missing from: {line}");
    }
}
