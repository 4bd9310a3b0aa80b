//! Header parsing and in-place rewriting for the NAT: IPv4 validation (RFC 1812 §5.2.2, the
//! router's shared `wire::ipv4`), the transport "ports" of TCP, UDP and ICMP queries, the packet quoted
//! in an ICMP error, and address/port rewrites with RFC 1624 incremental checksums.
//!
//! Frames with a partial checksum (NEEDS_CSUM, Linux CHECKSUM_PARTIAL — every TCP/UDP
//! frame from an offloading TAP, GSO super-frames included) are bracketed by
//! [`partial_begin`] / [`partial_end`], so [`rewrite`] updates them the way Linux
//! `inet_proto_csum_replace4(.., pseudohdr = true)` does; see there.
//!
//! Offsets are into the whole Ethernet frame. Nothing here panics on packet bytes: every
//! parser checks lengths first, and [`rewrite`] only touches fields that lie before `end`.

use nfv_dataplane::wire::checksum;
use nfv_dataplane::wire::gso::F_NEEDS_CSUM;
use nfv_dataplane::wire::{be16, be32, ip_proto};
use nfv_dataplane::{DropReason, Offload, Reason};

use super::NatProto;
use super::table::tcp_flag;

pub(super) use nfv_dataplane::wire::ipv4::{IP, Ipv4Header as Ip, parse as parse_ipv4};
use nfv_dataplane::wire::ipv4::{Quoted, QuotedL4, Transport};

/// ICMP message types, codes and classes (RFC 792, RFC 5508 §2): the wire layer's.
pub(super) use nfv_dataplane::wire::icmp;

/// What the NAT does with the transport part of a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// TCP, UDP or an ICMP query: has "ports" (for ICMP, the identifier).
    Ported,
    /// An ICMP error (quotes a packet).
    IcmpError,
    /// Anything else (other protocols, other ICMP types): address-only translation (1:1).
    Other,
}

/// The transport view of a packet (first fragment or unfragmented).
#[derive(Clone, Copy, Debug)]
pub(super) struct L4 {
    pub kind: Kind,
    pub proto: Option<NatProto>,
    /// Frame offset of the transport header.
    pub off: usize,
    /// Ports; for an ICMP query both are the identifier.
    pub sport: u16,
    pub dport: u16,
    /// TCP flags (0 otherwise).
    pub flags: u8,
    /// ICMP type (0 otherwise).
    pub icmp_type: u8,
}

impl L4 {
    /// The port a remote endpoint is known by: 0 for ICMP (the identifier belongs to the
    /// inside host's mapping, not to the remote).
    pub fn remote_port(&self, port: u16) -> u16 {
        if self.proto == Some(NatProto::Icmp) {
            0
        } else {
            port
        }
    }

    /// A TCP SYN without ACK (a connection attempt).
    pub fn is_syn(&self) -> bool {
        self.proto == Some(NatProto::Tcp)
            && self.flags & (tcp_flag::SYN | tcp_flag::ACK | tcp_flag::RST) == tcp_flag::SYN
    }
}

/// Parse the transport header of an unfragmented packet or a first fragment. Headers the
/// NAT must rewrite have to be complete (a "tiny first fragment" is malformed).
#[inline]
pub(super) fn parse_l4(f: &[u8], ip: &Ip) -> Result<L4, Reason> {
    let off = IP + ip.ihl;
    let l4 = f.get(off..IP + ip.total).unwrap_or(&[]);
    let t = Transport::parse(ip.proto, l4)?;
    let mut l4 = L4 {
        kind: Kind::Other,
        proto: None,
        off,
        sport: 0,
        dport: 0,
        flags: 0,
        icmp_type: 0,
    };
    match (ip.proto, t.icmp) {
        (ip_proto::TCP | ip_proto::UDP, _) => {
            l4.kind = Kind::Ported;
            l4.proto = Some(if ip.proto == ip_proto::TCP {
                NatProto::Tcp
            } else {
                NatProto::Udp
            });
            l4.sport = t.sport;
            l4.dport = t.dport;
            l4.flags = t.tcp_flags;
        }
        (_, Some((ty, id))) => {
            l4.icmp_type = ty;
            if icmp::is_error(ty) {
                l4.kind = Kind::IcmpError;
            } else if icmp::is_query(ty) {
                l4.kind = Kind::Ported;
                l4.proto = Some(NatProto::Icmp);
                l4.sport = id;
                l4.dport = id;
            }
        }
        _ => {}
    }
    Ok(l4)
}

