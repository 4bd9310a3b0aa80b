//! `graph/*`: the graph runner's cost on top of an element.
//!
//! `graph/switch_to_sink_32` injects one burst of known unicast into the switch of
//! `switch/learned_unicast_1k`, whose four output gates go to no-op sink ports. The
//! difference between the two cases is the runner: the work-queue push/pop, the trace-flag
//! check, a fresh `Context`, and `flush` re-batching each gate's queue into a `Batch` for
//! `tx_burst`. (`QueuePort` is not used: it takes a mutex and copies every frame into a `Vec`.)
//!
//! Cost at burst 32 on a 2-vCPU AMD EPYC KVM guest, 2026-11-26: ~71 / 50 ns/pkt (median of 3
//! runs / best of 9), i.e. about 8 ns/pkt of runner overhead over `switch/learned_unicast_1k`
//! in the least-contended runs.

use std::os::fd::RawFd;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use nfv_bench::{
    BUF_CAPACITY, Feeder, INPUTS_IN_FLIGHT, NOW, POOL_BUFFERS, PORTS, four_port_switch,
    learn_stations, unicast_sets,
};
use nfv_dataplane::{BURST, Batch, Endpoint, GraphBuilder, PacketPool, Port, PortError, PortStats};

/// A port that transmits by freeing: counts what it is given and drops it. Never receives.
#[derive(Debug)]
struct SinkPort {
    name: String,
    stats: PortStats,
}

impl Port for SinkPort {
    fn name(&self) -> &str {
        &self.name
    }

    fn rx_burst(&mut self, _pool: &PacketPool, _batch: &mut Batch) -> Result<usize, PortError> {
        Ok(0)
    }

    fn tx_burst(&mut self, batch: &mut Batch) {
        for p in batch.drain() {
            self.stats.tx_packets += 1;
            self.stats.tx_bytes += p.len() as u64;
        }
    }

    fn rx_fd(&self) -> Option<RawFd> {
        None
    }

    fn stats(&self) -> PortStats {
        self.stats
    }
}

fn graph_switch_to_sink_32(c: &mut Criterion) {
    const STATIONS: u32 = 1_000;
    let pool = PacketPool::new(POOL_BUFFERS, BUF_CAPACITY);
    let mut sw = four_port_switch(nfv_functions::l2_switch::DEFAULT_MAC_TABLE_SIZE);
    learn_stations(&mut *sw, pool, STATIONS);

    let mut gb = GraphBuilder::new(pool);
    let sw_id = gb.add_element("sw", sw).expect("one element");
    for g in 0..PORTS {
        let port = gb
            .add_port(
                format!("sink{g}"),
                Box::new(SinkPort {
                    name: format!("sink{g}"),
                    stats: PortStats::default(),
                }),
            )
            .expect("four ports");
        gb.connect(Endpoint::Gate(sw_id, g), Endpoint::Port(port))
            .expect("each switch gate feeds its sink");
    }
    let mut graph = gb.build();

    let sets = unicast_sets(STATIONS, 0x5eed_0001);
    let mut feeder = Feeder::new(pool, &sets);

    let mut group = c.benchmark_group("graph");
    group.throughput(Throughput::Elements(BURST as u64));
    group.bench_function("switch_to_sink_32", |b| {
        b.iter_batched(
            || feeder.next_batch(),
            |(gate, batch)| {
                graph
                    .inject(Endpoint::Gate(sw_id, gate), batch, NOW)
                    .expect("the switch has this input gate");
            },
            BatchSize::NumIterations(INPUTS_IN_FLIGHT),
        );
    });
    group.finish();

    // Every injected packet reached a sink: forwarded, none dropped or flooded.
    let errors = graph.conservation_errors();
    assert!(errors.is_empty(), "conservation: {errors:?}");
    let report = graph.report();
    let sw = &report.elements[0];
    assert_eq!(sw.drops.total(), 0, "no drops");
    let sent: u64 = sw.out_packets.iter().map(|(_, n)| n).sum();
    assert_eq!(sent, sw.in_packets, "one packet out per packet in");
    let sunk: u64 = report.ports.iter().map(|p| p.stats.tx_packets).sum();
    assert_eq!(sunk, sent, "every packet reached a sink");
    assert_eq!(pool.available(), pool.count(), "no buffer leaked");
}

criterion_group!(benches, graph_switch_to_sink_32);
criterion_main!(benches);
