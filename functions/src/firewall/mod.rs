//! Stateful firewall: an ordered rule list over IPv4 with its own connection tracking, as a
//! transparent bump in the wire.
//!
//! # Gates
//! Two inputs and two outputs: gate 0 `in` is the protected (inside) side, gate 1 `out`
//! the outside. A frame entering on `in` leaves on `out` (direction **out**), a frame
//! entering on `out` leaves on `in` (direction **in**). Frames are forwarded unchanged
//! (no TTL decrement, no MAC rewrite, padding kept). Generated RSTs and ICMP errors leave by
//! the gate the offending packet came in on.
//!
//! # Configuration
//! [`FirewallConfig`]: `rules` (ordered, first match wins), `default` (policy when no rule
//! matches), `timeouts` ([`FwTimeouts`]: TCP established 7440 s, TCP transitory 240 s, TCP
//! closed 10 s, UDP 300 s, ICMP 60 s, other protocols 600 s), `max_flows` (default 262144),
//! `icmp_rate_limit` (RSTs + ICMP errors per second, default 100; 0 disables them),
//! `icmp_burst` (default 50), `allow_non_ip` (default false).
//!
//! # Behaviour
//! * **L2**: ARP always passes. Any other non-IPv4 EtherType (IPv6, VLAN-tagged frames …)
//!   is not filtered, so it is dropped (`unsupported_ethertype`) unless `allow_non_ip` is
//!   set, which passes it unfiltered. Frames under 14 bytes are `malformed`.
//! * **IPv4 validation** as RFC 1812 §5.2.2 (`ip_too_short`, `ip_bad_version`,
//!   `ip_bad_header_length`, `ip_bad_total_length`, `ip_bad_checksum`); a TCP/UDP/ICMP
//!   header cut short is `malformed`. L4 checksums are not checked (the endpoints do).
//! * **States** of a packet: *new* (no flow, and the packet may start one: a TCP SYN without
//!   ACK/RST/FIN, any UDP, an ICMP query request (echo, timestamp, information, address
//!   mask), any other protocol, and ICMP types that are neither queries nor errors, which are
//!   never tracked); *established* (it belongs to an existing flow, in either direction:
//!   the first reply and any later packet of the originator); *related* (an ICMP error —
//!   types 3, 4, 5, 11, 12 — whose quoted packet belongs to an existing flow and was sent
//!   by the error's destination); *invalid* (no flow and cannot start one: a TCP segment
//!   without a pure SYN, an ICMP query reply, an ICMP error about nothing we track).
//!   *Established* does not imply *related* (decided as nftables' `ct state` and iptables'
//!   `--ctstate`, which users write as `established,related`): a policy allowing replies
//!   lists both, or the ICMP errors path-MTU discovery and traceroute need are dropped.
//! * **Invalid packets** (Linux INVALID) are counted (`invalid`) and go through the rules
//!   like any other, but no `states` set contains *invalid*: only a rule without a state
//!   condition can match them (that is "explicitly allowed"). Allowed, they pass without
//!   creating a flow (no mid-stream pick-up); dropped by a rule or the default policy they
//!   count as `fw_invalid`; a reject rule still answers (a RST for a stray ACK is what the
//!   host would send).
//! * **Flows** are created when a *new* packet is allowed (rule or default), keyed by a
//!   canonical bidirectional 5-tuple (protocol, both address:port pairs ordered; ICMP
//!   queries use the identifier and the request type), so the reply finds the flow. The
//!   table is bounded (`max_flows`), and so is each originator's share of it
//!   (`max_flows_per_host`, default max(max_flows / 16, 64); over it the new packet is
//!   `fw_host_quota`). When the table is full (after reclaiming expired flows) the oldest
//!   unanswered flow idle for a second or more is evicted for the new one (`early_drops`, as
//!   Linux conntrack's early drop); if there is none the new packet is dropped
//!   (`fw_table_full`). Expiry is O(1): one LRU list per timeout class, checked every tick
//!   (1 s) and on lookup. See `conntrack.rs`.
//! * **TCP** tracking follows SYN → SYN-ACK → ACK (established timeout), FIN from each side
//!   (transitory), RST (closed). No sequence-window tracking. A pure SYN that finds a flow
//!   in TIME-WAIT or closed state replaces it (port reuse).
//! * **Flow verdict cache**: rules are static for the life of the element, and every rule
//!   field except `state` and `icmp_type` is a function of the flow's tuple and the packet's
//!   direction; for an ICMP flow the type is fixed per direction too (requests one way,
//!   replies the other). So for *established* packets the matching rule is cached per flow
//!   and per (original/reply, in/out): the first established packet of each of those four
//!   combinations scans the rules; later ones do not (`rule_evaluations` counts scans).
//!   *New*, *related* and *invalid* packets always scan.
//! * **Fragments**: a first fragment is handled like a whole packet (its L4 header must be
//!   complete, else `malformed`); when it is allowed, its (source, destination, protocol,
//!   identification) is remembered for 30 s and the later fragments of that datagram pass.
//!   A non-initial fragment of no remembered datagram, and a TCP fragment at offset 8
//!   (RFC 1858 overlap attack), are dropped (`fw_fragment`).
//! * **Reject**: the packet is dropped (`fw_rejected`) and answered, source and destination
//!   swapped (MACs and IPs: the firewall is transparent and speaks as the destination):
//!   TCP gets a RST (RFC 793 reset generation: seq = the segment's ACK if it had one, else
//!   RST|ACK acknowledging it; never for a RST), UDP ICMP Port Unreachable (3/3), anything
//!   else ICMP Administratively Prohibited (3/13), quoting the header and data up to 576
//!   bytes in all. Never about an ICMP error, a non-initial fragment, an IP or link-layer
//!   broadcast/multicast, or a martian source (RFC 1812 §4.3.2.7). RSTs and ICMP errors
//!   share one token bucket (`icmp_rate_limit`/`icmp_burst`).
//!
//! # Counters
//! `rules_matched_total` (packets that matched a rule), `default_policy_total` (packets
//! decided by the default policy), `rule_evaluations` (rule-list scans), `flows` (gauge),
//! `flows_created`, `flows_expired`, `hosts` (gauge), `early_drops`, `host_quota_exceeded`,
//! `established`, `related`, `invalid`, `arp_passed`,
//! `non_ip_passed`, `fragments_passed`, `tcp_resets_sent`, `icmp_errors_sent`,
//! `rejects_rate_limited`, `rejects_suppressed`, `no_buffer`. Per-rule packet and byte
//! counts (IP total length) are [`Firewall::rule_hits`] and [`Firewall::rule_bytes`]:
//! counter names are `&'static str`, so per-rule names cannot be made at run time.
//!
//! # Notes
//! Drop reasons: `fw_rule_drop` (drop rule or default drop), `fw_rejected`, `fw_invalid`,
//! `fw_table_full`, `fw_fragment`, plus the IPv4 validation reasons above.
//!
//! # See also
//! Linux nf_conntrack (`nf_conntrack_proto_tcp.c` timeouts, INVALID state), OpenBSD pf
//! (state keys, `block return`), RFC 1812, RFC 793, RFC 1858.