/// The packet quoted by an ICMP error (RFC 792: IP header + at least 8 bytes).
#[derive(Clone, Copy, Debug)]
pub(super) struct Embedded {
    /// Frame offset of the quoted IP header.
    pub ipo: usize,
    pub src: u32,
    pub dst: u32,
    pub proto: u8,
    /// `None`: no ports (another protocol, an ICMP error about an ICMP error…).
    pub nat: Option<NatProto>,
    /// Frame offset of the quoted transport header.
    pub l4o: usize,
    /// End of the ICMP message (the quote may stop anywhere before its own total length).
    pub end: usize,
    pub sport: u16,
    pub dport: u16,
}

impl Embedded {
    /// See [`L4::remote_port`].
    pub fn remote_port(&self, port: u16) -> u16 {
        if self.nat == Some(NatProto::Icmp) {
            0
        } else {
            port
        }
    }
}

/// Parse the packet quoted in the ICMP error of frame `f`. `None`: too short or not IPv4.
pub(super) fn parse_embedded(f: &[u8], ip: &Ip) -> Option<Embedded> {
    let ipo = IP + ip.ihl + 8;
    let end = IP + ip.total;
    let q = Quoted::parse(f.get(ipo..end)?)?;
    let mut e = Embedded {
        ipo,
        src: q.src,
        dst: q.dst,
        proto: q.proto,
        nat: None,
        l4o: ipo + q.ihl,
        end,
        sport: 0,
        dport: 0,
    };
    // A non-first fragment quotes no ports; a quote may stop inside the transport header.
    match (q.proto, q.transport()) {
        (ip_proto::TCP, Some(QuotedL4::Ports(s, d))) => {
            (e.nat, e.sport, e.dport) = (Some(NatProto::Tcp), s, d);
        }
        (ip_proto::UDP, Some(QuotedL4::Ports(s, d))) => {
            (e.nat, e.sport, e.dport) = (Some(NatProto::Udp), s, d);
        }
        (ip_proto::ICMP, Some(QuotedL4::Icmp(t, id))) if icmp::is_query(t) => {
            (e.nat, e.sport, e.dport) = (Some(NatProto::Icmp), id, id);
        }
        _ => {}
    }
    Some(e)
}

/// Which end of a packet to rewrite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Side {
    Src,
    Dst,
}

/// Rewrite the source or destination address — and port, if `new_port` — of the IPv4
/// packet whose header is at `ipo` in `f`, with RFC 1624 incremental updates of the IP
/// header checksum and, when `l4o` is given, of the transport checksum (TCP and UDP cover
/// the pseudo header; an ICMP query's identifier is its "port"). Fields at or beyond `end`
/// (a truncated quote in an ICMP error) are left alone. A UDP checksum of 0 ("none") stays
/// 0; a computed 0 is sent as 0xffff (RFC 768).
#[allow(clippy::too_many_arguments)]
pub(super) fn rewrite(
    f: &mut [u8],
    ipo: usize,
    l4o: Option<usize>,
    end: usize,
    proto: u8,
    side: Side,
    new_ip: u32,
    new_port: Option<u16>,
) {
    let ao = ipo + if side == Side::Src { 12 } else { 16 };
    let old_ip = be32(f, ao);
    if old_ip != new_ip {
        f[ao..ao + 4].copy_from_slice(&new_ip.to_be_bytes());
        let c = checksum::update32(be16(f, ipo + 10), old_ip, new_ip);
        f[ipo + 10..ipo + 12].copy_from_slice(&c.to_be_bytes());
    }
    let Some(l4o) = l4o else { return };
    let (po, co, pseudo) = match (proto, side) {
        (ip_proto::TCP, Side::Src) => (l4o, l4o + 16, true),
        (ip_proto::TCP, Side::Dst) => (l4o + 2, l4o + 16, true),
        (ip_proto::UDP, Side::Src) => (l4o, l4o + 6, true),
        (ip_proto::UDP, Side::Dst) => (l4o + 2, l4o + 6, true),
        (ip_proto::ICMP, _) => (l4o + 4, l4o + 2, false),
        _ => return,
    };
    let mut port_change = None;
    if let Some(np) = new_port
        && po + 2 <= end
    {
        let op = be16(f, po);
        if op != np {
            f[po..po + 2].copy_from_slice(&np.to_be_bytes());
            port_change = Some((op, np));
        }
    }
    if co + 2 > end {
        return;
    }
    let mut c = be16(f, co);
    if proto == ip_proto::UDP && c == 0 {
        return;
    }
    if pseudo {
        c = checksum::update32(c, old_ip, new_ip);
    }
    if let Some((op, np)) = port_change {
        c = checksum::update16(c, op, np);
    }
    if proto == ip_proto::UDP && c == 0 {
        c = 0xffff;
    }
    f[co..co + 2].copy_from_slice(&c.to_be_bytes());
}

