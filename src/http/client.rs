//! The CLI's HTTP client: one blocking `GET` per connection (`Connection: close`), the
//! answer read to EOF and checked against its `Content-Length`. Generic over the stream, so
//! a Unix socket works as well as TCP.

use std::io::{Read, Write};

use anyhow::{Context as _, Result, anyhow, bail};

use super::{parse_headers, split_head};

/// An answer: status code and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// `200`, `404`, …
    pub status: u16,
    /// The body (`Content-Length` bytes when the server sent one).
    pub body: Vec<u8>,
}

/// Send `GET path` with `Host: host` on `stream` and read the whole answer. Timeouts are
/// the stream's (set them before).
///
/// # Errors
/// Writing or reading fails, or [`parse_answer`] does.
pub fn get<S: Read + Write>(stream: &mut S, host: &str, path: &str) -> Result<Answer> {
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .and_then(|()| stream.flush())
    .context("sending the request")?;
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).context("reading the answer")?;
    parse_answer(&buf)
}

/// Parse a whole answer (head and body, up to EOF).
///
/// # Errors
/// No complete head, a status line other than `HTTP/1.x NNN …`, a bad header line or
/// `Content-Length`, or fewer body bytes than `Content-Length`.
pub fn parse_answer(buf: &[u8]) -> Result<Answer> {
    let Ok(Some((line, header_lines, head_len))) = split_head(buf) else {
        bail!("not an HTTP answer");
    };
    let mut parts = line.splitn(3, ' ');
    let status = match (parts.next(), parts.next()) {
        (Some(v), Some(code)) if v.starts_with("HTTP/1.") && code.len() == 3 => code.parse().ok(),
        _ => None,
    }
    .ok_or_else(|| anyhow!("bad status line {line:?}"))?;
    let (_, length) = parse_headers(header_lines.iter().map(String::as_str))
        .map_err(|e| anyhow!("bad answer head: {e}"))?;
    let body = &buf[head_len..];
    let body = match length {
        Some(n) if body.len() < n => bail!(
            "answer cut short: {} of {n} body bytes (Content-Length)",
            body.len()
        ),
        Some(n) => &body[..n],
        None => body,
    };
    Ok(Answer {
        status,
        body: body.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A stream that records what is written and reads back a canned answer.
    struct Canned {
        written: Vec<u8>,
        answer: std::io::Cursor<Vec<u8>>,
    }

    impl Read for Canned {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.answer.read(buf)
        }
    }

    impl Write for Canned {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.written.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn sends_one_get_and_reads_the_answer() {
        let mut s = Canned {
            written: Vec::new(),
            answer: std::io::Cursor::new(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}".to_vec(),
            ),
        };
        let a = get(&mut s, "127.0.0.1:9464", "/api/v1/x?a=b").unwrap();
        assert_eq!(
            s.written,
            b"GET /api/v1/x?a=b HTTP/1.1\r\nHost: 127.0.0.1:9464\r\nConnection: close\r\n\r\n"
        );
        assert_eq!(
            a,
            Answer {
                status: 404,
                body: b"{}".to_vec()
            }
        );
    }

    #[test]
    fn answers_are_checked() {
        // Without Content-Length the body is everything to EOF.
        let a = parse_answer(b"HTTP/1.0 200 OK\r\n\r\nabc").unwrap();
        assert_eq!((a.status, a.body.as_slice()), (200, &b"abc"[..]));
        // Bytes past Content-Length are not body.
        let a = parse_answer(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nabc").unwrap();
        assert_eq!(a.body, b"a");
        let err = |raw: &[u8]| parse_answer(raw).unwrap_err().to_string();
        assert_eq!(
            err(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc"),
            "answer cut short: 3 of 5 body bytes (Content-Length)"
        );
        assert_eq!(err(b""), "not an HTTP answer");
        assert_eq!(err(b"SSH-2.0-OpenSSH\r\n"), "not an HTTP answer");
        assert_eq!(err(b"ICY 200 OK\r\n\r\n"), "bad status line \"ICY 200 OK\"");
        assert!(err(b"HTTP/1.1 2000 OK\r\n\r\n").starts_with("bad status line"));
        assert!(
            err(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n").starts_with("bad answer head")
        );
    }
}
