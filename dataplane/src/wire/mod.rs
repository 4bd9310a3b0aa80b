//! Packet header helpers that the crates (smoltcp, etherparse) do not give us in the form the
//! fast path needs: the Internet checksum with RFC 1624 incremental updates, fixed offsets
//! of Ethernet, ARP and IPv4 fields, and smoltcp-style checked views ([`ethernet::Ethernet`],
//! [`ipv4::Ipv4`], [`udp::Udp`], [`tcp::Tcp`], [`icmp::Icmpv4`]) whose `new_checked` proves
//! the lengths once so that no getter or setter can panic, and whose setters keep
//! checksums right. Room is left for `ipv6`/`icmpv6` modules of the same shape.
//!
//! Contract: nothing here panics on packet bytes. The views check lengths in `new_checked`;
//! the plain accessors take slices whose length the caller has checked (the `*_LEN`
//! constants say how much); the checksum functions accept any length.

pub mod arp;
pub mod checksum;
pub mod ethernet;
pub mod gso;
pub mod icmp;
pub mod ipv4;
pub mod tcp;
pub mod udp;

/// Ethernet header length (no tag).
pub const ETH_HLEN: usize = 14;
/// EtherType IPv4.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// EtherType ARP.
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// EtherType 802.1Q.
pub const ETHERTYPE_VLAN: u16 = 0x8100;
/// Broadcast MAC.
pub const MAC_BROADCAST: [u8; 6] = [0xff; 6];

/// IPv4 protocol numbers.
pub mod ip_proto {
    /// ICMP.
    pub const ICMP: u8 = 1;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
}

/// Destination MAC of a frame of at least 6 bytes.
#[inline]
pub fn eth_dst(f: &[u8]) -> [u8; 6] {
    // One bounds check for the six bytes (the conversion of a 6-byte slice cannot fail).
    f[..6].try_into().unwrap_or_default()
}

/// Source MAC of a frame of at least 12 bytes.
#[inline]
pub fn eth_src(f: &[u8]) -> [u8; 6] {
    f[6..12].try_into().unwrap_or_default()
}

/// EtherType of a frame of at least 14 bytes.
#[inline]
pub fn eth_type(f: &[u8]) -> u16 {
    u16::from_be_bytes([f[12], f[13]])
}

/// Write an Ethernet header into the first 14 bytes of `f`.
#[inline]
pub fn write_eth(f: &mut [u8], dst: [u8; 6], src: [u8; 6], ethertype: u16) {
    f[0..6].copy_from_slice(&dst);
    f[6..12].copy_from_slice(&src);
    f[12..14].copy_from_slice(&ethertype.to_be_bytes());
}

/// Read a big-endian u32 at `off` (caller checked `off + 4 <= b.len()`).
#[inline]
pub fn be32(b: &[u8], off: usize) -> u32 {
    u32::from_be_bytes(b[off..off + 4].try_into().unwrap_or_default())
}

/// Read a big-endian u16 at `off` (caller checked `off + 2 <= b.len()`).
#[inline]
pub fn be16(b: &[u8], off: usize) -> u16 {
    u16::from_be_bytes(b[off..off + 2].try_into().unwrap_or_default())
}