/// Recompute the ICMP checksum of the message at `off..end` (an ICMP error's checksum covers
/// the quote, so after rewriting the quote a full recompute is simplest).
pub(super) fn fix_icmp_checksum(f: &mut [u8], off: usize, end: usize) {
    f[off + 2..off + 4].copy_from_slice(&[0, 0]);
    let c = checksum::checksum(&f[off..end]);
    f[off + 2..off + 4].copy_from_slice(&c.to_be_bytes());
}

/// The transport checksum of a NEEDS_CSUM packet between [`partial_begin`] and
/// [`partial_end`].
#[derive(Clone, Copy, Debug)]
pub(super) struct Partial {
    /// Frame offset of the checksum field.
    co: usize,
    /// Frame offset of the transport header (the ports).
    l4o: usize,
    /// Source and destination port before translation.
    ports: [u16; 2],
}

/// Prepare a packet with offload state `o` for [`rewrite`]. `Ok(None)`: the transport
/// checksum is complete (nothing to do). `Ok(Some(_))`: it is partial; call
/// [`partial_end`] after every rewrite of this packet, whatever the verdict.
///
/// With NEEDS_CSUM the field holds the folded, *uncomplemented* pseudo-header sum `P` and
/// the receiver adds the data (ports included) later. Linux updates it for an address
/// change as `P' = P + ~old + new` (`inet_proto_csum_replace4` with `pseudohdr`,
/// CHECKSUM_PARTIAL branch) and leaves it alone for a port change
/// (`inet_proto_csum_replace2` without `pseudohdr`). [`rewrite`]'s RFC 1624 update of a
/// complemented field `C` is `C' = ~(~C + ~old + new)`, so storing `C = ~P` here makes its
/// address update exactly the kernel's; [`partial_end`] complements back and takes out the
/// port updates. `P = 0xffff` is stored as `~0` (0 and 0xffff are the same one's-complement
/// value) so that a UDP field never reads as 0 ("no checksum") in between.
///
/// # Errors
/// [`DropReason::OffloadInvalid`]: NEEDS_CSUM on something other than the TCP/UDP checksum
/// of this packet (the NAT could not keep it correct).
#[inline]
pub(super) fn partial_begin(
    f: &mut [u8],
    ip: &Ip,
    o: Option<Offload>,
) -> Result<Option<Partial>, Reason> {
    let Some(o) = o.filter(|o| o.flags & F_NEEDS_CSUM != 0) else {
        return Ok(None);
    };
    let l4o = IP + ip.ihl;
    let want = match ip.proto {
        ip_proto::TCP => 16,
        ip_proto::UDP => 6,
        _ => return Err(DropReason::OffloadInvalid.into()),
    };
    let co = l4o + want;
    if usize::from(o.csum_start) != l4o || usize::from(o.csum_offset) != want || co + 2 > ip.end() {
        return Err(DropReason::OffloadInvalid.into());
    }
    let p = be16(f, co);
    let c = if p == 0xffff { 0xffff } else { !p };
    f[co..co + 2].copy_from_slice(&c.to_be_bytes());
    Ok(Some(Partial {
        co,
        l4o,
        ports: [be16(f, l4o), be16(f, l4o + 2)],
    }))
}

