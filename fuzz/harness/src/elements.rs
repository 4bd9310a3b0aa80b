//! Targets over every function's `process` and `tick`: the function in a graph with one
//! in-memory port per gate, fed a program read from the fuzz input — batches of frames
//! (structured by [`crate::frames`], sometimes with offload metadata), raw bytes, floods of
//! one frame with a varying source, and time steps from a millisecond to a day (timers run,
//! tables expire). After every step the invariants of the module docs of the crate hold.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use nfv_dataplane::testing::QueuePort;
use nfv_dataplane::wire::checksum;
use nfv_dataplane::{
    Batch, Element, Endpoint, Graph, GraphBuilder, Instant, Offload, PacketPool, graph::ElementId,
};
use nfv_functions::{
    Action, ConnState, Direction, Filtering, Firewall, FirewallConfig, FwTimeouts, Ipv4Router,
    L2Switch, Nat44, NatConfig, NatProto, NatTimeouts, PortForward, RouterConfig,
    RouterInterfaceConfig, Rule, StaticRoute, SwitchConfig, SwitchPortConfig, VlanMode,
};

use crate::frames::{Gen, Pools, frame, host_mac};

/// Steps of one program at most (a long input is a long program, not a slow one).
const MAX_STEPS: usize = 96;
/// Packet buffers of the rig's pool, and their size (every generated frame fits).
const POOL: usize = 512;
const BUF: usize = 2048;

/// What the invariants check beyond conservation.
#[derive(Debug, Clone, Copy)]
struct Checks {
    /// Every emitted IPv4 frame has a valid header checksum (a router, NAT or firewall
    /// validates what it forwards and fixes what it changes; a switch forwards bytes as-is).
    l3: bool,
    /// Every emitted IPv4 frame has TTL >= 1 even when inputs had TTL 0 (a router).
    ttl_always: bool,
    /// Counters that must stay at or under a limit: (counter name, limit).
    limits: &'static [(&'static str, u64)],
}

struct Rig {
    graph: Graph,
    elem: ElementId,
    ports: Vec<QueuePort>,
    pool: PacketPool,
    gates: u16,
    now: Instant,
    checks: Checks,
    /// Smallest TTL of any IPv4 frame put in (255 before any).
    min_ttl_in: u8,
}

impl Rig {
    fn new(elem: Box<dyn Element>, checks: Checks) -> Rig {
        // A pool lives for the process (its memory is never freed): one per thread for every
        // run, which must find every buffer back in it.
        thread_local! {
            static SHARED: PacketPool = PacketPool::new(POOL, BUF);
        }
        let pool = SHARED.with(|p| *p);
        assert_eq!(
            pool.available(),
            pool.count(),
            "the previous run returned every buffer"
        );
        let gates = elem.gates().inputs;
        let mut gb = GraphBuilder::new(pool);
        let e = gb.add_element("fuzzed", elem).expect("one element");
        let mut ports = Vec::new();
        for g in 0..gates {
            let q = QueuePort::new("p");
            let p = gb
                .add_port(format!("p{g}"), Box::new(q.clone()))
                .expect("port");
            gb.link(Endpoint::Port(p), Endpoint::Gate(e, g))
                .expect("gate exists");
            ports.push(q);
        }
        Rig {
            graph: gb.build(),
            elem: e,
            ports,
            pool,
            gates,
            now: Instant::from_secs(1_000),
            checks,
            min_ttl_in: 255,
        }
    }

    /// Put `frames` (with offload state where given) into the function's `gate`.
    fn inject(&mut self, gate: u16, frames: &[(Vec<u8>, Option<Offload>)]) {
        let mut batch = Batch::new();
        for (f, o) in frames {
            if f.len() >= 23 && f[12..14] == [0x08, 0x00] {
                self.min_ttl_in = self.min_ttl_in.min(f[22]);
            }
            let Some(mut p) = self.pool.alloc() else {
                break;
            };
            if !p.extend_from_slice(f) {
                continue;
            }
            if let Some(o) = o {
                // Refused metadata (not representable) leaves the packet without it.
                let _ = p.set_offload(Some(*o));
            }
            if batch.push(p).is_err() {
                break;
            }
        }
        if !batch.is_empty() {
            self.graph
                .inject(
                    Endpoint::Gate(self.elem, gate % self.gates),
                    batch,
                    self.now,
                )
                .expect("gate exists");
        }
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
        self.graph.run_timers(self.now);
    }

