//! The one HTTP/1.1 layer of the control plane, in the style of Firecracker's `micro_http`:
//! the server's request parser and response writer (here) and the CLI's client
//! ([`client`]), both on the same head parser, and query strings ([`query`]).
//!
//! What it does, and no more (RFC 9112): a request line `METHOD TARGET HTTP/1.x`, header
//! lines `Name: value`, and a `Content-Length` body, all with limits; every answer has
//! `Content-Type`, `Content-Length` and `Connection: close`, and the connection is closed
//! after it (one request per connection, no keep-alive, no chunked coding). The parser is
//! sans-IO ([`parse_head`]); [`read_request`] and [`Response::write_to`] work on any tokio
//! `AsyncRead`/`AsyncWrite`, so the same server runs on TCP, a Unix socket or an in-memory
//! pipe (the tests use `tokio::io::duplex`).
//!
//! Why not hyper/axum: see the README's dependency notes.

pub mod client;
pub mod query;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

/// Longest request (or response) head accepted: request line and headers.
pub const MAX_HEAD: usize = 8192;
/// Most header lines accepted.
pub const MAX_HEADERS: usize = 64;
/// Longest request body accepted (the API is `GET` only; a body is read, so the request is
/// consumed whole, and ignored).
pub const MAX_BODY: usize = 64 * 1024;

/// Why a request could not be read. Every case is answered (see [`HttpError::response`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// Not HTTP/1.x: a bad request line or header line.
    Malformed(&'static str),
    /// The head is longer than [`MAX_HEAD`] or has more than [`MAX_HEADERS`] lines.
    HeadTooLarge,
    /// `Content-Length` larger than [`MAX_BODY`].
    BodyTooLarge(usize),
    /// A `Transfer-Encoding` (RFC 9112 §6.1: a server that does not understand it answers
    /// 501).
    TransferEncoding,
    /// The peer closed (or the read failed) before the request was complete.
    Closed,
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::Malformed(what) => f.write_str(what),
            HttpError::HeadTooLarge => write!(
                f,
                "head longer than {MAX_HEAD} bytes or {MAX_HEADERS} lines"
            ),
            HttpError::BodyTooLarge(n) => write!(f, "body of {n} bytes; at most {MAX_BODY}"),
            HttpError::TransferEncoding => f.write_str("no Transfer-Encoding is supported"),
            HttpError::Closed => f.write_str("the connection ended before the request did"),
        }
    }
}

impl HttpError {
    /// The answer: 400 `bad request` (as every unreadable request always got), 413 or 501.
    pub fn response(&self) -> Response {
        match self {
            HttpError::BodyTooLarge(_) => {
                Response::text(Status::CONTENT_TOO_LARGE, format!("{self}\n"))
            }
            HttpError::TransferEncoding => {
                Response::text(Status::NOT_IMPLEMENTED, format!("{self}\n"))
            }
            HttpError::Malformed(_) | HttpError::HeadTooLarge | HttpError::Closed => {
                Response::text(Status::BAD_REQUEST, "bad request\n")
            }
        }
    }
}

/// A request. The target is split into `path` and the raw `query` (after `?`); a
/// `#fragment` is dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, … (case-sensitive, RFC 9110 §9.1).
    pub method: String,
    /// The target up to `?`.
    pub path: String,
    /// The target after `?`, still encoded; decode it with [`query::Query::parse`].
    pub query: String,
    /// Header lines (compare names with `eq_ignore_ascii_case`).
    pub headers: Headers,
    /// The `Content-Length` body.
    pub body: Vec<u8>,
}

/// Header lines: (name as sent, value without surrounding whitespace), in order.
pub type Headers = Vec<(String, String)>;

/// The header lines after the first line of a head, and the `Content-Length`.
fn parse_headers<'a>(
    lines: impl Iterator<Item = &'a str>,
) -> Result<(Headers, Option<usize>), HttpError> {
    let mut headers = Vec::new();
    let mut length = None;
    for line in lines {
        if headers.len() == MAX_HEADERS {
            return Err(HttpError::HeadTooLarge);
        }
        // RFC 9112 §5.1: no whitespace between the name and the colon.
        let (name, value) = line
            .split_once(':')
            .filter(|(n, _)| !n.is_empty() && !n.contains([' ', '\t']))
            .ok_or(HttpError::Malformed("bad header line"))?;
        let value = value.trim_matches([' ', '\t']);
        if name.eq_ignore_ascii_case("content-length") {
            // RFC 9112 §6.3: digits only; differing repeated values are an error.
            let n = Some(value)
                .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse::<usize>().ok())
                .ok_or(HttpError::Malformed("bad Content-Length"))?;
            if length.is_some_and(|l| l != n) {
                return Err(HttpError::Malformed("conflicting Content-Length"));
            }
            length = Some(n);
        }
        headers.push((name.to_string(), value.to_string()));
    }
    Ok((headers, length))
}

