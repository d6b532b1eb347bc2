//! What this tool prints: never a secret, never a control character a terminal would obey.
//!
//! Much of it comes from the server (its error messages, a deploy's failures, a task's last
//! lines), and a server may echo what it was sent: the bearer token, or the Basic
//! authentication made of `SINGULARITY_URL`'s credentials. Every line printed goes through
//! [`Shown::text`], which hides those secrets, then shows control characters as escapes.

use base64::{Engine, prelude::BASE64_STANDARD};

/// The secrets of this run, to hide from everything printed.
#[derive(Clone, Debug, Default)]
pub struct Shown {
    /// Longest first, so that `alice:s3cret` is hidden whole before `s3cret` alone.
    secrets: Vec<String>,
}

impl Shown {
    /// Hides `token` and the credentials of `url` (as written, percent-decoded, and as the
    /// HTTP client sends them: `Basic base64(user:password)`).
    pub fn new(token: Option<&str>, url: Option<&str>) -> Shown {
        let mut secrets: Vec<String> = token.into_iter().map(String::from).collect();
        if let Some(userinfo) = url.and_then(userinfo) {
            // As the client reads it: the user before the last `:`, the password after it.
            let (user, password) = userinfo.rsplit_once(':').unwrap_or((userinfo, ""));
            secrets.push(userinfo.to_string());
            secrets.push(BASE64_STANDARD.encode(format!("{user}:{password}")));
            secrets.push(password.to_string());
            let decoded = percent_encoding::percent_decode_str(password).decode_utf8_lossy();
            secrets.push(decoded.into_owned());
        }
        secrets.retain(|secret| !secret.is_empty());
        secrets.sort_by_key(|secret| std::cmp::Reverse(secret.len()));
        secrets.dedup();
        Shown { secrets }
    }

    /// `text` as it may be printed: each secret replaced by `***`, and each line's control
    /// characters shown as escapes (the line breaks between lines kept).
    pub fn text(&self, text: &str) -> String {
        let hidden = self
            .secrets
            .iter()
            .fold(text.to_string(), |text, secret| text.replace(secret, "***"));
        let lines: Vec<_> = hidden.split('\n').map(printable::visible).collect();
        lines.join("\n")
    }
}

/// The userinfo of `url`'s authority (what stands before its last `@`), if any.
fn userinfo(url: &str) -> Option<&str> {
    let start = url.find("://")? + 3;
    let end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |at| start + at);
    let authority = &url[start..end];
    authority.rfind('@').map(|at| &authority[..at])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_and_the_urls_credentials_are_hidden_in_every_form() {
        let shown = Shown::new(
            Some("t0ken"),
            Some("https://alice:s3cr%65t@singularity.example.com/singularity"),
        );
        let echoed = "Authorization: Bearer t0ken; Basic YWxpY2U6czNjciU2NXQ=; \
                      url https://alice:s3cr%65t@x; decoded s3cret; raw s3cr%65t";
        assert_eq!(
            shown.text(echoed),
            "Authorization: Bearer ***; Basic ***; url https://***@x; decoded ***; raw ***"
        );
        // Nothing to hide: the text as it is.
        assert_eq!(Shown::default().text("alice"), "alice");
        assert_eq!(
            Shown::new(None, Some("https://host/x@y")).text("x@y"),
            "x@y"
        );
    }

    #[test]
    fn control_characters_are_shown_and_lines_kept() {
        let shown = Shown::default();
        assert_eq!(shown.text("one\n\x1b[2Ktwo\r"), "one\n\\u{1b}[2Ktwo\\u{d}");
    }
}