mod classify;
mod config;
mod conntrack;
mod reject;
mod rules;
mod track;

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use ahash::RandomState;
use nfv_dataplane::wire::{ETH_HLEN, ETHERTYPE_ARP, ETHERTYPE_IPV4, eth_type, ip_proto};
use nfv_dataplane::{
    Batch, Context, CounterInfo, DropReason, Element, GateSpec, InputGate, Instant, OutputGate,
    Outputs, PacketBuf, Reason, ReasonInfo, Table,
};

use crate::rate_limit::TokenBucket;
use classify::*;
pub use config::{
    Action, ConnState, Direction, FirewallConfig, FwTimeouts, Rule, default_max_flows_per_host,
};
pub use conntrack::TcpState;
use conntrack::{
    CLASSES, Class, FlowKey, FlowTable, InsertError, VERDICT_DEFAULT, VERDICT_UNKNOWN,
};
use rules::*;

use nfv_dataplane::wire::ipv4;

nfv_dataplane::drop_reasons! {
    /// Why the firewall drops a packet (besides the core [`DropReason`]s).
    pub enum FwDrop: element {
        /// A `drop` rule or the default drop policy.
        RuleDrop = "fw_rule_drop",
        /// A `reject` rule (the RST or ICMP answer is counted as generated).
        Rejected = "fw_rejected",
        /// A packet in no flow that cannot start one (TCP without a pure SYN, ICMP reply or
        /// error about nothing tracked), not explicitly allowed.
        Invalid = "fw_invalid",
        /// The connection table is full (and no unanswered flow could be evicted): the new
        /// flow was not created.
        TableFull = "fw_table_full",
        /// The packet's originator already holds `max_flows_per_host` flows: the new flow
        /// was not created.
        HostQuota = "fw_host_quota",
        /// A non-initial fragment of no allowed datagram, or an RFC 1858 overlap.
        Fragment = "fw_fragment",
    }
}

