//! What the step crates' tests share: the mechanics of running a step's real binary
//! from outside ([`app`]), a small HTTP client with deadlines ([`http`]), and the
//! contracts themselves ([`contracts`]), which each step lists with [`contracts!`];
//! plus recording stand-ins for the servers the app talks to ([`stand_in`]): OpenTable's
//! discovery ([`discovery`]), and Singularity with the fixtures to run `otpl-deploy`
//! against it ([`singularity`]); servers that misbehave on purpose
//! ([`misbehaving_discovery`]), and a CPU quota to run a step under ([`cpu_quota`]).
//!
//! Every wait here has a deadline, and every failure prints what the child printed.

pub mod app;
pub mod contracts;
pub mod cpu_quota;
pub mod discovery;
pub mod http;
pub mod misbehaving_discovery;
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

/// The contracts of each lesson, by name (an implementation detail of [`contracts!`]).
#[doc(hidden)]
#[macro_export]
macro_rules! contracts_of {
    (hello) => {
        $crate::tests_for!(hello: answers_on_localhost_3000);
    };
    (env) => {
        $crate::tests_for!(env:
            task_host_is_required,
            empty_task_host_counts_as_missing,
            port0_is_required,
            port0_must_be_a_tcp_port,
            port0_zero_takes_a_free_port,
            root_says_hello,
            busy_port_exits_4,
            unknown_host_exits_4,
        );
    };
    (no_signal_handlers) => {
        $crate::tests_for!(no_signal_handlers:
            sigterm_kills_it,
            ignores_sigterm_as_pid_1,
        );
    };
    (signals) => {
        $crate::tests_for!(signals:
            sigterm_stops_cleanly,
            sigint_stops_cleanly,
            stops_accepting_once_caught,
            requests_across_sigterm_all_complete,
            stalled_clients_do_not_delay_the_stop,
            stops_cleanly_as_pid_1,
        );
    };
    (no_health) => {
        $crate::tests_for!(no_health: health_is_not_found);
    };
    (health) => {
        $crate::tests_for!(health:
            health_answers,
            health_answers_head,
            unknown_path_is_not_found,
        );
    };
    (discovery) => {
        $crate::tests_for!(discovery:
            development_mode_announces_nothing,
            development_mode_ignores_discovery_settings,
            announces_to_the_listed_server,
            ignores_proxy_settings,
            service_type_defaults_to_hello_mesos,
            heartbeats_repeat_the_announcement,
            sigterm_unannounces_before_exiting,
            sigint_unannounces_before_exiting,
            announces_once_discovery_comes_up,
            failing_server_is_retried,
            hanging_server_is_given_up_and_retried,
            stops_promptly_when_discovery_is_gone,
            stops_promptly_when_discovery_hangs,
            discovery_host_is_required,
            discovery_host_must_be_a_bare_host,
            heartbeat_must_be_positive_milliseconds,
            endless_listing_is_cut_short,
            huge_listing_is_refused,
            informational_flood_slows_neither_serving_nor_the_stop,
            informational_flood_on_a_tenth_of_a_cpu,
            dripping_server_is_given_up,
            redirects_are_not_followed,
            dead_servers_are_replaced_from_the_seed,
            ipv6_task_host_is_a_url,
            unspecified_task_host_is_refused,
        );
    };
}

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
