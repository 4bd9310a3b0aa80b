//! `pool/*`: packet buffer allocation and release, the floor under every other case.
//!
//! `pool/alloc_copy_free_32` is what an in-memory rx costs (take a buffer, copy a 64-byte
//! frame in, later free it): subtract it from a case that builds its batch inside the timed
//! part, or add it to one that does not (all `switch/*` and `graph/*` cases build outside).
//!
//! Costs on a 2-vCPU AMD EPYC KVM guest, 2026-11-26 (median of 3 runs / best of 9):
//! `alloc_free_32` ~10 / 9 ns per buffer (two uncontended atomic read-modify-writes on the
//! `ArrayQueue` free list), `alloc_copy_free_32` ~13 / 11 ns per buffer.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use nfv_bench::{BUF_CAPACITY, FRAME_LEN, POOL_BUFFERS, frame, station_mac, to_batch};
use nfv_dataplane::{BURST, Batch, PacketPool};

fn pool_benches(c: &mut Criterion) {
    let pool = PacketPool::new(POOL_BUFFERS, BUF_CAPACITY);
    let frames: Vec<[u8; FRAME_LEN]> = (0..BURST as u32)
        .map(|i| frame(station_mac(i + 1), station_mac(i)))
        .collect();

    let mut group = c.benchmark_group("pool");
    group.throughput(Throughput::Elements(BURST as u64));
    group.bench_function("alloc_free_32", |b| {
        b.iter(|| {
            let mut batch = Batch::new();
            for _ in 0..BURST {
                let p = pool.alloc().expect("bench pool has a free buffer");
                batch.push(p).expect("BURST buffers fit a batch");
            }
            drop(black_box(batch));
        });
    });
    group.bench_function("alloc_copy_free_32", |b| {
        b.iter(|| drop(black_box(to_batch(&pool, black_box(&frames)))));
    });
    group.finish();

    assert_eq!(pool.available(), pool.count(), "no buffer leaked");
}

criterion_group!(benches, pool_benches);
criterion_main!(benches);
