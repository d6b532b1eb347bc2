//! The programs the benchmark runs besides the steps, installed from Debian when missing, and
//! the limits they need.

use std::{
    env, io,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::{Command, ExitStatus, Stdio},
    thread,
    time::{Duration, Instant},
};

use nix::sys::resource::{Resource, getrlimit, setrlimit};

/// How long an installation (apt-get, npm) may take.
const INSTALL_DEADLINE: Duration = Duration::from_secs(600);

/// The path of `program`, after installing Debian's `package` with apt-get if it is missing.
pub fn require(program: &str, package: &str) -> Result<PathBuf, String> {
    if let Some(path) = find(program) {
        return Ok(path);
    }
    eprintln!("{program} not found: installing Debian's {package} (apt-get install -y {package})");
    let apt_get = |args: &[&str]| {
        let mut command = Command::new("apt-get");
        command.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        install(&mut command).is_ok()
    };
    // The package lists may be missing or stale: refresh them if the first attempt fails.
    let installed = apt_get(&["install", "-y", package])
        || (apt_get(&["update"]) && apt_get(&["install", "-y", package]));
    match (installed, find(program)) {
        (true, Some(path)) => Ok(path),
        _ => Err(format!(
            "{program} is needed: install it with `apt-get install {package}`"
        )),
    }
}

/// Runs an installation, its output on stderr, for at most [`INSTALL_DEADLINE`].
pub fn install(command: &mut Command) -> Result<(), String> {
    let what = format!("{command:?}");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(io::stderr())
        .spawn()
        .map_err(|err| format!("cannot run {what}: {err}"))?;
    let deadline = Instant::now() + INSTALL_DEADLINE;
    let status: ExitStatus = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(100)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{what}: gave up after {INSTALL_DEADLINE:?}"));
            }
        }
    };
    match status.success() {
        true => Ok(()),
        false => Err(format!("{what} failed: {status}")),
    }
}

/// `program` in the `PATH`, or in the system directories a user's `PATH` often lacks (a
/// path with a `/` is taken as it is, if it is there).
pub fn find(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        let path = PathBuf::from(program);
        return path.is_file().then_some(path);
    }
    let path = env::var_os("PATH").unwrap_or_default();
    let system = ["/usr/sbin", "/sbin"].map(PathBuf::from);
    env::split_paths(&path)
        .chain(system)
        .map(|dir| dir.join(program))
        .find(|file| {
            file.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// The first line `program arg` prints (on stdout or stderr), or `None` if it cannot run.
pub fn version(program: &Path, arg: &str) -> Option<String> {
    let output = Command::new(program)
        .arg(arg)
        .stdin(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&[output.stdout, output.stderr].concat()).into_owned();
    Some(text.lines().next()?.trim().to_string())
}

/// Raises this process's limit of open files (which the programs it starts inherit) to at
/// least `needed`; above the hard limit, only root can.
pub fn raise_open_files(needed: u64) -> Result<(), String> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).map_err(|err| err.to_string())?;
    if soft >= needed {
        return Ok(());
    }
    setrlimit(Resource::RLIMIT_NOFILE, needed, hard.max(needed)).map_err(|err| {
        format!("{needed} open files are needed, the limit is {soft} (hard {hard}): {err}")
    })
}
