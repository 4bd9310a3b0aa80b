//! Elements: the packet-processing nodes of the graph (switch, router, NAT …).
//!
//! An [`Element`] has numbered input and output gates ([`GateSpec`]). The graph runner hands
//! it a [`Batch`] that arrived on one input gate; the element must account for **every**
//! packet: each ends in [`Outputs::emit`] on an output gate, in [`Outputs::drop`] with a
//! [`Reason`] (a core [`DropReason`] or one of the element's own, [`Element::drop_reasons`]), in [`Outputs::consume`] (delivered to the element itself: an ARP reply
//! a router learns from), or is held by the element for later (a packet waiting for ARP;
//! [`Element::held`] reports how many). Packets the element makes itself (flood copies,
//! ICMP replies) come from [`Context::alloc`] / [`Context::clone_packet`], which count them
//! as *generated*, so the runner can check conservation for every node:
//!
//! ```text
//! in + generated == emitted + dropped + consumed + held
//! ```
//!
//! Elements are sans-IO: no syscalls, no clock reads (time is [`Context::now`]), no locks.
//! They are `&mut self` and run on one worker thread at a time.

use std::time::Duration;

use crate::packet::{Batch, PacketBuf, PacketPool};
use crate::time::Instant;

pub use crate::reason::{DropCounters, DropReason, Reason, ReasonInfo};

/// Number of input and output gates of an element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GateSpec {
    /// Input gates `0..inputs`.
    pub inputs: u16,
    /// Output gates `0..outputs`.
    pub outputs: u16,
}

/// An input gate index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct InputGate(pub u16);

/// An output gate index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OutputGate(pub u16);

/// What an element gets besides its packets: the time, and a way to make new packets.
#[derive(Debug)]
pub struct Context {
    /// The time of this round (read once per round by the worker; a value in tests).
    pub now: Instant,
    pool: PacketPool,
    generated: u64,
    /// Trace id of the (last) traced packet of the batch being processed, 0 if none.
    trace_parent: u16,
    /// Next trace id to give a generated packet (0: none may be given).
    trace_next: u16,
    /// Parents of the packets given trace ids since the runner last looked, in id order.
    trace_generated: Vec<u16>,
}

impl Context {
    /// A context at `now` allocating from `pool`.
    pub fn new(now: Instant, pool: PacketPool) -> Context {
        Context {
            now,
            pool,
            generated: 0,
            trace_parent: 0,
            trace_next: 0,
            trace_generated: Vec::new(),
        }
    }

    /// Trace bookkeeping for the runner: the batch about to be processed contains traced
    /// packet `parent` (0: none), and generated packets get ids from `next`.
    pub(crate) fn set_trace(&mut self, parent: u16, next: u16) {
        self.trace_parent = parent;
        self.trace_next = next;
    }

    /// Parents of the traced packets generated since the last call (for the runner).
    pub(crate) fn take_trace_generated(&mut self) -> Option<std::vec::Drain<'_, u16>> {
        if self.trace_generated.is_empty() {
            None
        } else {
            Some(self.trace_generated.drain(..))
        }
    }

    #[cold]
    fn trace_id_for(&mut self, parent: u16) -> u16 {
        if self.trace_next == 0 || usize::from(self.trace_next) > crate::trace::MAX_PACKETS {
            return 0;
        }
        let id = self.trace_next;
        self.trace_next += 1;
        self.trace_generated.push(parent);
        id
    }

    /// A new empty packet (counted as generated), or `None` if the pool is empty.
    #[inline]
    pub fn alloc(&mut self) -> Option<PacketBuf> {
        let mut p = self.pool.alloc()?;
        self.generated += 1;
        if self.trace_parent != 0 {
            p.meta.trace = self.trace_id_for(self.trace_parent);
        }
        Some(p)
    }

    /// A copy of `pkt` (counted as generated), or `None` if the pool is empty.
    #[inline]
    pub fn clone_packet(&mut self, pkt: &PacketBuf) -> Option<PacketBuf> {
        let mut p = self.pool.try_clone(pkt)?;
        self.generated += 1;
        if pkt.meta.trace != 0 {
            p.meta.trace = self.trace_id_for(pkt.meta.trace);
        }
        Some(p)
    }

    /// Packets generated since the last call; resets the count (used by the runner).
    pub fn take_generated(&mut self) -> u64 {
        std::mem::take(&mut self.generated)
    }
}

/// Where an element puts its packets: one queue per output gate, and drop counters.
///
/// Gate queues are `Vec`s that keep their capacity, so after warm-up emitting allocates
/// nothing; the runner empties them after every `process` call.
#[derive(Debug)]
pub struct Outputs {
    gates: Vec<Vec<PacketBuf>>,
    drops: DropCounters,
    emitted: u64,
    consumed: u64,
    /// What happened to traced packets (notes, drops), for the runner.
    trace: Vec<crate::trace::Event>,
}

impl Outputs {
    /// Queues for `outputs` gates, counting core drop reasons only.
    pub fn new(outputs: u16) -> Outputs {
        Outputs::with_reasons(outputs, &[])
    }

