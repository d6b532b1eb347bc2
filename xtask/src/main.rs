//! Maintainer tasks, run with `cargo xtask <task>` (an alias in `.cargo/config.toml`).

use std::{
    path::{Path, PathBuf},
    process::{Command, ExitCode},
};

use clap::{Parser, Subcommand};

mod docs;
// Tests only: checks on the workspace's manifests.
#[cfg(test)]
mod manifests;

#[derive(Parser)]
#[command(about = "Maintainer tasks for the hello-mesos workshop")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Regenerate the code excerpts and step diffs in docs/ (or check them with --check).
    Docs(docs::Args),
}

fn main() -> ExitCode {
    match Cli::parse().task {
        Task::Docs(args) => docs::run(args),
    }
}

/// The repository's root: the parent of this crate.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace root")
        .to_path_buf()
}

/// The cargo that runs this program (`cargo xtask` sets `CARGO`), or the one on PATH.
fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}
