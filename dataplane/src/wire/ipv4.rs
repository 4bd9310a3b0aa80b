//! IPv4 header validation (RFC 1812 §5.2.2) and fields, at fixed offsets in an Ethernet frame.

use super::checksum;
use super::{ETH_HLEN, be16, be32, ip_proto};
use crate::element::DropReason;
use crate::packet::{PacketBuf, Parsed};

/// Offset of the IPv4 header in an untagged Ethernet frame.
pub const IP: usize = ETH_HLEN;

/// The fields of a validated IPv4 header (addresses in host byte order).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
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
    #[inline]
    pub fn l4(&self) -> usize {
        IP + self.ihl
    }

    /// One past the last byte of the IP packet in the frame.
    #[inline]
    pub fn end(&self) -> usize {
        IP + self.total
    }

    /// True for any fragment (first or later).
    #[inline]
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
    let ip = Ipv4::new_checked(f.get(IP..).ok_or(DropReason::IpTooShort)?)?;
    if !ip.verify_checksum() {
        return Err(DropReason::IpBadChecksum);
    }
    Ok(ip.header())
}

/// [`parse`] for the frame of `pkt`, reusing the validation an earlier element recorded in
/// its metadata ([`crate::packet::Parsed`]): then only the length checks that make the view
/// safe are repeated, not the checksum. Same results as [`parse`] for every packet whose
/// metadata keeps its contract.
///
/// # Errors
/// As [`parse`].
// `always`: one call per packet in every IPv4 function; left to itself LLVM sometimes keeps
// it out of line (~15 instructions of call overhead and lost constant folding).
#[inline(always)]
pub fn parse_pkt(pkt: &PacketBuf) -> Result<Ipv4Header, DropReason> {
    let ip = Ipv4::new_checked(pkt.data().get(IP..).ok_or(DropReason::IpTooShort)?)?;
    if pkt.meta.parsed.ipv4() != Some(IP) && !ip.verify_checksum() {
        return Err(DropReason::IpBadChecksum);
    }
    Ok(ip.header())
}

/// IPv4 input for a function that forwards the packet: [`parse_pkt`], then the Ethernet
/// padding after the IP packet is cut off and the header is marked valid ([`mark_valid`])
/// for the next element. One call so that the packet's length and metadata are written
/// together.
///
/// # Errors
/// As [`parse`].
#[inline(always)]
pub fn input(pkt: &mut PacketBuf) -> Result<Ipv4Header, DropReason> {
    let ip = parse_pkt(pkt)?;
    pkt.truncate(IP + ip.total);
    mark_valid(pkt);
    Ok(ip)
}

/// Record in `pkt`'s metadata that its IPv4 header (at [`IP`]) passed [`parse`], for the
/// next element; call after any trimming of the frame.
#[inline]
pub fn mark_valid(pkt: &mut PacketBuf) {
    pkt.meta.parsed = Parsed::ipv4_at(IP);
}

/// Recompute the header checksum of the IPv4 header (`ihl` bytes) of frame `f`.
/// The caller guarantees `f.len() >= IP + ihl`.
pub fn fix_checksum(f: &mut [u8], ihl: usize) {
    f[IP + 10..IP + 12].copy_from_slice(&[0, 0]);
    let c = checksum::checksum(&f[IP..IP + ihl]);
    f[IP + 10..IP + 12].copy_from_slice(&c.to_be_bytes());
}

/// IPv4 header length without options.
pub const HEADER_LEN: usize = 20;

/// A checked view of an IPv4 packet (header first; bytes after the total length, e.g.
/// Ethernet padding, are ignored), smoltcp style: [`Ipv4::new_checked`] proves the header
/// lengths fit the buffer once, so no getter or setter can panic. Setters of header fields
/// keep the header checksum right with RFC 1624 incremental updates.
#[derive(Clone, Copy, Debug)]
pub struct Ipv4<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> Ipv4<T> {
    /// RFC 1812 §5.2.2 length checks (checksum not verified: see [`Ipv4::verify_checksum`]).
    ///
    /// # Errors
    /// `IpTooShort`, `IpBadVersion`, `IpBadHeaderLength`, `IpBadTotalLength`.
    #[inline]
    pub fn new_checked(buf: T) -> Result<Ipv4<T>, DropReason> {
        let b = buf.as_ref();
        if b.len() < HEADER_LEN {
            return Err(DropReason::IpTooShort);
        }
        if b[0] >> 4 != 4 {
            return Err(DropReason::IpBadVersion);
        }
        let ihl = usize::from(b[0] & 0x0f) * 4;
        if ihl < HEADER_LEN || ihl > b.len() {
            return Err(DropReason::IpBadHeaderLength);
        }
        let total = usize::from(be16(b, 2));
        if total < ihl || total > b.len() {
            return Err(DropReason::IpBadTotalLength);
        }
        Ok(Ipv4 { buf })
    }

