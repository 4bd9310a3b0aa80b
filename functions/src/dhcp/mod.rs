//! DHCP server (RFC 2131, options RFC 2132) on a link, sans-IO: the packet logic a router
//! interface or a switch VLAN runs to give its hosts addresses.
//!
//! # Gates
//! Two sides, like [`crate::impair`]: **gate 0 (`clients`)**, where the hosts to be served
//! are, and **gate 1 (`network`)**, the rest (a switch port, a router interface). Each has
//! an input and an output gate of that number:
//!
//! ```text
//! host -> dhcp.0   dhcp.1 -> switch/router     (from the clients)
//! switch/router -> dhcp.1   dhcp.0 -> host     (to the clients)
//! ```
//!
//! * From `clients`, a client-to-server DHCP message for this server (UDP to port 67, to
//!   255.255.255.255 or to the server's address, untagged IPv4, not relayed) is taken:
//!   answered on gate 0 (OFFER, ACK, NAK — the reply is built in the request's buffer) or
//!   consumed (RELEASE, DECLINE, an unanswerable request), or dropped with a `dhcp_*` reason
//!   when malformed. With [`DhcpConfig::arp`], ARP requests for the server's address are
//!   answered on gate 0 too. Everything else from `clients` leaves on gate 1 unchanged,
//!   including DHCP messages naming another server (option 54) and relayed ones (`giaddr`
//!   set), so another server beyond the link still sees them.
//! * Everything from `network` leaves on gate 0 unchanged (a rogue server there is port
//!   security's business, not this element's).
//!
//! So the element can be put on a host's link (`endpoints: [h1, sw:p1]`, `h1` on gate 0)
//! or in front of a router interface whose address and MAC it uses (then with `arp` off,
//! the router answers ARP itself). Frames with an 802.1Q tag pass unchanged: put the server
//! on the access side of a VLAN.
//!
//! # Configuration
//! [`DhcpConfig`]: server address/prefix and MAC, `range`, `lease` (default 1 h), `router`
//! (option 3, default the server), `dns` (option 6), `domain` (option 15), `static_leases`
//! (MAC → address, inside or outside the range, never given to another MAC), `max_leases`,
//! `decline_hold` (default 10 min), `arp`. The server's, router's and DNS servers'
//! addresses inside the range are never given out.
//!
//! # Protocol
//! * **DISCOVER → OFFER** (RFC 2131 §4.3.1): the address is, in this order, the client's
//!   static address, its current or previous one (a released or expired lease is remembered
//!   until the address is given to someone else), the one it asked for (option 50) if free,
//!   then a free one: never-used addresses first, then the longest free. The offer holds the
//!   address for [`OFFER_HOLD`].
//! * **REQUEST → ACK or NAK** (§4.3.2), by the client's state:
//!   - *SELECTING* (option 54 present): ours → ACK if the address may be the client's, NAK
//!     otherwise; another server's → the client chose it: our offer is withdrawn and the
//!     message goes on to gate 1 (`other_server`).
//!   - *INIT-REBOOT* (option 50, no `ciaddr`), *RENEWING* (`ciaddr`, unicast to us),
//!     *REBINDING* (`ciaddr`, broadcast): ACK if the address is the client's or free in
//!     the range, NAK if it belongs to another client or is not on the subnet. The server
//!     is **authoritative** for its subnet (ISC `authoritative;`, dnsmasq
//!     `dhcp-authoritative`): it has no peers, so a client it has no record of (after a
//!     restart without a lease file) is ACKed its free address instead of being ignored.
//!   - neither → `dhcp_bad_request`.
//! * **DECLINE** (§4.3.3, server id ours): the address leaves the client and is unusable
//!   for `decline_hold` (counted `declines`, gauge `quarantined`). **RELEASE** (§4.3.4):
//!   the lease ends; the address stays remembered for the client. **INFORM** (§4.3.5):
//!   ACK with the configuration options, no lease time, `yiaddr` 0, to `ciaddr`.
//! * Every reply has options 53 and 54; OFFER and ACK-to-REQUEST also 51, 58 (T1 = ½ lease)
//!   and 59 (T2 = ⅞ lease); option 61 is echoed (RFC 6842). Configuration options (1, 3, 28,
//!   6, 15) follow the client's parameter request list (option 55) in its order, with the
//!   subnet mask added if it was not asked for; without option 55 all of them. Options
//!   that would make the reply longer than the client's maximum (option 57, at least 576
//!   bytes) are left out. Replies are padded to the 300-byte BOOTP minimum.
//! * **Where replies go** (§4.1, in this order): a NAK to 255.255.255.255 at
//!   ff:ff:ff:ff:ff:ff; with `ciaddr` set (ACK to a renewal or rebinding, INFORM) to
//!   `ciaddr` at `chaddr`; with the broadcast flag to 255.255.255.255; otherwise unicast to
//!   `yiaddr` at `chaddr` (the client reads it from a raw socket before it has the
//!   address). Always from the
//!   server's MAC and address, port 67 to 68, with IPv4 and UDP checksums.
//! * **Client identity** (§4.2): option 61 when present, else `chaddr`; a MAC with a
//!   static lease is always keyed by its MAC.
//! * **Time** comes in `ctx.now`; `tick` (every second) ends offers, leases and
//!   quarantines that are due (`expired` counts leases). A renewal is accepted until the
//!   tick has expired the lease.
//! * Not done: relayed messages (`giaddr`) and option overload (52, refused as
//!   `dhcp_option_overload`: clients do not use it); RFC 3396 long options (the first
//!   instance of an option is used); probing an address before offering it (§4.4.1 SHOULD:
//!   the server knows every lease on its link, and a client that finds a conflict
//!   declines).
//!
//! # Counters
//! Messages received: `discovers`, `requests` (of which `renews`, `rebinds`,
//! `init_reboots`), `declines`, `releases`, `informs`, `other_server` (REQUEST, DECLINE or
//! RELEASE for another server, passed on). Sent: `offers`, `acks`, `naks`, `arp_replies`.
//! `pool_exhausted` (DISCOVER with no free address), `lease_limit` (`max_leases` reached),
//! `expired` (bound leases that ran out), `passed` (frames passed through unchanged, both
//! ways). Gauges: `leases` (bound), `offers_pending`, `quarantined` (declined addresses
//! not yet usable), `available` (addresses an offer could take now).
//!
//! Drops ([`DhcpDrop`]): `dhcp_truncated`, `dhcp_oversized`, `dhcp_bad_udp`,
//! `dhcp_bad_checksum`, `dhcp_bad_op`, `dhcp_bad_hardware`, `dhcp_bad_cookie`,
//! `dhcp_bad_options`, `dhcp_option_overload`, `dhcp_no_message_type`,
//! `dhcp_unexpected_type`, `dhcp_bad_request`, `dhcp_pool_exhausted`, `dhcp_lease_limit`;
//! the core `ip_bad_checksum` for a message to port 67 with a wrong IPv4 header checksum,
//! `no_buffer` if a reply does not fit the request's buffer.
//!
//! # Tables
//! `leases`: `mac`, `client_id` (hex, `-` if keyed by MAC), `address`, `state`
//! (`offered`, `bound`, `released`, `expired`), `static`, `expires_in_s`.
//! [`DhcpServer::leases`] exports the same as [`Lease`] values and
//! [`DhcpServer::import_leases`] takes them back (a reload, or a lease file across a
//! restart: times are durations left, not instants).
//!
//! # Notes
//! * **Cost.** The lease table is allocated for the whole range up front (a slot of 16
//!   bytes per address, at most [`config::MAX_RANGE`]); a client's first lease allocates
//!   its record and key; nothing else allocates per packet. `tick` walks the records once a
//!   second (≈ 5 ns each). Measured (release build, one core of this 2-vCPU VM, frames in
//!   bursts of 32): a frame passing through costs ≈ 20 ns over the test loop's own alloc,
//!   copy and free; a DISCOVER answered with an OFFER ≈ 640 ns.
//! * **Bounds.** Records ≤ range size + static leases: a record always holds an address,
//!   and a remembered address given to another client deletes its old record.
//!
//! # See also
//! dnsmasq `rfc2131.c`, ISC dhcpd `server/dhcp.c`, Kea `dhcp4_srv.cc`.

