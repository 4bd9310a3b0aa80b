//! Stage 2: check what the file means and build the [`Topology`]. Collects every problem.
//!
//! Checks run in file order and never stop early: a bad value is reported and replaced by its
//! default so the checks after it (links, duplicates) still run. A node whose `kind` is unknown
//! gets exactly one problem; links to it are not reported again. Problems are sorted by
//! position at the end, so the output reads top to bottom like the file. Problems in a router's
//! `routes-file` come after those of the topology file, in line order, at most
//! [`router::MAX_ROUTES_FILE_PROBLEMS`] per file.

mod function;
mod pcap;
mod router;

use std::collections::HashMap;
use std::fmt::Display;
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use serde_saphyr::{Location, Spanned};

use crate::Loaded;
use crate::problem::{ConfigError, Problem};
use crate::raw::{
    RawChain, RawDuration, RawLink, RawMap, RawMetrics, RawNode, RawPort, RawTopology,
    fields_of_kind,
};
use crate::topology::{
    DEFAULT_AGEING, DEFAULT_HOST_IFNAME, DEFAULT_MAC_TABLE_SIZE, DEFAULT_MTU, DEFAULT_VLAN,
    Endpoint, HostSpec, KNOWN_KINDS, Link, MAX_AGEING, MAX_SPIN, MAX_TAP_QUEUES, MAX_WORKERS,
    MTU_RANGE, MetricsSpec, Node, NodeKind, PollSpec, SwitchPort, SwitchSpec, TapSpec, Topology,
    VLAN_RANGE, VlanMode,
};
use crate::types::{IfName, Ipv4Cidr, MacAddr};

/// Longest topology, node and port name.
const NAME_MAX_LEN: usize = 32;

/// Collects errors and warnings with their positions.
pub(crate) struct Report<'f> {
    file: &'f str,
    /// Directory that a relative `routes-file` is resolved against.
    base_dir: &'f Path,
    errors: Vec<Problem>,
    /// Errors in other files (routes files), already in order; printed after `errors`.
    other_files: Vec<Problem>,
    warnings: Vec<Problem>,
}

impl Report<'_> {
    fn problem(
        &self,
        at: &Location,
        path: &str,
        value: Option<String>,
        message: String,
    ) -> Problem {
        Problem {
            file: self.file.to_owned(),
            line: usize::try_from(at.line()).unwrap_or(0),
            column: usize::try_from(at.column()).unwrap_or(0),
            path: path.to_owned(),
            value,
            message,
            suggestions: Vec::new(),
            help: None,
        }
    }

    /// Errors reported so far (a validator compares before and after).
    pub(crate) fn error_count(&self) -> usize {
        self.errors.len()
    }

    pub(crate) fn error(
        &mut self,
        at: &Location,
        path: &str,
        value: Option<String>,
        message: String,
    ) {
        let p = self.problem(at, path, value, message);
        self.errors.push(p);
    }

    /// Attach "did you mean" suggestions for `word` among `candidates` (in the order they
    /// should be preferred on a tie) to the last error.
    pub(crate) fn suggest<'c>(
        &mut self,
        word: &str,
        candidates: impl IntoIterator<Item = &'c str>,
    ) {
        if let Some(p) = self.errors.last_mut() {
            p.suggestions = crate::suggest::closest(word, candidates);
        }
    }

    /// An error about a value: its text is the `"value"` part.
    fn bad<T: Display>(&mut self, v: &Spanned<T>, path: &str, message: String) {
        self.error(&v.referenced, path, Some(v.value.to_string()), message);
    }

    fn warn(&mut self, at: &Location, path: &str, message: String) {
        let p = self.problem(at, path, None, message);
        self.warnings.push(p);
    }

    /// A warning about a value, with its text as the `"value"` part.
    fn warn_value(&mut self, at: &Location, path: &str, value: String, message: String) {
        let p = self.problem(at, path, Some(value), message);
        self.warnings.push(p);
    }
}

/// Open `path` for reading if it is a regular file; its length. A FIFO blocks the open until
/// a writer comes and a device such as `/dev/zero` never ends, so anything else is refused
/// (stat before open, fstat after). The error is the message's tail: `cannot read it: ...`
/// or `not a regular file ...`.
pub(crate) fn open_regular(path: &std::path::Path) -> Result<(std::fs::File, u64), String> {
    let regular = |m: &std::fs::Metadata| {
        if m.is_file() {
            Ok(m.len())
        } else {
            Err("not a regular file (a FIFO, device or directory cannot be read)".to_owned())
        }
    };
    let cannot = |e: std::io::Error| format!("cannot read it: {e}");
    regular(&std::fs::metadata(path).map_err(cannot)?)?;
    let file = std::fs::File::open(path).map_err(cannot)?;
    let len = regular(&file.metadata().map_err(cannot)?)?;
    Ok((file, len))
}

/// What stage 2 knows about a node while links are resolved.
struct Draft {
    name: String,
    at: Location,
    /// `None` if `kind` is unknown (already reported).
    kind: Option<NodeKind>,
    /// Switch: configured ports; router: interfaces; nat, firewall: its two sides, at the
    /// node's key (name, key location, used by a link?).
    configured_ports: Vec<(String, Location, bool)>,
    /// Switch only: ports first seen in links, in link order.
    link_ports: Vec<String>,
    used: bool,
    /// `worker:` when valid.
    worker: Option<u16>,
}

