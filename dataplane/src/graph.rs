//! The graph: ports and elements wired by edges, and the runner that moves batches along them.
//!
//! Build with [`GraphBuilder`] (`add_port`, `add_element`, `connect`/`link`), then drive with
//! [`Graph::poll`] (one round over every port) and [`Graph::run_timers`]. The worker loop in
//! [`crate::worker`] does both.
//!
//! Edges are resolved once at build time into a small `Target` per port rx and per element
//! output gate. A batch for a port is written at once (`tx_burst`); a batch for an element
//! goes into a FIFO work queue, so chains and cycles of elements need no recursion. Each
//! round processes at most [`MAX_BATCHES_PER_ROUND`] queued batches, so even a switching loop
//! cannot stop the worker from polling its ports (left-over work continues next round).
//!
//! # Accounting
//! For every element `in + generated == out + drops` once its queues are flushed (they are
//! flushed after every call); for every port, rx: `rx_packets == delivered + rx drops` and
//! tx: `offered == tx_packets + tx drops`. [`Graph::conservation_errors`] checks all of it.
//! A graph is one worker's share of the topology: elements on it pass batches by direct
//! hand-off, and an edge to another worker is a ring port ([`crate::port::ring`], built by
//! [`crate::pipeline`]) without any change to `Element` (it only ever sees `Outputs`).

use std::collections::VecDeque;
use std::time::Duration;

use crate::capture::{CaptureTap, Direction};
use crate::element::{
    Context, DropCounters, DropReason, Element, GateSpec, InputGate, Outputs, Table,
};
use crate::packet::{Batch, PacketPool};
use crate::port::{Port, PortError, PortStats};
use crate::time::Instant;
use crate::trace::{Event, Filter, TraceLog, Tracer};

/// Upper bound on element batches processed per [`Graph::poll`] round.
pub const MAX_BATCHES_PER_ROUND: usize = 4096;

/// Index of a port in its graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PortId(pub u16);

/// Index of an element in its graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ElementId(pub u16);

/// One end of an edge: a port, or a gate of an element.
/// As a source, a port means its rx and a gate means an output gate; as a destination, a
/// port means its tx and a gate means an input gate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// A port.
    Port(PortId),
    /// Gate number of an element.
    Gate(ElementId, u16),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    None,
    Port(u16),
    Element(u16, u16),
}

/// Errors wiring a graph. These are programming or validation bugs upstream of the graph
/// (the config layer already rejects such topologies), reported rather than panicked.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GraphError {
    /// The port or element id does not exist.
    #[error("{0:?} does not exist")]
    NoSuchNode(Endpoint),
    /// The gate number is outside the element's [`GateSpec`].
    #[error("element {name:?} has no {dir} gate {gate}")]
    NoSuchGate {
        /// Element name.
        name: String,
        /// "input" or "output".
        dir: &'static str,
        /// The gate asked for.
        gate: u16,
    },
    /// Each source feeds exactly one destination (fan-out is an element's job).
    #[error("{0:?} is already connected")]
    AlreadyConnected(Endpoint),
    /// More than 65535 ports or elements.
    #[error("too many nodes")]
    TooMany,
}

struct PortSlot {
    name: String,
    port: Box<dyn Port>,
    rx_to: Target,
    rx_delivered: u64,
    tx_offered: u64,
    /// Drops the runner counts for this port (rx with nothing connected).
    runner_drops: DropCounters,
    /// An armed packet capture ([`crate::capture`]); checked once per burst.
    capture: Option<Box<CaptureTap>>,
}

struct ElemSlot {
    name: String,
    elem: Box<dyn Element>,
    spec: GateSpec,
    out: Outputs,
    out_to: Vec<Target>,
    in_packets: u64,
    generated: u64,
    out_packets: Vec<u64>,
    runner_drops: DropCounters,
    tick_every: Option<Duration>,
    next_tick: Instant,
}

/// Builds a [`Graph`].
pub struct GraphBuilder {
    pool: PacketPool,
    ports: Vec<PortSlot>,
    elements: Vec<ElemSlot>,
}

impl std::fmt::Debug for GraphBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphBuilder")
            .field("ports", &self.ports.len())
            .field("elements", &self.elements.len())
            .finish()
    }
}

