//! Checksum offload and generic segmentation offload (GSO) in software: the `virtio_net_hdr`
//! a TAP with `IFF_VNET_HDR` puts in front of every frame, validation of the offload state
//! against the frame, completing a NEEDS_CSUM checksum, and cutting a TCP (TSO) or UDP
//! (USO) super-frame into wire-sized segments for an egress that has no offload (an
//! `AF_PACKET` port, a pcap file) or a link whose MTU the segments do not fit.
//!
//! The segmentation follows Linux `tcp_gso_segment` / `__udp_gso_segment` and
//! `inet_gso_segment`: headers copied to every segment; IPv4 total length, identification
//! (+1 per segment) and header checksum per segment; IPv6 payload length; TCP sequence
//! number advanced by `gso_size` per segment, FIN and PSH only on the last segment, CWR only
//! on the first; UDP length per segment; full transport checksums (RFC 793 §3.1, RFC 768,
//! RFC 8200 §8.1 pseudo headers).
//!
//! Contract (as the rest of `wire`): nothing here panics on packet bytes. [`check`] checks
//! every offset before anything is written, and a frame it refuses is an
//! [`DropReason::OffloadInvalid`] drop for the caller to count.

use super::checksum;
use super::{be16, be32};
use crate::element::DropReason;
use crate::packet::Offload;

/// Size of the `virtio_net_hdr_v1` nfv asks the TAP for with `TUNSETVNETHDRSZ` (12 bytes:
/// the 10-byte legacy header plus `num_buffers`, which a TAP ignores). The v1 layout is the
/// one virtio 1.x devices use, so the header is the same on every path.
pub const VNET_HDR_LEN: usize = 12;
/// `VIRTIO_NET_HDR_F_NEEDS_CSUM`: the transport checksum field holds only the pseudo-header
/// sum; the receiver sums from `csum_start` to the end and stores it at `csum_offset`.
pub const F_NEEDS_CSUM: u8 = 1;
/// `VIRTIO_NET_HDR_F_DATA_VALID`: the sender verified the checksums.
pub const F_DATA_VALID: u8 = 2;
/// `VIRTIO_NET_HDR_GSO_NONE`.
pub const GSO_NONE: u8 = 0;
/// `VIRTIO_NET_HDR_GSO_TCPV4`.
pub const GSO_TCPV4: u8 = 1;
/// `VIRTIO_NET_HDR_GSO_TCPV6`.
pub const GSO_TCPV6: u8 = 4;
/// `VIRTIO_NET_HDR_GSO_UDP_L4` (UDP segmentation, "USO").
pub const GSO_UDP_L4: u8 = 5;
/// `VIRTIO_NET_HDR_GSO_ECN` (TCP with ECN: CWR set on the first segment only).
pub const GSO_ECN: u8 = 0x80;

const TCP_FIN: u8 = 0x01;
const TCP_PSH: u8 = 0x08;
const TCP_CWR: u8 = 0x80;

/// The `virtio_net_hdr_v1` fields (Linux `include/uapi/linux/virtio_net.h`). Multi-byte
/// fields are in the host's byte order: a TAP without `TUNSETVNETLE`/`TUNSETVNETBE` uses
/// the legacy virtio convention, which is native endian.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VirtioNetHdr {
    /// `F_*` flags.
    pub flags: u8,
    /// `GSO_*` type.
    pub gso_type: u8,
    /// Length of the headers (Ethernet to the end of the transport header) of a GSO frame.
    pub hdr_len: u16,
    /// Payload bytes per segment.
    pub gso_size: u16,
    /// Start of the checksummed part, from the frame start.
    pub csum_start: u16,
    /// Offset of the checksum field from `csum_start`.
    pub csum_offset: u16,
}

impl VirtioNetHdr {
    /// Decode the first [`VNET_HDR_LEN`] bytes read from a TAP.
    pub fn parse(b: &[u8; VNET_HDR_LEN]) -> VirtioNetHdr {
        VirtioNetHdr {
            flags: b[0],
            gso_type: b[1],
            hdr_len: u16::from_ne_bytes([b[2], b[3]]),
            gso_size: u16::from_ne_bytes([b[4], b[5]]),
            csum_start: u16::from_ne_bytes([b[6], b[7]]),
            csum_offset: u16::from_ne_bytes([b[8], b[9]]),
        }
    }

