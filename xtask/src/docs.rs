//! `cargo xtask docs`: regenerates what `docs/` shows of the code, so that it cannot drift.
//!
//! A page marks each generated region with an HTML comment (invisible once rendered) and
//! ends it with `<!-- end -->`; everything in between is rewritten from the sources:
//!
//! - `<!-- include PATH -->` the whole file (a file a learner edits: its template, see
//!   [`TEMPLATES`]); `<!-- include PATH NAME -->` one top-level item
//!   of a Rust file (a `fn`, `const`, … with its doc comment and attributes), or in any other
//!   file the lines between `ANCHOR: NAME` and `ANCHOR_END: NAME` comments (as in the Rust
//!   Book's listings; a name may mark several ranges, shown one after the other);
//! - `<!-- diff STEP STEP -->` the unified diff between two step crates' `src/`, or with
//!   `<!-- diff STEP STEP FILE -->` of one file of `src/` only;
//! - `<!-- run STEP VAR=VALUE… -->` the command, what the step's binary prints with exactly
//!   that environment, and its exit code (for commands that exit on their own);
//! - `<!-- check STEP SNAPSHOT -->` the checker's command for a learner's project at STEP, and
//!   what it prints and exits with, run on the SNAPSHOT step's project: cargo's lines, the
//!   checker's, and its timing line. Only the durations may differ from the page's: a line
//!   that differs from the page's in its numbers alone is kept as the page has it.
//!
//! The diffs between consecutive steps are also written to `docs/diffs/`. `--check` changes
//! nothing and fails if anything is stale; the tests below do the same in `cargo test`.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, ExitCode, Stdio},
    thread,
    time::{Duration, Instant},
};

use similar::TextDiff;

use crate::{cargo, workspace_root};

/// Where regenerating is explained to whoever finds the docs stale.
const REGENERATE: &str = "cargo xtask docs";
const END: &str = "<!-- end -->";
/// How long a command shown by a `run` region may take to exit.
const RUN_DEADLINE: Duration = Duration::from_secs(10);

#[derive(clap::Args)]
pub struct Args {
    /// Change nothing; fail if a generated region or diff is stale.
    #[arg(long)]
    check: bool,
}

pub fn run(args: Args) -> ExitCode {
    let root = workspace_root();
    if !args.check {
        // The `run` regions need every step's binary, built from the current sources.
        let built = cargo()
            .args(["build", "--quiet", "--workspace", "--bins"])
            .current_dir(&root)
            .status();
        if !built.is_ok_and(|status| status.success()) {
            eprintln!("cargo build --workspace --bins failed");
            return ExitCode::FAILURE;
        }
    }
    let generated = match generate(&root, &bin_dir()) {
        Ok(generated) => generated,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::FAILURE;
        }
    };
    let stale = stale(&root, &generated);
    if args.check {
        let broken: Vec<String> = pages(&root)
            .iter()
            .flat_map(|p| broken_links(&root, p))
            .collect();
        if !broken.is_empty() {
            eprintln!("broken links:\n{}", broken.join("\n"));
        }
        if !stale.is_empty() {
            eprintln!("{}", stale_message(&stale));
        }
        return if stale.is_empty() && broken.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    for path in &stale {
        let full = root.join(path);
        let written = match generated.iter().find(|(p, _)| p == path) {
            Some((_, text)) => fs::create_dir_all(full.parent().expect("a parent"))
                .and_then(|()| fs::write(&full, text)),
            None => fs::remove_file(&full),
        };
        if let Err(err) = written {
            eprintln!("cannot update {}: {err}", path.display());
            return ExitCode::FAILURE;
        }
        println!("updated {}", path.display());
    }
    ExitCode::SUCCESS
}

/// Where cargo put the step binaries: next to this program (or its test binary, in `deps/`).
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the path of this program");
    let dir = exe.parent().expect("a directory");
    if dir.ends_with("deps") {
        dir.parent().expect("a profile directory")
    } else {
        dir
    }
    .into()
}

/// The step crates, in order: every `step-*` directory at the root.
fn steps(root: &Path) -> Result<Vec<String>, String> {
    let entries = fs::read_dir(root).map_err(|err| format!("{}: {err}", root.display()))?;
    let mut steps: Vec<String> = entries
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with("step-") && root.join(name).join("Cargo.toml").is_file())
        .collect();
    steps.sort();
    Ok(steps)
}