    /// The underlying buffer.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buf
    }

    #[inline]
    fn b(&self) -> &[u8] {
        self.buf.as_ref()
    }

    /// Version (4).
    #[inline]
    pub fn version(&self) -> u8 {
        self.b()[0] >> 4
    }

    /// Header length in bytes (20..=60, within the buffer).
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.b()[0] & 0x0f) * 4
    }

    /// DSCP and ECN (the former TOS byte).
    #[inline]
    pub fn tos(&self) -> u8 {
        self.b()[1]
    }

    /// Total length in bytes (header + payload, within the buffer).
    #[inline]
    pub fn total_len(&self) -> usize {
        usize::from(be16(self.b(), 2))
    }

    /// Identification.
    #[inline]
    pub fn ident(&self) -> u16 {
        be16(self.b(), 4)
    }

    /// Don't Fragment flag.
    #[inline]
    pub fn dont_frag(&self) -> bool {
        self.b()[6] & 0x40 != 0
    }

    /// More Fragments flag.
    #[inline]
    pub fn more_frags(&self) -> bool {
        self.b()[6] & 0x20 != 0
    }

    /// Fragment offset in 8-byte units.
    #[inline]
    pub fn frag_offset(&self) -> u16 {
        be16(self.b(), 6) & 0x1fff
    }

    /// Time to live.
    #[inline]
    pub fn ttl(&self) -> u8 {
        self.b()[8]
    }

    /// Protocol number.
    #[inline]
    pub fn protocol(&self) -> u8 {
        self.b()[9]
    }

    /// Header checksum field.
    #[inline]
    pub fn checksum(&self) -> u16 {
        be16(self.b(), 10)
    }

    /// Source address (host byte order).
    #[inline]
    pub fn src(&self) -> u32 {
        be32(self.b(), 12)
    }

    /// Destination address (host byte order).
    #[inline]
    pub fn dst(&self) -> u32 {
        be32(self.b(), 16)
    }

    /// The option bytes (empty without options).
    #[inline]
    pub fn options(&self) -> &[u8] {
        &self.b()[HEADER_LEN..self.header_len()]
    }

    /// The payload: from the end of the header to the total length.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.b()[self.header_len()..self.total_len()]
    }

    /// True when the header checksum is right (RFC 1812 §5.2.2).
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        checksum::verify(&self.b()[..self.header_len()])
    }

    /// The fields as an [`Ipv4Header`].
    #[inline]
    pub fn header(&self) -> Ipv4Header {
        // One bounds check for the fixed header (new_checked proved it is there), then
        // plain loads.
        let Some(h) = self.b().first_chunk::<HEADER_LEN>() else {
            return Ipv4Header::default();
        };
        let w = |o: usize| u16::from_be_bytes([h[o], h[o + 1]]);
        let d = |o: usize| u32::from_be_bytes([h[o], h[o + 1], h[o + 2], h[o + 3]]);
        let frag = w(6);
        Ipv4Header {
            ihl: usize::from(h[0] & 0x0f) * 4,
            total: usize::from(w(2)),
            src: d(12),
            dst: d(16),
            proto: h[9],
            ttl: h[8],
            id: w(4),
            frag_off: frag & 0x1fff,
            more_frags: frag & 0x2000 != 0,
            dont_frag: frag & 0x4000 != 0,
        }
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4<T> {
    #[inline]
    fn set16(&mut self, off: usize, v: u16) {
        let old = be16(self.b(), off);
        let c = checksum::update16(self.checksum(), old, v);
        let b = self.buf.as_mut();
        b[off..off + 2].copy_from_slice(&v.to_be_bytes());
        b[10..12].copy_from_slice(&c.to_be_bytes());
    }

    /// Set the TTL, updating the header checksum incrementally (RFC 1624).
    #[inline]
    pub fn set_ttl(&mut self, ttl: u8) {
        let w = u16::from_be_bytes([ttl, self.protocol()]);
        self.set16(8, w);
    }

    /// Set the identification, updating the header checksum.
    #[inline]
    pub fn set_ident(&mut self, id: u16) {
        self.set16(4, id);
    }

    /// Set the source address, updating the header checksum (the transport checksum, which
    /// covers it through the pseudo header, is the transport view's: e.g.
    /// [`super::udp::Udp::update_pseudo_addr`]).
    #[inline]
    pub fn set_src(&mut self, a: u32) {
        self.set16(12, (a >> 16) as u16);
        self.set16(14, a as u16);
    }

    /// Set the destination address, updating the header checksum.
    #[inline]
    pub fn set_dst(&mut self, a: u32) {
        self.set16(16, (a >> 16) as u16);
        self.set16(18, a as u16);
    }

    /// Recompute the header checksum from scratch.
    #[inline]
    pub fn fill_checksum(&mut self) {
        let ihl = self.header_len();
        let b = self.buf.as_mut();
        b[10..12].copy_from_slice(&[0, 0]);
        let c = checksum::checksum(&b[..ihl]);
        b[10..12].copy_from_slice(&c.to_be_bytes());
    }

    /// The payload, writable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let (h, t) = (self.header_len(), self.total_len());
        &mut self.buf.as_mut()[h..t]
    }
}

