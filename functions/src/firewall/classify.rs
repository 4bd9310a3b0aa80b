//! What the rules and the connection table look at: a packet's protocol, ports and flow key,
//! and the flow key quoted in an ICMP error.

use nfv_dataplane::wire::ipv4::{IP, Ipv4Header as Ip};
use nfv_dataplane::wire::{be16, be32, ip_proto};
use nfv_dataplane::{DropReason, Reason};

use super::*;

/// What rules look at.
#[derive(Clone, Copy, Debug)]
pub(super) struct Pkt {
    pub(super) src: u32,
    pub(super) dst: u32,
    pub(super) proto: u8,
    /// TCP/UDP (source, destination) ports; `None` for other protocols and non-initial
    /// fragments.
    pub(super) ports: Option<(u16, u16)>,
    pub(super) icmp_type: Option<u8>,
    /// IP total length, for byte counters.
    pub(super) len: u64,
}

/// How a packet relates to connection tracking.
#[derive(Clone, Copy, Debug)]
pub(super) enum Kind {
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

pub(super) mod icmp {
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
pub(super) fn icmp_ports(t: u8, id: u16) -> Option<(u32, u32)> {
    let (req, is_request) = icmp::query(t)?;
    let ty = 0x1_0000 | u32::from(req);
    Some(if is_request {
        (u32::from(id), ty)
    } else {
        (ty, u32::from(id))
    })
}

pub(super) mod tcpf {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const ACK: u8 = 0x10;
}

/// Rule view and tracking kind of a validated IPv4 packet in frame `f`. `Err` when the L4
/// header of a whole packet or first fragment is cut short.
pub(super) fn classify(f: &[u8], ip: &Ip) -> Result<(Pkt, Kind), Reason> {
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
                return Err(DropReason::Malformed.into());
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
                return Err(DropReason::Malformed.into());
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
                return Err(DropReason::Malformed.into());
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
pub(super) fn quoted_key(f: &[u8], ip: &Ip) -> Option<(FlowKey, bool)> {
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

pub(super) fn martian_source(a: u32) -> bool {
    let first = a >> 24;
    first == 0 || first == 127 || first >= 224
}

pub(super) fn is_multicast(a: u32) -> bool {
    a >> 28 == 0xe
}