/// Every generated file (relative to `root`) with the content it should have.
fn generate(root: &Path, bins: &Path) -> Result<Vec<(PathBuf, String)>, String> {
    let mut generated = Vec::new();
    let docs = root.join("docs");
    let mut pages: Vec<PathBuf> = fs::read_dir(&docs)
        .map_err(|err| format!("{}: {err}", docs.display()))?
        .filter_map(|entry| Some(entry.ok()?.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    pages.sort();
    for page in pages {
        let text = fs::read_to_string(&page).map_err(|err| format!("{}: {err}", page.display()))?;
        let relative = page
            .strip_prefix(root)
            .expect("under the root")
            .to_path_buf();
        let rendered =
            render(root, bins, &text).map_err(|err| format!("{}: {err}", relative.display()))?;
        generated.push((relative, rendered));
    }
    let steps = steps(root)?;
    for pair in steps.windows(2) {
        let path = PathBuf::from(format!("docs/diffs/{}..{}.diff", pair[0], pair[1]));
        generated.push((path, diff(root, &pair[0], &pair[1], None)?));
    }
    Ok(generated)
}

/// The generated files whose content differs from what is on disk, and the files in
/// `docs/diffs/` that nothing generates any more.
fn stale(root: &Path, generated: &[(PathBuf, String)]) -> Vec<PathBuf> {
    let mut stale: Vec<PathBuf> = generated
        .iter()
        .filter(|(path, text)| fs::read_to_string(root.join(path)).ok().as_ref() != Some(text))
        .map(|(path, _)| path.clone())
        .collect();
    if let Ok(entries) = fs::read_dir(root.join("docs/diffs")) {
        for entry in entries.flatten() {
            let path = Path::new("docs/diffs").join(entry.file_name());
            if !generated.iter().any(|(p, _)| *p == path) {
                stale.push(path);
            }
        }
    }
    stale
}

fn stale_message(stale: &[PathBuf]) -> String {
    let list: Vec<String> = stale.iter().map(|p| format!("  {}", p.display())).collect();
    format!(
        "docs are out of date with the code:\n{}\nRegenerate them with `{REGENERATE}` and commit the result.",
        list.join("\n")
    )
}

/// Rewrites every generated region of a page.
fn render(root: &Path, bins: &Path, page: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut lines = page.lines();
    while let Some(line) = lines.next() {
        out.push_str(line);
        out.push('\n');
        let Some(directive) = line
            .strip_prefix("<!-- ")
            .and_then(|l| l.strip_suffix(" -->"))
        else {
            continue;
        };
        let words: Vec<&str> = directive.split_whitespace().collect();
        // The old content, up to the end marker (an output keeps its durations from there).
        let old: Vec<&str> = lines.clone().take_while(|l| *l != END).collect();
        let content = match words.as_slice() {
            ["include", path] => include(root, path, None)?,
            ["include", path, item] => include(root, path, Some(item))?,
            ["diff", from, to] => fenced("diff", &diff(root, from, to, None)?),
            ["diff", from, to, file] => fenced("diff", &diff(root, from, to, Some(file))?),
            ["run", step, env @ ..] => run_step(bins, step, env)?,
            ["check", step, snapshot] => {
                keep_durations(&check_step(root, bins, step, snapshot)?, &old)
            }
            _ => continue,
        };
        // Skip the old content up to the end marker, then write the new one.
        if !lines.any(|l| l == END) {
            return Err(format!("`{line}` has no `{END}` after it"));
        }
        out.push_str(&content);
        out.push_str(END);
        out.push('\n');
    }
    Ok(out)
}

/// Where the workshop's templates of the files a learner edits (page 08: `config/pp-sf/…`,
/// `docker-repo`) are kept, at the same paths. A page that includes such a file shows its
/// template, so that a learner's edits leave the pages (and this check) as they are.
const TEMPLATES: &str = "test-support/fixtures/workshop";

/// A file, or one item of it, fenced, under a link to the file.
fn include(root: &Path, path: &str, item: Option<&str>) -> Result<String, String> {
    let template = root.join(TEMPLATES).join(path);
    let source = if template.is_file() {
        template
    } else {
        root.join(path)
    };
    let text = fs::read_to_string(source).map_err(|err| format!("{path}: {err}"))?;
    let language = match Path::new(path).extension().and_then(|e| e.to_str()) {
        Some("rs") => "rust",
        Some("toml") => "toml",
        Some("json") => "json",
        _ if path.ends_with("Dockerfile") => "dockerfile",
        _ => "text",
    };
    let shown = match item {
        Some(name) if language == "rust" => {
            rust_item(&text, name).ok_or(format!("{path} has no item `{name}`"))?
        }
        Some(name) => anchored(&text, name).ok_or(format!("{path} has no anchor `{name}`"))?,
        None => without_anchors(&text),
    };
    Ok(format!(
        "[`{path}`](../{path}):\n\n{}",
        fenced(language, &shown)
    ))
}

/// The top-level item `name` of a Rust file (`fn`, `async fn`, `const`, `struct`, …) with the
/// doc comments and attributes above it, up to its closing line.
fn rust_item(text: &str, name: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let declares = |line: &str| {
        let rest = line.strip_prefix("pub ").unwrap_or(line);
        let rest = rest.strip_prefix("async ").unwrap_or(rest);
        ["fn", "const", "static", "struct", "enum", "type"]
            .iter()
            .any(|kind| {
                rest.strip_prefix(kind)
                    .and_then(|r| r.strip_prefix(' '))
                    .and_then(|r| r.strip_prefix(name))
                    .is_some_and(|r| r.starts_with(['(', ':', ' ', '<', ';', '{']))
            })
    };
    let at = lines.iter().position(|line| declares(line))?;
    let mut start = at;
    while start > 0 && (lines[start - 1].starts_with("///") || lines[start - 1].starts_with("#[")) {
        start -= 1;
    }
    let end = if lines[at].ends_with(';') {
        at
    } else {
        at + lines[at..]
            .iter()
            .position(|line| *line == "}" || *line == "};")?
    };
    Some(lines[start..=end].join("\n") + "\n")
}

/// The lines between the `ANCHOR: name` and `ANCHOR_END: name` comment lines of `text`, for
/// every such range, without the lines of any other anchor.
fn anchored(text: &str, name: &str) -> Option<String> {
    let (start, end) = (format!("ANCHOR: {name}"), format!("ANCHOR_END: {name}"));
    let mut inside = false;
    let mut shown = String::new();
    for line in text.lines() {
        let marker = line.trim_start().trim_start_matches(['#', '/']).trim();
        if marker == start {
            inside = true;
        } else if marker == end {
            inside = false;
        } else if inside && !is_anchor(line) {
            shown.push_str(line);
            shown.push('\n');
        }
    }
    (!shown.is_empty()).then_some(shown)
}

/// `text` without its anchor lines.
fn without_anchors(text: &str) -> String {
    text.lines()
        .filter(|line| !is_anchor(line))
        .map(|line| format!("{line}\n"))
        .collect()
}

fn is_anchor(line: &str) -> bool {
    let marker = line.trim_start().trim_start_matches(['#', '/']).trim();
    marker.starts_with("ANCHOR: ") || marker.starts_with("ANCHOR_END: ")
}

/// The unified diff between the `src/` directories of two step crates, or of one file in them.
fn diff(root: &Path, from: &str, to: &str, only: Option<&str>) -> Result<String, String> {
    let files = |step: &str| -> Result<Vec<String>, String> {
        let dir = root.join(step).join("src");
        let entries = fs::read_dir(&dir).map_err(|err| format!("{}: {err}", dir.display()))?;
        Ok(entries
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect())
    };
    let mut names = files(from)?;
    names.extend(files(to)?);
    names.sort();
    names.dedup();
    if let Some(file) = only {
        names.retain(|name| name == file);
        if names.is_empty() {
            return Err(format!("neither {from}/src nor {to}/src has {file}"));
        }
    }
    let mut out = String::new();
    for name in names {
        let old = fs::read_to_string(root.join(from).join("src").join(&name)).unwrap_or_default();
        let new = fs::read_to_string(root.join(to).join("src").join(&name)).unwrap_or_default();
        let (a, b) = (format!("{from}/src/{name}"), format!("{to}/src/{name}"));
        let text_diff = TextDiff::from_lines(&old, &new);
        out.push_str(
            &text_diff
                .unified_diff()
                .context_radius(3)
                .header(&a, &b)
                .to_string(),
        );
    }
    Ok(out)
}

/// Runs a step's binary with exactly `env` and shows it as a terminal session would.
fn run_step(bins: &Path, step: &str, env: &[&str]) -> Result<String, String> {
    let vars: Vec<(&str, &str)> = env
        .iter()
        .map(|pair| {
            pair.split_once('=')
                .ok_or(format!("`{pair}` is not VAR=VALUE"))
        })
        .collect::<Result<_, _>>()?;
    let mut command = Command::new(bins.join(step));
    command.env_clear().envs(vars.iter().copied());
    // A `run` region shows a command that exits on its own (a refusal to start): one that
    // serves instead must fail the docs, not hang them.
    let output = output_within(command, RUN_DEADLINE).map_err(|err| {
        let shown = env.join(" ");
        format!("{shown} {step}: {err} (build it: cargo build -p {step})")
    })?;
    let code = output
        .status
        .code()
        .ok_or(format!("{step} did not exit on its own"))?;
    let mut session = String::from("$ ");
    for pair in env {
        session.push_str(pair);
        session.push(' ');
    }
    session.push_str(&format!("cargo run -q -p {step}\n"));
    session.push_str(&String::from_utf8_lossy(&output.stdout));
    session.push_str(&String::from_utf8_lossy(&output.stderr));
    session.push_str(&format!("$ echo $?\n{code}\n"));
    Ok(fenced("console", &session))
}

/// How long the checker shown by a `check` region may take.
const CHECK_DEADLINE: Duration = Duration::from_secs(120);

/// Runs the checker at `step` on the `snapshot` step's project, and shows it as the command a
/// learner runs on their own project (`../my-hello-mesos`, as page 01 sets it up): cargo's
/// lines (stderr), what the checker prints (stdout), its timing line (stderr, last) and its
/// exit code. What it says of a service does not depend on where the service is.
fn check_step(root: &Path, bins: &Path, step: &str, snapshot: &str) -> Result<String, String> {
    let mut command = Command::new(bins.join("check"));
    command.arg(step).arg(root.join(snapshot));
    let output = output_within(command, CHECK_DEADLINE).map_err(|err| {
        format!("check {step} on {snapshot}: {err} (build it: cargo build -p check)")
    })?;
    let code = output
        .status
        .code()
        .ok_or("the checker did not exit on its own")?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Another cargo of this machine's (the tests' own) may hold the build directory a moment:
    // a learner's machine rarely says so.
    let stderr: Vec<&str> = stderr
        .lines()
        .filter(|line| {
            !line
                .trim_start()
                .starts_with("Blocking waiting for file lock")
        })
        .collect();
    let (timing, cargo) = stderr
        .split_last()
        .ok_or("the checker printed no timing line")?;
    let mut session = format!("$ cargo run -q -p check -- {step} ../my-hello-mesos\n");
    for line in cargo {
        session.push_str(&format!("{line}\n"));
    }
    session.push_str(&String::from_utf8_lossy(&output.stdout));
    session.push_str(&format!("{timing}\n$ echo $?\n{code}\n"));
    Ok(fenced("console", &session))
}

/// `generated` with each line that differs from a line of `old` only in its numbers (a
/// duration) replaced by that line: an output's timings change at every run, the rest may not.
fn keep_durations(generated: &str, old: &[&str]) -> String {
    // A line with each decimal number (`14.2`, a duration) as `0.0`; whole numbers (counts) stay.
    let shape = |line: &str| -> String {
        let mut shape = String::new();
        let mut rest = line;
        while let Some(c) = rest.chars().next() {
            let digits = |s: &str| s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
            let whole = digits(rest);
            let fraction = rest[whole..].strip_prefix('.').map_or(0, digits);
            if whole > 0 && fraction > 0 {
                shape.push_str("0.0");
                rest = &rest[whole + 1 + fraction..];
            } else {
                let len = whole.max(c.len_utf8());
                shape.push_str(&rest[..len]);
                rest = &rest[len..];
            }
        }
        shape
    };
    let mut kept = String::new();
    for line in generated.lines() {
        let same = old
            .iter()
            .find(|o| **o != line && shape(o) == shape(line) && shape(line) != line);
        kept.push_str(same.copied().unwrap_or(line));
        kept.push('\n');
    }
    kept
}

/// Runs `command` (stdin empty, stdout and stderr captured) and returns its output, or an
/// error if it cannot start or is still running after `deadline` (then it is killed).
fn output_within(mut command: Command, deadline: Duration) -> Result<std::process::Output, String> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| format!("cannot run it: {err}"))?;
    let until = Instant::now() + deadline;
    while child.try_wait().map_err(|err| err.to_string())?.is_none() {
        if Instant::now() > until {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("still runs after {deadline:?}"));
        }
        thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().map_err(|err| err.to_string())
}

