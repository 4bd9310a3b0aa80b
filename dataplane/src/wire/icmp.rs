//! ICMP error messages (RFC 792) as routers, NATs and firewalls send them.

use super::checksum;
use super::ipv4::{IP, fix_checksum};
use super::{ETHERTYPE_IPV4, ip_proto, write_eth};
use crate::packet::PacketBuf;

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
