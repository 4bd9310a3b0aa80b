//! IPv4 router: longest-prefix-match forwarding, ARP, ICMP, and the RFC 1812 behaviours that
//! ping, traceroute and tracepath rely on.
//!
//! # Gates
//! One input and one output gate per interface, numbered in configuration order and named
//! after the interface (`lan-a`). Every interface has its own MAC, address and MTU.
//!
//! # Configuration
//! [`RouterConfig`]. YAML: `kind: router`, `interfaces: { NAME: { address, mtu, mac } }`,
//! `routes: [{ to, via }]`, `routes-file`, `icmp-rate-limit` (errors/s, default 100),
//! `icmp-burst` (default 50), `arp-timeout` (default 300 s), `redirects` (default true).
//!
//! # Behaviour (RFC 1812 sections cited at the code)
//! * Frames for another MAC are dropped (`not_for_us`); ARP and IPv4 are handled, any other
//!   EtherType is `unsupported_ethertype`.
//! * IPv4 header validation before anything else (§5.2.2); failures are silently discarded
//!   and counted by reason (`ip_too_short`, `ip_bad_version`, `ip_bad_header_length`,
//!   `ip_bad_total_length`, `ip_bad_checksum`). Ethernet padding is trimmed.
//! * Local delivery (weak host model: any of the router's addresses on any interface):
//!   ICMP echo server (§4.3.3.6), UDP → ICMP Port Unreachable, TCP → RST, other protocols
//!   → ICMP Protocol Unreachable. TTL is never checked for local delivery (§5.3.1).
//! * Forwarding: LPM over connected and static routes (§5.2.4); TTL ≤ 1 → ICMP Time
//!   Exceeded (§5.3.1); TTL decremented with an RFC 1624 incremental checksum; too big with
//!   DF → ICMP Fragmentation Needed with the next-hop MTU, without DF → fragmented (§5.2.6);
//!   no route → ICMP Net Unreachable; ARP failure → ICMP Host Unreachable (§5.2.7.1);
//!   ICMP Redirect when a packet leaves the interface it came in on towards a next hop on
//!   the sender's subnet (§5.2.7.2, can be disabled).
//! * GSO super-frames (from an offloading TAP): forwarded whole when each segment (IP and
//!   transport headers + `gso_size`) fits the next hop's MTU; otherwise with DF → ICMP
//!   Fragmentation Needed (RFC 1191 PMTU discovery works for TSO senders), without DF →
//!   segmented in software, then fragmented if still too big (Linux `ip_forward` +
//!   `skb_gso_validate_network_len`). Invalid offload state → `offload_invalid`.
//! * Not forwarded: link-layer broadcasts (§5.3.4), limited and directed broadcasts (§5.3.5),
//!   multicast (no multicast routing), martian sources and destinations (§5.3.7), and
//!   169.254/16 (RFC 3927 §7).
//! * ICMP errors (§4.3.2): never about an ICMP error, an IP broadcast/multicast, a
//!   link-layer broadcast, a non-initial fragment or a martian source; source address = the
//!   interface the offending packet arrived on; the original header and data up to 576
//!   bytes in all; TOS 0xc0 (§4.3.2.5); token-bucket rate limited (§4.3.2.8).
//! * ARP (RFC 826, RFC 1122 §2.3.2): answers for the interface's address, learns from
//!   requests to it and refreshes existing entries from any ARP (merge); resolves next hops
//!   with at most one request per second per destination and three tries, holding up to
//!   [`ARP_QUEUE_PER_NEXT_HOP`] packets per unresolved next hop; entries live `arp-timeout`
//!   and are refreshed (re-requested) in the last quarter of their life while in use;
//!   a gratuitous ARP is sent for every interface when the router starts.
//!
//! # Counters
//! `forwarded`, `local_delivered`, `echo_replies`, `icmp_errors_sent`,
//! `icmp_errors_rate_limited`, `icmp_errors_suppressed` (§4.3.2.7 cases), `redirects_sent`,
//! `tcp_resets_sent`, `fragments_created`, `gso_segments_created`, `arp_requests_sent`, `arp_replies_sent`,
//! `arp_resolved`, `arp_failed`, `arp_entries` (gauge), `held` packets waiting for ARP.
//!
//! # See also
//! RFC 1812; VPP `ip4-input`, `ip4-lookup`, `ip4-rewrite`, `ip4-icmp-error`; Linux
//! `ip_forward.c`, `icmp.c`, `neighbour.c`.

pub mod fib;

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use ahash::RandomState;
use arrayvec::ArrayVec;
use nfv_dataplane::wire::{
    ETH_HLEN, ETHERTYPE_ARP, ETHERTYPE_IPV4, MAC_BROADCAST, be16, be32, eth_dst, eth_src, eth_type,
    ip_proto, write_eth,
};
use nfv_dataplane::wire::{arp, checksum, gso, icmp as icmp_wire};
use nfv_dataplane::{
    Batch, Context, DropReason, Element, GateSpec, InputGate, Instant, OutputGate, Outputs,
    PacketBuf, Table,
};

use crate::rate_limit::TokenBucket;
use fib::{Fib, FibBuilder};

/// Packets held per unresolved next hop (RFC 1122 §2.3.2.2: SHOULD keep at least one).
/// 16 so that a jumbo datagram fragmented for a 1400-byte link (7 pieces) survives a
/// first-packet ARP resolution.
pub const ARP_QUEUE_PER_NEXT_HOP: usize = 16;
/// ARP requests per unresolved next hop before giving up (one per second).
pub const ARP_TRIES: u8 = 3;
/// How long a failed resolution answers Host Unreachable before trying again.
pub const ARP_FAILED_HOLD: Duration = Duration::from_secs(3);
/// Most ARP entries (resolved, pending or failed) per router.
pub const ARP_MAX_ENTRIES: usize = 16_384;
const TICK: Duration = Duration::from_millis(100);

/// One router interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouterInterfaceConfig {
    /// Interface (gate) name.
    pub name: String,
    /// Its MAC address.
    pub mac: [u8; 6],
    /// Its address.
    pub addr: Ipv4Addr,
    /// Prefix length of the connected subnet.
    pub prefix_len: u8,
    /// MTU (IP packet size limit).
    pub mtu: u16,
}

/// A static route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StaticRoute {
    /// Network address.
    pub prefix: Ipv4Addr,
    /// Prefix length.
    pub len: u8,
    /// Next hop, on a connected subnet.
    pub via: Ipv4Addr,
}

/// Router configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouterConfig {
    /// Interfaces in gate order.
    pub interfaces: Vec<RouterInterfaceConfig>,
    /// Static routes.
    pub routes: Vec<StaticRoute>,
    /// ICMP errors per second (0 disables ICMP errors).
    pub icmp_rate_limit: u32,
    /// Token-bucket depth.
    pub icmp_burst: u32,
    /// ARP entry lifetime.
    pub arp_timeout: Duration,
    /// Send ICMP redirects.
    pub redirects: bool,
}

