//! Text that someone else wrote (a task's output, a service's lines, a server's answer), made
//! safe to print on a terminal. A terminal obeys the control characters in what it prints:
//! `ESC ] 0 ; … BEL` retitles the window, `ESC [1A ESC [2K` erases the line above, so that a
//! task could hide a failure or print a fake "Deploy SUCCEEDED" in its place; a carriage
//! return overwrites a line, and the bidirectional controls reorder what is read. Every tool
//! of the workspace prints such text through [`visible`], which shows those characters as
//! escapes (`\u{1b}`) instead.

use std::{borrow::Cow, fmt::Write};

/// `text` with each control character a terminal would act on written as a Rust escape,
/// `\u{1b}`: the C0 controls but tab (so newlines too: print each line on its own), DEL,
/// the C1 controls (U+0080–U+009F), and the bidirectional embeddings, overrides and isolates
/// (U+202A–U+202E, U+2066–U+2069). Everything else is kept as it is, `\` included.
pub fn visible(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_control) {
        return Cow::Borrowed(text);
    }
    let mut shown = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_control(c) {
            // Writing to a String cannot fail.
            let _ = write!(shown, "\\u{{{:x}}}", u32::from(c));
        } else {
            shown.push(c);
        }
    }
    Cow::Owned(shown)
}

/// `text` made [`visible`] line by line: its line breaks are kept, as the breaks between the
/// lines of someone else's output, and every other control character is shown.
pub fn lines(text: &str) -> String {
    let lines: Vec<_> = text.split('\n').map(visible).collect();
    lines.join("\n")
}

/// Whether a terminal would act on `c` rather than show it.
fn is_control(c: char) -> bool {
    matches!(c, '\0'..='\x08' | '\n'..='\x1f' | '\x7f'..='\u{9f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_terminal_would_obey_is_shown_instead() {
        // A title change, a cursor move and a line erased, then a fake success.
        let hostile = "\x1b]0;pwned\x07\x1b[1A\x1b[2KDeploy SUCCEEDED\r";
        assert_eq!(
            visible(hostile),
            "\\u{1b}]0;pwned\\u{7}\\u{1b}[1A\\u{1b}[2KDeploy SUCCEEDED\\u{d}"
        );
        assert_eq!(visible("a\nb\0c\x7f"), "a\\u{a}b\\u{0}c\\u{7f}");
        // C1: a single-byte CSI, and NEL.
        assert_eq!(visible("\u{9b}2J\u{85}"), "\\u{9b}2J\\u{85}");
        // Bidirectional overrides and isolates reorder what is read.
        assert_eq!(
            visible("\u{202e}gpj.exe\u{2066}x\u{2069}"),
            "\\u{202e}gpj.exe\\u{2066}x\\u{2069}"
        );
    }

    #[test]
    fn lines_keep_their_breaks_and_nothing_else() {
        assert_eq!(lines("one\n\x1b[2Ktwo\r\n"), "one\n\\u{1b}[2Ktwo\\u{d}\n");
    }

    #[test]
    fn ordinary_text_is_kept_as_it_is_without_a_copy() {
        for text in [
            "Server running at: http://[::1]:3000",
            "a\tb",
            "é ✓ \\u{1b} ¡",
            "\u{a0}\u{200b}",
        ] {
            assert!(
                matches!(visible(text), Cow::Borrowed(t) if t == text),
                "{text:?}"
            );
        }
    }
}
