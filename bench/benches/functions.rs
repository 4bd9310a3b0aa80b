//! `router/*`, `nat/*`, `firewall/*`, `chain/*`: one burst of 32 64-byte IPv4/UDP frames
//! per iteration through each function (and through the firewall → NAT → router chain),
//! in memory on one core. Inputs are built outside the timed part; emitted buffers are freed
//! inside it. Every case checks once, before timing, that all 32 frames come out.

use std::net::Ipv4Addr;
use std::os::fd::RawFd;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use nfv_dataplane::testing::{arp_request, eth_ipv4, ipv4, udp};
use nfv_dataplane::{
    BURST, Batch, Context, Element, Endpoint, GraphBuilder, InputGate, Instant, Outputs,
    PacketPool, Port, PortError, PortStats,
};
use nfv_functions::{
    Action, Direction, Firewall, FirewallConfig, Ipv4Router, Nat44, NatConfig, RouterConfig,
    RouterInterfaceConfig, Rule, StaticRoute,
};

const NOW: Instant = Instant::from_secs(10);
const R_LAN: [u8; 6] = [0x02, 0, 0, 0, 0xa1, 0];
const R_WAN: [u8; 6] = [0x02, 0, 0, 0, 0xb1, 0];
const HOST: [u8; 6] = [0x02, 0, 0, 0, 0, 0x10];
const GW: [u8; 6] = [0x02, 0, 0, 0, 0, 0x20];
const GW_IP: [u8; 4] = [203, 0, 113, 254];

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

fn udp_frame(
    dst_mac: [u8; 6],
    src_mac: [u8; 6],
    src: [u8; 4],
    sport: u16,
    dst: [u8; 4],
) -> Vec<u8> {
    // 18-byte payload: 14 + 20 + 8 + 18 = 60-byte frame (64 with FCS on a wire).
    let ip = ipv4(src, dst, 17, 64, &udp(src, dst, sport, 53, &[0u8; 18]));
    eth_ipv4(dst_mac, src_mac, &ip)
}

fn batch(pool: PacketPool, frames: &[Vec<u8>]) -> Batch {
    let mut b = Batch::new();
    for f in frames.iter().take(BURST) {
        let mut p = pool.alloc().expect("bench pool has room");
        assert!(p.extend_from_slice(f));
        let _ = b.push(p);
    }
    b
}

/// Run one batch through `e` on `gate`; return how many packets came out (freed here).
fn run(e: &mut dyn Element, pool: PacketPool, gate: u16, b: Batch, out: &mut Outputs) -> usize {
    let mut ctx = Context::new(NOW, pool);
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

fn router(routes: usize) -> (Ipv4Router, Vec<[u8; 4]>) {
    let mut rng = Rng(0x5eed_0001);
    let mut dests = Vec::new();
    let mut list = Vec::new();
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
        list.push(StaticRoute {
            prefix: Ipv4Addr::from(a),
            len: 24,
            via: Ipv4Addr::from(GW_IP),
        });
    }
    for i in 0..4096 {
        let r = list[(rng.next() as usize) % list.len()];
        let mut d = u32::from(r.prefix).to_be_bytes();
        d[3] = (i % 250 + 1) as u8;
        dests.push(d);
    }
    let cfg = RouterConfig {
        interfaces: vec![
            RouterInterfaceConfig {
                name: "lan".into(),
                mac: R_LAN,
                addr: Ipv4Addr::new(10, 0, 0, 1),
                prefix_len: 16,
                mtu: 1500,
            },
            RouterInterfaceConfig {
                name: "wan".into(),
                mac: R_WAN,
                addr: Ipv4Addr::new(203, 0, 113, 1),
                prefix_len: 24,
                mtu: 1500,
            },
        ],
        routes: list,
        icmp_rate_limit: 100,
        icmp_burst: 50,
        arp_timeout: Duration::from_secs(1_000_000),
        redirects: false,
    };
    let mut r = Ipv4Router::new(&cfg).expect("router");
    // The gateway asks for the router: the router learns its MAC (RFC 826).
    let pool = PacketPool::new(64, 2048);
    let mut out = Outputs::new(2);
    let b = batch(pool, &[arp_request(GW, GW_IP, [203, 0, 113, 1])]);
    run(&mut r, pool, 1, b, &mut out);
    (r, dests)
}

