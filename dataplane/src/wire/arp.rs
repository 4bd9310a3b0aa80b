//! ARP for IPv4 over Ethernet (RFC 826) at fixed offsets in an Ethernet frame.

use super::{ETHERTYPE_ARP, ETHERTYPE_IPV4, be16, be32, write_eth};

/// Bytes an Ethernet/IPv4 ARP frame needs (14-byte header + 28-byte ARP body).
pub const ARP_FRAME_LEN: usize = 42;
/// ARP request.
pub const OP_REQUEST: u16 = 1;
/// ARP reply.
pub const OP_REPLY: u16 = 2;

/// The fields of an Ethernet/IPv4 ARP packet (addresses in host byte order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arp {
    /// Operation (1 request, 2 reply).
    pub op: u16,
    /// Sender hardware address.
    pub sha: [u8; 6],
    /// Sender protocol address.
    pub spa: u32,
    /// Target protocol address.
    pub tpa: u32,
}

impl Arp {
    /// True when the sender hardware address is one a host may have: not a group address,
    /// not all zeros (RFC 1812 §3.3.2: never believe or answer those).
    pub fn sender_is_unicast(&self) -> bool {
        self.sha[0] & 1 == 0 && self.sha != [0; 6]
    }
}

/// Parse frame `f` as Ethernet/IPv4 ARP; `None` if it is too short or another hardware or
/// protocol type.
pub fn parse(f: &[u8]) -> Option<Arp> {
    if f.len() < ARP_FRAME_LEN
        || be16(f, 14) != 1
        || be16(f, 16) != ETHERTYPE_IPV4
        || f[18] != 6
        || f[19] != 4
    {
        return None;
    }
    let mut sha = [0u8; 6];
    sha.copy_from_slice(&f[22..28]);
    Some(Arp {
        op: be16(f, 20),
        sha,
        spa: be32(f, 28),
        tpa: be32(f, 38),
    })
}

/// Turn the request `req` held in frame `f` (at least [`ARP_FRAME_LEN`] bytes) into the
/// reply "`my_ip` is at `my_mac`", addressed to the requester.
pub fn reply_in_place(f: &mut [u8], req: &Arp, my_mac: [u8; 6], my_ip: u32) {
    write_eth(f, req.sha, my_mac, ETHERTYPE_ARP);
    f[20..22].copy_from_slice(&OP_REPLY.to_be_bytes());
    f[22..28].copy_from_slice(&my_mac);
    f[28..32].copy_from_slice(&my_ip.to_be_bytes());
    f[32..38].copy_from_slice(&req.sha);
    f[38..42].copy_from_slice(&req.spa.to_be_bytes());
}