/// Why a router could not be built (config validation normally catches these first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouterError {
    /// A static route's next hop is on no connected subnet.
    NextHopNotConnected(StaticRoute),
    /// A route could not be added to the FIB.
    Fib(String),
    /// More than 65535 interfaces.
    TooManyInterfaces,
}

impl std::fmt::Display for RouterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RouterError::NextHopNotConnected(r) => write!(
                f,
                "route {}/{} via {}: the next hop is on no connected subnet",
                r.prefix, r.len, r.via
            ),
            RouterError::Fib(e) => write!(f, "forwarding table: {e}"),
            RouterError::TooManyInterfaces => f.write_str("too many interfaces"),
        }
    }
}

impl std::error::Error for RouterError {}

#[derive(Clone, Debug)]
struct Iface {
    name: String,
    mac: [u8; 6],
    addr: u32,
    mask: u32,
    mtu: u16,
}

impl Iface {
    fn net(&self) -> u32 {
        self.addr & self.mask
    }
    fn contains(&self, a: u32) -> bool {
        a & self.mask == self.net()
    }
    fn broadcast(&self) -> u32 {
        self.net() | !self.mask
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NextHop {
    /// One of the router's own addresses.
    Local,
    /// The directed broadcast address of a connected subnet.
    Broadcast,
    /// Directly connected subnet on this interface.
    Connected(u16),
    /// Via a gateway on this interface.
    Gateway(u16, u32),
}

#[derive(Debug)]
enum ArpState {
    Resolved {
        mac: [u8; 6],
        confirmed: Instant,
        last_probe: Instant,
    },
    Incomplete {
        tries: u8,
        last_request: Instant,
        /// Boxed: resolved entries (the common case) stay small; one allocation per next hop
        /// being resolved, not per packet.
        queue: Box<ArrayVec<PacketBuf, ARP_QUEUE_PER_NEXT_HOP>>,
    },
    Failed {
        until: Instant,
    },
}

#[derive(Debug)]
struct ArpEntry {
    iface: u16,
    state: ArpState,
}

#[derive(Clone, Copy, Debug, Default)]
struct Counters {
    forwarded: u64,
    local_delivered: u64,
    echo_replies: u64,
    icmp_errors_sent: u64,
    icmp_errors_rate_limited: u64,
    icmp_errors_suppressed: u64,
    redirects_sent: u64,
    tcp_resets_sent: u64,
    fragments_created: u64,
    gso_segments_created: u64,
    arp_requests_sent: u64,
    arp_replies_sent: u64,
    arp_resolved: u64,
    arp_failed: u64,
    no_buffer: u64,
}

/// ICMP types and codes used here.
mod icmp {
    pub const ECHO_REPLY: u8 = 0;
    pub const DEST_UNREACH: u8 = 3;
    pub const REDIRECT: u8 = 5;
    pub const ECHO_REQUEST: u8 = 8;
    pub const TIME_EXCEEDED: u8 = 11;
    pub const NET_UNREACH: u8 = 0;
    pub const HOST_UNREACH: u8 = 1;
    pub const PROTO_UNREACH: u8 = 2;
    pub const PORT_UNREACH: u8 = 3;
    pub const FRAG_NEEDED: u8 = 4;
    pub const REDIRECT_HOST: u8 = 1;

    /// Query (informational) types: errors may be sent about these (RFC 1812 §4.3.2.7).
    pub fn is_query(t: u8) -> bool {
        matches!(t, 0 | 8 | 13 | 14 | 15 | 16 | 17 | 18)
    }
}

/// RFC 1812 §5.3.7 / §4.2.2.11: a source that is not a unique host address.
fn martian_source(a: u32) -> bool {
    let first = a >> 24;
    first == 0 || first == 127 || first >= 224
}

/// RFC 1812 §5.3.7: destinations never forwarded (multicast and limited broadcast are
/// handled separately).
fn martian_destination(a: u32) -> bool {
    let first = a >> 24;
    first == 0 || first == 127 || (240..255).contains(&first) || (first == 255 && a != u32::MAX)
}

fn is_multicast(a: u32) -> bool {
    a >> 28 == 0xe
}

/// True if the IPv4 options carry a loose or strict source route (RFC 791 types 0x83,
/// 0x89): RFC 1812 §5.2.7.2 forbids redirects for such packets.
fn source_routed(f: &[u8], ihl: usize) -> bool {
    let end = (IP + ihl).min(f.len());
    let mut o = IP + 20;
    while o < end {
        match f[o] {
            0 => return false,
            1 => o += 1,
            t => {
                if t == 0x83 || t == 0x89 {
                    return true;
                }
                let len = f.get(o + 1).map_or(0, |l| usize::from(*l));
                if len < 2 {
                    return false;
                }
                o += len;
            }
        }
    }
    false
}

fn is_link_local(a: u32) -> bool {
    a >> 16 == 0xa9fe
}

use nfv_dataplane::wire::ipv4::{
    IP, Ipv4Header as Ip, fix_checksum as fix_ip_checksum, parse as parse_ipv4,
};

/// The IPv4 router element. See the module documentation.
#[derive(Debug)]
pub struct Ipv4Router {
    ifaces: Vec<Iface>,
    fib: Fib,
    next_hops: Vec<NextHop>,
    /// The static routes' prefixes, in configuration order; route `k`'s next hop is
    /// `next_hops[2 + ifaces.len() + k]`. Kept only for the `routes` table: the DIR-24-8 FIB
    /// cannot be listed.
    static_prefixes: Vec<(u32, u8)>,
    arp: HashMap<u32, ArpEntry, RandomState>,
    held: u64,
    icmp_bucket: TokenBucket,
    arp_timeout: Duration,
    /// `arp_timeout * 3 / 4`: a resolved entry older than this is refreshed (computed once:
    /// a `Duration` division per packet showed in the instruction counts).
    arp_refresh_after: Duration,
    redirects: bool,
    announced: bool,
    ip_id: u16,
    c: Counters,
}

impl Ipv4Router {
    /// Build the router and its forwarding table: connected subnets, the router's own
    /// addresses (/32, local), subnet broadcast addresses, then static routes.
    ///
    /// # Errors
    /// [`RouterError`] when a route's next hop is on no connected subnet or the FIB
    /// rejects a route.
    pub fn new(cfg: &RouterConfig) -> Result<Ipv4Router, RouterError> {
        if cfg.interfaces.len() > usize::from(u16::MAX) {
            return Err(RouterError::TooManyInterfaces);
        }
        let ifaces: Vec<Iface> = cfg
            .interfaces
            .iter()
            .map(|i| Iface {
                name: i.name.clone(),
                mac: i.mac,
                addr: u32::from(i.addr),
                mask: if i.prefix_len == 0 {
                    0
                } else {
                    u32::MAX << (32 - u32::from(i.prefix_len.min(32)))
                },
                mtu: i.mtu,
            })
            .collect();
        let mut next_hops = vec![NextHop::Local, NextHop::Broadcast];
        let mut fb = FibBuilder::new();
        let fib_err = |e: fib::FibError| RouterError::Fib(e.to_string());
        // Next-hop value = index + 1 (0 means "no route" in the FIB).
        for (i, ifc) in ifaces.iter().enumerate() {
            let plen = cfg.interfaces[i].prefix_len;
            next_hops.push(NextHop::Connected(i as u16));
            let nh = next_hops.len() as u32;
            fb.add(Ipv4Addr::from(ifc.net()), plen, nh)
                .map_err(fib_err)?;
        }
        let mut static_prefixes = Vec::with_capacity(cfg.routes.len());
        for r in &cfg.routes {
            static_prefixes.push((u32::from(r.prefix), r.len));
            let via = u32::from(r.via);
            let Some(i) = ifaces.iter().position(|f| f.contains(via)) else {
                return Err(RouterError::NextHopNotConnected(*r));
            };
            next_hops.push(NextHop::Gateway(i as u16, via));
            let nh = next_hops.len() as u32;
            fb.add(r.prefix, r.len, nh).map_err(fib_err)?;
        }
        // Own addresses and broadcasts last so they win over any static /32.
        for ifc in &ifaces {
            if ifc.mask < u32::MAX - 1 {
                // Directed broadcast, and its old {network, 0} form (RFC 1812 §4.2.3.1).
                fb.add(Ipv4Addr::from(ifc.net()), 32, 2).map_err(fib_err)?;
                fb.add(Ipv4Addr::from(ifc.broadcast()), 32, 2)
                    .map_err(fib_err)?;
            }
            fb.add(Ipv4Addr::from(ifc.addr), 32, 1).map_err(fib_err)?;
        }
        Ok(Ipv4Router {
            ifaces,
            fib: fb.build(),
            next_hops,
            static_prefixes,
            arp: HashMap::with_hasher(RandomState::new()),
            held: 0,
            icmp_bucket: TokenBucket::new(cfg.icmp_rate_limit, cfg.icmp_burst),
            arp_timeout: cfg.arp_timeout,
            arp_refresh_after: cfg.arp_timeout * 3 / 4,
            redirects: cfg.redirects,
            announced: false,
            ip_id: 1,
            c: Counters::default(),
        })
    }

    /// Number of routes in the FIB (connected, local and static).
    pub fn fib_routes(&self) -> usize {
        self.fib.routes()
    }

    /// The MAC the router has for `ip`, if resolved.
    pub fn arp_lookup(&self, ip: Ipv4Addr) -> Option<[u8; 6]> {
        match self.arp.get(&u32::from(ip)).map(|e| &e.state) {
            Some(ArpState::Resolved { mac, .. }) => Some(*mac),
            _ => None,
        }
    }

    fn route(&self, dst: u32) -> Option<NextHop> {
        let nh = self.fib.lookup(dst)?;
        self.next_hops.get(nh as usize - 1).copied()
    }

    /// The route `route` chosen for `dst`, as text for the packet trace (only then: it
    /// searches the prefixes linearly).
    #[cold]
    fn describe_route(&self, dst: u32, route: Option<NextHop>) -> String {
        let ifname = |j: u16| self.ifaces.get(j as usize).map_or("?", |f| f.name.as_str());
        let mut best: Option<(u32, String)> = None;
        let mut consider = |len: u32, text: String| {
            if best.as_ref().is_none_or(|(l, _)| len >= *l) {
                best = Some((len, text));
            }
        };
        for f in &self.ifaces {
            if f.contains(dst) {
                let len = f.mask.count_ones();
                consider(len, format!("{}/{len}", Ipv4Addr::from(f.net())));
            }
            if f.addr == dst {
                consider(32, format!("{}/32", Ipv4Addr::from(f.addr)));
            }
        }
        for (prefix, len) in &self.static_prefixes {
            let mask = if *len == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(*len))
            };
            if dst & mask == *prefix & mask {
                consider(
                    u32::from(*len),
                    format!("{}/{len}", Ipv4Addr::from(*prefix)),
                );
            }
        }
        let prefix = best.map_or_else(|| "?".into(), |(_, t)| t);
        let dst = Ipv4Addr::from(dst);
        match route {
            Some(NextHop::Local) => {
                format!("route {prefix} -> local: delivered to the router ({dst})")
            }
            Some(NextHop::Connected(j)) => {
                format!(
                    "route {prefix} -> connected, interface {}, dst {dst}",
                    ifname(j)
                )
            }
            Some(NextHop::Gateway(j, gw)) => format!(
                "route {prefix} -> via {}, interface {}, dst {dst}",
                Ipv4Addr::from(gw),
                ifname(j)
            ),
            Some(NextHop::Broadcast) => format!("route {prefix} -> broadcast {dst}"),
            None => format!("no route to {dst}"),
        }
    }