    /// Queues for `elem`'s output gates, counting its own drop reasons
    /// ([`Element::drop_reasons`]) besides the core's.
    pub fn for_element(elem: &dyn Element) -> Outputs {
        Outputs::with_reasons(elem.gates().outputs, elem.drop_reasons())
    }

    /// Queues for `outputs` gates, naming element drop reasons from `reasons`.
    pub fn with_reasons(outputs: u16, reasons: &'static [ReasonInfo]) -> Outputs {
        Outputs {
            gates: (0..outputs)
                .map(|_| Vec::with_capacity(2 * crate::packet::BURST))
                .collect(),
            drops: DropCounters::for_element(reasons),
            emitted: 0,
            consumed: 0,
            trace: Vec::new(),
        }
    }

    /// Say what the element did with `pkt`, for the packet trace ([`crate::trace`]): `f` is
    /// called only when `pkt` is traced, so this costs one branch otherwise.
    #[inline]
    pub fn note(&mut self, pkt: &PacketBuf, f: impl FnOnce() -> String) {
        if pkt.meta.trace != 0 {
            self.note_traced(pkt.meta.trace, f);
        }
    }

    /// The slow half of [`Outputs::note`], kept out of the elements' packet loops.
    #[cold]
    #[inline(never)]
    fn note_traced(&mut self, id: u16, f: impl FnOnce() -> String) {
        self.trace.push(crate::trace::Event::Note(id, f()));
    }

    /// The trace events recorded since the last call (for the runner and tests).
    pub fn take_trace(&mut self) -> Vec<crate::trace::Event> {
        std::mem::take(&mut self.trace)
    }

    /// True when trace events are waiting for the runner.
    #[inline]
    pub(crate) fn has_trace(&self) -> bool {
        !self.trace.is_empty()
    }

    /// Send `pkt` out of `gate`. A gate the element does not have is a counted
    /// [`DropReason::BadGate`], never a panic.
    #[inline]
    pub fn emit(&mut self, gate: OutputGate, pkt: PacketBuf) {
        // Small enough to inline into every element's packet loop: the bad-gate case is out
        // of line (it showed as ~40 instructions per emitted packet when `emit` was a call).
        match self.gates.get_mut(gate.0 as usize) {
            Some(q) => {
                q.push(pkt);
                self.emitted += 1;
            }
            None => self.emit_bad_gate(pkt),
        }
    }

    #[cold]
    #[inline(never)]
    fn emit_bad_gate(&mut self, pkt: PacketBuf) {
        if pkt.meta.trace != 0 {
            self.trace.push(crate::trace::Event::Drop(
                pkt.meta.trace,
                DropReason::BadGate.into(),
            ));
        }
        drop(pkt);
        self.drops.add(DropReason::BadGate, 1);
    }

    /// Drop `pkt`, counting `reason`: a core [`DropReason`] or one of the element's own
    /// (its `drop_reasons!` enum).
    #[inline]
    pub fn drop(&mut self, pkt: PacketBuf, reason: impl Into<Reason>) {
        let reason = reason.into();
        if pkt.meta.trace != 0 {
            self.trace
                .push(crate::trace::Event::Drop(pkt.meta.trace, reason));
        }
        drop(pkt);
        self.drops.add(reason, 1);
    }

    /// `pkt` was delivered to the element itself (an ARP reply it learned from, an ICMP
    /// message for it): neither forwarded nor dropped.
    #[inline]
    pub fn consume(&mut self, pkt: PacketBuf) {
        if pkt.meta.trace != 0 {
            self.trace
                .push(crate::trace::Event::Consumed(pkt.meta.trace));
        }
        drop(pkt);
        self.consumed += 1;
    }

    /// Packets consumed so far.
    pub fn consumed(&self) -> u64 {
        self.consumed
    }

    /// Number of output gates.
    pub fn gate_count(&self) -> u16 {
        self.gates.len() as u16
    }

    /// Packets queued on `gate` (for the runner and tests).
    pub fn queue_mut(&mut self, gate: usize) -> Option<&mut Vec<PacketBuf>> {
        self.gates.get_mut(gate)
    }

    /// Packets queued on `gate`.
    pub fn queued(&self, gate: usize) -> &[PacketBuf] {
        self.gates.get(gate).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Drops counted so far.
    pub fn drops(&self) -> &DropCounters {
        &self.drops
    }

    /// Packets emitted so far (all gates).
    pub fn emitted(&self) -> u64 {
        self.emitted
    }

    /// Count drops of packets that were queued but could not be delivered by the runner.
    pub fn count_drops(&mut self, reason: impl Into<Reason>, n: u64) {
        self.drops.add(reason, n);
    }
}

/// A packet-processing node. See the module docs for the contract.
pub trait Element: Send {
    /// The YAML `kind` of this element (`"switch"`), for reports.
    fn kind(&self) -> &'static str;

    /// Static shape: how many input and output gates.
    fn gates(&self) -> GateSpec;

