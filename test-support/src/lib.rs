//! What the step crates' tests share: the mechanics of running a step's real binary
//! from outside ([`app`]), a small HTTP client with deadlines ([`http`]), and the
//! contracts themselves ([`contracts`]), which each step lists with [`contracts!`];
//! plus recording stand-ins for the servers the app talks to ([`stand_in`]): OpenTable's
//! discovery ([`discovery`]); servers that misbehave on purpose, for Singularity's clients
//! and the discovery client ([`misbehaving`]); a CPU quota to run a step under ([`cpu_quota`]); and
//! the fixtures to run `otpl-deploy` ([`singularity`]).
//!
//! Every wait here has a deadline, and every failure prints what the child printed.

pub mod app;
pub mod contracts;
pub mod cpu_quota;
pub mod discovery;
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
pub fn example_bin(name: &str) -> String {
    let test = std::env::current_exe().expect("the path of the running test");
    // target/PROFILE/deps/TEST → target/PROFILE/examples/NAME
    let profile = test.parent().and_then(std::path::Path::parent);
    let example = profile.map(|dir| dir.join("examples").join(name));
    match example {
        Some(path) if path.is_file() => path.display().to_string(),
        _ => panic!(
            "no example {name} next to {}: `cargo test -p PACKAGE` builds it, \
             `cargo test --test …` alone does not",
            test.display()
        ),
    }
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
                    $crate::contracts::$lesson::$contract(&$bin);
                }
            )+
        }
    };
}