    fn next_id(&mut self) -> u16 {
        self.ip_id = self.ip_id.wrapping_add(1);
        self.ip_id
    }

    // ---------------------------------------------------------------- ARP

    /// Build an ARP packet in a new buffer. A buffer too small for it (a pool with tiny
    /// buffers) is dropped as `no_buffer`, so the generated packet is still accounted for.
    #[allow(clippy::too_many_arguments)]
    fn arp_packet(
        ctx: &mut Context,
        out: &mut Outputs,
        eth_dst: [u8; 6],
        op: u16,
        sha: [u8; 6],
        spa: u32,
        tha: [u8; 6],
        tpa: u32,
    ) -> Option<PacketBuf> {
        let mut p = ctx.alloc()?;
        let mut f = [0u8; 60];
        write_eth(&mut f, eth_dst, sha, ETHERTYPE_ARP);
        f[14..22].copy_from_slice(&[0, 1, 0x08, 0x00, 6, 4, 0, 0]);
        f[20..22].copy_from_slice(&op.to_be_bytes());
        f[22..28].copy_from_slice(&sha);
        f[28..32].copy_from_slice(&spa.to_be_bytes());
        f[32..38].copy_from_slice(&tha);
        f[38..42].copy_from_slice(&tpa.to_be_bytes());
        if p.extend_from_slice(&f) {
            Some(p)
        } else {
            out.drop(p, DropReason::NoBuffer);
            None
        }
    }

    fn send_arp_request(&mut self, ctx: &mut Context, iface: u16, target: u32, out: &mut Outputs) {
        let Some(ifc) = self.ifaces.get(iface as usize) else {
            return;
        };
        match Self::arp_packet(
            ctx,
            out,
            MAC_BROADCAST,
            1,
            ifc.mac,
            ifc.addr,
            [0; 6],
            target,
        ) {
            Some(p) => {
                self.c.arp_requests_sent += 1;
                out.emit(OutputGate(iface), p);
            }
            None => self.c.no_buffer += 1,
        }
    }

    /// Record `mac` for `ip` and send everything that waited for it.
    fn arp_resolved(&mut self, ip: u32, mac: [u8; 6], now: Instant, out: &mut Outputs) {
        let Some(e) = self.arp.get_mut(&ip) else {
            return;
        };
        let iface = e.iface;
        let old = std::mem::replace(
            &mut e.state,
            ArpState::Resolved {
                mac,
                confirmed: now,
                last_probe: now,
            },
        );
        if let ArpState::Incomplete { queue, .. } = old {
            self.c.arp_resolved += 1;
            let src = self.ifaces[iface as usize].mac;
            for mut p in *queue {
                self.held -= 1;
                write_eth(p.data_mut(), mac, src, ETHERTYPE_IPV4);
                out.emit(OutputGate(iface), p);
            }
        }
    }

