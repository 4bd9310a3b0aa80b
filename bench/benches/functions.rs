//! `router/*`, `nat/*`, `firewall/*`, `chain/*`: one burst of 32 60-byte IPv4/UDP frames
//! per iteration through each function (and through the firewall → NAT → router chain),
//! in memory on one core. Inputs are built outside the timed part; emitted buffers are freed
//! inside it. Every case checks once, before timing, that all 32 frames come out. The
//! set-ups are [`nfv_bench::scenario`], shared with the instruction counter
//! (`bench/instructions.sh`).
//!
//! Costs on a 2-vCPU AMD EPYC KVM guest, 2026-11-26 (median of 5 runs, shared machine;
//! instructions per packet in brackets): router 10 routes ~54 ns/pkt (683), NAT 1k sessions
//! ~81 ns (871), NAT 1k replies (out2in) ~77 ns (891), NAT 1M sessions ~0.9 µs (888:
//! memory-bound), firewall ~60 ns (517), chain ~182 ns (2 196).

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use nfv_bench::scenario::Scenario;
use nfv_dataplane::BURST;

/// Bench `scenario` as `group/name`.
fn case(c: &mut Criterion, group: &str, name: &str, scenario: &str) {
    let mut s = Scenario::build(scenario).expect("known scenario");
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(BURST as u64));
    let Scenario { inputs, sut } = &mut s;
    g.bench_function(name, |b| {
        b.iter_batched(
            || inputs.next_batch(),
            |input| sut.run(input),
            BatchSize::NumIterations(64),
        )
    });
    g.finish();
}

fn bench_router(c: &mut Criterion) {
    case(c, "router", "forward_10_routes", "router_10");
    case(c, "router", "forward_1m_routes", "router_1m");
}

fn bench_nat(c: &mut Criterion) {
    case(c, "nat", "established_1k_sessions", "nat_1k");
    case(c, "nat", "established_1m_sessions", "nat_1m");
    case(c, "nat", "reply_1k_sessions", "nat_reply_1k");
}

fn bench_firewall(c: &mut Criterion) {
    case(c, "firewall", "cached_flow_100_rules", "firewall_100");
}

fn bench_chain(c: &mut Criterion) {
    case(c, "chain", "firewall_nat_router_32", "chain");
}

criterion_group!(
    benches,
    bench_router,
    bench_nat,
    bench_firewall,
    bench_chain
);
criterion_main!(benches);
