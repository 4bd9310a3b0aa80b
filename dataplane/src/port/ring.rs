//! Rings between workers: a bounded lock-free single-producer single-consumer queue of
//! packet handles, seen by each worker's graph as a port.
//!
//! An edge whose two ends live on different workers (see [`crate::pipeline`]) becomes a
//! [`RingTx`] port on the sending worker (its `tx_burst` enqueues) and a [`RingRx`] port on
//! the receiving worker (its `rx_burst` dequeues). The graph runner and the elements need no
//! change: a ring is one more port, with the same accounting (`offered == tx + tx drops` on
//! the producer side, `rx == delivered` on the consumer side).
//!
//! * **Lock-free, batched.** The queue is [`rtrb`] (measured in the research notes at ~90 M
//!   handle transfers/s); a burst is enqueued with one `write_chunk_uninit` and dequeued with
//!   one `read_chunk`, so the shared indices move once per burst, not per packet. What moves
//!   is the 24-byte `PacketBuf` handle; the bytes stay where they are.
//! * **Never blocks.** A full ring drops the rest of the burst as [`DropReason::RingFull`]
//!   (counted on the producer side), like a NIC whose rx ring is full.
//! * **Wake-ups without a syscall per burst.** A consumer worker about to sleep in epoll
//!   raises `sleeping` and then re-checks the ring (`Port::prepare_sleep`); a producer that
//!   has enqueued reads `sleeping` and only then rings the consumer's eventfd. Both sides put
//!   a `SeqCst` fence between their write and their read (Dekker's pattern), so either the
//!   consumer sees the packets or the producer sees the flag: no lost wake-up, and while both
//!   workers are busy no eventfd is ever written.
//! * **Counters** are per-burst stores to atomics only their own side writes (producer and
//!   consumer counters on separate cache lines), so a snapshot taken by either worker shows
//!   the whole ring: enqueued, dequeued, full drops and occupancy.

use std::os::fd::RawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering, fence};

use super::{Port, PortError, PortStats};
use crate::element::DropReason;
use crate::packet::{BURST, Batch, PacketBuf, PacketPool};
use crate::sys::poll::EventFd;

/// Default ring capacity in packets: 32 bursts, about 1 ms of a busy TAP port.
pub const DEFAULT_RING_CAPACITY: usize = 1024;

/// An atomic counter on its own cache line (two lines: adjacent-line prefetch).
#[derive(Debug, Default)]
#[repr(align(128))]
struct Padded(AtomicU64);

#[derive(Debug)]
struct Shared {
    name: String,
    from_worker: usize,
    to_worker: usize,
    capacity: usize,
    /// Written by the producer only.
    enqueued: Padded,
    /// Written by the producer only.
    full_drops: Padded,
    /// Written by the consumer only.
    dequeued: Padded,
    /// The consumer is (about to be) asleep in epoll and must be woken through `bell`.
    sleeping: AtomicBool,
    bell: EventFd,
}

/// Counters of one ring, from either side (a snapshot of atomics).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RingReport {
    /// The ring's name: the edge it carries, `from -> to`.
    pub name: String,
    /// Worker that enqueues.
    pub from_worker: usize,
    /// Worker that dequeues.
    pub to_worker: usize,
    /// Slots (packets).
    pub capacity: usize,
    /// Packets enqueued.
    pub enqueued: u64,
    /// Packets dequeued.
    pub dequeued: u64,
    /// Packets dropped because the ring was full.
    pub full_drops: u64,
}

impl RingReport {
    /// Packets in the ring when the counters were read (enqueued − dequeued; read from two
    /// atomics, so at most a burst off while traffic flows).
    pub fn occupancy(&self) -> u64 {
        self.enqueued.saturating_sub(self.dequeued)
    }
}

impl Shared {
    fn report(&self) -> RingReport {
        RingReport {
            name: self.name.clone(),
            from_worker: self.from_worker,
            to_worker: self.to_worker,
            capacity: self.capacity,
            // Dequeued first: a concurrent enqueue can only make occupancy look larger, never
            // negative.
            dequeued: self.dequeued.0.load(Ordering::Acquire),
            enqueued: self.enqueued.0.load(Ordering::Acquire),
            full_drops: self.full_drops.0.load(Ordering::Acquire),
        }
    }
}

/// The producing half of a ring: a port whose tx enqueues. Its rx never yields packets.
#[derive(Debug)]
pub struct RingTx {
    q: rtrb::Producer<PacketBuf>,
    shared: Arc<Shared>,
    stats: PortStats,
}

