//! The admin API's contract, shared by the server (`crate::server`) and the CLI
//! (`crate::client`), which never import each other: the endpoint paths and each
//! endpoint's query parameters as a typed struct, parsed once by the server
//! ([`FromQuery`]) and written by the client (`to_query`). See `docs/admin.md`.
//!
//! Parameter rules (all endpoints): unknown parameters are ignored, a parameter given twice
//! is a 400, an empty text value is the same as none, and a bad value is a 400 whose
//! `error` names the parameter and the value (`count must be 1..=64, not "0"`).

use nfv_dataplane::capture::Direction;

use crate::http::query::{self, BadParam, Query};

/// `GET /api/v1/topology`.
pub const TOPOLOGY: &str = "/api/v1/topology";
/// `GET /api/v1/instance`: this instance (pid, file, uptime) and what it made.
pub const INSTANCE: &str = "/api/v1/instance";
/// `GET /api/v1/counters`.
pub const COUNTERS: &str = "/api/v1/counters";
/// `GET /api/v1/tables/{table}[?node=NAME]`: this, then the table name.
pub const TABLES_PREFIX: &str = "/api/v1/tables/";
/// `GET /api/v1/trace?…` ([`TraceQuery`]).
pub const TRACE: &str = "/api/v1/trace";
/// `GET /api/v1/capture?…` ([`CaptureQuery`]).
pub const CAPTURE: &str = "/api/v1/capture";

/// An endpoint's parameters, from its query string.
pub trait FromQuery: Sized {
    /// Read the parameters from `q`.
    ///
    /// # Errors
    /// [`BadParam`] for the first bad parameter.
    fn from_query(q: &Query) -> Result<Self, BadParam>;

    /// [`FromQuery::from_query`] of the raw (still encoded) query string.
    ///
    /// # Errors
    /// As `from_query`.
    fn parse(raw: &str) -> Result<Self, BadParam> {
        Self::from_query(&Query::parse(raw))
    }
}

/// `?node=NAME` of `/api/v1/tables/{table}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TablesQuery {
    /// Only this node; `None`: every node that has the table.
    pub node: Option<String>,
}

impl FromQuery for TablesQuery {
    fn from_query(q: &Query) -> Result<Self, BadParam> {
        Ok(TablesQuery {
            node: q.text("node")?,
        })
    }
}

impl TablesQuery {
    /// The request path for `table`.
    pub fn path(&self, table: &str) -> String {
        match &self.node {
            Some(n) => format!("{TABLES_PREFIX}{table}?{}", query::build(&[("node", n)])),
            None => format!("{TABLES_PREFIX}{table}"),
        }
    }
}

/// `?count=N&filter=EXPR&seconds=S` of `/api/v1/trace`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceQuery {
    /// Trace the next `count` received packets that match.
    pub count: u32,
    /// The filter text (`nfv_dataplane::trace::Filter` syntax; empty: every packet). Its
    /// grammar is the data plane's: the server parses it and answers 400 if it is bad.
    pub filter: String,
    /// Stop waiting after this long.
    pub seconds: u64,
}

impl TraceQuery {
    /// Most packets one trace follows.
    pub const MAX_COUNT: u32 = nfv_dataplane::trace::MAX_COUNT;
    /// Longest wait.
    pub const MAX_SECONDS: u64 = 60;
    /// `count` when none is given.
    pub const DEFAULT_COUNT: u32 = 10;
    /// `seconds` when none is given.
    pub const DEFAULT_SECONDS: u64 = 10;

    /// The request path.
    pub fn path(&self) -> String {
        let (count, seconds) = (self.count.to_string(), self.seconds.to_string());
        let q = query::build(&[
            ("count", &count),
            ("seconds", &seconds),
            ("filter", &self.filter),
        ]);
        format!("{TRACE}?{q}")
    }
}

