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
//!   table is bounded (`max_flows`); when it is full (after reclaiming expired flows) the new
//!   packet is dropped (`fw_table_full`). Expiry is O(1): one LRU list per timeout class,
//!   checked every tick (1 s) and on lookup.
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
//! `flows_created`, `flows_expired`, `established`, `related`, `invalid`, `arp_passed`,
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

mod conntrack;

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use ahash::RandomState;
use nfv_dataplane::wire::{
    ETH_HLEN, ETHERTYPE_ARP, ETHERTYPE_IPV4, be16, be32, eth_dst, eth_src, eth_type, ip_proto,
    write_eth,
};
use nfv_dataplane::wire::{checksum, icmp as icmp_wire};
use nfv_dataplane::{
    Batch, Context, DropReason, Element, GateSpec, InputGate, Instant, OutputGate, Outputs,
    PacketBuf, Table,
};

use crate::rate_limit::TokenBucket;
pub use conntrack::TcpState;
use conntrack::{CLASSES, Class, FlowKey, FlowTable, VERDICT_DEFAULT, VERDICT_UNKNOWN};
use nfv_dataplane::wire::ipv4::{
    IP, Ipv4Header as Ip, fix_checksum as fix_ip_checksum, parse as parse_ipv4,
};

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

/// What a rule (or the default policy) does with a packet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Action {
    /// Forward it (and track its flow if it is *new*).
    Allow,
    /// Discard it silently.
    #[default]
    Drop,
    /// Discard it and answer with a TCP RST or an ICMP Destination Unreachable.
    Reject,
}

/// Direction of a packet through the firewall.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the outside (gate 1) towards the protected side (gate 0).
    In,
    /// From the protected side (gate 0) to the outside (gate 1).
    Out,
}

/// Connection state a rule can require.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnState {
    /// No flow yet; the packet may start one.
    New,
    /// The packet belongs to an existing flow (either direction).
    Established,
    /// An ICMP error about an existing flow.
    Related,
}

/// One rule. Every condition is optional; a rule with none matches every packet (invalid
/// ones included).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rule {
    /// What to do with a matching packet.
    pub action: Action,
    /// Only packets going this way.
    pub direction: Option<Direction>,
    /// Source address prefix `(network, length)`.
    pub src: Option<(Ipv4Addr, u8)>,
    /// Destination address prefix.
    pub dst: Option<(Ipv4Addr, u8)>,
    /// IP protocol number (6 TCP, 17 UDP, 1 ICMP …).
    pub proto: Option<u8>,
    /// Inclusive source port range; only TCP and UDP packets (with ports) can match.
    pub src_ports: Option<(u16, u16)>,
    /// Inclusive destination port range; only TCP and UDP packets (with ports) can match.
    pub dst_ports: Option<(u16, u16)>,
    /// ICMP type; only ICMP packets can match.
    pub icmp_type: Option<u8>,
    /// Connection states; `None` is any state, invalid included.
    pub states: Option<Vec<ConnState>>,
}

impl Rule {
    /// What the rule matches, in the configuration's words (`dir out proto tcp dst
    /// 10.0.0.0/8 dport 80-80 state new`); `any` for a rule that matches everything.
    pub fn summary(&self) -> String {
        let mut p: Vec<String> = Vec::new();
        if let Some(d) = self.direction {
            p.push(format!(
                "dir {}",
                if d == Direction::In { "in" } else { "out" }
            ));
        }
        if let Some(n) = self.proto {
            p.push(format!("proto {}", crate::show::proto(n)));
        }
        if let Some((a, l)) = self.src {
            p.push(format!("src {a}/{l}"));
        }
        if let Some((lo, hi)) = self.src_ports {
            p.push(format!("sport {lo}-{hi}"));
        }
        if let Some((a, l)) = self.dst {
            p.push(format!("dst {a}/{l}"));
        }
        if let Some((lo, hi)) = self.dst_ports {
            p.push(format!("dport {lo}-{hi}"));
        }
        if let Some(t) = self.icmp_type {
            p.push(format!("icmp-type {t}"));
        }
        if let Some(st) = &self.states {
            let names: Vec<&str> = st
                .iter()
                .map(|s| match s {
                    ConnState::New => "new",
                    ConnState::Established => "established",
                    ConnState::Related => "related",
                })
                .collect();
            p.push(format!("state {}", names.join(",")));
        }
        if p.is_empty() {
            "any".into()
        } else {
            p.join(" ")
        }
    }
}