impl GraphBuilder {
    /// An empty graph whose packets come from `pool`.
    pub fn new(pool: PacketPool) -> GraphBuilder {
        GraphBuilder {
            pool,
            ports: Vec::new(),
            elements: Vec::new(),
        }
    }

    /// Add a port named `name` (the topology's `node` or `node:iface`).
    ///
    /// # Errors
    /// [`GraphError::TooMany`] past 65535 ports.
    pub fn add_port(
        &mut self,
        name: impl Into<String>,
        port: Box<dyn Port>,
    ) -> Result<PortId, GraphError> {
        let id = u16::try_from(self.ports.len()).map_err(|_| GraphError::TooMany)?;
        self.ports.push(PortSlot {
            name: name.into(),
            port,
            rx_to: Target::None,
            rx_delivered: 0,
            tx_offered: 0,
            runner_drops: DropCounters::default(),
            capture: None,
        });
        Ok(PortId(id))
    }

    /// Add an element named `name`.
    ///
    /// # Errors
    /// [`GraphError::TooMany`] past 65535 elements.
    pub fn add_element(
        &mut self,
        name: impl Into<String>,
        elem: Box<dyn Element>,
    ) -> Result<ElementId, GraphError> {
        let id = u16::try_from(self.elements.len()).map_err(|_| GraphError::TooMany)?;
        let spec = elem.gates();
        let tick_every = elem.tick_interval();
        self.elements.push(ElemSlot {
            name: name.into(),
            spec,
            out: Outputs::with_reasons(spec.outputs, elem.drop_reasons()),
            out_to: vec![Target::None; spec.outputs as usize],
            in_packets: 0,
            generated: 0,
            out_packets: vec![0; spec.outputs as usize],
            runner_drops: DropCounters::default(),
            tick_every,
            next_tick: Instant::ZERO,
            elem,
        });
        Ok(ElementId(id))
    }

    fn check(&self, ep: Endpoint, dir: &'static str) -> Result<(), GraphError> {
        match ep {
            Endpoint::Port(p) if (p.0 as usize) < self.ports.len() => Ok(()),
            Endpoint::Gate(e, g) => {
                let slot = self
                    .elements
                    .get(e.0 as usize)
                    .ok_or(GraphError::NoSuchNode(ep))?;
                let n = if dir == "output" {
                    slot.spec.outputs
                } else {
                    slot.spec.inputs
                };
                if g < n {
                    Ok(())
                } else {
                    Err(GraphError::NoSuchGate {
                        name: slot.name.clone(),
                        dir,
                        gate: g,
                    })
                }
            }
            Endpoint::Port(_) => Err(GraphError::NoSuchNode(ep)),
        }
    }

    /// Send everything leaving `from` (port rx or element output gate) to `to` (port tx or
    /// element input gate).
    ///
    /// # Errors
    /// Unknown node or gate, or `from` already connected.
    pub fn connect(&mut self, from: Endpoint, to: Endpoint) -> Result<(), GraphError> {
        self.check(from, "output")?;
        self.check(to, "input")?;
        let target = match to {
            Endpoint::Port(p) => Target::Port(p.0),
            Endpoint::Gate(e, g) => Target::Element(e.0, g),
        };
        let slot = match from {
            Endpoint::Port(p) => &mut self.ports[p.0 as usize].rx_to,
            Endpoint::Gate(e, g) => &mut self.elements[e.0 as usize].out_to[g as usize],
        };
        if *slot != Target::None {
            return Err(GraphError::AlreadyConnected(from));
        }
        *slot = target;
        Ok(())
    }

    /// A bidirectional link: `a → b` and `b → a` (an element end uses the same number for its
    /// input and output gate, as a switch port does).
    ///
    /// # Errors
    /// As [`GraphBuilder::connect`].
    pub fn link(&mut self, a: Endpoint, b: Endpoint) -> Result<(), GraphError> {
        self.connect(a, b)?;
        self.connect(b, a)
    }

    /// Finish building.
    pub fn build(self) -> Graph {
        Graph {
            pool: self.pool,
            ports: self.ports,
            elements: self.elements,
            queue: VecDeque::with_capacity(256),
            tracer: Tracer::default(),
        }
    }
}

