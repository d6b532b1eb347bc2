//! Singularity's base URL, from `SINGULARITY_URL`: where calls go, and how it is shown.
//!
//! A URL may carry credentials (`https://alice:secret@singularity.example.com/singularity`):
//! they are sent (as HTTP Basic authentication) but never printed, because what this tool
//! prints ends up in terminals, CI logs and bug reports.

use ureq::http::Uri;

/// A checked `SINGULARITY_URL`.
#[derive(Debug)]
pub struct BaseUrl {
    /// What the calls go to, credentials included, without a trailing slash.
    pub url: String,
    /// What messages show: the same URL with its credentials replaced by `***`.
    pub shown: String,
    /// The host, when the URL is plain `http://` to a host other than this machine: anything
    /// secret sent there can be read on the way.
    pub plain_http_host: Option<String>,
    /// Whether the URL carries credentials.
    pub has_credentials: bool,
}

/// Checks `text` as Singularity's base URL. `Err` is a one-line message that shows no
/// credentials.
pub fn parse(text: &str) -> Result<BaseUrl, String> {
    let not_http = || {
        format!(
            "SINGULARITY_URL is not an https:// or http:// URL: {:?}",
            redact(text)
        )
    };
    let uri: Uri = text.parse().map_err(|_| not_http())?;
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return Err(not_http());
    };
    if scheme != "https" && scheme != "http" {
        return Err(not_http());
    }
    // `https://alice:pa#ss@host` parses with `alice` as its host: the credentials' `#`, `/` or
    // `?` ended the authority early. It would go to the wrong host, its password in clear.
    let after_scheme = &text[text.find("://").map_or(0, |at| at + 3)..];
    if after_scheme.contains('@') && !authority.as_str().contains('@') {
        return Err(format!(
            "SINGULARITY_URL has an @ after its host: percent-encode the #, / or ? in its \
             credentials (%23, %2F, %3F): {:?}",
            redact(text)
        ));
    }
    let url = text.trim_end_matches('/').to_string();
    Ok(BaseUrl {
        shown: redact(&url),
        plain_http_host: (scheme == "http" && !is_loopback(authority.host()))
            .then(|| authority.host().to_string()),
        has_credentials: authority.as_str().contains('@'),
        url,
    })
}

/// `text` with whatever stands between its scheme and its last `@` replaced by `***`. Works on
/// any text, URL or not, so that even a message about a malformed URL shows no password: one
/// with an unencoded `/`, `?` or `#` in it is hidden whole too (and a URL with an `@` further
/// on shows less than it could).
pub fn redact(text: &str) -> String {
    let start = text.find("://").map_or(0, |at| at + 3);
    match text[start..].rfind('@') {
        Some(at) => format!("{}***{}", &text[..start], &text[start + at..]),
        None => text.to_string(),
    }
}

/// Whether `host` is this machine: `localhost`, or a loopback address (127.0.0.0/8, ::1).
fn is_loopback(host: &str) -> bool {
    let host = host.trim_end_matches('.');
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|address| address.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_never_shown() {
        let base = parse("https://alice:s3cret@singularity.example.com/singularity/").unwrap();
        assert_eq!(
            base.url,
            "https://alice:s3cret@singularity.example.com/singularity"
        );
        assert_eq!(
            base.shown,
            "https://***@singularity.example.com/singularity"
        );
        assert!(base.has_credentials);
        assert_eq!(redact("alice:pw@host"), "***@host");
        assert_eq!(redact("http://host/x"), "http://host/x");
        let error = parse("ftp://alice:s3cret@host").unwrap_err();
        assert!(!error.contains("s3cret"), "{error}");
        // A `#`, `/` or `?` in the password would end the authority early: refused, hidden.
        for url in [
            "https://alice:pa#ss@singularity.example.com/singularity",
            "https://alice:pa/ss@singularity.example.com",
            "https://alice:pa?ss@singularity.example.com",
        ] {
            let error = parse(url).unwrap_err();
            assert!(error.contains("percent-encode"), "{error}");
            assert!(!error.contains("pa") && !error.contains("ss@"), "{error}");
            assert!(
                error.contains("https://***@singularity.example.com"),
                "{error}"
            );
        }
    }

    #[test]
    fn plain_http_is_flagged_unless_it_stays_on_this_machine() {
        let host = |url: &str| parse(url).unwrap().plain_http_host;
        assert_eq!(
            host("http://singularity.example.com/singularity").as_deref(),
            Some("singularity.example.com")
        );
        assert_eq!(host("https://singularity.example.com"), None);
        for local in [
            "http://localhost:7099/singularity",
            "http://LOCALHOST.:7099",
            "http://127.0.0.1:7099",
            "http://127.1.2.3",
            "http://[::1]:7099",
        ] {
            assert_eq!(host(local), None, "{local}");
        }
        assert!(host("http://localhost.evil.example").is_some());
    }

    #[test]
    fn only_http_and_https_urls_are_taken() {
        for url in [
            "ftp://singularity.example.com",
            "singularity.example.com",
            "",
        ] {
            assert!(parse(url).is_err(), "{url}");
        }
    }
}
