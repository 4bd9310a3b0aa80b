//! `switch/*`: [`Element::process`] of the switch (built from YAML by `nfv-runtime`) on one burst of 64-byte frames, in memory, one core.
//!
//! The input batch is built in the untimed setup; the timed routine is `process` plus freeing
//! every emitted buffer. See the `nfv_bench` crate docs for the timing model and
//! `bench/RESULTS.md` for numbers.
//!
//! Costs at burst 32 on a 2-vCPU AMD EPYC KVM guest, 2026-11-26, FDB sized on demand
//! (median of 5 runs on a shared machine): `learned_unicast_1k` ~40 ns/pkt (25 Mpps);
//! `learned_unicast_100k` ~190 ns/pkt (memory-bound: two FDB cache misses per frame);
//! `flood_broadcast_4ports` ~127 ns per input frame (3 out). 339 instructions per frame
//! (`bench/instructions.sh`).

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use nfv_bench::{
    Feeder, INPUTS_IN_FLIGHT, NOW, PORTS, broadcast_sets, counter, drain, four_port_switch,
    learn_stations, unicast_sets,
};
use nfv_dataplane::{BURST, Context, Element, InputGate, Outputs, PacketPool};
use nfv_functions::SwitchDrop;
use nfv_functions::l2_switch::DEFAULT_MAC_TABLE_SIZE;

/// Room for the 100k case (the FDB grows to it as the stations are learned).
const BIG_MAC_TABLE: u32 = 1 << 17;

/// One timed case: a learned switch fed `sets`, checked once before timing.
fn bench_case(
    c: &mut Criterion,
    name: &str,
    sw: &mut dyn Element,
    pool: PacketPool,
    sets: &[nfv_bench::FrameSet],
    expect_out_per_burst: usize,
) {
    let mut ctx = Context::new(NOW, pool);
    let mut out = Outputs::new(PORTS);
    let mut feeder = Feeder::new(pool, sets);

    // The case must do what its name says: every frame forwarded (or flooded), no drops.
    let forwarded = counter(sw, "forwarded");
    let (gate, batch) = feeder.next_batch();
    sw.process(&mut ctx, InputGate(gate), batch, &mut out);
    assert_eq!(drain(&mut out), expect_out_per_burst, "{name}: packets out");
    assert_eq!(out.drops().total(), 0, "{name}: no drops");
    if expect_out_per_burst == BURST {
        assert_eq!(counter(sw, "forwarded") - forwarded, BURST as u64);
    }

    let mut group = c.benchmark_group("switch");
    group.throughput(Throughput::Elements(BURST as u64));
    group.bench_function(name, |b| {
        b.iter_batched(
            || feeder.next_batch(),
            |(gate, batch)| {
                sw.process(&mut ctx, InputGate(gate), batch, &mut out);
                drain(&mut out);
            },
            BatchSize::NumIterations(INPUTS_IN_FLIGHT),
        );
    });
    group.finish();

    assert_eq!(out.drops().get(SwitchDrop::SamePort), 0);
    assert_eq!(out.drops().total(), 0, "{name}: no drops while timed");
    assert_eq!(counter(sw, "moved"), 0, "{name}: no station moved");
    assert_eq!(pool.available(), pool.count(), "{name}: no buffer leaked");
}

fn learned_unicast(c: &mut Criterion, stations: u32, table: u32, name: &str) {
    let pool = PacketPool::new(nfv_bench::POOL_BUFFERS, nfv_bench::BUF_CAPACITY);
    let mut sw = four_port_switch(table);
    learn_stations(&mut *sw, pool, stations);
    let sets = unicast_sets(stations, 0x5eed_0001);
    bench_case(c, name, &mut *sw, pool, &sets, BURST);
    assert_eq!(
        counter(&*sw, "flooded"),
        stations as u64,
        "only the learning floods"
    );
}

fn switch_learned_unicast_1k(c: &mut Criterion) {
    learned_unicast(c, 1_000, DEFAULT_MAC_TABLE_SIZE, "learned_unicast_1k");
}

fn switch_learned_unicast_100k(c: &mut Criterion) {
    learned_unicast(c, 100_000, BIG_MAC_TABLE, "learned_unicast_100k");
}

fn switch_flood_broadcast_4ports(c: &mut Criterion) {
    let pool = PacketPool::new(nfv_bench::POOL_BUFFERS, nfv_bench::BUF_CAPACITY);
    let mut sw = four_port_switch(DEFAULT_MAC_TABLE_SIZE);
    learn_stations(&mut *sw, pool, 1_000);
    let sets = broadcast_sets(1_000, 0x5eed_0002);
    let out_per_burst = BURST * (PORTS as usize - 1);
    bench_case(
        c,
        "flood_broadcast_4ports",
        &mut *sw,
        pool,
        &sets,
        out_per_burst,
    );
    assert_eq!(counter(&*sw, "flood_no_buffer"), 0, "every copy was made");
}

criterion_group!(
    benches,
    switch_learned_unicast_1k,
    switch_learned_unicast_100k,
    switch_flood_broadcast_4ports
);
criterion_main!(benches);
