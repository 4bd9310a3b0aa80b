//! Several workers: placing ports and elements on worker threads and turning the edges
//! between workers into rings.
//!
//! [`PipelineBuilder`] takes the same calls as [`GraphBuilder`] plus an optional worker per
//! node, and [`PipelineBuilder::build`] returns one [`Graph`] per worker. Each node lives on
//! exactly one worker; an edge between two nodes on the same worker is a direct hand-off of
//! a batch (as in a single graph), an edge between workers becomes a [`ring`]: a
//! [`RingTx`](crate::port::ring::RingTx) port on the sending worker and a
//! [`RingRx`](crate::port::ring::RingRx) port on the receiving one.
//!
//! # Placement
//! A node with an explicit worker goes there. The others are placed automatically:
//! * **Ports first, spread evenly** (each to the worker with the least load so far). A TAP
//!   port costs a `read` or `write` syscall per frame (~1–3 µs here), an element ~20–300 ns
//!   per packet, so the ports are what a worker's time goes to.
//! * **Then each element, to the worker holding most of its already placed neighbours**
//!   (fewest rings to cross), ties to the least loaded worker, then the lowest number.
//!   Load counts a port as [`PORT_WEIGHT`] elements.
//!
//! # State
//! A function instance (a switch's FDB, a NAT's sessions, a firewall's flows) lives on one
//! worker and is only ever touched by that worker's thread: both directions of every flow
//! meet the same state because there is one copy of it, and no lock or atomic guards it.
//! Scaling *one* function beyond a core (replicas with symmetric flow steering, per-replica
//! NAT port ranges) is not done; scaling comes from spreading ports and functions over
//! workers, and from several queues of one TAP (each queue a port of its own).
//!
//! # Accounting
//! Every worker's graph keeps its own conservation (rings are ports); a ring adds
//! `enqueued == dequeued + occupancy` with its full drops counted on the producing side.
//! [`Pipeline::conservation_errors`] checks all of it once the workers have stopped.

use crate::element::Element;
use crate::graph::{ElementId, Endpoint, Graph, GraphBuilder, GraphError, PortId};
use crate::packet::PacketPool;
use crate::port::Port;
use crate::port::ring::{DEFAULT_RING_CAPACITY, RingReport, ring};

/// Placement weight of a port relative to an element (see the module docs).
pub const PORT_WEIGHT: usize = 10;

/// Errors building a pipeline.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// Wiring a worker's graph failed (a node or gate that does not exist, a source
    /// connected twice).
    #[error(transparent)]
    Graph(#[from] GraphError),
    /// A node was pinned to a worker that does not exist.
    #[error("node {node:?} is placed on worker {worker}, but there are only {workers} workers")]
    NoSuchWorker {
        /// Node name.
        node: String,
        /// Worker asked for.
        worker: usize,
        /// Number of workers.
        workers: usize,
    },
    /// A ring's eventfd could not be created.
    #[error("couldn't create a ring between workers: {0}")]
    Ring(#[source] std::io::Error),
}

/// Where a node was placed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    /// Node name (a port's `node:iface`, an element's name).
    pub name: String,
    /// True for a port, false for an element.
    pub is_port: bool,
    /// Worker number.
    pub worker: usize,
}

struct PortNode {
    name: String,
    /// One port, or the queues of one multiqueue device (queue 0 first).
    queues: Vec<Box<dyn Port>>,
    worker: Option<usize>,
}

struct ElemNode {
    name: String,
    elem: Box<dyn Element>,
    worker: Option<usize>,
}

/// Builds a [`Pipeline`]: a graph split over `workers` worker threads.
pub struct PipelineBuilder {
    pool: PacketPool,
    workers: usize,
    ring_capacity: usize,
    ports: Vec<PortNode>,
    elements: Vec<ElemNode>,
    edges: Vec<(Endpoint, Endpoint)>,
}

impl std::fmt::Debug for PipelineBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipelineBuilder")
            .field("workers", &self.workers)
            .field("ports", &self.ports.len())
            .field("elements", &self.elements.len())
            .finish()
    }
}

