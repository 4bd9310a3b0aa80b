//! `dhcp:` on a link: a DHCP server ([`nfv_functions::dhcp::DhcpServer`]) for the hosts on
//! the link's first endpoint (`a`, gate 0); everything else passes through.
//!
//! ```yaml
//! links:
//!   - endpoints: [h1, sw:p1]
//!     dhcp:
//!       server: 10.0.0.1/24          # address/prefix of the server (option 54, subnet)
//!       range: 10.0.0.100-10.0.0.199
//!       lease: 1h                    # default 1h
//!       router: 10.0.0.1             # default the server; `none` sends no router
//!       dns: [10.0.0.53]
//!       domain: lab.example
//!       static: [ { mac: 02:00:00:00:00:09, address: 10.0.0.9 } ]
//!       max-leases: 100              # default the size of the range
//!       decline-hold: 10m            # default 10m
//!       mac: 02:dc:0a:00:00:01       # default 02:dc + the server address
//!       arp: true                    # answer ARP for the server address (default true)
//! ```

use std::net::Ipv4Addr;
use std::str::FromStr;

use nfv_dataplane::Element;
use nfv_functions::dhcp::{DhcpConfig, DhcpServer, StaticLease};

use super::{Fields, LinkAttribute, LinkElement, LinkSpec};
use crate::tree::{Tree, TreeValue};
use crate::types::{Ipv4Cidr, MacAddr};
use crate::validate::Report;

const FIELDS: &[&str] = &[
    "server",
    "range",
    "lease",
    "router",
    "dns",
    "domain",
    "static",
    "max-leases",
    "decline-hold",
    "mac",
    "arp",
];

/// The `dhcp` link attribute.
pub(crate) struct Dhcp;

impl LinkAttribute for Dhcp {
    fn key(&self) -> &'static str {
        "dhcp"
    }

    fn tables(&self) -> &'static [(&'static str, &'static str)] {
        &[(
            "leases",
            "DHCP leases: client MAC and id, address, state, static, seconds left.",
        )]
    }

    fn validate(&self, r: &mut Report<'_>, value: &Tree, path: &str) -> Option<LinkElement> {
        let f = Fields::of(r, value, path, FIELDS)?;
        let errors = r.error_count();
        let need = |r: &mut Report<'_>, name: &str, what: &str| {
            if f.get(name).is_none() {
                r.error(
                    &value.at,
                    path,
                    None,
                    format!("a DHCP server needs {name} ({what})"),
                );
            }
        };
        need(r, "server", "its address and prefix, e.g. 10.0.0.1/24");
        need(
            r,
            "range",
            "the addresses to give out, e.g. 10.0.0.100-10.0.0.199",
        );
        let server = f.parse(r, path, "server", |s| {
            Ipv4Cidr::from_str(s).map_err(|e| e.to_string())
        });
        let range = f.parse(r, path, "range", range);
        let (Some(server), Some((first, last))) = (server, range) else {
            return None;
        };
        let mac = f
            .parse(r, path, "mac", |s| {
                MacAddr::from_str(s).map(|m| m.0).map_err(|e| e.to_string())
            })
            .unwrap_or_else(|| {
                let [a, b, c, d] = server.addr.octets();
                [0x02, 0xdc, a, b, c, d]
            });
        let mut cfg = DhcpConfig::new(server.addr, server.prefix_len, mac, first..=last);
        if let Some(l) = f.parse(r, path, "lease", duration) {
            cfg.lease = l;
        }
        if let Some(h) = f.parse(r, path, "decline-hold", duration) {
            cfg.decline_hold = h;
        }
        if let Some(rt) = f.parse(r, path, "router", |s| match s {
            "none" => Ok(None),
            _ => address(s).map(Some),
        }) {
            cfg.router = rt;
        }
        if let Some(d) = f.parse(r, path, "domain", |s| Ok(s.to_owned())) {
            cfg.domain = Some(d);
        }
        if let Some(n) = f.parse(r, path, "max-leases", |s| {
            s.parse::<u32>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| "expected a number of leases, at least 1".to_owned())
        }) {
            cfg.max_leases = n;
        }
        if let Some(a) = f.parse(r, path, "arp", |s| match s {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err("expected true or false".to_owned()),
        }) {
            cfg.arp = a;
        }
        if let Some(t) = f.get("dns") {
            cfg.dns = list(r, t, &format!("{path}.dns"), |r, t, p| {
                scalar(r, t, p, address)
            });
        }
        if let Some(t) = f.get("static") {
            cfg.static_leases = list(r, t, &format!("{path}.static"), static_lease);
        }
        if r.error_count() != errors {
            return None;
        }
        if let Err(e) = cfg.check() {
            r.error(&value.at, path, None, e.to_string());
            return None;
        }
        Some(LinkElement::new("dhcp", DhcpSettings(cfg)))
    }
}