/// A runnable graph. Owned by one worker thread.
pub struct Graph {
    pool: PacketPool,
    ports: Vec<PortSlot>,
    elements: Vec<ElemSlot>,
    queue: VecDeque<(u16, u16, Batch)>,
    /// The packet trace ([`crate::trace`]); off (one check per rx burst) unless armed.
    tracer: Tracer,
}

impl std::fmt::Debug for Graph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Graph")
            .field("ports", &self.ports.len())
            .field("elements", &self.elements.len())
            .finish()
    }
}

/// Counters of one port, for reports.
#[derive(Clone, Debug)]
pub struct PortReport {
    /// Port name given at `add_port`.
    pub name: String,
    /// Interface name.
    pub ifname: String,
    /// The port's own counters, with the runner's drops (e.g. `no_output`) merged in.
    pub stats: PortStats,
}

/// Counters of one element, for reports.
#[derive(Clone, Debug)]
pub struct ElementReport {
    /// Element name given at `add_element`.
    pub name: String,
    /// Its kind.
    pub kind: &'static str,
    /// Packets handed to it.
    pub in_packets: u64,
    /// Packets it made (copies, replies).
    pub generated: u64,
    /// Packets it sent, per output gate, with the gate's name.
    pub out_packets: Vec<(String, u64)>,
    /// Packets it dropped, by reason.
    pub drops: DropCounters,
    /// Packets delivered to the element itself.
    pub consumed: u64,
    /// Packets it holds right now (waiting for ARP …).
    pub held: u64,
    /// Element-specific counters.
    pub counters: Vec<(&'static str, u64)>,
    /// What they are (counter or gauge, help): [`Element::counter_info`].
    pub counter_info: &'static [crate::element::CounterInfo],
}

/// Counters of a whole graph.
#[derive(Clone, Debug, Default)]
pub struct GraphReport {
    /// Per port.
    pub ports: Vec<PortReport>,
    /// Per element.
    pub elements: Vec<ElementReport>,
    /// Rings to other workers that this graph feeds (each ring is reported by its producer).
    pub rings: Vec<crate::port::ring::RingReport>,
}

impl GraphReport {
    /// The reports of several workers as one (each node is on exactly one worker).
    pub fn merge(reports: impl IntoIterator<Item = GraphReport>) -> GraphReport {
        let mut all = GraphReport::default();
        for r in reports {
            all.ports.extend(r.ports);
            all.elements.extend(r.elements);
            all.rings.extend(r.rings);
        }
        all
    }
}

/// The tables of one element ([`Element::tables`]).
#[derive(Clone, Debug)]
pub struct ElementTables {
    /// Element name given at `add_element`.
    pub name: String,
    /// Its kind.
    pub kind: &'static str,
    /// Its tables.
    pub tables: Vec<Table>,
}

/// Result of one port poll.
#[derive(Debug)]
pub struct PollResult {
    /// Packets received this round over all ports.
    pub received: usize,
    /// Non-empty rx bursts this round (ports that had at least one packet).
    pub batches: usize,
    /// Errors from ports, with the port index (the worker logs them, rate-limited, and
    /// continues).
    pub errors: Vec<(usize, PortError)>,
}

fn deliver(
    ports: &mut [PortSlot],
    queue: &mut VecDeque<(u16, u16, Batch)>,
    target: Target,
    mut batch: Batch,
    source_drops: &mut DropCounters,
) {
    match target {
        Target::None => source_drops.add(DropReason::NoOutput, batch.len() as u64),
        Target::Port(p) => {
            let slot = &mut ports[p as usize];
            slot.tx_offered += batch.len() as u64;
            if let Some(tap) = &slot.capture
                && !tap.record(Direction::Tx, &batch)
            {
                slot.capture = None;
            }
            slot.port.tx_burst(&mut batch);
        }
        Target::Element(e, g) => queue.push_back((e, g, batch)),
    }
}

/// Move everything an element queued on its output gates to their targets.
fn flush(
    slot: &mut ElemSlot,
    ports: &mut [PortSlot],
    queue: &mut VecDeque<(u16, u16, Batch)>,
    tracer: &mut Tracer,
) {
    for gate in 0..slot.out_to.len() {
        let target = slot.out_to[gate];
        let Some(q) = slot.out.queue_mut(gate) else {
            continue;
        };
        if q.is_empty() {
            continue;
        }
        // A gate wired to nothing: its packets are `no_output` drops (counted by `deliver`),
        // not output — counting both would break `in + generated == out + dropped`.
        if target != Target::None {
            slot.out_packets[gate] += q.len() as u64;
        }
        let mut batch = Batch::new();
        for pkt in q.drain(..) {
            if pkt.meta.trace != 0 {
                trace_out(
                    tracer,
                    &slot.name,
                    &*slot.elem,
                    gate,
                    target,
                    ports,
                    pkt.meta.trace,
                );
            }
            if let Err(pkt) = batch.push(pkt) {
                let full = std::mem::take(&mut batch);
                deliver(ports, queue, target, full, &mut slot.runner_drops);
                let _ = batch.push(pkt);
            }
        }
        deliver(ports, queue, target, batch, &mut slot.runner_drops);
    }
}

/// A received burst while a trace is armed: give matching packets a trace id.
#[cold]
fn trace_rx(tracer: &mut Tracer, ports: &[PortSlot], i: usize, target: Target, batch: &mut Batch) {
    let name = &ports[i].name;
    for pkt in batch.iter_mut() {
        pkt.meta.trace = tracer.on_rx(pkt.data(), name);
        if pkt.meta.trace != 0 {
            match target {
                Target::Port(p) => {
                    tracer.finish(pkt.meta.trace, &ports[p as usize].name, "tx".into())
                }
                Target::None => tracer.finish(
                    pkt.meta.trace,
                    name,
                    format!("drop: {}", DropReason::NoOutput),
                ),
                Target::Element(..) => {}
            }
        }
    }
}

#[cold]
fn trace_in(tracer: &mut Tracer, slot: &ElemSlot, id: u16, gate: u16) {
    tracer.line(
        id,
        &slot.name,
        format!(
            "{}: in gate {}",
            slot.elem.kind(),
            slot.elem.gate_name(gate)
        ),
    );
}

/// Packets an element generated and what it noted about traced packets.
#[inline]
fn trace_events(tracer: &mut Tracer, slot: &mut ElemSlot, ctx: &mut Context) {
    if let Some(parents) = ctx.take_trace_generated() {
        for parent in parents {
            tracer.on_generated(&slot.name, parent);
        }
    }
    if slot.out.has_trace() {
        for ev in slot.out.take_trace() {
            match ev {
                Event::Note(id, text) => tracer.line(id, &slot.name, text),
                Event::Drop(id, r) => {
                    let r = slot.out.drops().info(r);
                    tracer.finish(id, &slot.name, format!("drop: {r}"))
                }
                Event::Consumed(id) => {
                    tracer.finish(id, &slot.name, "consumed (for the node itself)".into())
                }
            }
        }
    }
}

#[cold]
fn trace_out(
    tracer: &mut Tracer,
    name: &str,
    elem: &dyn Element,
    gate: usize,
    target: Target,
    ports: &[PortSlot],
    id: u16,
) {
    let gname = elem.gate_name(gate as u16);
    match target {
        Target::Element(..) => tracer.line(id, name, format!("out gate {gname}")),
        Target::Port(p) => {
            tracer.line(id, name, format!("out gate {gname}"));
            tracer.finish(id, &ports[p as usize].name, "tx".into());
        }
        Target::None => tracer.finish(
            id,
            name,
            format!("out gate {gname}: drop: {}", DropReason::NoOutput),
        ),
    }
}

impl Graph {
    /// Start a packet trace of the next `count` received packets matching `filter`
    /// ([`crate::trace`]); forgets the previous one.
    pub fn arm_trace(&mut self, filter: Filter, count: u32) {
        self.tracer.arm(filter, count);
    }

