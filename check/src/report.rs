//! What the checker prints: a line per contract as it runs, then for each failure what was
//! expected, what happened, what the platform would do, and where it is taught.

use std::time::Duration;

use crate::{lessons, run::Outcome};

/// How many of the service's last output lines a failure shows.
const LAST_LINES: usize = 8;

/// One contract's result.
#[derive(Debug)]
pub struct Result {
    pub lesson: &'static str,
    pub contract: &'static str,
    /// A check of the workshop's wording: shown as advice, never a failure.
    pub wording: bool,
    pub outcome: Outcome,
    pub took: Duration,
}

impl Result {
    fn holds(&self) -> bool {
        matches!(self.outcome, Outcome::Holds)
    }

    /// Whether this result lets the check pass: it holds, or it is only advice.
    pub fn passes(&self) -> bool {
        self.holds() || self.wording
    }
}

/// Prints `result`'s line, under its lesson's heading when it is the lesson's first.
pub fn print_line(result: &Result) {
    let first = lessons::up_to(9)
        .into_iter()
        .chain(lessons::up_to(2))
        .find(|lesson| lesson.name == result.lesson)
        .and_then(|lesson| lesson.contracts.first())
        .is_some_and(|first| first.name == result.contract);
    if first {
        let (step, page) = lessons::page_of(result.lesson);
        println!("{} (step {step}, {page})", result.lesson);
    }
    let mark = match (result.holds(), result.wording) {
        (true, _) => "✓",
        (false, false) => "✗",
        (false, true) => "~",
    };
    let note = if result.wording {
        " (the workshop's wording: advice only)"
    } else {
        ""
    };
    println!(
        "  {mark} {}{note} ({:.1} s)",
        lessons::in_words(result.contract),
        result.took.as_secs_f64()
    );
}

/// Prints each failure in full, then the count and the time taken.
pub fn print_failures(results: &[Result], took: Duration) {
    let failing: Vec<&Result> = results.iter().filter(|r| !r.passes()).collect();
    for result in &failing {
        let Outcome::Fails(failed) = &result.outcome else {
            continue;
        };
        let advice = lessons::advice(result.lesson, result.contract);
        println!(
            "\n✗ {}: {}",
            result.lesson,
            lessons::in_words(result.contract)
        );
        println!("  expected:        {}", advice.expected);
        println!("  happened:        {}", failed.what.trim_end());
        for (name, text) in [("stdout", &failed.stdout), ("stderr", &failed.stderr)] {
            let lines: Vec<&str> = text.lines().collect();
            if lines.is_empty() {
                continue;
            }
            let shown = &lines[lines.len().saturating_sub(LAST_LINES)..];
            println!("  its last {name}:");
            for line in shown {
                println!("    | {line}");
            }
        }
        println!("  on the platform: {}", advice.platform);
        println!("  learn it:        {}", advice.page);
    }
    let total = results.iter().filter(|r| !r.wording).count();
    let summary = if failing.is_empty() {
        format!("All {total} contracts hold")
    } else {
        format!("{} of {total} contracts fail", failing.len())
    };
    println!("\n{summary} ({:.1} s).", took.as_secs_f64());
}

/// One row of a class's table: a lesson passes when every one of its contracts holds.
pub fn summary_row(name: &str, results: &[Result]) -> String {
    let mut row = format!("| {name} |");
    let mut lessons: Vec<&str> = results.iter().map(|r| r.lesson).collect();
    lessons.dedup();
    for lesson in lessons {
        let passes = results
            .iter()
            .filter(|r| r.lesson == lesson)
            .all(Result::passes);
        row.push_str(&format!(" {lesson} {} |", if passes { "✓" } else { "✗" }));
    }
    row
}