/// Flow idle timeouts per class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FwTimeouts {
    /// TCP after the handshake (default 7440 s, Linux/RFC 5382).
    pub tcp_established: Duration,
    /// TCP during handshake and close (default 240 s).
    pub tcp_transitory: Duration,
    /// TCP after a RST (default 10 s).
    pub tcp_closed: Duration,
    /// UDP (default 300 s).
    pub udp: Duration,
    /// ICMP queries (default 60 s).
    pub icmp: Duration,
    /// Other protocols (default 600 s).
    pub other: Duration,
}

impl Default for FwTimeouts {
    fn default() -> Self {
        FwTimeouts {
            tcp_established: Duration::from_secs(7440),
            tcp_transitory: Duration::from_secs(240),
            tcp_closed: Duration::from_secs(10),
            udp: Duration::from_secs(300),
            icmp: Duration::from_secs(60),
            other: Duration::from_secs(600),
        }
    }
}

/// Firewall configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FirewallConfig {
    /// Rules, first match wins.
    pub rules: Vec<Rule>,
    /// Action when no rule matches.
    pub default: Action,
    /// Flow timeouts.
    pub timeouts: FwTimeouts,
    /// Most flows tracked at once.
    pub max_flows: u32,
    /// RSTs and ICMP errors per second (0: never answer a reject).
    pub icmp_rate_limit: u32,
    /// Token-bucket depth.
    pub icmp_burst: u32,
    /// Pass non-IPv4, non-ARP frames unfiltered (default false: dropped).
    pub allow_non_ip: bool,
}

impl Default for FirewallConfig {
    fn default() -> Self {
        FirewallConfig {
            rules: Vec::new(),
            default: Action::Drop,
            timeouts: FwTimeouts::default(),
            max_flows: 262_144,
            icmp_rate_limit: 100,
            icmp_burst: 50,
            allow_non_ip: false,
        }
    }
}

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

// ------------------------------------------------------------------ compiled rules

const S_NEW: u8 = 1;
const S_ESTABLISHED: u8 = 2;
const S_RELATED: u8 = 4;
/// A packet state no rule `states` set can name.
const S_INVALID: u8 = 8;

#[derive(Clone, Copy, Debug)]
struct CompiledRule {
    action: Action,
    direction: Option<Direction>,
    src: (u32, u32),
    dst: (u32, u32),
    proto: Option<u8>,
    src_ports: Option<(u16, u16)>,
    dst_ports: Option<(u16, u16)>,
    icmp_type: Option<u8>,
    states: u8,
}

fn prefix(p: Option<(Ipv4Addr, u8)>) -> (u32, u32) {
    match p {
        None => (0, 0),
        Some((a, len)) => {
            let mask = if len == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(len.min(32)))
            };
            (u32::from(a) & mask, mask)
        }
    }
}

impl CompiledRule {
    fn new(r: &Rule) -> CompiledRule {
        let states = match &r.states {
            None => 0xff,
            Some(v) => v.iter().fold(0, |m, s| {
                m | match s {
                    ConnState::New => S_NEW,
                    ConnState::Established => S_ESTABLISHED,
                    ConnState::Related => S_RELATED,
                }
            }),
        };
        CompiledRule {
            action: r.action,
            direction: r.direction,
            src: prefix(r.src),
            dst: prefix(r.dst),
            proto: r.proto,
            src_ports: r.src_ports,
            dst_ports: r.dst_ports,
            icmp_type: r.icmp_type,
            states,
        }
    }

