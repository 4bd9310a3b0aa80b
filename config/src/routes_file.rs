//! The `routes-file` format: a router's static routes, one per line, for tables too big for YAML.
//!
//! ```text
//! # comment; blank lines are ignored
//! 192.0.2.0/24      10.2.0.254
//! 198.51.100.0/24   via 10.2.0.254    # `via` is optional
//! ```
//!
//! A line is `PREFIX NEXTHOP` or `PREFIX via NEXTHOP`, fields separated by spaces or tabs. `#`
//! starts a comment anywhere on a line. `\r\n` line ends are accepted. `PREFIX` is
//! `a.b.c.d/len` (len 0..=32), `NEXTHOP` is `a.b.c.d`; octets are decimal without leading zeros,
//! as `std::net::Ipv4Addr` parses them.
//!
//! This module only parses (syntax). What a route means (host bits, duplicates, next hop on a
//! connected subnet) is checked in `validate/router.rs`, as for `routes:` in the YAML.
//!
//! The parser is written by hand over bytes, one pass per line, because tables of a million
//! lines must load in well under a second: [`Lines`] yields borrowed slices and integers and
//! allocates nothing. A release build loads and validates a 1,000,000-line file (27 MB) in
//! about 0.13 s on a 2-core machine: `cargo test -p nfv-config --release --test routes_file --
//! --nocapture` prints the time.

use std::fmt;

/// A field of a line: where it starts (byte offset in the line) and its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token<'a> {
    pub start: usize,
    pub text: &'a [u8],
}

/// One route line that parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RouteLine<'a> {
    /// The prefix field; `to_addr` may still have host bits set.
    pub to: Token<'a>,
    pub to_addr: u32,
    pub prefix_len: u8,
    pub via: Token<'a>,
    pub via_addr: u32,
}

/// Why a line did not parse. The message does not repeat the text; the caller prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineError {
    MissingNextHop,
    Prefix,
    PrefixLen,
    NextHop,
    Trailing,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LineError::MissingNextHop => {
                "missing next hop (expected PREFIX NEXTHOP or PREFIX via NEXTHOP)"
            }
            LineError::Prefix => "invalid prefix (expected a.b.c.d/len)",
            LineError::PrefixLen => "prefix length must be at most 32",
            LineError::NextHop => "invalid next hop (expected an IPv4 address a.b.c.d)",
            LineError::Trailing => "unexpected text after the next hop (a comment starts with #)",
        })
    }
}

/// One non-blank, non-comment line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Line<'a> {
    /// 1-based line number.
    pub number: usize,
    /// The whole line without its line end, for columns.
    pub text: &'a [u8],
    /// The route, or the error and the field it is about.
    pub parsed: Result<RouteLine<'a>, (LineError, Token<'a>)>,
}

impl Line<'_> {
    /// 1-based column in characters of byte offset `start` (UTF-8 continuation bytes do not
    /// count, so a stray `é` earlier on the line does not shift the column).
    pub fn column(&self, start: usize) -> usize {
        self.text[..start]
            .iter()
            .filter(|&&b| b & 0xc0 != 0x80)
            .count()
            + 1
    }
}

/// The lines of a routes file that hold something, in order.
#[derive(Debug)]
pub(crate) struct Lines<'a> {
    rest: &'a [u8],
    number: usize,
}

impl<'a> Lines<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Lines {
            rest: bytes,
            number: 0,
        }
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = Line<'a>;

    fn next(&mut self) -> Option<Line<'a>> {
        while !self.rest.is_empty() {
            let bytes = self.rest;
            self.number += 1;
            // One pass over the line: split fields until the line end or a `#`. Fields past
            // MAX_FIELDS are skipped (the fourth is already an error).
            let mut fields = [Token {
                start: 0,
                text: &[][..],
            }; MAX_FIELDS];
            let mut count = 0;
            let mut i = 0;
            let end = loop {
                match bytes.get(i) {
                    None | Some(b'\n') => break i,
                    Some(b'#') => {
                        let rest = &bytes[i..];
                        break i + rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
                    }
                    Some(b) if b.is_ascii_whitespace() => i += 1,
                    Some(_) => {
                        let start = i;
                        while i < bytes.len() && !bytes[i].is_ascii_whitespace() && bytes[i] != b'#'
                        {
                            i += 1;
                        }
                        if count < MAX_FIELDS {
                            fields[count] = Token {
                                start,
                                text: &bytes[start..i],
                            };
                            count += 1;
                        }
                    }
                }
            };
            let text = &bytes[..end];
            self.rest = bytes.get(end + 1..).unwrap_or_default();
            if count > 0 {
                return Some(Line {
                    number: self.number,
                    text,
                    parsed: parse_fields(text, &fields[..count]),
                });
            }
        }
        None
    }
}