/// One graph per worker, and where every node went.
pub struct Pipeline {
    /// Graph of worker `i` at index `i`.
    pub graphs: Vec<Graph>,
    /// Every port and element with its worker, ports first, in the order added.
    pub placement: Vec<Placement>,
    /// Names of the rings created (`from -> to`).
    pub rings: Vec<String>,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("workers", &self.graphs.len())
            .field("rings", &self.rings)
            .finish()
    }
}

impl PipelineBuilder {
    /// An empty pipeline over `workers` workers (at least one), packets from `pool`.
    pub fn new(pool: PacketPool, workers: usize) -> PipelineBuilder {
        PipelineBuilder {
            pool,
            workers: workers.max(1),
            ring_capacity: DEFAULT_RING_CAPACITY,
            ports: Vec::new(),
            elements: Vec::new(),
            edges: Vec::new(),
        }
    }

    /// Slots per ring (default [`DEFAULT_RING_CAPACITY`]).
    pub fn ring_capacity(mut self, packets: usize) -> PipelineBuilder {
        self.ring_capacity = packets;
        self
    }

    /// Add a port, on `worker` or placed automatically (`None`).
    ///
    /// # Errors
    /// [`GraphError::TooMany`] past 65535 ports.
    pub fn add_port(
        &mut self,
        name: impl Into<String>,
        port: Box<dyn Port>,
        worker: Option<usize>,
    ) -> Result<PortId, GraphError> {
        self.add_port_queues(name, vec![port], worker)
    }

    /// Add one device read and written through several queues (a multiqueue TAP: the
    /// kernel spreads the flows it sends over the queues, and accepts frames on any of
    /// them). Each queue is a port of its own, placed on its own worker where there are
    /// enough (queue 0 on `worker` if given); every queue's rx feeds what the device is
    /// connected to, and whatever sends to the device writes to the queue on its own
    /// worker, or to queue 0 through a ring when its worker has none. Queue `i > 0` is
    /// named `name/q<i>`.
    ///
    /// # Errors
    /// [`GraphError::TooMany`] past 65535 ports.
    ///
    /// # Panics
    /// If `queues` is empty (a programming error).
    pub fn add_port_queues(
        &mut self,
        name: impl Into<String>,
        queues: Vec<Box<dyn Port>>,
        worker: Option<usize>,
    ) -> Result<PortId, GraphError> {
        assert!(!queues.is_empty(), "a port needs at least one queue");
        let id = u16::try_from(self.ports.len()).map_err(|_| GraphError::TooMany)?;
        self.ports.push(PortNode {
            name: name.into(),
            queues,
            worker,
        });
        Ok(PortId(id))
    }

    /// Add an element, on `worker` or placed automatically (`None`).
    ///
    /// # Errors
    /// [`GraphError::TooMany`] past 65535 elements.
    pub fn add_element(
        &mut self,
        name: impl Into<String>,
        elem: Box<dyn Element>,
        worker: Option<usize>,
    ) -> Result<ElementId, GraphError> {
        let id = u16::try_from(self.elements.len()).map_err(|_| GraphError::TooMany)?;
        self.elements.push(ElemNode {
            name: name.into(),
            elem,
            worker,
        });
        Ok(ElementId(id))
    }

    /// Connect `from` (a port's rx or an element's output gate) to `to` (a port's tx or an
    /// element's input gate). Checked when the pipeline is built.
    pub fn connect(&mut self, from: Endpoint, to: Endpoint) {
        self.edges.push((from, to));
    }

    /// Connect both ways.
    pub fn link(&mut self, a: Endpoint, b: Endpoint) {
        self.connect(a, b);
        self.connect(b, a);
    }

    fn node_of(&self, ep: Endpoint) -> Result<Node, GraphError> {
        match ep {
            Endpoint::Port(p) if usize::from(p.0) < self.ports.len() => Ok(Node::Port(p.0)),
            Endpoint::Gate(e, _) if usize::from(e.0) < self.elements.len() => Ok(Node::Elem(e.0)),
            _ => Err(GraphError::NoSuchNode(ep)),
        }
    }