/// The head of `buf` if it is complete: its first line (without the line end), the header
/// lines and the head's length including the blank line. `Ok(None)`: not complete yet.
fn split_head(buf: &[u8]) -> Result<Option<(String, Vec<String>, usize)>, HttpError> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if buf.len() > MAX_HEAD {
            Err(HttpError::HeadTooLarge)
        } else {
            Ok(None)
        };
    };
    if end > MAX_HEAD {
        return Err(HttpError::HeadTooLarge);
    }
    let head = std::str::from_utf8(&buf[..end]).map_err(|_| HttpError::Malformed("not UTF-8"))?;
    // Lines end in CRLF; a bare LF is accepted too (RFC 9112 §2.2).
    let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let first = lines.next().unwrap_or("").to_string();
    Ok(Some((first, lines.map(str::to_string).collect(), end + 4)))
}

/// Parse a request head at the start of `buf`: the request (without its body), the head's
/// length and the body length to read. `Ok(None)`: not complete yet, read more.
///
/// # Errors
/// [`HttpError`] for a head that is not HTTP/1.x or over the limits.
pub fn parse_head(buf: &[u8]) -> Result<Option<(Request, usize, usize)>, HttpError> {
    let Some((line, header_lines, head_len)) = split_head(buf)? else {
        return Ok(None);
    };
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HttpError::Malformed("bad request line"));
    };
    if method.is_empty() || target.is_empty() || !version.starts_with("HTTP/1.") {
        return Err(HttpError::Malformed("bad request line"));
    }
    let (headers, length) = parse_headers(header_lines.iter().map(String::as_str))?;
    if headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("transfer-encoding"))
    {
        return Err(HttpError::TransferEncoding);
    }
    let length = length.unwrap_or(0);
    if length > MAX_BODY {
        return Err(HttpError::BodyTooLarge(length));
    }
    let target = target.split('#').next().unwrap_or("");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let req = Request {
        method: method.to_string(),
        path: path.to_string(),
        query: query.to_string(),
        headers,
        body: Vec::new(),
    };
    Ok(Some((req, head_len, length)))
}

