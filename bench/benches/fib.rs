//! `fib/*`: the IPv4 router's forwarding table ([`Fib`], DIR-24-8), in memory, one core.
//!
//! - `fib/lookup_10_routes`, `fib/lookup_1m_routes`: one iteration is [`BURST`] lookups of
//!   pre-generated addresses (`Throughput::Elements(32)`, so "Melem/s" = M lookups/s). The
//!   addresses cycle through a 4 MiB array of [`ADDRESSES`], so consecutive iterations look up
//!   different, cold addresses; half of them are drawn inside an inserted prefix, the other
//!   half uniformly from the whole space (mostly unrouted). The table is built outside the
//!   timed part.
//! - `fib/build_1m_routes`: [`FibBuilder::build`] of 1 M routes, including the first touch of
//!   every `tbl24` page the build writes (each build gets a fresh 64 MiB mapping); the `add`s
//!   and the builder clone happen in the untimed setup.
//!
//! The 1 M table has a realistic length mix (60 % /24, 10 % /23, 10 % /22, 8 % /21, 5 % /20,
//! 4 % /19, 3 % /16–/18) placed uniformly in unicast space (1.0.0.0–223.255.255.255) by a
//! fixed-seed RNG. The bench also prints (to stderr) the hit ratio of the lookup addresses,
//! one `Instant`-timed run of the 1 M `add`s and build, and each table's resident size after
//! its lookups (the drop in `VmRSS` when it is freed). Numbers are in `bench/RESULTS.md`.

use std::hint::black_box;
use std::net::Ipv4Addr;
use std::time::Instant;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use nfv_bench::Xorshift;
use nfv_dataplane::BURST;
use nfv_functions::router::fib::{Fib, FibBuilder};

/// Lookup addresses cycled through by the lookup cases (4 MiB, far beyond L2).
const ADDRESSES: usize = 1 << 20;

/// Routes in the large table: a full Internet table is ~1 M IPv4 prefixes.
const ROUTES_1M: usize = 1_000_000;

/// A prefix length from the 1 M table's mix (percentages in the module docs).
fn realistic_len(rng: &mut Xorshift) -> u8 {
    match rng.below(100) {
        0..60 => 24,
        60..70 => 23,
        70..80 => 22,
        80..88 => 21,
        88..93 => 20,
        93..97 => 19,
        _ => 16 + rng.below(3) as u8,
    }
}

/// A random /`len` network inside unicast space (1.0.0.0 up to 224.0.0.0), host byte order.
fn random_network(rng: &mut Xorshift, len: u8) -> u32 {
    let addr = 0x0100_0000 + rng.below(0xdf00_0000);
    addr & (u32::MAX << (32 - u32::from(len)))
}

/// Builder holding `routes` distinct prefixes from `next_len`; also returns the prefixes.
fn routes(
    rng: &mut Xorshift,
    routes: usize,
    mut next_len: impl FnMut(&mut Xorshift) -> u8,
) -> (FibBuilder, Vec<(u32, u8)>) {
    let mut builder = FibBuilder::new();
    let mut prefixes = Vec::with_capacity(routes);
    while builder.len() < routes {
        let len = next_len(rng);
        let network = random_network(rng, len);
        let before = builder.len();
        let next_hop = 1 + rng.below(64);
        builder
            .add(Ipv4Addr::from(network), len, next_hop)
            .expect("networks are masked to their length and next hops are 1..=64");
        if builder.len() > before {
            prefixes.push((network, len));
        }
    }
    (builder, prefixes)
}

/// [`ADDRESSES`] lookup addresses: each is, with even odds, inside a random one of `prefixes`
/// or uniform over the whole space.
fn addresses(rng: &mut Xorshift, prefixes: &[(u32, u8)]) -> Vec<u32> {
    (0..ADDRESSES)
        .map(|_| {
            let uniform = rng.next_u64() as u32;
            if rng.below(2) == 0 {
                uniform
            } else {
                let (network, len) = prefixes[rng.below(prefixes.len() as u32) as usize];
                network | (uniform & !(u32::MAX << (32 - u32::from(len))))
            }
        })
        .collect()
}

