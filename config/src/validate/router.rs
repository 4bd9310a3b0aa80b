//! Stage 2 for `kind: router`: interfaces, ICMP and ARP settings, `routes:` and `routes-file`.
//!
//! Routes from `routes:` and from the routes file go through one [`RouteTable`], so a duplicate
//! is found whichever of the two places it is in. A route whose `to` is one of the router's
//! connected subnets is rejected as a duplicate of the connected route: connected subnets are
//! always routed out of their interface, and a static route to the same prefix could only
//! shadow or be shadowed by it.
//!
//! A routes file can hold a million lines, so its loop does no per-line allocation: messages
//! are built only for the problems that are shown ([`MAX_ROUTES_FILE_PROBLEMS`] per file).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::net::Ipv4Addr;

use serde_saphyr::{Location, Spanned};

use super::{
    Report, check_short_name, duration, host_address_problem, is_net_or_broadcast, mac, mtu,
};
use crate::problem::Problem;
use crate::raw::{RawNode, RawRoute};
use crate::routes_file::{Line, Lines, Token};
use crate::topology::{
    DEFAULT_ARP_TIMEOUT, DEFAULT_ICMP_BURST, DEFAULT_ICMP_RATE_LIMIT, MAX_ARP_TIMEOUT, RouteSpec,
    RouterInterface, RouterSpec,
};
use crate::types::Ipv4Cidr;

/// Problems listed from one routes file; the rest are counted in one last line, so that a bad
/// million-line file does not print a million lines.
pub(super) const MAX_ROUTES_FILE_PROBLEMS: usize = 20;

/// Build a router's spec. Also returns its interfaces as (name, key location, used) for link
/// resolution and warnings; every entry of `interfaces:` is kept, in order, even a bad one.
pub(super) fn router(
    r: &mut Report<'_>,
    key: &Spanned<String>,
    n: &RawNode,
    path: &str,
) -> (RouterSpec, Vec<(String, Location, bool)>) {
    let (interfaces, lines, configured) = interfaces(r, key, n, path);
    let icmp_rate_limit = n
        .icmp_rate_limit
        .as_ref()
        .map_or(DEFAULT_ICMP_RATE_LIMIT, |v| {
            u32::try_from(v.value).unwrap_or_else(|_| {
                r.bad(
                    v,
                    &format!("{path}.icmp-rate-limit"),
                    format!(
                        "icmp-rate-limit must be in 0..={} ICMP errors per second \
                         (0 sends none)",
                        u32::MAX
                    ),
                );
                DEFAULT_ICMP_RATE_LIMIT
            })
        });
    let icmp_burst =
        n.icmp_burst
            .as_ref()
            .map_or(DEFAULT_ICMP_BURST, |v| match u32::try_from(v.value) {
                Ok(b) if b >= 1 => b,
                _ => {
                    r.bad(
                        v,
                        &format!("{path}.icmp-burst"),
                        format!(
                            "icmp-burst must be in 1..={} (to send no ICMP errors, \
                         set icmp-rate-limit: 0)",
                            u32::MAX
                        ),
                    );
                    DEFAULT_ICMP_BURST
                }
            });
    let arp_timeout = duration(
        r,
        n.arp_timeout.as_ref(),
        &format!("{path}.arp-timeout"),
        "arp-timeout",
        DEFAULT_ARP_TIMEOUT,
        MAX_ARP_TIMEOUT,
    );
    let redirects = n.redirects.as_ref().is_none_or(|v| v.value);

    let mut table = RouteTable::new(&interfaces, &lines);
    if let Some(routes) = &n.routes {
        yaml_routes(r, &mut table, &routes.value, path);
    }
    if let Some(file) = &n.routes_file {
        routes_file(r, &mut table, file, path);
    }
    let routes = table.routes;
    let spec = RouterSpec {
        interfaces,
        routes,
        icmp_rate_limit,
        icmp_burst,
        arp_timeout,
        redirects,
    };
    (spec, configured)
}