    /// The packet trace so far.
    pub fn trace_log(&self) -> TraceLog {
        self.tracer.log()
    }

    /// The packet pool.
    pub fn pool(&self) -> PacketPool {
        self.pool
    }

    /// Number of ports.
    pub fn port_count(&self) -> usize {
        self.ports.len()
    }

    /// The rx fds of every port (index = port id), for the worker's epoll.
    pub fn rx_fds(&self) -> Vec<Option<std::os::fd::RawFd>> {
        self.ports.iter().map(|p| p.port.rx_fd()).collect()
    }

    /// One round: read up to a burst from every port and push everything through.
    /// Returns the number of packets received.
    pub fn poll(&mut self, now: Instant) -> PollResult {
        let mut received = 0;
        let mut batches = 0;
        let mut errors = Vec::new();
        for i in 0..self.ports.len() {
            let slot = &mut self.ports[i];
            let mut batch = Batch::new();
            let res = slot.port.rx_burst(&self.pool, &mut batch);
            if let Err(e) = res {
                errors.push((i, e));
            }
            if batch.is_empty() {
                continue;
            }
            received += batch.len();
            batches += 1;
            slot.rx_delivered += batch.len() as u64;
            if let Some(tap) = &slot.capture
                && !tap.record(Direction::Rx, &batch)
            {
                slot.capture = None;
            }
            for pkt in batch.iter_mut() {
                pkt.meta.rx_port = i as u16;
            }
            let target = slot.rx_to;
            if self.tracer.armed() {
                trace_rx(&mut self.tracer, &self.ports, i, target, &mut batch);
            }
            let Graph { ports, queue, .. } = self;
            let mut drops = DropCounters::default();
            deliver(ports, queue, target, batch, &mut drops);
            ports[i].runner_drops.merge(&drops);
            self.run_queue(now);
        }
        if !self.queue.is_empty() {
            self.run_queue(now);
        }
        PollResult {
            received,
            batches,
            errors,
        }
    }