fn bench_router(c: &mut Criterion) {
    let mut g = c.benchmark_group("router");
    g.throughput(Throughput::Elements(BURST as u64));
    for (name, n) in [("forward_10_routes", 10), ("forward_1m_routes", 1_000_000)] {
        let pool = PacketPool::new(4096, 2048);
        let (mut r, dests) = router(n);
        let sets: Vec<Vec<Vec<u8>>> = dests
            .chunks(BURST)
            .map(|c| {
                c.iter()
                    .map(|d| udp_frame(R_LAN, HOST, [10, 0, 0, 2], 4000, *d))
                    .collect()
            })
            .collect();
        let mut out = Outputs::new(2);
        assert_eq!(
            run(&mut r, pool, 0, batch(pool, &sets[0]), &mut out),
            BURST,
            "{name}"
        );
        let mut i = 0;
        g.bench_function(name, |b| {
            b.iter_batched(
                || {
                    i = (i + 1) % sets.len();
                    batch(pool, &sets[i])
                },
                |bt| run(&mut r, pool, 0, bt, &mut out),
                BatchSize::NumIterations(64),
            )
        });
    }
    g.finish();
}

fn nat(sessions: u32) -> (Nat44, Vec<Vec<Vec<u8>>>) {
    let externals: Vec<Ipv4Addr> = (0..32).map(|i| Ipv4Addr::new(198, 18, 0, 10 + i)).collect();
    let cfg = NatConfig {
        external: externals,
        max_sessions: sessions.max(1024),
        max_sessions_per_host: 65_536,
        ..NatConfig::default()
    };
    let mut n = Nat44::new(&cfg).expect("nat");
    let pool = PacketPool::new(4096, 2048);
    let mut out = Outputs::new(2);
    let mut frames = Vec::new();
    for s in 0..sessions {
        let host = [10, 1, (s >> 16) as u8 % 64, (s >> 8) as u8];
        let sport = 1024 + (s & 0xff) as u16 * 200;
        frames.push(udp_frame(GW, R_WAN, host, sport, [198, 51, 100, 1]));
        if frames.len() == BURST {
            assert_eq!(run(&mut n, pool, 0, batch(pool, &frames), &mut out), BURST);
            frames.clear();
        }
    }
    // Timed frames: packets of existing sessions, spread over the table.
    let mut rng = Rng(0x5eed_0002);
    let sets = (0..256)
        .map(|_| {
            (0..BURST)
                .map(|_| {
                    let s = (rng.next() % u64::from(sessions)) as u32;
                    let host = [10, 1, (s >> 16) as u8 % 64, (s >> 8) as u8];
                    let sport = 1024 + (s & 0xff) as u16 * 200;
                    udp_frame(GW, R_WAN, host, sport, [198, 51, 100, 1])
                })
                .collect()
        })
        .collect();
    (n, sets)
}

fn bench_nat(c: &mut Criterion) {
    let mut g = c.benchmark_group("nat");
    g.throughput(Throughput::Elements(BURST as u64));
    for (name, n) in [
        ("established_1k_sessions", 1024),
        ("established_1m_sessions", 1 << 20),
    ] {
        let pool = PacketPool::new(4096, 2048);
        let (mut nat, sets) = nat(n);
        let mut out = Outputs::new(2);
        assert_eq!(
            run(&mut nat, pool, 0, batch(pool, &sets[0]), &mut out),
            BURST,
            "{name}"
        );
        let mut i = 0;
        g.bench_function(name, |b| {
            b.iter_batched(
                || {
                    i = (i + 1) % sets.len();
                    batch(pool, &sets[i])
                },
                |bt| run(&mut nat, pool, 0, bt, &mut out),
                BatchSize::NumIterations(64),
            )
        });
    }
    g.finish();
}

fn firewall() -> Firewall {
    // 99 rules that never match this traffic, then allow outbound.
    let mut rules: Vec<Rule> = (0..99u16)
        .map(|i| Rule {
            action: Action::Drop,
            proto: Some(6),
            dst_ports: Some((10_000 + i, 10_000 + i)),
            ..Rule::default()
        })
        .collect();
    rules.push(Rule {
        action: Action::Allow,
        direction: Some(Direction::Out),
        ..Rule::default()
    });
    Firewall::new(&FirewallConfig {
        rules,
        default: Action::Drop,
        ..FirewallConfig::default()
    })
}

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

