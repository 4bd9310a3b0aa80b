//! `nfv-bench`: criterion benchmarks of the packet path, and the fixtures they share.
//!
//! Everything runs in memory on one core: no port does a syscall, no clock is read by the
//! code under test (time is a fixed [`Instant`]). Every case handles one [`BURST`] of 64-byte
//! frames per iteration and reports `Throughput::Elements(BURST)`, so criterion prints
//! packets per second ("Melem/s" = Mpps) next to the time per burst; divide the time by 32
//! for ns/packet.
//!
//! # Cases
//! Names follow `subject/case_size` (STYLE §2.8).
//!
//! | bench file | case | what one iteration does |
//! |---|---|---|
//! | `pool.rs` | `pool/alloc_free_32` | 32 × `PacketPool::alloc`, then drop the 32 buffers |
//! | `pool.rs` | `pool/alloc_copy_free_32` | the same plus a 64-byte copy into each: the cost of an in-memory rx, to subtract from cases that include it |
//! | `switch.rs` | `switch/learned_unicast_1k` | [`L2Switch::process`] of 32 known-unicast frames (1 000 learned stations), then free the 32 emitted buffers |
//! | `switch.rs` | `switch/learned_unicast_100k` | the same with 100 000 learned stations: the FDB no longer fits in L2 |
//! | `switch.rs` | `switch/flood_broadcast_4ports` | 32 broadcast frames into a 4-port VLAN: 3 packets out per frame (2 clones), then free all 96 |
//! | `graph.rs` | `graph/switch_to_sink_32` | `Graph::inject` of 32 known-unicast frames into the switch, whose gates go to no-op sink ports: the runner's queueing and flush on top of `switch/learned_unicast_1k` |
//! | `functions.rs` | `router/*`, `nat/*`, `firewall/*`, `chain/*` | one burst of 60-byte IPv4/UDP frames through the router, NAT, firewall, or the firewall → NAT → router graph; set-ups in [`scenario`] |
//!
//! # Instruction counts
//! [`scenario::Scenario`] holds each set-up as a value, so the criterion benches and the
//! `instr` binary (`src/bin/instr.rs`) measure the same thing. `bench/instructions.sh` runs
//! `instr` twice per scenario under valgrind's callgrind and prints instructions per packet
//! (the difference of two packet counts cancels set-up and warm-up): a number that does not
//! move with the load of a shared machine, unlike the times.
//!
//! # Timing model
//! The input batch is built *outside* the timed part (`iter_batched`): the setup allocates 32
//! buffers and copies pre-built frames into them; the routine processes the batch and drops
//! whatever comes out, returning those buffers to the pool (freeing is part of a real tx, so
//! it is timed). So the `switch/*` and `graph/*` numbers do **not** include an rx copy; add
//! `pool/alloc_copy_free_32` minus `pool/alloc_free_32` to estimate a copying port's rx.
//!
//! The batch size is fixed with `BatchSize::NumIterations(`[`INPUTS_IN_FLIGHT`]`)` rather
//! than `SmallInput`: `SmallInput` keeps `iters / 10` inputs alive at once, which during
//! warm-up is hundreds of thousands of batches — far more buffers than a pool holds (and the
//! point of a pool is that it is small). 64 inputs per timed run keep the clock overhead
//! below 1 ns per iteration.
//!
//! The unicast frame sets are pseudo-random (a fixed-seed xorshift, so runs are comparable):
//! each of [`FRAME_SETS`] sets arrives on one ingress gate (gates taken in turn), its sources
//! are stations learned on that gate (no station moves) and its destinations are stations
//! learned on another gate (no `same_port` drops). Every case checks once, before timing,
//! that the switch really forwards (or floods) what the case claims.
//!
//! # Running
//! ```text
//! cargo bench -p nfv-bench                                   # all cases
//! cargo bench -p nfv-bench -- --warm-up-time 1 --measurement-time 3
//! cargo bench -p nfv-bench --bench switch -- learned_unicast # one file, filtered
//! cargo bench -p nfv-bench --no-run                          # what CI does: compile only
//! ```
//! Results, with the machine they came from, are in `bench/RESULTS.md`. Numbers from a
//! shared 2-core VM (like CI) are indicative only; compare runs on the same machine.
//!
//! [`L2Switch::process`]: nfv_dataplane::Element::process

pub mod scenario;

use std::collections::HashMap;

use nfv_dataplane::testing::eth;
use nfv_dataplane::{BURST, Batch, Context, Element, InputGate, Instant, Outputs, PacketPool};

/// Bytes per frame: 14-byte Ethernet header + 50 bytes of payload (the classic 64-byte
/// minimum frame, counting those bytes as frame data since there is no FCS in memory).
pub const FRAME_LEN: usize = 64;

