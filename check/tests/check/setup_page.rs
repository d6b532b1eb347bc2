//! Page 01 sets up a learner's crate with the steps' own dependencies: its `cargo add` lines
//! give the versions and features of the workspace's `Cargo.toml`.

use std::fs;

use super::support::root;

/// The `cargo add` line that gives `crate_name` as the workspace declares it, from its line
/// `NAME = { version = "V", [default-features = false,] features = ["A", "B"] }`.
fn cargo_add(manifest: &str, crate_name: &str) -> String {
    let prefix = format!("{crate_name} = {{ version = \"");
    let line = manifest
        .lines()
        .find(|line| line.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no {crate_name} in the workspace's Cargo.toml"));
    let version = line[prefix.len()..].split('"').next().unwrap_or_default();
    let features = line
        .split_once("features = [")
        .and_then(|(_, rest)| rest.split_once(']'))
        .map(|(list, _)| list.replace(['"', ' '], ""))
        .unwrap_or_default();
    let no_default = if line.contains("default-features = false") {
        " --no-default-features"
    } else {
        ""
    };
    format!("cargo add {crate_name}@{version}{no_default} --features {features}")
}

#[test]
fn page_01_adds_the_steps_dependencies() {
    let manifest = fs::read_to_string(root().join("Cargo.toml")).expect("Cargo.toml");
    let page = fs::read_to_string(root().join("docs/01-setup.md")).expect("page 01");
    for crate_name in ["axum", "tokio"] {
        let line = cargo_add(&manifest, crate_name);
        assert!(
            page.contains(&line),
            "docs/01-setup.md does not say `{line}`"
        );
    }
}