    fn handle_arp(&mut self, ctx: &mut Context, i: u16, mut pkt: PacketBuf, out: &mut Outputs) {
        let Some(req) = arp::parse(pkt.data()) else {
            out.drop(pkt, DropReason::ArpInvalid);
            return;
        };
        // A group or zero sender hardware address is never believed or answered
        // (RFC 1812 §3.3.2).
        if !req.sender_is_unicast() {
            out.drop(pkt, DropReason::ArpInvalid);
            return;
        }
        let (op, sha, spa, tpa) = (req.op, req.sha, req.spa, req.tpa);
        let ifc = &self.ifaces[i as usize];
        let (my_mac, my_addr) = (ifc.mac, ifc.addr);
        let sender_ok = spa != 0 && ifc.contains(spa);
        // RFC 826 merge: refresh an entry we already have, from any ARP on this interface.
        if sender_ok && self.arp.get(&spa).is_some_and(|e| e.iface == i) {
            self.arp_resolved(spa, sha, ctx.now, out);
        }
        if tpa != my_addr || spa == my_addr {
            self.c.local_delivered += 1;
            out.consume(pkt);
            return;
        }
        // We are the target: learn the sender (RFC 826), then answer a request.
        if sender_ok && !self.arp.contains_key(&spa) && self.arp.len() < ARP_MAX_ENTRIES {
            self.arp.insert(
                spa,
                ArpEntry {
                    iface: i,
                    state: ArpState::Resolved {
                        mac: sha,
                        confirmed: ctx.now,
                        last_probe: ctx.now,
                    },
                },
            );
        }
        if op != arp::OP_REQUEST {
            self.c.local_delivered += 1;
            out.consume(pkt);
            return;
        }
        // Turn the request into the reply in place.
        pkt.truncate(60);
        arp::reply_in_place(pkt.data_mut(), &req, my_mac, my_addr);
        self.c.arp_replies_sent += 1;
        out.emit(OutputGate(i), pkt);
    }

    // ------------------------------------------------------------ sending

    /// Send an IP packet (Ethernet header space at the front) out of `iface` to next hop
    /// `nh`, resolving its MAC if needed. `ingress` is where the packet entered (for an
    /// ICMP Host Unreachable), `None` for packets the router made.
    fn send_ip(
        &mut self,
        ctx: &mut Context,
        mut pkt: PacketBuf,
        iface: u16,
        nh: u32,
        ingress: Option<u16>,
        out: &mut Outputs,
    ) {
        let now = ctx.now;
        let timeout = self.arp_timeout;
        let src_mac = self.ifaces[iface as usize].mac;
        let mut probe = false;
        if let Some(e) = self.arp.get_mut(&nh) {
            match &mut e.state {
                ArpState::Resolved {
                    mac,
                    confirmed,
                    last_probe,
                } if now.saturating_since(*confirmed) <= timeout => {
                    // Refresh in the last quarter of the entry's life, at most 1/s.
                    if now.saturating_since(*confirmed) > self.arp_refresh_after
                        && now.saturating_since(*last_probe) >= Duration::from_secs(1)
                    {
                        *last_probe = now;
                        probe = true;
                    }
                    let mac = *mac;
                    out.note(&pkt, || {
                        format!(
                            "arp hit: {} is {}",
                            Ipv4Addr::from(nh),
                            crate::show::mac(&mac)
                        )
                    });
                    write_eth(pkt.data_mut(), mac, src_mac, ETHERTYPE_IPV4);
                    out.emit(OutputGate(iface), pkt);
                    if probe {
                        self.send_arp_request(ctx, iface, nh, out);
                    }
                    return;
                }
                ArpState::Incomplete { queue, .. } => {
                    out.note(&pkt, || {
                        format!("arp pending for {}: queued", Ipv4Addr::from(nh))
                    });
                    match queue.try_push(pkt) {
                        Ok(()) => self.held += 1,
                        Err(e) => out.drop(e.element(), DropReason::ArpQueueFull),
                    }
                    return;
                }
                ArpState::Failed { until } if now < *until => {
                    out.note(&pkt, || format!("arp failed for {}", Ipv4Addr::from(nh)));
                    if let Some(ingress) = ingress {
                        self.icmp_error(
                            ctx,
                            ingress,
                            &pkt,
                            false,
                            icmp::DEST_UNREACH,
                            icmp::HOST_UNREACH,
                            0,
                            out,
                        );
                    }
                    out.drop(pkt, DropReason::HostUnreachable);
                    return;
                }
                _ => {}
            }
        }
        // Unknown, expired or failed-and-expired: start resolving.
        if !self.arp.contains_key(&nh) && self.arp.len() >= ARP_MAX_ENTRIES {
            out.drop(pkt, DropReason::ArpQueueFull);
            return;
        }
        out.note(&pkt, || {
            format!(
                "arp miss for {}: queued, arp request sent",
                Ipv4Addr::from(nh)
            )
        });
        let mut queue = Box::new(ArrayVec::new());
        let _ = queue.try_push(pkt);
        self.held += 1;
        self.arp.insert(
            nh,
            ArpEntry {
                iface,
                state: ArpState::Incomplete {
                    tries: 1,
                    last_request: now,
                    queue,
                },
            },
        );
        self.send_arp_request(ctx, iface, nh, out);
    }

    /// Route a packet the router made (ICMP) towards `dst`.
    fn send_originated(&mut self, ctx: &mut Context, pkt: PacketBuf, dst: u32, out: &mut Outputs) {
        match self.route(dst) {
            Some(NextHop::Connected(j)) => self.send_ip(ctx, pkt, j, dst, None, out),
            Some(NextHop::Gateway(j, gw)) => self.send_ip(ctx, pkt, j, gw, None, out),
            _ => out.drop(pkt, DropReason::NoRoute),
        }
    }

    // --------------------------------------------------------------- ICMP

    /// Send an ICMP error about the packet in frame `orig`, which arrived on `ingress`;
    /// the error's source is that interface's address (what traceroute shows for a hop).
    #[allow(clippy::too_many_arguments)]
    fn icmp_error(
        &mut self,
        ctx: &mut Context,
        ingress: u16,
        orig: &PacketBuf,
        l2_broadcast: bool,
        typ: u8,
        code: u8,
        rest: u32,
        out: &mut Outputs,
    ) {
        let src = self.ifaces[ingress as usize].addr;
        self.icmp_error_from(ctx, src, orig, l2_broadcast, typ, code, rest, out);
    }