/// Read one request from `stream` (head and `Content-Length` body). The caller bounds the
/// time it may take.
///
/// # Errors
/// As [`parse_head`]; [`HttpError::Closed`] if the stream ends or fails first.
pub async fn read_request<S: AsyncRead + Unpin>(stream: &mut S) -> Result<Request, HttpError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let (mut req, head_len, body_len) = loop {
        if let Some(h) = parse_head(&buf)? {
            break h;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return Err(HttpError::Closed),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    while buf.len() < head_len + body_len {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return Err(HttpError::Closed),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    req.body = buf[head_len..head_len + body_len].to_vec();
    Ok(req)
}

/// A status code and its reason phrase (RFC 9110 §15): the ones the control plane answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status(pub u16, pub &'static str);

impl Status {
    pub const OK: Status = Status(200, "OK");
    pub const BAD_REQUEST: Status = Status(400, "Bad Request");
    pub const FORBIDDEN: Status = Status(403, "Forbidden");
    pub const NOT_FOUND: Status = Status(404, "Not Found");
    /// Sent with `Allow: GET`.
    pub const METHOD_NOT_ALLOWED: Status = Status(405, "Method Not Allowed");
    pub const CONTENT_TOO_LARGE: Status = Status(413, "Content Too Large");
    /// A handler failed (panicked).
    pub const INTERNAL_SERVER_ERROR: Status = Status(500, "Internal Server Error");
    pub const NOT_IMPLEMENTED: Status = Status(501, "Not Implemented");
    /// The worker did not answer.
    pub const SERVICE_UNAVAILABLE: Status = Status(503, "Service Unavailable");
}

/// An answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status.
    pub status: Status,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
}

/// `Content-Type` of the API's JSON answers.
pub const JSON: &str = "application/json";

impl Response {
    /// A `text/plain` answer.
    pub fn text(status: Status, body: impl Into<String>) -> Response {
        Response {
            status,
            content_type: "text/plain",
            body: body.into().into_bytes(),
        }
    }

    /// An `application/json` answer.
    pub fn json(status: Status, v: &serde_json::Value) -> Response {
        Response {
            status,
            content_type: JSON,
            body: v.to_string().into_bytes(),
        }
    }

    /// The head: status line, `Content-Type`, `Content-Length`, `Allow: GET` on a 405,
    /// `Connection: close`.
    pub fn head(&self) -> String {
        let allow = if self.status == Status::METHOD_NOT_ALLOWED {
            "Allow: GET\r\n"
        } else {
            ""
        };
        format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{allow}Connection: close\r\n\r\n",
            self.status.0,
            self.status.1,
            self.content_type,
            self.body.len()
        )
    }

    /// Write the answer and shut the write side down (the connection ends here).
    pub async fn write_to<S: AsyncWrite + Unpin>(&self, stream: &mut S) {
        // The peer may have gone; there is nobody left to tell.
        if stream.write_all(self.head().as_bytes()).await.is_ok() {
            let _ = stream.write_all(&self.body).await;
        }
        let _ = stream.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn parse(raw: &[u8]) -> Result<Option<(Request, usize, usize)>, HttpError> {
        parse_head(raw)
    }

    #[test]
    fn request_line_target_and_headers() {
        let raw = b"GET /api/v1/tables/fdb?node=sw1#x HTTP/1.1\r\nHost: a\r\nX-Y:  z \r\n\r\n";
        let (req, head_len, body) = parse(raw).unwrap().unwrap();
        assert_eq!(req.method, "GET");
        assert_eq!(req.path, "/api/v1/tables/fdb");
        assert_eq!(req.query, "node=sw1");
        assert_eq!(
            req.headers,
            vec![("Host".into(), "a".into()), ("X-Y".into(), "z".into())]
        );
        assert_eq!((head_len, body), (raw.len(), 0));
        // A bare LF ends a line too (RFC 9112 §2.2).
        let (req, _, _) = parse(b"GET /metrics HTTP/1.0\nHost: a\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!((req.path.as_str(), req.query.as_str()), ("/metrics", ""));
        assert_eq!(req.headers, vec![("Host".into(), "a".into())]);
    }

    #[test]
    fn an_incomplete_head_asks_for_more() {
        assert_eq!(parse(b""), Ok(None));
        assert_eq!(parse(b"GET /metrics HTTP/1.1\r\nHost: a\r\n"), Ok(None));
    }

    #[test]
    fn malformed_heads_are_errors() {
        for raw in [
            &b"garbage\r\n\r\n"[..],
            b"GET /metrics\r\n\r\n",
            b"GET  /metrics HTTP/1.1\r\n\r\n",
            b"GET /metrics HTTP/1.1 x\r\n\r\n",
            b"GET /metrics HTTP/2\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\nno colon\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\nBad Name: x\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\n: x\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\nContent-Length: 1, 1\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            b"GET /\xff HTTP/1.1\r\n\r\n",
        ] {
            assert!(
                matches!(parse(raw), Err(HttpError::Malformed(_))),
                "{:?}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[test]
    fn limits() {
        let mut big = b"GET /metrics HTTP/1.1\r\nX: ".to_vec();
        big.resize(MAX_HEAD + 10, b'a');
        assert_eq!(parse(&big), Err(HttpError::HeadTooLarge));
        big.extend_from_slice(b"\r\n\r\n");
        assert_eq!(parse(&big), Err(HttpError::HeadTooLarge));
        let many = format!(
            "GET / HTTP/1.1\r\n{}\r\n",
            "A: b\r\n".repeat(MAX_HEADERS + 1)
        );
        assert_eq!(parse(many.as_bytes()), Err(HttpError::HeadTooLarge));
        let long = format!("GET / HTTP/1.1\r\nContent-Length: {}\r\n\r\n", MAX_BODY + 1);
        assert_eq!(
            parse(long.as_bytes()),
            Err(HttpError::BodyTooLarge(MAX_BODY + 1))
        );
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Err(HttpError::TransferEncoding)
        );
        let (_, _, n) = parse(b"GET / HTTP/1.1\r\ncontent-length: 5\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(n, 5);
    }

    #[test]
    fn error_answers() {
        assert_eq!(
            HttpError::Closed.response(),
            Response::text(Status::BAD_REQUEST, "bad request\n")
        );
        assert_eq!(
            HttpError::BodyTooLarge(1).response().status,
            Status::CONTENT_TOO_LARGE
        );
        assert_eq!(HttpError::TransferEncoding.response().status.0, 501);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn reads_a_request_in_pieces_with_its_body() {
        let (mut client, mut server) = tokio::io::duplex(16);
        let writer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt as _;
            for piece in [
                &b"GET /x?a=1 HT"[..],
                b"TP/1.1\r\nContent-Le",
                b"ngth: 3\r\n\r\nab",
                b"c",
            ] {
                client.write_all(piece).await.unwrap();
            }
            client
        });
        let req = read_request(&mut server).await.unwrap();
        assert_eq!(req.path, "/x");
        assert_eq!(req.query, "a=1");
        assert_eq!(req.body, b"abc");
        drop(writer.await.unwrap());
        // A peer that leaves mid-head.
        let (mut client, mut server) = tokio::io::duplex(64);
        tokio::io::AsyncWriteExt::write_all(&mut client, b"GET / HTTP/1.1\r\n")
            .await
            .unwrap();
        drop(client);
        assert_eq!(read_request(&mut server).await, Err(HttpError::Closed));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn writes_the_exact_head() {
        let (mut a, mut b) = tokio::io::duplex(1024);
        Response::text(Status::METHOD_NOT_ALLOWED, "only GET\n")
            .write_to(&mut a)
            .await;
        let mut out = Vec::new();
        b.read_to_end(&mut out).await.unwrap();
        assert_eq!(
            out,
            b"HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\
              Allow: GET\r\nConnection: close\r\n\r\nonly GET\n"
        );
    }
}