fn bench_firewall(c: &mut Criterion) {
    let mut g = c.benchmark_group("firewall");
    g.throughput(Throughput::Elements(BURST as u64));
    let pool = PacketPool::new(4096, 2048);
    let mut fw = firewall();
    let sets = flows_frames();
    let mut out = Outputs::new(2);
    for s in &sets {
        // First packets create the flows (rule scan); the timed ones hit the flow cache.
        assert_eq!(run(&mut fw, pool, 0, batch(pool, s), &mut out), BURST);
    }
    let mut i = 0;
    g.bench_function("cached_flow_100_rules", |b| {
        b.iter_batched(
            || {
                i = (i + 1) % sets.len();
                batch(pool, &sets[i])
            },
            |bt| run(&mut fw, pool, 0, bt, &mut out),
            BatchSize::NumIterations(64),
        )
    });
    g.finish();
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

fn bench_chain(c: &mut Criterion) {
    // firewall (in → out) → NAT (inside → outside) → router (lan → wan) → sink, as one graph:
    // the 3-function chain of the performance issue, runner included.
    let mut g = c.benchmark_group("chain");
    g.throughput(Throughput::Elements(BURST as u64));
    let pool = PacketPool::new(4096, 2048);
    let (r, _) = router(10);
    let nat = Nat44::new(&NatConfig {
        external: vec![Ipv4Addr::new(198, 18, 0, 10)],
        ..NatConfig::default()
    })
    .expect("nat");
    let mut gb = GraphBuilder::new(pool);
    let f = gb.add_element("fw", Box::new(firewall())).expect("fw");
    let n = gb.add_element("nat", Box::new(nat)).expect("nat");
    let rt = gb.add_element("r", Box::new(r)).expect("router");
    let sink = gb
        .add_port("sink", Box::new(Sink::default()))
        .expect("sink");
    let back = gb
        .add_port("back", Box::new(Sink::default()))
        .expect("back");
    gb.connect(Endpoint::Gate(f, 1), Endpoint::Gate(n, 0))
        .expect("fw→nat");
    gb.connect(Endpoint::Gate(n, 1), Endpoint::Gate(rt, 0))
        .expect("nat→router");
    gb.connect(Endpoint::Gate(rt, 1), Endpoint::Port(sink))
        .expect("router→sink");
    gb.connect(Endpoint::Gate(rt, 0), Endpoint::Port(back))
        .expect("router lan→back");
    let mut graph = gb.build();
    // Inside traffic addressed to the router's lan MAC (the NAT keeps the destination MAC),
    // going to the gateway on the router's connected wan subnet (ARP already resolved).
    let sets: Vec<Vec<Vec<u8>>> = (0..64u16)
        .map(|k| {
            (0..BURST as u16)
                .map(|j| {
                    udp_frame(
                        R_LAN,
                        HOST,
                        [10, 1, 0, 0],
                        1024 + (k * 32 + j) % 256 * 200,
                        GW_IP,
                    )
                })
                .collect()
        })
        .collect();
    for s in &sets {
        graph
            .inject(Endpoint::Gate(f, 0), batch(pool, s), NOW)
            .expect("inject");
    }
    let before = graph.report().ports[0].stats.tx_packets;
    graph
        .inject(Endpoint::Gate(f, 0), batch(pool, &sets[0]), NOW)
        .expect("inject");
    let after = graph.report().ports[0].stats.tx_packets;
    assert_eq!(
        after - before,
        BURST as u64,
        "every frame crosses the chain"
    );
    let mut i = 0;
    g.bench_function("firewall_nat_router_32", |b| {
        b.iter_batched(
            || {
                i = (i + 1) % sets.len();
                batch(pool, &sets[i])
            },
            |bt| graph.inject(Endpoint::Gate(f, 0), bt, NOW).expect("inject"),
            BatchSize::NumIterations(64),
        )
    });
    g.finish();
}

criterion_group!(
    benches,
    bench_router,
    bench_nat,
    bench_firewall,
    bench_chain
);
criterion_main!(benches);