impl FromQuery for TraceQuery {
    fn from_query(q: &Query) -> Result<Self, BadParam> {
        let count = q.value(
            "count",
            Self::DEFAULT_COUNT,
            &format!("1..={}", Self::MAX_COUNT),
            |v| v.parse().ok().filter(|n| (1..=Self::MAX_COUNT).contains(n)),
        )?;
        let seconds = q.value(
            "seconds",
            Self::DEFAULT_SECONDS,
            &format!("1..={}", Self::MAX_SECONDS),
            |v| {
                v.parse()
                    .ok()
                    .filter(|n| (1..=Self::MAX_SECONDS).contains(n))
            },
        )?;
        let filter = q.text("filter")?.unwrap_or_default();
        Ok(TraceQuery {
            count,
            filter,
            seconds,
        })
    }
}

/// `?port=NODE:IFACE[&count=N][&seconds=S][&direction=rx|tx|both]` of `/api/v1/capture`.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureQuery {
    /// The port, `node:iface` (required).
    pub port: String,
    /// Stop after this many frames.
    pub count: u64,
    /// Stop after this many seconds, in (0, [`CaptureQuery::MAX_SECONDS`]].
    pub seconds: f64,
    /// Which frames.
    pub direction: Direction,
}

impl CaptureQuery {
    /// Most frames one capture returns, and the default `count`.
    pub const MAX_COUNT: u64 = 100_000;
    /// Longest capture.
    pub const MAX_SECONDS: f64 = 3600.0;
    /// `seconds` when none is given.
    pub const DEFAULT_SECONDS: f64 = 60.0;

    /// Is `s` a valid `seconds`?
    pub fn seconds_ok(s: f64) -> bool {
        s > 0.0 && s <= Self::MAX_SECONDS
    }

    /// The request path (`count` only when it is not the default).
    pub fn path(&self) -> String {
        let seconds = self.seconds.to_string();
        let dir = match self.direction {
            Direction::Rx => "rx",
            Direction::Tx => "tx",
            Direction::Both => "both",
        };
        let count = self.count.to_string();
        let mut pairs = vec![
            ("port", self.port.as_str()),
            ("seconds", &seconds),
            ("direction", dir),
        ];
        if self.count != Self::MAX_COUNT {
            pairs.push(("count", &count));
        }
        format!("{CAPTURE}?{}", query::build(&pairs))
    }
}

impl FromQuery for CaptureQuery {
    fn from_query(q: &Query) -> Result<Self, BadParam> {
        let port = q.text("port")?.ok_or(BadParam::Missing {
            name: "port",
            shape: "NODE:IFACE",
        })?;
        let count = q.number("count", Self::MAX_COUNT, 1..=Self::MAX_COUNT)?;
        let seconds = q.value(
            "seconds",
            Self::DEFAULT_SECONDS,
            &format!("in (0, {}]", Self::MAX_SECONDS),
            |v| v.parse().ok().filter(|s| Self::seconds_ok(*s)),
        )?;
        let direction = q.value(
            "direction",
            Direction::Both,
            "rx, tx or both",
            Direction::parse,
        )?;
        Ok(CaptureQuery {
            port,
            count,
            seconds,
            direction,
        })
    }
}

/// Examples of the JSON answers, checked on both sides: the server's test asserts it
/// produces exactly this, the client's that it renders it.
#[cfg(test)]
pub mod examples {
    use serde_json::{Value, json};

