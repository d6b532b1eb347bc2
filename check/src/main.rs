//! `check`: runs the lessons' contracts on a learner's own service, as the platform would
//! start it, and says which hold, what the platform would do about those that do not, and
//! where each is taught. The contracts are the step tests' own (test-support).
//!
//! ```text
//! cargo run -q -p check -- 07 ~/hello-mesos      # a cargo project: built, then checked
//! cargo run -q -p check -- 07 -- node app.js     # any command
//! cargo run -q -p check -- 07 --image hello-mesos # a local Docker image, run as Mesos runs it
//! ```
//!
//! Each contract is of a class: *fails*, what the platform (Singularity, Mesos, discovery) or
//! the workshop's original app holds a service to; or *advice*, this repository's own choices,
//! shown but never failing. `--format json` prints the results as Exercism's `results.json`.
//!
//! Exit codes: 0 every contract holds (advice aside), 1 one fails (or the project does not
//! build, the image is not in the local engine, or the service does not start), 2 usage
//! error, 3 `--image` without Docker (no `docker` command, or no engine answers). Ctrl+C
//! stops the service's whole process group, and removes its containers.

mod container;
mod lessons;
mod report;
mod run;
mod service;

use std::{
    path::PathBuf,
    process::ExitCode,
    thread,
    time::{Duration, Instant},
};

use clap::{Parser, ValueEnum};
use test_support::{
    app::{self, App},
    contracts::MESOS_ENV,
    health,
};
use tokio::signal::unix::{SignalKind, signal};

#[derive(Parser)]
#[command(
    about = "Checks your own service against the lessons of the workshop, up to a step",
    after_help = "Exit codes: 0 every contract holds, 1 one fails (or the service cannot be \
                  built or started, or the image is not in the local engine), 2 usage error, \
                  3 --image without Docker (no docker command, or no engine answers)."
)]
struct Args {
    /// The step you have reached (02 to 09): the lessons up to it are checked.
    #[arg(value_parser = clap::value_parser!(u8).range(2..=9))]
    step: u8,
    /// Your cargo project's directory: built with `cargo build`, then its binary is checked.
    #[arg(
        required_unless_present_any = ["command", "image"],
        conflicts_with_all = ["command", "image"]
    )]
    project: Option<PathBuf>,
    /// A Docker image in the local engine (built with `docker build`, never pulled), run as
    /// Mesos runs a task: `docker run --net=host`, the task's environment only, its own
    /// entrypoint as PID 1. No container is left behind.
    #[arg(long, value_name = "NAME", conflicts_with = "command",
          value_parser = container::Image::parse)]
    image: Option<container::Image>,
    /// Stop at the first contract that fails (quicker, after an edit).
    #[arg(long)]
    fail_fast: bool,
    /// Skip the advice: this repository's own choices (wording, streams, exit code 4...),
    /// which never fail a check.
    #[arg(long)]
    no_advice: bool,
    /// Singularity's start-up timeout for the health checks, shortened (in class, to see a
    /// service fail them in seconds): at most its default, 45.
    #[arg(long, value_name = "SECONDS", default_value_t = 45,
          value_parser = clap::value_parser!(u64).range(0..=45))]
    startup_timeout: u64,
    /// Print only one row of a class's table: `| NAME | ✓ | ✗ 2 | … |`, a column per lesson.
    #[arg(long, value_name = "NAME", conflicts_with = "format")]
    summary: Option<String>,
    /// `json`: one document shaped like Exercism's results.json, for scripts and CI.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Any command that starts your service, after `--` (run from the current directory).
    #[arg(last = true)]
    command: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