/// At most this many fields are looked at; a fourth is already one too many.
const MAX_FIELDS: usize = 4;

fn parse_fields<'a>(
    line: &'a [u8],
    fields: &[Token<'a>],
) -> Result<RouteLine<'a>, (LineError, Token<'a>)> {
    let to = fields[0];
    let (via, trailing) = match fields {
        [_, v, ..] if v.text == b"via" => (fields.get(2), fields.get(3)),
        _ => (fields.get(1), fields.get(2)),
    };
    let Some(&via) = via else {
        // Point at everything written so far: "10.0.0.0/8" or "10.0.0.0/8 via".
        let last = fields[fields.len() - 1];
        let end = last.start + last.text.len();
        let all = Token {
            start: to.start,
            text: &line[to.start..end],
        };
        return Err((LineError::MissingNextHop, all));
    };
    let (to_addr, prefix_len) = parse_prefix(to.text).map_err(|e| (e, to))?;
    let via_addr = parse_ipv4(via.text).ok_or((LineError::NextHop, via))?;
    if let Some(&extra) = trailing {
        return Err((LineError::Trailing, extra));
    }
    Ok(RouteLine {
        to,
        to_addr,
        prefix_len,
        via,
        via_addr,
    })
}

/// `a.b.c.d/len`. The length is 1..=3 digits, like [`crate::Ipv4Cidr`]'s parser.
fn parse_prefix(s: &[u8]) -> Result<(u32, u8), LineError> {
    let slash = s.iter().position(|&b| b == b'/').ok_or(LineError::Prefix)?;
    let addr = parse_ipv4(&s[..slash]).ok_or(LineError::Prefix)?;
    let len = &s[slash + 1..];
    if len.is_empty() || len.len() > 3 || !len.iter().all(u8::is_ascii_digit) {
        return Err(LineError::Prefix);
    }
    let len = len.iter().fold(0u32, |n, &d| n * 10 + u32::from(d - b'0'));
    match u8::try_from(len) {
        Ok(l) if l <= 32 => Ok((addr, l)),
        _ => Err(LineError::PrefixLen),
    }
}