mod config;
mod leases;
mod message;
#[cfg(test)]
mod tests;

use std::net::Ipv4Addr;
use std::time::Duration;

use arrayvec::ArrayVec;
use nfv_dataplane::wire::ethernet::Ethernet;
use nfv_dataplane::wire::ipv4::Ipv4;
use nfv_dataplane::wire::udp::Udp;
use nfv_dataplane::wire::{
    ETH_HLEN, ETHERTYPE_ARP, ETHERTYPE_IPV4, MAC_BROADCAST, arp, checksum, ip_proto,
};
use nfv_dataplane::{
    Batch, Context, CounterInfo, DropReason, Element, GateSpec, InputGate, Instant, OutputGate,
    Outputs, PacketBuf, ReasonInfo, Table,
};

pub use config::{
    DEFAULT_DECLINE_HOLD, DEFAULT_LEASE, DhcpConfig, DhcpConfigError, MAX_DNS, MAX_DOMAIN,
    MAX_LEASE, MAX_RANGE, MIN_LEASE, OFFER_HOLD, StaticLease,
};
pub use leases::{Lease, LeaseState};
pub use message::{CLIENT_PORT, SERVER_PORT};

use leases::{Leases, NoLease};
use message::{MessageType, Options, Reply, Request, opt};

/// Gate of the clients' side.
pub const GATE_CLIENTS: u16 = 0;
/// Gate of the rest of the network.
pub const GATE_NETWORK: u16 = 1;