    /// Send an ICMP error about the packet in frame `orig` from the router's address `src`
    /// (RFC 1812 §4.3.2.4: one of the router's own addresses), unless RFC 1812 §4.3.2.7
    /// forbids it or the rate limit says no.
    #[allow(clippy::too_many_arguments)]
    fn icmp_error_from(
        &mut self,
        ctx: &mut Context,
        src: u32,
        orig: &PacketBuf,
        l2_broadcast: bool,
        typ: u8,
        code: u8,
        rest: u32,
        out: &mut Outputs,
    ) {
        let f = orig.data();
        let Ok(ip) = parse_ipv4(f) else {
            return;
        };
        // RFC 1812 §4.3.2.7: never in response to these.
        let about_icmp_error = ip.proto == ip_proto::ICMP
            && ip.frag_off == 0
            && f.get(IP + ip.ihl).is_some_and(|t| !icmp::is_query(*t));
        let dst_broadcast = ip.dst == u32::MAX
            || is_multicast(ip.dst)
            || self
                .ifaces
                .iter()
                .any(|i| i.mask < u32::MAX - 1 && i.broadcast() == ip.dst);
        if about_icmp_error
            || dst_broadcast
            || l2_broadcast
            || ip.frag_off != 0
            || martian_source(ip.src)
        {
            self.c.icmp_errors_suppressed += 1;
            return;
        }
        if !self.icmp_bucket.take(ctx.now) {
            self.c.icmp_errors_rate_limited += 1;
            return;
        }
        let Some(mut p) = ctx.alloc() else {
            self.c.no_buffer += 1;
            return;
        };
        let id = self.next_id();
        let h = icmp_wire::ErrorHeader {
            eth_dst: [0; 6], // send_originated writes the Ethernet header
            eth_src: [0; 6],
            src,
            dst: ip.src,
            id,
            typ,
            code,
            rest,
        };
        if !icmp_wire::build_error(&mut p, &h, &f[IP..IP + ip.total]) {
            out.drop(p, DropReason::NoBuffer);
            return;
        }
        out.note(orig, || {
            format!(
                "icmp error type {typ} code {code} sent to {}",
                Ipv4Addr::from(ip.src)
            )
        });
        out.note(&p, || {
            format!(
                "icmp error type {typ} code {code} from {} to {}",
                Ipv4Addr::from(src),
                Ipv4Addr::from(ip.src)
            )
        });
        if typ == icmp::REDIRECT {
            self.c.redirects_sent += 1;
        } else {
            self.c.icmp_errors_sent += 1;
        }
        self.send_originated(ctx, p, ip.src, out);
    }

    // -------------------------------------------------------------- local

    /// A packet addressed to one of the router's own addresses.
    fn local(
        &mut self,
        ctx: &mut Context,
        mut pkt: PacketBuf,
        ip: Ip,
        l2b: bool,
        out: &mut Outputs,
    ) {
        self.c.local_delivered += 1;
        if ip.frag_off != 0 || ip.more_frags {
            // No reassembly for the router's own traffic: nothing it serves needs it.
            out.consume(pkt);
            return;
        }
        let l4 = IP + ip.ihl;
        let end = IP + ip.total;
        match ip.proto {
            ip_proto::ICMP => {
                let f = pkt.data();
                if end - l4 < 8 || !checksum::verify(&f[l4..end]) || f[l4] != icmp::ECHO_REQUEST {
                    out.consume(pkt);
                    return;
                }
                // RFC 1812 §4.3.3.6 echo server: the request becomes the reply in place.
                let f = pkt.data_mut();
                f[IP + 12..IP + 16].copy_from_slice(&ip.dst.to_be_bytes());
                f[IP + 16..IP + 20].copy_from_slice(&ip.src.to_be_bytes());
                f[IP + 8] = 64;
                fix_ip_checksum(f, ip.ihl);
                let old = be16(f, l4);
                f[l4] = icmp::ECHO_REPLY;
                let c = checksum::update16(be16(f, l4 + 2), old, be16(f, l4));
                f[l4 + 2..l4 + 4].copy_from_slice(&c.to_be_bytes());
                self.c.echo_replies += 1;
                self.send_originated(ctx, pkt, ip.src, out);
            }
            ip_proto::UDP => {
                self.icmp_error_from(
                    ctx,
                    ip.dst,
                    &pkt,
                    l2b,
                    icmp::DEST_UNREACH,
                    icmp::PORT_UNREACH,
                    0,
                    out,
                );
                out.consume(pkt);
            }
            ip_proto::TCP => self.tcp_reset(ctx, pkt, ip, out),
            _ => {
                self.icmp_error_from(
                    ctx,
                    ip.dst,
                    &pkt,
                    l2b,
                    icmp::DEST_UNREACH,
                    icmp::PROTO_UNREACH,
                    0,
                    out,
                );
                out.consume(pkt);
            }
        }
    }

    /// RFC 793 "reset generation" for a segment to a closed port, in place.
    fn tcp_reset(&mut self, ctx: &mut Context, mut pkt: PacketBuf, ip: Ip, out: &mut Outputs) {
        let l4 = IP + ip.ihl;
        let f = pkt.data();
        if ip.total < ip.ihl + 20 {
            out.consume(pkt);
            return;
        }
        let flags = f[l4 + 13];
        if flags & 0x04 != 0 {
            out.consume(pkt); // never answer a RST
            return;
        }
        let (sport, dport) = (be16(f, l4), be16(f, l4 + 2));
        let (seq, ack) = (be32(f, l4 + 4), be32(f, l4 + 8));
        let doff = usize::from(f[l4 + 12] >> 4) * 4;
        let seg_len = ip.total.saturating_sub(ip.ihl + doff) as u32
            + u32::from(flags & 0x02 != 0)
            + u32::from(flags & 0x01 != 0);
        let (new_seq, new_ack, new_flags) = if flags & 0x10 != 0 {
            (ack, 0, 0x04)
        } else {
            (0, seq.wrapping_add(seg_len), 0x14)
        };
        let id = self.next_id();
        pkt.truncate(l4 + 20);
        let f = pkt.data_mut();
        f[IP] = 0x45;
        f[IP + 2..IP + 4].copy_from_slice(&40u16.to_be_bytes());
        f[IP + 4..IP + 6].copy_from_slice(&id.to_be_bytes());
        f[IP + 6..IP + 8].copy_from_slice(&[0x40, 0]);
        f[IP + 8] = 64;
        f[IP + 12..IP + 16].copy_from_slice(&ip.dst.to_be_bytes());
        f[IP + 16..IP + 20].copy_from_slice(&ip.src.to_be_bytes());
        // Drop IP options: the reset is a fresh 20-byte header.
        if ip.ihl > 20 {
            f.copy_within(l4..l4 + 20, IP + 20);
        }
        let t = IP + 20;
        f[t..t + 2].copy_from_slice(&dport.to_be_bytes());
        f[t + 2..t + 4].copy_from_slice(&sport.to_be_bytes());
        f[t + 4..t + 8].copy_from_slice(&new_seq.to_be_bytes());
        f[t + 8..t + 12].copy_from_slice(&new_ack.to_be_bytes());
        f[t + 12] = 5 << 4;
        f[t + 13] = new_flags;
        f[t + 14..t + 20].copy_from_slice(&[0; 6]);
        pkt.truncate(t + 20);
        let f = pkt.data_mut();
        fix_ip_checksum(f, 20);
        let ps = checksum::pseudo_header_v4(ip.dst, ip.src, ip_proto::TCP, 20);
        let c = !checksum::fold(checksum::sum(&f[t..t + 20], ps));
        f[t + 16..t + 18].copy_from_slice(&c.to_be_bytes());
        self.c.tcp_resets_sent += 1;
        self.send_originated(ctx, pkt, ip.src, out);
    }