    fn matches(&self, p: &Pkt, dir: Direction, state: u8) -> bool {
        let in_range = |r: Option<(u16, u16)>, v: Option<u16>| match (r, v) {
            (None, _) => true,
            (Some((lo, hi)), Some(v)) => lo <= v && v <= hi,
            (Some(_), None) => false,
        };
        self.states & state != 0
            && self.direction.is_none_or(|d| d == dir)
            && p.src & self.src.1 == self.src.0
            && p.dst & self.dst.1 == self.dst.0
            && self.proto.is_none_or(|x| x == p.proto)
            && in_range(self.src_ports, p.ports.map(|x| x.0))
            && in_range(self.dst_ports, p.ports.map(|x| x.1))
            && match (self.icmp_type, p.icmp_type) {
                (None, _) => true,
                (Some(t), Some(u)) => t == u,
                (Some(_), None) => false,
            }
    }
}

// ------------------------------------------------------------------ packet parsing

/// What rules look at.
#[derive(Clone, Copy, Debug)]
struct Pkt {
    src: u32,
    dst: u32,
    proto: u8,
    /// TCP/UDP (source, destination) ports; `None` for other protocols and non-initial
    /// fragments.
    ports: Option<(u16, u16)>,
    icmp_type: Option<u8>,
    /// IP total length, for byte counters.
    len: u64,
}

/// How a packet relates to connection tracking.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// Has a flow key (pseudo ports); `starts`: may create a flow when none exists.
    Tracked {
        sport: u32,
        dport: u32,
        starts: bool,
        tcp_flags: u8,
    },
    /// ICMP error: look for the flow of the packet it quotes.
    IcmpError,
    /// ICMP neither query nor error: always *new*, never tracked.
    Untracked,
}

mod icmp {
    pub const ECHO_REPLY: u8 = 0;
    pub const DEST_UNREACH: u8 = 3;
    pub const ECHO_REQUEST: u8 = 8;
    pub const PORT_UNREACH: u8 = 3;
    pub const ADMIN_PROHIBITED: u8 = 13;

    /// The request type of a query request or reply, and whether it is the request.
    pub fn query(t: u8) -> Option<(u8, bool)> {
        match t {
            ECHO_REQUEST | 13 | 15 | 17 => Some((t, true)),
            ECHO_REPLY => Some((ECHO_REQUEST, false)),
            14 | 16 | 18 => Some((t - 1, false)),
            _ => None,
        }
    }

    pub fn is_error(t: u8) -> bool {
        matches!(t, 3 | 4 | 5 | 11 | 12)
    }
}

/// Pseudo ports of an ICMP query: the identifier on the requester's side, the request type
/// (above any identifier) on the responder's side.
fn icmp_ports(t: u8, id: u16) -> Option<(u32, u32)> {
    let (req, is_request) = icmp::query(t)?;
    let ty = 0x1_0000 | u32::from(req);
    Some(if is_request {
        (u32::from(id), ty)
    } else {
        (ty, u32::from(id))
    })
}

mod tcpf {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const ACK: u8 = 0x10;
}