/// Buffers in a bench pool: the runtime's `POOL_BUFFERS`.
pub const POOL_BUFFERS: usize = 4096;

/// Frame capacity of a bench pool buffer (slot = 128 B headroom + 2048, as in the tests).
pub const BUF_CAPACITY: usize = 2048;

/// Inputs built per timed run (`BatchSize::NumIterations`). With one batch of 32 each this
/// holds 2048 of the [`POOL_BUFFERS`], leaving room for flood copies.
pub const INPUTS_IN_FLIGHT: u64 = 64;

/// Pre-built frame sets cycled through by the unicast and flood cases (32 768 frames, 2 MiB),
/// so the 100k case keeps touching cold FDB entries instead of the same 64.
pub const FRAME_SETS: usize = 1024;

/// Switch ports in the bench topologies (all access ports in VLAN 1).
pub const PORTS: u16 = 4;

/// The fixed time every case runs at (entries are learned at it, so none ever ages out).
pub const NOW: Instant = Instant::from_secs(1);

/// The unicast ethertype of the bench frames (IPv4; the switch does not look past it).
const IPV4: u16 = 0x0800;

/// Station `i`'s MAC: `02:00:ii:ii:ii:ii` (locally administered unicast, never zero).
pub fn station_mac(i: u32) -> [u8; 6] {
    let b = i.to_be_bytes();
    [0x02, 0x00, b[0], b[1], b[2], b[3]]
}

/// The gate station `i` is learned on: stations are spread round-robin over the ports.
pub fn station_gate(i: u32) -> u16 {
    (i % u32::from(PORTS)) as u16
}

/// A [`FRAME_LEN`]-byte untagged IPv4 frame from `src` to `dst`.
pub fn frame(dst: [u8; 6], src: [u8; 6]) -> [u8; FRAME_LEN] {
    let f = eth(dst, src, IPV4, &[0u8; FRAME_LEN - 14]);
    f.try_into()
        .expect("header + payload is exactly FRAME_LEN bytes")
}

/// A deterministic xorshift64 generator, so every run benchmarks the same frames.
#[derive(Clone, Debug)]
pub struct Xorshift(u64);

impl Xorshift {
    /// A generator from a non-zero `seed`.
    pub fn new(seed: u64) -> Xorshift {
        Xorshift(seed.max(1))
    }

    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A value in `0..n` (`n > 0`; the modulo bias is irrelevant here).
    pub fn below(&mut self, n: u32) -> u32 {
        (self.next_u64() % u64::from(n)) as u32
    }
}

/// One burst of frames that arrives on `gate`.
#[derive(Clone, Debug)]
pub struct FrameSet {
    /// Ingress gate.
    pub gate: u16,
    /// [`BURST`] frames.
    pub frames: Vec<[u8; FRAME_LEN]>,
}

/// The element of node `node` of the topology `yaml`, built by `nfv-runtime` exactly as
/// `nfv run` builds it.
///
/// # Panics
/// If the topology is invalid or `node` is not a function (a bench bug).
pub fn element_from_yaml(yaml: &str, node: &str) -> Box<dyn Element> {
    let topo = topology_from_yaml(yaml);
    nfv_runtime::kinds::element(&topo, node).expect("the bench element builds")
}

/// The validated topology `yaml` (its warnings ignored: bench topologies leave gates
/// unlinked).
///
/// # Panics
/// If the topology is invalid (a bench bug).
pub fn topology_from_yaml(yaml: &str) -> nfv_config::Topology {
    match nfv_config::load_str("bench.yaml", yaml) {
        Ok(l) => l.topology,
        Err(e) => panic!("bench topology is invalid:\n{e}\n{yaml}"),
    }
}

/// A 4-port switch (access ports `p1`..`p4`, VLAN 1) with room for `mac_table_size` entries.
pub fn four_port_switch(mac_table_size: u32) -> Box<dyn Element> {
    element_from_yaml(
        &format!(
            "name: bench\nnodes:\n  sw:\n    kind: switch\n    mac-table-size: {mac_table_size}\n    \
             ageing: 300s\n    ports: {{ p1: {{}}, p2: {{}}, p3: {{}}, p4: {{}} }}\n"
        ),
        "sw",
    )
}

/// Free every packet queued on every gate of `out`; returns how many there were.
#[inline]
pub fn drain(out: &mut Outputs) -> usize {
    let mut n = 0;
    for g in 0..out.gate_count() as usize {
        if let Some(q) = out.queue_mut(g) {
            n += q.len();
            q.clear();
        }
    }
    n
}

