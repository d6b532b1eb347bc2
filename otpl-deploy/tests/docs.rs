//! The deploys docs/08 shows print what the tool prints against Singularity's model: the same
//! lines, with ids, times and counts (which differ on every run) left out of the comparison.

use std::{fs, path::Path};

use platform::runtime::simulated::{LocalSingularity, Simulated};
use test_support::{
    singularity::{ConfigTree, command},
    step_bin,
};

const PAGE: &str = "docs/08-deploy-config.md";

/// What the page shows after `$ {command_line}`, up to the end of its block.
fn shown(command_line: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let text = fs::read_to_string(root.join(PAGE)).unwrap();
    let marker = format!("$ {command_line}\n");
    text.split_once(&marker)
        .and_then(|(_, rest)| rest.split_once("```"))
        .map(|(output, _)| output.to_string())
        .unwrap_or_else(|| panic!("{PAGE} shows no `{command_line}`"))
}

/// The lines with every number replaced by `N` and a deploy id's random part by `ID`; a line
/// repeated (a state printed once per change, as often as it changed) counts once.
fn shape(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text.lines().map(shape_of_line).collect();
    lines.dedup();
    lines
}

fn shape_of_line(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut shaped = String::new();
    let mut i = 0;
    while i < chars.len() {
        let hex = chars[i..]
            .iter()
            .take_while(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            .count();
        if hex == 12 && i > 0 && chars[i - 1] == '_' {
            shaped.push_str("ID");
            i += hex;
        } else if chars[i].is_ascii_digit() {
            shaped.push('N');
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
        } else {
            shaped.push(chars[i]);
            i += 1;
        }
    }
    shaped
}

/// Runs `otpl-deploy --registry registry.example.com pp-sf TAG` against the model, the
/// image tagged 4 behaving as step 04's; returns what it printed (stdout, then stderr).
fn printed(tag: &str, code: i32) -> String {
    let simulated =
        Simulated::new().acting("registry.example.com/alice/hello-mesos:4", "no-health");
    let singularity = LocalSingularity::start_with(
        platform::singularity::Settings {
            task_host: "localhost".into(),
            // Long enough that the tool's first look, right after the deploy is accepted,
            // always finds it WAITING, as it would on a real Singularity.
            check_interval: std::time::Duration::from_millis(300),
            ..LocalSingularity::quick()
        },
        simulated,
    );
    let tree = ConfigTree::workshop();
    let url = singularity.url();
    let env = [("SINGULARITY_URL", url.as_str()), ("USER", "alice")];
    let args = [
        "--poll",
        "0.05",
        "--registry",
        "registry.example.com",
        "pp-sf",
        tag,
    ];
    let assert = command(step_bin!(), tree.path(), &env, &args)
        .assert()
        .code(code);
    let output = assert.get_output();
    String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
}

fn check(command_line: &str, tag: &str, code: i32) {
    let printed = printed(tag, code);
    assert_eq!(
        shape(&shown(command_line)),
        shape(&printed),
        "{PAGE} no longer shows what `{command_line}` prints; it printed:\n{printed}"
    );
}

#[test]
fn the_successful_deploy_shown_is_what_it_prints() {
    check(
        "cargo run -q -p otpl-deploy -- --registry registry.example.com pp-sf 7",
        "7",
        0,
    );
}

#[test]
fn the_failed_deploy_shown_is_what_it_prints() {
    check(
        "cargo run -q -p otpl-deploy -- --registry registry.example.com pp-sf 4",
        "4",
        1,
    );
}

#[test]
fn shapes_leave_out_ids_and_numbers_only() {
    assert_eq!(
        shape_of_line("Deploy 7_6f28ab825c1e: WAITING (0 of 2 instances active)"),
        "Deploy N_ID: WAITING (N of N instances active)"
    );
    assert_ne!(shape("Deploy: FAILED"), shape("Deploy: OVERDUE"));
}