/// The consuming half of a ring: a port whose rx dequeues. Nothing is ever sent to its tx
/// (the pipeline builder never connects it); anything that were would be a counted drop.
#[derive(Debug)]
pub struct RingRx {
    q: rtrb::Consumer<PacketBuf>,
    shared: Arc<Shared>,
    stats: PortStats,
}

/// A ring of `capacity` packets named `name`, carrying packets from worker `from_worker` to
/// worker `to_worker`.
///
/// # Errors
/// If the eventfd for wake-ups cannot be created.
pub fn ring(
    name: impl Into<String>,
    capacity: usize,
    from_worker: usize,
    to_worker: usize,
) -> std::io::Result<(RingTx, RingRx)> {
    let (p, c) = rtrb::RingBuffer::new(capacity.max(BURST));
    let shared = Arc::new(Shared {
        name: name.into(),
        from_worker,
        to_worker,
        capacity: p.buffer().capacity(),
        enqueued: Padded::default(),
        full_drops: Padded::default(),
        dequeued: Padded::default(),
        sleeping: AtomicBool::new(false),
        bell: EventFd::new()?,
    });
    Ok((
        RingTx {
            q: p,
            shared: Arc::clone(&shared),
            stats: PortStats::default(),
        },
        RingRx {
            q: c,
            shared,
            stats: PortStats::default(),
        },
    ))
}

impl Port for RingTx {
    fn name(&self) -> &str {
        &self.shared.name
    }

    fn rx_burst(&mut self, _pool: &PacketPool, _batch: &mut Batch) -> Result<usize, PortError> {
        Ok(0)
    }

    fn tx_burst(&mut self, batch: &mut Batch) {
        let n = batch.len();
        if n == 0 {
            return;
        }
        let room = self.q.slots().min(n);
        let mut written = 0;
        if room > 0
            // Cannot fail: `room` <= free slots, and only this side adds items.
            && let Ok(chunk) = self.q.write_chunk_uninit(room)
        {
            let mut bytes = 0u64;
            // Dropping the drain iterator frees whatever `take` left in the batch.
            let it = batch.drain().take(room).map(|mut p| {
                bytes += p.len() as u64;
                // A trace id belongs to the tracer of the worker that assigned it; the
                // receiving worker starts its own trace at the ring's rx.
                p.meta.trace = 0;
                p
            });
            written = chunk.fill_from_iter(it);
            self.stats.tx_packets += written as u64;
            self.stats.tx_bytes += bytes;
        }
        // Whatever did not fit is dropped (the buffers go back to the pool).
        batch.drain();
        let rest = (n - written) as u64;
        if rest > 0 {
            self.stats.drops.add(DropReason::RingFull, rest);
        }
        self.shared
            .enqueued
            .0
            .store(self.stats.tx_packets, Ordering::Release);
        if rest > 0 {
            self.shared.full_drops.0.store(
                self.stats.drops.get(DropReason::RingFull),
                Ordering::Release,
            );
        }
        // Pairs with the fence in `RingRx::prepare_sleep`: either the consumer sees our
        // packets when it re-checks, or we see its flag here.
        fence(Ordering::SeqCst);
        if self.shared.sleeping.load(Ordering::Relaxed) {
            self.shared.bell.signal();
        }
    }

    fn rx_fd(&self) -> Option<RawFd> {
        None
    }

    fn stats(&self) -> PortStats {
        self.stats
    }

    fn ring_report(&self) -> Option<RingReport> {
        Some(self.shared.report())
    }

    fn is_ring(&self) -> bool {
        true
    }
}

impl Port for RingRx {
    fn name(&self) -> &str {
        &self.shared.name
    }

    fn rx_burst(&mut self, _pool: &PacketPool, batch: &mut Batch) -> Result<usize, PortError> {
        let n = self.q.slots().min(batch.free_space());
        if n == 0 {
            return Ok(0);
        }
        let Ok(chunk) = self.q.read_chunk(n) else {
            return Ok(0);
        };
        for p in chunk {
            self.stats.rx_bytes += p.len() as u64;
            // Cannot fail: n <= free space.
            let _ = batch.push(p);
        }
        self.stats.rx_packets += n as u64;
        self.shared
            .dequeued
            .0
            .store(self.stats.rx_packets, Ordering::Release);
        Ok(n)
    }

    fn tx_burst(&mut self, batch: &mut Batch) {
        self.stats
            .drops
            .add(DropReason::NoOutput, batch.len() as u64);
        batch.drain();
    }

    fn rx_fd(&self) -> Option<RawFd> {
        Some(self.shared.bell.as_raw_fd())
    }

    fn stats(&self) -> PortStats {
        self.stats
    }

