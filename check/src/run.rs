//! Runs one contract, with a deadline, and tells how it went. A contract returns its outcome;
//! a panic in one is the checker's own bug, reported as such rather than ending the program.

use std::{sync::mpsc, thread, time::Duration};

use test_support::{
    app::{self, Failed, START_DEADLINE},
    contracts::{Contract, Outcome},
    health,
};

/// How long one contract may take, whatever the service does: the longest of them waits out
/// Singularity's whole health-check time after the service's start, or several leases of
/// discovery; this bounds them all, in case a service finds a way between their own waits.
pub fn contract_deadline() -> Duration {
    let rules = health::rules();
    rules.max_health() + rules.timeout + START_DEADLINE + Duration::from_secs(30)
}

/// Runs `contract` on `bin`, at most [`contract_deadline`], and returns how it went.
pub fn run(contract: &Contract, bin: &str) -> Outcome {
    let (sender, receiver) = mpsc::channel();
    let (check, bin_owned) = (contract.check, bin.to_string());
    let spawned = thread::Builder::new()
        .name("contract".into())
        .spawn(move || {
            let _ = sender.send(check(&bin_owned));
        });
    if let Err(err) = spawned {
        return Err(Failed::new(format!("cannot start a thread: {err}")));
    }
    let deadline = contract_deadline();
    receiver.recv_timeout(deadline).unwrap_or_else(|err| {
        // Killing the service ends the contract's waits, so its thread ends soon too.
        app::kill_every_group();
        Err(Failed::new(match err {
            mpsc::RecvTimeoutError::Timeout => {
                format!("the check did not finish within {} s", deadline.as_secs())
            }
            mpsc::RecvTimeoutError::Disconnected => {
                "the checker's own check failed (a bug: please report it)".into()
            }
        }))
    })
}