/// Gate of the protected side.
pub const GATE_IN: u16 = 0;
/// Gate of the outside.
pub const GATE_OUT: u16 = 1;
/// How long a first fragment's allowance lasts for the rest of its datagram.
pub const FRAGMENT_TIMEOUT: Duration = Duration::from_secs(30);
/// Datagrams whose later fragments are remembered at once.
pub const FRAGMENT_MAX: usize = 4096;
/// Most flows reclaimed per tick (the rest are reclaimed on later ticks or on lookup).
const EXPIRE_PER_TICK: usize = 16_384;
const TICK: Duration = Duration::from_secs(1);

/// State of a tracked flow, for [`FlowView`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowState {
    /// A TCP flow in this state.
    Tcp(TcpState),
    /// A UDP, ICMP or other flow that has seen no reply.
    Unreplied,
    /// A UDP, ICMP or other flow that has seen traffic both ways.
    Replied,
}

/// A snapshot of one flow, oriented as its first packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowView {
    /// IP protocol.
    pub proto: u8,
    /// Originator address.
    pub src: Ipv4Addr,
    /// Originator port (ICMP: the query identifier).
    pub src_port: u16,
    /// Responder address.
    pub dst: Ipv4Addr,
    /// Responder port (ICMP: the request type, 8 for echo).
    pub dst_port: u16,
    /// Direction of the first packet.
    pub direction: Direction,
    /// Connection state.
    pub state: FlowState,
    /// Packets allowed from the originator.
    pub packets_orig: u64,
    /// Packets allowed from the responder.
    pub packets_reply: u64,
    /// IP bytes allowed from the originator.
    pub bytes_orig: u64,
    /// IP bytes allowed from the responder.
    pub bytes_reply: u64,
    /// Idle time left before the flow expires.
    pub expires_in: Duration,
}

// ------------------------------------------------------------------ the element

#[derive(Clone, Copy, Debug, Default)]
struct Counters {
    rules_matched: u64,
    default_policy: u64,
    rule_evaluations: u64,
    flows_created: u64,
    established: u64,
    related: u64,
    invalid: u64,
    arp_passed: u64,
    non_ip_passed: u64,
    fragments_passed: u64,
    tcp_resets_sent: u64,
    icmp_errors_sent: u64,
    rejects_rate_limited: u64,
    rejects_suppressed: u64,
    no_buffer: u64,
}

/// Fragment-cache key: (source, destination, protocol, identification).
type FragKey = (u32, u32, u8, u16);

/// The stateful firewall element. See the module documentation.
#[derive(Debug)]
pub struct Firewall {
    rules: Vec<CompiledRule>,
    /// One line per rule for the `rules` table ([`Rule::summary`]).
    summaries: Vec<String>,
    default: Action,
    hits: Vec<u64>,
    bytes: Vec<u64>,
    flows: FlowTable,
    frags: HashMap<FragKey, Instant, RandomState>,
    bucket: TokenBucket,
    allow_non_ip: bool,
    /// MTU of both sides ([`FirewallConfig::mtu`]).
    mtu: u16,
    ip_id: u16,
    c: Counters,
}

/// A rule-scan result: the index of the matching rule, or `None` for the default policy.
type Hit = Option<usize>;