fn main() -> ExitCode {
    // Started by a contract as the image's task, this binary runs `docker run` (see there).
    if let Some(code) = container::run_as_task() {
        return ExitCode::from(code);
    }
    let args = Args::parse();
    stop_the_service_on_interrupt();
    app::isolate_process_groups();
    app::choose_ports();
    health::set_startup_timeout(Duration::from_secs(args.startup_timeout));
    let prepared = match (&args.project, &args.image) {
        (Some(dir), _) => service::build(dir).map_err(|message| (message, 1)),
        (None, Some(image)) => {
            app::programs_are_containers();
            container::prepare(image)
        }
        (None, None) => service::wrap(&args.command).map_err(|message| (message, 1)),
    };
    let service = prepared.and_then(|service| {
        let bin = service.program.display().to_string();
        let started = starts(&bin);
        container::remove_all();
        started.map(|()| service).map_err(|message| (message, 1))
    });
    let service = match service {
        Ok(service) => service,
        Err((message, code)) => {
            match (&args.summary, args.format) {
                // The class's table still gets its row, of one line.
                (Some(name), _) => {
                    let first = message.lines().next().unwrap_or_default();
                    println!("| {name} | {} |", app::visible(&first.replace('|', "/")));
                }
                (None, Format::Json) => println!("{}", report::Document::error(&message).json()),
                (None, Format::Text) => eprintln!("{}", app::visible(&message)),
            }
            return ExitCode::from(code);
        }
    };
    let started = Instant::now();
    let bin = service.program.display().to_string();
    let mut results = Vec::new();
    let contracts = lessons::up_to(args.step).into_iter().flat_map(|lesson| {
        let kept = lesson
            .contracts
            .iter()
            .filter(|contract| !(args.no_advice && contract.is_advice()));
        kept.map(move |contract| (lesson, contract))
    });
    let lines = args.summary.is_none() && args.format == Format::Text;
    for (lesson, contract) in contracts {
        let result = report::Verdict {
            lesson: lesson.name,
            contract: contract.name,
            about: contract.about,
            outcome: run::run(contract, &bin),
        };
        // What a contract's killed apps left: their containers (nothing without --image).
        container::remove_all();
        if lines {
            let first = results
                .last()
                .is_none_or(|r: &report::Verdict| r.lesson != lesson.name);
            report::print_line(&result, first);
        }
        let stop = args.fail_fast && !result.passes();
        results.push(result);
        if stop {
            break;
        }
    }
    match (&args.summary, args.format) {
        (Some(name), _) => println!("{}", report::summary_row(name, &results)),
        (None, Format::Json) => println!("{}", report::Document::of(&results).json()),
        (None, Format::Text) => report::print_failures(&results, started.elapsed()),
    }
    if results.iter().all(report::Verdict::passes) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Starts the service once as Mesos would, before any contract: one that exits (or says
/// nothing) before its readiness line is not checked further, and what it did comes first,
/// its exit status and the last lines of both its streams.
fn starts(bin: &str) -> Result<(), String> {
    let mut app = App::start(bin, &MESOS_ENV);
    let failed = match app.ready() {
        Ok(_) => return Ok(()),
        Err(failed) => failed,
    };
    let mut message = format!(
        "The service did not start as Mesos would start it (TASK_HOST=127.0.0.1, PORT0 a free \
         port): {}",
        failed.what
    );
    for (name, text) in [("stdout", &failed.stdout), ("stderr", &failed.stderr)] {
        let lines: Vec<&str> = text.lines().collect();
        let last = &lines[lines.len().saturating_sub(5)..];
        match last {
            [] => message.push_str(&format!("\nits {name}: nothing")),
            _ => {
                message.push_str(&format!("\nits last {name}:"));
                for line in last {
                    message.push_str(&format!("\n  | {line}"));
                }
            }
        }
    }
    Err(message)
}

/// Ctrl+C (and SIGTERM, SIGHUP) on the checker kills the service's whole process group (and
/// removes its containers), then ends the checker. Through tokio's handlers, installed before any service starts: a blocked
/// signal mask would be inherited by the services, and hide their stop signals from them.
fn stop_the_service_on_interrupt() {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => return eprintln!("warning: cannot take Ctrl+C ({err})"),
    };
    let streams = {
        let _inside = runtime.enter();
        [
            SignalKind::interrupt(),
            SignalKind::terminate(),
            SignalKind::hangup(),
        ]
        .map(signal)
    };
    let [Ok(mut interrupt), Ok(mut terminate), Ok(mut hangup)] = streams else {
        return eprintln!("warning: cannot take Ctrl+C: it may leave the service running");
    };
    thread::spawn(move || {
        runtime.block_on(async {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
                _ = hangup.recv() => {}
            }
        });
        app::stop_every_app();
        container::remove_all();
        eprintln!("\nInterrupted: the service was stopped.");
        std::process::exit(130);
    });
}