/// How often `tick` expires leases.
pub const TICK: Duration = Duration::from_secs(1);

nfv_dataplane::drop_reasons! {
    /// Why the DHCP server drops a client message (besides the core [`DropReason`]s).
    pub enum DhcpDrop: element {
        /// DHCP: shorter than the BOOTP header and magic cookie (240 bytes).
        Truncated = "dhcp_truncated",
        /// DHCP: a message over 1472 bytes, or a GSO frame.
        Oversized = "dhcp_oversized",
        /// DHCP: UDP length field under 8 or beyond the IP packet, or an IPv4 fragment to
        /// port 67.
        BadUdp = "dhcp_bad_udp",
        /// DHCP: wrong UDP checksum.
        BadChecksum = "dhcp_bad_checksum",
        /// DHCP: `op` is not BOOTREQUEST (1) on the server port.
        BadOp = "dhcp_bad_op",
        /// DHCP: hardware type not Ethernet (1) or `hlen` not 6.
        BadHardware = "dhcp_bad_hardware",
        /// DHCP: the magic cookie 99.130.83.99 is missing (RFC 2131 §3; a BOOTP message).
        BadCookie = "dhcp_bad_cookie",
        /// DHCP: an option runs past the message, or option 50, 53, 54, 57 or 61 has a
        /// wrong length.
        BadOptions = "dhcp_bad_options",
        /// DHCP: option overload (52) is not supported.
        OptionOverload = "dhcp_option_overload",
        /// DHCP: no message type (option 53).
        NoMessageType = "dhcp_no_message_type",
        /// DHCP: a message type a server does not take (OFFER, ACK, NAK, lease queries).
        UnexpectedType = "dhcp_unexpected_type",
        /// DHCP: a message without what its type needs (REQUEST with neither server id,
        /// requested address nor `ciaddr`; DECLINE without requested address; RELEASE or
        /// INFORM without `ciaddr`).
        BadRequest = "dhcp_bad_request",
        /// DHCP: DISCOVER with no free address in the range (also counted
        /// `pool_exhausted`).
        PoolExhausted = "dhcp_pool_exhausted",
        /// DHCP: `max_leases` clients hold offers or leases (also counted `lease_limit`).
        LeaseLimit = "dhcp_lease_limit",
    }
}

