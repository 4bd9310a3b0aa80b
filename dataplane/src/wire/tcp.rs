//! TCP (RFC 793): a checked view whose setters keep the checksum right.

use super::{be16, be32, checksum};

/// TCP header length without options.
pub const HEADER_LEN: usize = 20;

/// TCP flag bits (the 14th header byte).
pub mod flags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// PSH.
    pub const PSH: u8 = 0x08;
    /// ACK.
    pub const ACK: u8 = 0x10;
}

/// A checked view of a TCP segment (header first): at least [`HEADER_LEN`] bytes. The data
/// offset is not trusted: [`Tcp::header_len`] is clamped to the buffer.
#[derive(Clone, Copy, Debug)]
pub struct Tcp<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> Tcp<T> {
    /// The segment in `buf`, or `None` if it is shorter than the fixed TCP header.
    #[inline]
    pub fn new_checked(buf: T) -> Option<Tcp<T>> {
        (buf.as_ref().len() >= HEADER_LEN).then_some(Tcp { buf })
    }

    /// Source port.
    #[inline]
    pub fn src_port(&self) -> u16 {
        be16(self.buf.as_ref(), 0)
    }

    /// Destination port.
    #[inline]
    pub fn dst_port(&self) -> u16 {
        be16(self.buf.as_ref(), 2)
    }

    /// Sequence number.
    #[inline]
    pub fn seq(&self) -> u32 {
        be32(self.buf.as_ref(), 4)
    }

    /// Acknowledgment number.
    #[inline]
    pub fn ack(&self) -> u32 {
        be32(self.buf.as_ref(), 8)
    }

    /// Header length from the data offset, at least 20 and at most the buffer.
    #[inline]
    pub fn header_len(&self) -> usize {
        let b = self.buf.as_ref();
        (usize::from(b[12] >> 4) * 4).clamp(HEADER_LEN, b.len())
    }

    /// Flags (FIN, SYN, RST, PSH, ACK, URG, ECE, CWR).
    #[inline]
    pub fn flags(&self) -> u8 {
        self.buf.as_ref()[13]
    }

    /// Window.
    #[inline]
    pub fn window(&self) -> u16 {
        be16(self.buf.as_ref(), 14)
    }

    /// Checksum field.
    #[inline]
    pub fn checksum(&self) -> u16 {
        be16(self.buf.as_ref(), 16)
    }

    /// True when the checksum is right over the pseudo header sum `pseudo` and the whole
    /// buffer.
    #[inline]
    pub fn verify_checksum(&self, pseudo: u32) -> bool {
        checksum::fold(checksum::sum(self.buf.as_ref(), pseudo)) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Tcp<T> {
    #[inline]
    fn set_port(&mut self, off: usize, p: u16) {
        let old = be16(self.buf.as_ref(), off);
        let c = checksum::update16(self.checksum(), old, p);
        let b = self.buf.as_mut();
        b[off..off + 2].copy_from_slice(&p.to_be_bytes());
        b[16..18].copy_from_slice(&c.to_be_bytes());
    }

    /// Set the source port, updating the checksum (RFC 1624).
    #[inline]
    pub fn set_src_port(&mut self, p: u16) {
        self.set_port(0, p);
    }

    /// Set the destination port, updating the checksum.
    #[inline]
    pub fn set_dst_port(&mut self, p: u16) {
        self.set_port(2, p);
    }

    /// An address of the pseudo header changed from `old` to `new` (NAT): update the checksum.
    #[inline]
    pub fn update_pseudo_addr(&mut self, old: u32, new: u32) {
        let c = checksum::update32(self.checksum(), old, new);
        self.buf.as_mut()[16..18].copy_from_slice(&c.to_be_bytes());
    }

    /// Compute the checksum over the pseudo header sum `pseudo` and the whole buffer.
    #[inline]
    pub fn fill_checksum(&mut self, pseudo: u32) {
        self.buf.as_mut()[16..18].copy_from_slice(&[0, 0]);
        let c = !checksum::fold(checksum::sum(self.buf.as_ref(), pseudo));
        self.buf.as_mut()[16..18].copy_from_slice(&c.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::testing::XorShift;

    #[test]
    fn tcp_view_needs_20_bytes_and_clamps_the_data_offset() {
        for n in 0..20 {
            assert!(Tcp::new_checked(&[0u8; 20][..n]).is_none());
        }
        let mut h = [0u8; 24];
        h[12] = 0xf0; // 60 bytes claimed, 24 present
        assert_eq!(Tcp::new_checked(&h[..]).unwrap().header_len(), 24);
        h[12] = 0x10; // 4 bytes claimed
        assert_eq!(Tcp::new_checked(&h[..]).unwrap().header_len(), 20);
        h[13] = flags::SYN | flags::ACK;
        assert_eq!(Tcp::new_checked(&h[..]).unwrap().flags(), 0x12);
    }

    #[test]
    fn tcp_setters_equal_a_full_recompute_rfc1624() {
        let mut rng = XorShift(0x0123_4567_89ab_cdef);
        for _ in 0..2000 {
            let n = 20 + rng.below(60) as usize;
            let mut d = rng.bytes(n);
            let (src, dst) = (rng.next() as u32, rng.next() as u32);
            let len = d.len() as u16;
            let ps = |s, d| checksum::pseudo_header_v4(s, d, 6, len);
            let mut t = Tcp::new_checked(&mut d[..]).unwrap();
            t.fill_checksum(ps(src, dst));
            let new_dst = rng.next() as u32;
            t.update_pseudo_addr(dst, new_dst);
            t.set_dst_port(rng.next() as u16);
            t.set_src_port(rng.next() as u16);
            assert!(t.verify_checksum(ps(src, new_dst)));
        }
    }
}