    /// Decide every node's worker (see the module docs).
    fn place(&self) -> Result<(Vec<Vec<usize>>, Vec<usize>), PipelineError> {
        let n = self.workers;
        let check = |name: &str, w: Option<usize>| match w {
            Some(w) if w >= n => Err(PipelineError::NoSuchWorker {
                node: name.to_string(),
                worker: w,
                workers: n,
            }),
            _ => Ok(w),
        };
        let mut load = vec![0usize; n];
        let mut port_w: Vec<Option<usize>> = Vec::with_capacity(self.ports.len());
        for p in &self.ports {
            let w = check(&p.name, p.worker)?;
            if let Some(w) = w {
                load[w] += PORT_WEIGHT;
            }
            port_w.push(w);
        }
        let mut elem_w: Vec<Option<usize>> = Vec::with_capacity(self.elements.len());
        for e in &self.elements {
            let w = check(&e.name, e.worker)?;
            if let Some(w) = w {
                load[w] += 1;
            }
            elem_w.push(w);
        }
        let least = |load: &[usize], among: &dyn Fn(usize) -> bool| -> usize {
            (0..n)
                .filter(|&w| among(w))
                .min_by_key(|&w| (load[w], w))
                .unwrap_or(0)
        };
        for w in &mut port_w {
            if w.is_none() {
                let chosen = least(&load, &|_| true);
                load[chosen] += PORT_WEIGHT;
                *w = Some(chosen);
            }
        }
        // Further queues of a multiqueue port: each to the least-loaded worker that has no
        // queue of this port yet (any worker once every one has one).
        let mut queue_w: Vec<Vec<usize>> = Vec::with_capacity(self.ports.len());
        for (p, w0) in self.ports.iter().zip(&port_w) {
            let mut ws = vec![w0.unwrap_or(0)];
            for _ in 1..p.queues.len() {
                let free = |w: usize| !ws.contains(&w);
                let chosen = if (0..n).any(free) {
                    least(&load, &free)
                } else {
                    least(&load, &|_| true)
                };
                load[chosen] += PORT_WEIGHT;
                ws.push(chosen);
            }
            queue_w.push(ws);
        }
        for i in 0..self.elements.len() {
            if elem_w[i].is_some() {
                continue;
            }
            let mut near = vec![0usize; n];
            for (a, b) in &self.edges {
                for (me, other) in [(a, b), (b, a)] {
                    if matches!(me, Endpoint::Gate(e, _) if usize::from(e.0) == i) {
                        match self.node_of(*other) {
                            Ok(Node::Port(p)) => {
                                for &w in &queue_w[usize::from(p)] {
                                    near[w] += 1;
                                }
                            }
                            Ok(Node::Elem(e)) => {
                                if let Some(w) = elem_w[usize::from(e)] {
                                    near[w] += 1;
                                }
                            }
                            Err(_) => {}
                        }
                    }
                }
            }
            let best = near.iter().copied().max().unwrap_or(0);
            let chosen = least(&load, &|w| near[w] == best);
            load[chosen] += 1;
            elem_w[i] = Some(chosen);
        }
        Ok((
            queue_w,
            elem_w.into_iter().map(|w| w.unwrap_or(0)).collect(),
        ))
    }

