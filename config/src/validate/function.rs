//! Stage 2 for the two-sided network functions, `kind: nat` and `kind: firewall`.
//!
//! Words (`filtering`, `action`, `proto`, `state`, …) and ranges (`port-range`, `dst-port`)
//! are read as strings in stage 1 and checked here, so every bad one is reported at once.
//! Checks across nodes (an external address that is also a host's) are in `validate.rs`
//! (`cross_node_checks`), with the other addresses.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use serde_saphyr::Spanned;

use super::router::count;
use super::{Report, duration, mac, mtu};
use crate::raw::{RawFwRule, RawNode, RawStates, RawTimeouts};
use crate::topology::{
    DEFAULT_ICMP_BURST, DEFAULT_ICMP_RATE_LIMIT, DEFAULT_ICMP_TIMEOUT, DEFAULT_MAX_FLOWS,
    DEFAULT_MAX_SESSIONS, DEFAULT_MAX_SESSIONS_PER_HOST, DEFAULT_NAT_PORT_RANGE,
    DEFAULT_TCP_ESTABLISHED_TIMEOUT, DEFAULT_TCP_TRANSITORY_TIMEOUT, DEFAULT_UDP_TIMEOUT,
    FirewallSpec, ForwardSpec, FwAction, FwDirection, FwRuleSpec, FwState, FwTimeoutsSpec, L4Proto,
    MAX_FLOW_TIMEOUT, NAT_ICMP_TIMEOUT_FLOOR, NAT_TCP_ESTABLISHED_TIMEOUT_FLOOR,
    NAT_TCP_TRANSITORY_TIMEOUT_FLOOR, NAT_UDP_TIMEOUT_FLOOR, NatFiltering, NatSpec,
    NatTimeoutsSpec, PROTO_ICMP, PROTO_TCP, PROTO_UDP,
};
use crate::types::Ipv4Cidr;

/// Build a NAT's spec.
pub(super) fn nat(r: &mut Report<'_>, key: &Spanned<String>, n: &RawNode, path: &str) -> NatSpec {
    let external = external(r, key, n, path);
    let port_range = n.port_range.as_ref().map_or(DEFAULT_NAT_PORT_RANGE, |v| {
        parse_port_range(&v.value).unwrap_or_else(|| {
            r.bad(
                v,
                &format!("{path}.port-range"),
                "port range must be N or A-B with 1 <= A <= B <= 65535".to_owned(),
            );
            DEFAULT_NAT_PORT_RANGE
        })
    });
    let filtering = n.filtering.as_ref().map_or(NatFiltering::default(), |v| {
        match word(
            r,
            v,
            &format!("{path}.filtering"),
            "filtering",
            &NatFiltering::NAMES,
        ) {
            Some(0) => NatFiltering::EndpointIndependent,
            Some(2) => NatFiltering::AddressAndPortDependent,
            _ => NatFiltering::AddressDependent,
        }
    });
    let max_sessions = count(
        r,
        n.max_sessions.as_ref(),
        &format!("{path}.max-sessions"),
        ("max-sessions", 1, DEFAULT_MAX_SESSIONS),
        "",
    );
    let max_sessions_per_host = count(
        r,
        n.max_sessions_per_host.as_ref(),
        &format!("{path}.max-sessions-per-host"),
        ("max-sessions-per-host", 1, DEFAULT_MAX_SESSIONS_PER_HOST),
        "",
    );
    let [udp, tcp_established, tcp_transitory, icmp] =
        timeouts(r, n.timeouts.as_ref().map(|t| &t.value), path, true);
    let (icmp_rate_limit, icmp_burst) = icmp_limits(r, n, path);
    NatSpec {
        forwards: forwards(r, n, &external, path),
        one_to_one: one_to_one(r, n, &external, path),
        external,
        port_range,
        filtering,
        max_sessions,
        max_sessions_per_host,
        timeouts: NatTimeoutsSpec {
            udp,
            tcp_established,
            tcp_transitory,
            icmp,
        },
        icmp_rate_limit,
        icmp_burst,
        mac_inside: mac(r, n.mac_inside.as_ref(), &format!("{path}.mac-inside")),
        mac_outside: mac(r, n.mac_outside.as_ref(), &format!("{path}.mac-outside")),
        mtu: mtu(r, n.mtu.as_ref(), &format!("{path}.mtu")),
    }
}