    /// A `/api/v1/trace` answer: a forwarded packet and one generated from it, unfinished.
    pub fn trace_log() -> Value {
        json!({
            "filter": "proto icmp",
            "remaining": 0,
            "complete": false,
            "packets": [
                {
                    "id": 1,
                    "generated_by": null,
                    "done": true,
                    "lines": [
                        {"node": "h1:eth0", "text": "rx, 98 bytes"},
                        {"node": "sw1", "text": "switch: in gate p1"},
                    ],
                },
                {
                    "id": 2,
                    "generated_by": {"node": "r1", "packet": 1},
                    "done": false,
                    "lines": [{"node": "r1", "text": "icmp error"}],
                },
            ],
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn query_of(path: &str) -> &str {
        path.split_once('?').map_or("", |(_, q)| q)
    }

    #[test]
    fn tables_query() {
        assert_eq!(
            TablesQuery::parse("x=1&node=sw1").unwrap().node,
            Some("sw1".into())
        );
        assert_eq!(TablesQuery::parse("node=").unwrap().node, None);
        assert_eq!(TablesQuery::parse("").unwrap(), TablesQuery::default());
        assert!(TablesQuery::parse("node=a&node=b").is_err());
        let q = TablesQuery {
            node: Some("r1".into()),
        };
        assert_eq!(q.path("arp"), "/api/v1/tables/arp?node=r1");
        assert_eq!(TablesQuery::default().path("fdb"), "/api/v1/tables/fdb");
        assert_eq!(TablesQuery::parse(query_of(&q.path("arp"))).unwrap(), q);
    }

    #[test]
    fn trace_query_values_round_trip() {
        let q = TraceQuery {
            count: 1,
            filter: "proto icmp and src 10.0.0.0/24".into(),
            seconds: 10,
        };
        let path = q.path();
        assert_eq!(
            path,
            "/api/v1/trace?count=1&seconds=10&filter=proto%20icmp%20and%20src%2010.0.0.0%2F24"
        );
        assert_eq!(TraceQuery::parse(query_of(&path)).unwrap(), q);
        assert_eq!(TraceQuery::parse("filter=a+b%2").unwrap().filter, "a b%2");
        let d = TraceQuery::parse("").unwrap();
        assert_eq!((d.count, d.seconds, d.filter.as_str()), (10, 10, ""));
        for (raw, msg) in [
            ("count=0", "count must be 1..=64, not \"0\""),
            ("count=65", "count must be 1..=64, not \"65\""),
            ("seconds=61", "seconds must be 1..=60, not \"61\""),
            ("seconds=x", "seconds must be 1..=60, not \"x\""),
            ("filter=a&filter=b", "filter is given more than once"),
        ] {
            assert_eq!(
                TraceQuery::parse(raw).unwrap_err().to_string(),
                msg,
                "{raw}"
            );
        }
    }

    #[test]
    fn capture_query_parsing() {
        assert_eq!(
            CaptureQuery::parse("port=h2%3Aeth0&count=6&seconds=2.5&direction=rx"),
            Ok(CaptureQuery {
                port: "h2:eth0".into(),
                count: 6,
                seconds: 2.5,
                direction: Direction::Rx,
            })
        );
        let d = CaptureQuery::parse("port=sw1:p1").unwrap();
        assert_eq!(
            (d.count, d.seconds, d.direction),
            (
                CaptureQuery::MAX_COUNT,
                CaptureQuery::DEFAULT_SECONDS,
                Direction::Both
            )
        );
        for (q, msg) in [
            ("", "required"),
            ("port=", "required"),
            ("port=a:b&count=0", "count"),
            ("port=a:b&seconds=-1", "seconds"),
            ("port=a:b&seconds=99999", "seconds"),
            ("port=a:b&seconds=NaN", "seconds"),
            ("port=a:b&direction=up", "direction"),
            ("port=a:b&port=c:d", "port is given more than once"),
        ] {
            let e = CaptureQuery::parse(q).unwrap_err().to_string();
            assert!(e.contains(msg), "{q}: {e}");
        }
        assert_eq!(
            CaptureQuery::parse("port=a:b&seconds=-1")
                .unwrap_err()
                .to_string(),
            "seconds must be in (0, 3600], not \"-1\""
        );
    }

    #[test]
    fn capture_path_is_what_the_cli_always_sent() {
        let mut q = CaptureQuery {
            port: "h2:eth0".into(),
            count: CaptureQuery::MAX_COUNT,
            seconds: 60.0,
            direction: Direction::Both,
        };
        assert_eq!(
            q.path(),
            "/api/v1/capture?port=h2:eth0&seconds=60&direction=both"
        );
        q.count = 6;
        q.seconds = 2.5;
        q.direction = Direction::Tx;
        assert_eq!(
            q.path(),
            "/api/v1/capture?port=h2:eth0&seconds=2.5&direction=tx&count=6"
        );
        assert_eq!(CaptureQuery::parse(query_of(&q.path())).unwrap(), q);
    }
}
