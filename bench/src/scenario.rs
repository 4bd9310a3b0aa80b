//! The benchmark scenarios as values: a system under test plus a cycle of pre-built input
//! bursts. Shared by the criterion benches (`benches/functions.rs`) and the instruction
//! counter (`src/bin/instr.rs`, driven by `bench/instructions.sh`), so both measure exactly
//! the same set-up and the same packets.
//!
//! A [`Scenario`] has two halves, so that criterion's `iter_batched` can borrow one for the
//! untimed setup and the other for the timed routine:
//! * [`Inputs::next_batch`] builds the next burst (32 × `alloc` + copy): untimed;
//! * [`Sut::run`] processes it and frees every emitted buffer: timed.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::RawFd;

use nfv_dataplane::graph::Graph;
use nfv_dataplane::testing::{arp_request, eth_ipv4, ip_src, ipv4, udp};
use nfv_dataplane::{
    BURST, Batch, Context, Element, Endpoint, InputGate, Instant, Outputs, PacketPool, Port,
    PortError, PortStats,
};
use nfv_functions::l2_switch::DEFAULT_MAC_TABLE_SIZE;

use crate::{BUF_CAPACITY, POOL_BUFFERS, PORTS, four_port_switch, learn_stations, unicast_sets};

/// The time the router, NAT, firewall and chain scenarios run at.
pub const NF_NOW: Instant = Instant::from_secs(10);
const R_LAN: [u8; 6] = [0x02, 0, 0, 0, 0xa1, 0];
const R_WAN: [u8; 6] = [0x02, 0, 0, 0, 0xb1, 0];
const HOST: [u8; 6] = [0x02, 0, 0, 0, 0, 0x10];
const GW: [u8; 6] = [0x02, 0, 0, 0, 0, 0x20];
const GW_IP: [u8; 4] = [203, 0, 113, 254];

/// Every scenario, by name: `(name, what it is)`. [`Scenario::build`] accepts these names.
pub const SCENARIOS: &[(&str, &str)] = &[
    (
        "switch_1k",
        "switch/learned_unicast_1k: 1 000 learned stations",
    ),
    (
        "switch_100k",
        "switch/learned_unicast_100k: 100 000 learned stations",
    ),
    ("router_10", "router/forward_10_routes"),
    ("router_1m", "router/forward_1m_routes (random /24s)"),
    ("nat_1k", "nat/established_1k_sessions (in2out)"),
    (
        "nat_1m",
        "nat/established_1m_sessions (in2out, uniform random)",
    ),
    (
        "nat_reply_1k",
        "nat/reply_1k_sessions (out2in: the remote's answers)",
    ),
    (
        "firewall_100",
        "firewall/cached_flow_100_rules (flow cache hit)",
    ),
    (
        "chain",
        "chain/firewall_nat_router_32 (graph runner included)",
    ),
];

/// Input bursts, each a list of frames.
pub type Bursts = Vec<Vec<Vec<u8>>>;

/// Deterministic xorshift.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// A 60-byte IPv4/UDP frame (18-byte payload: 14 + 20 + 8 + 18; 64 with FCS on a wire).
fn udp_frame(
    dst_mac: [u8; 6],
    src_mac: [u8; 6],
    src: [u8; 4],
    sport: u16,
    dst: [u8; 4],
) -> Vec<u8> {
    let ip = ipv4(src, dst, 17, 64, &udp(src, dst, sport, 53, &[0u8; 18]));
    eth_ipv4(dst_mac, src_mac, &ip)
}

/// A batch holding copies of `frames` (at most [`BURST`]).
///
/// # Panics
/// If the pool is empty (a bench sizing bug).
pub fn batch(pool: PacketPool, frames: &[Vec<u8>]) -> Batch {
    let mut b = Batch::new();
    for f in frames.iter().take(BURST) {
        let mut p = pool.alloc().expect("bench pool has room");
        assert!(p.extend_from_slice(f));
        let _ = b.push(p);
    }
    b
}

