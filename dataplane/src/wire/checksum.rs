//! The Internet checksum (RFC 1071) and its incremental update (RFC 1624).

/// One's-complement sum of `data` as 16-bit big-endian words (odd length padded with zero),
/// added to `initial`, folded to at most 16 bits (0 only when everything summed is 0), so
/// callers may add more 16-bit terms to it before [`fold`].
#[inline]
pub fn sum(data: &[u8], initial: u32) -> u32 {
    // 32-bit big-endian words: `hi * 65536 + lo` is congruent to `hi + lo` modulo 0xffff,
    // so this is the same one's-complement sum in half the additions (RFC 1071 §2(B)).
    let mut acc = u64::from(initial);
    let mut words = data.chunks_exact(4);
    for w in &mut words {
        acc += u64::from(u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
    }
    let mut pairs = words.remainder().chunks_exact(2);
    for c in &mut pairs {
        acc += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = pairs.remainder() {
        acc += u64::from(*last) << 8;
    }
    // Fold 64 bits to 16 without losing carries (no data-dependent loop).
    acc = (acc & 0xffff_ffff) + (acc >> 32); // < 2^33
    acc = (acc & 0xffff) + (acc >> 16); // < 0x2_ffff
    acc = (acc & 0xffff) + (acc >> 16); // <= 0x1_0001
    acc = (acc & 0xffff) + (acc >> 16); // <= 0xffff
    acc as u32
}

/// Fold a 32-bit sum to 16 bits.
#[inline]
pub fn fold(s: u32) -> u16 {
    let s = (s & 0xffff) + (s >> 16); // <= 0x1_fffe
    ((s & 0xffff) + (s >> 16)) as u16 // <= 0xffff
}

/// The checksum field value for `data` (with its checksum field zeroed).
#[inline]
pub fn checksum(data: &[u8]) -> u16 {
    !fold(sum(data, 0))
}

/// True when `data` (checksum field included) sums to the all-ones value.
#[inline]
pub fn verify(data: &[u8]) -> bool {
    fold(sum(data, 0)) == 0xffff
}

/// RFC 1624 eqn. 3: new checksum after a 16-bit field changed from `old` to `new`:
/// `HC' = ~(~HC + ~m + m')`.
#[inline]
pub fn update16(csum: u16, old: u16, new: u16) -> u16 {
    !fold(u32::from(!csum) + u32::from(!old) + u32::from(new))
}

/// As [`update16`] for a 32-bit field (an IPv4 address).
#[inline]
pub fn update32(csum: u16, old: u32, new: u32) -> u16 {
    let c = update16(csum, (old >> 16) as u16, (new >> 16) as u16);
    update16(c, old as u16, new as u16)
}

/// IPv4 pseudo-header sum for a TCP/UDP checksum, not folded.
#[inline]
pub fn pseudo_header_v4(src: u32, dst: u32, proto: u8, len: u16) -> u32 {
    (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + u32::from(proto) + u32::from(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The textbook sum: 16-bit big-endian words, odd byte padded, folded by a loop.
    fn reference_sum(data: &[u8], initial: u32) -> u16 {
        let mut acc = u64::from(initial);
        for c in data.chunks(2) {
            acc += u64::from(u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)]));
        }
        while acc >> 16 != 0 {
            acc = (acc & 0xffff) + (acc >> 16);
        }
        acc as u16
    }

    #[test]
    fn word_sum_and_fold_match_the_16_bit_reference() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for len in 0..80 {
            for round in 0..200 {
                let data: Vec<u8> = (0..len)
                    .map(|_| match round % 4 {
                        0 => 0xff,
                        1 => 0,
                        _ => next() as u8,
                    })
                    .collect();
                let initial = match round % 3 {
                    0 => 0,
                    1 => next() as u32 & 0x3_ffff,
                    _ => u32::MAX - 0x1_0000,
                };
                let s = sum(&data, initial);
                assert!(s <= 0xffff, "{s:#x}");
                assert_eq!(fold(s), reference_sum(&data, initial), "len {len}");
                assert_eq!(verify(&data), reference_sum(&data, 0) == 0xffff);
            }
        }
        assert_eq!(fold(u32::MAX), 0xffff);
        assert_eq!(fold(0), 0);
    }

    // RFC 1071 §3 example bytes.
    #[test]
    fn checksum_matches_rfc1071_example() {
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(&data, 0)), 0xddf2);
        assert_eq!(checksum(&data), !0xddf2);
    }

    #[test]
    fn ipv4_header_verifies_and_incremental_update_equals_full_recompute() {
        // 20-byte IPv4 header, TTL 64, UDP, 10.0.0.1 -> 10.0.0.2
        let mut h: [u8; 20] = [
            0x45, 0, 0, 28, 0x12, 0x34, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        let c = checksum(&h);
        h[10..12].copy_from_slice(&c.to_be_bytes());
        assert!(verify(&h));
        // Decrement TTL (the TTL/protocol word changes) incrementally.
        let old = u16::from_be_bytes([h[8], h[9]]);
        h[8] -= 1;
        let new = u16::from_be_bytes([h[8], h[9]]);
        let inc = update16(c, old, new);
        h[10..12].copy_from_slice(&[0, 0]);
        assert_eq!(inc, checksum(&h));
        // Rewrite the source address incrementally.
        h[10..12].copy_from_slice(&inc.to_be_bytes());
        let inc2 = update32(inc, 0x0a00_0001, 0xcb00_7102);
        h[12..16].copy_from_slice(&[203, 0, 113, 2]);
        h[10..12].copy_from_slice(&[0, 0]);
        assert_eq!(inc2, checksum(&h));
    }

    #[test]
    fn odd_length_is_padded() {
        assert_eq!(sum(&[0xab], 0), 0xab00);
    }
}
