//! Ethernet II and IEEE 802.1Q: a checked view of a frame's header.

use super::{ETH_HLEN, ETHERTYPE_VLAN, be16};

/// Length of an 802.1Q tag.
pub const VLAN_TAG_LEN: usize = 4;

/// A checked view of an Ethernet frame: at least [`ETH_HLEN`] bytes, and a tagged frame at
/// least [`ETH_HLEN`] + [`VLAN_TAG_LEN`] (else [`Ethernet::new_checked`] refuses it).
#[derive(Clone, Copy, Debug)]
pub struct Ethernet<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> Ethernet<T> {
    /// The frame in `buf`, or `None` if it is shorter than its (tagged) header.
    #[inline]
    pub fn new_checked(buf: T) -> Option<Ethernet<T>> {
        let b = buf.as_ref();
        if b.len() < ETH_HLEN || (be16(b, 12) == ETHERTYPE_VLAN && b.len() < ETH_HLEN + 4) {
            return None;
        }
        Some(Ethernet { buf })
    }

    /// Destination MAC.
    #[inline]
    pub fn dst(&self) -> [u8; 6] {
        super::eth_dst(self.buf.as_ref())
    }

    /// Source MAC.
    #[inline]
    pub fn src(&self) -> [u8; 6] {
        super::eth_src(self.buf.as_ref())
    }

    /// The EtherType field after the addresses (0x8100 for a tagged frame).
    #[inline]
    pub fn ethertype(&self) -> u16 {
        be16(self.buf.as_ref(), 12)
    }

    /// The 802.1Q tag control information (PCP, DEI, VID), if tagged.
    #[inline]
    pub fn vlan_tci(&self) -> Option<u16> {
        (self.ethertype() == ETHERTYPE_VLAN).then(|| be16(self.buf.as_ref(), 14))
    }

    /// The EtherType of the payload (after a tag, if any).
    #[inline]
    pub fn inner_ethertype(&self) -> u16 {
        if self.ethertype() == ETHERTYPE_VLAN {
            be16(self.buf.as_ref(), 16)
        } else {
            self.ethertype()
        }
    }

    /// Offset of the payload (the L3 header): 14, or 18 when tagged.
    #[inline]
    pub fn payload_offset(&self) -> usize {
        if self.ethertype() == ETHERTYPE_VLAN {
            ETH_HLEN + VLAN_TAG_LEN
        } else {
            ETH_HLEN
        }
    }

    /// The payload.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buf.as_ref()[self.payload_offset()..]
    }

    /// True when the source is a group address or all zeros (never a station's).
    #[inline]
    pub fn src_is_invalid(&self) -> bool {
        let s = self.src();
        s[0] & 1 != 0 || s == [0; 6]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ethernet<T> {
    /// Set the destination MAC.
    #[inline]
    pub fn set_dst(&mut self, m: [u8; 6]) {
        self.buf.as_mut()[0..6].copy_from_slice(&m);
    }

    /// Set the source MAC.
    #[inline]
    pub fn set_src(&mut self, m: [u8; 6]) {
        self.buf.as_mut()[6..12].copy_from_slice(&m);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ethernet_view_needs_the_whole_header_and_tag() {
        for n in 0..14 {
            assert!(Ethernet::new_checked(&[0u8; 14][..n]).is_none());
        }
        let mut f = [0u8; 18];
        f[6] = 2;
        f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
        let e = Ethernet::new_checked(&f[..]).unwrap();
        assert_eq!(
            (e.inner_ethertype(), e.payload_offset(), e.vlan_tci()),
            (0x0800, 14, None)
        );
        assert!(!e.src_is_invalid());
        f[12..14].copy_from_slice(&ETHERTYPE_VLAN.to_be_bytes());
        assert!(Ethernet::new_checked(&f[..17]).is_none(), "tag cut short");
        f[14..16].copy_from_slice(&0x2064u16.to_be_bytes());
        f[16..18].copy_from_slice(&0x0806u16.to_be_bytes());
        let mut e = Ethernet::new_checked(&mut f[..]).unwrap();
        assert_eq!((e.inner_ethertype(), e.payload_offset()), (0x0806, 18));
        assert_eq!(e.vlan_tci().map(|t| t & 0x0fff), Some(100));
        e.set_src([1, 0, 0, 0, 0, 0]);
        assert!(e.src_is_invalid(), "group source");
        e.set_src([0; 6]);
        assert!(e.src_is_invalid(), "zero source");
        e.set_dst([0xff; 6]);
        assert_eq!(e.dst(), [0xff; 6]);
    }
}
