//! What the rules and the connection table look at: a packet's protocol, ports and flow key,
//! and the flow key quoted in an ICMP error.

use nfv_dataplane::Reason;
use nfv_dataplane::wire::ip_proto;
use nfv_dataplane::wire::ipv4::{IP, Ipv4Header as Ip, Quoted, QuotedL4, Transport};

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

/// ICMP message types, codes and classes: the wire layer's.
pub(super) use nfv_dataplane::wire::icmp;

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

pub(super) use nfv_dataplane::wire::tcp::flags as tcpf;

/// Rule view and tracking kind of a validated IPv4 packet in frame `f`. `Err` when the L4
/// header of a whole packet or first fragment is cut short (the wire layer's
/// [`Transport::parse`], shared with the NAT).
#[inline]
pub(super) fn classify(f: &[u8], ip: &Ip) -> Result<(Pkt, Kind), Reason> {
    let l4 = f.get(IP + ip.ihl..IP + ip.total).unwrap_or(&[]);
    let t = Transport::parse(ip.proto, l4)?;
    let mut p = Pkt {
        src: ip.src,
        dst: ip.dst,
        proto: ip.proto,
        ports: None,
        icmp_type: None,
        len: ip.total as u64,
    };
    let kind = match (ip.proto, t.icmp) {
        (ip_proto::TCP, _) => {
            p.ports = Some((t.sport, t.dport));
            let syn_only =
                t.tcp_flags & (tcpf::SYN | tcpf::ACK | tcpf::RST | tcpf::FIN) == tcpf::SYN;
            Kind::Tracked {
                sport: u32::from(t.sport),
                dport: u32::from(t.dport),
                starts: syn_only,
                tcp_flags: t.tcp_flags,
            }
        }
        (ip_proto::UDP, _) => {
            p.ports = Some((t.sport, t.dport));
            Kind::Tracked {
                sport: u32::from(t.sport),
                dport: u32::from(t.dport),
                starts: true,
                tcp_flags: 0,
            }
        }
        (_, Some((ty, id))) => {
            p.icmp_type = Some(ty);
            if let Some((sport, dport)) = icmp_ports(ty, id) {
                Kind::Tracked {
                    sport,
                    dport,
                    starts: icmp::query(ty).is_some_and(|q| q.1),
                    tcp_flags: 0,
                }
            } else if icmp::is_error(ty) {
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
    let q = Quoted::parse(f.get(IP + ip.ihl + 8..IP + ip.total)?)?;
    // The error goes back to the sender of the quoted packet.
    if q.src != ip.dst {
        return None;
    }
    let (sport, dport) = match (q.proto, q.transport()) {
        (ip_proto::TCP | ip_proto::UDP, Some(QuotedL4::Ports(s, d))) => {
            (u32::from(s), u32::from(d))
        }
        // An ICMP query needs its whole header quoted (RFC 792: 8 bytes).
        (ip_proto::ICMP, Some(QuotedL4::Icmp(t, id))) if q.l4.len() >= 8 => icmp_ports(t, id)?,
        (ip_proto::TCP | ip_proto::UDP | ip_proto::ICMP, _) => return None,
        _ => (0, 0),
    };
    Some(FlowKey::of(q.proto, q.src, sport, q.dst, dport))
}

pub(super) fn martian_source(a: u32) -> bool {
    let first = a >> 24;
    first == 0 || first == 127 || first >= 224
}

pub(super) fn is_multicast(a: u32) -> bool {
    a >> 28 == 0xe
}