/// The interfaces, the line of each one's address, and (name, key location, used) for each.
#[allow(clippy::type_complexity)]
fn interfaces(
    r: &mut Report<'_>,
    key: &Spanned<String>,
    n: &RawNode,
    path: &str,
) -> (
    Vec<RouterInterface>,
    Vec<u64>,
    Vec<(String, Location, bool)>,
) {
    let mut out: Vec<RouterInterface> = Vec::new();
    let mut lines = Vec::new();
    let mut configured = Vec::new();
    let Some(map) = &n.interfaces else {
        r.error(
            &key.referenced,
            path,
            None,
            format!(
                "router {:?} needs at least one interface \
                 (interfaces: {{ <name>: {{ address: a.b.c.d/len }} }})",
                key.value
            ),
        );
        return (out, lines, configured);
    };
    if map.value.0.is_empty() {
        r.error(
            &map.referenced,
            &format!("{path}.interfaces"),
            None,
            format!("router {:?} needs at least one interface", key.value),
        );
    }
    for (ikey, iface) in &map.value.0 {
        let ipath = format!("{path}.interfaces.{}", ikey.value);
        if let Err(why) = check_short_name(&ikey.value, "interface") {
            r.bad(ikey, &ipath, why);
        }
        let a = &iface.value.address;
        let apath = format!("{ipath}.address");
        let overlap = out
            .iter()
            .zip(&lines)
            .find(|(o, _)| o.address.prefix_len > 0 && overlaps(&o.address, &a.value));
        if a.value.prefix_len == 0 {
            r.bad(
                a,
                &apath,
                "a router interface needs a prefix length of at least 1".to_owned(),
            );
        } else if let Some(why) = host_address_problem(&a.value) {
            r.bad(a, &apath, why);
        } else if let Some((other, line)) = overlap {
            r.bad(
                a,
                &apath,
                format!(
                    "subnet {}/{} overlaps subnet {}/{} of interface {:?} (line {line})",
                    a.value.network(),
                    a.value.prefix_len,
                    other.address.network(),
                    other.address.prefix_len,
                    other.name
                ),
            );
        }
        out.push(RouterInterface {
            name: ikey.value.clone(),
            address: a.value,
            mtu: mtu(r, iface.value.mtu.as_ref(), &format!("{ipath}.mtu")),
            mac: mac(r, iface.value.mac.as_ref(), &format!("{ipath}.mac")),
        });
        lines.push(a.referenced.line());
        configured.push((ikey.value.clone(), ikey.referenced, false));
    }
    (out, lines, configured)
}

/// Two prefixes overlap when one holds the other's network address.
fn overlaps(a: &Ipv4Cidr, b: &Ipv4Cidr) -> bool {
    a.contains(b.network()) || b.contains(a.network())
}

/// `net/len` with the host bits of `net` cleared.
fn network(addr: u32, prefix_len: u8) -> Ipv4Addr {
    Ipv4Cidr {
        addr: Ipv4Addr::from(addr),
        prefix_len,
    }
    .network()
}

/// Where a route's `to` was first seen.
#[derive(Debug, Clone, Copy)]
enum Origin {
    /// The connected subnet of interface `.0`.
    Connected(usize),
    /// `routes[index]`, at `line` of the topology file.
    Route { index: usize, line: u64 },
    /// A line of the routes file.
    FileLine(usize),
}

/// Why a next hop is not usable.
#[derive(Debug, Clone, Copy)]
enum ViaProblem {
    /// The address of interface `.0`.
    Own(usize),
    /// On no connected subnet.
    NotConnected,
    /// The network or broadcast address of interface `.0`'s subnet.
    NetOrBroadcast(usize),
}

/// The routes of one router so far, keyed by destination for the duplicate check.
struct RouteTable<'a> {
    interfaces: &'a [RouterInterface],
    /// Line of each interface's address in the topology file.
    lines: &'a [u64],
    seen: HashMap<(u32, u8), Origin>,
    routes: Vec<RouteSpec>,
}

