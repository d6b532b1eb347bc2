//! The discovery client's defences against a discovery that misbehaves, checked from outside
//! on a service that uses it: the client's example (discovery-client/examples/service.rs),
//! or the binary that `DISCOVERY_CLIENT_SERVICE` names, such as step 09's:
//!
//! ```text
//! cargo build -p step-09-discovery
//! DISCOVERY_CLIENT_SERVICE=target/debug/step-09-discovery cargo test -p test-support --test discovery_client
//! ```
//!
//! They live here, not in discovery-client/: a learner copies that directory into their own
//! crate, where this workspace's test-support does not exist.
test_support::contracts_on!(crate::service(); discovery_client);

/// The path of the service the contracts run.
fn service() -> String {
    std::env::var("DISCOVERY_CLIENT_SERVICE")
        .unwrap_or_else(|_| test_support::example_bin("discovery-client", "service"))
}
