//! What the checker prints: a line per contract as it runs, then for each contract broken what
//! was expected, what happened, what the platform would do, and where it is taught; or, with
//! `--format json`, one document shaped like Exercism's `results.json`.

use std::time::Duration;

use serde::Serialize;
use test_support::{
    app::{Failed, visible},
    contracts::{About, Class, Outcome},
};

use crate::lessons;

/// How many of the service's last output lines a failure shows, and how much of each.
const LAST_LINES: usize = 8;
const SHOWN_CHARS: usize = 160;

/// One contract's result.
#[derive(Debug)]
pub struct Verdict {
    pub lesson: &'static str,
    pub contract: &'static str,
    pub about: About,
    pub outcome: Outcome,
}

impl Verdict {
    fn holds(&self) -> bool {
        self.outcome.is_ok()
    }

    fn advice(&self) -> bool {
        self.about.class == Class::Advice
    }

    /// Whether this result lets the check pass: it holds, or it is only advice.
    pub fn passes(&self) -> bool {
        self.holds() || self.advice()
    }
}

/// Prints `result`'s line, under its lesson's heading when it is the lesson's `first`.
pub fn print_line(result: &Verdict, first: bool) {
    if first {
        let (step, page) = lessons::page_of(result.lesson);
        println!("{} (step {step}, {page})", result.lesson);
    }
    let mark = match (result.holds(), result.advice()) {
        (true, _) => "✓",
        (false, false) => "✗",
        (false, true) => "~",
    };
    let class = if result.advice() { " (advice)" } else { "" };
    let note = match &result.outcome {
        Ok(held) => held
            .note
            .as_deref()
            .map(|note| format!(": {note}"))
            .unwrap_or_default(),
        Err(_) => String::new(),
    };
    println!(
        "  {mark} {}{class}{note}",
        lessons::in_words(result.contract)
    );
}

/// Prints each contract broken in full (failures, then advice), then the count; and the time
/// taken on stderr, so that what stdout says of a service is the same at every run.
pub fn print_failures(results: &[Verdict], took: Duration) {
    let broken = |advice: bool| {
        results
            .iter()
            .filter(move |r| r.advice() == advice)
            .filter_map(|r| r.outcome.as_ref().err().map(|failed| (r, failed)))
    };
    for (result, failed) in broken(false).chain(broken(true)) {
        print_broken(result, failed);
    }
    let count = |advice: bool| results.iter().filter(|r| r.advice() == advice).count();
    let (total, failing) = (count(false), broken(false).count());
    let mut summary = match failing {
        0 if total == 1 => "The one contract holds".to_string(),
        0 => format!("All {total} contracts hold"),
        1 => format!("1 of {total} contracts checked fails"),
        n => format!("{n} of {total} contracts checked fail"),
    };
    let advice = count(true);
    if advice > 0 {
        let followed = advice - broken(true).count();
        summary.push_str(&format!("; advice followed: {followed} of {advice}"));
    }
    println!("\n{summary}.");
    eprintln!("Checked in {:.1} s.", took.as_secs_f64());
}

/// Prints what a contract broken means: a failure (✗) or advice (~).
fn print_broken(result: &Verdict, failed: &Failed) {
    let about = &result.about;
    let (mark, class, expected) = if result.advice() {
        ("~", " (advice, not a failure)", "advised:        ")
    } else {
        ("✗", "", "expected:       ")
    };
    let name = lessons::in_words(result.contract);
    println!("\n{mark} {}: {name}{class}", result.lesson);
    println!("  {expected} {}", about.expected);
    println!("  happened:        {}", visible(failed.what.trim_end()));
    for (name, text) in [("stdout", &failed.stdout), ("stderr", &failed.stderr)] {
        let lines: Vec<&str> = text.lines().collect();
        if lines.is_empty() {
            continue;
        }
        let shown = &lines[lines.len().saturating_sub(LAST_LINES)..];
        println!("  its last {name}:");
        for line in shown {
            let cut: String = line.chars().take(SHOWN_CHARS).collect();
            let more = if cut.len() < line.len() { "…" } else { "" };
            println!("    | {}{more}", visible(&cut));
        }
    }
    println!("  on the platform: {}", about.platform);
    println!("  learn it:        {}", about.page);
}

