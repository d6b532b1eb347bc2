//! The console sessions the pages show, run as shown: a block after `<!-- e2e NAME -->` in
//! `docs/PAGE` is a list of `$ command` lines, each followed by lines it is shown to print.
//! [`run_session`] runs them in one shell and checks that each prints what is shown, in
//! order, where `…` stands for any text (ids, ports, timestamps).

use std::{path::Path, process::Command};

/// One command of a console session shown in the docs, and the lines it is shown to print.
#[derive(Debug)]
pub struct Shown {
    pub command: String,
    pub output: Vec<String>,
}

/// The console block after `<!-- e2e {name} -->` in `docs/{page}`.
pub fn session(page: &str, name: &str) -> Vec<Shown> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../docs")
        .join(page);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{page}: {err}"));
    let marker = format!("<!-- e2e {name} -->\n```console\n");
    let start = text
        .find(&marker)
        .unwrap_or_else(|| panic!("{page} has no {marker:?}"))
        + marker.len();
    let block = &text[start..start + text[start..].find("```").expect("the block's end")];
    let mut shown: Vec<Shown> = Vec::new();
    for line in block.lines() {
        match (line.strip_prefix("$ "), shown.last_mut()) {
            (Some(command), _) => shown.push(Shown {
                command: command.to_string(),
                output: Vec::new(),
            }),
            (None, Some(last)) => last.output.push(line.to_string()),
            (None, None) => panic!("{page}: {name} starts with a line that is not a command"),
        }
    }
    shown
}

/// Runs the session `name` of `docs/{page}` in one `bash`, in `dir`, with only `PATH` and
/// `env` set: each command as `rewrite` makes it (e.g. a test's ports for the defaults), what
/// they print given back through `restore`. Each command must exit 0, unless the next one
/// is `echo $?`, and print every line shown after it.
pub fn run_session(
    page: &str,
    name: &str,
    dir: &Path,
    env: &[(&str, &str)],
    rewrite: impl Fn(&str) -> String,
    restore: impl Fn(String) -> String,
) {
    let shown = session(page, name);
    let mut script = String::from("exec 2>&1\n");
    for command in &shown {
        // The exit code of each command, on a line of its own; `$?` is then restored.
        let command = rewrite(&command.command);
        script.push_str(&format!("{command}\ns=$?; echo \"@@@ $s\"; (exit $s)\n"));
    }
    let path = std::env::var("PATH").unwrap_or_default();
    let output = Command::new("bash")
        .args(["-c", &script])
        .current_dir(dir)
        .env_clear()
        .env("PATH", path)
        .envs(env.iter().copied())
        .output()
        .expect("bash runs");
    let output = restore(String::from_utf8_lossy(&output.stdout).into_owned());
    let mut printed = output.split("@@@ ");
    let mut before = printed.next().unwrap_or_default();
    for (index, command) in shown.iter().enumerate() {
        let next = printed.next().unwrap_or_else(|| {
            panic!(
                "{page} {name}: no end after `{}`:\n{output}",
                command.command
            )
        });
        let (code, rest) = next.split_once('\n').unwrap_or((next, ""));
        let checked = shown
            .get(index + 1)
            .is_some_and(|next| next.command == "echo $?");
        assert!(
            code.trim() == "0" || checked,
            "{page} {name}: `{}` exited {code}:\n{before}",
            command.command
        );
        let mut lines = before.lines();
        for expected in &command.output {
            assert!(
                lines.any(|line| matches_shown(expected, line)),
                "{page} {name}: `{}` did not print {expected:?}; it printed:\n{before}",
                command.command
            );
        }
        before = rest;
    }
}

/// Whether `line` is `shown`, where each `…` in `shown` stands for any text.
fn matches_shown(shown: &str, line: &str) -> bool {
    let mut parts = shown.split('…');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = line.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    for (index, part) in parts.iter().enumerate() {
        if index + 1 == parts.len() {
            return part.is_empty() || rest.ends_with(part);
        }
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.is_empty()
}
