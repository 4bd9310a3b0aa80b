//! IPv4 header validation (RFC 1812 §5.2.2) and fields, at fixed offsets in an Ethernet frame.

use super::checksum;
use super::{ETH_HLEN, be16, be32};
use crate::element::DropReason;

/// Offset of the IPv4 header in an untagged Ethernet frame.
pub const IP: usize = ETH_HLEN;

/// The fields of a validated IPv4 header (addresses in host byte order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Header {
    /// Header length in bytes (20..=60).
    pub ihl: usize,
    /// Total length in bytes (header + payload), never more than the frame holds.
    pub total: usize,
    /// Source address.
    pub src: u32,
    /// Destination address.
    pub dst: u32,
    /// Protocol number.
    pub proto: u8,
    /// Time to live.
    pub ttl: u8,
    /// Identification.
    pub id: u16,
    /// Fragment offset in 8-byte units.
    pub frag_off: u16,
    /// More Fragments flag.
    pub more_frags: bool,
    /// Don't Fragment flag.
    pub dont_frag: bool,
}

impl Ipv4Header {
    /// Offset of the transport header in the frame.
    pub fn l4(&self) -> usize {
        IP + self.ihl
    }

    /// One past the last byte of the IP packet in the frame.
    pub fn end(&self) -> usize {
        IP + self.total
    }

    /// True for any fragment (first or later).
    pub fn is_fragment(&self) -> bool {
        self.frag_off != 0 || self.more_frags
    }
}

/// RFC 1812 §5.2.2: validate the IPv4 header of Ethernet frame `f` before anything looks at
/// it. Each failure is a distinct drop reason; the router, NAT and firewall count them the
/// same way.
///
/// # Errors
/// `IpTooShort`, `IpBadVersion`, `IpBadHeaderLength`, `IpBadTotalLength`, `IpBadChecksum`.
#[inline]
pub fn parse(f: &[u8]) -> Result<Ipv4Header, DropReason> {
    let ip = f.get(IP..).ok_or(DropReason::IpTooShort)?;
    if ip.len() < 20 {
        return Err(DropReason::IpTooShort);
    }
    if ip[0] >> 4 != 4 {
        return Err(DropReason::IpBadVersion);
    }
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    if ihl < 20 || ihl > ip.len() {
        return Err(DropReason::IpBadHeaderLength);
    }
    let total = usize::from(be16(ip, 2));
    if total < ihl || total > ip.len() {
        return Err(DropReason::IpBadTotalLength);
    }
    if !checksum::verify(&ip[..ihl]) {
        return Err(DropReason::IpBadChecksum);
    }
    let frag = be16(ip, 6);
    Ok(Ipv4Header {
        ihl,
        total,
        src: be32(ip, 12),
        dst: be32(ip, 16),
        proto: ip[9],
        ttl: ip[8],
        id: be16(ip, 4),
        frag_off: frag & 0x1fff,
        more_frags: frag & 0x2000 != 0,
        dont_frag: frag & 0x4000 != 0,
    })
}

/// Recompute the header checksum of the IPv4 header (`ihl` bytes) of frame `f`.
/// The caller guarantees `f.len() >= IP + ihl`.
pub fn fix_checksum(f: &mut [u8], ihl: usize) {
    f[IP + 10..IP + 12].copy_from_slice(&[0, 0]);
    let c = checksum::checksum(&f[IP..IP + ihl]);
    f[IP + 10..IP + 12].copy_from_slice(&c.to_be_bytes());
}