    /// Consume every packet of `batch`, which arrived on `input`: each ends in
    /// `out.emit(..)` or `out.drop(.., reason)`.
    fn process(&mut self, ctx: &mut Context, input: InputGate, batch: Batch, out: &mut Outputs);

    /// Periodic work (ageing, retries), called about every [`Element::tick_interval`].
    fn tick(&mut self, _ctx: &mut Context, _out: &mut Outputs) {}

    /// The element's own drop reasons (the `TABLE` of its
    /// [`drop_reasons!`](crate::drop_reasons) list), which name the element codes it drops
    /// with besides the core [`DropReason`]s. Default: none.
    fn drop_reasons(&self) -> &'static [ReasonInfo] {
        &[]
    }

    /// How often `tick` wants to run; `None` means never.
    fn tick_interval(&self) -> Option<Duration> {
        None
    }

    /// Packets the element is holding for later (e.g. waiting for ARP). They count in the
    /// conservation check until they are emitted or dropped.
    fn held(&self) -> u64 {
        0
    }

    /// Report element-specific counters and gauges (`learned`, `fdb_entries` …) as
    /// `(stable_name, value)` pairs, in the order of [`Element::counter_info`].
    fn counters(&self, _f: &mut dyn FnMut(&'static str, u64)) {}

    /// What each of [`Element::counters`] is: its name, whether it only grows (an event
    /// count) or goes up and down (a gauge: a table's size, packets held), and one line of
    /// help. Metrics, `nfv show` and the docs read this instead of guessing from the name.
    fn counter_info(&self) -> &'static [CounterInfo] {
        &[]
    }

    /// Name of gate `gate` for reports (e.g. a switch port name). Default: the number.
    fn gate_name(&self, gate: u16) -> String {
        gate.to_string()
    }

    /// The element's tables (MAC table, ARP cache, routes, sessions, flows, rules) as text
    /// rows, for the admin API. Called on request by the worker at the end of a round, never
    /// on the packet path. Default: none.
    fn tables(&self, _now: Instant, _out: &mut dyn FnMut(Table)) {}
}

/// Whether a counter only grows or goes up and down.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CounterKind {
    /// Counts events since start (Prometheus `counter`).
    Counter,
    /// A current level: a table's size, packets held (Prometheus `gauge`).
    Gauge,
}

/// One element counter, declared next to the element ([`Element::counter_info`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CounterInfo {
    /// Stable name (`learned`, `fdb_entries`): a metrics label value.
    pub name: &'static str,
    /// Counter or gauge.
    pub kind: CounterKind,
    /// One line of help.
    pub help: &'static str,
}

impl CounterInfo {
    /// An event count.
    #[must_use]
    pub const fn counter(name: &'static str, help: &'static str) -> CounterInfo {
        CounterInfo {
            name,
            kind: CounterKind::Counter,
            help,
        }
    }

    /// A level.
    #[must_use]
    pub const fn gauge(name: &'static str, help: &'static str) -> CounterInfo {
        CounterInfo {
            name,
            kind: CounterKind::Gauge,
            help,
        }
    }

    /// True for a gauge named `name` in `info`; an undeclared name is an event count.
    #[must_use]
    pub fn is_gauge(info: &[CounterInfo], name: &str) -> bool {
        info.iter()
            .any(|c| c.name == name && c.kind == CounterKind::Gauge)
    }
}

/// Most rows an element puts in one [`Table`]; the rest are only counted in
/// [`Table::total`] (a router with a million routes, a NAT with 64k sessions).
pub const TABLE_ROW_LIMIT: usize = 1000;

/// One table of an element, as text, for display ([`Element::tables`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    /// Stable table name (`fdb`, `arp`, `routes`, `nat`, `flows`, `rules`).
    pub name: &'static str,
    /// Column names.
    pub columns: Vec<&'static str>,
    /// At most [`TABLE_ROW_LIMIT`] rows, each with one value per column.
    pub rows: Vec<Vec<String>>,
    /// Entries in the table; more than `rows.len()` when rows were left out.
    pub total: usize,
}

impl Table {
    /// An empty table.
    pub fn new(name: &'static str, columns: &[&'static str]) -> Table {
        Table {
            name,
            columns: columns.to_vec(),
            rows: Vec::new(),
            total: 0,
        }
    }

    /// Count an entry and keep its row if fewer than [`TABLE_ROW_LIMIT`] are kept.
    /// `row` is only called for kept rows.
    pub fn push_with(&mut self, row: impl FnOnce() -> Vec<String>) {
        self.total += 1;
        if self.rows.len() < TABLE_ROW_LIMIT {
            self.rows.push(row());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_bad_gate_is_a_counted_drop() {
        let pool = PacketPool::new(2, 64);
        let mut out = Outputs::new(1);
        out.emit(OutputGate(0), pool.alloc().expect("buf"));
        out.emit(OutputGate(5), pool.alloc().expect("buf"));
        assert_eq!(out.queued(0).len(), 1);
        assert_eq!(out.drops().get(DropReason::BadGate), 1);
        assert_eq!(pool.available(), 1);
    }
}