/// The datagram an ICMP error quotes (RFC 792: its IP header and at least 8 bytes of its
/// payload; RFC 1812 §4.3.2.3: as much as fits in 576 bytes). Its total length may exceed
/// the quote, so only the header length is checked against the bytes present.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quoted<'a> {
    /// Source address of the quoted datagram.
    pub src: u32,
    /// Destination address.
    pub dst: u32,
    /// Protocol number.
    pub proto: u8,
    /// Header length (20..=60), within the quote.
    pub ihl: usize,
    /// Fragment offset in 8-byte units (only a first fragment quotes transport ports).
    pub frag_off: u16,
    /// The quoted bytes after the IP header (possibly fewer than the transport header).
    pub l4: &'a [u8],
}

impl<'a> Quoted<'a> {
    /// Parse `q` (the bytes after an ICMP error's 8-byte header). `None` when it is shorter
    /// than an IPv4 header, not version 4, or its IHL is under 5 or beyond the quote.
    #[inline]
    pub fn parse(q: &'a [u8]) -> Option<Quoted<'a>> {
        if q.len() < HEADER_LEN || q[0] >> 4 != 4 {
            return None;
        }
        let ihl = usize::from(q[0] & 0x0f) * 4;
        if ihl < HEADER_LEN || ihl > q.len() {
            return None;
        }
        Some(Quoted {
            src: be32(q, 12),
            dst: be32(q, 16),
            proto: q[9],
            ihl,
            frag_off: be16(q, 6) & 0x1fff,
            l4: &q[ihl..],
        })
    }

    /// The quoted TCP/UDP ports, or for an ICMP query its type and identifier, as far as
    /// the quote holds them and the datagram is not a later fragment.
    #[inline]
    pub fn transport(&self) -> Option<QuotedL4> {
        if self.frag_off != 0 {
            return None;
        }
        match self.proto {
            ip_proto::TCP | ip_proto::UDP if self.l4.len() >= 4 => {
                Some(QuotedL4::Ports(be16(self.l4, 0), be16(self.l4, 2)))
            }
            ip_proto::ICMP if self.l4.len() >= 6 => {
                Some(QuotedL4::Icmp(self.l4[0], be16(self.l4, 4)))
            }
            _ => None,
        }
    }
}

/// What a quote shows of the quoted datagram's transport header ([`Quoted::transport`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuotedL4 {
    /// TCP or UDP source and destination port.
    Ports(u16, u16),
    /// ICMP type and identifier.
    Icmp(u8, u16),
}

/// The transport fields of an IPv4 packet that the NAT and the firewall key flows on: the
/// one 5-tuple parser both use ([`Transport::parse`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transport {
    /// Protocol number.
    pub proto: u8,
    /// TCP/UDP source and destination port (0 otherwise).
    pub sport: u16,
    /// See `sport`.
    pub dport: u16,
    /// TCP flags (0 otherwise).
    pub tcp_flags: u8,
    /// ICMP type and identifier (identifier only meaningful for queries).
    pub icmp: Option<(u8, u16)>,
}