    /// Hand `batch` to an element's input gate (or a port's tx) as if it had arrived there,
    /// and run the graph until it is quiet. For tests and packet injection.
    ///
    /// # Errors
    /// [`GraphError`] for an unknown endpoint.
    pub fn inject(&mut self, to: Endpoint, batch: Batch, now: Instant) -> Result<(), GraphError> {
        let target = match to {
            Endpoint::Port(p) if (p.0 as usize) < self.ports.len() => Target::Port(p.0),
            Endpoint::Gate(e, g)
                if self
                    .elements
                    .get(e.0 as usize)
                    .is_some_and(|s| g < s.spec.inputs) =>
            {
                Target::Element(e.0, g)
            }
            _ => return Err(GraphError::NoSuchNode(to)),
        };
        let mut drops = DropCounters::default();
        deliver(&mut self.ports, &mut self.queue, target, batch, &mut drops);
        self.run_queue(now);
        Ok(())
    }

    fn run_queue(&mut self, now: Instant) {
        let mut ctx = Context::new(now, self.pool);
        let Graph {
            ports,
            elements,
            queue,
            tracer,
            ..
        } = self;
        let mut budget = MAX_BATCHES_PER_ROUND;
        while budget > 0 {
            let Some((e, g, batch)) = queue.pop_front() else {
                break;
            };
            budget -= 1;
            let slot = &mut elements[e as usize];
            slot.in_packets += batch.len() as u64;
            let mut traced = 0;
            for pkt in batch.iter() {
                if pkt.meta.trace != 0 {
                    traced = pkt.meta.trace;
                    trace_in(tracer, slot, traced, g);
                }
            }
            ctx.set_trace(traced, tracer.next_id());
            slot.elem
                .process(&mut ctx, InputGate(g), batch, &mut slot.out);
            slot.generated += ctx.take_generated();
            trace_events(tracer, slot, &mut ctx);
            flush(slot, ports, queue, tracer);
        }
    }

    /// Run the `tick` of every element that is due. Returns the earliest next due time.
    pub fn run_timers(&mut self, now: Instant) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        let mut ctx = Context::new(now, self.pool);
        for i in 0..self.elements.len() {
            let Graph {
                ports,
                elements,
                queue,
                tracer,
                ..
            } = self;
            let slot = &mut elements[i];
            let Some(every) = slot.tick_every else {
                continue;
            };
            if now >= slot.next_tick {
                ctx.set_trace(0, tracer.next_id());
                slot.elem.tick(&mut ctx, &mut slot.out);
                slot.generated += ctx.take_generated();
                trace_events(tracer, slot, &mut ctx);
                flush(slot, ports, queue, tracer);
                slot.next_tick = now + every;
            }
            next = Some(next.map_or(slot.next_tick, |n| n.min(slot.next_tick)));
        }
        if !self.queue.is_empty() {
            self.run_queue(now);
        }
        next
    }