/// Build a firewall's spec.
pub(super) fn firewall(r: &mut Report<'_>, n: &RawNode, path: &str) -> FirewallSpec {
    let default = n
        .default
        .as_ref()
        .and_then(|v| action(r, v, &format!("{path}.default")))
        .unwrap_or(FwAction::Allow);
    let rules = n.rules.iter().flat_map(|v| &v.value).enumerate();
    let rules = rules
        .filter_map(|(i, rule)| fw_rule(r, &rule.value, &format!("{path}.rules[{i}]")))
        .collect();
    let max_flows = count(
        r,
        n.max_flows.as_ref(),
        &format!("{path}.max-flows"),
        ("max-flows", 1, DEFAULT_MAX_FLOWS),
        "",
    );
    let max_flows_per_host = n.max_flows_per_host.as_ref().map(|v| {
        count(
            r,
            Some(v),
            &format!("{path}.max-flows-per-host"),
            ("max-flows-per-host", 1, DEFAULT_MAX_FLOWS),
            "",
        )
    });
    let [udp, tcp_established, tcp_transitory, icmp] =
        timeouts(r, n.timeouts.as_ref().map(|t| &t.value), path, false);
    let (icmp_rate_limit, icmp_burst) = icmp_limits(r, n, path);
    FirewallSpec {
        default,
        rules,
        max_flows,
        max_flows_per_host,
        timeouts: FwTimeoutsSpec {
            tcp_established,
            tcp_transitory,
            udp,
            icmp,
        },
        icmp_rate_limit,
        icmp_burst,
        mtu: mtu(r, n.mtu.as_ref(), &format!("{path}.mtu")),
    }
}

fn icmp_limits(r: &mut Report<'_>, n: &RawNode, path: &str) -> (u32, u32) {
    let rate = count(
        r,
        n.icmp_rate_limit.as_ref(),
        &format!("{path}.icmp-rate-limit"),
        ("icmp-rate-limit", 0, DEFAULT_ICMP_RATE_LIMIT),
        " ICMP errors per second (0 sends none)",
    );
    let burst = count(
        r,
        n.icmp_burst.as_ref(),
        &format!("{path}.icmp-burst"),
        ("icmp-burst", 1, DEFAULT_ICMP_BURST),
        " (to send no ICMP errors, set icmp-rate-limit: 0)",
    );
    (rate, burst)
}

/// The index in `names` of the word `v`, or `None` (reported: `unknown <what> "v", expected
/// one of …`).
fn word(
    r: &mut Report<'_>,
    v: &Spanned<String>,
    path: &str,
    what: &str,
    names: &[&str],
) -> Option<usize> {
    let found = names.iter().position(|n| *n == v.value);
    if found.is_none() {
        r.bad(
            v,
            path,
            format!(
                "unknown {what} {:?}, expected one of {}",
                v.value,
                names.join(", ")
            ),
        );
        r.suggest(&v.value, names.iter().copied());
    }
    found
}

fn action(r: &mut Report<'_>, v: &Spanned<String>, path: &str) -> Option<FwAction> {
    word(r, v, path, "action", &FwAction::NAMES).map(|i| match i {
        0 => FwAction::Allow,
        1 => FwAction::Drop,
        _ => FwAction::Reject,
    })
}

/// `N` or `A-B` with 1 <= A <= B <= 65535; `N` is `(N, N)`.
pub(super) fn parse_port_range(s: &str) -> Option<(u16, u16)> {
    let port = |t: &str| {
        if t.is_empty() || t.len() > 5 || !t.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        t.parse::<u16>().ok().filter(|&p| p >= 1)
    };
    let (a, b) = match s.split_once('-') {
        Some((a, b)) => (port(a)?, port(b)?),
        None => (port(s)?, port(s)?),
    };
    (a <= b).then_some((a, b))
}

/// Why `ip` cannot be an address of a NAT or a forward's target, if it cannot.
pub(super) fn unusable(ip: Ipv4Addr) -> Option<String> {
    let why = if ip.is_unspecified() {
        "the unspecified address"
    } else if ip.is_broadcast() {
        "the broadcast address"
    } else if ip.is_multicast() {
        "a multicast address"
    } else if ip.is_loopback() {
        "a loopback address"
    } else {
        return None;
    };
    Some(format!("{ip} is {why}, not a unicast host address"))
}

/// `external:`, required and not empty. Duplicates (in this list or with other nodes) are
/// reported by the cross-node check.
fn external(r: &mut Report<'_>, key: &Spanned<String>, n: &RawNode, path: &str) -> Vec<Ipv4Addr> {
    let Some(list) = &n.external else {
        r.error(
            &key.referenced,
            path,
            None,
            format!(
                "nat {:?} needs at least one external address (external: [a.b.c.d])",
                key.value
            ),
        );
        return Vec::new();
    };
    if list.value.is_empty() {
        r.error(
            &list.referenced,
            &format!("{path}.external"),
            None,
            format!("nat {:?} needs at least one external address", key.value),
        );
    }
    let mut out = Vec::new();
    for (i, a) in list.value.iter().enumerate() {
        if let Some(why) = unusable(a.value.0) {
            r.bad(a, &format!("{path}.external[{i}]"), why);
        }
        out.push(a.value.0);
    }
    out
}