    // ---------------------------------------------------------- forwarding

    #[allow(clippy::too_many_arguments)]
    fn forward(
        &mut self,
        ctx: &mut Context,
        i: u16,
        mut pkt: PacketBuf,
        ip: Ip,
        j: u16,
        nh: u32,
        out: &mut Outputs,
    ) {
        if is_link_local(ip.src) || is_link_local(ip.dst) {
            out.drop(pkt, DropReason::LinkLocalAddress); // RFC 3927 §7
            return;
        }
        // RFC 1812 §5.3.1: TTL expiry → Time Exceeded, code 0.
        if ip.ttl <= 1 {
            self.icmp_error(ctx, i, &pkt, false, icmp::TIME_EXCEEDED, 0, 0, out);
            out.drop(pkt, DropReason::TtlExceeded);
            return;
        }
        let mtu = usize::from(self.ifaces[j as usize].mtu);
        // A GSO super-frame's IP total length is the whole super-frame's (up to 64 KB): what
        // must fit the next hop is each segment (Linux `ip_forward` checks GSO skbs with
        // `skb_gso_validate_network_len` the same way).
        let gso = match pkt.offload().map(|o| gso::check(pkt.data(), &o)) {
            None | Some(Ok(None)) => None,
            Some(Ok(Some(plan))) => Some(plan),
            Some(Err(r)) => {
                out.drop(pkt, r);
                return;
            }
        };
        let too_big = match &gso {
            Some(plan) => plan.ip_segment_len() > mtu,
            None => ip.total > mtu,
        };
        if too_big && ip.dont_frag {
            // RFC 1812 §5.2.6 / RFC 1191: Fragmentation Needed with the next-hop MTU.
            self.icmp_error(
                ctx,
                i,
                &pkt,
                false,
                icmp::DEST_UNREACH,
                icmp::FRAG_NEEDED,
                mtu as u32,
                out,
            );
            out.drop(pkt, DropReason::FragmentationNeeded);
            return;
        }
        // RFC 1812 §5.2.7.2: redirect a sender on this subnet to a better next hop on it.
        let ingress = &self.ifaces[i as usize];
        if self.redirects
            && j == i
            && !source_routed(pkt.data(), ip.ihl)
            && ingress.contains(ip.src)
            && ingress.contains(nh)
            && nh != ip.src
        {
            self.icmp_error(
                ctx,
                i,
                &pkt,
                false,
                icmp::REDIRECT,
                icmp::REDIRECT_HOST,
                nh,
                out,
            );
        }
        // TTL decrement with an RFC 1624 incremental checksum update.
        let f = pkt.data_mut();
        let old = be16(f, IP + 8);
        f[IP + 8] = ip.ttl - 1;
        let c = checksum::update16(be16(f, IP + 10), old, be16(f, IP + 8));
        f[IP + 10..IP + 12].copy_from_slice(&c.to_be_bytes());
        out.note(&pkt, || format!("ttl {} -> {}", ip.ttl, ip.ttl - 1));
        self.c.forwarded += 1;
        if let (true, Some(plan)) = (too_big, gso) {
            self.segment(ctx, pkt, &plan, mtu, j, nh, i, out);
        } else if too_big {
            self.fragment(ctx, pkt, ip, mtu, j, nh, i, out);
        } else {
            self.send_ip(ctx, pkt, j, nh, Some(i), out);
        }
    }

    /// A GSO super-frame without DF whose segments do not fit the next hop's MTU: cut it
    /// into its segments in software ([`gso::Plan`]), then fragment each that is still too
    /// big (RFC 791), as Linux does for a GSO skb it may fragment (`ip_finish_output_gso`).
    /// Segments are sent in order as they are made; the original becomes the last one (its
    /// last payload chunk moves up behind the headers), so nothing is allocated but the
    /// segments' buffers. If the pool runs dry half-way, the segments already sent stay
    /// sent (for TCP, like a loss of the rest) and the original is a `no_buffer` drop.
    #[allow(clippy::too_many_arguments)]
    fn segment(
        &mut self,
        ctx: &mut Context,
        mut pkt: PacketBuf,
        plan: &gso::Plan,
        mtu: usize,
        j: u16,
        nh: u32,
        i: u16,
        out: &mut Outputs,
    ) {
        let last = plan.count - 1;
        for k in 0..last {
            let Some(mut p) = ctx.alloc() else {
                out.drop(pkt, DropReason::NoBuffer);
                return;
            };
            match plan.write_segment(pkt.data(), k, p.buffer_mut()) {
                Some(n) => p.set_len(n),
                None => {
                    out.drop(p, DropReason::NoBuffer);
                    out.drop(pkt, DropReason::NoBuffer);
                    return;
                }
            }
            self.c.gso_segments_created += 1;
            self.send_segment(ctx, p, mtu, j, nh, i, out);
        }
        let start = plan.hdr_len + last * plan.mss;
        pkt.data_mut().copy_within(start.., plan.hdr_len);
        pkt.truncate(plan.segment_len(last));
        plan.fix_segment(pkt.data_mut(), last);
        pkt.set_offload(None);
        self.c.gso_segments_created += 1;
        self.send_segment(ctx, pkt, mtu, j, nh, i, out);
    }

    /// Send one software-made segment, fragmenting it if it is still over `mtu`.
    #[allow(clippy::too_many_arguments)]
    fn send_segment(
        &mut self,
        ctx: &mut Context,
        p: PacketBuf,
        mtu: usize,
        j: u16,
        nh: u32,
        i: u16,
        out: &mut Outputs,
    ) {
        match parse_ipv4(p.data()) {
            Ok(sip) if sip.total > mtu => self.fragment(ctx, p, sip, mtu, j, nh, i, out),
            Ok(_) => self.send_ip(ctx, p, j, nh, Some(i), out),
            Err(r) => out.drop(p, r),
        }
    }

