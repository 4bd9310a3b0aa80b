//! Query strings: the one place they are split, percent-decoded and encoded.
//!
//! Decoding follows the WHATWG URL standard's `application/x-www-form-urlencoded` parser
//! (§5.1): split on `&`, skip empty pieces, split each piece on its first `=` (a piece
//! without `=` is a key with the empty value), `+` is a space, `%XX` is the byte XX, and a
//! `%` not followed by two hex digits stays a literal `%`. Bytes that are not UTF-8 after
//! decoding become U+FFFD, as in that parser. Keys are decoded like values.
//!
//! Lookups are strict where the standard leaves the choice to the application: a key given
//! twice is a [`BadParam::Repeated`] (400), not "first wins" or "last wins", so a client
//! never has a parameter silently ignored. Unknown keys are ignored (a newer client may send
//! more than this server knows).

use std::fmt::{self, Write as _};
use std::ops::RangeInclusive;
use std::str::FromStr;

/// A query parameter the request got wrong. Its text is the `error` of the 400 answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadParam {
    /// The value does not parse or is out of range: `count must be 1..=64, not "0"`.
    Invalid {
        /// The parameter.
        name: &'static str,
        /// Its (decoded) value.
        value: String,
        /// What it must be.
        expected: String,
    },
    /// The value parses but is refused, for `reason`: `filter "x": bad trace filter: …`.
    Rejected {
        /// The parameter.
        name: &'static str,
        /// Its (decoded) value.
        value: String,
        /// Why.
        reason: String,
    },
    /// A required parameter is absent or empty: `port=NODE:IFACE is required`.
    Missing {
        /// The parameter.
        name: &'static str,
        /// The shape of its value, for the message.
        shape: &'static str,
    },
    /// The parameter is given more than once.
    Repeated {
        /// The parameter.
        name: &'static str,
    },
}

impl fmt::Display for BadParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadParam::Invalid {
                name,
                value,
                expected,
            } => write!(f, "{name} must be {expected}, not {value:?}"),
            BadParam::Rejected {
                name,
                value,
                reason,
            } => write!(f, "{name} {value:?}: {reason}"),
            BadParam::Missing { name, shape } => write!(f, "{name}={shape} is required"),
            BadParam::Repeated { name } => write!(f, "{name} is given more than once"),
        }
    }
}

impl std::error::Error for BadParam {}

/// A decoded query string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Split and decode `raw` (the part of the request target after `?`, without `#…`).
    pub fn parse(raw: &str) -> Query {
        let pairs = raw
            .split('&')
            .filter(|piece| !piece.is_empty())
            .map(|piece| {
                let (k, v) = piece.split_once('=').unwrap_or((piece, ""));
                (decode(k), decode(v))
            })
            .collect();
        Query { pairs }
    }

    /// The value of `name`, `None` if absent.
    ///
    /// # Errors
    /// [`BadParam::Repeated`] if `name` is given more than once.
    pub fn get(&self, name: &'static str) -> Result<Option<&str>, BadParam> {
        let mut found = self.pairs.iter().filter(|(k, _)| k == name);
        match (found.next(), found.next()) {
            (Some(_), Some(_)) => Err(BadParam::Repeated { name }),
            (first, _) => Ok(first.map(|(_, v)| v.as_str())),
        }
    }

    /// A text parameter: `None` when absent or empty (`node=` means "no node").
    ///
    /// # Errors
    /// As [`Query::get`].
    pub fn text(&self, name: &'static str) -> Result<Option<String>, BadParam> {
        Ok(self
            .get(name)?
            .filter(|v| !v.is_empty())
            .map(str::to_string))
    }

    /// A typed parameter: `default` when absent, else `parse` of its value, which returns
    /// `None` for a value that is not `expected` (`count=`, `count=x` and `count=0` are all
    /// errors for `count` in `1..=64`).
    ///
    /// # Errors
    /// [`BadParam::Invalid`] naming the parameter, its value and `expected`; as
    /// [`Query::get`].
    pub fn value<T>(
        &self,
        name: &'static str,
        default: T,
        expected: &str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Result<T, BadParam> {
        match self.get(name)? {
            None => Ok(default),
            Some(v) => parse(v).ok_or_else(|| BadParam::Invalid {
                name,
                value: v.to_string(),
                expected: expected.to_string(),
            }),
        }
    }

    /// An integer parameter in `range`: `default` when absent.
    ///
    /// # Errors
    /// As [`Query::value`], with `expected` the range (`1..=64`).
    pub fn number<T>(
        &self,
        name: &'static str,
        default: T,
        range: RangeInclusive<T>,
    ) -> Result<T, BadParam>
    where
        T: FromStr + PartialOrd + fmt::Display,
    {
        let expected = format!("{}..={}", range.start(), range.end());
        self.value(name, default, &expected, |v| {
            v.parse().ok().filter(|n| range.contains(n))
        })
    }
}