    /// Ask every port whether the worker may sleep now ([`Port::prepare_sleep`]). False if
    /// one has work waiting; then every port is told the worker stays awake.
    pub fn prepare_sleep(&mut self) -> bool {
        let mut ok = true;
        for p in &mut self.ports {
            ok &= p.port.prepare_sleep();
        }
        if !ok {
            self.woke();
        }
        ok
    }

    /// Tell every port the worker is awake again ([`Port::woke`]).
    pub fn woke(&mut self) {
        for p in &mut self.ports {
            p.port.woke();
        }
    }

    /// True when batches are waiting in the work queue (a round hit its budget).
    pub fn has_pending_work(&self) -> bool {
        !self.queue.is_empty()
    }

    /// The tables of every element, or only of the element called `node`.
    pub fn tables(&self, now: Instant, node: Option<&str>) -> Vec<ElementTables> {
        self.elements
            .iter()
            .filter(|e| node.is_none_or(|n| n == e.name))
            .map(|e| {
                let mut tables = Vec::new();
                e.elem.tables(now, &mut |t| tables.push(t));
                ElementTables {
                    name: e.name.clone(),
                    kind: e.elem.kind(),
                    tables,
                }
            })
            .collect()
    }

    /// The element called `name` (as given to `add_element`), to inject packets at one of
    /// its gates.
    #[must_use]
    pub fn element_id(&self, name: &str) -> Option<ElementId> {
        let i = self.elements.iter().position(|e| e.name == name)?;
        u16::try_from(i).ok().map(ElementId)
    }

    /// Every counter of every port and element.
    pub fn report(&self) -> GraphReport {
        let rings = self
            .ports
            .iter()
            .filter_map(|p| p.port.ring_report())
            .collect();
        let ports = self
            .ports
            .iter()
            .filter(|p| !p.port.is_ring())
            .map(|p| {
                let mut stats = p.port.stats();
                stats.drops.merge(&p.runner_drops);
                if let Some(k) = p.port.kernel_drops() {
                    (stats.kernel_rx_drops, stats.kernel_tx_drops) = (k.rx, k.tx);
                }
                PortReport {
                    name: p.name.clone(),
                    ifname: p.port.name().to_string(),
                    stats,
                }
            })
            .collect();
        let elements = self
            .elements
            .iter()
            .map(|e| {
                let mut drops = *e.out.drops();
                drops.merge(&e.runner_drops);
                let mut counters = Vec::new();
                e.elem.counters(&mut |k, v| counters.push((k, v)));
                ElementReport {
                    name: e.name.clone(),
                    kind: e.elem.kind(),
                    in_packets: e.in_packets,
                    generated: e.generated,
                    out_packets: e
                        .out_packets
                        .iter()
                        .enumerate()
                        .map(|(g, n)| (e.elem.gate_name(g as u16), *n))
                        .collect(),
                    drops,
                    consumed: e.out.consumed(),
                    held: e.elem.held(),
                    counters,
                    counter_info: e.elem.counter_info(),
                }
            })
            .collect();
        GraphReport {
            ports,
            elements,
            rings,
        }
    }

    /// Check packet conservation for every node; empty when every packet is accounted for.
    pub fn conservation_errors(&self) -> Vec<String> {
        let mut errs = Vec::new();
        for e in &self.elements {
            let out: u64 = e.out_packets.iter().sum();
            let drops = e.out.drops().total() + e.runner_drops.total();
            let (consumed, held) = (e.out.consumed(), e.elem.held());
            if e.in_packets + e.generated != out + drops + consumed + held {
                errs.push(format!(
                    "element {}: in {} + generated {} != out {} + dropped {} + consumed {} + held {}",
                    e.name, e.in_packets, e.generated, out, drops, consumed, held
                ));
            }
        }
        for p in &self.ports {
            let s = p.port.stats();
            let rx_drops =
                s.drops.get(DropReason::RxTruncated) + s.drops.get(DropReason::Malformed);
            let tx_drops = s.drops.total() - rx_drops;
            if s.rx_packets != p.rx_delivered + rx_drops {
                errs.push(format!(
                    "port {}: rx {} != delivered {} + rx drops {}",
                    p.name, s.rx_packets, p.rx_delivered, rx_drops
                ));
            }
            if p.tx_offered != s.tx_packets + tx_drops {
                errs.push(format!(
                    "port {}: offered {} != tx {} + tx drops {}",
                    p.name, p.tx_offered, s.tx_packets, tx_drops
                ));
            }
        }
        if !self.queue.is_empty() {
            errs.push(format!("{} batches still queued", self.queue.len()));
        }
        errs
    }