/// A batch holding copies of `frames`, allocated from `pool`.
///
/// # Panics
/// If the pool is empty or there are more than [`BURST`] frames (a bench sizing bug).
#[inline]
pub fn to_batch(pool: &PacketPool, frames: &[[u8; FRAME_LEN]]) -> Batch {
    let mut batch = Batch::new();
    for f in frames {
        let mut p = pool.alloc().expect("bench pool has a free buffer");
        let copied = p.extend_from_slice(f);
        debug_assert!(copied, "a 64-byte frame fits a bench buffer");
        batch.push(p).expect("frame sets hold at most BURST frames");
    }
    batch
}

/// Teach `sw` stations `0..stations`, each on [`station_gate`], by feeding it one broadcast
/// frame from every station (flooded, then freed), as the data plane would learn them.
///
/// # Panics
/// If the switch did not learn every station (table too small).
pub fn learn_stations(sw: &mut dyn Element, pool: PacketPool, stations: u32) {
    let mut ctx = Context::new(NOW, pool);
    let mut out = Outputs::new(PORTS);
    for gate in 0..PORTS {
        let frames: Vec<_> = (0..stations)
            .filter(|&i| station_gate(i) == gate)
            .map(|i| frame([0xff; 6], station_mac(i)))
            .collect();
        for chunk in frames.chunks(BURST) {
            sw.process(&mut ctx, InputGate(gate), to_batch(&pool, chunk), &mut out);
            drain(&mut out);
        }
    }
    assert_eq!(
        counter(sw, "fdb_entries"),
        u64::from(stations),
        "every station is learned"
    );
}

/// A station learned on `gate`, chosen at random (`stations` is a multiple of [`PORTS`]).
fn station_on(rng: &mut Xorshift, stations: u32, gate: u16) -> u32 {
    rng.below(stations / u32::from(PORTS)) * u32::from(PORTS) + u32::from(gate)
}

/// A station learned on any gate but `gate`, chosen at random.
fn station_off(rng: &mut Xorshift, stations: u32, gate: u16) -> u32 {
    let i = rng.below(stations);
    // Flipping bit 0 moves the station to the neighbouring gate, keeping it in range.
    if station_gate(i) == gate { i ^ 1 } else { i }
}

/// [`FRAME_SETS`] bursts of known unicast: set `k` arrives on gate `k % 4`, from stations
/// learned on that gate, to random stations learned on other gates.
///
/// # Panics
/// If `stations` is not a positive multiple of [`PORTS`].
pub fn unicast_sets(stations: u32, seed: u64) -> Vec<FrameSet> {
    assert!(stations > 0 && stations.is_multiple_of(u32::from(PORTS)));
    let mut rng = Xorshift::new(seed);
    (0..FRAME_SETS)
        .map(|k| {
            let gate = (k % PORTS as usize) as u16;
            let frames = (0..BURST)
                .map(|_| {
                    let src = station_on(&mut rng, stations, gate);
                    let dst = station_off(&mut rng, stations, gate);
                    frame(station_mac(dst), station_mac(src))
                })
                .collect();
            FrameSet { gate, frames }
        })
        .collect()
}

/// [`FRAME_SETS`] bursts of broadcast frames from stations learned on the ingress gate.
///
/// # Panics
/// As [`unicast_sets`].
pub fn broadcast_sets(stations: u32, seed: u64) -> Vec<FrameSet> {
    assert!(stations > 0 && stations.is_multiple_of(u32::from(PORTS)));
    let mut rng = Xorshift::new(seed);
    (0..FRAME_SETS)
        .map(|k| {
            let gate = (k % PORTS as usize) as u16;
            let frames = (0..BURST)
                .map(|_| frame([0xff; 6], station_mac(station_on(&mut rng, stations, gate))))
                .collect();
            FrameSet { gate, frames }
        })
        .collect()
}

/// Cycles through frame sets, building the next input batch (the untimed setup).
#[derive(Debug)]
pub struct Feeder<'a> {
    pool: PacketPool,
    sets: &'a [FrameSet],
    next: usize,
}

impl<'a> Feeder<'a> {
    /// A feeder over `sets` (non-empty) allocating from `pool`.
    pub fn new(pool: PacketPool, sets: &'a [FrameSet]) -> Feeder<'a> {
        Feeder {
            pool,
            sets,
            next: 0,
        }
    }

    /// The next set as a batch, with its ingress gate.
    #[inline]
    pub fn next_batch(&mut self) -> (u16, Batch) {
        let set = &self.sets[self.next];
        self.next = (self.next + 1) % self.sets.len();
        (set.gate, to_batch(&self.pool, &set.frames))
    }
}

/// The element counter `name` of `elem`.
///
/// # Panics
/// If the element has no such counter.
pub fn counter(elem: &dyn Element, name: &str) -> u64 {
    let mut all = HashMap::new();
    elem.counters(&mut |k, v| {
        all.insert(k, v);
    });
    *all.get(name).expect("element has this counter")
}