/// `%XX` and `+` decoding of one key or value (see the module docs).
pub fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let hex = |c: u8| (c as char).to_digit(16);
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => match (
                b.get(i + 1).and_then(|&c| hex(c)),
                b.get(i + 2).and_then(|&c| hex(c)),
            ) {
                (Some(h), Some(l)) => {
                    // Two hex digits: at most 0xff.
                    out.push((h * 16 + l) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encode a key or value: everything but RFC 3986 unreserved characters
/// (`A-Z a-z 0-9 - . _ ~`) and `:` (a `pchar`, RFC 3986 §3.3, so port names `node:iface`
/// read as they are) becomes `%XX`; a space is `%20`.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.bytes() {
        if c.is_ascii_alphanumeric() || b"-._~:".contains(&c) {
            out.push(c as char);
        } else {
            let _ = write!(out, "%{c:02X}");
        }
    }
    out
}

/// `k1=v1&k2=v2…`, values encoded with [`encode`] (keys are plain words).
pub fn build(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        let _ = write!(out, "{k}={}", encode(v));
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn percent_escapes_and_plus_decode() {
        assert_eq!(decode("a+b%20c"), "a b c");
        assert_eq!(decode("h2%3Aeth0"), "h2:eth0");
        assert_eq!(decode("h2%3aeth0"), "h2:eth0");
        assert_eq!(decode("%2B"), "+");
        assert_eq!(decode("%41%42"), "AB");
        assert_eq!(decode("%c3%a9"), "é");
    }

    #[test]
    fn a_bad_escape_stays_literal() {
        // WHATWG URL §5.1: `%` without two hex digits is kept as it is.
        assert_eq!(decode("a+b%2"), "a b%2");
        assert_eq!(decode("%"), "%");
        assert_eq!(decode("%zz"), "%zz");
        assert_eq!(decode("%4"), "%4");
        assert_eq!(decode("100%"), "100%");
        // Not UTF-8 after decoding: replacement character, never a panic.
        assert_eq!(decode("%ff"), "\u{fffd}");
    }

    #[test]
    fn encode_round_trips_through_decode() {
        let f = "proto icmp and src 10.0.0.0/24";
        assert_eq!(encode(f), "proto%20icmp%20and%20src%2010.0.0.0%2F24");
        assert_eq!(decode(&encode(f)), f);
        assert_eq!(encode("h2:eth0"), "h2:eth0");
        for s in ["a&b=c", "+%", "é~_.-", ""] {
            assert_eq!(decode(&encode(s)), s);
        }
        assert_eq!(
            build(&[("count", "1"), ("filter", "a b")]),
            "count=1&filter=a%20b"
        );
    }

    #[test]
    fn pairs_split_on_the_first_equals_and_skip_empty_pieces() {
        let q = Query::parse("a=1&&b=x=y&c&d=&%6Eode=sw1");
        assert_eq!(q.get("a"), Ok(Some("1")));
        assert_eq!(q.get("b"), Ok(Some("x=y")));
        assert_eq!(q.get("c"), Ok(Some("")));
        assert_eq!(q.get("d"), Ok(Some("")));
        assert_eq!(q.get("node"), Ok(Some("sw1")));
        assert_eq!(q.get("e"), Ok(None));
        assert_eq!(Query::parse(""), Query::default());
    }

    #[test]
    fn a_repeated_key_is_an_error_naming_it() {
        let q = Query::parse("count=1&x=2&count=1");
        assert_eq!(q.get("count"), Err(BadParam::Repeated { name: "count" }));
        assert_eq!(
            q.get("count").unwrap_err().to_string(),
            "count is given more than once"
        );
        assert_eq!(q.get("x"), Ok(Some("2")));
    }

    #[test]
    fn missing_and_empty_text_values_are_absent() {
        let q = Query::parse("node=&other");
        assert_eq!(q.text("node"), Ok(None));
        assert_eq!(q.text("other"), Ok(None));
        assert_eq!(q.text("nope"), Ok(None));
        assert_eq!(
            Query::parse("node=sw1").text("node"),
            Ok(Some("sw1".into()))
        );
    }

    #[test]
    fn bad_numbers_name_the_parameter_and_the_value() {
        let count = |raw: &str| Query::parse(raw).number("count", 10u32, 1..=64);
        assert_eq!(count(""), Ok(10));
        assert_eq!(count("count=5"), Ok(5));
        for (raw, value) in [
            ("count=0", "0"),
            ("count=65", "65"),
            ("count=x", "x"),
            ("count=", ""),
            ("count", ""),
            ("count=-1", "-1"),
            ("count=1e3", "1e3"),
            ("count=99999999999999999999", "99999999999999999999"),
        ] {
            let e = count(raw).unwrap_err();
            assert_eq!(
                e,
                BadParam::Invalid {
                    name: "count",
                    value: value.into(),
                    expected: "1..=64".into()
                },
                "{raw}"
            );
            assert_eq!(
                e.to_string(),
                format!("count must be 1..=64, not {value:?}")
            );
        }
        assert_eq!(
            count("count=1&count=2"),
            Err(BadParam::Repeated { name: "count" })
        );
    }

    #[test]
    fn messages() {
        assert_eq!(
            BadParam::Missing {
                name: "port",
                shape: "NODE:IFACE"
            }
            .to_string(),
            "port=NODE:IFACE is required"
        );
        assert_eq!(
            BadParam::Rejected {
                name: "filter",
                value: "proto x".into(),
                reason: "unknown protocol".into()
            }
            .to_string(),
            "filter \"proto x\": unknown protocol"
        );
    }
}
