//! Debug build times of the workspace, what a learner waits for in class: from nothing (a
//! fresh target directory; sources already downloaded), and after touching one step.

use std::{
    fs::File,
    path::Path,
    time::{Duration, Instant, SystemTime},
};

use tempfile::TempDir;

use super::process::Step;
use crate::cargo;

pub struct Builds {
    /// `cargo build --workspace` into an empty target directory.
    pub clean_workspace: Duration,
    /// The same again after touching `touched`'s `src/main.rs`.
    pub incremental: Duration,
    /// `cargo build --package touched` into an empty target directory: one step, as
    /// `cargo run --package` builds it in class.
    pub clean_step: Duration,
    pub touched: String,
}

/// Times the builds; the step touched is the last one.
pub fn measure(root: &Path, steps: &[Step]) -> Result<Builds, String> {
    let step = steps.last().ok_or("no steps")?;
    let target = fresh_target()?;
    let clean_workspace = timed_build(root, &target, &["--workspace"])?;
    let main = step.dir.join("src/main.rs");
    File::options()
        .write(true)
        .open(&main)
        .and_then(|file| file.set_modified(SystemTime::now()))
        .map_err(|err| format!("cannot touch {}: {err}", main.display()))?;
    let incremental = timed_build(root, &target, &["--workspace"])?;
    drop(target);
    let clean_step = timed_build(root, &fresh_target()?, &["--package", &step.name])?;
    Ok(Builds {
        clean_workspace,
        incremental,
        clean_step,
        touched: step.name.clone(),
    })
}

fn fresh_target() -> Result<TempDir, String> {
    TempDir::new().map_err(|err| format!("temporary directory: {err}"))
}

/// Runs `cargo build args` with its target directory in `target`, and times it.
fn timed_build(root: &Path, target: &TempDir, args: &[&str]) -> Result<Duration, String> {
    let what = format!("cargo build {}", args.join(" "));
    eprintln!("{what} (target directory {})", target.path().display());
    let began = Instant::now();
    let output = cargo()
        .args(["build", "--quiet"])
        .args(args)
        .env("CARGO_TARGET_DIR", target.path())
        .current_dir(root)
        .output()
        .map_err(|err| format!("cannot run cargo: {err}"))?;
    let took = began.elapsed();
    match output.status.success() {
        true => Ok(took),
        false => Err(format!(
            "{what} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        )),
    }
}
