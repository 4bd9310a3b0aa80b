//! ICMPv4 (RFC 792): message types and codes, their classes (error, query), a checked view
//! of a message ([`Icmpv4`]) with the packet an error quotes, and ICMP errors as routers,
//! NATs and firewalls send them. The one place these constants are defined.

use super::checksum;
use super::ipv4::{IP, fix_checksum};
use super::{ETHERTYPE_IPV4, be16, ip_proto, write_eth};
use crate::packet::PacketBuf;

/// Type: Echo Reply.
pub const ECHO_REPLY: u8 = 0;
/// Type: Destination Unreachable.
pub const DEST_UNREACH: u8 = 3;
/// Type: Source Quench (deprecated, RFC 6633; still an error message).
pub const SOURCE_QUENCH: u8 = 4;
/// Type: Redirect.
pub const REDIRECT: u8 = 5;
/// Type: Echo Request.
pub const ECHO_REQUEST: u8 = 8;
/// Type: Time Exceeded.
pub const TIME_EXCEEDED: u8 = 11;
/// Type: Parameter Problem.
pub const PARAM_PROBLEM: u8 = 12;
/// Type: Timestamp Request (reply: 14).
pub const TIMESTAMP: u8 = 13;
/// Type: Information Request (obsolete; reply: 16).
pub const INFO_REQUEST: u8 = 15;
/// Type: Address Mask Request (RFC 950; reply: 18).
pub const MASK_REQUEST: u8 = 17;

/// Destination Unreachable code: net unreachable.
pub const NET_UNREACH: u8 = 0;
/// Destination Unreachable code: host unreachable.
pub const HOST_UNREACH: u8 = 1;
/// Destination Unreachable code: protocol unreachable.
pub const PROTO_UNREACH: u8 = 2;
/// Destination Unreachable code: port unreachable.
pub const PORT_UNREACH: u8 = 3;
/// Destination Unreachable code: fragmentation needed and DF set (RFC 1191).
pub const FRAG_NEEDED: u8 = 4;
/// Destination Unreachable code: communication administratively prohibited (RFC 1812
/// §5.2.7.1).
pub const ADMIN_PROHIBITED: u8 = 13;
/// Redirect code: redirect for the host.
pub const REDIRECT_HOST: u8 = 1;

/// Error messages, which quote the offending datagram (RFC 792; RFC 1812 §4.3.2.7 never
/// answers one with another error).
pub const fn is_error(t: u8) -> bool {
    matches!(
        t,
        DEST_UNREACH | SOURCE_QUENCH | REDIRECT | TIME_EXCEEDED | PARAM_PROBLEM
    )
}

/// Query requests carrying an identifier (echo, timestamp, information, mask).
pub const fn is_query_request(t: u8) -> bool {
    matches!(t, ECHO_REQUEST | TIMESTAMP | INFO_REQUEST | MASK_REQUEST)
}

/// Query replies carrying an identifier.
pub const fn is_query_reply(t: u8) -> bool {
    matches!(t, ECHO_REPLY | 14 | 16 | 18)
}

/// Query (informational) messages, requests or replies: errors may be sent about these
/// (RFC 1812 §4.3.2.7).
pub const fn is_query(t: u8) -> bool {
    is_query_request(t) || is_query_reply(t)
}

/// The request type of a query request or reply, and whether `t` is the request.
pub const fn query(t: u8) -> Option<(u8, bool)> {
    match t {
        ECHO_REQUEST | TIMESTAMP | INFO_REQUEST | MASK_REQUEST => Some((t, true)),
        ECHO_REPLY => Some((ECHO_REQUEST, false)),
        14 | 16 | 18 => Some((t - 1, false)),
        _ => None,
    }
}

/// ICMP header length (type, code, checksum, 4 bytes of "rest").
pub const HEADER_LEN: usize = 8;

/// A checked view of an ICMPv4 message (header first): at least [`HEADER_LEN`] bytes, so
/// no getter can panic.
#[derive(Clone, Copy, Debug)]
pub struct Icmpv4<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> Icmpv4<T> {
    /// The message in `buf`, or `None` if it is shorter than the ICMP header.
    #[inline]
    pub fn new_checked(buf: T) -> Option<Icmpv4<T>> {
        (buf.as_ref().len() >= HEADER_LEN).then_some(Icmpv4 { buf })
    }

    /// Type.
    #[inline]
    pub fn msg_type(&self) -> u8 {
        self.buf.as_ref()[0]
    }

    /// Code.
    #[inline]
    pub fn code(&self) -> u8 {
        self.buf.as_ref()[1]
    }

    /// Checksum field.
    #[inline]
    pub fn checksum(&self) -> u16 {
        be16(self.buf.as_ref(), 2)
    }

    /// Identifier of a query (the first half of "rest").
    #[inline]
    pub fn ident(&self) -> u16 {
        be16(self.buf.as_ref(), 4)
    }

    /// Sequence number of a query (the second half of "rest").
    #[inline]
    pub fn seq(&self) -> u16 {
        be16(self.buf.as_ref(), 6)
    }