/// Dotted-quad decimal, each octet 0..=255 with no leading zero (as `Ipv4Addr::from_str`).
fn parse_ipv4(s: &[u8]) -> Option<u32> {
    let mut out = 0u32;
    let mut octet = 0u32;
    let mut digits = 0;
    let mut dots = 0;
    for &b in s {
        if b.is_ascii_digit() {
            if digits == 1 && octet == 0 {
                return None; // a leading zero
            }
            octet = octet * 10 + u32::from(b - b'0');
            digits += 1;
            if octet > 255 {
                return None;
            }
        } else if b == b'.' && digits > 0 && dots < 3 {
            out = out << 8 | octet;
            octet = 0;
            digits = 0;
            dots += 1;
        } else {
            return None;
        }
    }
    (digits > 0 && dots == 3).then_some(out << 8 | octet)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use std::net::Ipv4Addr;

    fn ip(s: &str) -> u32 {
        u32::from(s.parse::<Ipv4Addr>().expect("valid address"))
    }

    #[rstest]
    #[case("0.0.0.0")]
    #[case("10.1.2.3")]
    #[case("255.255.255.255")]
    #[case("192.0.2.10")]
    fn ipv4_matches_std(#[case] s: &str) {
        assert_eq!(parse_ipv4(s.as_bytes()), Some(ip(s)));
    }

    #[rstest]
    #[case("")]
    #[case("10.1.2")]
    #[case("10.1.2.3.4")]
    #[case("10.1.2.256")]
    #[case("10.1.2.03")]
    #[case("10.1..3")]
    #[case("10.1.2.3.")]
    #[case("1000.1.2.3")]
    #[case("10.1.2.+3")]
    #[case("10.1.2.x")]
    fn ipv4_rejects_what_std_rejects(#[case] s: &str) {
        assert!(s.parse::<Ipv4Addr>().is_err(), "std accepts {s}");
        assert_eq!(parse_ipv4(s.as_bytes()), None);
    }

    #[rstest]
    #[case("10.0.0.0/8", ("10.0.0.0", 8))]
    #[case("0.0.0.0/0", ("0.0.0.0", 0))]
    #[case("192.0.2.1/32", ("192.0.2.1", 32))]
    #[case("192.0.2.0/024", ("192.0.2.0", 24))]
    fn prefix_parses(#[case] s: &str, #[case] want: (&str, u8)) {
        assert_eq!(parse_prefix(s.as_bytes()), Ok((ip(want.0), want.1)));
    }

    #[rstest]
    #[case("10.0.0.0", LineError::Prefix)]
    #[case("10.0.0.0/", LineError::Prefix)]
    #[case("10.0.0/8", LineError::Prefix)]
    #[case("10.0.0.0/x", LineError::Prefix)]
    #[case("10.0.0.0/8/8", LineError::Prefix)]
    #[case("10.0.0.0/1000", LineError::Prefix)]
    #[case("10.0.0.0/33", LineError::PrefixLen)]
    #[case("10.0.0.0/999", LineError::PrefixLen)]
    fn prefix_rejects(#[case] s: &str, #[case] want: LineError) {
        assert_eq!(parse_prefix(s.as_bytes()), Err(want));
    }

    /// Ok((to, len, via)) or Err((error, column, text)).
    type Parsed = Result<(u32, u8, u32), (LineError, usize, String)>;

    /// (line number, what it parsed to) for every line.
    fn parse(text: &str) -> Vec<(usize, Parsed)> {
        Lines::new(text.as_bytes())
            .map(|l| {
                let r = match l.parsed {
                    Ok(r) => Ok((r.to_addr, r.prefix_len, r.via_addr)),
                    Err((e, t)) => Err((
                        e,
                        l.column(t.start),
                        String::from_utf8_lossy(t.text).into_owned(),
                    )),
                };
                (l.number, r)
            })
            .collect()
    }

    #[test]
    fn both_forms_comments_blank_lines_and_crlf() {
        let text = "# header\n\n10.0.0.0/8 10.1.0.254\n  \t\n192.0.2.0/24\tvia  10.2.0.1 # c\r\n\
                    0.0.0.0/0 via 10.1.0.254";
        assert_eq!(
            parse(text),
            vec![
                (3, Ok((ip("10.0.0.0"), 8, ip("10.1.0.254")))),
                (5, Ok((ip("192.0.2.0"), 24, ip("10.2.0.1")))),
                (6, Ok((0, 0, ip("10.1.0.254")))),
            ]
        );
    }

    #[rstest]
    #[case("10.0.0.0/8", LineError::MissingNextHop, 1, "10.0.0.0/8")]
    #[case(
        "  10.0.0.0/8 via  # no hop",
        LineError::MissingNextHop,
        3,
        "10.0.0.0/8 via"
    )]
    #[case("10.0.0.0/33 10.1.0.1", LineError::PrefixLen, 1, "10.0.0.0/33")]
    #[case("10.0.0.0 10.1.0.1", LineError::Prefix, 1, "10.0.0.0")]
    #[case("10.0.0.0/8 via 10.1.0", LineError::NextHop, 16, "10.1.0")]
    #[case("10.0.0.0/8 gw 10.1.0.1", LineError::NextHop, 12, "gw")]
    #[case("10.0.0.0/8 10.1.0.1 x", LineError::Trailing, 21, "x")]
    #[case("10.0.0.0/8 via 10.1.0.1 metric 5", LineError::Trailing, 25, "metric")]
    #[case("é 10.1.0.1", LineError::Prefix, 1, "é")]
    fn errors_name_the_field(
        #[case] line: &str,
        #[case] want: LineError,
        #[case] column: usize,
        #[case] text: &str,
    ) {
        assert_eq!(parse(line), vec![(1, Err((want, column, text.into())))]);
    }

    #[test]
    fn column_counts_characters() {
        let line = Line {
            number: 1,
            text: "éé x".as_bytes(),
            parsed: Err((
                LineError::Prefix,
                Token {
                    start: 5,
                    text: b"x",
                },
            )),
        };
        assert_eq!(line.column(5), 4);
    }

    #[test]
    fn empty_input_has_no_lines() {
        assert!(parse("").is_empty());
        assert!(parse("\n\n# only comments\n").is_empty());
    }
}