/// Rule view and tracking kind of a validated IPv4 packet in frame `f`. `Err` when the L4
/// header of a whole packet or first fragment is cut short.
fn classify(f: &[u8], ip: &Ip) -> Result<(Pkt, Kind), DropReason> {
    let l4 = f.get(IP + ip.ihl..IP + ip.total).unwrap_or(&[]);
    let mut p = Pkt {
        src: ip.src,
        dst: ip.dst,
        proto: ip.proto,
        ports: None,
        icmp_type: None,
        len: ip.total as u64,
    };
    let kind = match ip.proto {
        ip_proto::TCP => {
            if l4.len() < 20 {
                return Err(DropReason::Malformed);
            }
            let (sp, dp) = (be16(l4, 0), be16(l4, 2));
            p.ports = Some((sp, dp));
            let flags = l4[13];
            let syn_only = flags & (tcpf::SYN | tcpf::ACK | tcpf::RST | tcpf::FIN) == tcpf::SYN;
            Kind::Tracked {
                sport: u32::from(sp),
                dport: u32::from(dp),
                starts: syn_only,
                tcp_flags: flags,
            }
        }
        ip_proto::UDP => {
            if l4.len() < 8 {
                return Err(DropReason::Malformed);
            }
            let (sp, dp) = (be16(l4, 0), be16(l4, 2));
            p.ports = Some((sp, dp));
            Kind::Tracked {
                sport: u32::from(sp),
                dport: u32::from(dp),
                starts: true,
                tcp_flags: 0,
            }
        }
        ip_proto::ICMP => {
            if l4.len() < 8 {
                return Err(DropReason::Malformed);
            }
            let t = l4[0];
            p.icmp_type = Some(t);
            if let Some((sport, dport)) = icmp_ports(t, be16(l4, 4)) {
                Kind::Tracked {
                    sport,
                    dport,
                    starts: icmp::query(t).is_some_and(|q| q.1),
                    tcp_flags: 0,
                }
            } else if icmp::is_error(t) {
                Kind::IcmpError
            } else {
                Kind::Untracked
            }
        }
        _ => Kind::Tracked {
            sport: 0,
            dport: 0,
            starts: true,
            tcp_flags: 0,
        },
    };
    Ok((p, kind))
}

/// The flow key of the packet an ICMP error quotes, as that packet was sent (from the
/// error's destination). `None` if the quote is too short or inconsistent.
fn quoted_key(f: &[u8], ip: &Ip) -> Option<(FlowKey, bool)> {
    let q = f.get(IP + ip.ihl + 8..IP + ip.total)?;
    if q.len() < 20 || q[0] >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(q[0] & 0x0f) * 4;
    if ihl < 20 {
        return None;
    }
    let (src, dst, proto) = (be32(q, 12), be32(q, 16), q[9]);
    // The error goes back to the sender of the quoted packet.
    if src != ip.dst {
        return None;
    }
    let frag_off = be16(q, 6) & 0x1fff;
    let l4 = q.get(ihl..).unwrap_or(&[]);
    let (sport, dport) = match proto {
        ip_proto::TCP | ip_proto::UDP => {
            if frag_off != 0 || l4.len() < 4 {
                return None;
            }
            (u32::from(be16(l4, 0)), u32::from(be16(l4, 2)))
        }
        ip_proto::ICMP => {
            if frag_off != 0 || l4.len() < 8 {
                return None;
            }
            icmp_ports(l4[0], be16(l4, 4))?
        }
        _ => (0, 0),
    };
    Some(FlowKey::of(proto, src, sport, dst, dport))
}

fn martian_source(a: u32) -> bool {
    let first = a >> 24;
    first == 0 || first == 127 || first >= 224
}