/// The process's resident set (`VmRSS`) in KiB, or 0 where /proc is unavailable.
fn rss_kib() -> i64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// One pass of lookups over `addrs`; returns how many found a route.
fn hits(fib: &Fib, addrs: &[u32]) -> usize {
    addrs.iter().filter(|&&a| fib.lookup(a).is_some()).count()
}

fn lookup_case(c: &mut Criterion, name: &str, fib: &Fib, addrs: &[u32]) {
    let mut group = c.benchmark_group("fib");
    group.throughput(Throughput::Elements(BURST as u64));
    group.bench_function(name, |b| {
        let mut next = 0;
        b.iter(|| {
            let burst = black_box(&addrs[next..next + BURST]);
            next = (next + BURST) % ADDRESSES;
            let mut out = [None; BURST];
            for (hop, &addr) in out.iter_mut().zip(burst) {
                *hop = fib.lookup(addr);
            }
            black_box(out);
        });
    });
    group.finish();
}

/// Drops `fib` and returns how much the resident set shrank (KiB): the table's resident size,
/// since `tbl24` is its own mapping, unmapped on drop. (A difference of `VmRSS` around the
/// build would be skewed by the builder's hash maps, which the build frees.)
fn resident_kib(fib: Fib) -> i64 {
    let with = rss_kib();
    drop(fib);
    with - rss_kib()
}

fn fib_lookup_10_routes(c: &mut Criterion) {
    let mut rng = Xorshift::new(0x5eed_f1b0_0010);
    const LENS: [u8; 10] = [8, 8, 12, 16, 16, 20, 24, 24, 28, 32];
    let mut lens = LENS.iter().copied().cycle();
    let (builder, prefixes) = routes(&mut rng, LENS.len(), |_| {
        lens.next().expect("the length list cycles")
    });
    let fib = builder.build();
    let addrs = addresses(&mut rng, &prefixes);
    let hit = hits(&fib, &addrs);
    eprintln!(
        "fib 10 routes: {fib:?}; {:.1} % of lookup addresses routed",
        100.0 * hit as f64 / ADDRESSES as f64,
    );
    lookup_case(c, "lookup_10_routes", &fib, &addrs);
    eprintln!("fib 10 routes: {} KiB resident", resident_kib(fib));
}

fn fib_lookup_1m_routes(c: &mut Criterion) {
    let mut rng = Xorshift::new(0x5eed_f1b0_1000);
    let start = Instant::now();
    let (builder, prefixes) = routes(&mut rng, ROUTES_1M, realistic_len);
    let added = start.elapsed();
    let start = Instant::now();
    let fib = builder.build();
    let built = start.elapsed();
    let addrs = addresses(&mut rng, &prefixes);
    let hit = hits(&fib, &addrs);
    eprintln!(
        "fib 1M routes: {fib:?}; 1M adds {added:.1?}, build {built:.1?}; \
         {:.1} % of lookup addresses routed",
        100.0 * hit as f64 / ADDRESSES as f64,
    );
    lookup_case(c, "lookup_1m_routes", &fib, &addrs);
    eprintln!("fib 1M routes: {} KiB resident", resident_kib(fib));
}

fn fib_build_1m_routes(c: &mut Criterion) {
    let mut rng = Xorshift::new(0x5eed_f1b0_1000);
    let (builder, _) = routes(&mut rng, ROUTES_1M, realistic_len);
    let mut group = c.benchmark_group("fib");
    group.sample_size(10);
    group.bench_function("build_1m_routes", |b| {
        b.iter_batched(
            || builder.clone(),
            |builder| builder.build(),
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

criterion_group!(
    benches,
    fib_lookup_10_routes,
    fib_lookup_1m_routes,
    fib_build_1m_routes
);
criterion_main!(benches);