/// Run one batch through `e` on `gate`; return how many packets came out (freed here).
#[inline]
fn run(
    e: &mut dyn Element,
    now: Instant,
    pool: PacketPool,
    gate: u16,
    b: Batch,
    out: &mut Outputs,
) -> usize {
    let mut ctx = Context::new(now, pool);
    e.process(&mut ctx, InputGate(gate), b, out);
    let mut n = 0;
    for g in 0..out.gate_count() as usize {
        if let Some(q) = out.queue_mut(g) {
            n += q.len();
            q.clear();
        }
    }
    n
}

/// The pre-built input bursts of a scenario, cycled through.
#[derive(Debug)]
pub struct Inputs {
    pool: PacketPool,
    /// `(ingress gate, frames)` per burst.
    sets: Vec<(u16, Vec<Vec<u8>>)>,
    next: usize,
}

impl Inputs {
    /// How many distinct bursts there are.
    pub fn len(&self) -> usize {
        self.sets.len()
    }

    /// True when there are none (never, for a built scenario).
    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }

    /// The next burst as a batch (allocated from the scenario's pool), with its gate.
    #[inline]
    pub fn next_batch(&mut self) -> (u16, Batch) {
        let (gate, frames) = &self.sets[self.next];
        self.next = (self.next + 1) % self.sets.len();
        (*gate, batch(self.pool, frames))
    }
}

/// What a scenario runs its bursts through.
pub enum Sut {
    /// One element; emitted packets are counted and freed.
    Element {
        /// The element.
        elem: Box<dyn Element>,
        /// Its output queues.
        out: Box<Outputs>,
        /// The time it runs at.
        now: Instant,
        /// The pool its context allocates from.
        pool: PacketPool,
    },
    /// A graph, bursts injected at `entry`; sink ports free what reaches them.
    Graph {
        /// The graph.
        graph: Box<Graph>,
        /// Where bursts go in.
        entry: Endpoint,
        /// The time it runs at.
        now: Instant,
    },
}

impl std::fmt::Debug for Sut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Sut::Element { elem, .. } => write!(f, "Sut::Element({})", elem.kind()),
            Sut::Graph { entry, .. } => write!(f, "Sut::Graph({entry:?})"),
        }
    }
}

impl Sut {
    /// Process one burst; returns the packets emitted (for an element) or 0 (for a graph,
    /// whose sink ports count them).
    ///
    /// # Panics
    /// If the graph rejects the injection (a scenario bug).
    #[inline]
    pub fn run(&mut self, (gate, b): (u16, Batch)) -> usize {
        match self {
            Sut::Element {
                elem,
                out,
                now,
                pool,
            } => run(elem.as_mut(), *now, *pool, gate, b, out),
            Sut::Graph { graph, entry, now } => {
                graph.inject(*entry, b, *now).expect("inject");
                0
            }
        }
    }

    /// Packets sent by the graph's first port (the chain's egress).
    fn tx_packets(&self) -> u64 {
        match self {
            Sut::Element { .. } => 0,
            Sut::Graph { graph, .. } => graph.report().ports[0].stats.tx_packets,
        }
    }
}

/// A system under test and its inputs.
#[derive(Debug)]
pub struct Scenario {
    /// The input bursts (untimed setup).
    pub inputs: Inputs,
    /// What processes them (timed).
    pub sut: Sut,
}

impl Scenario {
    /// Build scenario `name` (one of [`SCENARIOS`]), warmed up and checked: one burst is
    /// run and must come out whole. `None` for an unknown name.
    ///
    /// # Panics
    /// If the scenario does not forward every packet of a burst (a set-up bug).
    pub fn build(name: &str) -> Option<Scenario> {
        let s = match name {
            "switch_1k" => switch(1_000, DEFAULT_MAC_TABLE_SIZE),
            "switch_100k" => switch(100_000, 1 << 17),
            "router_10" => router_scenario(10),
            "router_1m" => router_scenario(1_000_000),
            "nat_1k" => nat_scenario(1024),
            "nat_1m" => nat_scenario(1 << 20),
            "nat_reply_1k" => nat_reply_scenario(1024),
            "firewall_100" => firewall_scenario(),
            "chain" => chain(),
            _ => return None,
        };
        let mut s = s;
        s.check(name);
        Some(s)
    }