fn is_multicast(a: u32) -> bool {
    a >> 28 == 0xe
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
            flows: FlowTable::new(cfg.max_flows, timeouts),
            frags: HashMap::with_hasher(RandomState::new()),
            bucket: TokenBucket::new(cfg.icmp_rate_limit, cfg.icmp_burst),
            allow_non_ip: cfg.allow_non_ip,
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

    /// Scan the rules for a packet in `state` (one of the `S_*` bits).
    fn scan(&mut self, p: &Pkt, dir: Direction, state: u8) -> Hit {
        self.c.rule_evaluations += 1;
        self.rules.iter().position(|r| r.matches(p, dir, state))
    }

    /// Count the hit and return its action.
    fn decide(&mut self, hit: Hit, p: &Pkt) -> Action {
        match hit {
            Some(i) => {
                self.c.rules_matched += 1;
                self.hits[i] += 1;
                self.bytes[i] += p.len;
                self.rules[i].action
            }
            None => {
                self.c.default_policy += 1;
                self.default
            }
        }
    }

    fn process_ipv4(&mut self, ctx: &mut Context, gate: u16, pkt: PacketBuf, out: &mut Outputs) {
        let ip = match parse_ipv4(pkt.data()) {
            Ok(ip) => ip,
            Err(r) => return out.drop(pkt, r),
        };
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
                out.drop(pkt, DropReason::FwFragment);
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

    /// A TCP, UDP, ICMP query or other-protocol packet. `Ok` to forward it.
    #[allow(clippy::too_many_arguments)]
    fn tracked(
        &mut self,
        ctx: &mut Context,
        gate: u16,
        dir: Direction,
        pkt: &PacketBuf,
        ip: &Ip,
        p: &Pkt,
        sport: u32,
        dport: u32,
        starts: bool,
        tcp_flags: u8,
        out: &mut Outputs,
    ) -> Result<(), DropReason> {
        let now = ctx.now;
        let (key, from_a) = FlowKey::of(p.proto, p.src, sport, p.dst, dport);
        let mut found = self.flows.lookup(&key, now);
        if let Some(i) = found {
            let f = self.flows.get(i);
            // Port reuse: a fresh SYN replaces a connection that is over.
            if p.proto == ip_proto::TCP
                && starts
                && matches!(f.tcp, TcpState::TimeWait | TcpState::Closed)
            {
                self.flows.remove(i);
                found = None;
            }
        }
        let Some(i) = found else {
            let state = if starts {
                S_NEW
            } else {
                self.c.invalid += 1;
                S_INVALID
            };
            let hit = self.scan(p, dir, state);
            let action = self.decide(hit, p);
            self.enforce(ctx, gate, pkt, ip, p, hit, action, state, out)?;
            if state == S_NEW {
                let (tcp, class) = match p.proto {
                    ip_proto::TCP => (TcpState::SynSent, Class::TcpTransitory),
                    ip_proto::UDP => (TcpState::Closed, Class::Udp),
                    ip_proto::ICMP => (TcpState::Closed, Class::Icmp),
                    _ => (TcpState::Closed, Class::Other),
                };
                let Some(i) = self.flows.insert(key, from_a, dir, tcp, class, now) else {
                    return Err(DropReason::FwTableFull);
                };
                self.c.flows_created += 1;
                let f = self.flows.get_mut(i);
                f.packets[0] += 1;
                f.bytes[0] += p.len;
            }
            return Ok(());
        };
        // Established: the cached verdict for this (original/reply, in/out) if there is one.
        self.c.established += 1;
        let f = self.flows.get(i);
        let reply = from_a != f.orig_is_a;
        let slot = usize::from(reply) * 2 + usize::from(dir == Direction::In);
        let hit = match f.verdicts[slot] {
            VERDICT_UNKNOWN => {
                let hit = self.scan(p, dir, S_ESTABLISHED);
                self.flows.get_mut(i).verdicts[slot] = hit.map_or(VERDICT_DEFAULT, |x| x as u32);
                hit
            }
            VERDICT_DEFAULT => None,
            x => Some(x as usize),
        };
        let action = self.decide(hit, p);
        self.enforce(ctx, gate, pkt, ip, p, hit, action, S_ESTABLISHED, out)?;
        let f = self.flows.get_mut(i);
        let side = usize::from(reply);
        f.packets[side] += 1;
        f.bytes[side] += p.len;
        let class = if p.proto == ip_proto::TCP {
            tcp_transition(f, reply, tcp_flags);
            f.tcp.class()
        } else {
            f.class
        };
        self.flows.touch(i, class, now);
        Ok(())
    }

    /// Apply `action`: `Ok` to forward; otherwise the drop reason, after answering a reject.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn enforce(
        &mut self,
        ctx: &mut Context,
        gate: u16,
        pkt: &PacketBuf,
        ip: &Ip,
        p: &Pkt,
        hit: Hit,
        action: Action,
        state: u8,
        out: &mut Outputs,
    ) -> Result<(), DropReason> {
        // The common case without the call: allowed, and no packet trace to write.
        if matches!(action, Action::Allow) && pkt.meta.trace == 0 {
            return Ok(());
        }
        self.enforce_slow(ctx, gate, pkt, ip, p, hit, action, state, out)
    }

    /// [`Firewall::enforce`] with its trace note, drops and rejects.
    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    fn enforce_slow(
        &mut self,
        ctx: &mut Context,
        gate: u16,
        pkt: &PacketBuf,
        ip: &Ip,
        p: &Pkt,
        hit: Hit,
        action: Action,
        state: u8,
        out: &mut Outputs,
    ) -> Result<(), DropReason> {
        out.note(pkt, || {
            let dir = if gate == GATE_IN { "out" } else { "in" };
            let state = match state {
                S_NEW => "new",
                S_ESTABLISHED => "established",
                S_RELATED => "related",
                S_INVALID => "invalid",
                _ => "?",
            };
            let by = match hit {
                Some(i) => format!(
                    "rule {} ({})",
                    i + 1,
                    self.summaries.get(i).map_or("", String::as_str)
                ),
                None => "default policy".into(),
            };
            let action = match action {
                Action::Allow => "allow",
                Action::Drop => "drop",
                Action::Reject => "reject",
            };
            format!("direction {dir}, state {state}: {by} -> {action}")
        });
        match action {
            Action::Allow => Ok(()),
            Action::Drop if state == S_INVALID => Err(DropReason::FwInvalid),
            Action::Drop => Err(DropReason::FwRuleDrop),
            Action::Reject => {
                self.reject(ctx, gate, pkt, ip, p, out);
                Err(DropReason::FwRejected)
            }
        }
    }

    // ------------------------------------------------------------ reject answers

    fn next_id(&mut self) -> u16 {
        self.ip_id = self.ip_id.wrapping_add(1);
        self.ip_id
    }

    /// Answer a rejected packet (TCP RST or ICMP error) out of the gate it came in on,
    /// unless RFC 1812 §4.3.2.7 (or RFC 793 for RSTs) forbids it or the rate limit says no.
    fn reject(
        &mut self,
        ctx: &mut Context,
        gate: u16,
        pkt: &PacketBuf,
        ip: &Ip,
        p: &Pkt,
        out: &mut Outputs,
    ) {
        let f = pkt.data();
        let l4 = IP + ip.ihl;
        let about_icmp_error = p.icmp_type.is_some_and(|t| icmp::query(t).is_none());
        let is_rst = p.proto == ip_proto::TCP && f[l4 + 13] & tcpf::RST != 0;
        if about_icmp_error
            || is_rst
            || eth_dst(f)[0] & 1 != 0
            || ip.dst == u32::MAX
            || is_multicast(ip.dst)
            || martian_source(ip.src)
            || ip.frag_off != 0
        {
            self.c.rejects_suppressed += 1;
            return;
        }
        if !self.bucket.take(ctx.now) {
            self.c.rejects_rate_limited += 1;
            return;
        }
        let Some(mut r) = ctx.alloc() else {
            self.c.no_buffer += 1;
            return;
        };
        let id = self.next_id();
        let built = if p.proto == ip_proto::TCP {
            tcp_reset(f, ip, id, &mut r)
        } else {
            let code = if p.proto == ip_proto::UDP {
                icmp::PORT_UNREACH
            } else {
                icmp::ADMIN_PROHIBITED
            };
            icmp_unreachable(f, ip, id, code, &mut r)
        };
        if !built {
            self.c.no_buffer += 1;
            out.drop(r, DropReason::NoBuffer);
            return;
        }
        if p.proto == ip_proto::TCP {
            self.c.tcp_resets_sent += 1;
        } else {
            self.c.icmp_errors_sent += 1;
        }
        out.emit(OutputGate(gate), r);
    }

    fn tick_expire(&mut self, now: Instant) {
        self.flows.expire(now, EXPIRE_PER_TICK);
        self.frags.retain(|_, t| now < *t);
    }
}

