//! Maintainer tasks, run with `cargo xtask <task>` (an alias in `.cargo/config.toml`).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bench;
mod docs;

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
    /// Measure each step's release binary: throughput, latency, memory, start and stop times.
    Bench(bench::Args),
}

fn main() -> ExitCode {
    match Cli::parse().task {
        Task::Docs(args) => docs::run(args),
        Task::Bench(args) => bench::run(args),
    }
}
