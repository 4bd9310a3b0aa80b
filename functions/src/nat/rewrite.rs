//! Header parsing and in-place rewriting for the NAT: IPv4 validation (RFC 1812 §5.2.2, the
//! router's shared `wire::ipv4`), the transport "ports" of TCP, UDP and ICMP queries, the packet quoted
//! in an ICMP error, and address/port rewrites with RFC 1624 incremental checksums.
//!
//! Offsets are into the whole Ethernet frame. Nothing here panics on packet bytes: every
//! parser checks lengths first, and [`rewrite`] only touches fields that lie before `end`.

use nfv_dataplane::DropReason;
use nfv_dataplane::wire::checksum;
use nfv_dataplane::wire::{be16, be32, ip_proto};

use super::NatProto;
use super::table::tcp_flag;

pub(super) use nfv_dataplane::wire::ipv4::{IP, Ipv4Header as Ip, parse as parse_ipv4};

/// ICMP message classes (RFC 792, RFC 5508 §2).
pub(super) mod icmp {
    pub const ECHO_REPLY: u8 = 0;
    pub const DEST_UNREACH: u8 = 3;
    pub const ECHO_REQUEST: u8 = 8;
    pub const PORT_UNREACH: u8 = 3;
    pub const ADMIN_PROHIBITED: u8 = 13;

    /// Error messages that quote the offending packet.
    pub fn is_error(t: u8) -> bool {
        matches!(t, 3 | 4 | 5 | 11 | 12)
    }

    /// Query requests carrying an identifier (echo, timestamp, information, mask).
    pub fn is_query_request(t: u8) -> bool {
        matches!(t, ECHO_REQUEST | 13 | 15 | 17)
    }

    /// Query replies carrying an identifier.
    pub fn is_query_reply(t: u8) -> bool {
        matches!(t, ECHO_REPLY | 14 | 16 | 18)
    }
}

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
pub(super) fn parse_l4(f: &[u8], ip: &Ip) -> Result<L4, DropReason> {
    let off = IP + ip.ihl;
    let end = IP + ip.total;
    let len = end - off;
    let mut l4 = L4 {
        kind: Kind::Other,
        proto: None,
        off,
        sport: 0,
        dport: 0,
        flags: 0,
        icmp_type: 0,
    };
    match ip.proto {
        ip_proto::TCP | ip_proto::UDP => {
            let tcp = ip.proto == ip_proto::TCP;
            if len < if tcp { 20 } else { 8 } {
                return Err(DropReason::Malformed);
            }
            l4.kind = Kind::Ported;
            l4.proto = Some(if tcp { NatProto::Tcp } else { NatProto::Udp });
            l4.sport = be16(f, off);
            l4.dport = be16(f, off + 2);
            if tcp {
                l4.flags = f[off + 13];
            }
        }
        ip_proto::ICMP => {
            if len < 8 {
                return Err(DropReason::Malformed);
            }
            let t = f[off];
            l4.icmp_type = t;
            if icmp::is_error(t) {
                l4.kind = Kind::IcmpError;
            } else if icmp::is_query_request(t) || icmp::is_query_reply(t) {
                l4.kind = Kind::Ported;
                l4.proto = Some(NatProto::Icmp);
                l4.sport = be16(f, off + 4);
                l4.dport = l4.sport;
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
    if ipo + 20 > end || f[ipo] >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(f[ipo] & 0x0f) * 4;
    let l4o = ipo + ihl;
    if ihl < 20 || l4o > end {
        return None;
    }
    let proto = f[ipo + 9];
    let first = be16(f, ipo + 6) & 0x1fff == 0;
    let mut e = Embedded {
        ipo,
        src: be32(f, ipo + 12),
        dst: be32(f, ipo + 16),
        proto,
        nat: None,
        l4o,
        end,
        sport: 0,
        dport: 0,
    };
    if !first {
        return Some(e); // a non-first fragment quotes no ports
    }
    match proto {
        ip_proto::TCP | ip_proto::UDP if l4o + 4 <= end => {
            e.nat = Some(if proto == ip_proto::TCP {
                NatProto::Tcp
            } else {
                NatProto::Udp
            });
            e.sport = be16(f, l4o);
            e.dport = be16(f, l4o + 2);
        }
        ip_proto::ICMP if l4o + 6 <= end => {
            let t = f[l4o];
            if icmp::is_query_request(t) || icmp::is_query_reply(t) {
                e.nat = Some(NatProto::Icmp);
                e.sport = be16(f, l4o + 4);
                e.dport = e.sport;
            }
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
