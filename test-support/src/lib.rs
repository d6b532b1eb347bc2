//! What the step crates' tests share: the mechanics of running a step's real binary
//! from outside ([`app`]), a small HTTP client with deadlines ([`http`]), and the
//! contracts themselves ([`contracts`]), which each step lists with [`contracts!`];
//! plus recording stand-ins for the servers the app talks to ([`stand_in`]): OpenTable's
//! discovery ([`discovery`]); servers that misbehave on purpose, for Singularity's clients
//! and step 09's ([`misbehaving`]); a CPU quota to run a step under ([`cpu_quota`]); the
//! fixtures to run `otpl-deploy` ([`singularity`]); a `docker` command that needs no engine
//! ([`docker_stand_in`]); and a headless browser to click in ([`browser`]).
//!
//! Every wait here has a deadline, and every failure prints what the child printed.

pub mod app;
pub mod browser;
pub mod contracts;
pub mod cpu_quota;
pub mod discovery;
pub mod docker_stand_in;
pub mod http;
pub mod misbehaving;
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
        $( $crate::contracts_of!($lesson); )+
    };
}

// `contracts_of!`: the contracts of each lesson, by name, listed by build.rs.
include!(concat!(env!("OUT_DIR"), "/contracts_of.rs"));

/// One `#[test]` per named contract (an implementation detail of [`contracts!`]).
#[doc(hidden)]
#[macro_export]
macro_rules! tests_for {
    ($lesson:ident: $($contract:ident),+ $(,)?) => {
        mod $lesson {
            $(
                #[test]
                fn $contract() {
                    $crate::contracts::$lesson::$contract($crate::step_bin!());
                }
            )+
        }
    };
}