impl Firewall {
    /// Compile the rules. Prefix lengths over 32 are taken as 32; a port range whose low
    /// end is above its high end matches nothing (config validation rejects both first).
    pub fn new(cfg: &FirewallConfig) -> Firewall {
        let t = &cfg.timeouts;
        let mut timeouts = [Duration::ZERO; CLASSES];
        timeouts[Class::TcpEstablished as usize] = t.tcp_established;
        timeouts[Class::TcpTransitory as usize] = t.tcp_transitory;
        timeouts[Class::TcpClosed as usize] = t.tcp_closed;
        timeouts[Class::Udp as usize] = t.udp;
        timeouts[Class::Icmp as usize] = t.icmp;
        timeouts[Class::Other as usize] = t.other;
        let n = cfg.rules.len();
        Firewall {
            rules: cfg.rules.iter().map(CompiledRule::new).collect(),
            summaries: cfg.rules.iter().map(Rule::summary).collect(),
            default: cfg.default,
            hits: vec![0; n],
            bytes: vec![0; n],
            flows: FlowTable::new(
                cfg.max_flows,
                cfg.max_flows_per_host
                    .unwrap_or_else(|| default_max_flows_per_host(cfg.max_flows)),
                timeouts,
            ),
            frags: HashMap::with_hasher(RandomState::new()),
            bucket: TokenBucket::new(cfg.icmp_rate_limit, cfg.icmp_burst),
            allow_non_ip: cfg.allow_non_ip,
            mtu: cfg.mtu,
            ip_id: 0,
            c: Counters::default(),
        }
    }

    /// Packets matched by each rule, in rule order.
    pub fn rule_hits(&self) -> &[u64] {
        &self.hits
    }

    /// IP bytes (total length) matched by each rule, in rule order.
    pub fn rule_bytes(&self) -> &[u64] {
        &self.bytes
    }

    /// Number of flows in the table (expired ones not yet reclaimed included).
    pub fn flow_count(&self) -> usize {
        self.flows.len()
    }

    /// The flows live at `now`, each oriented as its first packet.
    pub fn flows(&self, now: Instant) -> impl Iterator<Item = FlowView> + '_ {
        self.flows.iter().filter_map(move |f| {
            let expires_in = self.flows.remaining(f, now);
            if expires_in.is_zero() {
                return None;
            }
            let k = &f.key;
            let (src, sp, dst, dp) = if f.orig_is_a {
                (k.a, k.pa, k.b, k.pb)
            } else {
                (k.b, k.pb, k.a, k.pa)
            };
            let state = if k.proto == ip_proto::TCP {
                FlowState::Tcp(f.tcp)
            } else if f.packets[1] > 0 {
                FlowState::Replied
            } else {
                FlowState::Unreplied
            };
            Some(FlowView {
                proto: k.proto,
                src: Ipv4Addr::from(src),
                src_port: sp as u16,
                dst: Ipv4Addr::from(dst),
                dst_port: dp as u16,
                direction: f.orig_dir,
                state,
                packets_orig: f.packets[0],
                packets_reply: f.packets[1],
                bytes_orig: f.bytes[0],
                bytes_reply: f.bytes[1],
                expires_in,
            })
        })
    }

    fn process_ipv4(
        &mut self,
        ctx: &mut Context,
        gate: u16,
        mut pkt: PacketBuf,
        out: &mut Outputs,
    ) {
        let ip = match ipv4::parse_pkt(&pkt) {
            Ok(ip) => ip,
            Err(r) => return out.drop(pkt, r),
        };
        // Forwarded unchanged: the next element may reuse the validation.
        ipv4::mark_valid(&mut pkt);
        let now = ctx.now;
        let dir = if gate == GATE_IN {
            Direction::Out
        } else {
            Direction::In
        };
        let egress = OutputGate(1 - gate);
        let fkey: FragKey = (ip.src, ip.dst, ip.proto, ip.id);
        if ip.frag_off != 0 {
            // RFC 1858 §4: a TCP fragment at offset 8 can rewrite the flags of the first.
            let allowed = !(ip.proto == ip_proto::TCP && ip.frag_off == 1)
                && self.frags.get(&fkey).is_some_and(|t| now < *t);
            if allowed {
                self.c.fragments_passed += 1;
                out.emit(egress, pkt);
            } else {
                out.drop(pkt, FwDrop::Fragment);
            }
            return;
        }
        let (p, kind) = match classify(pkt.data(), &ip) {
            Ok(x) => x,
            Err(r) => return out.drop(pkt, r),
        };
        let allowed = match kind {
            Kind::Tracked {
                sport,
                dport,
                starts,
                tcp_flags,
            } => self.tracked(
                ctx, gate, dir, &pkt, &ip, &p, sport, dport, starts, tcp_flags, out,
            ),
            Kind::IcmpError => {
                let flow =
                    quoted_key(pkt.data(), &ip).and_then(|(k, _)| self.flows.lookup(&k, now));
                let state = if flow.is_some() {
                    self.c.related += 1;
                    S_RELATED
                } else {
                    self.c.invalid += 1;
                    S_INVALID
                };
                let hit = self.scan(&p, dir, state);
                let action = self.decide(hit, &p);
                self.enforce(ctx, gate, &pkt, &ip, &p, hit, action, state, out)
            }
            Kind::Untracked => {
                let hit = self.scan(&p, dir, S_NEW);
                let action = self.decide(hit, &p);
                self.enforce(ctx, gate, &pkt, &ip, &p, hit, action, S_NEW, out)
            }
        };
        match allowed {
            Ok(()) => {
                if ip.more_frags && self.frags.len() < FRAGMENT_MAX {
                    self.frags.insert(fkey, now + FRAGMENT_TIMEOUT);
                }
                out.emit(egress, pkt);
            }
            Err(reason) => out.drop(pkt, reason),
        }
    }

    fn tick_expire(&mut self, now: Instant) {
        self.flows.expire(now, EXPIRE_PER_TICK);
        self.frags.retain(|_, t| now < *t);
    }
}

