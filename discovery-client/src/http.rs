//! One HTTP request to a discovery server, bounded in time and in size.
//!
//! Each request goes on a connection of its own, which counts what it reads (see
//! [`Capped`]), with hyper's own HTTP/1 client: what is read is bounded only if every byte
//! read is. There is no redirect to follow and no proxy to go through: a redirect is an
//! answer like any other, and discovery is reached directly.

use std::{
    cell::Cell,
    error::Error,
    fmt, io,
    pin::{Pin, pin},
    rc::Rc,
    task::{Context, Poll, ready},
    time::Duration,
};

use http_body_util::{BodyExt, Full};
use hyper::{
    Method, Request, StatusCode,
    body::Bytes,
    client::conn::http1,
    header::{CONTENT_TYPE, HOST},
    http::uri::{Authority, Uri},
};
use hyper_util::rt::TokioIo;
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
    time,
};

/// How long connecting to a discovery server may take.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// The most we read of an answer before its head has ended: a status line and a few
/// headers take a few hundred bytes. Informational answers (`100 Continue`) come before
/// the head and count too: they are what a server could otherwise send without end (see
/// [`Capped`]).
const HEAD_LIMIT: usize = 16 * 1024;

/// Where to connect for `authority` (`host[:port]`): its host, an IPv6 address without its
/// brackets, and its port, 80 if it names none. `None` if the port is not a port number.
pub(crate) fn address_of(authority: &Authority) -> Option<(&str, u16)> {
    let host = authority.host();
    let port = match authority.port_u16() {
        None if authority.as_str() == host => 80,
        port => port?,
    };
    Some((host.trim_start_matches('[').trim_end_matches(']'), port))
}

/// The outcome of `request`, or an error if it takes longer than `limit`.
pub(crate) async fn within<T>(
    limit: Duration,
    url: &str,
    request: impl Future<Output = Result<T, String>>,
) -> Result<T, String> {
    time::timeout(limit, request)
        .await
        .unwrap_or_else(|_| Err(format!("{url} did not answer within {limit:?}")))
}

/// Sends `method url`, with `body` (JSON) if not empty, on a connection of its own, and
/// returns the answer's body if its status is one of `expected`: [`HEAD_LIMIT`] bytes at
/// most until its head has ended, `body_limit` bytes at most after. There is no redirect
/// to follow, and no proxy to go through: a redirect is an answer like any other, and
/// discovery is reached directly.
pub(crate) async fn send(
    method: Method,
    url: &str,
    body: Bytes,
    expected: &[StatusCode],
    body_limit: usize,
) -> Result<Bytes, String> {
    let uri: Uri = url
        .parse()
        // Quoted, so that a listed server's URI full of control characters is shown, not
        // obeyed, by the terminal that prints this.
        .map_err(|err| format!("{url:?} is not a URL: {err}"))?;
    let address = match (uri.scheme_str(), uri.authority()) {
        (Some("http"), Some(authority)) => {
            address_of(authority).map(|address| (authority, address))
        }
        _ => None,
    };
    let Some((authority, address)) = address else {
        return Err(format!("{url:?} is not an http:// URL"));
    };
    let stream = time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address))
        .await
        .map_err(|_| format!("{url}: no connection within {CONNECT_TIMEOUT:?}"))?
        .map_err(|err| format!("{url}: {err}"))?;
    // What the connection may read: HEAD_LIMIT bytes, then body_limit once the head is in.
    let allowance = Rc::new(Cell::new(Allowance::of(HEAD_LIMIT)));
    let capped = Capped {
        stream,
        allowance: Rc::clone(&allowance),
    };
    let (mut sender, connection) = http1::handshake(TokioIo::new(capped))
        .await
        .map_err(|err| explain(url, &err))?;
    let path = uri.path_and_query().map_or("/", |path| path.as_str());
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(HOST, authority.as_str())
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(body))
        .map_err(|err| format!("{url}: {err}"))?;
    let failed = |err: hyper::Error| explain(url, &err);
    let answer = async {
        let response = sender.send_request(request).await.map_err(failed)?;
        if !expected.contains(&response.status()) {
            return Err(format!("{url} answered {}", response.status()));
        }
        allowance.set(Allowance::of(body_limit));
        let body = response.into_body().collect().await.map_err(failed)?;
        Ok(body.to_bytes())
    };
    // hyper's `connection` does the reading and the writing, alongside the answer, and
    // ends with it. (An error that comes once the head is in, it returns itself.)
    tokio::select! {
        biased;
        answer = answer => answer,
        Err(err) = pin!(connection) => Err(failed(err)),
    }
}

/// A TCP connection that fails its reads once it has read more than it may. hyper reads
/// whatever a server sends, for as long as it sends, even before the answer: hyper 1.x
/// skips informational answers (`100 Continue`) in a loop that does not yield, so a server
/// sending them without end keeps our CPU busy for up to a second at a time, and the
/// timeout of the request cannot fire meanwhile (see docs/09a-discovery-client.md). The bound is
/// what stops it.
struct Capped {
    stream: TcpStream,
    /// [`send`] sets it, each read counts it down.
    allowance: Rc<Cell<Allowance>>,
}

/// The most that a [`Capped`] connection may read of the part of the answer it reads now,
/// and what is left of it.
#[derive(Clone, Copy)]
struct Allowance {
    bound: usize,
    left: usize,
}

impl Allowance {
    fn of(bound: usize) -> Allowance {
        Allowance { bound, left: bound }
    }
}

/// What a [`Capped`] connection's read fails with, past its bound.
#[derive(Debug)]
struct TooLong(usize);

impl fmt::Display for TooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "more than {} bytes", self.0)
    }
}

impl Error for TooLong {}

impl AsyncRead for Capped {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.stream).poll_read(cx, buf))?;
        let read = buf.filled().len() - before;
        let Allowance { bound, left } = self.allowance.get();
        if read > left {
            return Poll::Ready(Err(io::Error::other(TooLong(bound))));
        }
        self.allowance.set(Allowance {
            bound,
            left: left - read,
        });
        Poll::Ready(Ok(()))
    }
}

// Writing is the stream's own.
impl AsyncWrite for Capped {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// A hyper error on one line, after the URL it concerns: "sent more than … bytes" if the
/// connection refused to read on, else the error with the causes it keeps behind its own
/// message (such as "Connection reset by peer").
fn explain(url: &str, err: &hyper::Error) -> String {
    let mut line = format!("{url}: {err}");
    let mut cause = err.source();
    while let Some(source) = cause {
        // Ours, from `Capped`, in the I/O error that hyper wraps.
        let inner = source
            .downcast_ref::<io::Error>()
            .and_then(io::Error::get_ref);
        if let Some(TooLong(bound)) = inner.and_then(|inner| inner.downcast_ref()) {
            return format!("{url} sent more than {bound} bytes");
        }
        line = format!("{line}: {source}");
        cause = source.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_url_that_is_not_one_is_quoted_with_its_control_characters_shown() {
        let call = |url| send(Method::GET, url, Bytes::new(), &[StatusCode::OK], 1);
        let err = call("\u{1b}]0;pwned\u{7}").await.unwrap_err();
        assert!(
            err.starts_with(r#""\u{1b}]0;pwned\u{7}" is not a URL: "#),
            "{err}"
        );
        let err = call("ftp://x\u{202e}").await.unwrap_err();
        assert!(!err.contains('\u{202e}'), "{err}");
        let err = call("https://discovery.example").await.unwrap_err();
        assert_eq!(err, r#""https://discovery.example" is not an http:// URL"#);
    }
}
