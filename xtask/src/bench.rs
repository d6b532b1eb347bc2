//! `cargo xtask bench`: not written yet.

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> ExitCode {
    eprintln!("cargo xtask bench: not implemented yet");
    ExitCode::FAILURE
}