    /// Place the nodes, build one graph per worker and a ring for every edge between
    /// workers.
    ///
    /// # Errors
    /// [`PipelineError`]: a bad worker number, a bad edge, or no eventfd for a ring.
    pub fn build(self) -> Result<Pipeline, PipelineError> {
        let (queue_w, elem_w) = self.place()?;
        let PipelineBuilder {
            pool,
            workers,
            ring_capacity,
            ports,
            elements,
            edges,
        } = self;
        let mut gbs: Vec<GraphBuilder> = (0..workers).map(|_| GraphBuilder::new(pool)).collect();
        let mut placement = Vec::with_capacity(ports.len() + elements.len());
        // Per port, per queue: (worker, local id, name).
        let mut port_local: Vec<Vec<(usize, PortId, String)>> = Vec::with_capacity(ports.len());
        for (p, ws) in ports.into_iter().zip(&queue_w) {
            let mut queues = Vec::with_capacity(ws.len());
            for (q, (port, &w)) in p.queues.into_iter().zip(ws).enumerate() {
                let name = if q == 0 {
                    p.name.clone()
                } else {
                    format!("{}/q{q}", p.name)
                };
                placement.push(Placement {
                    name: name.clone(),
                    is_port: true,
                    worker: w,
                });
                queues.push((w, gbs[w].add_port(name.clone(), port)?, name));
            }
            port_local.push(queues);
        }
        let mut elem_local = Vec::with_capacity(elements.len());
        let mut gate_names: Vec<(String, Vec<String>)> = Vec::new();
        for (e, &w) in elements.into_iter().zip(&elem_w) {
            placement.push(Placement {
                name: e.name.clone(),
                is_port: false,
                worker: w,
            });
            let spec = e.elem.gates();
            // Ring names use gate names; an element names its gates the same both ways.
            let names: Vec<String> = (0..spec.outputs.max(spec.inputs))
                .map(|g| e.elem.gate_name(g))
                .collect();
            gate_names.push((e.name.clone(), names));
            elem_local.push(gbs[w].add_element(e.name, e.elem)?);
        }
        let elem_end = |e: ElementId, g: u16| -> Result<(usize, Endpoint, String), GraphError> {
            let i = usize::from(e.0);
            match (elem_w.get(i), elem_local.get(i)) {
                (Some(&w), Some(&id)) => {
                    let (name, gates) = &gate_names[i];
                    let gate = gates.get(usize::from(g)).cloned().unwrap_or(g.to_string());
                    Ok((w, Endpoint::Gate(id, g), format!("{name}:{gate}")))
                }
                _ => Err(GraphError::NoSuchNode(Endpoint::Gate(e, g))),
            }
        };
        // Sources: every queue of a port (each one's rx), or one element gate.
        let sources = |ep: Endpoint| -> Result<Vec<(usize, Endpoint, String)>, GraphError> {
            match ep {
                Endpoint::Port(p) => port_local
                    .get(usize::from(p.0))
                    .map(|qs| {
                        qs.iter()
                            .map(|(w, id, n)| (*w, Endpoint::Port(*id), n.clone()))
                            .collect()
                    })
                    .ok_or(GraphError::NoSuchNode(ep)),
                Endpoint::Gate(e, g) => elem_end(e, g).map(|x| vec![x]),
            }
        };
        // Destination for a source on worker `from`: the port's queue on that worker, else
        // queue 0; or the element gate.
        let dest = |ep: Endpoint, from: usize| -> Result<(usize, Endpoint, String), GraphError> {
            match ep {
                Endpoint::Port(p) => {
                    let qs = port_local
                        .get(usize::from(p.0))
                        .ok_or(GraphError::NoSuchNode(ep))?;
                    let (w, id, n) = qs.iter().find(|q| q.0 == from).unwrap_or(&qs[0]);
                    Ok((*w, Endpoint::Port(*id), n.clone()))
                }
                Endpoint::Gate(e, g) => elem_end(e, g),
            }
        };
        let mut rings = Vec::new();
        for (from, to) in edges {
            for (wf, lf, nf) in sources(from)? {
                let (wt, lt, nt) = dest(to, wf)?;
                if wf == wt {
                    gbs[wf].connect(lf, lt)?;
                    continue;
                }
                let name = format!("{nf} -> {nt}");
                let (tx, rx) =
                    ring(name.clone(), ring_capacity, wf, wt).map_err(PipelineError::Ring)?;
                let tx_id = gbs[wf].add_port(format!("ring {name}"), Box::new(tx))?;
                gbs[wf].connect(lf, Endpoint::Port(tx_id))?;
                let rx_id = gbs[wt].add_port(format!("ring {name}"), Box::new(rx))?;
                gbs[wt].connect(Endpoint::Port(rx_id), lt)?;
                rings.push(name);
            }
        }
        Ok(Pipeline {
            graphs: gbs.into_iter().map(GraphBuilder::build).collect(),
            placement,
            rings,
        })
    }
}

#[derive(Clone, Copy)]
enum Node {
    Port(u16),
    Elem(u16),
}

