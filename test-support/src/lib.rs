//! What the step crates' tests share: the mechanics of running a step's real binary
//! from outside ([`app`]), a small HTTP client with deadlines ([`http`]), Singularity's
//! health checks with its timing ([`health`]), and the
//! contracts themselves ([`contracts`]), which each step lists with [`contracts!`] (and
//! the discovery client, on a program that uses it, with [`contracts_on!`]); plus recording
//! stand-ins for the servers the app talks to ([`stand_in`]): OpenTable's discovery
//! ([`discovery`]); servers that misbehave on purpose, for Singularity's clients and the
//! discovery client ([`misbehaving`]); a CPU quota to run a step under ([`cpu_quota`]); the
//! fixtures to run `otpl-deploy` ([`singularity`]); a `docker` command that needs no engine
//! ([`docker_stand_in`]); a headless browser to click in ([`browser`]); the pages'
//! console sessions, run as shown ([`sessions`]); and the practice platform's binary,
//! started on ports it chooses ([`platform`]); a Docker registry ([`registry`]).
//!
//! Every wait here has a deadline, and every failure prints what the child printed.

use std::{
    path::{Path, PathBuf},
    time::SystemTime,
};

pub mod app;
pub mod browser;
pub mod contracts;
pub mod cpu_quota;
pub mod discovery;
pub mod docker_stand_in;
pub mod health;
pub mod http;
pub mod misbehaving;
pub mod platform;
pub mod registry;
pub mod sessions;
pub mod singularity;
pub mod stand_in;

/// The path of the binary of the crate whose tests are being compiled: every step
/// crate has one binary, named like the package.
#[macro_export]
macro_rules! step_bin {
    () => {
        env!(concat!("CARGO_BIN_EXE_", env!("CARGO_PKG_NAME")))
    };
}

/// Generates a test module per lesson, one `#[test]` per contract of that lesson,
/// each run against this crate's binary. A step lists every lesson it keeps:
///
/// ```text
/// test_support::contracts!(env, signals, health);
/// ```
#[macro_export]
macro_rules! contracts {
    ($($lesson:ident),+ $(,)?) => {
        $( $crate::contracts_of!($crate::step_bin!(); $lesson); )+
    };
}

/// [`contracts!`] on the binary that `bin` names (an expression giving a `&str` or a
/// `String`, written as from inside a module of the test crate): for a library, the
/// contracts checked on a program that uses it.
///
/// ```text
/// test_support::contracts_on!(crate::service(); discovery_client);
/// ```
#[macro_export]
macro_rules! contracts_on {
    ($bin:expr; $($lesson:ident),+ $(,)?) => {
        $( $crate::contracts_of!($bin; $lesson); )+
    };
}

/// The path of example `name` of the package whose tests are running: `cargo test` builds
/// a package's examples along with its tests, next to them (`target/PROFILE/examples/`).
/// `cargo test --test …` builds no example, so one left by an earlier build is refused if
/// any of the package's files is newer: the tests would check old code.
pub fn example_bin(name: &str) -> String {
    let test = std::env::current_exe().expect("the path of the running test");
    // target/PROFILE/deps/TEST → target/PROFILE/examples/NAME
    let profile = test.parent().and_then(Path::parent);
    let example = profile.map(|dir| dir.join("examples").join(name));
    let built = example.as_deref().and_then(modified);
    let (Some(example), Some(built)) = (example, built) else {
        panic!(
            "no example {name} next to {}: {BUILD_EXAMPLES}",
            test.display()
        );
    };
    // Cargo sets it when it runs the tests.
    let package = std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR");
    if let Some(newer) = newer_than(Path::new(&package), built) {
        panic!(
            "{} is older than {}: {BUILD_EXAMPLES}",
            example.display(),
            newer.display()
        );
    }
    example.display().to_string()
}

const BUILD_EXAMPLES: &str =
    "`cargo test -p PACKAGE` builds it, `cargo test --test …` alone does not";

/// When `path` was last modified, if it exists.
fn modified(path: &Path) -> Option<SystemTime> {
    path.metadata().and_then(|meta| meta.modified()).ok()
}

/// A file under `dir` (but not in `target/`) modified after `time`, if any.
fn newer_than(dir: &Path, time: SystemTime) -> Option<PathBuf> {
    let entries = std::fs::read_dir(dir).ok()?;
    entries
        .flatten()
        .map(|entry| entry.path())
        .find_map(|path| {
            if path.is_dir() {
                let output = path.file_name().is_some_and(|name| name == "target");
                if output {
                    None
                } else {
                    newer_than(&path, time)
                }
            } else {
                modified(&path).filter(|&at| at > time).map(|_| path)
            }
        })
}

// `contracts_of!`: the contracts of each lesson, by name, listed by build.rs.
include!(concat!(env!("OUT_DIR"), "/contracts_of.rs"));

/// One `#[test]` per named contract (an implementation detail of [`contracts!`]).
#[doc(hidden)]
#[macro_export]
macro_rules! tests_for {
    ($bin:expr; $lesson:ident: $($contract:ident),+ $(,)?) => {
        mod $lesson {
            $(
                #[test]
                fn $contract() {
                    if let Err(failed) = $crate::contracts::$lesson::$contract(&$bin) {
                        panic!("{failed}");
                    }
                }
            )+
        }
    };
}
