//! Which lessons a step has taught, and where each is taught. What each contract means (its
//! class, expectation, consequence on the platform and page) lives beside it in test-support.

use test_support::contracts::{LESSONS, Lesson};

/// The lessons whose contracts a service at `step` keeps, in the order they are taught.
/// Step 02's fixed address gives way to step 03's environment; steps 05, 06 and 08 deploy
/// and teach no new behaviour.
pub fn up_to(step: u8) -> Vec<&'static Lesson> {
    let names: &[&str] = match step {
        2 => &["hello"],
        3 => &["env"],
        4..=6 => &["env", "signals"],
        7 | 8 => &["env", "signals", "health"],
        _ => &["env", "signals", "health", "discovery"],
    };
    names
        .iter()
        .map(|name| {
            LESSONS
                .iter()
                .find(|lesson| lesson.name == *name)
                .expect("every lesson named here has contracts in test-support")
        })
        .collect()
}

/// The step that teaches `lesson`, and its page.
pub fn page_of(lesson: &str) -> (&'static str, &'static str) {
    match lesson {
        "hello" => ("02", "docs/02-hello.md"),
        "env" => ("03", "docs/03-env.md"),
        "signals" => ("04", "docs/04-signals.md"),
        "health" => ("07", "docs/07-health.md"),
        _ => ("09", "docs/09-discovery.md"),
    }
}

/// A contract's name in words: `port0_is_required` → "port0 is required".
pub fn in_words(contract: &str) -> String {
    contract.replace('_', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_step_keeps_the_lessons_before_it() {
        let names = |step| up_to(step).iter().map(|l| l.name).collect::<Vec<_>>();
        assert_eq!(names(2), ["hello"]);
        assert_eq!(names(6), ["env", "signals"]);
        assert_eq!(names(9), ["env", "signals", "health", "discovery"]);
    }

    /// The anchor a Markdown heading gets, as GitHub makes it.
    fn anchor(heading: &str) -> String {
        heading
            .trim()
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
            .map(|c| if c == ' ' { '-' } else { c })
            .collect()
    }

    #[test]
    fn every_page_and_section_named_exists() {
        let root = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
        for lesson in LESSONS {
            for contract in lesson.contracts {
                let page = contract.about.page;
                let (file, section) = page.split_once('#').unwrap_or((page, ""));
                let text = std::fs::read_to_string(root.join(file)).expect(page);
                let anchors: Vec<String> = text
                    .lines()
                    .filter_map(|line| line.strip_prefix("## ").or(line.strip_prefix("### ")))
                    .map(anchor)
                    .collect();
                assert!(
                    section.is_empty() || anchors.iter().any(|a| a == section),
                    "{}: {page} has no such section",
                    contract.name
                );
            }
        }
    }

    #[test]
    fn every_contract_says_what_it_means() {
        for contract in LESSONS.iter().flat_map(|lesson| lesson.contracts) {
            let about = contract.about;
            assert!(
                about.expected.len() > 20 && about.platform.len() > 20,
                "{}: {about:?}",
                contract.name
            );
        }
    }
}