/// The counters of [`Element::counters`], in order, with their type and help.
pub const FIREWALL_COUNTERS: &[CounterInfo] = &[
    CounterInfo::counter("rules_matched_total", "Packets that matched a rule."),
    CounterInfo::counter(
        "default_policy_total",
        "Packets no rule matched (the default policy applied).",
    ),
    CounterInfo::counter(
        "rule_evaluations",
        "Rules tried (first match wins): the cost of the rule list.",
    ),
    CounterInfo::gauge("flows", "Tracked flows now."),
    CounterInfo::counter("flows_created", "Flows created by allowed new packets."),
    CounterInfo::counter("flows_expired", "Flows removed after their idle timeout."),
    CounterInfo::gauge("hosts", "Originator addresses holding flows now."),
    CounterInfo::counter(
        "early_drops",
        "Unanswered flows evicted from a full table for a new flow.",
    ),
    CounterInfo::counter(
        "host_quota_exceeded",
        "New flows refused: their originator held max_flows_per_host flows.",
    ),
    CounterInfo::counter("established", "Packets of established flows."),
    CounterInfo::counter("related", "ICMP errors about tracked flows."),
    CounterInfo::counter("invalid", "Packets in no flow that cannot start one."),
    CounterInfo::counter("arp_passed", "ARP frames passed."),
    CounterInfo::counter(
        "non_ip_passed",
        "Non-IPv4, non-ARP frames passed (allow_non_ip).",
    ),
    CounterInfo::counter(
        "fragments_passed",
        "Non-initial fragments of allowed datagrams passed.",
    ),
    CounterInfo::counter("tcp_resets_sent", "TCP resets sent by reject rules."),
    CounterInfo::counter(
        "icmp_errors_sent",
        "ICMP unreachables sent by reject rules.",
    ),
    CounterInfo::counter(
        "rejects_rate_limited",
        "Reject answers not sent: the token bucket was empty.",
    ),
    CounterInfo::counter(
        "rejects_suppressed",
        "Reject answers never sent by rule (about an ICMP error, a broadcast …).",
    ),
    CounterInfo::counter("no_buffer", "Answers not made: the packet pool was empty."),
];