    /// Run one burst and assert that all of it came out.
    fn check(&mut self, name: &str) {
        let before = self.sut.tx_packets();
        let input = self.inputs.next_batch();
        let n = self.sut.run(input);
        let out = match self.sut {
            Sut::Element { .. } => n as u64,
            Sut::Graph { .. } => self.sut.tx_packets() - before,
        };
        assert_eq!(out, BURST as u64, "{name}: every frame comes out");
    }
}

fn switch(stations: u32, table: u32) -> Scenario {
    let pool = PacketPool::new(POOL_BUFFERS, BUF_CAPACITY);
    let mut sw = four_port_switch(table);
    learn_stations(&mut *sw, pool, stations);
    let sets = unicast_sets(stations, 0x5eed_0001)
        .into_iter()
        .map(|s| (s.gate, s.frames.iter().map(|f| f.to_vec()).collect()))
        .collect();
    Scenario {
        inputs: Inputs {
            pool,
            sets,
            next: 0,
        },
        sut: Sut::Element {
            elem: sw,
            out: Box::new(Outputs::new(PORTS)),
            now: crate::NOW,
            pool,
        },
    }
}

/// A two-interface router (`lan` 10.0.0.1/16, `wan` 203.0.113.1/24) with `routes` random
/// /24s via the wan gateway (whose MAC it has learned), and 4 096 destinations inside them.
/// Built from YAML by `nfv-runtime`; more than 100 routes go through a `routes-file` (as a
/// user with a big table would write it), in a temporary directory removed afterwards.
pub fn router(routes: usize) -> (Box<dyn Element>, Vec<[u8; 4]>) {
    let mut rng = Rng(0x5eed_0001);
    let mut dests = Vec::new();
    let mut list: Vec<u32> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    while list.len() < routes {
        let a = (rng.next() as u32) & 0xffff_ff00;
        let first = a >> 24;
        if first == 0
            || first == 10
            || first == 127
            || first == 203
            || first >= 224
            || !seen.insert(a)
        {
            continue;
        }
        list.push(a);
    }
    for i in 0..4096 {
        let mut d = list[(rng.next() as usize) % list.len()].to_be_bytes();
        d[3] = (i % 250 + 1) as u8;
        dests.push(d);
    }
    let gw = Ipv4Addr::from(GW_IP);
    let route_lines: String = list
        .iter()
        .map(|a| format!("{}/24 {gw}\n", Ipv4Addr::from(*a)))
        .collect();
    let dir = std::env::temp_dir().join(format!("nfv-bench-{}-{routes}", std::process::id()));
    let routes_yaml = if routes <= 100 {
        let items: Vec<String> = list
            .iter()
            .map(|a| format!("      - {{ to: {}/24, via: {gw} }}", Ipv4Addr::from(*a)))
            .collect();
        format!("    routes:\n{}\n", items.join("\n"))
    } else {
        std::fs::create_dir_all(&dir).expect("bench temp dir");
        std::fs::write(dir.join("routes.txt"), route_lines).expect("bench routes file");
        format!("    routes-file: {}\n", dir.join("routes.txt").display())
    };
    let yaml = format!(
        "name: bench\nnodes:\n  r:\n    kind: router\n    interfaces:\n      \
         lan: {{ address: 10.0.0.1/16, mac: {} }}\n      wan: {{ address: 203.0.113.1/24, mac: {} }}\n\
         {routes_yaml}    arp-timeout: 1000000s\n    redirects: false\n",
        mac(R_LAN),
        mac(R_WAN)
    );
    let mut r = crate::element_from_yaml(&yaml, "r");
    let _ = std::fs::remove_dir_all(&dir);
    // The gateway asks for the router: the router learns its MAC (RFC 826).
    let pool = PacketPool::new(64, 2048);
    let mut out = Outputs::new(2);
    let b = batch(pool, &[arp_request(GW, GW_IP, [203, 0, 113, 1])]);
    run(r.as_mut(), NF_NOW, pool, 1, b, &mut out);
    (r, dests)
}

