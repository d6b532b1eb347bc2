//! `cargo xtask bench`: measures each step's release binary on this machine, next to nginx
//! answering the same requests, and prints the figures with their targets.
//! docs/benchmarks.md says what each figure means and how it is taken.

use std::{
    fs,
    path::{Path, PathBuf},
    process::ExitCode,
    time::Duration,
};

use crate::workspace_root;

mod builds;
mod images;
mod nginx;
mod process;
mod report;
mod tools;
mod wrk;

use report::{Machine, Report, StepFigures};

#[derive(clap::Args)]
pub struct Args {
    /// How long each load runs, in seconds.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    duration: u64,
    /// Connections the load generator keeps open.
    #[arg(long, default_value_t = 50)]
    connections: u32,
    /// Threads of the load generator.
    #[arg(long, default_value_t = 2)]
    threads: u32,
    /// Start-and-stop runs per step; start and stop times are their medians.
    #[arg(long, default_value_t = 20)]
    runs: usize,
    /// Also time clean and incremental debug builds of the workspace (takes minutes).
    #[arg(long)]
    builds: bool,
    /// Also write the report as Markdown to this file.
    #[arg(long, value_name = "PATH")]
    markdown: Option<PathBuf>,
}

pub fn run(args: Args) -> ExitCode {
    match bench(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("cargo xtask bench: {err}");
            ExitCode::FAILURE
        }
    }
}

fn bench(args: &Args) -> Result<(), String> {
    let root = workspace_root();
    let load = wrk::Load::new(
        tools::require("wrk", "wrk")?,
        Duration::from_secs(args.duration),
        args.connections,
        args.threads,
    )?;
    let nginx_bin = tools::require("nginx", "nginx-light")?;
    let steps = process::build_release(&root)?;
    let machine = Machine::describe(&load, &nginx_bin);

    let nginx = nginx::Nginx::start(&nginx_bin)?;
    let measured = steps
        .iter()
        .map(|step| measure_step(&root, step, &load, &nginx, args.runs))
        .collect::<Result<Vec<_>, _>>()?;
    let nginx_peak_rss_kib = nginx.peak_rss_kib()?;
    drop(nginx);
    let builds = match args.builds {
        true => Some(builds::measure(&root, &steps)?),
        false => None,
    };

    let report = Report {
        machine,
        load,
        runs: args.runs,
        steps: measured,
        nginx_peak_rss_kib,
        builds,
    };
    print!("{}", report.text());
    if let Some(path) = &args.markdown {
        fs::write(path, report.markdown())
            .map_err(|err| format!("cannot write {}: {err}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// Everything measured on one step's release binary.
fn measure_step(
    root: &Path,
    step: &process::Step,
    load: &wrk::Load,
    nginx: &nginx::Nginx,
    runs: usize,
) -> Result<StepFigures, String> {
    eprintln!("{}: {runs} starts and stops", step.name);
    let start_stop = process::start_stop(&step.bin, runs)?;
    eprintln!("{}: under load", step.name);
    let loaded = process::under_load(&step.bin, load, nginx)?;
    let binary_bytes = fs::metadata(&step.bin)
        .map_err(|err| format!("{}: {err}", step.bin.display()))?
        .len();
    Ok(StepFigures {
        name: step.name.clone(),
        start_stop,
        loaded,
        binary_bytes,
        image: images::size(root, &step.name),
    })
}

/// The median of `values` (the lower middle one for an even count); `None` when empty.
fn median<T: Copy + Ord>(mut values: Vec<T>) -> Option<T> {
    values.sort_unstable();
    values.get(values.len().saturating_sub(1) / 2).copied()
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn median_takes_the_middle_or_the_lower_middle() {
        assert_eq!(median(vec![3, 1, 2]), Some(2));
        assert_eq!(median(vec![4, 1, 3, 2]), Some(2));
        assert_eq!(median(Vec::<u8>::new()), None);
    }
}
