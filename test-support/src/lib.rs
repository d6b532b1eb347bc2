//! What the step crates' tests share: the mechanics of running a step's real binary
//! from outside ([`app`]), a small HTTP client with deadlines ([`http`]), Singularity's
//! health checks with its timing ([`health`]), and the
//! contracts themselves ([`contracts`]), which each step lists with [`contracts!`] (and
//! the discovery client, on a program that uses it, with [`contracts_on!`]); plus recording
//! stand-ins for the servers the app talks to ([`stand_in`]): OpenTable's discovery
//! ([`discovery`]); servers that misbehave on purpose, for Singularity's clients and the
//! discovery client ([`misbehaving`]); a CPU quota to run a step under ([`cpu_quota`]); the
//! fixtures to run `otpl-deploy` ([`singularity`]); a `docker` command that needs no engine
//! ([`docker_stand_in`]) and the real engine ([`engine`]); a headless browser to click in ([`browser`]); the pages'
//! console sessions, run as shown ([`sessions`]); and the practice platform's binary,
//! started on ports it chooses ([`platform`]); a Docker registry ([`registry`]).
//!
//! Every wait here has a deadline, and every failure prints what the child printed.

use std::path::Path;

pub mod app;
pub mod browser;
pub mod contracts;
pub mod cpu_quota;
pub mod discovery;
pub mod docker_stand_in;
pub mod engine;
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

/// The path of example `name` of `package`, built now by cargo (only if it is not up to date)
/// with the profile and in the target directory of the running test.
pub fn example_bin(package: &str, name: &str) -> String {
    let test = std::env::current_exe().expect("the path of the running test");
    // target/PROFILE/deps/TEST → target/PROFILE
    let profile = test
        .parent()
        .and_then(Path::parent)
        .expect("target/PROFILE");
    let target = profile.parent().expect("target/");
    let mut cargo = std::process::Command::new(std::env::var_os("CARGO").unwrap_or("cargo".into()));
    cargo.args(["build", "--quiet", "--package", package, "--example", name]);
    cargo.arg("--target-dir").arg(target);
    if profile.ends_with("release") {
        cargo.arg("--release");
    }
    let status = cargo.status().expect("cargo runs");
    assert!(status.success(), "cargo build --example {name} failed");
    profile.join("examples").join(name).display().to_string()
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
