//! The discovery client's Cargo.toml writes out its versions, features and lints instead of
//! inheriting them (`workspace = true`): a learner copies `discovery-client/` into a crate of
//! their own, where there is no workspace. These tests fail when what it writes drifts from the
//! root Cargo.toml's, so that the workspace keeps building one version of each dependency.
//!
//! Cargo.toml is read line by line: both files keep to `name = "version"` and
//! `name = { version = "…", default-features = false, features = […] }` on one line.

use std::collections::{BTreeMap, BTreeSet};

/// What a dependency line asks for.
#[derive(Debug, Default, PartialEq)]
struct Dependency {
    version: Option<String>,
    default_features: bool,
    features: BTreeSet<String>,
}

/// How `client` (the discovery client's Cargo.toml) differs from `workspace` (the root's),
/// one line per difference.
fn drift(workspace: &str, client: &str) -> Vec<String> {
    let mut found = Vec::new();
    let shared = entries(workspace, "workspace.package");
    for key in ["edition", "rust-version"] {
        let (theirs, ours) = (shared.get(key), entries(client, "package").remove(key));
        if theirs != ours.as_ref() {
            found.push(format!("{key}: {ours:?}, the workspace has {theirs:?}"));
        }
    }
    let pinned = entries(workspace, "workspace.dependencies");
    for table in ["dependencies", "dev-dependencies"] {
        for (name, line) in entries(client, table) {
            let ours = dependency(&line);
            if ours.version.is_none() {
                continue; // a path dependency: nothing to pin
            }
            let Some(theirs) = pinned.get(&name).map(|line| dependency(line)) else {
                found.push(format!("{name}: not in [workspace.dependencies]"));
                continue;
            };
            // The client may turn on more features than the workspace, never fewer.
            if ours.version != theirs.version
                || ours.default_features != theirs.default_features
                || !ours.features.is_superset(&theirs.features)
            {
                found.push(format!("{name}: {ours:?}, the workspace has {theirs:?}"));
            }
        }
    }
    for tool in ["rust", "clippy"] {
        let (theirs, ours) = (
            entries(workspace, &format!("workspace.lints.{tool}")),
            entries(client, &format!("lints.{tool}")),
        );
        if theirs != ours {
            found.push(format!(
                "[lints.{tool}]: {ours:?}, the workspace has {theirs:?}"
            ));
        }
    }
    found
}

/// The `key = value` lines of the table `[name]`, without comments.
fn entries(manifest: &str, name: &str) -> BTreeMap<String, String> {
    let header = format!("[{name}]");
    manifest
        .lines()
        .map(str::trim)
        .skip_while(|line| *line != header)
        .skip(1)
        .take_while(|line| !line.starts_with('['))
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.trim().to_string(), value.trim().to_string()))
        .collect()
}

/// Reads `"1.0"` or `{ version = "1.0", default-features = false, features = ["a", "b"] }`.
fn dependency(value: &str) -> Dependency {
    let unquote = |text: &str| text.trim().trim_matches('"').to_string();
    let Some(table) = value.strip_prefix('{').and_then(|v| v.strip_suffix('}')) else {
        return Dependency {
            version: Some(unquote(value)),
            default_features: true,
            features: BTreeSet::new(),
        };
    };
    // The features' list holds commas too: take it out first.
    let (rest, features) = match table.split_once("features = [") {
        Some((before, after)) => {
            let (list, after) = after.split_once(']').unwrap_or((after, ""));
            (
                format!("{before}{after}"),
                list.split(',').map(unquote).collect(),
            )
        }
        None => (table.to_string(), BTreeSet::new()),
    };
    let fields: BTreeMap<&str, &str> = rest
        .split(',')
        .filter_map(|field| field.split_once('='))
        .map(|(key, value)| (key.trim(), value.trim()))
        .collect();
    Dependency {
        version: fields.get("version").map(|v| unquote(v)),
        default_features: fields.get("default-features") != Some(&"false"),
        features: features.into_iter().filter(|f| !f.is_empty()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::workspace_root;

    #[test]
    fn discovery_client_asks_for_what_the_workspace_pins() {
        let root = workspace_root();
        let read = |path: &str| fs::read_to_string(root.join(path)).expect(path);
        let found = drift(&read("Cargo.toml"), &read("discovery-client/Cargo.toml"));
        assert!(
            found.is_empty(),
            "discovery-client/Cargo.toml differs from the root Cargo.toml:\n{}",
            found.join("\n")
        );
    }

    #[test]
    fn discovery_client_needs_nothing_of_the_workspace() {
        // Its Cargo.toml, alone in a directory of its own, as in a learner's crate: cargo
        // must read it without looking for anything outside (a path to test-support, say).
        let dir =
            std::env::temp_dir().join(format!("discovery-client-alone-{}", std::process::id()));
        fs::create_dir_all(dir.join("src")).expect("a directory");
        let manifest = dir.join("Cargo.toml");
        fs::copy(
            workspace_root().join("discovery-client/Cargo.toml"),
            &manifest,
        )
        .expect("a copy");
        fs::write(dir.join("src/lib.rs"), "").expect("src/lib.rs");
        // The workspace's versions, which cargo has (offline, no other version can be had).
        fs::copy(workspace_root().join("Cargo.lock"), dir.join("Cargo.lock")).expect("a copy");
        let output = crate::cargo()
            .args(["tree", "--offline", "--edges=normal,dev", "--depth=1"])
            .arg("--manifest-path")
            .arg(&manifest)
            .output()
            .expect("cargo tree");
        let _ = fs::remove_dir_all(&dir);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    #[test]
    fn drift_is_found() {
        let workspace = "[workspace.package]\nedition = \"2024\"\n\n[workspace.dependencies]\n\
                         hyper = { version = \"1.12.0\", default-features = false }\n\
                         serde = { version = \"1.0\", features = [\"derive\"] }\n";
        let client = "[package]\nedition = \"2024\"\n\n[dependencies]\n\
                      hyper = { version = \"1.13.0\", default-features = false, features = [\"client\"] }\n\
                      serde = \"1.0\"\n\
                      other = { path = \"../other\" }\n";
        let found = drift(workspace, client);
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(found[0].starts_with("hyper: "), "{found:#?}");
        assert!(found[1].starts_with("serde: "), "{found:#?}");
    }
}