/// `10.0.0.100-10.0.0.199`.
fn range(s: &str) -> Result<(Ipv4Addr, Ipv4Addr), String> {
    let bad = || "expected first-last addresses, e.g. 10.0.0.100-10.0.0.199".to_owned();
    let (a, b) = s.split_once('-').ok_or_else(bad)?;
    Ok((
        a.trim().parse().map_err(|_| bad())?,
        b.trim().parse().map_err(|_| bad())?,
    ))
}

fn address(s: &str) -> Result<Ipv4Addr, String> {
    s.parse()
        .map_err(|_| "expected an IPv4 address, e.g. 10.0.0.53".to_owned())
}

/// `1h`, `30m`, `600` (seconds), as switch `ageing`.
fn duration(s: &str) -> Result<std::time::Duration, String> {
    crate::types::parse_duration(s).map_err(|e| e.to_string())
}

/// A scalar `t` at `path` parsed with `parse` (reported if bad).
fn scalar<T>(
    r: &mut Report<'_>,
    t: &Tree,
    path: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Option<T> {
    match t.scalar() {
        Some(s) => match parse(s) {
            Ok(v) => Some(v),
            Err(m) => {
                r.error(&t.at, path, Some(s.to_owned()), m);
                None
            }
        },
        None => {
            r.error(&t.at, path, None, "expected a single value".to_owned());
            None
        }
    }
}

/// The items of the sequence `t` at `path`, each read by `item` (problems reported).
fn list<T>(
    r: &mut Report<'_>,
    t: &Tree,
    path: &str,
    item: impl Fn(&mut Report<'_>, &Tree, &str) -> Option<T>,
) -> Vec<T> {
    match &t.value {
        TreeValue::Seq(items) => items
            .iter()
            .enumerate()
            .filter_map(|(i, t)| item(r, t, &format!("{path}[{i}]")))
            .collect(),
        _ => {
            r.error(&t.at, path, t.text(), "expected a list".to_owned());
            Vec::new()
        }
    }
}

/// `{ mac: 02:00:00:00:00:09, address: 10.0.0.9 }`.
fn static_lease(r: &mut Report<'_>, t: &Tree, path: &str) -> Option<StaticLease> {
    let f = Fields::of(r, t, path, &["mac", "address"])?;
    for name in ["mac", "address"] {
        if f.get(name).is_none() {
            r.error(&t.at, path, None, format!("a static lease needs {name}"));
        }
    }
    let mac = f.parse(r, path, "mac", |s| {
        MacAddr::from_str(s).map(|m| m.0).map_err(|e| e.to_string())
    });
    let address = f.parse(r, path, "address", address);
    Some(StaticLease {
        mac: mac?,
        address: address?,
    })
}

/// The validated settings of one `dhcp:`.
#[derive(Debug)]
struct DhcpSettings(DhcpConfig);

impl LinkSpec for DhcpSettings {
    fn element(&self) -> Box<dyn Element> {
        match DhcpServer::new(&self.0) {
            Ok(s) => Box::new(s),
            // `validate` ran the same check.
            Err(e) => unreachable!("validated DHCP configuration refused: {e}"),
        }
    }

    fn summary(&self) -> String {
        let c = &self.0;
        let mut s = format!(
            "dhcp server {}/{} range {}-{} lease {}s",
            c.server,
            c.prefix_len,
            c.range.start(),
            c.range.end(),
            c.lease.as_secs()
        );
        if !c.static_leases.is_empty() {
            s.push_str(&format!(" static {}", c.static_leases.len()));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_durations_parse() {
        assert_eq!(
            range("10.0.0.100-10.0.0.199"),
            Ok((Ipv4Addr::new(10, 0, 0, 100), Ipv4Addr::new(10, 0, 0, 199)))
        );
        assert!(range("10.0.0.100").is_err());
        assert!(range("10.0.0.100-x").is_err());
        assert_eq!(duration("1h"), Ok(std::time::Duration::from_secs(3600)));
    }
}
