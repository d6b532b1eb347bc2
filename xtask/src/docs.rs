//! `cargo xtask docs`: not written yet.

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> ExitCode {
    eprintln!("cargo xtask docs: not implemented yet");
    ExitCode::FAILURE
}