fn forwards(
    r: &mut Report<'_>,
    n: &RawNode,
    external: &[Ipv4Addr],
    path: &str,
) -> Vec<ForwardSpec> {
    let mut out = Vec::new();
    // (proto, external address, port) -> (index, line) of the forward that has it.
    let mut seen: HashMap<(L4Proto, Ipv4Addr, u16), (usize, u64)> = HashMap::new();
    for (i, f) in n.forwards.iter().flat_map(|v| &v.value).enumerate() {
        let fpath = format!("{path}.forwards[{i}]");
        let f = &f.value;
        let proto = match f.proto.value.as_str() {
            "tcp" => Some(L4Proto::Tcp),
            "udp" => Some(L4Proto::Udp),
            _ => {
                let why = format!(
                    "unknown proto {:?}, a forward's proto is tcp or udp",
                    f.proto.value
                );
                r.bad(&f.proto, &format!("{fpath}.proto"), why);
                None
            }
        };
        let port = match u16::try_from(f.port.value) {
            Ok(p) if p >= 1 => Some(p),
            _ => {
                let why = "port must be in 1..=65535".to_owned();
                r.bad(&f.port, &format!("{fpath}.port"), why);
                None
            }
        };
        let ext = f.external.as_ref().map(|e| e.value.0);
        if let Some(e) = &f.external
            && !external.contains(&e.value.0)
            && !external.is_empty()
        {
            let list: Vec<String> = external.iter().map(ToString::to_string).collect();
            let why = format!(
                "not one of this NAT's external addresses ({})",
                list.join(", ")
            );
            r.bad(e, &format!("{fpath}.external"), why);
        }
        let to = forward_target(r, &f.to, &format!("{fpath}.to"));
        let (Some(proto), Some(port), Some(to)) = (proto, port, to) else {
            continue;
        };
        // No `external` means every external address.
        let addrs = ext.map_or_else(|| external.to_vec(), |e| vec![e]);
        let clash = addrs
            .iter()
            .find_map(|&a| seen.get(&(proto, a, port)).map(|first| (a, *first)));
        if let Some((a, (first, line))) = clash {
            let name = if proto == L4Proto::Tcp { "tcp" } else { "udp" };
            r.bad(
                &f.port,
                &format!("{fpath}.port"),
                format!(
                    "{name} {a}:{port} is already forwarded by forwards[{first}] (line {line})"
                ),
            );
            continue;
        }
        for a in addrs {
            seen.insert((proto, a, port), (i, f.port.referenced.line()));
        }
        out.push(ForwardSpec {
            proto,
            external: ext,
            port,
            to,
        });
    }
    out
}

/// A forward's `to`: `a.b.c.d:port`, port 1..=65535, a unicast address.
fn forward_target(r: &mut Report<'_>, v: &Spanned<String>, path: &str) -> Option<SocketAddrV4> {
    let Ok(to) = v.value.parse::<SocketAddrV4>() else {
        let why = "invalid address and port (expected a.b.c.d:port)".to_owned();
        r.bad(v, path, why);
        return None;
    };
    if to.port() == 0 {
        r.bad(v, path, "port must be in 1..=65535".to_owned());
        return None;
    }
    if let Some(why) = unusable(*to.ip()) {
        r.bad(v, path, why);
        return None;
    }
    Some(to)
}

/// `one-to-one:`. Outside addresses that are also another node's (or another entry's) are
/// reported by the cross-node check; one in this NAT's `external` is reported here.
fn one_to_one(
    r: &mut Report<'_>,
    n: &RawNode,
    external: &[Ipv4Addr],
    path: &str,
) -> Vec<(Ipv4Addr, Ipv4Addr)> {
    let mut out: Vec<(Ipv4Addr, Ipv4Addr)> = Vec::new();
    let mut insides: HashMap<Ipv4Addr, (usize, u64)> = HashMap::new();
    for (i, m) in n.one_to_one.iter().flat_map(|v| &v.value).enumerate() {
        let mpath = format!("{path}.one-to-one[{i}]");
        let (inside, outside) = (&m.value.inside, &m.value.outside);
        let ipath = format!("{mpath}.inside");
        if let Some(why) = unusable(inside.value.0) {
            r.bad(inside, &ipath, why);
        } else if let Some((first, line)) = insides.get(&inside.value.0) {
            let why =
                format!("inside address is already mapped by one-to-one[{first}] (line {line})");
            r.bad(inside, &ipath, why);
        } else {
            insides.insert(inside.value.0, (i, inside.referenced.line()));
        }
        let opath = format!("{mpath}.outside");
        if let Some(why) = unusable(outside.value.0) {
            r.bad(outside, &opath, why);
        } else if external.contains(&outside.value.0) {
            let why = "is one of this NAT's external addresses; a one-to-one outside \
                       address must be an address of its own"
                .to_owned();
            r.bad(outside, &opath, why);
        }
        out.push((inside.value.0, outside.value.0));
    }
    out
}