/// `[A-Za-z0-9][A-Za-z0-9_.-]*`, at most 32 bytes. `Err` is the reason.
fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("name is empty".to_owned());
    }
    if name.len() > NAME_MAX_LEN {
        return Err(format!(
            "name is {} bytes, at most {NAME_MAX_LEN} allowed",
            name.len()
        ));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err("name must start with a letter or digit".to_owned());
    }
    if let Some(c) = name
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(format!(
            "name must not contain {c:?} (allowed: letters, digits, '_', '.', '-')"
        ));
    }
    Ok(())
}

/// A switch port name: `[A-Za-z0-9_-]+`, at most 32 bytes.
fn check_port_name(name: &str) -> Result<(), String> {
    check_short_name(name, "port")
}

/// `[A-Za-z0-9_-]+`, at most 32 bytes: switch port and router interface names. `what` starts
/// the reason (`"port"` or `"interface"`).
fn check_short_name(name: &str, what: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err(format!("{what} name is empty"));
    }
    if name.len() > NAME_MAX_LEN {
        return Err(format!(
            "{what} name is {} bytes, at most {NAME_MAX_LEN} allowed",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-')))
    {
        return Err(format!(
            "{what} name must not contain {c:?} (allowed: letters, digits, '_', '-')"
        ));
    }
    Ok(())
}

fn mtu(r: &mut Report<'_>, v: Option<&Spanned<i64>>, path: &str) -> u16 {
    let Some(v) = v else { return DEFAULT_MTU };
    match u16::try_from(v.value) {
        Ok(m) if MTU_RANGE.contains(&m) => m,
        _ => {
            r.bad(
                v,
                path,
                format!("MTU must be in {}..={}", MTU_RANGE.start(), MTU_RANGE.end()),
            );
            DEFAULT_MTU
        }
    }
}

fn mac(r: &mut Report<'_>, v: Option<&Spanned<MacAddr>>, path: &str) -> Option<MacAddr> {
    let v = v?;
    if v.value.is_multicast() {
        r.bad(
            v,
            path,
            "MAC address must be unicast (the low bit of the first octet is set)".to_owned(),
        );
    } else if v.value.is_zero() {
        r.bad(v, path, "MAC address must not be all zeros".to_owned());
    }
    Some(v.value)
}

fn vlan(r: &mut Report<'_>, v: &Spanned<i64>, path: &str) -> u16 {
    match u16::try_from(v.value) {
        Ok(id) if VLAN_RANGE.contains(&id) => id,
        _ => {
            r.bad(
                v,
                path,
                format!(
                    "VLAN id must be in {}..={}",
                    VLAN_RANGE.start(),
                    VLAN_RANGE.end()
                ),
            );
            DEFAULT_VLAN
        }
    }
}

/// A positive duration up to `max`, or `default` (an out-of-range value is reported).
fn duration(
    r: &mut Report<'_>,
    v: Option<&Spanned<RawDuration>>,
    path: &str,
    name: &str,
    default: Duration,
    max: Duration,
) -> Duration {
    let Some(v) = v else { return default };
    let d = v.value.value;
    if d == Duration::ZERO || d > max {
        r.error(
            &v.referenced,
            path,
            Some(v.value.text.clone()),
            format!("{name} must be more than 0 and at most {}s", max.as_secs()),
        );
        default
    } else {
        d
    }
}

/// Why `cidr` is not a usable interface address (network or broadcast address), if it is not.
fn host_address_problem(cidr: &Ipv4Cidr) -> Option<String> {
    if !is_net_or_broadcast(cidr, cidr.addr) {
        return None;
    }
    let which = if cidr.addr == cidr.network() {
        "network"
    } else {
        "broadcast"
    };
    Some(format!(
        "{} is the {which} address of {}/{}, not a host address",
        cidr.addr,
        cidr.network(),
        cidr.prefix_len
    ))
}

/// For prefixes < 31 the network and broadcast addresses are not host addresses (RFC 3021
/// allows both addresses of a /31; a /32 is a single host).
fn is_net_or_broadcast(cidr: &Ipv4Cidr, ip: Ipv4Addr) -> bool {
    cidr.prefix_len < 31 && (ip == cidr.network() || ip == cidr.broadcast())
}

fn host(r: &mut Report<'_>, topo: &str, name: &str, n: &RawNode, path: &str) -> HostSpec {
    let ifname = n.ifname.as_ref().map_or_else(
        || IfName(DEFAULT_HOST_IFNAME.to_owned()),
        |v| v.value.clone(),
    );
    let address = n.address.as_ref().map(|a| {
        if let Some(why) = host_address_problem(&a.value) {
            r.bad(a, &format!("{path}.address"), why);
        }
        a.value
    });
    let gateway = n.gateway.as_ref().map(|g| {
        let gpath = format!("{path}.gateway");
        match address {
            None => r.bad(g, &gpath, "gateway needs an address on the host".to_owned()),
            Some(a) if !a.contains(g.value.0) => r.bad(
                g,
                &gpath,
                format!(
                    "gateway is outside the host's subnet {}/{}",
                    a.network(),
                    a.prefix_len
                ),
            ),
            Some(a) if a.addr == g.value.0 => {
                r.bad(g, &gpath, "gateway is the host's own address".to_owned());
            }
            Some(a) if is_net_or_broadcast(&a, g.value.0) => r.bad(
                g,
                &gpath,
                format!(
                    "gateway is the network or broadcast address of {}/{}",
                    a.network(),
                    a.prefix_len
                ),
            ),
            Some(_) => {}
        }
        g.value.0
    });
    HostSpec {
        netns: format!("{topo}-{name}"),
        ifname,
        address,
        gateway,
        mac: mac(r, n.mac.as_ref(), &format!("{path}.mac")),
        mtu: mtu(r, n.mtu.as_ref(), &format!("{path}.mtu")),
        queues: n
            .queues
            .as_ref()
            .map_or(1, |q| match u16::try_from(q.value) {
                Ok(v) if (1..=MAX_TAP_QUEUES).contains(&v) => v,
                _ => {
                    r.bad(
                        q,
                        &format!("{path}.queues"),
                        format!("expected a number of TAP queues from 1 to {MAX_TAP_QUEUES}"),
                    );
                    1
                }
            }),
    }
}

/// `None` if the tap has no valid interface name (reported); links to it are then skipped.
fn tap(r: &mut Report<'_>, key: &Spanned<String>, n: &RawNode, path: &str) -> Option<TapSpec> {
    let mtu = mtu(r, n.mtu.as_ref(), &format!("{path}.mtu"));
    let mac = mac(r, n.mac.as_ref(), &format!("{path}.mac"));
    let ifname = match &n.ifname {
        Some(v) => v.value.clone(),
        None => match key.value.parse::<IfName>() {
            Ok(name) => name,
            Err(e) => {
                let why = format!(
                    "a tap's interface name defaults to its node name, \
                     which is not a valid interface name ({e}); set ifname"
                );
                r.bad(key, path, why);
                return None;
            }
        },
    };
    Some(TapSpec { ifname, mtu, mac })
}

fn switch(
    r: &mut Report<'_>,
    n: &RawNode,
    path: &str,
) -> (SwitchSpec, Vec<(String, Location, bool)>) {
    let mac_table_size = n
        .mac_table_size
        .as_ref()
        .map_or(DEFAULT_MAC_TABLE_SIZE, |v| match u32::try_from(v.value) {
            Ok(size) if size >= 1 => size,
            _ => {
                r.bad(
                    v,
                    &format!("{path}.mac-table-size"),
                    format!("mac-table-size must be in 1..={}", u32::MAX),
                );
                DEFAULT_MAC_TABLE_SIZE
            }
        });
    let ageing = duration(
        r,
        n.ageing.as_ref(),
        &format!("{path}.ageing"),
        "ageing",
        DEFAULT_AGEING,
        MAX_AGEING,
    );
    let mut ports = Vec::new();
    let mut configured = Vec::new();
    if let Some(RawMap(entries)) = n.ports.as_ref().map(|p| &p.value) {
        for (key, port) in entries {
            let ppath = format!("{path}.ports.{}", key.value);
            if let Err(why) = check_port_name(&key.value) {
                r.bad(key, &ppath, why);
            }
            ports.push(SwitchPort {
                name: key.value.clone(),
                mode: port_mode(r, &port.value, &ppath),
            });
            configured.push((key.value.clone(), key.referenced, false));
        }
    }
    (
        SwitchSpec {
            mac_table_size,
            ageing,
            ports,
        },
        configured,
    )
}

fn port_mode(r: &mut Report<'_>, p: &RawPort, path: &str) -> VlanMode {
    match (&p.vlan, &p.vlans) {
        (Some(v), Some(vs)) => {
            r.error(
                &vs.referenced,
                &format!("{path}.vlans"),
                None,
                format!(
                    "vlan (access port) and vlans (trunk port) cannot be used together; \
                     vlan is at line {}",
                    v.referenced.line()
                ),
            );
            VlanMode::Access {
                vlan: vlan(r, v, &format!("{path}.vlan")),
            }
        }
        (access, None) => {
            if let Some(n) = &p.native_vlan {
                r.bad(
                    n,
                    &format!("{path}.native-vlan"),
                    "native-vlan is only valid on a trunk port (with vlans)".to_owned(),
                );
            }
            VlanMode::Access {
                vlan: access
                    .as_ref()
                    .map_or(DEFAULT_VLAN, |v| vlan(r, v, &format!("{path}.vlan"))),
            }
        }
        (None, Some(vs)) => {
            if vs.value.is_empty() {
                r.error(
                    &vs.referenced,
                    &format!("{path}.vlans"),
                    None,
                    "vlans is empty; list at least one VLAN id, or use vlan for an access port"
                        .to_owned(),
                );
            }
            let mut vlans: Vec<u16> = Vec::new();
            let mut first_at: HashMap<i64, u64> = HashMap::new();
            for (i, v) in vs.value.iter().enumerate() {
                let vpath = format!("{path}.vlans[{i}]");
                if let Some(line) = first_at.get(&v.value) {
                    r.bad(
                        v,
                        &vpath,
                        format!("VLAN {} is listed twice (first at line {line})", v.value),
                    );
                    continue;
                }
                first_at.insert(v.value, v.referenced.line());
                vlans.push(vlan(r, v, &vpath));
            }
            let native = p
                .native_vlan
                .as_ref()
                .map(|n| vlan(r, n, &format!("{path}.native-vlan")));
            VlanMode::Trunk { vlans, native }
        }
    }
}

/// Report `kind`-invalid fields of `n`.
fn check_fields_for_kind(r: &mut Report<'_>, kind: &str, n: &RawNode, path: &str) {
    let Some(valid) = fields_of_kind(kind) else {
        return;
    };
    for field in n.present_fields() {
        if !valid.contains(&field.name) {
            r.error(
                &field.at,
                &format!("{path}.{}", field.name),
                field.value,
                format!(
                    "field not valid for kind {kind} (valid: {})",
                    valid.join(", ")
                ),
            );
        }
    }
}

fn node(r: &mut Report<'_>, topo: &str, key: &Spanned<String>, n: &RawNode) -> Draft {
    let path = format!("nodes.{}", key.value);
    if let Err(why) = check_name(&key.value) {
        r.bad(key, &path, format!("node {why}"));
    }
    let kind = n.kind.value.as_str();
    check_fields_for_kind(r, kind, n, &path);
    let mut configured_ports = Vec::new();
    let kind = match kind {
        "host" => Some(NodeKind::Host(host(r, topo, &key.value, n, &path))),
        "tap" => tap(r, key, n, &path).map(NodeKind::Tap),
        "pcap" => pcap::pcap(r, key, n, &path).map(NodeKind::Pcap),
        "switch" => {
            let (spec, configured) = switch(r, n, &path);
            configured_ports = configured;
            Some(NodeKind::Switch(spec))
        }
        "router" => {
            let (spec, interfaces) = router::router(r, key, n, &path);
            configured_ports = interfaces;
            Some(NodeKind::Router(spec))
        }
        "nat" => Some(NodeKind::Nat(function::nat(r, key, n, &path))),
        "firewall" => Some(NodeKind::Firewall(function::firewall(r, n, &path))),
        other => {
            r.bad(
                &n.kind,
                &format!("{path}.kind"),
                format!(
                    "unknown kind {other:?}, expected one of {}",
                    KNOWN_KINDS.join(", ")
                ),
            );
            r.suggest(other, KNOWN_KINDS.iter().copied());
            None
        }
    };
    if let Some(sides) = kind.as_ref().and_then(NodeKind::sides) {
        configured_ports = sides
            .iter()
            .map(|s| ((*s).to_owned(), key.referenced, false))
            .collect();
    }
    let worker = n
        .worker
        .as_ref()
        .and_then(|w| match u16::try_from(w.value) {
            Ok(v) if v < MAX_WORKERS => Some(v),
            _ => {
                r.bad(
                    w,
                    &format!("{path}.worker"),
                    format!("expected a worker number from 0 to {}", MAX_WORKERS - 1),
                );
                None
            }
        });
    Draft {
        name: key.value.clone(),
        at: key.referenced,
        kind,
        configured_ports,
        link_ports: Vec::new(),
        used: false,
        worker,
    }
}

/// `workers:` and every node's `worker:` against it.
fn workers(r: &mut Report<'_>, raw: &RawTopology) -> Option<u16> {
    let workers = raw
        .workers
        .as_ref()
        .and_then(|w| match u16::try_from(w.value) {
            Ok(v) if (1..=MAX_WORKERS).contains(&v) => Some(v),
            _ => {
                r.bad(
                    w,
                    "workers",
                    format!("expected a number of worker threads from 1 to {MAX_WORKERS}"),
                );
                None
            }
        });
    for (key, n) in &raw.nodes.value.0 {
        let Some(w) = &n.value.worker else { continue };
        let path = format!("nodes.{}.worker", key.value);
        match (raw.workers.as_ref(), workers) {
            (None, _) => r.bad(
                w,
                &path,
                "a node's worker needs `workers:` at the top level (the default number \
                 of workers depends on the machine)"
                    .to_string(),
            ),
            (Some(_), Some(total))
                if w.value >= i64::from(total) && w.value < i64::from(MAX_WORKERS) =>
            {
                r.bad(
                    w,
                    &path,
                    format!(
                        "there is no worker {}: `workers: {total}` makes workers 0 to {}",
                        w.value,
                        total - 1
                    ),
                )
            }
            _ => {}
        }
    }
    workers
}

/// A value that must be unique across nodes (an address, a MAC, a TAP name) and where it is.
struct Claim<K> {
    key: K,
    node: String,
    at: Location,
    path: String,
    /// The value as written, for the message.
    text: String,
}

/// Report every claim whose key an earlier claim already has, naming both nodes.
fn duplicates<K: Eq + std::hash::Hash + Display>(
    r: &mut Report<'_>,
    claims: &[Claim<K>],
    what: &str,
) {
    let mut first: HashMap<&K, &Claim<K>> = HashMap::new();
    for c in claims {
        match first.get(&c.key) {
            Some(other) => r.error(
                &c.at,
                &c.path,
                Some(c.text.clone()),
                format!(
                    "{what} {} is already used by node {:?} (line {})",
                    c.key,
                    other.node,
                    other.at.line()
                ),
            ),
            None => {
                first.insert(&c.key, c);
            }
        }
    }
}

fn cross_node_checks(r: &mut Report<'_>, raw: &RawTopology, drafts: &[Draft]) {
    let mut addresses = Vec::new();
    let mut macs = Vec::new();
    let mut taps = Vec::new();
    for ((key, n), d) in raw.nodes.value.0.iter().zip(drafts) {
        let path = format!("nodes.{}", key.value);
        let n = &n.value;
        match &d.kind {
            Some(NodeKind::Host(h)) => {
                if let (Some(a), Some(cidr)) = (&n.address, h.address) {
                    addresses.push(Claim {
                        key: cidr.addr,
                        node: d.name.clone(),
                        at: a.referenced,
                        path: format!("{path}.address"),
                        text: cidr.to_string(),
                    });
                }
            }
            Some(NodeKind::Tap(t)) => {
                // A defaulted name is claimed at the node's key.
                let (at, tpath) = match &n.ifname {
                    Some(v) => (v.referenced, format!("{path}.ifname")),
                    None => (key.referenced, path.clone()),
                };
                taps.push(Claim {
                    key: t.ifname.clone(),
                    node: d.name.clone(),
                    at,
                    path: tpath,
                    text: t.ifname.to_string(),
                });
            }
            Some(NodeKind::Router(rt)) => {
                // `router()` keeps every entry of `interfaces:`, in order.
                let raw_ifaces = n.interfaces.iter().flat_map(|m| &m.value.0);
                for ((ikey, raw), iface) in raw_ifaces.zip(&rt.interfaces) {
                    let ipath = format!("{path}.interfaces.{}", ikey.value);
                    addresses.push(Claim {
                        key: iface.address.addr,
                        node: d.name.clone(),
                        at: raw.value.address.referenced,
                        path: format!("{ipath}.address"),
                        text: iface.address.to_string(),
                    });
                    if let Some(m) = &raw.value.mac {
                        macs.push(Claim {
                            key: m.value,
                            node: d.name.clone(),
                            at: m.referenced,
                            path: format!("{ipath}.mac"),
                            text: m.value.to_string(),
                        });
                    }
                }
            }
            Some(NodeKind::Nat(nat)) => {
                // The NAT owns its external and one-to-one outside addresses.
                let mut claim = |a: &Spanned<crate::raw::RawIpv4>, apath: String| {
                    addresses.push(Claim {
                        key: a.value.0,
                        node: d.name.clone(),
                        at: a.referenced,
                        path: apath,
                        text: a.value.to_string(),
                    });
                };
                for (i, a) in n.external.iter().flat_map(|v| &v.value).enumerate() {
                    claim(a, format!("{path}.external[{i}]"));
                }
                for (i, m) in n.one_to_one.iter().flat_map(|v| &v.value).enumerate() {
                    // One of its own external addresses: reported by `function::nat`.
                    let outside = &m.value.outside;
                    if !nat.external.contains(&outside.value.0) {
                        claim(outside, format!("{path}.one-to-one[{i}].outside"));
                    }
                }
                for (name, m) in [
                    ("mac-inside", &n.mac_inside),
                    ("mac-outside", &n.mac_outside),
                ] {
                    if let Some(m) = m {
                        macs.push(Claim {
                            key: m.value,
                            node: d.name.clone(),
                            at: m.referenced,
                            path: format!("{path}.{name}"),
                            text: m.value.to_string(),
                        });
                    }
                }
            }
            _ => {}
        }
        if matches!(d.kind, Some(NodeKind::Host(_) | NodeKind::Tap(_)))
            && let Some(m) = &n.mac
        {
            macs.push(Claim {
                key: m.value,
                node: d.name.clone(),
                at: m.referenced,
                path: format!("{path}.mac"),
                text: m.value.to_string(),
            });
        }
    }
    duplicates(r, &addresses, "address");
    duplicates(r, &macs, "MAC address");
    duplicates(r, &taps, "TAP interface name");
}

/// Resolve one endpoint string. `None` if it is invalid (reported) or names a node of unknown kind.
fn endpoint(
    r: &mut Report<'_>,
    drafts: &mut [Draft],
    by_name: &HashMap<String, usize>,
    ep: &Spanned<String>,
    path: &str,
) -> Option<(usize, String)> {
    let text = ep.value.as_str();
    let (node, iface) = match text.split_once(':') {
        Some((n, i)) => (n, Some(i)),
        None => (text, None),
    };
    if node.is_empty() {
        r.bad(
            ep,
            path,
            "endpoint has no node name (expected node or node:interface)".to_owned(),
        );
        return None;
    }
    let Some(&idx) = by_name.get(node) else {
        r.bad(ep, path, format!("no node named {node:?}"));
        r.suggest(node, drafts.iter().map(|d| d.name.as_str()));
        return None;
    };
    let d = &drafts[idx];
    let node_kind = d.kind.as_ref()?;
    if let Some(sides) = node_kind.sides() {
        let kind = node_kind.kind_name();
        let [a, b] = sides;
        let Some(name) = iface else {
            r.bad(
                ep,
                path,
                format!(
                    "{kind} {node:?} has two interfaces: write \"{node}:{a}\" or \"{node}:{b}\""
                ),
            );
            return None;
        };
        if !sides.contains(&name) {
            r.bad(
                ep,
                path,
                format!("{kind} {node:?} has no interface {name:?} (interfaces: {a}, {b})"),
            );
            r.suggest(name, sides);
            return None;
        }
        return Some((idx, name.to_owned()));
    }
    let (kind, own) = match node_kind {
        NodeKind::Host(h) => ("host", h.ifname.as_str()),
        NodeKind::Tap(t) => ("tap", t.ifname.as_str()),
        NodeKind::Pcap(_) => ("pcap", crate::topology::PCAP_IFNAME),
        NodeKind::Switch(_) => {
            let Some(port) = iface else {
                r.bad(
                    ep,
                    path,
                    format!("switch {node:?} needs a port: write \"{node}:<port>\""),
                );
                return None;
            };
            if let Err(why) = check_port_name(port) {
                r.bad(ep, path, why);
                return None;
            }
            return Some((idx, port.to_owned()));
        }
        NodeKind::Router(rt) => {
            let names = if rt.interfaces.is_empty() {
                "it has none".to_owned()
            } else {
                let names: Vec<&str> = rt.interfaces.iter().map(|i| i.name.as_str()).collect();
                format!("interfaces: {}", names.join(", "))
            };
            let Some(name) = iface else {
                r.bad(
                    ep,
                    path,
                    format!(
                        "router {node:?} needs an interface: write \"{node}:<interface>\" ({names})"
                    ),
                );
                return None;
            };
            if rt.interface(name).is_none() {
                r.bad(
                    ep,
                    path,
                    format!("router {node:?} has no interface {name:?} ({names})"),
                );
                r.suggest(name, rt.interfaces.iter().map(|i| i.name.as_str()));
                return None;
            }
            return Some((idx, name.to_owned()));
        }
        NodeKind::Nat(_) | NodeKind::Firewall(_) => return None,
    };
    match iface {
        Some(i) if i != own => {
            r.bad(
                ep,
                path,
                format!(
                    "{kind} {node:?} has one interface, {own:?} \
                     (write {node:?} or \"{node}:{own}\")"
                ),
            );
            None
        }
        _ => Some((idx, own.to_owned())),
    }
}

/// One end of a link to make: the resolved (node index, interface), and the element of the
/// file it came from, where its problems are reported.
struct End<'a> {
    at: (usize, String),
    ep: &'a Spanned<String>,
    path: String,
}

/// Links being made from `links:` and `chains:`, and which interfaces they already use.
struct Linker<'d> {
    drafts: &'d mut [Draft],
    by_name: HashMap<String, usize>,
    /// (node index, iface) -> (`links[i]` or `chains[i]`, its line) of the link that uses it.
    used: HashMap<(usize, String), (String, u64)>,
    out: Vec<Link>,
}

