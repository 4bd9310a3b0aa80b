//! Stage 2 for `kind: router`: interfaces, ICMP and ARP settings, `routes:` and `routes-file`.
//!
//! Connected subnets, `routes:` and the routes file all go into one [`RouteTable`], so a
//! duplicate destination is found whichever places the two are in. A route whose `to` is one of
//! the router's connected subnets is rejected as a duplicate of the connected route: a connected
//! subnet is always routed out of its interface, and a static route to the same prefix could
//! only shadow it or be shadowed by it.
//!
//! A routes file can hold a million lines. Its loop does no per-line allocation, and messages
//! are built only for the problems that are shown ([`MAX_ROUTES_FILE_PROBLEMS`] per file).
//! Duplicates are found by sorting every destination once at the end, not with a hash set: a
//! million random probes into a 30 MB table while the file streams through the cache took about
//! 0.25 s of a 0.45 s load (2-core machine, release), the sort takes about 20 ms, and less when
//! the file is already in prefix order, as route dumps often are.

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
) -> (RouterSpec, Configured) {
    let (interfaces, lines, configured) = interfaces(r, key, n, path);
    let icmp_rate_limit = count(
        r,
        n.icmp_rate_limit.as_ref(),
        &format!("{path}.icmp-rate-limit"),
        ("icmp-rate-limit", 0, DEFAULT_ICMP_RATE_LIMIT),
        " ICMP errors per second (0 sends none)",
    );
    let icmp_burst = count(
        r,
        n.icmp_burst.as_ref(),
        &format!("{path}.icmp-burst"),
        ("icmp-burst", 1, DEFAULT_ICMP_BURST),
        " (to send no ICMP errors, set icmp-rate-limit: 0)",
    );
    let arp_timeout = duration(
        r,
        n.arp_timeout.as_ref(),
        &format!("{path}.arp-timeout"),
        "arp-timeout",
        DEFAULT_ARP_TIMEOUT,
        MAX_ARP_TIMEOUT,
    );
    let redirects = n.redirects.as_ref().is_none_or(|v| v.value);

    let no_routes = Vec::new();
    let yaml = n.routes.as_ref().map_or(&no_routes, |v| &v.value);
    let mut table = RouteTable::new(&interfaces);
    yaml_routes(r, &mut table, yaml, path);
    let file = n
        .routes_file
        .as_ref()
        .and_then(|f| routes_file(r, &mut table, f, path));
    duplicates(r, &mut table, &lines, yaml, file, path);
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

/// A `u32` field of at least `min`, or `default` if absent or out of range (reported, with
/// `hint` after the range).
pub(super) fn count(
    r: &mut Report<'_>,
    v: Option<&Spanned<i64>>,
    path: &str,
    (name, min, default): (&str, u32, u32),
    hint: &str,
) -> u32 {
    let Some(v) = v else { return default };
    match u32::try_from(v.value) {
        Ok(n) if n >= min => n,
        _ => {
            let max = u32::MAX;
            r.bad(v, path, format!("{name} must be in {min}..={max}{hint}"));
            default
        }
    }
}

/// (name, key location, used by a link?) of each interface, for [`super::Draft`].
type Configured = Vec<(String, Location, bool)>;

/// The interfaces, the line of each one's address, and their [`Configured`] entries.
fn interfaces(
    r: &mut Report<'_>,
    key: &Spanned<String>,
    n: &RawNode,
    path: &str,
) -> (Vec<RouterInterface>, Vec<u64>, Configured) {
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

/// One router's destinations in the order they were written: the connected subnets, then
/// `routes:`, then the routes file. An entry's index in `keys` says which of the three it is.
struct RouteTable<'a> {
    interfaces: &'a [RouterInterface],
    /// Connected subnets at the start of `keys` (interfaces with prefix 0 are left out).
    connected: Vec<usize>,
    /// `(net << 8 | len, index)` of every destination, index = position in this Vec.
    keys: Vec<(u64, u32)>,
    /// The static routes: `routes:` then the routes file.
    routes: Vec<RouteSpec>,
}

impl<'a> RouteTable<'a> {
    fn new(interfaces: &'a [RouterInterface]) -> Self {
        let mut table = RouteTable {
            interfaces,
            connected: Vec::new(),
            keys: Vec::new(),
            routes: Vec::new(),
        };
        for (i, iface) in interfaces.iter().enumerate() {
            let a = iface.address;
            if a.prefix_len > 0 {
                table.connected.push(i);
                table.push_key(a.network(), a.prefix_len);
            }
        }
        table
    }

    fn push_key(&mut self, net: Ipv4Addr, len: u8) {
        // More than 4 billion destinations cannot be in memory; saturating keeps this total.
        let index = u32::try_from(self.keys.len()).unwrap_or(u32::MAX);
        self.keys
            .push((u64::from(u32::from(net)) << 8 | u64::from(len), index));
    }

    /// Add a static route; `to.addr` has no host bits.
    fn push(&mut self, route: RouteSpec) {
        self.push_key(route.to.addr, route.to.prefix_len);
        self.routes.push(route);
    }

    fn reserve(&mut self, additional: usize) {
        self.keys.reserve(additional);
        self.routes.reserve(additional);
    }

    /// `(later, first)` index pairs of equal destinations, by `later`. Takes the keys: this is
    /// the last use of the table but for `routes`.
    fn take_duplicates(&mut self) -> Vec<(usize, usize)> {
        let mut sorted = std::mem::take(&mut self.keys);
        // Equal keys sort by index, so the first of a run is the one written first.
        sorted.sort_unstable();
        let mut out = Vec::new();
        for run in sorted.chunk_by(|a, b| a.0 == b.0) {
            let first = run[0].1 as usize;
            out.extend(run[1..].iter().map(|&(_, later)| (later as usize, first)));
        }
        out.sort_unstable();
        out
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
        let len = to.value.prefix_len;
        let net = to.value.network();
        if net != to.value.addr {
            r.bad(
                to,
                &format!("{rpath}.to"),
                format!("host bits set (did you mean {net}/{len}?)"),
            );
        }
        if let Some(p) = table.via_problem(via.value.0) {
            r.bad(via, &format!("{rpath}.via"), table.via_message(p));
        }
        table.push(RouteSpec {
            to: Ipv4Cidr {
                addr: net,
                prefix_len: len,
            },
            via: via.value.0,
        });
    }
}

/// A routes file that was read, with what the duplicate check needs to report into it.
struct RoutesFile {
    bytes: Vec<u8>,
    /// Line number of each route of the file, in order.
    lines: Vec<u32>,
    problems: FileProblems,
}

/// The problems of one routes file: the first [`MAX_ROUTES_FILE_PROBLEMS`] in line order, and
/// how many there are in all.
struct FileProblems {
    file: String,
    shown: Vec<Problem>,
    total: usize,
}

impl FileProblems {
    /// Add a problem about `token` of `line`; `message` is only built if it is shown.
    fn add(&mut self, line: &Line<'_>, token: Token<'_>, message: impl FnOnce() -> String) {
        self.total += 1;
        if self.shown.len() < MAX_ROUTES_FILE_PROBLEMS {
            let p = self.problem(line, token, message());
            self.shown.push(p);
        }
    }

    /// `file:line:column: routes-file line N: "token": message`.
    fn problem(&self, line: &Line<'_>, token: Token<'_>, message: String) -> Problem {
        Problem {
            file: self.file.clone(),
            line: line.number,
            column: line.column(token.start),
            path: format!("routes-file line {}", line.number),
            value: Some(String::from_utf8_lossy(token.text).into_owned()),
            message,
            suggestions: Vec::new(),
            help: None,
        }
    }

    /// Merge in `more` (sorted by line, the first ones of `more_total`), keep the first
    /// [`MAX_ROUTES_FILE_PROBLEMS`] and say how many were left out.
    fn finish(mut self, more: Vec<Problem>, more_total: usize) -> Vec<Problem> {
        self.shown.extend(more);
        // Stable: on the same line and column, a problem found while reading comes first.
        self.shown.sort_by_key(|p| (p.line, p.column));
        self.shown.truncate(MAX_ROUTES_FILE_PROBLEMS);
        let hidden = self.total + more_total - self.shown.len();
        if hidden > 0 {
            self.shown.push(Problem {
                file: self.file,
                line: 0,
                column: 0,
                path: String::new(),
                value: None,
                message: format!(
                    "and {hidden} more problems in this file (only the first \
                     {MAX_ROUTES_FILE_PROBLEMS} are listed)"
                ),
                suggestions: Vec::new(),
                help: None,
            });
        }
        self.shown
    }
}

/// Read `routes-file` (relative to the topology's directory) and add its routes. Reports a
/// file that cannot be read, and returns `None` for it.
fn routes_file(
    r: &mut Report<'_>,
    table: &mut RouteTable<'_>,
    file: &Spanned<String>,
    path: &str,
) -> Option<RoutesFile> {
    let full = r.base_dir.join(&file.value);
    let read = super::open_regular(&full).and_then(|(mut f, len)| {
        let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        std::io::Read::read_to_end(&mut f, &mut bytes)
            .map(|_| bytes)
            .map_err(|e| e.to_string())
    });
    let bytes = match read {
        Ok(bytes) => bytes,
        Err(e) => {
            let e = e.strip_prefix("cannot read it: ").unwrap_or(&e).to_owned();
            r.bad(
                file,
                &format!("{path}.routes-file"),
                format!("cannot read routes file {}: {e}", full.display()),
            );
            return None;
        }
    };
    // One route per line at most; comments make this an overestimate, which is cheap.
    let max_routes = bytes.iter().filter(|&&b| b == b'\n').count() + 1;
    table.reserve(max_routes);
    let mut lines = Vec::with_capacity(max_routes);
    let mut problems = FileProblems {
        file: full.display().to_string(),
        shown: Vec::new(),
        total: 0,
    };
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
        let via = Ipv4Addr::from(route.via_addr);
        if let Some(p) = table.via_problem(via) {
            problems.add(&line, route.via, || table.via_message(p));
        }
        table.push(RouteSpec {
            to: Ipv4Cidr {
                addr: net,
                prefix_len: len,
            },
            via,
        });
        lines.push(u32::try_from(line.number).unwrap_or(u32::MAX));
    }
    Some(RoutesFile {
        bytes,
        lines,
        problems,
    })
}