    /// Encode for a write to a TAP (`num_buffers` 0).
    pub fn emit(&self) -> [u8; VNET_HDR_LEN] {
        let mut b = [0u8; VNET_HDR_LEN];
        b[0] = self.flags;
        b[1] = self.gso_type;
        b[2..4].copy_from_slice(&self.hdr_len.to_ne_bytes());
        b[4..6].copy_from_slice(&self.gso_size.to_ne_bytes());
        b[6..8].copy_from_slice(&self.csum_start.to_ne_bytes());
        b[8..10].copy_from_slice(&self.csum_offset.to_ne_bytes());
        b
    }

    /// The offload state to keep with the packet, `None` when there is nothing to do
    /// (no flags, no GSO: a plain frame with complete checksums).
    pub fn to_offload(&self) -> Option<Offload> {
        if self.flags & (F_NEEDS_CSUM | F_DATA_VALID) == 0 && self.gso_type == GSO_NONE {
            return None;
        }
        Some(Offload {
            flags: self.flags & (F_NEEDS_CSUM | F_DATA_VALID),
            gso_type: self.gso_type,
            gso_size: self.gso_size,
            csum_start: self.csum_start,
            csum_offset: self.csum_offset,
        })
    }

    /// The header to write in front of `frame` (all zero without offload state). `hdr_len`
    /// is recomputed from the frame (the transport header's end), as Linux
    /// `virtio_net_hdr_from_skb` reports the header length of a GSO skb.
    pub fn for_frame(frame: &[u8], o: Option<Offload>) -> VirtioNetHdr {
        let Some(o) = o else {
            return VirtioNetHdr::default();
        };
        let mut h = VirtioNetHdr {
            flags: o.flags,
            gso_type: o.gso_type,
            hdr_len: 0,
            gso_size: o.gso_size,
            csum_start: o.csum_start,
            csum_offset: o.csum_offset,
        };
        if o.gso_type & !GSO_ECN != GSO_NONE {
            let cs = usize::from(o.csum_start);
            let l4_len = if o.gso_type & !GSO_ECN == GSO_UDP_L4 {
                8
            } else {
                frame.get(cs + 12).map_or(20, |b| usize::from(b >> 4) * 4)
            };
            h.hdr_len = u16::try_from((cs + l4_len).min(frame.len())).unwrap_or(u16::MAX);
        }
        h
    }
}

/// Check the offload state of a plain (non-GSO) frame and, for a GSO frame, work out how
/// to segment it. `Ok(None)`: not GSO (NEEDS_CSUM, if set, is in range).
///
/// # Errors
/// [`DropReason::OffloadInvalid`] for anything that does not fit the frame (see there).
pub fn check(frame: &[u8], o: &Offload) -> Result<Option<Plan>, DropReason> {
    const BAD: DropReason = DropReason::OffloadInvalid;
    let cs = usize::from(o.csum_start);
    if o.flags & F_NEEDS_CSUM != 0 && cs + usize::from(o.csum_offset) + 2 > frame.len() {
        return Err(BAD);
    }
    let tcp = match o.gso_type & !GSO_ECN {
        GSO_NONE => return Ok(None),
        GSO_TCPV4 | GSO_TCPV6 => true,
        GSO_UDP_L4 => false,
        _ => return Err(BAD), // includes the retired UFO type 3
    };
    if o.gso_size == 0 || o.flags & F_NEEDS_CSUM == 0 {
        return Err(BAD);
    }
    // Ethernet, up to two VLAN tags.
    let mut l3 = 12;
    let mut ethertype = frame.get(l3..l3 + 2).map(|b| be16(b, 0)).ok_or(BAD)?;
    for _ in 0..2 {
        if ethertype == 0x8100 || ethertype == 0x88a8 {
            l3 += 4;
            ethertype = frame.get(l3..l3 + 2).map(|b| be16(b, 0)).ok_or(BAD)?;
        }
    }
    l3 += 2;
    let proto = if tcp { 6 } else { 17 };
    let v6 = match ethertype {
        0x0800 if o.gso_type & !GSO_ECN != GSO_TCPV6 => {
            let ip = frame.get(l3..l3 + 20).ok_or(BAD)?;
            let ihl = usize::from(ip[0] & 0x0f) * 4;
            // An IPv4 fragment cannot be segmented; the header must end where L4 starts.
            if ip[0] >> 4 != 4
                || ihl < 20
                || l3 + ihl != cs
                || ip[9] != proto
                || be16(ip, 6) & 0x3fff != 0
            {
                return Err(BAD);
            }
            false
        }
        0x86dd if o.gso_type & !GSO_ECN != GSO_TCPV4 => {
            let ip = frame.get(l3..l3 + 40).ok_or(BAD)?;
            // Extension headers may sit between the fixed header and L4 (cs > l3 + 40).
            if ip[0] >> 4 != 6 || cs < l3 + 40 || (cs == l3 + 40 && ip[6] != proto) {
                return Err(BAD);
            }
            true
        }
        _ => return Err(BAD),
    };
    let (want_off, l4_len) = if tcp {
        let doff = frame
            .get(cs + 12)
            .map(|b| usize::from(b >> 4) * 4)
            .ok_or(BAD)?;
        (16, doff)
    } else {
        (6, 8)
    };
    if usize::from(o.csum_offset) != want_off || l4_len < if tcp { 20 } else { 8 } {
        return Err(BAD);
    }
    let hdr_len = cs + l4_len;
    if hdr_len > frame.len() {
        return Err(BAD);
    }
    let payload = frame.len() - hdr_len;
    let mss = usize::from(o.gso_size);
    Ok(Some(Plan {
        l3,
        v6,
        l4: cs,
        hdr_len,
        mss,
        count: payload.div_ceil(mss).max(1),
        payload,
        tcp,
    }))
}