const COUNTERS: &[CounterInfo] = &[
    CounterInfo::counter("discovers", "DHCPDISCOVER messages received"),
    CounterInfo::counter("offers", "DHCPOFFER messages sent"),
    CounterInfo::counter("requests", "DHCPREQUEST messages received"),
    CounterInfo::counter("renews", "DHCPREQUEST while RENEWING (unicast, ciaddr)"),
    CounterInfo::counter("rebinds", "DHCPREQUEST while REBINDING (broadcast, ciaddr)"),
    CounterInfo::counter(
        "init_reboots",
        "DHCPREQUEST in INIT-REBOOT (requested address)",
    ),
    CounterInfo::counter("acks", "DHCPACK messages sent"),
    CounterInfo::counter("naks", "DHCPNAK messages sent"),
    CounterInfo::counter("declines", "DHCPDECLINE messages received"),
    CounterInfo::counter("releases", "DHCPRELEASE messages received"),
    CounterInfo::counter("informs", "DHCPINFORM messages received"),
    CounterInfo::counter(
        "other_server",
        "REQUEST/DECLINE/RELEASE for another server, passed on",
    ),
    CounterInfo::counter("pool_exhausted", "DISCOVERs with no free address"),
    CounterInfo::counter("lease_limit", "messages refused at max_leases"),
    CounterInfo::counter("expired", "bound leases that ran out"),
    CounterInfo::counter("arp_replies", "ARP replies for the server address"),
    CounterInfo::counter("passed", "frames passed through unchanged"),
    CounterInfo::gauge("leases", "bound leases"),
    CounterInfo::gauge("offers_pending", "addresses offered, not yet requested"),
    CounterInfo::gauge("quarantined", "declined addresses not yet usable"),
    CounterInfo::gauge("available", "addresses an offer could take now"),
];

#[derive(Clone, Debug, Default)]
struct Counters {
    discovers: u64,
    offers: u64,
    requests: u64,
    renews: u64,
    rebinds: u64,
    init_reboots: u64,
    acks: u64,
    naks: u64,
    declines: u64,
    releases: u64,
    informs: u64,
    other_server: u64,
    pool_exhausted: u64,
    lease_limit: u64,
    expired: u64,
    arp_replies: u64,
    passed: u64,
}

/// What to do with a client's DHCP message.
enum Action {
    /// Answer with this message: type, `yiaddr`, `ciaddr`, with lease options.
    Reply(MessageType, u32, u32, bool),
    /// Taken without an answer.
    Consume,
    /// Not for us: on to the network side.
    Pass,
    /// Dropped.
    Drop(DhcpDrop),
}

/// The DHCP server element. See the module docs.
#[derive(Debug)]
pub struct DhcpServer {
    cfg: DhcpConfig,
    server: u32,
    mask: u32,
    lease_secs: u32,
    dns: ArrayVec<u32, MAX_DNS>,
    leases: Leases,
    ip_id: u16,
    c: Counters,
}

