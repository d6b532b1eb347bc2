//! The programs the benchmark runs besides the steps, installed from Debian when missing.

use std::{
    env, io,
    os::unix::fs::PermissionsExt,
    path::PathBuf,
    process::{Command, Stdio},
};

/// The path of `program`, after installing Debian's `package` with apt-get if it is missing.
pub fn require(program: &str, package: &str) -> Result<PathBuf, String> {
    if let Some(path) = find(program) {
        return Ok(path);
    }
    eprintln!("{program} not found: installing Debian's {package} (apt-get install -y {package})");
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

/// Runs `apt-get args` without questions, its output on stderr; says whether it worked.
fn apt_get(args: &[&str]) -> bool {
    Command::new("apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null())
        .stdout(io::stderr())
        .status()
        .is_ok_and(|status| status.success())
}

/// `program` in the `PATH`, or in the system directories a user's `PATH` often lacks.
fn find(program: &str) -> Option<PathBuf> {
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