/// `[udp, tcp-established, tcp-transitory, icmp]`, defaults filled in. For a NAT (`nat`),
/// values below the RFC floors are warnings.
fn timeouts(r: &mut Report<'_>, t: Option<&RawTimeouts>, path: &str, nat: bool) -> [Duration; 4] {
    let none = RawTimeouts::default();
    let t = t.unwrap_or(&none);
    let fields = [
        (
            "udp",
            &t.udp,
            DEFAULT_UDP_TIMEOUT,
            NAT_UDP_TIMEOUT_FLOOR,
            "RFC 4787 REQ-5",
            "a UDP mapping",
        ),
        (
            "tcp-established",
            &t.tcp_established,
            DEFAULT_TCP_ESTABLISHED_TIMEOUT,
            NAT_TCP_ESTABLISHED_TIMEOUT_FLOOR,
            "RFC 5382 REQ-5",
            "an established TCP connection",
        ),
        (
            "tcp-transitory",
            &t.tcp_transitory,
            DEFAULT_TCP_TRANSITORY_TIMEOUT,
            NAT_TCP_TRANSITORY_TIMEOUT_FLOOR,
            "RFC 5382 REQ-5",
            "a TCP connection being opened or closed",
        ),
        (
            "icmp",
            &t.icmp,
            DEFAULT_ICMP_TIMEOUT,
            NAT_ICMP_TIMEOUT_FLOOR,
            "RFC 5508 REQ-2",
            "an ICMP query mapping",
        ),
    ];
    fields.map(|(name, v, default, floor, req, what)| {
        let tpath = format!("{path}.timeouts.{name}");
        let d = duration(r, v.as_ref(), &tpath, name, default, MAX_FLOW_TIMEOUT);
        if let Some(v) = v
            && nat
            && d < floor
        {
            r.warn_value(
                &v.referenced,
                &tpath,
                v.value.text.clone(),
                format!(
                    "below the {req} floor of {}s for {what}; \
                     applications may lose their NAT mapping",
                    floor.as_secs()
                ),
            );
        }
        d
    })
}

