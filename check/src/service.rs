//! The service to check, made into one program that the contracts can start as they start a
//! step's binary: a cargo project's binary, built; or any command, through a small script (or
//! an image, through `docker run`: [`crate::container`]).

use std::{
    fs,
    io::{BufRead, BufReader},
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use serde::Deserialize;
use tempfile::TempDir;

/// A program to start, and the directory that holds it while it is needed.
#[derive(Debug)]
pub struct Service {
    pub program: PathBuf,
    _dir: Option<TempDir>,
}

impl Service {
    /// `program`, which lives in `dir`: both are kept while the service is.
    pub fn in_dir(program: PathBuf, dir: TempDir) -> Service {
        Service {
            program,
            _dir: Some(dir),
        }
    }
}

/// One line of `cargo build --message-format=json`: only the lines that name an executable
/// matter here.
#[derive(Deserialize)]
struct Message {
    reason: String,
    executable: Option<PathBuf>,
}

/// Builds the cargo project in `dir` (its output as cargo prints it, on stderr) and returns
/// its binary. `Err` says why there is none.
pub fn build(dir: &Path) -> Result<Service, String> {
    let manifest = dir.join("Cargo.toml");
    if !manifest.is_file() {
        return Err(format!(
            "{} is not a cargo project (no Cargo.toml): to check any other program, give its \
             command after `--`",
            dir.display()
        ));
    }
    let mut cargo = Command::new(std::env::var_os("CARGO").unwrap_or("cargo".into()))
        .args([
            "build",
            "--message-format=json-render-diagnostics",
            "--manifest-path",
        ])
        .arg(&manifest)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|err| format!("cannot run cargo: {err}"))?;
    let stdout = cargo.stdout.take().expect("stdout is piped");
    let executables: Vec<PathBuf> = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .filter_map(|line| serde_json::from_str::<Message>(&line).ok())
        .filter(|message| message.reason == "compiler-artifact")
        .filter_map(|message| message.executable)
        .collect();
    let status = cargo.wait().map_err(|err| format!("cargo: {err}"))?;
    if !status.success() {
        return Err(format!(
            "cargo build failed ({status}): fix the errors above"
        ));
    }
    match executables.as_slice() {
        [program] => Ok(Service {
            program: program.clone(),
            _dir: None,
        }),
        [] => Err(format!("{} builds no binary", dir.display())),
        _ => Err(format!(
            "{} builds {} binaries: keep one, or give its command after `--`",
            dir.display(),
            executables.len()
        )),
    }
}

/// Makes `command` (a program and its arguments, run from the current directory) one program:
/// a shell script that `exec`s it, so that the service itself receives the signals. Mesos
/// gives a task a `PATH`; the contracts start the service with only Mesos's variables, so the
/// script sets the checker's own.
pub fn wrap(command: &[String]) -> Result<Service, String> {
    let dir = tempfile::Builder::new()
        .prefix("check-")
        .tempdir()
        .map_err(|err| format!("cannot make a temporary directory: {err}"))?;
    let cwd = std::env::current_dir().map_err(|err| format!("current directory: {err}"))?;
    let path = std::env::var("PATH").unwrap_or_default();
    let words: Vec<String> = command.iter().map(|word| quoted(word)).collect();
    let script = format!(
        "#!/bin/sh\nPATH={}; export PATH\ncd {} || exit 127\nexec {} \"$@\"\n",
        quoted(&path),
        quoted(&cwd.display().to_string()),
        words.join(" ")
    );
    let program = dir.path().join("service");
    fs::write(&program, script).map_err(|err| format!("{}: {err}", program.display()))?;
    fs::set_permissions(&program, fs::Permissions::from_mode(0o755))
        .map_err(|err| format!("{}: {err}", program.display()))?;
    Ok(Service::in_dir(program, dir))
}

/// `word` quoted for the shell: inside single quotes, where only `'` itself needs care.
fn quoted(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_survive_the_shell() {
        assert_eq!(quoted("it's"), r"'it'\''s'");
        assert_eq!(quoted("a b"), "'a b'");
    }
}