    fn prepare_sleep(&mut self) -> bool {
        self.shared.sleeping.store(true, Ordering::Relaxed);
        // Pairs with the fence in `RingTx::tx_burst`.
        fence(Ordering::SeqCst);
        if self.q.is_empty() {
            true
        } else {
            self.shared.sleeping.store(false, Ordering::Relaxed);
            false
        }
    }

    fn woke(&mut self) {
        self.shared.sleeping.store(false, Ordering::Relaxed);
        self.shared.bell.drain();
    }

    fn is_ring(&self) -> bool {
        true
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn pool() -> PacketPool {
        PacketPool::new(4096, 64)
    }

    /// A packet whose first 8 bytes are `seq` and next 2 bytes `flow`.
    fn pkt(pool: &PacketPool, flow: u16, seq: u64) -> PacketBuf {
        let mut p = pool.alloc().unwrap();
        p.set_len(16);
        p.data_mut()[..8].copy_from_slice(&seq.to_be_bytes());
        p.data_mut()[8..10].copy_from_slice(&flow.to_be_bytes());
        p
    }

    fn seq_of(p: &PacketBuf) -> (u16, u64) {
        let d = p.data();
        (
            u16::from_be_bytes([d[8], d[9]]),
            u64::from_be_bytes(d[..8].try_into().unwrap()),
        )
    }

    #[test]
    fn a_burst_goes_through_in_order_and_is_counted_on_both_sides() {
        let pool = pool();
        let (mut tx, mut rx) = ring("a -> b", 64, 0, 1).unwrap();
        let mut b = Batch::new();
        for i in 0..10 {
            b.push(pkt(&pool, 0, i)).unwrap();
        }
        tx.tx_burst(&mut b);
        assert!(b.is_empty());
        let mut out = Batch::new();
        assert_eq!(rx.rx_burst(&pool, &mut out).unwrap(), 10);
        let seqs: Vec<u64> = out.iter().map(|p| seq_of(p).1).collect();
        assert_eq!(seqs, (0..10).collect::<Vec<_>>());
        assert_eq!(tx.stats().tx_packets, 10);
        assert_eq!(tx.stats().tx_bytes, 160);
        assert_eq!(rx.stats().rx_packets, 10);
        let r = rx.shared.report();
        assert_eq!((r.enqueued, r.dequeued, r.full_drops), (10, 10, 0));
        assert_eq!(r.occupancy(), 0);
        assert_eq!(tx.ring_report().unwrap(), r);
    }

    #[test]
    fn a_full_ring_drops_the_rest_of_the_burst_and_counts_it() {
        let pool = pool();
        // rtrb rounds nothing: capacity is exactly max(capacity, BURST) = 32.
        let (mut tx, mut rx) = ring("full", 32, 0, 1).unwrap();
        for round in 0..2u64 {
            let mut b = Batch::new();
            for i in 0..20 {
                b.push(pkt(&pool, 0, round * 100 + i)).unwrap();
            }
            tx.tx_burst(&mut b);
            assert!(b.is_empty());
        }
        let s = tx.stats();
        assert_eq!(s.tx_packets, 32);
        assert_eq!(s.drops.get(DropReason::RingFull), 8);
        let r = tx.ring_report().unwrap();
        assert_eq!((r.enqueued, r.full_drops, r.occupancy()), (32, 8, 32));
        // Buffers of dropped packets went back to the pool; the ring holds 32.
        assert_eq!(pool.available(), 4096 - 32);
        let mut out = Batch::new();
        assert_eq!(rx.rx_burst(&pool, &mut out).unwrap(), 32);
        let last = seq_of(out.iter().last().unwrap()).1;
        assert_eq!(
            last, 111,
            "the first 12 of the second burst fit, the rest dropped"
        );
    }

    #[test]
    fn wraps_around_many_times_without_loss() {
        let pool = pool();
        let (mut tx, mut rx) = ring("wrap", 48, 0, 1).unwrap();
        let mut next_in = 0u64;
        let mut next_out = 0u64;
        // Uneven burst sizes so the indices wrap at every offset.
        for round in 0..2000u64 {
            let mut b = Batch::new();
            for _ in 0..(round % 31 + 1) {
                b.push(pkt(&pool, 0, next_in)).unwrap();
                next_in += 1;
            }
            tx.tx_burst(&mut b);
            let mut out = Batch::new();
            rx.rx_burst(&pool, &mut out).unwrap();
            for p in out {
                assert_eq!(seq_of(&p).1, next_out);
                next_out += 1;
            }
        }
        let mut out = Batch::new();
        while rx.rx_burst(&pool, &mut out).unwrap() > 0 {
            for p in out.drain() {
                assert_eq!(seq_of(&p).1, next_out);
                next_out += 1;
            }
        }
        assert_eq!(next_out, next_in);
        assert_eq!(tx.stats().drops.total(), 0);
        assert_eq!(pool.available(), 4096);
    }

    #[test]
    fn a_consumer_about_to_sleep_is_told_to_stay_awake_when_packets_wait() {
        let pool = pool();
        let (mut tx, mut rx) = ring("sleep", 64, 0, 1).unwrap();
        assert!(rx.prepare_sleep(), "empty ring: may sleep");
        // A producer that enqueues now sees the flag and rings the bell.
        let mut b = Batch::new();
        b.push(pkt(&pool, 0, 1)).unwrap();
        tx.tx_burst(&mut b);
        let mut v = 0u64;
        // SAFETY: reads 8 bytes into a live u64 from the eventfd, as eventfd requires.
        let n = unsafe { libc::read(rx.shared.bell.as_raw_fd(), (&raw mut v).cast(), 8) };
        assert_eq!((n, v), (8, 1), "the producer rang the consumer's eventfd");
        rx.woke();
        assert!(!rx.prepare_sleep(), "a packet is waiting: don't sleep");
        assert!(!rx.shared.sleeping.load(Ordering::Relaxed));
        // While the consumer is awake, producers do not ring.
        tx.tx_burst(&mut {
            let mut b = Batch::new();
            b.push(pkt(&pool, 0, 2)).unwrap();
            b
        });
        // SAFETY: as above.
        let n = unsafe { libc::read(rx.shared.bell.as_raw_fd(), (&raw mut v).cast(), 8) };
        assert_eq!(n, -1, "no wake-up written while the consumer is awake");
    }

    /// Stress: a producer thread and a consumer thread, 8 interleaved flows, small ring so it
    /// is often full and often empty. Every packet either arrives exactly once, in order per
    /// flow, or is counted as a full-ring drop; the totals balance exactly.
    #[test]
    fn stress_two_threads_no_loss_no_duplication_order_per_flow() {
        const PACKETS: u64 = 400_000;
        const FLOWS: u16 = 8;
        let pool = PacketPool::new(8192, 64);
        let (mut tx, mut rx) = ring("stress", 64, 0, 1).unwrap();
        let producer = std::thread::spawn(move || {
            let mut seq = [0u64; FLOWS as usize];
            let mut sent = 0u64;
            let mut i = 0u64;
            while sent < PACKETS {
                let mut b = Batch::new();
                let n = (i % 32 + 1).min(PACKETS - sent);
                for k in 0..n {
                    let flow = ((i + k) % u64::from(FLOWS)) as u16;
                    let Some(mut p) = pool.alloc() else { break };
                    p.set_len(16);
                    p.data_mut()[..8].copy_from_slice(&seq[flow as usize].to_be_bytes());
                    p.data_mut()[8..10].copy_from_slice(&flow.to_be_bytes());
                    seq[flow as usize] += 1;
                    b.push(p).unwrap();
                }
                sent += b.len() as u64;
                tx.tx_burst(&mut b);
                i += 1;
            }
            (tx, sent, seq)
        });
        let mut next = [0u64; FLOWS as usize];
        let mut got = 0u64;
        let mut gaps = 0u64;
        let mut out = Batch::new();
        loop {
            let n = rx.rx_burst(&pool, &mut out).unwrap();
            for p in out.drain() {
                let (flow, seq) = seq_of(&p);
                let want = &mut next[flow as usize];
                assert!(
                    seq >= *want,
                    "flow {flow}: {seq} after {want} (reordered or duplicated)"
                );
                gaps += seq - *want;
                *want = seq + 1;
                got += 1;
            }
            if n == 0 && producer.is_finished() && rx.q.is_empty() {
                break;
            }
        }
        let (tx, sent, seq) = producer.join().unwrap();
        let dropped = tx.stats().drops.get(DropReason::RingFull);
        assert_eq!(sent, PACKETS);
        assert_eq!(got + dropped, sent, "received + dropped == sent");
        assert_eq!(tx.stats().tx_packets, got);
        // A dropped packet shows as a gap in its flow's sequence, or, if it was among the
        // last of its flow, as sequence numbers that never arrived: together, all drops.
        let trailing: u64 = (0..FLOWS as usize).map(|f| seq[f] - next[f]).sum();
        assert_eq!(gaps + trailing, dropped);
        let r = tx.ring_report().unwrap();
        assert_eq!((r.enqueued, r.dequeued, r.full_drops), (got, got, dropped));
    }
}