fn fw_rule(r: &mut Report<'_>, rule: &RawFwRule, path: &str) -> Option<FwRuleSpec> {
    let action = action(r, &rule.action, &format!("{path}.action"));
    let direction = rule.direction.as_ref().map(|v| {
        word(
            r,
            v,
            &format!("{path}.direction"),
            "direction",
            &["in", "out"],
        )
        .map(|i| {
            if i == 0 {
                FwDirection::In
            } else {
                FwDirection::Out
            }
        })
    });
    let src = rule
        .src
        .as_ref()
        .map(|v| prefix(r, v, &format!("{path}.src")));
    let dst = rule
        .dst
        .as_ref()
        .map(|v| prefix(r, v, &format!("{path}.dst")));
    // Outer None: no proto; inner None: a bad one (reported).
    let proto = rule.proto.as_ref().map(|v| {
        let p = match v.value.as_str() {
            "tcp" => Some(PROTO_TCP),
            "udp" => Some(PROTO_UDP),
            "icmp" => Some(PROTO_ICMP),
            s if !s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit()) => {
                s.parse::<u8>().ok()
            }
            _ => None,
        };
        if p.is_none() {
            let why = format!(
                "unknown proto {:?}, expected tcp, udp, icmp or a protocol number 0..=255",
                v.value
            );
            r.bad(v, &format!("{path}.proto"), why);
        }
        p
    });
    let proto_name = |p: u8| match p {
        PROTO_TCP => "tcp".to_owned(),
        PROTO_UDP => "udp".to_owned(),
        PROTO_ICMP => "icmp".to_owned(),
        n => n.to_string(),
    };
    let mut ports = |name: &str, v: Option<&Spanned<String>>| {
        let v = v?;
        let ppath = format!("{path}.{name}");
        let Some(range) = parse_port_range(&v.value) else {
            let why = format!("{name} must be N or A-B with 1 <= A <= B <= 65535");
            r.bad(v, &ppath, why);
            return None;
        };
        match proto {
            Some(Some(PROTO_TCP | PROTO_UDP)) | Some(None) => {}
            Some(Some(p)) => r.bad(
                v,
                &ppath,
                format!(
                    "{name} needs proto tcp or udp (this rule's proto is {})",
                    proto_name(p)
                ),
            ),
            None => r.bad(
                v,
                &ppath,
                format!("{name} needs proto tcp or udp (this rule has no proto)"),
            ),
        }
        Some(range)
    };
    let src_ports = ports("src-port", rule.src_port.as_ref());
    let dst_ports = ports("dst-port", rule.dst_port.as_ref());
    let icmp_type = rule.icmp_type.as_ref().and_then(|v| {
        let tpath = format!("{path}.icmp-type");
        let Ok(t) = u8::try_from(v.value) else {
            r.bad(v, &tpath, "icmp-type must be in 0..=255".to_owned());
            return None;
        };
        match proto {
            Some(Some(PROTO_ICMP) | None) => {}
            Some(Some(p)) => r.bad(
                v,
                &tpath,
                format!(
                    "icmp-type needs proto icmp (this rule's proto is {})",
                    proto_name(p)
                ),
            ),
            None => r.bad(
                v,
                &tpath,
                "icmp-type needs proto icmp (this rule has no proto)".to_owned(),
            ),
        }
        Some(t)
    });
    let states = rule
        .state
        .as_ref()
        .map(|v| states(r, v, &format!("{path}.state")));
    Some(FwRuleSpec {
        action: action?,
        direction: direction.map(|d| d.ok_or(())).transpose().ok()?,
        src,
        dst,
        proto: proto.map(|p| p.ok_or(())).transpose().ok()?,
        src_ports,
        dst_ports,
        icmp_type,
        states,
    })
}

/// A rule's `src` or `dst`: host bits must be zero.
fn prefix(r: &mut Report<'_>, v: &Spanned<Ipv4Cidr>, path: &str) -> Ipv4Cidr {
    let (net, len) = (v.value.network(), v.value.prefix_len);
    if net != v.value.addr {
        r.bad(
            v,
            path,
            format!("host bits set (did you mean {net}/{len}?)"),
        );
    }
    Ipv4Cidr {
        addr: net,
        prefix_len: len,
    }
}

fn state(r: &mut Report<'_>, v: &Spanned<String>, path: &str) -> Option<FwState> {
    word(r, v, path, "state", &FwState::NAMES).map(|i| match i {
        0 => FwState::New,
        1 => FwState::Established,
        _ => FwState::Related,
    })
}

fn states(r: &mut Report<'_>, v: &Spanned<RawStates>, path: &str) -> Vec<FwState> {
    match &v.value {
        RawStates::One(s) => {
            let one = Spanned {
                value: s.clone(),
                referenced: v.referenced,
                defined: v.defined,
            };
            state(r, &one, path).into_iter().collect()
        }
        RawStates::Many(list) => {
            if list.is_empty() {
                r.error(
                    &v.referenced,
                    path,
                    None,
                    "state is empty; list at least one of new, established, related, \
                     or leave state out to match every state"
                        .to_owned(),
                );
            }
            let mut out: Vec<FwState> = Vec::new();
            for (i, s) in list.iter().enumerate() {
                let spath = format!("{path}[{i}]");
                let Some(st) = state(r, s, &spath) else {
                    continue;
                };
                if out.contains(&st) {
                    r.bad(s, &spath, format!("state {:?} is listed twice", s.value));
                    continue;
                }
                out.push(st);
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_ranges() {
        assert_eq!(parse_port_range("80"), Some((80, 80)));
        assert_eq!(parse_port_range("1024-65535"), Some((1024, 65535)));
        assert_eq!(parse_port_range("1-1"), Some((1, 1)));
        for bad in [
            "", "0", "0-10", "10-5", "65536", "1-65536", "a", "1-", "-1", "1--2", "+5", " 5",
        ] {
            assert_eq!(parse_port_range(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn unusable_addresses() {
        for bad in ["0.0.0.0", "255.255.255.255", "224.0.0.1", "127.0.0.1"] {
            assert!(unusable(bad.parse().expect("ip")).is_some(), "{bad}");
        }
        assert!(unusable(Ipv4Addr::new(203, 0, 113, 2)).is_none());
    }
}