/// One row of a class's table, a column per lesson (in the order they are taught): ✓ when
/// every one of its contracts holds, else how many fail (advice never counts).
pub fn summary_row(name: &str, results: &[Verdict]) -> String {
    let mut row = format!("| {name} |");
    let mut lessons: Vec<&str> = results.iter().map(|r| r.lesson).collect();
    lessons.dedup();
    for lesson in lessons {
        let failing = results
            .iter()
            .filter(|r| r.lesson == lesson && !r.passes())
            .count();
        match failing {
            0 => row.push_str(" ✓ |"),
            n => row.push_str(&format!(" ✗ {n} |")),
        }
    }
    row
}

/// The results as Exercism's test runners write them (`results.json`, version 2: `status`
/// pass, fail or error; a test per contract with its `name`, `status` and `message`), with
/// this checker's own fields: each test's `lesson`, `class`, `page` and `note`.
#[derive(Debug, Serialize)]
pub struct Document {
    version: u8,
    status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    tests: Vec<Test>,
}

#[derive(Debug, Serialize, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Status {
    Pass,
    Fail,
    Error,
}

#[derive(Debug, Serialize)]
struct Test {
    name: String,
    status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    lesson: &'static str,
    class: &'static str,
    page: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

impl Document {
    /// The document for `results`.
    pub fn of(results: &[Verdict]) -> Document {
        let tests =
            results
                .iter()
                .map(|result| Test {
                    name: format!("{}: {}", result.lesson, lessons::in_words(result.contract)),
                    status: if result.holds() {
                        Status::Pass
                    } else {
                        Status::Fail
                    },
                    message: result.outcome.as_ref().err().map(|failed| {
                        visible(&format!("{}\n{}", failed.what, result.about.platform))
                    }),
                    lesson: result.lesson,
                    class: match result.about.class {
                        Class::Fails => "fails",
                        Class::Advice => "advice",
                    },
                    page: result.about.page,
                    note: result
                        .outcome
                        .as_ref()
                        .ok()
                        .and_then(|held| held.note.clone()),
                })
                .collect();
        let status = if results.iter().all(Verdict::passes) {
            Status::Pass
        } else {
            Status::Fail
        };
        Document {
            version: 2,
            status,
            message: None,
            tests,
        }
    }

    /// The document of a check that could not run the service at all.
    pub fn error(message: &str) -> Document {
        Document {
            version: 2,
            status: Status::Error,
            message: Some(visible(message)),
            tests: Vec::new(),
        }
    }

    /// The document as JSON.
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a document of strings serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_support::contracts::Held;

    fn result(class: Class, outcome: Outcome) -> Verdict {
        Verdict {
            lesson: "env",
            contract: "port0_is_required",
            about: About {
                class,
                expected: "",
                platform: "the platform",
                page: "docs/03-env.md",
            },
            outcome,
        }
    }

    #[test]
    fn advice_not_followed_fails_its_test_not_the_document() {
        let results = [
            result(Class::Fails, Ok(Held::default())),
            result(Class::Advice, Err(Failed::new("said \u{1b}[31m"))),
        ];
        let document = Document::of(&results);
        assert_eq!(document.status, Status::Pass);
        assert_eq!(document.tests[1].status, Status::Fail);
        let json = document.json();
        assert!(json.contains(r#""class": "advice""#), "{json}");
        assert!(!json.contains('\u{1b}'), "{json}");
    }

    #[test]
    fn a_failure_fails_the_document() {
        let results = [result(Class::Fails, Err(Failed::new("exit 1")))];
        let document = Document::of(&results);
        assert_eq!(document.status, Status::Fail);
        assert!(document.json().contains(r#""version": 2"#));
    }
}