impl DhcpServer {
    /// A server for `cfg`.
    ///
    /// # Errors
    /// What [`DhcpConfig::check`] finds.
    pub fn new(cfg: &DhcpConfig) -> Result<DhcpServer, DhcpConfigError> {
        cfg.check()?;
        let server = u32::from(cfg.server);
        let mut reserved = vec![server];
        reserved.extend(cfg.router.map(u32::from));
        reserved.extend(cfg.dns.iter().map(|a| u32::from(*a)));
        let statics: Vec<([u8; 6], u32)> = cfg
            .static_leases
            .iter()
            .map(|s| (s.mac, u32::from(s.address)))
            .collect();
        let leases = Leases::new(
            u32::from(*cfg.range.start()),
            u32::from(*cfg.range.end()),
            &reserved,
            &statics,
            cfg.max_leases,
        );
        Ok(DhcpServer {
            server,
            mask: cfg.mask(),
            lease_secs: cfg.lease.as_secs() as u32,
            dns: cfg.dns.iter().map(|a| u32::from(*a)).collect(),
            leases,
            ip_id: 0,
            c: Counters::default(),
            cfg: cfg.clone(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &DhcpConfig {
        &self.cfg
    }

    /// Every lease record at `now` (bound, offered, and released/expired ones still
    /// remembered), for `nfv show`, a reload or a lease file.
    pub fn leases(&self, now: Instant) -> Vec<Lease> {
        self.leases.export(now).collect()
    }

    /// Take exported leases back at `now` (after a reload or restart); returns how many were
    /// taken. A lease that does not fit the configuration or the table (address outside the
    /// range or reserved, another MAC's static address, an address or client already
    /// present, `max_leases` reached) is left out.
    pub fn import_leases(&mut self, now: Instant, leases: &[Lease]) -> usize {
        let n = leases.iter().filter(|l| self.leases.import(l, now)).count();
        self.leases.requeue();
        n
    }

    /// Handle one frame from the clients' side.
    fn client_frame(&mut self, ctx: &mut Context, mut pkt: PacketBuf, out: &mut Outputs) {
        let f = pkt.data();
        let Some(eth) = Ethernet::new_checked(f) else {
            return self.pass(pkt, out);
        };
        match eth.ethertype() {
            ETHERTYPE_IPV4 => {}
            ETHERTYPE_ARP if self.cfg.arp => return self.arp(pkt, out),
            _ => return self.pass(pkt, out),
        }
        let Ok(ip) = Ipv4::new_checked(&f[ETH_HLEN..]) else {
            return self.pass(pkt, out);
        };
        let dst = ip.dst();
        if ip.protocol() != ip_proto::UDP || (dst != u32::MAX && dst != self.server) {
            return self.pass(pkt, out);
        }
        let Some(udp) = Udp::new_checked(ip.payload()) else {
            return self.pass(pkt, out);
        };
        if udp.dst_port() != SERVER_PORT {
            return self.pass(pkt, out);
        }
        // Ours from here on: every problem is a counted drop (the header checksum is
        // checked only now, so passing traffic costs no checksum).
        if !ip.verify_checksum() {
            return out.drop(pkt, DropReason::IpBadChecksum);
        }
        if ip.frag_offset() != 0 || ip.more_frags() {
            return out.drop(pkt, DhcpDrop::BadUdp);
        }
        let ulen = usize::from(udp.len_field());
        let Some(dgram) = ip.payload().get(..ulen).filter(|_| ulen >= 8) else {
            return out.drop(pkt, DhcpDrop::BadUdp);
        };
        if pkt.is_gso() {
            return out.drop(pkt, DhcpDrop::Oversized);
        }
        // A frame from an offloading TAP may carry a partial checksum (NEEDS_CSUM) or one
        // the kernel already verified (DATA_VALID).
        let offloaded = pkt.offload().is_some_and(|o| o.flags & 0b11 != 0);
        let src = ip.src();
        let pseudo = checksum::pseudo_header_v4(src, dst, ip_proto::UDP, ulen as u16);
        if !offloaded && !Udp::new_checked(dgram).is_some_and(|u| u.verify_checksum(pseudo)) {
            return out.drop(pkt, DhcpDrop::BadChecksum);
        }
        let req = match message::parse(&dgram[8..]) {
            Ok(r) => r,
            Err(d) => return out.drop(pkt, d),
        };
        let action = self.decide(ctx.now, &req, dst == u32::MAX);
        out.note(&pkt, || {
            format!("dhcp {:?} from {:02x?}", req.kind, req.chaddr)
        });
        match action {
            Action::Pass => self.pass(pkt, out),
            Action::Consume => out.consume(pkt),
            Action::Drop(d) => out.drop(pkt, d),
            Action::Reply(kind, yiaddr, ciaddr, lease) => {
                // RFC 2131 §4.1, in its order (giaddr is 0 here).
                let (dst_mac, dst_ip) = if kind == MessageType::Nak {
                    (MAC_BROADCAST, u32::MAX)
                } else if ciaddr != 0 {
                    (req.chaddr, ciaddr)
                } else if req.broadcast() {
                    (MAC_BROADCAST, u32::MAX)
                } else {
                    (req.chaddr, yiaddr)
                };
                self.ip_id = self.ip_id.wrapping_add(1);
                let values = |code: u8, o: &mut Options<'_>| self.option(code, o);
                let reply = Reply {
                    req: &req,
                    kind,
                    yiaddr,
                    ciaddr,
                    dst_mac,
                    dst_ip,
                    src_mac: self.cfg.mac,
                    server: self.server,
                    ip_id: self.ip_id,
                    lease_secs: lease.then_some(self.lease_secs),
                    values: &values,
                };
                let Some(len) = message::write(pkt.buffer_mut(), &reply) else {
                    return out.drop(pkt, DropReason::NoBuffer);
                };
                pkt.set_len(len);
                pkt.set_offload(None);
                match kind {
                    MessageType::Offer => self.c.offers += 1,
                    MessageType::Nak => self.c.naks += 1,
                    _ => self.c.acks += 1,
                }
                out.note(&pkt, || format!("dhcp {kind:?} {}", Ipv4Addr::from(yiaddr)));
                out.emit(OutputGate(GATE_CLIENTS), pkt);
            }
        }
    }

    /// Write configuration option `code` if the server has a value for it.
    fn option(&self, code: u8, o: &mut Options<'_>) -> bool {
        match code {
            opt::SUBNET_MASK => o.put(code, &self.mask.to_be_bytes()),
            opt::ROUTER => self
                .cfg
                .router
                .is_some_and(|r| o.put(code, &u32::from(r).to_be_bytes())),
            opt::BROADCAST => o.put(code, &(self.server | !self.mask).to_be_bytes()),
            opt::DNS => !self.dns.is_empty() && o.put_addrs(code, &self.dns),
            opt::DOMAIN => self
                .cfg
                .domain
                .as_ref()
                .is_some_and(|d| o.put(code, d.as_bytes())),
            _ => false,
        }
    }

    fn on_subnet(&self, a: u32) -> bool {
        self.cfg.is_host(Ipv4Addr::from(a))
    }

    /// The answer to `req` (RFC 2131 §4.3); `broadcast` when it was sent to
    /// 255.255.255.255.
    fn decide(&mut self, now: Instant, req: &Request, broadcast: bool) -> Action {
        // Relayed: a relay agent addresses its server; not served here (module docs).
        if req.giaddr != 0 {
            return Action::Pass;
        }
        let key = self.leases.key_for(req.chaddr, req.client_id.as_deref());
        let lease_end = now + self.cfg.lease;
        let ours = req.server_id.is_none_or(|s| s == self.server);
        match req.kind {
            MessageType::Discover => {
                self.c.discovers += 1;
                match self
                    .leases
                    .offer(&key, req.chaddr, req.requested, now + OFFER_HOLD)
                {
                    Ok(a) => Action::Reply(MessageType::Offer, a, 0, true),
                    Err(e) => self.refused(e),
                }
            }
            MessageType::Request => {
                self.c.requests += 1;
                if !ours {
                    // SELECTING another server's offer: ours is withdrawn (§4.3.2).
                    self.c.other_server += 1;
                    self.leases.cancel_offer(&key, now);
                    return Action::Pass;
                }
                let (addr, ciaddr) = match (req.server_id, req.requested, req.ciaddr) {
                    // SELECTING: ciaddr MUST be 0, requested address MUST be there.
                    (Some(_), Some(a), 0) => (a, 0),
                    (None, Some(a), 0) => {
                        self.c.init_reboots += 1;
                        (a, 0)
                    }
                    (None, _, c) if c != 0 => {
                        if broadcast {
                            self.c.rebinds += 1;
                        } else {
                            self.c.renews += 1;
                        }
                        (c, c)
                    }
                    _ => return Action::Drop(DhcpDrop::BadRequest),
                };
                if !self.on_subnet(addr) {
                    return Action::Reply(MessageType::Nak, 0, 0, false);
                }
                match self.leases.bind(&key, req.chaddr, addr, lease_end) {
                    Ok(()) => Action::Reply(MessageType::Ack, addr, ciaddr, true),
                    Err(NoLease::Wrong | NoLease::Exhausted) => {
                        Action::Reply(MessageType::Nak, 0, 0, false)
                    }
                    Err(NoLease::Limit) => self.refused(NoLease::Limit),
                }
            }
            MessageType::Decline | MessageType::Release => {
                let decline = req.kind == MessageType::Decline;
                if decline {
                    self.c.declines += 1;
                } else {
                    self.c.releases += 1;
                }
                if req.server_id.is_some() && !ours {
                    self.c.other_server += 1;
                    return Action::Pass;
                }
                match (decline, req.requested, req.ciaddr) {
                    (true, Some(a), _) => {
                        let until = now + self.cfg.decline_hold;
                        self.leases.decline(&key, a, now, until);
                    }
                    (false, _, c) if c != 0 => {
                        self.leases.release(&key, c, now);
                    }
                    _ => return Action::Drop(DhcpDrop::BadRequest),
                }
                Action::Consume
            }
            MessageType::Inform => {
                self.c.informs += 1;
                if req.ciaddr == 0 {
                    return Action::Drop(DhcpDrop::BadRequest);
                }
                Action::Reply(MessageType::Ack, 0, req.ciaddr, false)
            }
            // `parse` returns only the types above.
            MessageType::Offer | MessageType::Ack | MessageType::Nak => {
                Action::Drop(DhcpDrop::UnexpectedType)
            }
        }
    }

    fn refused(&mut self, e: NoLease) -> Action {
        match e {
            NoLease::Limit => {
                self.c.lease_limit += 1;
                Action::Drop(DhcpDrop::LeaseLimit)
            }
            _ => {
                self.c.pool_exhausted += 1;
                Action::Drop(DhcpDrop::PoolExhausted)
            }
        }
    }

    /// An ARP frame from the clients: a request for the server's address is answered in
    /// place; everything else passes.
    fn arp(&mut self, mut pkt: PacketBuf, out: &mut Outputs) {
        match arp::parse(pkt.data()) {
            Some(req)
                if req.op == arp::OP_REQUEST
                    && req.tpa == self.server
                    && req.spa != self.server
                    && req.sender_is_unicast() =>
            {
                pkt.truncate(60);
                pkt.set_offload(None);
                arp::reply_in_place(pkt.data_mut(), &req, self.cfg.mac, self.server);
                self.c.arp_replies += 1;
                out.emit(OutputGate(GATE_CLIENTS), pkt);
            }
            _ => self.pass(pkt, out),
        }
    }

    fn pass(&mut self, pkt: PacketBuf, out: &mut Outputs) {
        self.c.passed += 1;
        out.emit(OutputGate(GATE_NETWORK), pkt);
    }
}

impl Element for DhcpServer {
    fn kind(&self) -> &'static str {
        "dhcp"
    }

    fn gates(&self) -> GateSpec {
        GateSpec {
            inputs: 2,
            outputs: 2,
        }
    }

    fn drop_reasons(&self) -> &'static [ReasonInfo] {
        DhcpDrop::TABLE
    }

    fn process(
        &mut self,
        ctx: &mut Context,
        input: InputGate,
        mut batch: Batch,
        out: &mut Outputs,
    ) {
        for pkt in batch.drain() {
            match input.0 {
                GATE_CLIENTS => self.client_frame(ctx, pkt, out),
                GATE_NETWORK => {
                    self.c.passed += 1;
                    out.emit(OutputGate(GATE_CLIENTS), pkt);
                }
                _ => out.drop(pkt, DropReason::BadGate),
            }
        }
    }

    fn tick(&mut self, ctx: &mut Context, _out: &mut Outputs) {
        self.c.expired += self.leases.expire(ctx.now);
    }

    fn tick_interval(&self) -> Option<Duration> {
        Some(TICK)
    }

    fn counters(&self, f: &mut dyn FnMut(&'static str, u64)) {
        let c = &self.c;
        let (offered, bound, quarantined, available) = self.leases.counts();
        let values = [
            c.discovers,
            c.offers,
            c.requests,
            c.renews,
            c.rebinds,
            c.init_reboots,
            c.acks,
            c.naks,
            c.declines,
            c.releases,
            c.informs,
            c.other_server,
            c.pool_exhausted,
            c.lease_limit,
            c.expired,
            c.arp_replies,
            c.passed,
            u64::from(bound),
            u64::from(offered),
            u64::from(quarantined),
            u64::from(available),
        ];
        for (info, v) in COUNTERS.iter().zip(values) {
            f(info.name, v);
        }
    }

    fn counter_info(&self) -> &'static [CounterInfo] {
        COUNTERS
    }

    fn gate_name(&self, gate: u16) -> String {
        match gate {
            GATE_CLIENTS => "clients".into(),
            GATE_NETWORK => "network".into(),
            n => n.to_string(),
        }
    }

    /// One table, `leases`: a row per lease record.
    fn tables(&self, now: Instant, out: &mut dyn FnMut(Table)) {
        let mut t = Table::new(
            "leases",
            &[
                "mac",
                "client_id",
                "address",
                "state",
                "static",
                "expires_in_s",
            ],
        );
        for l in self.leases.export(now) {
            t.push_with(|| {
                let m = l.mac;
                vec![
                    format!(
                        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                        m[0], m[1], m[2], m[3], m[4], m[5]
                    ),
                    l.client_id.as_ref().map_or_else(
                        || "-".to_owned(),
                        |id| id.iter().map(|b| format!("{b:02x}")).collect(),
                    ),
                    l.address.to_string(),
                    l.state.as_str().to_owned(),
                    if l.is_static { "yes" } else { "no" }.to_owned(),
                    l.expires_in.as_secs().to_string(),
                ]
            });
        }
        out(t);
    }
}