impl Pipeline {
    /// Conservation over all workers (run once they have stopped): every graph's own check,
    /// rings included (a ring's producer half is a port whose `offered == enqueued + full
    /// drops`, its consumer half one whose `rx == delivered`), plus every ring drained.
    pub fn conservation_errors(graphs: &[Graph]) -> Vec<String> {
        let mut errs = Vec::new();
        for (w, g) in graphs.iter().enumerate() {
            for e in g.conservation_errors() {
                errs.push(format!("worker {w}: {e}"));
            }
            for r in g.report().rings {
                if r.occupancy() != 0 {
                    errs.push(format!(
                        "ring {}: {} packets enqueued were never dequeued",
                        r.name,
                        r.occupancy()
                    ));
                }
            }
        }
        errs
    }

    /// Every ring's counters (read from the producing side).
    pub fn ring_reports(graphs: &[Graph]) -> Vec<RingReport> {
        graphs.iter().flat_map(|g| g.report().rings).collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::element::{Context, DropReason, GateSpec, InputGate, OutputGate, Outputs};
    use crate::packet::Batch;
    use crate::testing::QueuePort;
    use crate::worker::{self, PollMode, Shutdown};

    /// Two gates; what comes in on one goes out of the other. Frames under 14 bytes are
    /// dropped as malformed (so the test sees element drops too).
    struct Relay;

    impl Element for Relay {
        fn kind(&self) -> &'static str {
            "relay"
        }
        fn gates(&self) -> GateSpec {
            GateSpec {
                inputs: 2,
                outputs: 2,
            }
        }
        fn process(&mut self, _: &mut Context, input: InputGate, batch: Batch, out: &mut Outputs) {
            for p in batch {
                if p.len() < 14 {
                    out.drop(p, DropReason::Malformed);
                } else {
                    out.emit(OutputGate(1 - input.0), p);
                }
            }
        }
        fn gate_name(&self, gate: u16) -> String {
            ["a", "b"][usize::from(gate)].to_string()
        }
    }

    fn frame(tag: u8, seq: u32) -> Vec<u8> {
        let mut f = vec![0u8; 60];
        f[0] = tag;
        f[1..5].copy_from_slice(&seq.to_be_bytes());
        f
    }

    fn placements(b: PipelineBuilder) -> Vec<(String, usize)> {
        b.build()
            .unwrap()
            .placement
            .into_iter()
            .map(|p| (p.name, p.worker))
            .collect()
    }

    #[test]
    fn ports_spread_evenly_and_elements_follow_their_neighbours() {
        let pool = PacketPool::new(64, 64);
        // pc1 - lan - r1 - fw - nat - web, two workers.
        let mut b = PipelineBuilder::new(pool, 2);
        let pc1 = b
            .add_port("pc1", Box::new(QueuePort::new("pc1")), None)
            .unwrap();
        let web = b
            .add_port("web", Box::new(QueuePort::new("web")), None)
            .unwrap();
        let ids: Vec<_> = ["lan", "r1", "fw", "nat"]
            .iter()
            .map(|n| b.add_element(*n, Box::new(Relay), None).unwrap())
            .collect();
        b.link(Endpoint::Port(pc1), Endpoint::Gate(ids[0], 0));
        for w in ids.windows(2) {
            b.link(Endpoint::Gate(w[0], 1), Endpoint::Gate(w[1], 0));
        }
        b.link(Endpoint::Gate(ids[3], 1), Endpoint::Port(web));
        let p = b.build().unwrap();
        let got: Vec<_> = p
            .placement
            .iter()
            .map(|p| (p.name.as_str(), p.worker))
            .collect();
        assert_eq!(
            got,
            [
                ("pc1", 0),
                ("web", 1),
                ("lan", 0),
                ("r1", 0),
                ("fw", 0),
                ("nat", 1)
            ]
        );
        // One crossing, so one ring each way.
        assert_eq!(p.rings, ["fw:b -> nat:a", "nat:a -> fw:b"]);
        assert_eq!(p.graphs.len(), 2);
    }

