//! UDP (RFC 768): a checked view whose setters keep the checksum right.

use super::{be16, checksum};

/// UDP header length.
pub const HEADER_LEN: usize = 8;

/// A checked view of a UDP datagram (header first): at least [`HEADER_LEN`] bytes.
#[derive(Clone, Copy, Debug)]
pub struct Udp<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> Udp<T> {
    /// The datagram in `buf`, or `None` if it is shorter than the UDP header.
    #[inline]
    pub fn new_checked(buf: T) -> Option<Udp<T>> {
        (buf.as_ref().len() >= HEADER_LEN).then_some(Udp { buf })
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

    /// Length field (header + data).
    #[inline]
    pub fn len_field(&self) -> u16 {
        be16(self.buf.as_ref(), 4)
    }

    /// Checksum field (0: none was computed, RFC 768).
    #[inline]
    pub fn checksum(&self) -> u16 {
        be16(self.buf.as_ref(), 6)
    }

    /// True when the checksum is absent (0) or right over the pseudo header sum `pseudo`
    /// ([`checksum::pseudo_header_v4`]) and the whole buffer.
    #[inline]
    pub fn verify_checksum(&self, pseudo: u32) -> bool {
        self.checksum() == 0 || checksum::fold(checksum::sum(self.buf.as_ref(), pseudo)) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Udp<T> {
    #[inline]
    fn store_checksum(&mut self, c: u16) {
        // RFC 768: a computed 0 is sent as all ones; 0 means "no checksum".
        let c = if c == 0 { 0xffff } else { c };
        self.buf.as_mut()[6..8].copy_from_slice(&c.to_be_bytes());
    }

    #[inline]
    fn set_port(&mut self, off: usize, p: u16) {
        let old = be16(self.buf.as_ref(), off);
        self.buf.as_mut()[off..off + 2].copy_from_slice(&p.to_be_bytes());
        let c = self.checksum();
        if c != 0 {
            self.store_checksum(checksum::update16(c, old, p));
        }
    }

    /// Set the source port, updating a present checksum (RFC 1624).
    #[inline]
    pub fn set_src_port(&mut self, p: u16) {
        self.set_port(0, p);
    }

    /// Set the destination port, updating a present checksum.
    #[inline]
    pub fn set_dst_port(&mut self, p: u16) {
        self.set_port(2, p);
    }

    /// An address of the pseudo header changed from `old` to `new` (NAT): update a present
    /// checksum.
    #[inline]
    pub fn update_pseudo_addr(&mut self, old: u32, new: u32) {
        let c = self.checksum();
        if c != 0 {
            self.store_checksum(checksum::update32(c, old, new));
        }
    }

    /// Compute the checksum over the pseudo header sum `pseudo` and the whole buffer.
    #[inline]
    pub fn fill_checksum(&mut self, pseudo: u32) {
        self.buf.as_mut()[6..8].copy_from_slice(&[0, 0]);
        let c = !checksum::fold(checksum::sum(self.buf.as_ref(), pseudo));
        self.store_checksum(c);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::testing::XorShift;

    #[test]
    fn udp_view_needs_8_bytes() {
        for n in 0..8 {
            assert!(Udp::new_checked(&[0u8; 8][..n]).is_none());
        }
        let u = Udp::new_checked(&[0, 53, 0x30, 0x39, 0, 8, 0, 0][..]).unwrap();
        assert_eq!((u.src_port(), u.dst_port(), u.len_field()), (53, 12345, 8));
    }

    #[test]
    fn udp_setters_equal_a_full_recompute_and_keep_a_zero_checksum_zero_rfc768() {
        let mut rng = XorShift(0xfeed_beef_0bad_cafe);
        for _ in 0..2000 {
            let n = 8 + rng.below(40) as usize;
            let mut d = rng.bytes(n);
            let (src, dst) = (rng.next() as u32, rng.next() as u32);
            let len = d.len() as u16;
            let ps = |s, d| checksum::pseudo_header_v4(s, d, 17, len);
            let mut u = Udp::new_checked(&mut d[..]).unwrap();
            u.fill_checksum(ps(src, dst));
            assert!(u.verify_checksum(ps(src, dst)));
            let new_src = rng.next() as u32;
            u.update_pseudo_addr(src, new_src);
            u.set_src_port(rng.next() as u16);
            u.set_dst_port(rng.next() as u16);
            assert!(u.verify_checksum(ps(new_src, dst)));
            assert_ne!(u.checksum(), 0, "a computed 0 is sent as 0xffff");
        }
        let mut d = [0u8, 1, 0, 2, 0, 8, 0, 0];
        let mut u = Udp::new_checked(&mut d[..]).unwrap();
        u.set_src_port(7);
        u.update_pseudo_addr(1, 2);
        assert_eq!(
            (u.src_port(), u.checksum()),
            (7, 0),
            "no checksum stays none"
        );
    }
}