impl Linker<'_> {
    /// Connect `a` and `b` unless that loops or reuses an interface (reported). `source`
    /// (`links[i]` or `chains[i]`, at `line`) is named when a later link reuses one.
    fn connect(&mut self, r: &mut Report<'_>, source: &str, line: u64, a: &End<'_>, b: &End<'_>) {
        if a.at == b.at {
            let why = format!(
                "link connects {}:{} to itself",
                self.drafts[a.at.0].name, a.at.1
            );
            r.bad(b.ep, &b.path, why);
            return;
        }
        let mut clash = false;
        for end in [a, b] {
            if let Some((other, line)) = self.used.get(&end.at) {
                r.bad(
                    end.ep,
                    &end.path,
                    format!(
                        "{}:{} is already used by {other} (line {line}); \
                         an interface takes one link",
                        self.drafts[end.at.0].name, end.at.1
                    ),
                );
                clash = true;
            }
        }
        if clash {
            return;
        }
        for (idx, iface) in [&a.at, &b.at] {
            self.used
                .insert((*idx, iface.clone()), (source.to_owned(), line));
            let d = &mut self.drafts[*idx];
            d.used = true;
            if let Some(c) = d.configured_ports.iter_mut().find(|c| c.0 == *iface) {
                c.2 = true;
            } else if matches!(d.kind, Some(NodeKind::Switch(_))) {
                d.link_ports.push(iface.clone());
            }
        }
        let ep = |(idx, iface): &(usize, String)| Endpoint {
            node: self.drafts[*idx].name.clone(),
            iface: iface.clone(),
        };
        let link = Link {
            a: ep(&a.at),
            b: ep(&b.at),
            elements: Vec::new(),
        };
        self.out.push(link);
    }

    fn endpoint<'a>(
        &mut self,
        r: &mut Report<'_>,
        ep: &'a Spanned<String>,
        path: String,
    ) -> Option<End<'a>> {
        endpoint(r, self.drafts, &self.by_name, ep, &path).map(|at| End { at, ep, path })
    }

    /// A chain's middle element: the bare name of a nat or firewall node. Its (inside,
    /// outside) ends, or `None` (reported, unless the node's kind is unknown).
    fn middle<'a>(
        &self,
        r: &mut Report<'_>,
        ep: &'a Spanned<String>,
        path: &str,
    ) -> Option<(End<'a>, End<'a>)> {
        let text = ep.value.as_str();
        let (node, iface) = match text.split_once(':') {
            Some((n, i)) => (n, Some(i)),
            None => (text, None),
        };
        let Some(&idx) = self.by_name.get(node) else {
            r.bad(ep, path, format!("no node named {node:?}"));
            r.suggest(node, self.drafts.iter().map(|d| d.name.as_str()));
            return None;
        };
        let kind = self.drafts[idx].kind.as_ref()?;
        let Some([inside, outside]) = kind.sides() else {
            let why = format!(
                "a chain's middle elements must be nat or firewall nodes, {node:?} is a {}",
                kind.kind_name()
            );
            r.bad(ep, path, why);
            return None;
        };
        if iface.is_some() {
            let why = format!(
                "a chain's middle element is a bare node name (write {node:?}): the chain \
                 links {node}:{inside} towards its start and {node}:{outside} towards its end"
            );
            r.bad(ep, path, why);
            return None;
        }
        let end = |side: &str| End {
            at: (idx, side.to_owned()),
            ep,
            path: path.to_owned(),
        };
        Some((end(inside), end(outside)))
    }

    fn links(&mut self, r: &mut Report<'_>, raw: &[Spanned<RawLink>]) {
        for (li, link) in raw.iter().enumerate() {
            let eps = &link.value.endpoints;
            let lpath = format!("links[{li}].endpoints");
            let resolved: Vec<_> = eps
                .value
                .iter()
                .enumerate()
                .map(|(ei, ep)| self.endpoint(r, ep, format!("{lpath}[{ei}]")))
                .collect();
            if eps.value.len() != 2 {
                r.error(
                    &eps.referenced,
                    &lpath,
                    Some(list_text(&eps.value)),
                    format!(
                        "a link needs exactly 2 endpoints, found {}",
                        eps.value.len()
                    ),
                );
                continue;
            }
            let elements: Vec<_> = link
                .value
                .attributes
                .iter()
                .filter_map(|(key, value)| {
                    let attr = crate::links::attribute(&key.value)?;
                    attr.validate(r, value, &format!("links[{li}].{}", key.value))
                })
                .collect();
            if let [Some(a), Some(b)] = resolved.as_slice() {
                let before = self.out.len();
                self.connect(r, &format!("links[{li}]"), link.referenced.line(), a, b);
                if let Some(l) = self.out.get_mut(before) {
                    l.elements = elements;
                }
            }
        }
    }

    /// Expand each chain `[first, f1, …, fn, last]` to the links first–f1:inside,
    /// f1:outside–f2:inside, …, fn:outside–last, checked like `links:`.
    fn chains(&mut self, r: &mut Report<'_>, raw: &[Spanned<RawChain>]) {
        for (ci, chain) in raw.iter().enumerate() {
            let cpath = format!("chains[{ci}]");
            let elems = &chain.value;
            if elems.len() < 3 {
                r.error(
                    &chain.referenced,
                    &cpath,
                    Some(list_text(elems)),
                    format!(
                        "a chain needs at least 3 elements (an endpoint, one or more nat or \
                         firewall nodes, an endpoint), found {}",
                        elems.len()
                    ),
                );
                continue;
            }
            let last = elems.len() - 1;
            // Per element, the end that faces the start of the chain and the one that faces
            // its end (the same for the first and last elements).
            let ends: Vec<Option<(End<'_>, End<'_>)>> = elems
                .iter()
                .enumerate()
                .map(|(ei, ep)| {
                    let path = format!("{cpath}[{ei}]");
                    if ei == 0 || ei == last {
                        let end = self.endpoint(r, ep, path.clone())?;
                        let copy = End {
                            at: end.at.clone(),
                            ep,
                            path,
                        };
                        Some((end, copy))
                    } else {
                        self.middle(r, ep, &path)
                    }
                })
                .collect();
            let line = chain.referenced.line();
            for pair in ends.windows(2) {
                if let [Some((_, a)), Some((b, _))] = pair {
                    self.connect(r, &cpath, line, a, b);
                }
            }
        }
    }
}

