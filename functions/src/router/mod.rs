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

mod arp;
mod config;
mod forward;
mod frag;
mod icmp;

pub use config::{RouterConfig, RouterError, RouterInterfaceConfig, StaticRoute};

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use ahash::RandomState;
use nfv_dataplane::wire::{
    ETH_HLEN, ETHERTYPE_ARP, ETHERTYPE_IPV4, MAC_BROADCAST, eth_dst, eth_src, eth_type,
};
use nfv_dataplane::{
    Batch, Context, CounterInfo, DropReason, Element, GateSpec, InputGate, Instant, OutputGate,
    Outputs, PacketBuf, ReasonInfo, Table,
};

use crate::rate_limit::TokenBucket;
use arp::{ArpEntry, ArpState};
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

use nfv_dataplane::wire::ipv4::parse as parse_ipv4;

nfv_dataplane::drop_reasons! {
    /// Why the router drops a packet (besides the core [`DropReason`]s).
    pub enum RouterDrop: element {
        /// Unicast frame addressed to another station's MAC arrived at a router interface.
        NotForUs = "not_for_us",
        /// TTL would reach 0 (RFC 1812 §5.3.1); ICMP Time Exceeded sent.
        TtlExceeded = "ttl_exceeded",
        /// No route to the destination (RFC 1812 §5.2.7.1); ICMP Net Unreachable sent.
        NoRoute = "no_route",
        /// The next hop did not answer ARP; ICMP Host Unreachable sent.
        HostUnreachable = "host_unreachable",
        /// More packets waiting for one next hop's ARP reply than the queue holds.
        ArpQueueFull = "arp_queue_full",
        /// Larger than the egress MTU with DF set (RFC 1812 §5.2.6); ICMP Fragmentation
        /// Needed sent.
        FragmentationNeeded = "fragmentation_needed",
        /// Source 0/8, 127/8, multicast, class E or broadcast (RFC 1812 §5.3.7).
        MartianSource = "martian_source",
        /// Destination 0/8, 127/8 or class E (RFC 1812 §5.3.7).
        MartianDestination = "martian_destination",
        /// 169.254/16 source or destination: never forwarded (RFC 3927 §7).
        LinkLocalAddress = "link_local_address",
        /// Unicast IP in a link-layer broadcast/multicast: not forwarded (RFC 1812 §5.3.4).
        L2BroadcastNotForwarded = "l2_broadcast_not_forwarded",
        /// Limited (255.255.255.255) or directed broadcast: not forwarded (RFC 1812 §5.3.5).
        BroadcastNotForwarded = "broadcast_not_forwarded",
        /// IP multicast destination: no multicast routing.
        MulticastNotForwarded = "multicast_not_forwarded",
    }
}

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
}

/// The counters of [`Element::counters`], in order, with their type and help.
pub const ROUTER_COUNTERS: &[CounterInfo] = &[
    CounterInfo::counter("forwarded", "IPv4 packets forwarded to a next hop."),
    CounterInfo::counter("local_delivered", "Packets addressed to the router itself."),
    CounterInfo::counter(
        "echo_replies",
        "ICMP echo replies sent (pings to the router).",
    ),
    CounterInfo::counter(
        "icmp_errors_sent",
        "ICMP errors sent (time exceeded, unreachable, fragmentation needed).",
    ),
    CounterInfo::counter(
        "icmp_errors_rate_limited",
        "ICMP errors not sent: the token bucket was empty (RFC 1812 4.3.2.8).",
    ),
    CounterInfo::counter(
        "icmp_errors_suppressed",
        "ICMP errors never sent by rule: about an ICMP error, a broadcast, a martian or a non-initial fragment (RFC 1812 4.3.2.7).",
    ),
    CounterInfo::counter("redirects_sent", "ICMP redirects sent (RFC 1812 5.2.7.2)."),
    CounterInfo::counter(
        "tcp_resets_sent",
        "TCP resets sent for TCP to the router's own addresses.",
    ),
    CounterInfo::counter(
        "fragments_created",
        "Fragments made from packets larger than the egress MTU.",
    ),
    CounterInfo::counter(
        "gso_segments_created",
        "Segments made in software from GSO super-frames.",
    ),
    CounterInfo::counter("arp_requests_sent", "ARP requests sent for next hops."),
    CounterInfo::counter(
        "arp_replies_sent",
        "ARP replies sent for the router's addresses.",
    ),
    CounterInfo::counter("arp_resolved", "Next hops resolved by ARP."),
    CounterInfo::counter("arp_failed", "Next hops that did not answer ARP."),
    CounterInfo::gauge("arp_entries", "Entries in the ARP cache now."),
    CounterInfo::counter(
        "no_buffer",
        "Packets not made (ICMP, ARP, fragments): the packet pool was empty.",
    ),
    CounterInfo::gauge(
        "fib_routes",
        "Routes in the FIB (connected, local and static).",
    ),
];

impl Element for Ipv4Router {
    fn kind(&self) -> &'static str {
        "router"
    }

    fn drop_reasons(&self) -> &'static [ReasonInfo] {
        RouterDrop::TABLE
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
                out.drop(pkt, RouterDrop::NotForUs);
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
            out.drop(p, RouterDrop::HostUnreachable);
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

    fn counter_info(&self) -> &'static [CounterInfo] {
        ROUTER_COUNTERS
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