impl Transport {
    /// Parse the transport header `l4` (the IP payload of a whole packet or a first
    /// fragment) of protocol `proto`. A header the caller must look at has to be complete:
    /// TCP under 20 bytes, UDP or ICMP under 8 are `Malformed` (a "tiny first fragment").
    /// Other protocols carry no ports.
    ///
    /// # Errors
    /// `Malformed`.
    #[inline]
    pub fn parse(proto: u8, l4: &[u8]) -> Result<Transport, DropReason> {
        let mut t = Transport {
            proto,
            sport: 0,
            dport: 0,
            tcp_flags: 0,
            icmp: None,
        };
        match proto {
            ip_proto::TCP => {
                let h = super::tcp::Tcp::new_checked(l4).ok_or(DropReason::Malformed)?;
                t.sport = h.src_port();
                t.dport = h.dst_port();
                t.tcp_flags = h.flags();
            }
            ip_proto::UDP => {
                let h = super::udp::Udp::new_checked(l4).ok_or(DropReason::Malformed)?;
                t.sport = h.src_port();
                t.dport = h.dst_port();
            }
            ip_proto::ICMP => {
                let h = super::icmp::Icmpv4::new_checked(l4).ok_or(DropReason::Malformed)?;
                t.icmp = Some((h.msg_type(), h.ident()));
            }
            _ => {}
        }
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::testing::XorShift;

    fn header(ihl_words: u8, total: u16) -> Vec<u8> {
        let mut h = vec![0u8; usize::from(total).max(20)];
        h[0] = 0x40 | ihl_words;
        h[2..4].copy_from_slice(&total.to_be_bytes());
        h[8] = 64;
        h[9] = ip_proto::UDP;
        h[12..16].copy_from_slice(&[10, 0, 0, 1]);
        h[16..20].copy_from_slice(&[10, 0, 0, 2]);
        if let Ok(mut v) = Ipv4::new_checked(&mut h[..]) {
            v.fill_checksum();
        }
        h
    }

    #[test]
    fn ipv4_view_rejects_short_buffers_bad_version_ihl_and_total_rfc1812_5_2_2() {
        for n in 0..20 {
            assert_eq!(
                Ipv4::new_checked(&[0x45u8; 19][..n]).err(),
                Some(DropReason::IpTooShort)
            );
        }
        let mut h = header(5, 20);
        h[0] = 0x65;
        assert_eq!(
            Ipv4::new_checked(&h[..]).err(),
            Some(DropReason::IpBadVersion)
        );
        for ihl in [0u8, 4, 6] {
            let h = header(ihl, 20);
            assert_eq!(
                Ipv4::new_checked(&h[..]).err(),
                Some(DropReason::IpBadHeaderLength),
                "ihl {ihl}"
            );
        }
        let mut h = header(5, 40);
        h[2..4].copy_from_slice(&19u16.to_be_bytes());
        assert_eq!(
            Ipv4::new_checked(&h[..]).err(),
            Some(DropReason::IpBadTotalLength)
        );
        h[2..4].copy_from_slice(&41u16.to_be_bytes());
        assert_eq!(
            Ipv4::new_checked(&h[..]).err(),
            Some(DropReason::IpBadTotalLength)
        );
    }

    #[test]
    fn ipv4_view_reads_options_payload_and_ignores_padding() {
        let mut h = header(6, 28);
        h[20..24].copy_from_slice(&[0x94, 4, 0, 0]); // router alert
        h.extend_from_slice(&[0xee; 6]); // Ethernet padding
        let mut v = Ipv4::new_checked(&mut h[..]).unwrap();
        v.fill_checksum();
        assert!(v.verify_checksum());
        assert_eq!(v.header_len(), 24);
        assert_eq!(v.options(), &[0x94, 4, 0, 0]);
        assert_eq!(v.payload().len(), 4);
        assert_eq!(
            (v.src(), v.dst(), v.protocol()),
            (0x0a00_0001, 0x0a00_0002, 17)
        );
        let mut f = vec![0u8; ETH_HLEN];
        f.extend_from_slice(&h);
        let p = parse(&f).unwrap();
        assert_eq!((p.ihl, p.total, p.l4(), p.end()), (24, 28, 38, 42));
        f[IP + 10] ^= 1;
        assert_eq!(parse(&f), Err(DropReason::IpBadChecksum));
    }

    #[test]
    fn ipv4_setters_keep_the_header_checksum_equal_to_a_full_recompute_rfc1624() {
        let mut rng = XorShift(0x1234_5678_9abc_def1);
        for _ in 0..2000 {
            let words = 5 + (rng.below(11) as u8);
            let len = usize::from(words) * 4;
            let mut h = rng.bytes(len);
            h[0] = 0x40 | words;
            h[2..4].copy_from_slice(&(len as u16).to_be_bytes());
            let mut v = Ipv4::new_checked(&mut h[..]).unwrap();
            v.fill_checksum();
            match rng.below(4) {
                0 => v.set_ttl(rng.byte()),
                1 => v.set_src(rng.next() as u32),
                2 => v.set_dst(rng.next() as u32),
                _ => v.set_ident(rng.next() as u16),
            }
            assert!(v.verify_checksum(), "incremental update");
            let c = v.checksum();
            v.fill_checksum();
            // 0x0000 and 0xffff are the same one's-complement value.
            assert!(c == v.checksum() || (c | v.checksum()) == 0xffff && c != v.checksum());
        }
    }

    #[test]
    fn quoted_datagram_needs_a_whole_ipv4_header_and_gives_ports_of_first_fragments_only() {
        assert_eq!(Quoted::parse(&[0x45; 19]), None);
        let mut q = header(5, 20);
        q[9] = ip_proto::TCP;
        q.extend_from_slice(&[0x30, 0x39, 0, 80, 1, 2, 3, 4]);
        let d = Quoted::parse(&q).unwrap();
        assert_eq!((d.src, d.dst, d.ihl), (0x0a00_0001, 0x0a00_0002, 20));
        assert_eq!(d.transport(), Some(QuotedL4::Ports(12345, 80)));
        q[6] = 0x00;
        q[7] = 0x01; // offset 8: a later fragment
        assert_eq!(Quoted::parse(&q).unwrap().transport(), None);
        let mut bad = q.clone();
        bad[0] = 0x4f; // IHL 60 beyond the quote
        assert_eq!(Quoted::parse(&bad), None);
        let mut icmp = header(5, 20);
        icmp[9] = ip_proto::ICMP;
        icmp.extend_from_slice(&[8, 0, 0, 0, 0x12, 0x34]);
        assert_eq!(
            Quoted::parse(&icmp).unwrap().transport(),
            Some(QuotedL4::Icmp(8, 0x1234))
        );
    }

    #[test]
    fn transport_parse_needs_whole_tcp_udp_and_icmp_headers() {
        assert_eq!(
            Transport::parse(ip_proto::TCP, &[0; 19]),
            Err(DropReason::Malformed)
        );
        assert_eq!(
            Transport::parse(ip_proto::UDP, &[0; 7]),
            Err(DropReason::Malformed)
        );
        assert_eq!(
            Transport::parse(ip_proto::ICMP, &[0; 7]),
            Err(DropReason::Malformed)
        );
        let mut tcp = [0u8; 20];
        tcp[..4].copy_from_slice(&[0, 1, 0, 2]);
        tcp[13] = 0x12;
        let t = Transport::parse(ip_proto::TCP, &tcp).unwrap();
        assert_eq!((t.sport, t.dport, t.tcp_flags, t.icmp), (1, 2, 0x12, None));
        let t = Transport::parse(ip_proto::ICMP, &[0, 0, 0, 0, 0, 7, 0, 1]).unwrap();
        assert_eq!(t.icmp, Some((0, 7)));
        let t = Transport::parse(47, &[]).unwrap();
        assert_eq!((t.proto, t.sport, t.dport), (47, 0, 0));
    }
}

#[cfg(test)]
mod parsed_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::packet::PacketPool;