/// How to cut one GSO frame into segments (from [`check`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Offset of the IP header.
    pub l3: usize,
    /// IPv6 (else IPv4).
    pub v6: bool,
    /// Offset of the transport header.
    pub l4: usize,
    /// Length of all headers (Ethernet .. transport).
    pub hdr_len: usize,
    /// Payload bytes per segment (`gso_size`).
    pub mss: usize,
    /// Number of segments (at least 1).
    pub count: usize,
    /// Payload bytes of the whole frame.
    pub payload: usize,
    /// TCP (else UDP).
    pub tcp: bool,
}

impl Plan {
    /// Length of segment `i` (headers + its share of the payload).
    pub fn segment_len(&self, i: usize) -> usize {
        let start = (i * self.mss).min(self.payload);
        self.hdr_len + self.mss.min(self.payload - start)
    }

    /// Length of the IP packet of a full segment (what must fit the link MTU).
    pub fn ip_segment_len(&self) -> usize {
        self.hdr_len - self.l3 + self.mss.min(self.payload)
    }

    /// Write segment `i` of `frame` (the unmodified GSO frame this plan was made for) into
    /// `out` and return its length, or `None` when `out` is too short or `i` is out of range.
    pub fn write_segment(&self, frame: &[u8], i: usize, out: &mut [u8]) -> Option<usize> {
        if i >= self.count || frame.len() != self.hdr_len + self.payload {
            return None;
        }
        let n = self.segment_len(i);
        let out = out.get_mut(..n)?;
        out[..self.hdr_len].copy_from_slice(&frame[..self.hdr_len]);
        let start = self.hdr_len + i * self.mss;
        out[self.hdr_len..].copy_from_slice(&frame[start..start + n - self.hdr_len]);
        self.fix_segment(out, i);
        Some(n)
    }