impl<'a> RouteTable<'a> {
    fn new(interfaces: &'a [RouterInterface], lines: &'a [u64]) -> Self {
        let mut seen = HashMap::new();
        for (i, iface) in interfaces.iter().enumerate() {
            let a = iface.address;
            if a.prefix_len > 0 {
                let key = (u32::from(a.network()), a.prefix_len);
                seen.entry(key).or_insert(Origin::Connected(i));
            }
        }
        RouteTable {
            interfaces,
            lines,
            seen,
            routes: Vec::new(),
        }
    }

    fn reserve(&mut self, additional: usize) {
        self.seen.reserve(additional);
        self.routes.reserve(additional);
    }

    /// Record a route to `net/len`; `Some(origin)` of the earlier one if there is one.
    fn insert(&mut self, net: Ipv4Addr, len: u8, origin: Origin) -> Option<Origin> {
        match self.seen.entry((u32::from(net), len)) {
            Entry::Occupied(e) => Some(*e.get()),
            Entry::Vacant(e) => {
                e.insert(origin);
                None
            }
        }
    }

    fn via_problem(&self, via: Ipv4Addr) -> Option<ViaProblem> {
        // With no interfaces, that is the problem already reported; every route would add one.
        if self.interfaces.is_empty() {
            return None;
        }
        if let Some(i) = self.interfaces.iter().position(|i| i.address.addr == via) {
            return Some(ViaProblem::Own(i));
        }
        match self
            .interfaces
            .iter()
            .position(|i| i.address.prefix_len > 0 && i.address.contains(via))
        {
            None => Some(ViaProblem::NotConnected),
            Some(i) if is_net_or_broadcast(&self.interfaces[i].address, via) => {
                Some(ViaProblem::NetOrBroadcast(i))
            }
            Some(_) => None,
        }
    }

    fn via_message(&self, p: ViaProblem) -> String {
        match p {
            ViaProblem::Own(i) => format!(
                "next hop is this router's own address (interface {:?})",
                self.interfaces[i].name
            ),
            ViaProblem::NotConnected => {
                let subnets: Vec<String> = self
                    .interfaces
                    .iter()
                    .map(|i| {
                        format!(
                            "{} {}/{}",
                            i.name,
                            i.address.network(),
                            i.address.prefix_len
                        )
                    })
                    .collect();
                format!(
                    "next hop is not on a connected subnet ({})",
                    subnets.join(", ")
                )
            }
            ViaProblem::NetOrBroadcast(i) => {
                let a = self.interfaces[i].address;
                format!(
                    "next hop is the network or broadcast address of {}/{} (interface {:?})",
                    a.network(),
                    a.prefix_len,
                    self.interfaces[i].name
                )
            }
        }
    }

    /// "is already defined at …" for a duplicate of `o`. `from_file` is (topology file, node
    /// path) when the duplicate is in the routes file, so the message says where `o` is.
    fn origin_message(&self, o: Origin, from_file: Option<(&str, &str)>) -> String {
        let (file, node) = match from_file {
            Some((file, node)) => (format!("{file} "), format!("{node}.")),
            None => (String::new(), String::new()),
        };
        match o {
            Origin::Connected(i) => format!(
                "is the connected subnet of interface {:?} ({file}line {}); \
                 a connected subnet needs no route",
                self.interfaces[i].name, self.lines[i]
            ),
            Origin::Route { index, line } => {
                format!("is already defined at {node}routes[{index}] ({file}line {line})")
            }
            Origin::FileLine(line) => format!("is already defined at line {line}"),
        }
    }
}