fn fenced(language: &str, text: &str) -> String {
    format!("```{language}\n{text}```\n")
}

/// The Markdown pages whose links are checked: the README and everything in `docs/`.
fn pages(root: &Path) -> Vec<PathBuf> {
    let mut pages = vec![PathBuf::from("README.md")];
    for entry in fs::read_dir(root.join("docs"))
        .into_iter()
        .flatten()
        .flatten()
    {
        if entry.path().extension().is_some_and(|ext| ext == "md") {
            pages.push(Path::new("docs").join(entry.file_name()));
        }
    }
    pages.sort();
    pages
}

/// The relative links of a Markdown page whose target does not exist.
fn broken_links(root: &Path, page: &Path) -> Vec<String> {
    let text = fs::read_to_string(root.join(page)).unwrap_or_default();
    let dir = page.parent().unwrap_or(Path::new(""));
    text.split("](")
        .skip(1)
        .filter_map(|rest| rest.split_once(')').map(|(target, _)| target))
        .filter(|target| {
            !target.contains("://") && !target.starts_with('#') && !target.starts_with("mailto:")
        })
        .map(|target| target.split('#').next().unwrap_or(target))
        .filter(|target| !root.join(dir).join(target).exists())
        .map(|target| format!("{}: {target}", page.display()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docs_match_the_code() {
        let root = workspace_root();
        let generated = generate(&root, &bin_dir()).unwrap_or_else(|err| panic!("{err}"));
        let stale = stale(&root, &generated);
        assert!(stale.is_empty(), "{}", stale_message(&stale));
    }

    #[test]
    fn relative_links_resolve() {
        let root = workspace_root();
        let mut pages = vec![PathBuf::from("README.md")];
        for entry in fs::read_dir(root.join("docs")).expect("docs/").flatten() {
            if entry.path().extension().is_some_and(|ext| ext == "md") {
                pages.push(Path::new("docs").join(entry.file_name()));
            }
        }
        let broken: Vec<String> = pages
            .iter()
            .flat_map(|page| broken_links(&root, page))
            .collect();
        assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
    }

    #[test]
    fn durations_are_kept_as_the_page_has_them() {
        let old = [
            "    Finished `dev` profile in 0.12s",
            "Checked in 14.2 s.",
            "  ✓ a",
        ];
        let generated = "    Finished `dev` profile in 3.40s\n  ✓ b\nChecked in 9.9 s.\n";
        assert_eq!(
            keep_durations(generated, &old),
            "    Finished `dev` profile in 0.12s\n  ✓ b\nChecked in 14.2 s.\n",
        );
        // A count is not a duration: the line is the new one.
        let counts = keep_durations("All 18 contracts hold.\n", &["All 15 contracts hold."]);
        assert_eq!(counts, "All 18 contracts hold.\n");
        // Anything else than durations differs: the line is the new one.
        let old = ["Checked in 14.2 s."];
        assert_eq!(
            keep_durations("Checked in 10.5 min.\n", &old),
            "Checked in 10.5 min.\n"
        );
    }

    #[test]
    fn items_are_found_with_their_comments() {
        let text =
            "use x;\n\n/// Doc.\n#[attr]\nasync fn main() {\n    body();\n}\n\nconst A: u8 = 1;\n";
        assert_eq!(
            rust_item(text, "main").as_deref(),
            Some("/// Doc.\n#[attr]\nasync fn main() {\n    body();\n}\n")
        );
        assert_eq!(rust_item(text, "A").as_deref(), Some("const A: u8 = 1;\n"));
        assert_eq!(rust_item(text, "ma"), None);
    }

    #[test]
    fn anchors_select_their_ranges() {
        let text =
            "# ANCHOR: a\none\n# ANCHOR: b\ntwo\n# ANCHOR_END: a\nthree\n    # ANCHOR: a\nfour\n";
        assert_eq!(anchored(text, "a").as_deref(), Some("one\ntwo\nfour\n"));
        assert_eq!(anchored(text, "b").as_deref(), Some("two\nthree\nfour\n"));
        assert_eq!(anchored(text, "c"), None);
        assert_eq!(without_anchors(text), "one\ntwo\nthree\nfour\n");
    }

    #[test]
    fn regions_are_rewritten_and_the_rest_kept() {
        let root = workspace_root();
        let page =
            "Intro\n<!-- include step-02-hello/src/main.rs hello -->\nold\n<!-- end -->\nOutro\n";
        let rendered = render(&root, &bin_dir(), page).expect("renders");
        assert!(rendered.starts_with("Intro\n<!-- include step-02-hello/src/main.rs hello -->\n"));
        assert!(rendered.contains("```rust\n/// Answers `GET /`."));
        assert!(rendered.ends_with("```\n<!-- end -->\nOutro\n"));
        assert!(!rendered.contains("old"));
    }
}