    /// Arm `tap` on the port named `name` (replacing any capture there). False if there is
    /// no such port.
    pub fn set_capture(&mut self, name: &str, tap: CaptureTap) -> bool {
        match self.ports.iter_mut().find(|p| p.name == name) {
            Some(p) => {
                p.capture = Some(Box::new(tap));
                true
            }
            None => false,
        }
    }

    /// Name of a port.
    pub fn port_name(&self, id: usize) -> &str {
        self.ports.get(id).map_or("?", |p| p.name.as_str())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::testing::{BROADCAST, QueuePort, eth, mac};

    /// Bump in the wire: input 0 → output 1, input 1 → output 0. Frames under 14 bytes are
    /// `malformed`; broadcast frames are duplicated (one generated copy) to test accounting.
    struct Wire;

    impl Element for Wire {
        fn kind(&self) -> &'static str {
            "wire"
        }
        fn gates(&self) -> GateSpec {
            GateSpec {
                inputs: 2,
                outputs: 2,
            }
        }
        fn process(
            &mut self,
            ctx: &mut Context,
            input: InputGate,
            batch: Batch,
            out: &mut Outputs,
        ) {
            let to = crate::OutputGate(1 - input.0);
            for p in batch {
                if p.len() < 14 {
                    out.drop(p, DropReason::Malformed);
                    continue;
                }
                if p.data()[0] == 0xff
                    && let Some(c) = ctx.clone_packet(&p)
                {
                    out.emit(to, c);
                }
                out.emit(to, p);
            }
        }
    }

    fn port(gb: &mut GraphBuilder, name: &str) -> (QueuePort, PortId) {
        let q = QueuePort::new(name);
        let id = gb.add_port(name, Box::new(q.clone())).unwrap();
        (q, id)
    }

    #[test]
    fn graph_chains_elements_and_ports_and_conserves_packets() {
        let pool = PacketPool::new(256, 2048);
        let mut gb = GraphBuilder::new(pool);
        let (a, pa) = port(&mut gb, "a");
        let (b, pb) = port(&mut gb, "b");
        let (_c, _pc) = port(&mut gb, "c"); // linked to nothing
        let w1 = gb.add_element("w1", Box::new(Wire)).unwrap();
        let w2 = gb.add_element("w2", Box::new(Wire)).unwrap();
        gb.link(Endpoint::Port(pa), Endpoint::Gate(w1, 0)).unwrap();
        gb.link(Endpoint::Gate(w1, 1), Endpoint::Gate(w2, 0))
            .unwrap();
        gb.link(Endpoint::Gate(w2, 1), Endpoint::Port(pb)).unwrap();
        let mut g = gb.build();

        let unicast = eth(mac(2), mac(1), 0x0800, b"hello");
        for _ in 0..40 {
            a.push_rx(&unicast); // more than one burst
        }
        a.push_rx(&[1, 2, 3]); // malformed at w1
        a.push_rx(&eth(BROADCAST, mac(1), 0x0806, b"")); // doubled by w1, then by w2
        _c.push_rx(&unicast); // nowhere to go
        b.push_rx(&unicast); // the other way

        for _ in 0..3 {
            g.poll(Instant::ZERO);
        }
        let at_b = b.take_tx();
        assert_eq!(at_b.len(), 40 + 4, "40 unicast + broadcast x2 x2");
        assert!(at_b.iter().take(32).all(|f| *f == unicast));
        assert_eq!(a.take_tx(), vec![unicast.clone()]);
        assert!(
            g.conservation_errors().is_empty(),
            "{:?}",
            g.conservation_errors()
        );

        let r = g.report();
        let w1r = &r.elements[0];
        assert_eq!(w1r.in_packets, 43);
        assert_eq!(w1r.generated, 1);
        assert_eq!(w1r.drops.get(DropReason::Malformed), 1);
        assert_eq!(r.ports[2].stats.drops.get(DropReason::NoOutput), 1);
        assert_eq!(pool.available(), 256, "every buffer back in the pool");
    }