    #[test]
    fn a_multiqueue_port_spreads_its_queues_and_sends_on_the_local_queue() {
        let pool = PacketPool::new(256, 64);
        let (q0, q1, other) = (
            QueuePort::new("a"),
            QueuePort::new("a1"),
            QueuePort::new("b"),
        );
        let mut b = PipelineBuilder::new(pool, 2);
        let a = b
            .add_port_queues("a", vec![Box::new(q0.clone()), Box::new(q1.clone())], None)
            .unwrap();
        let pb = b.add_port("b", Box::new(other.clone()), Some(0)).unwrap();
        let x = b.add_element("x", Box::new(Relay), Some(0)).unwrap();
        b.link(Endpoint::Port(a), Endpoint::Gate(x, 0));
        b.link(Endpoint::Gate(x, 1), Endpoint::Port(pb));
        let mut p = b.build().unwrap();
        let got: Vec<_> = p
            .placement
            .iter()
            .map(|p| (p.name.as_str(), p.worker))
            .collect();
        // b (pinned) loads worker 0, so queue 0 goes to worker 1 and queue 1 to worker 0.
        assert_eq!(got, [("a", 1), ("a/q1", 0), ("b", 0), ("x", 0)]);
        // Queue 0's rx crosses to x; x sends to a on its own worker's queue: one ring.
        assert_eq!(p.rings, ["a -> x:a"]);
        let now = crate::Instant::ZERO;
        q0.push_rx(&frame(b'q', 1));
        other.push_rx(&frame(b'b', 2));
        for _ in 0..3 {
            for g in &mut p.graphs {
                g.poll(now);
            }
        }
        assert_eq!(
            other.take_tx().len(),
            1,
            "queue 0's frame reached b through the ring"
        );
        assert_eq!(
            q1.take_tx().len(),
            1,
            "b's frame left on queue 1 (x's worker)"
        );
        assert!(q0.take_tx().is_empty());
        assert_eq!(
            Pipeline::conservation_errors(&p.graphs),
            Vec::<String>::new()
        );
    }

    #[test]
    fn explicit_placement_wins_and_a_bad_worker_is_an_error() {
        let pool = PacketPool::new(64, 64);
        let mut b = PipelineBuilder::new(pool, 3);
        b.add_port("a", Box::new(QueuePort::new("a")), Some(2))
            .unwrap();
        b.add_port("b", Box::new(QueuePort::new("b")), None)
            .unwrap();
        b.add_element("x", Box::new(Relay), Some(1)).unwrap();
        assert_eq!(
            placements(b),
            [("a".into(), 2), ("b".into(), 0), ("x".into(), 1)]
        );
        let mut b = PipelineBuilder::new(pool, 2);
        b.add_element("x", Box::new(Relay), Some(2)).unwrap();
        let e = b.build().unwrap_err();
        assert_eq!(
            e.to_string(),
            "node \"x\" is placed on worker 2, but there are only 2 workers"
        );
    }

    #[test]
    fn a_bad_gate_across_workers_is_still_an_error() {
        let pool = PacketPool::new(64, 64);
        let mut b = PipelineBuilder::new(pool, 2);
        let a = b
            .add_port("a", Box::new(QueuePort::new("a")), Some(0))
            .unwrap();
        let x = b.add_element("x", Box::new(Relay), Some(1)).unwrap();
        b.connect(Endpoint::Port(a), Endpoint::Gate(x, 7));
        assert!(matches!(
            b.build(),
            Err(PipelineError::Graph(GraphError::NoSuchGate { .. }))
        ));
    }

    /// Traffic crosses worker boundaries both ways through real worker threads; every frame
    /// arrives once and in order, or is a counted full-ring drop, and all counters balance.
    #[test]
    fn multi_worker_traffic_crosses_rings_and_every_counter_balances_busy() {
        crosses_rings_and_balances(PollMode::Busy);
    }

    /// The same with sleeping workers: a ring's eventfd wakes its consumer.
    #[test]
    fn multi_worker_traffic_crosses_rings_and_every_counter_balances_adaptive() {
        crosses_rings_and_balances(PollMode::Adaptive);
    }

