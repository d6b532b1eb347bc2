//! `cargo run -p bench --release`: measures each step's release binary on this machine, next
//! to nginx answering the same requests and to the workshop's original Node.js app, and prints
//! the figures with their targets. docs/benchmarks.md says what each figure means and how it
//! is taken.

use std::{
    fs,
    path::{Path, PathBuf},
    process::ExitCode,
    time::Duration,
};

use clap::Parser;

mod cores;
mod nginx;
mod node;
mod probe;
mod report;
mod server;
mod tools;
mod workspace;
mod wrk;

use report::Report;

/// The step whose image is measured too, next to its binary.
const IMAGE_STEP: &str = "step-07-health";

#[derive(Parser)]
#[command(about = "Measure each step next to nginx and the workshop's original Node.js app")]
struct Args {
    /// How long each load runs, in seconds.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    duration: u64,
    /// Connections the load generator keeps open, one load shape per number (`50,1000`).
    #[arg(long, value_name = "N,…", value_delimiter = ',', default_values_t = [50, 1000])]
    connections: Vec<u32>,
    /// Threads of the load generator (which has one core of its own).
    #[arg(long, default_value_t = 1)]
    threads: u32,
    /// How many times each endpoint is loaded on each server (and on nginx, alternately):
    /// the report shows the median and the spread.
    #[arg(long, default_value_t = 3)]
    loads: usize,
    /// Start-and-stop runs per server; start and stop times are their medians.
    #[arg(long, default_value_t = 20)]
    runs: usize,
    /// The Node.js that runs the workshop's app [default: `node` on the PATH, installed from
    /// Debian when missing].
    #[arg(long, value_name = "PATH")]
    node: Option<PathBuf>,
    /// Also time clean and incremental debug builds of the workspace (takes minutes).
    #[arg(long)]
    builds: bool,
    /// Also write the report as Markdown to this file.
    #[arg(long, value_name = "PATH")]
    markdown: Option<PathBuf>,
}

fn main() -> ExitCode {
    match bench(&Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // An error may quote what a server printed.
            eprintln!("bench: {}", probe::shown(&err));
            ExitCode::FAILURE
        }
    }
}

fn bench(args: &Args) -> Result<(), String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("bench sits in the workspace root")?;
    let most = *args.connections.iter().max().ok_or("no --connections")?;
    // Every connection is a file descriptor in wrk and in the server, which inherit this limit
    // (nginx's worker is allowed twice as many connections).
    tools::raise_open_files(2 * u64::from(most) + 100)?;
    let load = wrk::Load::new(
        tools::require("wrk", "wrk")?,
        Duration::from_secs(args.duration),
        args.threads,
        args.loads,
        cores::Cores::detect()?,
    )?;
    let nginx_bin = tools::require("nginx", "nginx-light")?;
    let (steps, target) = workspace::build_release(root)?;
    let node = node::prepare(args.node.as_deref(), &target);
    let started = report::Machine::describe(&load, &nginx_bin);

    // Start and stop times first, on an idle machine; then each load shape with a fresh
    // nginx and fresh servers, so that each shape's peak memory is its own.
    let mut measured = vec![];
    let mut servers: Vec<&server::Server> = steps.iter().map(|step| &step.server).collect();
    for server in &servers {
        let idle = server.idle(args.runs, load.cores())?;
        measured.push(server::Measured {
            binary_bytes: fs::metadata(&server.program).ok().map(|bin| bin.len()),
            image: Some(workspace::image_size(root, &server.name)),
            ..idle
        });
    }
    // The image of one step, run as the platform runs a task, next to its binary.
    let built = |step: &&workspace::Step| {
        let size = measured.iter().find(|m| m.name == step.server.name);
        size.and_then(|m| m.image.as_deref())
            .is_some_and(|s| !s.starts_with("n/a"))
    };
    let image = (steps.iter().filter(built))
        .find(|step| step.server.name == IMAGE_STEP)
        .and_then(|step| workspace::image_server(&step.server.name, load.cores()));
    if let Some(image) = &image {
        measured.push(image.idle(args.runs, load.cores())?);
        servers.push(image);
    }
    let mut node_measured = node
        .as_ref()
        .map_err(Clone::clone)
        .and_then(|(server, _)| server.idle(args.runs, load.cores()));
    let mut nginx_peak_rss_kib = vec![];
    for &connections in &args.connections {
        let nginx = nginx::Nginx::start(&nginx_bin, most, load.cores())?;
        for (server, figures) in servers.iter().zip(&mut measured) {
            figures
                .loads
                .push(server.under_load(&load, connections, &nginx)?);
        }
        if let (Ok((server, _)), Ok(figures)) = (&node, &mut node_measured) {
            match server.under_load(&load, connections, &nginx) {
                Ok(loaded) => figures.loads.push(loaded),
                Err(err) => node_measured = Err(err),
            }
        }
        nginx_peak_rss_kib.push(nginx.peak_rss_kib()?);
    }
    let load_average_after = report::load_average();
    let builds = match args.builds {
        true => Some(workspace::measure_builds(root, &steps)?),
        false => None,
    };

    let report = Report {
        machine: started,
        load_average_after,
        load,
        connections: args.connections.clone(),
        runs: args.runs,
        steps: measured,
        node: node_measured,
        node_version: node.map(|(_, version)| version).unwrap_or_default(),
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
