//! Runs one contract and tells how it went, instead of letting its panic end the program:
//! the contracts are the step tests' own, which fail by panicking (with the service's output,
//! through `App::fail`), so a panic caught here is the contract's failure.

use std::{
    panic::{self, AssertUnwindSafe},
    sync::mpsc,
    thread,
    time::Duration,
};

use test_support::{
    app::{self, Failed},
    contracts::Contract,
};

/// How long one contract may take, whatever the service does. The contracts bound each of
/// their own waits; this bounds them all, in case a service finds a way between them.
pub const CONTRACT_DEADLINE: Duration = Duration::from_secs(60);

/// The name of the threads that run contracts, whose panics are outcomes, not bugs.
const THREAD: &str = "contract";

/// How a contract went.
#[derive(Debug)]
pub enum Outcome {
    Holds,
    Fails(Failed),
}

/// Keeps the panics of contracts quiet (they are reported as outcomes); any other panic is
/// the checker's own bug and is printed as usual.
pub fn quiet_contract_panics() {
    let default = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        if thread::current().name() != Some(THREAD) {
            default(info);
        }
    }));
}

/// Runs `contract` on `bin`, at most [`CONTRACT_DEADLINE`], and returns how it went.
pub fn run(contract: &Contract, bin: &str) -> Outcome {
    let (sender, receiver) = mpsc::channel();
    let (check, bin_owned) = (contract.check, bin.to_string());
    let spawned = thread::Builder::new().name(THREAD.into()).spawn(move || {
        let result = panic::catch_unwind(AssertUnwindSafe(|| check(&bin_owned)));
        let outcome = match result {
            Ok(()) => Outcome::Holds,
            Err(payload) => Outcome::Fails(app::take_last_failed().unwrap_or_else(|| {
                // A failure outside `App::fail` (a helper's own assertion): its message.
                let what = payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "the contract failed".into());
                Failed {
                    what,
                    stdout: String::new(),
                    stderr: String::new(),
                }
            })),
        };
        let _ = sender.send(outcome);
    });
    match spawned {
        Err(err) => Outcome::Fails(failed(format!("cannot start a thread: {err}"))),
        Ok(_) => receiver
            .recv_timeout(CONTRACT_DEADLINE)
            .unwrap_or_else(|_| {
                // Killing the service ends the contract's waits, so its thread ends soon too.
                app::kill_every_group();
                Outcome::Fails(failed(format!(
                    "the check did not finish within {} s",
                    CONTRACT_DEADLINE.as_secs()
                )))
            }),
    }
}

fn failed(what: String) -> Failed {
    Failed {
        what,
        stdout: String::new(),
        stderr: String::new(),
    }
}