    #[test]
    fn graph_rejects_bad_wiring() {
        let pool = PacketPool::new(4, 128);
        let mut gb = GraphBuilder::new(pool);
        let (_a, pa) = port(&mut gb, "a");
        let w = gb.add_element("w", Box::new(Wire)).unwrap();
        assert!(matches!(
            gb.connect(Endpoint::Port(pa), Endpoint::Gate(w, 2)),
            Err(GraphError::NoSuchGate { .. })
        ));
        gb.connect(Endpoint::Port(pa), Endpoint::Gate(w, 0))
            .unwrap();
        assert_eq!(
            gb.connect(Endpoint::Port(pa), Endpoint::Gate(w, 1)),
            Err(GraphError::AlreadyConnected(Endpoint::Port(pa)))
        );
        assert!(
            gb.connect(Endpoint::Port(PortId(9)), Endpoint::Gate(w, 1))
                .is_err()
        );
    }

    #[test]
    fn graph_loop_of_elements_cannot_stall_the_worker() {
        // w1 and w2 wired in a ring both ways: a broadcast is doubled forever. Each poll
        // must return (bounded work), the pool bounds the copies, and accounting holds.
        let pool = PacketPool::new(64, 256);
        let mut gb = GraphBuilder::new(pool);
        let (a, pa) = port(&mut gb, "a");
        let w1 = gb.add_element("w1", Box::new(Wire)).unwrap();
        let w2 = gb.add_element("w2", Box::new(Wire)).unwrap();
        gb.connect(Endpoint::Port(pa), Endpoint::Gate(w1, 0))
            .unwrap();
        gb.connect(Endpoint::Gate(w1, 1), Endpoint::Gate(w2, 0))
            .unwrap();
        gb.connect(Endpoint::Gate(w2, 1), Endpoint::Gate(w1, 0))
            .unwrap();
        let mut g = gb.build();
        a.push_rx(&eth(BROADCAST, mac(1), 0x0806, b""));
        g.poll(Instant::ZERO);
        assert!(
            g.has_pending_work(),
            "the loop is still going, but poll returned"
        );
        assert!(pool.available() < 64);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod unwired_gate_tests {
    use super::*;
    use crate::testing::{QueuePort, eth, mac};

    /// Emits everything on output gate 1, which the test leaves unwired.
    struct ToGate1;

    impl Element for ToGate1 {
        fn kind(&self) -> &'static str {
            "to_gate_1"
        }
        fn gates(&self) -> GateSpec {
            GateSpec {
                inputs: 1,
                outputs: 2,
            }
        }
        fn process(&mut self, _: &mut Context, _: InputGate, batch: Batch, out: &mut Outputs) {
            for p in batch {
                out.emit(crate::OutputGate(1), p);
            }
        }
    }

    #[test]
    fn packets_sent_to_an_unwired_gate_are_no_output_drops_not_output() {
        let pool = PacketPool::new(16, 256);
        let mut gb = GraphBuilder::new(pool);
        let q = QueuePort::new("a");
        let pa = gb.add_port("a", Box::new(q.clone())).unwrap();
        let e = gb.add_element("e", Box::new(ToGate1)).unwrap();
        gb.connect(Endpoint::Port(pa), Endpoint::Gate(e, 0))
            .unwrap();
        let mut g = gb.build();
        for _ in 0..3 {
            q.push_rx(&eth(mac(2), mac(1), 0x0800, b""));
        }
        g.poll(Instant::ZERO);
        let r = g.report();
        assert_eq!(
            r.elements[0]
                .out_packets
                .iter()
                .map(|(_, n)| n)
                .sum::<u64>(),
            0
        );
        assert_eq!(r.elements[0].drops.get(DropReason::NoOutput), 3);
        assert!(
            g.conservation_errors().is_empty(),
            "{:?}",
            g.conservation_errors()
        );
        assert_eq!(pool.available(), 16);
    }
}