    /// Turn `seg` — the headers of the GSO frame followed by the payload of segment `i` —
    /// into a complete wire packet: lengths, IPv4 id and checksum, TCP sequence and flags,
    /// transport checksum. A segment can also be made in place in the GSO frame's own
    /// buffer, after the other segments were copied out of it: move its payload up behind
    /// the headers and cut the frame to [`Plan::segment_len`] (for segment 0, just cut).
    pub fn fix_segment(&self, seg: &mut [u8], i: usize) {
        let (l3, l4) = (self.l3, self.l4);
        if seg.len() < self.hdr_len {
            return;
        }
        let l4_len = seg.len() - l4;
        if self.v6 {
            let plen = (seg.len() - l3 - 40) as u16;
            seg[l3 + 4..l3 + 6].copy_from_slice(&plen.to_be_bytes());
        } else {
            let tot = (seg.len() - l3) as u16;
            seg[l3 + 2..l3 + 4].copy_from_slice(&tot.to_be_bytes());
            let id = be16(seg, l3 + 4).wrapping_add(i as u16);
            seg[l3 + 4..l3 + 6].copy_from_slice(&id.to_be_bytes());
            let ihl = usize::from(seg[l3] & 0x0f) * 4;
            seg[l3 + 10..l3 + 12].copy_from_slice(&[0, 0]);
            let c = checksum::checksum(&seg[l3..l3 + ihl]);
            seg[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
        }
        let co = if self.tcp {
            let seq = be32(seg, l4 + 4).wrapping_add((i * self.mss) as u32);
            seg[l4 + 4..l4 + 8].copy_from_slice(&seq.to_be_bytes());
            if i + 1 != self.count {
                seg[l4 + 13] &= !(TCP_FIN | TCP_PSH);
            }
            if i != 0 {
                seg[l4 + 13] &= !TCP_CWR;
            }
            l4 + 16
        } else {
            seg[l4 + 4..l4 + 6].copy_from_slice(&(l4_len as u16).to_be_bytes());
            l4 + 6
        };
        seg[co..co + 2].copy_from_slice(&[0, 0]);
        let pseudo = pseudo_header(seg, l3, self.v6, if self.tcp { 6 } else { 17 }, l4_len);
        let mut c = !checksum::fold(checksum::sum(&seg[l4..], pseudo));
        if !self.tcp && c == 0 {
            c = 0xffff; // RFC 768: a computed 0 is sent as all ones
        }
        seg[co..co + 2].copy_from_slice(&c.to_be_bytes());
    }
}

/// Pseudo-header sum (RFC 793 / RFC 768 for IPv4, RFC 8200 §8.1 for IPv6), not folded.
fn pseudo_header(f: &[u8], l3: usize, v6: bool, proto: u8, l4_len: usize) -> u32 {
    if v6 {
        let s = checksum::sum(&f[l3 + 8..l3 + 40], 0);
        s + (l4_len >> 16) as u32 + (l4_len & 0xffff) as u32 + u32::from(proto)
    } else {
        checksum::pseudo_header_v4(be32(f, l3 + 12), be32(f, l3 + 16), proto, l4_len as u16)
    }
}

/// Complete a NEEDS_CSUM checksum in place, as Linux `skb_checksum_help` does: sum from
/// `csum_start` to the end of the frame (the field holds the pseudo-header sum, so it is
/// included) and store the complement. A result of 0 is stored as 0xffff (the two are the
/// same one's-complement value; for UDP 0 would mean "no checksum").
///
/// # Errors
/// [`DropReason::OffloadInvalid`] when the checksum field is not inside the frame.
pub fn complete_csum(frame: &mut [u8], o: &Offload) -> Result<(), DropReason> {
    let cs = usize::from(o.csum_start);
    let co = cs + usize::from(o.csum_offset);
    if co + 2 > frame.len() {
        return Err(DropReason::OffloadInvalid);
    }
    let mut c = !checksum::fold(checksum::sum(&frame[cs..], 0));
    if c == 0 {
        c = 0xffff;
    }
    frame[co..co + 2].copy_from_slice(&c.to_be_bytes());
    Ok(())
}

/// Make `frame` (with offload state `o`) wire-ready for an egress without offload, calling
/// `send` once per resulting frame: a GSO frame becomes its segments (built in `scratch`,
/// which must hold the largest segment), a NEEDS_CSUM frame gets its checksum completed in
/// place. Returns the number of frames sent.
///
/// # Errors
/// [`DropReason::OffloadInvalid`] for invalid offload state (nothing is sent), and
/// [`DropReason::TooBig`] when a segment does not fit `scratch` or `max_frame`.
pub fn for_each_wire_frame(
    frame: &mut [u8],
    o: &Offload,
    scratch: &mut [u8],
    max_frame: usize,
    mut send: impl FnMut(&[u8]),
) -> Result<usize, DropReason> {
    match check(frame, o)? {
        None => {
            if o.flags & F_NEEDS_CSUM != 0 {
                complete_csum(frame, o)?;
            }
            if frame.len() > max_frame {
                return Err(DropReason::TooBig);
            }
            send(frame);
            Ok(1)
        }
        Some(plan) => {
            if plan.segment_len(0) > max_frame.min(scratch.len()) {
                return Err(DropReason::TooBig);
            }
            for i in 0..plan.count {
                let n = plan
                    .write_segment(frame, i, scratch)
                    .ok_or(DropReason::TooBig)?;
                send(&scratch[..n]);
            }
            Ok(plan.count)
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::wire::checksum::{fold, pseudo_header_v4, sum, verify};

    const MSS: u16 = 1448;

    /// An Ethernet/IPv4/TCP GSO frame as Linux hands it over with TSO: IP total length of
    /// the whole super-frame, checksum field = the folded pseudo-header sum (NEEDS_CSUM).
    pub(crate) fn tcp4_gso(payload_len: usize, flags: u8) -> (Vec<u8>, Offload) {
        let mut f = vec![0u8; 14 + 20 + 32];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        let tot = (20 + 32 + payload_len) as u16;
        f[14] = 0x45;
        f[16..18].copy_from_slice(&tot.to_be_bytes());
        f[18..20].copy_from_slice(&0xfffeu16.to_be_bytes()); // id wraps during the test
        f[20] = 0x40; // DF
        f[22] = 64;
        f[23] = 6;
        f[26..30].copy_from_slice(&[10, 0, 0, 1]);
        f[30..34].copy_from_slice(&[10, 0, 0, 2]);
        let c = checksum::checksum(&f[14..34]);
        f[24..26].copy_from_slice(&c.to_be_bytes());
        f[34..36].copy_from_slice(&40000u16.to_be_bytes());
        f[36..38].copy_from_slice(&5201u16.to_be_bytes());
        f[38..42].copy_from_slice(&0xffff_f000u32.to_be_bytes()); // seq wraps
        f[46] = 8 << 4; // 32-byte header (timestamps)
        f[47] = flags;
        f[48..50].copy_from_slice(&512u16.to_be_bytes());
        f[54..66].copy_from_slice(&[1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
        f.extend((0..payload_len).map(|i| (i * 7 + 3) as u8));
        let l4_len = (32 + payload_len) as u16;
        let ps = fold(pseudo_header_v4(0x0a00_0001, 0x0a00_0002, 6, l4_len));
        f[50..52].copy_from_slice(&ps.to_be_bytes());
        let o = Offload {
            flags: F_NEEDS_CSUM,
            gso_type: GSO_TCPV4,
            gso_size: MSS,
            csum_start: 34,
            csum_offset: 16,
        };
        (f, o)
    }

    fn segments(f: &[u8], o: &Offload) -> Vec<Vec<u8>> {
        let mut frame = f.to_vec();
        let mut scratch = vec![0u8; 2048];
        let mut out = Vec::new();
        for_each_wire_frame(&mut frame, o, &mut scratch, 1518, |s| out.push(s.to_vec()))
            .expect("segmented");
        out
    }

    fn l4_verifies_v4(s: &[u8]) -> bool {
        let l4 = 14 + usize::from(s[14] & 0xf) * 4;
        let ps = pseudo_header_v4(be32(s, 26), be32(s, 30), s[23], (s.len() - l4) as u16);
        fold(sum(&s[l4..], ps)) == 0xffff
    }

    #[test]
    fn tso_segments_have_valid_checksums_lengths_ids_sequence_and_flags() {
        for payload in [4 * 1448, 4 * 1448 + 1, 3 * 1448 + 700, 1448, 100] {
            let (f, o) = tcp4_gso(payload, 0x18 | 0x01 | 0x80); // PSH ACK FIN CWR
            let segs = segments(&f, &o);
            assert_eq!(segs.len(), payload.div_ceil(1448), "payload {payload}");
            let mut data = Vec::new();
            for (i, s) in segs.iter().enumerate() {
                let last = i + 1 == segs.len();
                assert!(s.len() <= 14 + 20 + 32 + 1448);
                assert_eq!(usize::from(be16(s, 16)), s.len() - 14, "IP total length");
                assert!(verify(&s[14..34]), "IP header checksum of segment {i}");
                assert_eq!(be16(s, 18), 0xfffeu16.wrapping_add(i as u16), "IP id");
                assert!(l4_verifies_v4(s), "TCP checksum of segment {i}/{payload}");
                assert_eq!(
                    be32(s, 38),
                    0xffff_f000u32.wrapping_add((i * 1448) as u32),
                    "sequence number"
                );
                let fl = s[47];
                assert_eq!(fl & 0x10, 0x10, "ACK everywhere");
                assert_eq!(
                    fl & (TCP_FIN | TCP_PSH) != 0,
                    last,
                    "FIN/PSH on the last only"
                );
                assert_eq!(fl & TCP_CWR != 0, i == 0, "CWR on the first only");
                assert_eq!(&s[54..66], &f[54..66], "options copied");
                data.extend_from_slice(&s[66..]);
            }
            assert_eq!(data, &f[66..], "payload reassembles exactly");
        }
    }

    #[test]
    fn first_segment_in_place_equals_the_copied_one() {
        let (f, o) = tcp4_gso(3000, 0x10);
        let plan = check(&f, &o).expect("valid").expect("gso");
        let mut copy = vec![0u8; 2000];
        let n = plan.write_segment(&f, 0, &mut copy).expect("fits");
        let mut inplace = f.clone();
        inplace.truncate(plan.segment_len(0));
        plan.fix_segment(&mut inplace, 0);
        assert_eq!(&copy[..n], &inplace[..]);
        assert_eq!(plan.ip_segment_len(), 20 + 32 + 1448);
    }

    #[test]
    fn needs_csum_without_gso_is_completed_in_place() {
        let (mut f, mut o) = tcp4_gso(700, 0x18);
        o.gso_type = GSO_NONE;
        let segs = segments(&f, &o);
        assert_eq!(segs.len(), 1);
        assert!(l4_verifies_v4(&segs[0]));
        complete_csum(&mut f, &o).expect("in range");
        assert_eq!(f, segs[0]);
    }

    #[test]
    fn uso_segments_are_udp_datagrams_with_checksums() {
        let (mut f, _) = tcp4_gso(0, 0);
        f.truncate(34);
        f[23] = 17;
        let payload = 2 * 1200 + 5;
        f.extend_from_slice(&[0x9c, 0x40, 0x14, 0x51, 0, 0, 0, 0]);
        f.extend((0..payload).map(|i| i as u8));
        let tot = (f.len() - 14) as u16;
        f[16..18].copy_from_slice(&tot.to_be_bytes());
        f[24..26].copy_from_slice(&[0, 0]);
        let c = checksum::checksum(&f[14..34]);
        f[24..26].copy_from_slice(&c.to_be_bytes());
        let ulen = (8 + payload) as u16;
        f[38..40].copy_from_slice(&ulen.to_be_bytes());
        let ps = fold(pseudo_header_v4(0x0a00_0001, 0x0a00_0002, 17, ulen));
        f[40..42].copy_from_slice(&ps.to_be_bytes());
        let o = Offload {
            flags: F_NEEDS_CSUM,
            gso_type: GSO_UDP_L4,
            gso_size: 1200,
            csum_start: 34,
            csum_offset: 6,
        };
        let segs = segments(&f, &o);
        assert_eq!(segs.len(), 3);
        assert_eq!(segs[2].len(), 42 + 5, "tiny last segment");
        for s in &segs {
            assert_eq!(usize::from(be16(s, 38)), s.len() - 34, "UDP length");
            assert!(verify(&s[14..34]));
            assert!(l4_verifies_v4(s));
        }
    }

    #[test]
    fn tcp6_segments_have_valid_checksums() {
        let mut f = vec![0u8; 14 + 40 + 20];
        f[12..14].copy_from_slice(&[0x86, 0xdd]);
        f[14] = 0x60;
        f[20] = 6;
        f[21] = 64;
        f[22..38].copy_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        f[38..54].copy_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        f[66] = 5 << 4;
        f[67] = 0x18;
        let payload = 3000;
        f.extend((0..payload).map(|i| (i * 3) as u8));
        let plen = (20 + payload) as u16;
        f[18..20].copy_from_slice(&plen.to_be_bytes());
        let o = Offload {
            flags: F_NEEDS_CSUM,
            gso_type: GSO_TCPV6,
            gso_size: 1400,
            csum_start: 54,
            csum_offset: 16,
        };
        let segs = segments(&f, &o);
        assert_eq!(segs.len(), 3);
        for s in &segs {
            assert_eq!(usize::from(be16(s, 18)), s.len() - 54, "payload length");
            let ps = pseudo_header(s, 14, true, 6, s.len() - 54);
            assert_eq!(fold(sum(&s[54..], ps)), 0xffff);
        }
    }

    #[test]
    fn malformed_offload_state_is_refused_before_anything_is_sent() {
        let (f, good) = tcp4_gso(3000, 0x10);
        let bad = [
            Offload {
                csum_start: 60_000,
                ..good
            },
            Offload {
                csum_offset: 9000,
                ..good
            },
            Offload {
                gso_size: 0,
                ..good
            },
            Offload {
                gso_type: 3, // UFO
                ..good
            },
            Offload {
                gso_type: 0x42,
                ..good
            },
            Offload { flags: 0, ..good },
            Offload {
                csum_start: 30,
                ..good
            },
            Offload {
                csum_offset: 6,
                ..good
            },
            Offload {
                gso_type: GSO_TCPV6,
                ..good
            },
        ];
        for o in bad {
            let mut frame = f.clone();
            let mut sent = 0;
            let r = for_each_wire_frame(&mut frame, &o, &mut [0u8; 2048], 1518, |_| sent += 1);
            assert_eq!(r, Err(DropReason::OffloadInvalid), "{o:?}");
            assert_eq!(sent, 0);
        }
        // TCP data offset pointing past the end of a short frame.
        let mut short = f[..60].to_vec();
        short[46] = 15 << 4;
        assert_eq!(check(&short, &good), Err(DropReason::OffloadInvalid));
        // Headers only, no Ethernet type: still no panic.
        for n in 0..66 {
            let _ = check(&f[..n], &good);
            let mut g = f[..n].to_vec();
            let _ = complete_csum(&mut g, &good);
        }
        // A segment bigger than the egress allows.
        let mut frame = f.clone();
        let r = for_each_wire_frame(&mut frame, &good, &mut [0u8; 2048], 1000, |_| {});
        assert_eq!(r, Err(DropReason::TooBig));
    }

    /// Random frames and offload states (seeded xorshift, 20 000 cases; half of them start
    /// from a valid TSO frame with a few bytes and fields mutated): nothing panics, and
    /// whatever is accepted is segmented into frames within the limits.
    #[test]
    fn random_frames_and_offload_states_never_panic() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let (base, good) = tcp4_gso(3000, 0x18);
        let mut scratch = vec![0u8; 1600];
        for case in 0..20_000 {
            let (mut f, mut o) = if case % 2 == 0 {
                let mut f = base.clone();
                for _ in 0..(rnd() % 4) {
                    let i = (rnd() as usize) % f.len();
                    f[i] = rnd() as u8;
                }
                f.truncate((rnd() as usize) % (f.len() + 1));
                (f, good)
            } else {
                let n = (rnd() as usize) % 200;
                let f: Vec<u8> = (0..n).map(|_| rnd() as u8).collect();
                (f, Offload::default())
            };
            match rnd() % 5 {
                0 => o.csum_start = rnd() as u16 % 100,
                1 => o.csum_offset = rnd() as u16 % 40,
                2 => o.gso_size = rnd() as u16 % 3000,
                3 => o.gso_type = rnd() as u8,
                _ => o.flags = rnd() as u8 & 3,
            }
            let _ = complete_csum(&mut f.clone(), &o);
            let _ = VirtioNetHdr::for_frame(&f, Some(o));
            let res = for_each_wire_frame(&mut f, &o, &mut scratch, 1518, |s| {
                assert!(s.len() <= 1518);
            });
            if let Ok(n) = res {
                assert!(n >= 1);
            }
        }
    }

    #[test]
    fn virtio_header_round_trips_and_reports_the_header_length() {
        let (f, o) = tcp4_gso(3000, 0x10);
        let h = VirtioNetHdr::for_frame(&f, Some(o));
        assert_eq!(h.hdr_len, 14 + 20 + 32);
        assert_eq!(VirtioNetHdr::parse(&h.emit()), h);
        assert_eq!(h.to_offload(), Some(o));
        assert_eq!(VirtioNetHdr::for_frame(&f, None), VirtioNetHdr::default());
        assert_eq!(VirtioNetHdr::default().to_offload(), None);
    }
}