    /// True when the checksum over the whole message is right.
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        checksum::verify(self.buf.as_ref())
    }

    /// True for an error message ([`is_error`]).
    #[inline]
    pub fn is_error(&self) -> bool {
        is_error(self.msg_type())
    }

    /// Bytes after the header: for an error, the quoted datagram.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buf.as_ref()[HEADER_LEN..]
    }

    /// The datagram an error message quotes (IP header and at least the first 8 bytes of its
    /// payload, RFC 792), parsed: `None` unless this is an error and the quote holds an IPv4
    /// header whose IHL fits the quote.
    #[inline]
    pub fn quoted(&self) -> Option<super::ipv4::Quoted<'_>> {
        if !self.is_error() {
            return None;
        }
        super::ipv4::Quoted::parse(self.payload())
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv4<T> {
    /// Set the identifier, updating the checksum incrementally (RFC 1624).
    #[inline]
    pub fn set_ident(&mut self, id: u16) {
        let old = self.ident();
        let c = checksum::update16(self.checksum(), old, id);
        let b = self.buf.as_mut();
        b[4..6].copy_from_slice(&id.to_be_bytes());
        b[2..4].copy_from_slice(&c.to_be_bytes());
    }

    /// Recompute the checksum over the whole message.
    #[inline]
    pub fn fill_checksum(&mut self) {
        let b = self.buf.as_mut();
        b[2..4].copy_from_slice(&[0, 0]);
        let c = checksum::checksum(b);
        b[2..4].copy_from_slice(&c.to_be_bytes());
    }
}

/// Largest ICMP error datagram (RFC 1812 §4.3.2.3): the IP header, 8 bytes of ICMP header
/// and as much of the offending datagram as fits.
pub const ERROR_MAX: usize = 576;

/// The header fields of an ICMP error to build.
#[derive(Clone, Copy, Debug)]
pub struct ErrorHeader {
    /// Ethernet destination (all zeros if the sender fills it in later).
    pub eth_dst: [u8; 6],
    /// Ethernet source.
    pub eth_src: [u8; 6],
    /// IP source: one of the sender's own addresses (RFC 1812 §4.3.2.4).
    pub src: u32,
    /// IP destination: the offending datagram's source.
    pub dst: u32,
    /// IP identification.
    pub id: u16,
    /// ICMP type.
    pub typ: u8,
    /// ICMP code.
    pub code: u8,
    /// The 4 bytes after the checksum (next-hop MTU, redirect gateway …), big-endian.
    pub rest: u32,
}

/// Append to the empty buffer `p` an Ethernet + IPv4 + ICMP error quoting `orig_ip` (the
/// offending datagram, IP header first) up to [`ERROR_MAX`] bytes in all, with TOS 0xc0
/// (RFC 1812 §4.3.2.5), TTL 64 and both checksums. False if `p` has no room.
pub fn build_error(p: &mut PacketBuf, h: &ErrorHeader, orig_ip: &[u8]) -> bool {
    let quote = orig_ip.len().min(ERROR_MAX - 28);
    let total = 28 + quote;
    let mut hdr = [0u8; IP + 28];
    write_eth(&mut hdr, h.eth_dst, h.eth_src, ETHERTYPE_IPV4);
    hdr[IP] = 0x45;
    hdr[IP + 1] = 0xc0;
    hdr[IP + 2..IP + 4].copy_from_slice(&(total as u16).to_be_bytes());
    hdr[IP + 4..IP + 6].copy_from_slice(&h.id.to_be_bytes());
    hdr[IP + 8] = 64;
    hdr[IP + 9] = ip_proto::ICMP;
    hdr[IP + 12..IP + 16].copy_from_slice(&h.src.to_be_bytes());
    hdr[IP + 16..IP + 20].copy_from_slice(&h.dst.to_be_bytes());
    hdr[IP + 20] = h.typ;
    hdr[IP + 21] = h.code;
    hdr[IP + 24..IP + 28].copy_from_slice(&h.rest.to_be_bytes());
    if !p.extend_from_slice(&hdr) || !p.extend_from_slice(&orig_ip[..quote]) {
        return false;
    }
    let d = p.data_mut();
    fix_checksum(d, 20);
    let c = checksum::checksum(&d[IP + 20..]);
    d[IP + 22..IP + 24].copy_from_slice(&c.to_be_bytes());
    true
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::testing::XorShift;

    #[test]
    fn icmp_classes_follow_rfc792() {
        for t in [
            DEST_UNREACH,
            SOURCE_QUENCH,
            REDIRECT,
            TIME_EXCEEDED,
            PARAM_PROBLEM,
        ] {
            assert!(is_error(t) && !is_query(t), "{t}");
        }
        for t in [0, 8, 13, 14, 15, 16, 17, 18] {
            assert!(is_query(t) && !is_error(t), "{t}");
        }
        assert_eq!(query(ECHO_REPLY), Some((ECHO_REQUEST, false)));
        assert_eq!(query(14), Some((TIMESTAMP, false)));
        assert_eq!(query(ECHO_REQUEST), Some((ECHO_REQUEST, true)));
        assert_eq!(query(9), None, "router advertisement is neither");
    }

    #[test]
    fn icmp_view_needs_8_bytes_and_parses_the_quote_of_errors_only() {
        assert!(Icmpv4::new_checked(&[0u8; 7][..]).is_none());
        let mut m = vec![DEST_UNREACH, PORT_UNREACH, 0, 0, 0, 0, 0, 0];
        m.extend_from_slice(&[0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0]);
        m.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2, 0, 1, 0, 2]);
        let v = Icmpv4::new_checked(&m[..]).unwrap();
        let q = v.quoted().unwrap();
        assert_eq!(
            q.transport(),
            Some(super::super::ipv4::QuotedL4::Ports(1, 2))
        );
        m[0] = ECHO_REPLY;
        assert!(Icmpv4::new_checked(&m[..]).unwrap().quoted().is_none());
    }

    #[test]
    fn icmp_ident_setter_equals_a_full_recompute() {
        let mut rng = XorShift(0x5555_aaaa_1234_4321);
        for _ in 0..2000 {
            let n = 8 + rng.below(64) as usize;
            let mut m = rng.bytes(n);
            let mut v = Icmpv4::new_checked(&mut m[..]).unwrap();
            v.fill_checksum();
            v.set_ident(rng.next() as u16);
            assert!(v.verify_checksum());
        }
    }
}