/// `[a, b, c]`: a list of endpoints as written, for messages about the whole list.
fn list_text(items: &[Spanned<String>]) -> String {
    let list: Vec<&str> = items.iter().map(|e| e.value.as_str()).collect();
    format!("[{}]", list.join(", "))
}

/// Resolve `links:`, then expand and resolve `chains:`; the links in that order.
fn links(
    r: &mut Report<'_>,
    raw: &[Spanned<RawLink>],
    chains: &[Spanned<RawChain>],
    drafts: &mut [Draft],
) -> Vec<Link> {
    let by_name: HashMap<String, usize> = drafts
        .iter()
        .enumerate()
        .map(|(i, d)| (d.name.clone(), i))
        .collect();
    let mut linker = Linker {
        drafts,
        by_name,
        used: HashMap::new(),
        out: Vec::new(),
    };
    linker.links(r, raw);
    linker.chains(r, chains);
    linker.out
}

fn warnings(r: &mut Report<'_>, drafts: &[Draft]) {
    for d in drafts {
        let path = format!("nodes.{}", d.name);
        match &d.kind {
            Some(
                k @ (NodeKind::Switch(_)
                | NodeKind::Router(_)
                | NodeKind::Nat(_)
                | NodeKind::Firewall(_)),
            ) if !d.used => {
                r.warn(
                    &d.at,
                    &path,
                    format!("{} {:?} has no links", k.kind_name(), d.name),
                );
            }
            Some(NodeKind::Switch(_)) => {
                for (port, at, used) in &d.configured_ports {
                    if !used {
                        r.warn(
                            at,
                            &format!("{path}.ports.{port}"),
                            format!("port {port:?} is configured but no link uses it"),
                        );
                    }
                }
            }
            Some(NodeKind::Router(_)) => {
                for (iface, at, used) in &d.configured_ports {
                    if !used {
                        r.warn(
                            at,
                            &format!("{path}.interfaces.{iface}"),
                            format!("interface {iface:?} is not used by any link"),
                        );
                    }
                }
            }
            Some(k @ (NodeKind::Nat(_) | NodeKind::Firewall(_))) => {
                for (side, at, used) in &d.configured_ports {
                    if !used {
                        r.warn(
                            at,
                            &path,
                            format!(
                                "interface {side:?} of {} {:?} is not used by any link, \
                                 so no traffic passes through it",
                                k.kind_name(),
                                d.name
                            ),
                        );
                    }
                }
            }
            Some(k) if !d.used => {
                r.warn(
                    &d.at,
                    &path,
                    format!("{} {:?} is not used by any link", k.kind_name(), d.name),
                );
            }
            _ => {}
        }
    }
}