/// Where entry `i` of a [`RouteTable`] was written.
#[derive(Debug, Clone, Copy)]
enum Place {
    /// The subnet of interface `.0`.
    Connected(usize),
    /// `routes[.0]`.
    Yaml(usize),
    /// Route `.0` of the routes file (its line is in [`RoutesFile::lines`]).
    File(usize),
}

/// Report every destination written twice, at the later place, naming the first. Two
/// interfaces with the same subnet are not reported here: that is an overlap, already reported.
/// Then hand the routes file's problems, in line order, to the report.
fn duplicates(
    r: &mut Report<'_>,
    table: &mut RouteTable<'_>,
    iface_lines: &[u64],
    yaml: &[Spanned<RawRoute>],
    file: Option<RoutesFile>,
    path: &str,
) {
    let dups = table.take_duplicates();
    let table = &*table;
    let (bytes, file_lines, problems) = match file {
        Some(f) => (f.bytes, f.lines, Some(f.problems)),
        None => (Vec::new(), Vec::new(), None),
    };
    let n_connected = table.connected.len();
    let place = |i: usize| {
        if i < n_connected {
            Place::Connected(table.connected[i])
        } else if i < n_connected + yaml.len() {
            Place::Yaml(i - n_connected)
        } else {
            Place::File(i - n_connected - yaml.len())
        }
    };
    let topology = r.file;
    // "is already defined at …"; `in_file` when said in the routes file, so it names the
    // topology file and the node too.
    let first_message = |first: usize, in_file: bool| {
        let (topology, node) = if in_file {
            (format!("{topology} "), format!("{path}."))
        } else {
            (String::new(), String::new())
        };
        match place(first) {
            Place::Connected(i) => format!(
                "is the connected subnet of interface {:?} ({topology}line {}); \
                 a connected subnet needs no route",
                table.interfaces[i].name, iface_lines[i]
            ),
            Place::Yaml(k) => format!(
                "is already defined at {node}routes[{k}] ({topology}line {})",
                yaml[k].value.to.referenced.line()
            ),
            Place::File(k) => format!("is already defined at line {}", file_lines[k]),
        }
    };
    // (route index in the file, first, destination) for the routes file, in line order.
    let mut in_file = Vec::new();
    for (later, first) in dups {
        // Static routes are the table's entries after the connected subnets.
        let to = || table.routes[later - n_connected].to;
        match place(later) {
            // Two interfaces with one subnet: reported as an overlap.
            Place::Connected(_) => {}
            Place::Yaml(k) => {
                let message = format!("route to {} {}", to(), first_message(first, false));
                r.bad(
                    &yaml[k].value.to,
                    &format!("{path}.routes[{k}].to"),
                    message,
                );
            }
            Place::File(k) => in_file.push((k, first, to())),
        }
    }
    let Some(problems) = problems else { return };
    // Build messages only for the duplicates that can be shown, finding their lines again.
    let mut shown = Vec::new();
    let mut wanted = in_file.iter().take(MAX_ROUTES_FILE_PROBLEMS).peekable();
    for line in Lines::new(&bytes) {
        let Some(&&(k, first, to)) = wanted.peek() else {
            break;
        };
        if line.number != file_lines[k] as usize {
            continue;
        }
        wanted.next();
        if let Ok(route) = line.parsed {
            let message = format!("route to {to} {}", first_message(first, true));
            shown.push(problems.problem(&line, route.to, message));
        }
    }
    r.other_files.extend(problems.finish(shown, in_file.len()));
}
