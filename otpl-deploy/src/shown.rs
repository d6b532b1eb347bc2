//! What this tool prints: never a secret, never a control character a terminal would obey.
//!
//! Much of it comes from the server (its error messages, a deploy's failures, a task's last
//! lines), and a server may echo what it was sent: the bearer token, or the Basic
//! authentication made of `SINGULARITY_URL`'s credentials. Every line printed goes through
//! [`Shown::text`], which hides those secrets, then shows control characters as escapes.

use base64::{Engine, prelude::BASE64_STANDARD};
use percent_encoding::NON_ALPHANUMERIC;

/// The secrets of this run, to hide from everything printed.
#[derive(Clone, Debug, Default)]
pub struct Shown {
    /// Longest first, so that `alice:s3cret` is hidden whole before `s3cret` alone.
    secrets: Vec<String>,
}

impl Shown {
    /// Hides `token` and the credentials of `url`: each as written, percent-decoded,
    /// percent-encoded and as JSON writes it, the user and the password apart and together, and
    /// as the HTTP client sends them (`Basic base64(user:password)`).
    pub fn new(token: Option<&str>, url: Option<&str>) -> Shown {
        let mut written: Vec<String> = token.into_iter().map(String::from).collect();
        if let Some(userinfo) = url.and_then(userinfo) {
            // As the client reads it: the user before the last `:`, the password after it.
            let (user, password) = userinfo.rsplit_once(':').unwrap_or((userinfo, ""));
            written.push(BASE64_STANDARD.encode(format!("{user}:{password}")));
            for part in [userinfo, user, password] {
                written.push(part.to_string());
                let decoded = percent_encoding::percent_decode_str(part).decode_utf8_lossy();
                written.push(decoded.into_owned());
            }
        }
        let mut secrets = Vec::new();
        for secret in written.into_iter().filter(|secret| !secret.is_empty()) {
            let encoded = percent_encoding::utf8_percent_encode(&secret, NON_ALPHANUMERIC);
            secrets.push(encoded.to_string());
            // As a JSON string holds it, without its quotes (`/` may also come as `\/`).
            let json = serde_json::to_string(&secret).unwrap_or_default();
            let json = json.trim_matches('"');
            secrets.push(json.replace('/', "\\/"));
            secrets.push(json.to_string());
            secrets.push(secret);
        }
        secrets.sort_by_key(|secret| std::cmp::Reverse(secret.len()));
        secrets.dedup();
        Shown { secrets }
    }

    /// `text` with each secret replaced by `***`.
    pub fn hide(&self, text: &str) -> String {
        self.secrets
            .iter()
            .fold(text.to_string(), |text, secret| text.replace(secret, "***"))
    }

    /// `text` as it may be printed: its secrets hidden, and each line's control characters
    /// shown as escapes (the line breaks between lines kept: what a server sent comes here on
    /// one line, see `singularity::excerpt`).
    pub fn text(&self, text: &str) -> String {
        printable::lines(&self.hide(text))
    }
}

/// The userinfo of `url`: what stands between its scheme and its last `@`, if any (a password
/// with an unencoded `/`, `?` or `#` included).
fn userinfo(url: &str) -> Option<&str> {
    let start = url.find("://")? + 3;
    url[start..].rfind('@').map(|at| &url[start..start + at])
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
                      url https://alice:s3cr%65t@x; decoded s3cret; raw s3cr%65t; user alice";
        assert_eq!(
            shown.text(echoed),
            "Authorization: Bearer ***; Basic ***; url https://***@x; decoded ***; raw ***; user ***"
        );
        // Encoded as a query string or a JSON string would carry it.
        let shown = Shown::new(Some("t/k+n="), Some("https://my%40tok:x#y@host"));
        assert_eq!(
            shown.text(r#"?t=t%2Fk%2Bn%3D "t\/k+n=" t/k+n= my@tok my%40tok x#y"#),
            "?t=*** \"***\" *** *** *** ***"
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