/// Undo [`partial_begin`]'s encoding: remove the port deltas [`rewrite`] folded in and store
/// the new pseudo-header sum, uncomplemented, for the receiver to finish.
#[inline]
pub(super) fn partial_end(f: &mut [u8], p: &Partial) {
    let mut c = be16(f, p.co);
    for (i, old) in p.ports.iter().enumerate() {
        let new = be16(f, p.l4o + 2 * i);
        if new != *old {
            c = checksum::update16(c, new, *old);
        }
    }
    f[p.co..p.co + 2].copy_from_slice(&(!c).to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use nfv_dataplane::testing::{eth_ipv4, ipv4, l4_checksum_ok, l4_of, tcp, udp};
    use nfv_dataplane::wire::checksum::{fold, pseudo_header_v4};
    use nfv_dataplane::wire::gso::{self, GSO_NONE};

    const IN: [u8; 4] = [10, 0, 0, 5];
    const OUT: [u8; 4] = [198, 51, 100, 9];
    const EXT: [u8; 4] = [203, 0, 113, 2];

    /// A frame with a partial checksum as a TAP hands it over, and its offload state.
    fn partial_frame(proto: u8, src: [u8; 4], dst: [u8; 4], payload: &[u8]) -> (Vec<u8>, Offload) {
        let l4 = if proto == ip_proto::TCP {
            tcp(src, dst, 40000, 443, 7, 9, 0x18, payload)
        } else {
            udp(src, dst, 40000, 53, payload)
        };
        let mut f = eth_ipv4([2; 6], [4; 6], &ipv4(src, dst, proto, 64, &l4));
        f.truncate(14 + 20 + l4.len());
        let co = if proto == ip_proto::TCP { 16 } else { 6 };
        let ps = fold(pseudo_header_v4(
            u32::from_be_bytes(src),
            u32::from_be_bytes(dst),
            proto,
            l4.len() as u16,
        ));
        f[34 + co..34 + co + 2].copy_from_slice(&ps.to_be_bytes());
        let o = Offload {
            flags: gso::F_NEEDS_CSUM,
            gso_type: GSO_NONE,
            gso_size: 0,
            csum_start: 34,
            csum_offset: co as u16,
        };
        (f, o)
    }

    fn translate(f: &mut [u8], o: Offload, side: Side, ip_to: [u8; 4], port: Option<u16>) {
        let ip = parse_ipv4(f).expect("valid");
        let p = partial_begin(f, &ip, Some(o))
            .expect("valid")
            .expect("partial");
        rewrite(
            f,
            IP,
            Some(IP + 20),
            ip.end(),
            ip.proto,
            side,
            u32::from_be_bytes(ip_to),
            port,
        );
        partial_end(f, &p);
    }

    #[test]
    fn nat_partial_checksum_follows_the_addresses_and_ignores_the_ports() {
        for proto in [ip_proto::TCP, ip_proto::UDP] {
            for payload in [&b""[..], b"x", b"hello world, 23 bytes!!"] {
                // Outbound: source address and port change.
                let (mut f, o) = partial_frame(proto, IN, OUT, payload);
                translate(&mut f, o, Side::Src, EXT, Some(61000));
                assert!(verify_ip(&f));
                gso::complete_csum(&mut f, &o).expect("in range");
                assert!(l4_checksum_ok(EXT, OUT, proto, l4_of(&f)), "{proto} out");
                assert_eq!(be16(&f, 34), 61000);
                // Inbound: destination address and port change.
                let (mut f, o) = partial_frame(proto, OUT, EXT, payload);
                translate(&mut f, o, Side::Dst, IN, Some(40001));
                gso::complete_csum(&mut f, &o).expect("in range");
                assert!(l4_checksum_ok(OUT, IN, proto, l4_of(&f)), "{proto} in");
                assert_eq!(be16(&f, 36), 40001);
            }
        }
    }

    #[test]
    fn nat_partial_checksum_of_all_ones_survives_a_udp_rewrite() {
        // Find source ports whose pseudo-header sum folds to 0xffff, then translate.
        let (mut f, o) = partial_frame(ip_proto::UDP, IN, OUT, b"abc");
        let ps = be16(&f, 40);
        // Change the source address so that the partial sum becomes 0xffff exactly.
        let src = u32::from_be_bytes(IN);
        let want = !ps; // adding `want` to the low address word turns ps into 0xffff
        let new_src =
            (src & 0xffff_0000) | u32::from(fold(u32::from(src as u16) + u32::from(want)));
        f[26..30].copy_from_slice(&new_src.to_be_bytes());
        nfv_dataplane::wire::ipv4::fix_checksum(&mut f, 20);
        let new_ps = fold(pseudo_header_v4(new_src, u32::from_be_bytes(OUT), 17, 11));
        f[40..42].copy_from_slice(&new_ps.to_be_bytes());
        assert_eq!(new_ps, 0xffff);
        translate(&mut f, o, Side::Src, EXT, Some(1234));
        gso::complete_csum(&mut f, &o).expect("in range");
        assert!(l4_checksum_ok(EXT, OUT, 17, l4_of(&f)));
    }

    #[test]
    fn nat_refuses_needs_csum_that_is_not_the_transport_checksum() {
        let (mut f, o) = partial_frame(ip_proto::TCP, IN, OUT, b"data");
        let ip = parse_ipv4(&f).expect("valid");
        for bad in [
            Offload {
                csum_offset: 6,
                ..o
            },
            Offload {
                csum_start: 30,
                ..o
            },
        ] {
            assert_eq!(
                partial_begin(&mut f, &ip, Some(bad)).map(|p| p.is_some()),
                Err(DropReason::OffloadInvalid.into())
            );
        }
        let no = Offload { flags: 0, ..o };
        assert!(partial_begin(&mut f, &ip, Some(no)).expect("ok").is_none());
        assert!(partial_begin(&mut f, &ip, None).expect("ok").is_none());
    }

    fn verify_ip(f: &[u8]) -> bool {
        checksum::verify(&f[IP..IP + 20])
    }
}
