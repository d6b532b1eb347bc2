//! Who gets in: only the learner's own browser and tools. A local server is reachable from
//! every web page the learner visits, and the platform runs whatever image it is asked to, so
//! every port it serves checks two headers before anything else:
//!
//! - `Host` must be one of the platform's own names, `localhost`, `127.0.0.1` or `[::1]`, with
//!   the port of the listener that took the connection. A page on `evil.example` whose name
//!   later resolves to 127.0.0.1 (DNS rebinding) sends `Host: evil.example:PORT`: 403.
//! - A request that changes something (any method but GET, HEAD and OPTIONS) whose `Origin`
//!   is present must come from the platform's own origin, `http://localhost:PORT` (or one of
//!   the other names): a form or `fetch` on another site sends its own origin, or `null`.
//!   Tools (curl, `otpl-deploy`, step 09's client) send no `Origin` at all.
//!
//! [`Guard::admit`] decides; [`guarded`] puts it in front of a router. Bodies are checked
//! where they are read: [`is_json`] is the one test of `Content-Type` every JSON route uses.

use std::net::{Ipv4Addr, Ipv6Addr};

use axum::{
    Router,
    extract::{Request, State},
    http::{
        HeaderMap, HeaderValue, Method, StatusCode,
        header::{CONTENT_TYPE, HOST, ORIGIN, X_CONTENT_TYPE_OPTIONS},
        uri::Authority,
    },
    middleware::{self, Next},
    response::{IntoResponse, Response},
};

/// The checks of one listener: its port is part of the platform's own names.
#[derive(Clone, Copy, Debug)]
pub struct Guard {
    port: u16,
}

/// Why a request was refused (each a 403 with one line of text).
#[derive(Debug, PartialEq, Eq)]
pub enum Forbidden {
    /// No `Host` header (HTTP/1.0, or a hand-written request).
    NoHost,
    /// A `Host` (or absolute request target) that is not this platform.
    ForeignHost(String),
    /// A state-changing request sent by a page of another origin.
    ForeignOrigin { method: Method, origin: String },
}

impl Guard {
    /// The guard of the listener bound to `port` (the bound port, so port 0 works).
    pub fn new(port: u16) -> Guard {
        Guard { port }
    }

    /// Whether a request with this method, `Host` and `Origin` (as sent; `None` when absent)
    /// may go on.
    pub fn admit(
        &self,
        method: &Method,
        host: Option<&str>,
        origin: Option<&str>,
    ) -> Result<(), Forbidden> {
        let host = host.ok_or(Forbidden::NoHost)?;
        if !self.is_own_authority(host) {
            return Err(Forbidden::ForeignHost(shorten(host)));
        }
        let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
        match origin {
            Some(origin) if !safe && !self.is_own_origin(origin) => Err(Forbidden::ForeignOrigin {
                method: method.clone(),
                origin: shorten(origin),
            }),
            _ => Ok(()),
        }
    }

    /// `http://NAME:PORT` with one of our names and this port (`null` is no origin of ours).
    fn is_own_origin(&self, origin: &str) -> bool {
        origin
            .get(..7)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("http://"))
            && self.is_own_authority(&origin[7..])
    }

    /// `NAME[:PORT]`: one of our names (any case, one trailing dot allowed) and this port
    /// (none stands for 80, HTTP's default). Parsed by `http`'s [`Authority`], which also
    /// takes what a `Host` never carries (`user@`), and a port's sign: both refused here.
    fn is_own_authority(&self, authority: &str) -> bool {
        let Ok(parsed) = authority.parse::<Authority>() else {
            return false;
        };
        if authority.contains('@') {
            return false;
        }
        let port_matches = match &authority[parsed.host().len()..] {
            "" => self.port == 80,
            port => {
                port[1..].bytes().all(|b| b.is_ascii_digit())
                    && parsed.port_u16() == Some(self.port)
            }
        };
        let name = parsed.host();
        let ours = match name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
            Some(address) => address.parse() == Ok(Ipv6Addr::LOCALHOST),
            None => {
                // `localhost.` is the same name, fully qualified.
                let name = name.strip_suffix('.').unwrap_or(name);
                name.eq_ignore_ascii_case("localhost") || name.parse() == Ok(Ipv4Addr::LOCALHOST)
            }
        };
        port_matches && ours
    }
}

/// At most 100 characters of what a client sent, for a one-line message.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(100) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

impl IntoResponse for Forbidden {
    fn into_response(self) -> Response {
        let why = match self {
            Forbidden::NoHost => "a request must name this platform in its Host header".into(),
            Forbidden::ForeignHost(host) => format!(
                "Host {host:?} is not this platform: use localhost, 127.0.0.1 or [::1] with this port"
            ),
            Forbidden::ForeignOrigin { method, origin } => format!(
                "a {method} from another site (Origin {origin:?}) cannot change this platform"
            ),
        };
        (StatusCode::FORBIDDEN, format!("refused: {why}\n")).into_response()
    }
}

/// `router` behind the guard of the listener on `port`. Every answer also carries
/// `X-Content-Type-Options: nosniff`: no browser takes a text or JSON answer for a page.
pub fn guarded(router: Router, port: u16) -> Router {
    router.layer(middleware::from_fn_with_state(Guard::new(port), screen))
}

