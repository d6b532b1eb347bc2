//! `check`: runs the lessons' contracts on a learner's own service, as the platform would
//! start it, and says which hold, what the platform would do about those that do not, and
//! where each is taught. The contracts are the step tests' own (test-support).
//!
//! ```text
//! cargo run -q -p check -- 07 ~/hello-mesos      # a cargo project: built, then checked
//! cargo run -q -p check -- 07 -- node app.js     # any command
//! ```
//!
//! Exit codes: 0 every contract holds, 1 one fails (or the project does not build),
//! 2 usage error. Ctrl+C stops the service's whole process group.

mod lessons;
mod report;
mod run;
mod service;

use std::{path::PathBuf, process::ExitCode, thread, time::Instant};

use clap::Parser;
use test_support::app;
use tokio::signal::unix::{SignalKind, signal};

#[derive(Parser)]
#[command(about = "Checks your own service against the lessons of the workshop, up to a step")]
struct Args {
    /// The step you have reached (02 to 09): the lessons up to it are checked.
    #[arg(value_parser = clap::value_parser!(u8).range(2..=9))]
    step: u8,
    /// Your cargo project's directory: built with `cargo build`, then its binary is checked.
    #[arg(required_unless_present = "command", conflicts_with = "command")]
    project: Option<PathBuf>,
    /// Stop at the first contract that fails (quicker, after an edit).
    #[arg(long)]
    fail_fast: bool,
    /// Also show whether the service says what the workshop's snapshots say (advice only).
    #[arg(long)]
    wording: bool,
    /// Print only one row of a class's table: `| NAME | ✓ | ✗ 2 | … |`, a column per lesson.
    #[arg(long, value_name = "NAME")]
    summary: Option<String>,
    /// Any command that starts your service, after `--` (run from the current directory).
    #[arg(last = true)]
    command: Vec<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    stop_the_service_on_interrupt();
    app::isolate_process_groups();
    run::quiet_contract_panics();
    let prepared = match &args.project {
        Some(dir) => service::build(dir),
        None => service::wrap(&args.command),
    };
    let service = match prepared {
        Ok(service) => service,
        Err(message) => {
            match &args.summary {
                // The class's table still gets its row.
                Some(name) => println!("| {name} | {} |", message.replace('|', "/")),
                None => eprintln!("{message}"),
            }
            return ExitCode::FAILURE;
        }
    };
    let started = Instant::now();
    let bin = service.program.display().to_string();
    let mut results = Vec::new();
    let contracts = lessons::up_to(args.step).into_iter().flat_map(|lesson| {
        let kept = lesson
            .contracts
            .iter()
            .filter(|contract| args.wording || !contract.is_wording());
        kept.map(move |contract| (lesson, contract))
    });
    for (lesson, contract) in contracts {
        let outcome = run::run(contract, &bin);
        let result = report::Result {
            lesson: lesson.name,
            contract: contract.name,
            wording: contract.is_wording(),
            outcome,
        };
        if args.summary.is_none() {
            let first = results
                .last()
                .is_none_or(|r: &report::Result| r.lesson != lesson.name);
            report::print_line(&result, first);
        }
        let stop = args.fail_fast && !result.passes();
        results.push(result);
        if stop {
            break;
        }
    }
    match &args.summary {
        Some(name) => println!("{}", report::summary_row(name, &results)),
        None => report::print_failures(&results, started.elapsed()),
    }
    if results.iter().all(report::Result::passes) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Ctrl+C (and SIGTERM, SIGHUP) on the checker kills the service's whole process group, then
/// ends the checker. Through tokio's handlers, installed before any service starts: a blocked
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
        app::kill_every_group();
        eprintln!("\nInterrupted: the service was stopped.");
        std::process::exit(130);
    });
}