    /// RFC 791 fragmentation into pieces of at most `mtu` bytes. The original becomes the
    /// first fragment; the others are new packets. Options without the copy flag appear
    /// only in the first fragment.
    #[allow(clippy::too_many_arguments)]
    fn fragment(
        &mut self,
        ctx: &mut Context,
        mut pkt: PacketBuf,
        ip: Ip,
        mtu: usize,
        j: u16,
        nh: u32,
        i: u16,
        out: &mut Outputs,
    ) {
        // A partial (NEEDS_CSUM) transport checksum cannot be finished by the receiver over
        // fragments: complete it first, as Linux `ip_do_fragment` does (`skb_checksum_help`).
        if let Some(o) = pkt.offload() {
            if o.flags & gso::F_NEEDS_CSUM != 0
                && let Err(r) = gso::complete_csum(pkt.data_mut(), &o)
            {
                out.drop(pkt, r);
                return;
            }
            pkt.set_offload(None);
        }
        let f = pkt.data();
        // Header for the 2nd.. fragments: base header + copied options, padded to 4 bytes.
        let mut rest_hdr = [0u8; 60];
        rest_hdr[..20].copy_from_slice(&f[IP..IP + 20]);
        let mut rl = 20;
        let mut o = IP + 20;
        while o < IP + ip.ihl {
            let t = f[o];
            if t == 0 {
                break;
            }
            if t == 1 {
                o += 1;
                continue;
            }
            let len = f.get(o + 1).map_or(0, |l| usize::from(*l));
            if len < 2 || o + len > IP + ip.ihl {
                break;
            }
            if t & 0x80 != 0 {
                rest_hdr[rl..rl + len].copy_from_slice(&f[o..o + len]);
                rl += len;
            }
            o += len;
        }
        let rl = rl.div_ceil(4) * 4;
        rest_hdr[0] = 0x40 | (rl / 4) as u8;
        let first_data = (mtu - ip.ihl) & !7;
        let rest_data = (mtu - rl) & !7;
        let payload = ip.total - ip.ihl;
        // Allocate every fragment first: a datagram with a missing fragment is worthless.
        let mut frags: Vec<PacketBuf> = Vec::new();
        let mut off = first_data;
        while off < payload {
            let n = rest_data.min(payload - off);
            let Some(mut p) = ctx.alloc() else {
                for p in frags {
                    out.drop(p, DropReason::NoBuffer);
                }
                out.drop(pkt, DropReason::NoBuffer);
                return;
            };
            let last = off + n == payload;
            let fo = ip.frag_off + (off / 8) as u16;
            let mf = !last || ip.more_frags;
            let mut h = rest_hdr;
            h[2..4].copy_from_slice(&((rl + n) as u16).to_be_bytes());
            h[6..8].copy_from_slice(&(fo | if mf { 0x2000 } else { 0 }).to_be_bytes());
            let data = &pkt.data()[IP + ip.ihl + off..IP + ip.ihl + off + n];
            let ok = p.extend_from_slice(&[0u8; ETH_HLEN])
                && p.extend_from_slice(&h[..rl])
                && p.extend_from_slice(data);
            if !ok {
                for p in frags {
                    out.drop(p, DropReason::NoBuffer);
                }
                out.drop(p, DropReason::NoBuffer);
                out.drop(pkt, DropReason::NoBuffer);
                return;
            }
            fix_ip_checksum(p.data_mut(), rl);
            frags.push(p);
            off += n;
        }
        // The original becomes the first fragment.
        pkt.truncate(IP + ip.ihl + first_data);
        let f = pkt.data_mut();
        f[IP + 2..IP + 4].copy_from_slice(&((ip.ihl + first_data) as u16).to_be_bytes());
        f[IP + 6..IP + 8].copy_from_slice(&(ip.frag_off | 0x2000).to_be_bytes());
        fix_ip_checksum(f, ip.ihl);
        self.c.fragments_created += frags.len() as u64 + 1;
        self.send_ip(ctx, pkt, j, nh, Some(i), out);
        for p in frags {
            self.send_ip(ctx, p, j, nh, Some(i), out);
        }
    }

    fn handle_ipv4(
        &mut self,
        ctx: &mut Context,
        i: u16,
        mut pkt: PacketBuf,
        l2b: bool,
        out: &mut Outputs,
    ) {
        let ip = match parse_ipv4(pkt.data()) {
            Ok(ip) => ip,
            Err(r) => {
                out.drop(pkt, r); // RFC 1812 §5.2.2: silently discarded, counted
                return;
            }
        };
        pkt.truncate(IP + ip.total); // Ethernet padding
        // A connected subnet's directed broadcast (or its {network, 0} form, §4.2.3.1) is no
        // valid source either (RFC 1812 §5.3.7 via §4.2.2.11 (d)), and a packet from outside
        // claiming one of the router's own addresses is spoofed (Linux drops it as martian).
        let src_bad = self.ifaces.iter().any(|f| {
            f.addr == ip.src
                || (f.mask < u32::MAX - 1 && (f.broadcast() == ip.src || f.net() == ip.src))
        });
        if martian_source(ip.src) || src_bad {
            out.drop(pkt, DropReason::MartianSource);
            return;
        }
        if ip.dst == u32::MAX {
            out.drop(pkt, DropReason::BroadcastNotForwarded); // RFC 1812 §5.3.5
            return;
        }
        if is_multicast(ip.dst) {
            out.drop(pkt, DropReason::MulticastNotForwarded);
            return;
        }
        if martian_destination(ip.dst) {
            out.drop(pkt, DropReason::MartianDestination);
            return;
        }
        let route = self.route(ip.dst);
        if is_link_local(ip.dst) && route != Some(NextHop::Local) {
            out.drop(pkt, DropReason::LinkLocalAddress); // RFC 3927 §7
            return;
        }
        out.note(&pkt, || self.describe_route(ip.dst, route));
        match route {
            Some(NextHop::Local) => self.local(ctx, pkt, ip, l2b, out),
            Some(NextHop::Broadcast) => out.drop(pkt, DropReason::BroadcastNotForwarded),
            Some(_) if l2b => out.drop(pkt, DropReason::L2BroadcastNotForwarded), // §5.3.4
            Some(NextHop::Connected(j)) => self.forward(ctx, i, pkt, ip, j, ip.dst, out),
            Some(NextHop::Gateway(j, gw)) => self.forward(ctx, i, pkt, ip, j, gw, out),
            None => {
                // RFC 1812 §5.2.7.1: Destination Unreachable, Network Unreachable.
                self.icmp_error(
                    ctx,
                    i,
                    &pkt,
                    l2b,
                    icmp::DEST_UNREACH,
                    icmp::NET_UNREACH,
                    0,
                    out,
                );
                out.drop(pkt, DropReason::NoRoute);
            }
        }
    }
}