/// `metrics:`: the listen address must be loopback unless `allow-remote: true`.
fn metrics(r: &mut Report<'_>, m: &RawMetrics) -> MetricsSpec {
    let listen = m.listen.value.0;
    let allow_remote = m.allow_remote.as_ref().is_some_and(|a| a.value);
    if listen.port() == 0 {
        r.bad(
            &m.listen,
            "metrics.listen",
            "port must not be 0".to_string(),
        );
    }
    if !allow_remote && !listen.ip().is_loopback() {
        r.bad(
            &m.listen,
            "metrics.listen",
            format!(
                "{} is not a loopback address: metrics would be served to other hosts; \
                 add `allow-remote: true` under `metrics:` if that is meant",
                listen.ip()
            ),
        );
    }
    MetricsSpec {
        listen,
        allow_remote,
    }
}

fn by_position(problems: &mut [Problem]) {
    problems.sort_by_key(|p| (p.line, p.column));
}

/// Stage 2 entry point. A relative `routes-file` is read from `base_dir`.
pub(crate) fn validate(
    file: &str,
    base_dir: &Path,
    raw: &RawTopology,
) -> Result<Loaded, ConfigError> {
    let mut r = Report {
        file,
        base_dir,
        errors: Vec::new(),
        other_files: Vec::new(),
        warnings: Vec::new(),
    };
    if let Err(why) = check_name(&raw.name.value) {
        r.bad(&raw.name, "name", format!("topology {why}"));
    }
    let topo = raw.name.value.as_str();
    let mut drafts: Vec<Draft> = raw
        .nodes
        .value
        .0
        .iter()
        .map(|(key, n)| node(&mut r, topo, key, &n.value))
        .collect();
    cross_node_checks(&mut r, raw, &drafts);
    let no_links = Vec::new();
    let raw_links = raw.links.as_ref().map_or(&no_links, |l| &l.value);
    let no_chains = Vec::new();
    let raw_chains = raw.chains.as_ref().map_or(&no_chains, |c| &c.value);
    let links = links(&mut r, raw_links, raw_chains, &mut drafts);
    let metrics = raw.metrics.as_ref().map(|m| metrics(&mut r, &m.value));
    let workers = workers(&mut r, raw);
    let poll = match raw.poll.as_ref() {
        None => PollSpec::Adaptive,
        Some(p) => match p.value.as_str() {
            "adaptive" => PollSpec::Adaptive,
            "busy" => PollSpec::Busy,
            _ => {
                r.bad(p, "poll", "expected adaptive or busy".to_string());
                PollSpec::Adaptive
            }
        },
    };

    let spin = raw.spin.as_ref().map(|v| {
        let d = duration(&mut r, Some(v), "spin", "spin", MAX_SPIN, MAX_SPIN);
        if poll == PollSpec::Busy {
            r.bad(
                v,
                "spin",
                "spin applies to poll: adaptive (a busy worker never sleeps)".to_string(),
            );
        }
        d
    });

    let cpu_budget = raw.cpu_budget.as_ref().and_then(|v| {
        if poll == PollSpec::Busy {
            r.bad(
                v,
                "cpu-budget",
                "cpu-budget applies to poll: adaptive (a busy worker never sleeps)".to_string(),
            );
        }
        match crate::types::parse_percent(&v.value) {
            Ok(p) => Some(p),
            Err(msg) => {
                r.bad(v, "cpu-budget", msg);
                None
            }
        }
    });

    if !r.errors.is_empty() || !r.other_files.is_empty() {
        by_position(&mut r.errors);
        r.errors.append(&mut r.other_files);
        return Err(ConfigError { problems: r.errors });
    }
    warnings(&mut r, &drafts);
    by_position(&mut r.warnings);

    let nodes = drafts
        .into_iter()
        .filter_map(|d| {
            let kind = match d.kind? {
                NodeKind::Switch(mut s) => {
                    s.ports
                        .extend(d.link_ports.into_iter().map(|name| SwitchPort {
                            name,
                            mode: VlanMode::Access { vlan: DEFAULT_VLAN },
                        }));
                    NodeKind::Switch(s)
                }
                k => k,
            };
            Some(Node {
                name: d.name,
                kind,
                worker: d.worker,
            })
        })
        .collect();
    Ok(Loaded {
        topology: Topology {
            name: raw.name.value.clone(),
            nodes,
            links,
            metrics,
            poll,
            workers,
            spin,
            cpu_budget,
        },
        warnings: r.warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["a", "lab1", "h_1", "x.y-z", "0", &"n".repeat(32)] {
            assert_eq!(check_name(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "-a",
            ".a",
            "_a",
            "a b",
            "a/b",
            "a:b",
            "é",
            &"n".repeat(33),
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn port_names() {
        for ok in ["p1", "up", "eth-0_1", &"p".repeat(32)] {
            assert_eq!(check_port_name(ok), Ok(()), "{ok}");
        }
        for bad in ["", "p.1", "p:1", "p 1", &"p".repeat(33)] {
            assert!(check_port_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn network_and_broadcast_only_below_31() {
        let c = |s: &str| s.parse::<Ipv4Cidr>().expect("valid cidr");
        assert!(is_net_or_broadcast(
            &c("10.0.0.0/24"),
            Ipv4Addr::new(10, 0, 0, 0)
        ));
        assert!(is_net_or_broadcast(
            &c("10.0.0.255/24"),
            Ipv4Addr::new(10, 0, 0, 255)
        ));
        assert!(!is_net_or_broadcast(
            &c("10.0.0.0/31"),
            Ipv4Addr::new(10, 0, 0, 0)
        ));
        assert!(!is_net_or_broadcast(
            &c("10.0.0.1/31"),
            Ipv4Addr::new(10, 0, 0, 1)
        ));
        assert!(!is_net_or_broadcast(
            &c("10.0.0.7/32"),
            Ipv4Addr::new(10, 0, 0, 7)
        ));
    }
}