async fn screen(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    // Two `Host` headers are one too many: joined, they are no name of ours.
    let hosts: Vec<String> = headers
        .get_all(HOST)
        .iter()
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        .collect();
    // A request target in absolute form (`POST http://evil.example/ HTTP/1.1`) names its
    // host there: it must be ours too.
    let target = request.uri().authority().map(|a| a.as_str());
    let host = (!hosts.is_empty()).then(|| hosts.join(", "));
    let host = match (host, target) {
        (Some(host), Some(target)) if !host.eq_ignore_ascii_case(target) => {
            Some(format!("{host}, {target}"))
        }
        (host, _) => host,
    };
    // Nor are two `Origin` headers one origin of ours, even if the first is.
    let origins: Vec<String> = headers
        .get_all(ORIGIN)
        .iter()
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        .collect();
    let origin = (!origins.is_empty()).then(|| origins.join(", "));
    let mut response = match guard.admit(request.method(), host.as_deref(), origin.as_deref()) {
        Ok(()) => next.run(request).await,
        Err(refusal) => refusal.into_response(),
    };
    response
        .headers_mut()
        .insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// Whether the body is declared JSON: `Content-Type: application/json`, parameters (such as
/// `charset`) allowed, any case. A web page can send a cross-site POST only as `text/plain`,
/// a form or `multipart/form-data` without asking first: none of them passes.
pub fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media_type| media_type.trim().eq_ignore_ascii_case("application/json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PORT: u16 = 7099;

    fn host(host: &str) -> Result<(), Forbidden> {
        Guard::new(PORT).admit(&Method::GET, Some(host), None)
    }

    fn post(origin: Option<&str>) -> Result<(), Forbidden> {
        Guard::new(PORT).admit(&Method::POST, Some("localhost:7099"), origin)
    }

    #[test]
    fn its_own_names_with_its_port_get_in() {
        for own in [
            "localhost:7099",
            "LocalHost:7099",
            "localhost.:7099",
            "127.0.0.1:7099",
            "[::1]:7099",
            "[0:0:0:0:0:0:0:1]:7099",
        ] {
            assert_eq!(host(own), Ok(()), "{own}");
        }
    }

    #[test]
    fn any_other_host_or_port_is_refused() {
        for foreign in [
            "evil.example:7099",
            "localhost.evil.example:7099",
            "localhost..:7099",
            "localhost:8090",
            "localhost",
            "localhost:",
            "localhost:+7099",
            "127.0.0.2:7099",
            "[::2]:7099",
            "[::1]x:7099",
            "[::1:7099",
            "localhost:7099, evil.example",
            "localhost@evil.example:7099",
            "evil.example@localhost:7099",
            "localhost:07099x",
            "localhost:99999",
            "",
        ] {
            assert_eq!(
                host(foreign),
                Err(Forbidden::ForeignHost(foreign.into())),
                "{foreign}"
            );
        }
        let guard = Guard::new(PORT);
        assert_eq!(
            guard.admit(&Method::GET, None, None),
            Err(Forbidden::NoHost)
        );
    }

    #[test]
    fn port_80_may_be_left_out() {
        let guard = Guard::new(80);
        assert_eq!(guard.admit(&Method::GET, Some("localhost"), None), Ok(()));
        assert_eq!(
            guard.admit(&Method::GET, Some("localhost:80"), None),
            Ok(())
        );
    }

    #[test]
    fn a_change_from_another_origin_is_refused() {
        assert_eq!(post(None), Ok(()));
        for own in [
            "http://localhost:7099",
            "HTTP://127.0.0.1:7099",
            "http://[::1]:7099",
        ] {
            assert_eq!(post(Some(own)), Ok(()), "{own}");
        }
        for foreign in [
            "http://evil.example:7099",
            "http://evil.example",
            "null",
            "https://localhost:7099",
            "http://localhost:8090",
            "http://localhost.evil.example:7099",
            "",
        ] {
            assert_eq!(
                post(Some(foreign)),
                Err(Forbidden::ForeignOrigin {
                    method: Method::POST,
                    origin: foreign.into()
                }),
                "{foreign}"
            );
        }
    }

    #[test]
    fn reading_is_not_a_change_whatever_the_origin() {
        let guard = Guard::new(PORT);
        for method in [Method::GET, Method::HEAD, Method::OPTIONS] {
            let checked = guard.admit(&method, Some("localhost:7099"), Some("null"));
            assert_eq!(checked, Ok(()), "{method}");
        }
        for method in [Method::PUT, Method::DELETE, Method::PATCH] {
            let checked = guard.admit(&method, Some("localhost:7099"), Some("null"));
            assert!(checked.is_err(), "{method}");
        }
    }

    #[test]
    fn what_a_client_sent_is_quoted_short() {
        let long = "a".repeat(500);
        let Err(Forbidden::ForeignHost(quoted)) = host(&long) else {
            panic!("refused")
        };
        assert_eq!(quoted.chars().count(), 101);
    }

    #[test]
    fn only_application_json_is_json() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_TYPE, HeaderValue::from_str(value).expect("a value"));
            is_json(&headers)
        };
        assert!(with("application/json"));
        assert!(with("Application/JSON; charset=utf-8"));
        for other in [
            "text/plain",
            "application/jsonx",
            "application/json-patch+json",
            "multipart/form-data; boundary=x",
        ] {
            assert!(!with(other), "{other}");
        }
        assert!(!is_json(&HeaderMap::new()));
    }
}
