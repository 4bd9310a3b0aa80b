//! `Batch`: up to [`BURST`] packets moved together through the pipeline.

use arrayvec::ArrayVec;

use super::PacketBuf;

/// Packets per batch. BESS uses 32 (`kMaxBurst`), VPP 256, Snabb ~100. Measure before
/// changing it: it bounds per-round latency as well as amortising per-batch costs.
pub const BURST: usize = 32;

/// A fixed-capacity, bounds-checked vector of packets. No heap allocation.
#[derive(Debug, Default)]
pub struct Batch {
    pkts: ArrayVec<PacketBuf, BURST>,
}

impl Batch {
    /// An empty batch.
    #[inline]
    pub fn new() -> Batch {
        Batch {
            pkts: ArrayVec::new(),
        }
    }

    /// Add a packet; gives it back if the batch is full.
    ///
    /// # Errors
    /// The packet itself, when the batch already holds [`BURST`] packets.
    #[inline]
    pub fn push(&mut self, pkt: PacketBuf) -> Result<(), PacketBuf> {
        self.pkts.try_push(pkt).map_err(|e| e.element())
    }

    /// Remove and return the last packet.
    #[inline]
    pub fn pop(&mut self) -> Option<PacketBuf> {
        self.pkts.pop()
    }

    /// Number of packets.
    #[inline]
    pub fn len(&self) -> usize {
        self.pkts.len()
    }

    /// True when there are no packets.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.pkts.is_empty()
    }

    /// True when no more packets fit.
    #[inline]
    pub fn is_full(&self) -> bool {
        self.pkts.is_full()
    }

    /// Room left.
    #[inline]
    pub fn free_space(&self) -> usize {
        BURST - self.pkts.len()
    }

    /// Total bytes of all frames.
    pub fn bytes(&self) -> u64 {
        self.pkts.iter().map(|p| p.len() as u64).sum()
    }

    /// Iterate over the packets.
    #[inline]
    pub fn iter(&self) -> std::slice::Iter<'_, PacketBuf> {
        self.pkts.iter()
    }

    /// Iterate over the packets mutably.
    #[inline]
    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, PacketBuf> {
        self.pkts.iter_mut()
    }

    /// Take every packet out, leaving the batch empty.
    #[inline]
    pub fn drain(&mut self) -> arrayvec::Drain<'_, PacketBuf, BURST> {
        self.pkts.drain(..)
    }

    /// Remove the first `n` packets (e.g. the ones a port accepted) and drop them.
    #[inline]
    pub fn remove_front(&mut self, n: usize) {
        let n = n.min(self.pkts.len());
        self.pkts.drain(..n);
    }

    /// The first packet, if any.
    #[inline]
    pub fn first(&self) -> Option<&PacketBuf> {
        self.pkts.first()
    }
}

impl IntoIterator for Batch {
    type Item = PacketBuf;
    type IntoIter = arrayvec::IntoIter<PacketBuf, BURST>;
    fn into_iter(self) -> Self::IntoIter {
        self.pkts.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::PacketPool;

    #[test]
    fn batch_push_beyond_burst_returns_the_packet() {
        let pool = PacketPool::new(BURST + 1, 64);
        let mut b = Batch::new();
        for _ in 0..BURST {
            b.push(pool.alloc().expect("buf")).expect("room");
        }
        assert!(b.is_full());
        let extra = pool.alloc().expect("buf");
        assert!(b.push(extra).is_err());
        assert_eq!(
            pool.available(),
            1,
            "the rejected packet went back to the pool"
        );
        b.remove_front(10);
        assert_eq!(b.len(), BURST - 10);
        assert_eq!(pool.available(), 11);
    }
}