/// `aa:bb:cc:dd:ee:ff` for YAML.
fn mac(m: [u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn router_scenario(routes: usize) -> Scenario {
    let pool = PacketPool::new(POOL_BUFFERS, BUF_CAPACITY);
    let (r, dests) = router(routes);
    let sets = dests
        .chunks(BURST)
        .map(|c| {
            let frames = c
                .iter()
                .map(|d| udp_frame(R_LAN, HOST, [10, 0, 0, 2], 4000, *d))
                .collect();
            (0, frames)
        })
        .collect();
    Scenario {
        inputs: Inputs {
            pool,
            sets,
            next: 0,
        },
        sut: Sut::Element {
            elem: r,
            out: Box::new(Outputs::new(2)),
            now: NF_NOW,
            pool,
        },
    }
}

/// The bench NAT's session `s`: inside endpoint `10.1.x.y:port` to 198.51.100.1:53.
fn nat_session_frame(s: u32) -> Vec<u8> {
    let host = [10, 1, (s >> 16) as u8 % 64, (s >> 8) as u8];
    let sport = 1024 + (s & 0xff) as u16 * 200;
    udp_frame(GW, R_WAN, host, sport, [198, 51, 100, 1])
}

/// The YAML of a NAT node `nat` with `externals`, room for `max_sessions` and the MACs of
/// `NatConfig::default()` (the benches' frames are addressed as before).
fn nat_yaml(externals: &[Ipv4Addr], max_sessions: u32, per_host: u32) -> String {
    format!(
        "  nat:\n    kind: nat\n    external: [{}]\n    max-sessions: {max_sessions}\n    \
         max-sessions-per-host: {per_host}\n    mac-inside: 02:00:00:00:00:00\n    \
         mac-outside: 02:00:00:00:00:01\n",
        externals
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// A NAT (32 external addresses) holding `sessions` established UDP sessions, 256 bursts
/// of packets of random existing sessions, and each session's external endpoint (read off
/// its first translated packet).
pub fn nat(sessions: u32) -> (Box<dyn Element>, Bursts, Vec<SocketAddrV4>) {
    let externals: Vec<Ipv4Addr> = (0..32).map(|i| Ipv4Addr::new(198, 18, 0, 10 + i)).collect();
    let yaml = format!(
        "name: bench\nnodes:\n{}",
        nat_yaml(&externals, sessions.max(1024), 65_536)
    );
    let mut n = crate::element_from_yaml(&yaml, "nat");
    let pool = PacketPool::new(4096, 2048);
    let mut out = Outputs::new(2);
    let mut frames = Vec::new();
    let mut external = Vec::with_capacity(sessions as usize);
    for s in 0..sessions {
        frames.push(nat_session_frame(s));
        if frames.len() == BURST {
            let mut ctx = Context::new(NF_NOW, pool);
            n.process(&mut ctx, InputGate(0), batch(pool, &frames), &mut out);
            let q = out.queue_mut(1).expect("the outside gate");
            assert_eq!(q.len(), BURST, "every session's first packet is translated");
            for p in q.drain(..) {
                let f = p.data();
                let port = u16::from_be_bytes([f[34], f[35]]);
                external.push(SocketAddrV4::new(ip_src(f).into(), port));
            }
            frames.clear();
        }
    }
    // Timed frames: packets of existing sessions, spread over the table.
    let mut rng = Rng(0x5eed_0002);
    let sets = (0..256)
        .map(|_| {
            (0..BURST)
                .map(|_| nat_session_frame((rng.next() % u64::from(sessions)) as u32))
                .collect()
        })
        .collect();
    (n, sets, external)
}

fn nat_scenario(sessions: u32) -> Scenario {
    let pool = PacketPool::new(POOL_BUFFERS, BUF_CAPACITY);
    let (n, sets, _) = nat(sessions);
    Scenario {
        inputs: Inputs {
            pool,
            sets: sets.into_iter().map(|s| (0, s)).collect(),
            next: 0,
        },
        sut: Sut::Element {
            elem: n,
            out: Box::new(Outputs::new(2)),
            now: NF_NOW,
            pool,
        },
    }
}

/// The remote's answers to the sessions of [`nat`]`(sessions)`: 256 bursts from
/// 198.51.100.1:53 to random sessions' external endpoints, into the outside gate.
fn nat_reply_scenario(sessions: u32) -> Scenario {
    let pool = PacketPool::new(POOL_BUFFERS, BUF_CAPACITY);
    let (n, _, ext) = nat(sessions);
    assert_eq!(ext.len(), sessions as usize, "one session each");
    let remote = [198, 51, 100, 1];
    let mut rng = Rng(0x5eed_0003);
    let sets = (0..256)
        .map(|_| {
            let frames = (0..BURST)
                .map(|_| {
                    let e = ext[(rng.next() % ext.len() as u64) as usize];
                    let dst = e.ip().octets();
                    let ip = ipv4(
                        remote,
                        dst,
                        17,
                        64,
                        &udp(remote, dst, 53, e.port(), &[0; 18]),
                    );
                    eth_ipv4(R_WAN, GW, &ip)
                })
                .collect();
            (1, frames)
        })
        .collect();
    Scenario {
        inputs: Inputs {
            pool,
            sets,
            next: 0,
        },
        sut: Sut::Element {
            elem: n,
            out: Box::new(Outputs::new(2)),
            now: NF_NOW,
            pool,
        },
    }
}

/// The YAML of a firewall node `fw` with 99 rules that never match the bench traffic,
/// then "allow outbound", default drop.
fn firewall_yaml() -> String {
    let mut rules: Vec<String> = (0..99u16)
        .map(|i| {
            format!(
                "      - {{ action: drop, proto: tcp, dst-port: {} }}",
                10_000 + i
            )
        })
        .collect();
    rules.push("      - { action: allow, direction: out }".into());
    format!(
        "  fw:\n    kind: firewall\n    default: drop\n    rules:\n{}\n",
        rules.join("\n")
    )
}

/// A firewall with 99 rules that never match the bench traffic, then "allow outbound".
pub fn firewall() -> Box<dyn Element> {
    crate::element_from_yaml(&format!("name: bench\nnodes:\n{}", firewall_yaml()), "fw")
}

/// 64 bursts of 2 048 distinct UDP flows from 10.0.0.2.
fn flows_frames() -> Vec<Vec<Vec<u8>>> {
    (0..64u16)
        .map(|k| {
            (0..BURST as u16)
                .map(|j| {
                    udp_frame(
                        GW,
                        R_WAN,
                        [10, 0, 0, 2],
                        4000 + k * 32 + j,
                        [198, 51, 100, 1],
                    )
                })
                .collect()
        })
        .collect()
}

fn firewall_scenario() -> Scenario {
    let pool = PacketPool::new(POOL_BUFFERS, BUF_CAPACITY);
    let mut fw = firewall();
    let sets = flows_frames();
    let mut out = Outputs::new(2);
    for s in &sets {
        // First packets create the flows (rule scan); the timed ones hit the flow cache.
        assert_eq!(
            run(fw.as_mut(), NF_NOW, pool, 0, batch(pool, s), &mut out),
            BURST
        );
    }
    Scenario {
        inputs: Inputs {
            pool,
            sets: sets.into_iter().map(|s| (0, s)).collect(),
            next: 0,
        },
        sut: Sut::Element {
            elem: fw,
            out: Box::new(out),
            now: NF_NOW,
            pool,
        },
    }
}

/// Transmits by freeing.
#[derive(Debug, Default)]
struct Sink(PortStats);
impl Port for Sink {
    fn name(&self) -> &str {
        "sink"
    }
    fn rx_burst(&mut self, _: &PacketPool, _: &mut Batch) -> Result<usize, PortError> {
        Ok(0)
    }
    fn tx_burst(&mut self, b: &mut Batch) {
        self.0.tx_packets += b.len() as u64;
        b.drain();
    }
    fn rx_fd(&self) -> Option<RawFd> {
        None
    }
    fn stats(&self) -> PortStats {
        self.0
    }
}

/// firewall (in → out) → NAT (inside → outside) → router (lan → wan) → sink, as one graph
/// built by `nfv-runtime` from YAML (the sink an in-memory port): the 3-function chain of
/// the performance issue, runner included. 2 048 inside flows (256 distinct NAT sessions),
/// all established before timing.
fn chain() -> Scenario {
    let pool = PacketPool::new(POOL_BUFFERS, BUF_CAPACITY);
    let mut rng = Rng(0x5eed_0001);
    let routes: Vec<String> = (0..10)
        .map(|_| {
            loop {
                let a = (rng.next() as u32) & 0xffff_ff00;
                let first = a >> 24;
                if first != 0 && first != 10 && first != 127 && first != 203 && first < 224 {
                    break format!(
                        "      - {{ to: {}/24, via: {} }}",
                        Ipv4Addr::from(a),
                        Ipv4Addr::from(GW_IP)
                    );
                }
            }
        })
        .collect();
    let yaml = format!(
        "name: bench\nnodes:\n{}{}  r:\n    kind: router\n    interfaces:\n      \
         lan: {{ address: 10.0.0.1/16, mac: {} }}\n      wan: {{ address: 203.0.113.1/24, mac: {} }}\n    \
         routes:\n{}\n    arp-timeout: 1000000s\n    redirects: false\n  sink: {{ kind: host }}\n\
         links:\n  - endpoints: [fw:out, nat:inside]\n  - endpoints: [nat:outside, r:lan]\n  \
         - endpoints: [r:wan, sink]\n",
        firewall_yaml(),
        nat_yaml(&[Ipv4Addr::new(198, 18, 0, 10)], 65_536, 4096),
        mac(R_LAN),
        mac(R_WAN),
        routes.join("\n")
    );
    let topo = crate::topology_from_yaml(&yaml);
    let net = nfv_runtime::build_in_memory(&topo, 1, &mut |_| Box::new(Sink::default()))
        .expect("the chain builds");
    let mut graph = net.pipeline.graphs.into_iter().next().expect("one worker");
    let fw = graph.element_id("fw").expect("fw");
    let r = graph.element_id("r").expect("router");
    // The gateway asks for the router: the router learns its MAC (RFC 826); its reply goes
    // to the sink before the scenario counts.
    graph
        .inject(
            Endpoint::Gate(r, 1),
            batch(pool, &[arp_request(GW, GW_IP, [203, 0, 113, 1])]),
            NF_NOW,
        )
        .expect("inject");
    // Inside traffic addressed to the router's lan MAC (the NAT keeps the destination MAC),
    // going to the gateway on the router's connected wan subnet (ARP already resolved).
    let sets: Vec<(u16, Vec<Vec<u8>>)> = (0..64u16)
        .map(|k| {
            let frames = (0..BURST as u16)
                .map(|j| {
                    udp_frame(
                        R_LAN,
                        HOST,
                        [10, 1, 0, 0],
                        1024 + (k * 32 + j) % 256 * 200,
                        GW_IP,
                    )
                })
                .collect();
            (0, frames)
        })
        .collect();
    let entry = Endpoint::Gate(fw, 0);
    for (_, s) in &sets {
        graph.inject(entry, batch(pool, s), NF_NOW).expect("inject");
    }
    Scenario {
        inputs: Inputs {
            pool,
            sets,
            next: 0,
        },
        sut: Sut::Graph {
            graph: Box::new(graph),
            entry,
            now: NF_NOW,
        },
    }
}