impl Element for Firewall {
    fn kind(&self) -> &'static str {
        "firewall"
    }

    fn drop_reasons(&self) -> &'static [ReasonInfo] {
        FwDrop::TABLE
    }

    fn gates(&self) -> GateSpec {
        GateSpec {
            inputs: 2,
            outputs: 2,
        }
    }

    fn process(&mut self, ctx: &mut Context, input: InputGate, batch: Batch, out: &mut Outputs) {
        let gate = input.0;
        if gate > GATE_OUT {
            for p in batch {
                out.drop(p, DropReason::BadGate);
            }
            return;
        }
        let egress = OutputGate(1 - gate);
        for pkt in batch {
            let f = pkt.data();
            if f.len() < ETH_HLEN {
                out.drop(pkt, DropReason::Malformed);
                continue;
            }
            if crate::over_ingress_mtu(&pkt, self.mtu) {
                out.drop(pkt, DropReason::TooBig);
                continue;
            }
            let f = pkt.data();
            match eth_type(f) {
                ETHERTYPE_IPV4 => self.process_ipv4(ctx, gate, pkt, out),
                ETHERTYPE_ARP => {
                    self.c.arp_passed += 1;
                    out.emit(egress, pkt);
                }
                _ if self.allow_non_ip => {
                    self.c.non_ip_passed += 1;
                    out.emit(egress, pkt);
                }
                _ => out.drop(pkt, DropReason::UnsupportedEthertype),
            }
        }
    }

    fn tick(&mut self, ctx: &mut Context, _out: &mut Outputs) {
        self.tick_expire(ctx.now);
    }

    fn tick_interval(&self) -> Option<Duration> {
        Some(TICK)
    }

    fn counters(&self, f: &mut dyn FnMut(&'static str, u64)) {
        let c = &self.c;
        f("rules_matched_total", c.rules_matched);
        f("default_policy_total", c.default_policy);
        f("rule_evaluations", c.rule_evaluations);
        f("flows", self.flows.len() as u64);
        f("flows_created", c.flows_created);
        f("flows_expired", self.flows.expired);
        f("hosts", self.flows.host_count() as u64);
        f("early_drops", self.flows.early_drops);
        f("host_quota_exceeded", self.flows.host_quota_exceeded);
        f("established", c.established);
        f("related", c.related);
        f("invalid", c.invalid);
        f("arp_passed", c.arp_passed);
        f("non_ip_passed", c.non_ip_passed);
        f("fragments_passed", c.fragments_passed);
        f("tcp_resets_sent", c.tcp_resets_sent);
        f("icmp_errors_sent", c.icmp_errors_sent);
        f("rejects_rate_limited", c.rejects_rate_limited);
        f("rejects_suppressed", c.rejects_suppressed);
        f("no_buffer", c.no_buffer);
    }

    fn counter_info(&self) -> &'static [CounterInfo] {
        FIREWALL_COUNTERS
    }

    /// `flows` (the live connections, oldest first as the table holds them; packets and
    /// bytes are both directions) and `rules` (in order, then the default policy).
    fn tables(&self, now: Instant, out: &mut dyn FnMut(Table)) {
        let mut t = Table::new(
            "flows",
            &[
                "proto",
                "src",
                "dst",
                "state",
                "packets",
                "bytes",
                "expires_in_s",
            ],
        );
        for f in self.flows(now) {
            t.push_with(|| {
                let ep = |a: Ipv4Addr, p: u16| {
                    if f.proto == 6 || f.proto == 17 {
                        format!("{a}:{p}")
                    } else if f.proto == 1 {
                        format!("{a} id {p}")
                    } else {
                        a.to_string()
                    }
                };
                let state = match f.state {
                    FlowState::Tcp(s) => format!("{s:?}").to_lowercase(),
                    FlowState::Unreplied => "unreplied".into(),
                    FlowState::Replied => "replied".into(),
                };
                // For ICMP the "ports" are (identifier, request type): show the id once.
                let dst = if f.proto == 1 {
                    f.dst.to_string()
                } else {
                    ep(f.dst, f.dst_port)
                };
                vec![
                    crate::show::proto(f.proto),
                    ep(f.src, f.src_port),
                    dst,
                    state,
                    (f.packets_orig + f.packets_reply).to_string(),
                    (f.bytes_orig + f.bytes_reply).to_string(),
                    crate::show::secs(f.expires_in),
                ]
            });
        }
        out(t);

        let action = |a: Action| match a {
            Action::Allow => "allow",
            Action::Drop => "drop",
            Action::Reject => "reject",
        };
        let mut t = Table::new("rules", &["n", "action", "match", "hits", "bytes"]);
        for (i, r) in self.rules.iter().enumerate() {
            t.push_with(|| {
                vec![
                    (i + 1).to_string(),
                    action(r.action).into(),
                    self.summaries.get(i).cloned().unwrap_or_default(),
                    self.hits[i].to_string(),
                    self.bytes[i].to_string(),
                ]
            });
        }
        t.push_with(|| {
            vec![
                "default".into(),
                action(self.default).into(),
                "any".into(),
                self.c.default_policy.to_string(),
                "-".into(),
            ]
        });
        out(t);
    }

    fn gate_name(&self, gate: u16) -> String {
        match gate {
            GATE_IN => "in".into(),
            GATE_OUT => "out".into(),
            g => g.to_string(),
        }
    }
}

#[cfg(test)]
mod tests;