impl Element for Ipv4Router {
    fn kind(&self) -> &'static str {
        "router"
    }

    fn gates(&self) -> GateSpec {
        let n = self.ifaces.len() as u16;
        GateSpec {
            inputs: n,
            outputs: n,
        }
    }

    fn process(&mut self, ctx: &mut Context, input: InputGate, batch: Batch, out: &mut Outputs) {
        let i = input.0;
        let Some(my_mac) = self.ifaces.get(i as usize).map(|f| f.mac) else {
            for p in batch {
                out.drop(p, DropReason::BadGate);
            }
            return;
        };
        for pkt in batch {
            let f = pkt.data();
            if f.len() < ETH_HLEN || eth_src(f)[0] & 1 != 0 {
                let reason = if f.len() < ETH_HLEN {
                    DropReason::Malformed
                } else {
                    DropReason::InvalidSourceMac
                };
                out.drop(pkt, reason);
                continue;
            }
            let dst = eth_dst(f);
            let l2b = dst[0] & 1 != 0;
            if !l2b && dst != my_mac {
                out.drop(pkt, DropReason::NotForUs);
                continue;
            }
            match eth_type(f) {
                ETHERTYPE_IPV4 => self.handle_ipv4(ctx, i, pkt, l2b, out),
                ETHERTYPE_ARP => self.handle_arp(ctx, i, pkt, out),
                _ => out.drop(pkt, DropReason::UnsupportedEthertype),
            }
        }
    }

    fn tick(&mut self, ctx: &mut Context, out: &mut Outputs) {
        let now = ctx.now;
        if !self.announced {
            // Gratuitous ARP for every interface as it comes up.
            self.announced = true;
            for k in 0..self.ifaces.len() {
                let ifc = &self.ifaces[k];
                let (mac, addr) = (ifc.mac, ifc.addr);
                if let Some(p) =
                    Self::arp_packet(ctx, out, MAC_BROADCAST, 1, mac, addr, [0; 6], addr)
                {
                    self.c.arp_requests_sent += 1;
                    out.emit(OutputGate(k as u16), p);
                }
            }
        }
        let timeout = self.arp_timeout;
        let mut retry: Vec<(u16, u32)> = Vec::new();
        let mut failed: Vec<PacketBuf> = Vec::new();
        // Resolutions that gave up this tick (test fix: `arp_failed` counted ticks with a
        // failure, not failed next hops, when several failed in the same tick).
        let mut n_failed = 0u64;
        self.arp.retain(|ip, e| match &mut e.state {
            ArpState::Resolved { confirmed, .. } => now.saturating_since(*confirmed) <= timeout,
            ArpState::Failed { until } => now < *until,
            ArpState::Incomplete {
                tries,
                last_request,
                queue,
            } => {
                if now.saturating_since(*last_request) < Duration::from_secs(1) {
                    return true;
                }
                if *tries >= ARP_TRIES {
                    n_failed += 1;
                    failed.extend(queue.drain(..));
                    e.state = ArpState::Failed {
                        until: now + ARP_FAILED_HOLD,
                    };
                    return true;
                }
                *tries += 1;
                *last_request = now;
                retry.push((e.iface, *ip));
                true
            }
        });
        for (iface, ip) in retry {
            self.send_arp_request(ctx, iface, ip, out);
        }
        self.c.arp_failed += n_failed;
        for p in failed {
            self.held -= 1;
            // The ingress interface is not kept; the error's source is the interface that
            // faces the sender, found by routing the sender's address.
            let src_iface = parse_ipv4(p.data())
                .ok()
                .and_then(|ip| match self.route(ip.src) {
                    Some(NextHop::Connected(k) | NextHop::Gateway(k, _)) => Some(k),
                    _ => None,
                });
            if let Some(k) = src_iface {
                self.icmp_error(
                    ctx,
                    k,
                    &p,
                    false,
                    icmp::DEST_UNREACH,
                    icmp::HOST_UNREACH,
                    0,
                    out,
                );
            }
            out.drop(p, DropReason::HostUnreachable);
        }
    }

    fn tick_interval(&self) -> Option<Duration> {
        Some(TICK)
    }

    fn held(&self) -> u64 {
        self.held
    }

    fn counters(&self, f: &mut dyn FnMut(&'static str, u64)) {
        let c = &self.c;
        f("forwarded", c.forwarded);
        f("local_delivered", c.local_delivered);
        f("echo_replies", c.echo_replies);
        f("icmp_errors_sent", c.icmp_errors_sent);
        f("icmp_errors_rate_limited", c.icmp_errors_rate_limited);
        f("icmp_errors_suppressed", c.icmp_errors_suppressed);
        f("redirects_sent", c.redirects_sent);
        f("tcp_resets_sent", c.tcp_resets_sent);
        f("fragments_created", c.fragments_created);
        f("gso_segments_created", c.gso_segments_created);
        f("arp_requests_sent", c.arp_requests_sent);
        f("arp_replies_sent", c.arp_replies_sent);
        f("arp_resolved", c.arp_resolved);
        f("arp_failed", c.arp_failed);
        f("arp_entries", self.arp.len() as u64);
        f("no_buffer", c.no_buffer);
        f("fib_routes", self.fib.routes() as u64);
    }

    /// `arp` (the neighbour cache, by address) and `routes` (connected, local, then static
    /// in configuration order; the subnet broadcast entries of the FIB are not listed).
    fn tables(&self, now: Instant, out: &mut dyn FnMut(Table)) {
        let ifname = |i: u16| {
            self.ifaces
                .get(usize::from(i))
                .map_or("?", |f| f.name.as_str())
                .to_string()
        };
        let mut arp: Vec<_> = self.arp.iter().collect();
        arp.sort_unstable_by_key(|(ip, _)| **ip);
        let mut t = Table::new("arp", &["ip", "mac", "interface", "state", "age_s"]);
        for (ip, e) in arp {
            t.push_with(|| {
                let (mac, state, age) = match &e.state {
                    ArpState::Resolved { mac, confirmed, .. } => {
                        let age = now.saturating_since(*confirmed);
                        let state = if age <= self.arp_timeout {
                            "reachable"
                        } else {
                            "expired"
                        };
                        (crate::show::mac(mac), state, crate::show::secs(age))
                    }
                    ArpState::Incomplete { last_request, .. } => (
                        "-".into(),
                        "incomplete",
                        crate::show::secs(now.saturating_since(*last_request)),
                    ),
                    ArpState::Failed { .. } => ("-".into(), "failed", "-".into()),
                };
                vec![
                    Ipv4Addr::from(*ip).to_string(),
                    mac,
                    ifname(e.iface),
                    state.into(),
                    age,
                ]
            });
        }
        out(t);

        let mut t = Table::new("routes", &["prefix", "next_hop", "interface", "kind"]);
        for f in &self.ifaces {
            let len = f.mask.count_ones();
            t.push_with(|| {
                vec![
                    format!("{}/{len}", Ipv4Addr::from(f.net())),
                    "-".into(),
                    f.name.clone(),
                    "connected".into(),
                ]
            });
        }
        for f in &self.ifaces {
            t.push_with(|| {
                vec![
                    format!("{}/32", Ipv4Addr::from(f.addr)),
                    "-".into(),
                    f.name.clone(),
                    "local".into(),
                ]
            });
        }
        let first_static = 2 + self.ifaces.len();
        for (k, (prefix, len)) in self.static_prefixes.iter().enumerate() {
            t.push_with(|| {
                let (via, iface) = match self.next_hops.get(first_static + k) {
                    Some(NextHop::Gateway(i, via)) => (Ipv4Addr::from(*via).to_string(), *i),
                    _ => ("?".into(), u16::MAX),
                };
                vec![
                    format!("{}/{len}", Ipv4Addr::from(*prefix)),
                    via,
                    ifname(iface),
                    "static".into(),
                ]
            });
        }
        out(t);
    }

    fn gate_name(&self, gate: u16) -> String {
        self.ifaces
            .get(gate as usize)
            .map_or_else(|| gate.to_string(), |f| f.name.clone())
    }
}

#[cfg(test)]
mod tests;