    /// Every invariant; panics (a finding) on the first that fails.
    fn check(&mut self) {
        let errs = self.graph.conservation_errors();
        assert!(errs.is_empty(), "conservation: {errs:?}");
        let report = self.graph.report();
        let e = &report.elements[0];
        for &(name, limit) in self.checks.limits {
            if let Some(&(_, v)) = e.counters.iter().find(|(k, _)| *k == name) {
                assert!(v <= limit, "{name} = {v}, over its limit {limit}");
            }
        }
        let in_use = self.pool.count() - self.pool.available();
        assert_eq!(
            in_use as u64, e.held,
            "packet buffers in use ({in_use}) are exactly the ones the function holds"
        );
        for q in &self.ports {
            for f in q.take_tx() {
                self.check_emitted(&f);
            }
        }
    }

    fn check_emitted(&self, f: &[u8]) {
        assert!(f.len() >= 14, "a runt of {} bytes was emitted", f.len());
        if !self.checks.l3 || f[12..14] != [0x08, 0x00] {
            return;
        }
        let ip = &f[14..];
        assert!(ip.len() >= 20, "emitted IPv4 frame shorter than a header");
        let ihl = usize::from(ip[0] & 0x0f) * 4;
        assert!(
            ip[0] >> 4 == 4 && ihl >= 20 && ip.len() >= ihl,
            "emitted IPv4 header"
        );
        assert!(
            checksum::verify(&ip[..ihl]),
            "emitted IPv4 header checksum is wrong: {:02x?}",
            &ip[..ihl]
        );
        if self.checks.ttl_always || self.min_ttl_in >= 1 {
            assert!(ip[8] >= 1, "emitted IPv4 frame with TTL 0");
        }
    }
}

fn offload(g: &mut Gen) -> Option<Offload> {
    if !g.one_in(4) {
        return None;
    }
    Some(Offload {
        flags: g.pick(&[1u8, 1, 0, 2, 3]),
        gso_type: g.pick(&[1u8, 0, 5, 0x81, 3, 4]),
        gso_size: g.pick(&[100u16, 536, 1448, 0, 8, 1]),
        csum_start: g.pick(&[34u16, 38, 54, 0, 14]) + u16::from(g.u8() % 2) * 4,
        csum_offset: g.pick(&[16u16, 6, 2, 0, 200]),
    })
}

/// A time step: from nothing to a day.
fn step(g: &mut Gen) -> Duration {
    let ms: u64 = g.pick(&[
        0, 1, 100, 1_000, 2_000, 6_100, 10_001, 31_000, 61_000, 121_000, 241_000, 301_000, 601_000,
        7_441_000, 86_400_000,
    ]);
    Duration::from_millis(ms)
}

/// Run the program in `data` against `elem`.
fn run(data: &[u8], elem: Box<dyn Element>, pools: &Pools, checks: Checks) {
    let mut rig = Rig::new(elem, checks);
    let mut g = Gen::new(data);
    let mut steps = 0;
    while !g.is_empty() && steps < MAX_STEPS {
        steps += 1;
        let gate = u16::from(g.u8());
        match g.u8() % 10 {
            0..=4 => {
                let n = 1 + usize::from(g.u8() % 4);
                let frames: Vec<_> = (0..n)
                    .map(|_| {
                        let f = frame(&mut g, pools);
                        (f, offload(&mut g))
                    })
                    .collect();
                rig.inject(gate, &frames);
            }
            5 | 6 => rig.advance(step(&mut g)),
            7 => {
                let raw = g.bytes(200).to_vec();
                rig.inject(gate, &[(raw, None)]);
            }
            _ => {
                // A flood: one frame again and again with another source MAC, IP and port
                // each time (fills FDBs, ARP caches, sessions and flows to their limits).
                let base = frame(&mut g, pools);
                let count = 1 + usize::from(g.u8() % 96);
                let frames: Vec<_> = (0..count)
                    .map(|i| {
                        let mut f = base.clone();
                        let i = i as u8;
                        if f.len() >= 12 {
                            f[6..12].copy_from_slice(&host_mac(i));
                            f[11] = i;
                        }
                        if f.len() >= 38 && f[12..14] == [0x08, 0x00] {
                            f[29] = i; // source address, last octet
                            f[35] = i; // source port, low byte
                            let c = {
                                f[24..26].copy_from_slice(&[0, 0]);
                                checksum::checksum(&f[14..34])
                            };
                            f[24..26].copy_from_slice(&c.to_be_bytes());
                        }
                        (f, None)
                    })
                    .collect();
                for chunk in frames.chunks(nfv_dataplane::BURST) {
                    rig.inject(gate, chunk);
                }
            }
        }
        rig.check();
    }
    if std::env::var_os("NFV_FUZZ_SHOW").is_some() {
        // For looking at what a corpus reaches: the function's counters after the program.
        let r = rig.graph.report();
        let e = &r.elements[0];
        eprintln!(
            "{} steps: in {} generated {} drops {:?} counters {:?}",
            steps,
            e.in_packets,
            e.generated,
            e.drops.nonzero().collect::<Vec<_>>(),
            e.counters
        );
    }
}