    fn crosses_rings_and_balances(mode: PollMode) {
        const N: u32 = 20_000;
        let pool = PacketPool::new(4096, 128);
        let (a, b_port) = (QueuePort::new("a"), QueuePort::new("b"));
        let mut b = PipelineBuilder::new(pool, 2).ring_capacity(256);
        let pa = b.add_port("a", Box::new(a.clone()), Some(0)).unwrap();
        let pb = b.add_port("b", Box::new(b_port.clone()), Some(1)).unwrap();
        let x = b.add_element("x", Box::new(Relay), Some(0)).unwrap();
        b.link(Endpoint::Port(pa), Endpoint::Gate(x, 0));
        b.link(Endpoint::Gate(x, 1), Endpoint::Port(pb));
        let pipeline = b.build().unwrap();
        assert_eq!(pipeline.rings, ["x:b -> b", "b -> x:b"]);
        for i in 0..N {
            a.push_rx(&frame(b'a', i));
            b_port.push_rx(&frame(b'b', i));
        }
        // Two runt frames: element drops on worker 0, one of them after crossing a ring.
        a.push_rx(&[1, 2, 3]);
        b_port.push_rx(&[4, 5, 6]);

        let master = Shutdown::new().unwrap();
        let handles: Vec<_> = pipeline
            .graphs
            .into_iter()
            .map(|mut g| {
                let sd = master.child().unwrap();
                std::thread::spawn(move || {
                    worker::run(&mut g, &sd, None, mode).unwrap();
                    g
                })
            })
            .collect();
        // Wait until both ports have read everything and nothing new arrives for 100 ms.
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let (mut at_a, mut at_b) = (Vec::new(), Vec::new());
        let mut still = 0;
        while still < 20 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
            let (na, nb) = (a.take_tx(), b_port.take_tx());
            let all_read = a.stats().rx_packets == u64::from(N) + 1
                && b_port.stats().rx_packets == u64::from(N) + 1;
            still = if all_read && na.is_empty() && nb.is_empty() {
                still + 1
            } else {
                0
            };
            at_a.extend(na);
            at_b.extend(nb);
        }
        // Let the last bursts drain, then stop.
        std::thread::sleep(Duration::from_millis(50));
        master.trigger();
        let graphs: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        at_a.extend(a.take_tx());
        at_b.extend(b_port.take_tx());
        assert!(
            std::time::Instant::now() < deadline,
            "traffic never settled"
        );

        assert_eq!(Pipeline::conservation_errors(&graphs), Vec::<String>::new());
        let rings = Pipeline::ring_reports(&graphs);
        assert_eq!(rings.len(), 2);
        let drops: u64 = rings.iter().map(|r| r.full_drops).sum();
        // In order per direction, each once.
        for (got, tag) in [(&at_b, b'a'), (&at_a, b'b')] {
            let mut last = None;
            for f in got {
                assert_eq!(f[0], tag);
                let seq = u32::from_be_bytes(f[1..5].try_into().unwrap());
                assert!(
                    last.is_none_or(|l| seq > l),
                    "reordered or duplicated: {seq}"
                );
                last = Some(seq);
            }
        }
        let reports: Vec<_> = graphs.iter().map(|g| g.report()).collect();
        let x = reports
            .iter()
            .flat_map(|r| &r.elements)
            .find(|e| e.name == "x")
            .unwrap();
        let malformed = x.drops.get(DropReason::Malformed);
        // a's runt reaches x on its own worker; b's crosses a ring first (and may be one of
        // the full-ring drops).
        assert!((1..=2).contains(&malformed), "{malformed}");
        assert_eq!(
            (at_a.len() + at_b.len()) as u64 + drops + malformed,
            2 * u64::from(N) + 2,
            "delivered + ring drops + element drops == sent"
        );
        for r in &rings {
            assert_eq!(r.enqueued, r.dequeued, "{} drained", r.name);
        }
        let from_b_ring = rings.iter().find(|r| r.name == "b -> x:b").unwrap();
        assert_eq!(x.in_packets, u64::from(N) + 1 + from_b_ring.dequeued);
        // Ring ports are reported as rings, not as topology ports.
        let port_names: Vec<_> = reports
            .iter()
            .flat_map(|r| &r.ports)
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(port_names, ["a", "b"]);
    }
}