fn yaml_routes(
    r: &mut Report<'_>,
    table: &mut RouteTable<'_>,
    routes: &[Spanned<RawRoute>],
    path: &str,
) {
    for (index, route) in routes.iter().enumerate() {
        let rpath = format!("{path}.routes[{index}]");
        let RawRoute { to, via } = &route.value;
        let tpath = format!("{rpath}.to");
        let len = to.value.prefix_len;
        let net = to.value.network();
        if net != to.value.addr {
            r.bad(
                to,
                &tpath,
                format!("host bits set (did you mean {net}/{len}?)"),
            );
        }
        let origin = Origin::Route {
            index,
            line: to.referenced.line(),
        };
        if let Some(first) = table.insert(net, len, origin) {
            let why = table.origin_message(first, None);
            r.bad(to, &tpath, format!("route to {net}/{len} {why}"));
        }
        if let Some(p) = table.via_problem(via.value.0) {
            r.bad(via, &format!("{rpath}.via"), table.via_message(p));
        }
        table.routes.push(RouteSpec {
            to: Ipv4Cidr {
                addr: net,
                prefix_len: len,
            },
            via: via.value.0,
        });
    }
}

/// The problems of one routes file, in line order, at most [`MAX_ROUTES_FILE_PROBLEMS`].
struct FileProblems {
    file: String,
    shown: Vec<Problem>,
    hidden: usize,
}

impl FileProblems {
    /// Add a problem about `token` of `line`; `message` is only built if it is shown.
    fn add(&mut self, line: &Line<'_>, token: Token<'_>, message: impl FnOnce() -> String) {
        if self.shown.len() >= MAX_ROUTES_FILE_PROBLEMS {
            self.hidden += 1;
            return;
        }
        self.shown.push(Problem {
            file: self.file.clone(),
            line: line.number,
            column: line.column(token.start),
            path: format!("routes-file line {}", line.number),
            value: Some(String::from_utf8_lossy(token.text).into_owned()),
            message: message(),
        });
    }

    fn finish(mut self) -> Vec<Problem> {
        if self.hidden > 0 {
            self.shown.push(Problem {
                file: self.file,
                line: 0,
                column: 0,
                path: String::new(),
                value: None,
                message: format!(
                    "and {} more problems in this file (only the first \
                     {MAX_ROUTES_FILE_PROBLEMS} are listed)",
                    self.hidden
                ),
            });
        }
        self.shown
    }
}

/// Read `routes-file` (relative to the topology's directory) and add its routes.
fn routes_file(r: &mut Report<'_>, table: &mut RouteTable<'_>, file: &Spanned<String>, path: &str) {
    let full = r.base_dir.join(&file.value);
    let bytes = match std::fs::read(&full) {
        Ok(bytes) => bytes,
        Err(e) => {
            r.bad(
                file,
                &format!("{path}.routes-file"),
                format!("cannot read routes file {}: {e}", full.display()),
            );
            return;
        }
    };
    // One route per line at most; comments make this an overestimate, which is cheap.
    table.reserve(bytes.iter().filter(|&&b| b == b'\n').count() + 1);
    let mut problems = FileProblems {
        file: full.display().to_string(),
        shown: Vec::new(),
        hidden: 0,
    };
    let topology = (r.file, path);
    for line in Lines::new(&bytes) {
        let route = match line.parsed {
            Ok(route) => route,
            Err((e, token)) => {
                problems.add(&line, token, || e.to_string());
                continue;
            }
        };
        let len = route.prefix_len;
        let net = network(route.to_addr, len);
        if u32::from(net) != route.to_addr {
            problems.add(&line, route.to, || {
                format!("host bits set (did you mean {net}/{len}?)")
            });
        }
        if let Some(first) = table.insert(net, len, Origin::FileLine(line.number)) {
            problems.add(&line, route.to, || {
                let why = table.origin_message(first, Some(topology));
                format!("route to {net}/{len} {why}")
            });
        }
        let via = Ipv4Addr::from(route.via_addr);
        if let Some(p) = table.via_problem(via) {
            problems.add(&line, route.via, || table.via_message(p));
        }
        table.routes.push(RouteSpec {
            to: Ipv4Cidr {
                addr: net,
                prefix_len: len,
            },
            via,
        });
    }
    r.other_files.extend(problems.finish());
}
