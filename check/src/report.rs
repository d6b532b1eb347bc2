//! What the checker prints: a line per contract as it runs, then for each failure what was
//! expected, what happened, what the platform would do, and where it is taught.

use std::time::Duration;

use crate::{lessons, run::Outcome};

/// How many of the service's last output lines a failure shows, and how much of each.
const LAST_LINES: usize = 8;
const SHOWN_CHARS: usize = 160;

/// One contract's result.
#[derive(Debug)]
pub struct Result {
    pub lesson: &'static str,
    pub contract: &'static str,
    /// A check of the workshop's wording: shown as advice, never a failure.
    pub wording: bool,
    pub outcome: Outcome,
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

/// Prints `result`'s line, under its lesson's heading when it is the lesson's `first`.
pub fn print_line(result: &Result, first: bool) {
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
    println!("  {mark} {}{note}", lessons::in_words(result.contract));
}

/// Prints each failure in full, then the count; and the time taken on stderr, so that what
/// stdout says of a service is the same at every run.
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
                let cut: String = line.chars().take(SHOWN_CHARS).collect();
                let more = if cut.len() < line.len() { "…" } else { "" };
                println!("    | {cut}{more}");
            }
        }
        println!("  on the platform: {}", advice.platform);
        println!("  learn it:        {}", advice.page);
    }
    let total = results.iter().filter(|r| !r.wording).count();
    let summary = match failing.len() {
        0 if total == 1 => "The one contract holds".to_string(),
        0 => format!("All {total} contracts hold"),
        1 => format!("1 of {total} contracts checked fails"),
        n => format!("{n} of {total} contracts checked fail"),
    };
    println!("\n{summary}.");
    eprintln!("Checked in {:.1} s.", took.as_secs_f64());
}

/// One row of a class's table, a column per lesson (in the order they are taught): ✓ when
/// every one of its contracts holds, else how many fail.
pub fn summary_row(name: &str, results: &[Result]) -> String {
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