const ROUTER_MACS: [[u8; 6]; 3] = [
    [2, 0xaa, 0, 0, 0, 1],
    [2, 0xaa, 0, 0, 0, 2],
    [2, 0xaa, 0, 0, 0, 3],
];

fn v4(a: [u8; 4]) -> Ipv4Addr {
    Ipv4Addr::from(a)
}

/// The L2 switch: 4 ports (access, trunk with native VLAN, access, trunk without), an FDB of
/// 8 entries that must never hold more.
pub fn switch(data: &[u8]) {
    let cfg = SwitchConfig {
        ports: vec![
            SwitchPortConfig {
                name: "p1".into(),
                mode: VlanMode::Access(1),
            },
            SwitchPortConfig {
                name: "p2".into(),
                mode: VlanMode::Trunk {
                    allowed: vec![10, 20],
                    native: Some(1),
                },
            },
            SwitchPortConfig {
                name: "p3".into(),
                mode: VlanMode::Access(20),
            },
            SwitchPortConfig {
                name: "p4".into(),
                mode: VlanMode::Trunk {
                    allowed: vec![10],
                    native: None,
                },
            },
        ],
        mac_table_size: 8,
        ageing: Duration::from_secs(30),
    };
    let pools = Pools {
        own_macs: &[],
        addrs: &[[10, 0, 0, 1], [10, 0, 0, 2]],
        ports: &[80, 53],
    };
    let checks = Checks {
        l3: false,
        ttl_always: false,
        limits: &[("fdb_entries", 8)],
    };
    run(data, Box::new(L2Switch::new(&cfg)), &pools, checks);
}

/// The IPv4 router: three interfaces (one with a 576-byte MTU, so fragmentation and
/// Fragmentation Needed happen) and static routes.
pub fn router(data: &[u8]) {
    let iface =
        |name: &str, mac: [u8; 6], addr: [u8; 4], len: u8, mtu: u16| RouterInterfaceConfig {
            name: name.into(),
            mac,
            addr: v4(addr),
            prefix_len: len,
            mtu,
        };
    let cfg = RouterConfig {
        interfaces: vec![
            iface("a", ROUTER_MACS[0], [10, 0, 0, 1], 24, 1500),
            iface("b", ROUTER_MACS[1], [10, 1, 0, 1], 24, 576),
            iface("c", ROUTER_MACS[2], [192, 0, 2, 1], 30, 1500),
        ],
        routes: vec![
            // No default route: it would fill the DIR-24-8 table's 16 M entries on every run
            // (64 MiB written, 13 runs/s); these reach the same code, the rest is no_route.
            StaticRoute {
                prefix: v4([198, 51, 100, 0]),
                len: 24,
                via: v4([192, 0, 2, 2]),
            },
            StaticRoute {
                prefix: v4([8, 0, 0, 0]),
                len: 8,
                via: v4([192, 0, 2, 2]),
            },
            StaticRoute {
                prefix: v4([10, 9, 0, 0]),
                len: 16,
                via: v4([10, 1, 0, 254]),
            },
        ],
        icmp_rate_limit: 100,
        icmp_burst: 50,
        arp_timeout: Duration::from_secs(60),
        redirects: true,
    };
    let pools = Pools {
        own_macs: &ROUTER_MACS,
        addrs: &[
            [10, 0, 0, 1],
            [10, 0, 0, 10],
            [10, 1, 0, 1],
            [10, 1, 0, 254],
            [10, 1, 0, 7],
            [192, 0, 2, 1],
            [192, 0, 2, 2],
            [10, 9, 1, 1],
            [198, 51, 100, 7],
            [10, 0, 0, 255],
        ],
        ports: &[80, 53, 33434],
    };
    let checks = Checks {
        l3: true,
        ttl_always: true,
        limits: &[],
    };
    let r = Ipv4Router::new(&cfg).expect("valid router config");
    run(data, Box::new(r), &pools, checks);
}