/// TCP state after an allowed segment with `flags` from the responder (`reply`) or the
/// originator.
fn tcp_transition(f: &mut conntrack::Flow, reply: bool, flags: u8) {
    if flags & tcpf::RST != 0 {
        f.tcp = TcpState::Closed;
        return;
    }
    if flags & tcpf::FIN != 0 && f.tcp != TcpState::Closed {
        f.fin[usize::from(reply)] = true;
        f.tcp = if f.fin[0] && f.fin[1] {
            TcpState::TimeWait
        } else {
            TcpState::FinWait
        };
        return;
    }
    f.tcp = match f.tcp {
        // SYN-ACK, or the peer's SYN of a simultaneous open.
        TcpState::SynSent if reply && flags & tcpf::SYN != 0 => TcpState::SynReceived,
        TcpState::SynReceived if flags & (tcpf::SYN | tcpf::ACK) == tcpf::ACK => {
            TcpState::Established
        }
        s => s,
    };
}

/// RFC 793 reset generation for the segment in frame `f`, written into `r` with MACs,
/// addresses and ports swapped. False if `r` is too small.
fn tcp_reset(f: &[u8], ip: &Ip, id: u16, r: &mut PacketBuf) -> bool {
    let l4 = IP + ip.ihl;
    let flags = f[l4 + 13];
    let (sport, dport) = (be16(f, l4), be16(f, l4 + 2));
    let (seq, ack) = (be32(f, l4 + 4), be32(f, l4 + 8));
    let doff = usize::from(f[l4 + 12] >> 4) * 4;
    let seg_len = ip.total.saturating_sub(ip.ihl + doff) as u32
        + u32::from(flags & tcpf::SYN != 0)
        + u32::from(flags & tcpf::FIN != 0);
    let (new_seq, new_ack, new_flags) = if flags & tcpf::ACK != 0 {
        (ack, 0, tcpf::RST)
    } else {
        (0, seq.wrapping_add(seg_len), tcpf::RST | tcpf::ACK)
    };
    let mut h = [0u8; IP + 40];
    write_eth(&mut h, eth_src(f), eth_dst(f), ETHERTYPE_IPV4);
    h[IP] = 0x45;
    h[IP + 2..IP + 4].copy_from_slice(&40u16.to_be_bytes());
    h[IP + 4..IP + 6].copy_from_slice(&id.to_be_bytes());
    h[IP + 6] = 0x40; // DF
    h[IP + 8] = 64;
    h[IP + 9] = ip_proto::TCP;
    h[IP + 12..IP + 16].copy_from_slice(&ip.dst.to_be_bytes());
    h[IP + 16..IP + 20].copy_from_slice(&ip.src.to_be_bytes());
    let t = IP + 20;
    h[t..t + 2].copy_from_slice(&dport.to_be_bytes());
    h[t + 2..t + 4].copy_from_slice(&sport.to_be_bytes());
    h[t + 4..t + 8].copy_from_slice(&new_seq.to_be_bytes());
    h[t + 8..t + 12].copy_from_slice(&new_ack.to_be_bytes());
    h[t + 12] = 5 << 4;
    h[t + 13] = new_flags;
    fix_ip_checksum(&mut h, 20);
    let ps = checksum::pseudo_header_v4(ip.dst, ip.src, ip_proto::TCP, 20);
    let c = !checksum::fold(checksum::sum(&h[t..t + 20], ps));
    h[t + 16..t + 18].copy_from_slice(&c.to_be_bytes());
    r.extend_from_slice(&h)
}

/// ICMP Destination Unreachable `code` about the packet in frame `f`, from its destination
/// back to its source, quoting it up to 576 bytes in all. False if `r` is too small.
fn icmp_unreachable(f: &[u8], ip: &Ip, id: u16, code: u8, r: &mut PacketBuf) -> bool {
    let h = icmp_wire::ErrorHeader {
        eth_dst: eth_src(f),
        eth_src: eth_dst(f),
        src: ip.dst,
        dst: ip.src,
        id,
        typ: icmp::DEST_UNREACH,
        code,
        rest: 0,
    };
    icmp_wire::build_error(r, &h, &f[IP..IP + ip.total])
}

impl Element for Firewall {
    fn kind(&self) -> &'static str {
        "firewall"
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