    #[test]
    fn parse_pkt_equals_parse_and_reuses_the_metadata_only_when_it_is_set() {
        let pool = PacketPool::new(2, 256);
        let f = crate::testing::eth_ipv4(
            [2, 0, 0, 0, 0, 1],
            [2, 0, 0, 0, 0, 2],
            &crate::testing::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 17, 64, &[0; 8]),
        );
        let mut p = pool.alloc().unwrap();
        assert!(p.extend_from_slice(&f));
        assert_eq!(parse_pkt(&p), parse(&f));
        mark_valid(&mut p);
        assert_eq!(p.meta.parsed.ipv4(), Some(IP));
        assert_eq!(parse_pkt(&p), parse(&f), "the reused header reads the same");
        // With the metadata set, the checksum is not summed again (that is the saving);
        // lengths still are, so even a broken contract cannot read out of bounds.
        p.data_mut()[IP + 10] ^= 0xff;
        assert!(parse_pkt(&p).is_ok());
        p.data_mut()[IP + 2] = 0xff; // total length beyond the frame
        assert_eq!(parse_pkt(&p), Err(DropReason::IpBadTotalLength));
        p.meta.parsed = Parsed::NONE;
        p.data_mut()[IP + 2] = 0;
        assert_eq!(parse_pkt(&p), Err(DropReason::IpBadChecksum));
    }
}