const NAT_MACS: [[u8; 6]; 2] = [[2, 0xaa, 0, 0, 0, 0x10], [2, 0xaa, 0, 0, 0, 0x11]];

/// NAT44: two external addresses, 16 ports per address (exhausted quickly), at most 32
/// sessions (never more), 8 per host, two port forwards and a 1:1 mapping.
pub fn nat(data: &[u8]) {
    let cfg = NatConfig {
        inside_mac: NAT_MACS[0],
        outside_mac: NAT_MACS[1],
        external: vec![v4([203, 0, 113, 1]), v4([203, 0, 113, 2])],
        port_range: (1024, 1039),
        filtering: Filtering::AddressDependent,
        timeouts: NatTimeouts::default(),
        max_sessions: 32,
        max_sessions_per_host: 8,
        forwards: vec![
            PortForward {
                proto: NatProto::Tcp,
                external: None,
                port: 8080,
                to: SocketAddrV4::new(v4([10, 0, 0, 10]), 80),
            },
            PortForward {
                proto: NatProto::Udp,
                external: Some(v4([203, 0, 113, 2])),
                port: 53,
                to: SocketAddrV4::new(v4([10, 0, 0, 11]), 53),
            },
        ],
        one_to_one: vec![(v4([10, 0, 0, 50]), v4([203, 0, 113, 50]))],
        icmp_rate_limit: 100,
        icmp_burst: 50,
        mtu: 1500,
    };
    let pools = Pools {
        own_macs: &NAT_MACS,
        addrs: &[
            [10, 0, 0, 10],
            [10, 0, 0, 11],
            [10, 0, 0, 50],
            [203, 0, 113, 1],
            [203, 0, 113, 2],
            [203, 0, 113, 50],
            [198, 51, 100, 7],
            [198, 51, 100, 8],
        ],
        ports: &[80, 8080, 53, 1024, 1030, 1039, 40000],
    };
    let checks = Checks {
        l3: true,
        ttl_always: false,
        limits: &[("sessions", 32)],
    };
    let n = Nat44::new(&cfg).expect("valid NAT config");
    run(data, Box::new(n), &pools, checks);
}

/// The firewall with the edge example's policy plus a reject rule and an ICMP rule, at most
/// 32 flows (never more).
pub fn firewall(data: &[u8]) {
    let allow = Rule {
        action: Action::Allow,
        direction: None,
        src: None,
        dst: None,
        proto: None,
        src_ports: None,
        dst_ports: None,
        icmp_type: None,
        states: None,
    };
    let cfg = FirewallConfig {
        rules: vec![
            Rule {
                direction: Some(Direction::Out),
                ..allow.clone()
            },
            Rule {
                states: Some(vec![ConnState::Established, ConnState::Related]),
                ..allow.clone()
            },
            Rule {
                direction: Some(Direction::In),
                proto: Some(6),
                dst_ports: Some((80, 80)),
                ..allow.clone()
            },
            Rule {
                action: Action::Reject,
                proto: Some(17),
                dst_ports: Some((1000, 2000)),
                src: Some((v4([10, 0, 0, 0]), 8)),
                ..allow.clone()
            },
            Rule {
                proto: Some(1),
                icmp_type: Some(8),
                states: Some(vec![ConnState::New, ConnState::Related]),
                ..allow
            },
        ],
        default: Action::Drop,
        timeouts: FwTimeouts::default(),
        max_flows: 32,
        // 8 per host: floods from one address hit the per-host limit, floods with varying
        // sources fill the table and exercise early drop.
        max_flows_per_host: Some(8),
        icmp_rate_limit: 100,
        icmp_burst: 50,
        allow_non_ip: false,
        mtu: 1500,
    };
    let pools = Pools {
        own_macs: &[],
        addrs: &[
            [10, 0, 0, 10],
            [10, 0, 0, 11],
            [203, 0, 113, 80],
            [198, 51, 100, 7],
        ],
        ports: &[80, 443, 53, 1500, 40000],
    };
    let checks = Checks {
        l3: true,
        ttl_always: false,
        limits: &[("flows", 32)],
    };
    run(data, Box::new(Firewall::new(&cfg)), &pools, checks);
}
