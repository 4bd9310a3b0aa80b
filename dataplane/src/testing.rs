//! Test doubles and helpers (feature `test-utils`): an in-memory port, a one-call element
//! runner that checks conservation, and Ethernet frame builders.

use std::collections::VecDeque;
use std::os::fd::RawFd;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::element::{Context, DropCounters, Element, InputGate, Outputs};
use crate::packet::{Batch, PacketPool};
use crate::port::{Port, PortError, PortStats};
use crate::time::Instant;

#[derive(Debug, Default)]
struct Queues {
    rx: VecDeque<Vec<u8>>,
    tx: Vec<Vec<u8>>,
    stats: PortStats,
}

/// An in-memory [`Port`]: tests push frames to be "received" and read what was "sent".
/// Cloning gives another handle to the same queues (one goes into the graph).
#[derive(Clone, Debug, Default)]
pub struct QueuePort {
    name: String,
    q: Arc<Mutex<Queues>>,
}

impl QueuePort {
    /// A new port named `name`.
    pub fn new(name: &str) -> QueuePort {
        QueuePort {
            name: name.to_string(),
            q: Arc::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queues> {
        self.q
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queue a frame for the next `rx_burst`.
    pub fn push_rx(&self, frame: &[u8]) {
        self.lock().rx.push_back(frame.to_vec());
    }

    /// Take every frame transmitted so far.
    pub fn take_tx(&self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.lock().tx)
    }
}

impl Port for QueuePort {
    fn name(&self) -> &str {
        &self.name
    }

    fn rx_burst(&mut self, pool: &PacketPool, batch: &mut Batch) -> Result<usize, PortError> {
        let mut q = self.lock();
        let mut n = 0;
        while !batch.is_full() {
            let Some(frame) = q.rx.pop_front() else { break };
            let Some(mut p) = pool.alloc() else {
                q.rx.push_front(frame);
                q.stats.rx_no_buffer += 1;
                break;
            };
            q.stats.rx_packets += 1;
            q.stats.rx_bytes += frame.len() as u64;
            if !p.extend_from_slice(&frame) {
                q.stats.drops.add(crate::DropReason::RxTruncated, 1);
                continue;
            }
            let _ = batch.push(p);
            n += 1;
        }
        Ok(n)
    }

    fn tx_burst(&mut self, batch: &mut Batch) {
        let mut q = self.lock();
        for p in batch.drain() {
            q.stats.tx_packets += 1;
            q.stats.tx_bytes += p.len() as u64;
            q.tx.push(p.data().to_vec());
        }
    }

    fn rx_fd(&self) -> Option<RawFd> {
        None
    }

    fn stats(&self) -> PortStats {
        self.lock().stats
    }
}

/// What one `process` call did.
#[derive(Debug, Default)]
pub struct Emitted {
    /// Frames per output gate, in order.
    pub by_gate: Vec<Vec<Vec<u8>>>,
    /// Drops by reason.
    pub drops: DropCounters,
    /// Packets the element generated.
    pub generated: u64,
    /// Packets delivered to the element itself.
    pub consumed: u64,
}

impl Emitted {
    /// Frames on `gate` (empty if none).
    pub fn gate(&self, gate: usize) -> &[Vec<u8>] {
        self.by_gate.get(gate).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Total frames emitted.
    pub fn total(&self) -> usize {
        self.by_gate.iter().map(Vec::len).sum()
    }
}

fn collect(out: &mut Outputs, generated: u64) -> Emitted {
    let consumed = out.consumed();
    let mut by_gate = Vec::new();
    for g in 0..out.gate_count() as usize {
        let frames = out
            .queue_mut(g)
            .map(|q| q.drain(..).map(|p| p.data().to_vec()).collect())
            .unwrap_or_default();
        by_gate.push(frames);
    }
    let drops = *out.drops();
    Emitted {
        by_gate,
        drops,
        generated,
        consumed,
    }
}

/// Feed `frames` to `elem` on `input` at time `now` in one batch per [`crate::BURST`] frames;
/// return what came out. Panics (it is a test helper) if the element broke conservation:
/// `in + generated == out + dropped + consumed + change in held`.
///
/// # Panics
/// If the pool cannot hold the frames, or packets were lost or invented.
pub fn run(
    elem: &mut dyn Element,
    pool: PacketPool,
    now: Instant,
    input: u16,
    frames: &[&[u8]],
) -> Emitted {
    let mut out = Outputs::new(elem.gates().outputs);
    let mut ctx = Context::new(now, pool);
    let held_before = elem.held();
    for chunk in frames.chunks(crate::BURST) {
        let mut batch = Batch::new();
        for f in chunk {
            let mut p = pool.alloc().expect("test pool has room");
            assert!(p.extend_from_slice(f), "test frame fits the pool's buffers");
            p.meta.in_gate = input;
            batch.push(p).expect("chunk fits a batch");
        }
        elem.process(&mut ctx, InputGate(input), batch, &mut out);
    }
    let generated = ctx.take_generated();
    let e = collect(&mut out, generated);
    assert_eq!(
        frames.len() as u64 + generated + held_before,
        e.total() as u64 + e.drops.total() + e.consumed + elem.held(),
        "conservation: in + generated == out + dropped + consumed + change in held"
    );
    e
}

/// Run `elem.tick` at `now` and return what came out.
pub fn tick(elem: &mut dyn Element, pool: PacketPool, now: Instant) -> Emitted {
    let mut out = Outputs::new(elem.gates().outputs);
    let mut ctx = Context::new(now, pool);
    let held_before = elem.held();
    elem.tick(&mut ctx, &mut out);
    let generated = ctx.take_generated();
    let e = collect(&mut out, generated);
    assert_eq!(
        generated + held_before,
        e.total() as u64 + e.drops.total() + e.consumed + elem.held(),
        "conservation in tick: generated == out + dropped + consumed + change in held"
    );
    e
}

/// A MAC address `02:00:00:00:00:n` (locally administered unicast).
pub const fn mac(n: u8) -> [u8; 6] {
    [0x02, 0, 0, 0, 0, n]
}

/// Broadcast MAC.
pub const BROADCAST: [u8; 6] = [0xff; 6];

/// An untagged Ethernet frame of at least 60 bytes (minimum size without FCS).
pub fn eth(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(64);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    if f.len() < 60 {
        f.resize(60, 0);
    }
    f
}

/// An 802.1Q-tagged Ethernet frame (VID `vid`, PCP 0), at least 64 bytes.
pub fn eth_tagged(dst: [u8; 6], src: [u8; 6], vid: u16, ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(68);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&0x8100u16.to_be_bytes());
    f.extend_from_slice(&(vid & 0x0fff).to_be_bytes());
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    if f.len() < 64 {
        f.resize(64, 0);
    }
    f
}
