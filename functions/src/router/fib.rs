//! IPv4 forwarding table (FIB): longest-prefix match with DIR-24-8.
//!
//! The table is built once from a list of routes ([`FibBuilder`]) and then only read
//! ([`Fib::lookup`]). It is the DIR-24-8 scheme of Gupta, Lin and McKeown ("Routing lookups in
//! hardware at memory access speeds", INFOCOM 1998), as DPDK `rte_lpm` implements it: one
//! memory read for every address whose longest match is /24 or shorter, two reads otherwise.
//!
//! # Structure
//! - `tbl24`: 2^24 `u32` entries, indexed by the top 24 bits of the address. Every prefix of
//!   length ≤ 24 is expanded into the `2^(24 - len)` entries it covers.
//! - `tbl8`: groups of 256 `u32` entries, indexed by the low 8 bits. A /24 that contains a
//!   prefix longer than /24 gets one group; its `tbl24` entry points at the group.
//!
//! An entry of either table is encoded as:
//!
//! | value | meaning |
//! |---|---|
//! | `0` | no route |
//! | `1..=2^31 - 1` | next hop ([`MAX_NEXT_HOP`] is the largest) |
//! | `2^31 \| g` (tbl24 only) | extended: look in tbl8 group `g` |
//!
//! `tbl8` entries are never extended. A lookup is therefore `tbl24[addr >> 8]`, then, if the
//! extended bit is set, `tbl8[g * 256 + (addr & 0xff)]`. `tbl24` is a `Box<[u32; 1 << 24]>`,
//! so the compiler knows `addr >> 8` is in bounds and emits no check; the `tbl8` read uses
//! `get`, so no `u32` can make [`Fib::lookup`] panic (by construction every stored group index
//! is valid anyway).
//!
//! # Memory
//! `tbl24` is 64 MiB of *virtual* memory, allocated zeroed (`vec![0u32; 1 << 24]` is a
//! `calloc`, which for this size is a fresh anonymous `mmap`, unmapped again on drop): pages
//! become resident only when the build writes them. One 4 KiB page holds 1024 /24 blocks (a
//! /14), so a table of a few routes stays small (10 routes including two /8s: 572 KiB), while a
//! full Internet table touches every page of the space it covers (1 M routes spread over
//! 1.0.0.0–223.255.255.255: 55.8 MiB resident, i.e. 223/256 of `tbl24`). Lookups of unrouted
//! space read never-written pages, which the kernel maps to its shared zero page: they cost
//! no resident memory. Each tbl8 group is 1 KiB, allocated per /24 that holds a longer prefix
//! (Internet tables carry few: most networks filter anything longer than /24).
//! [`Fib::memory_bytes`] reports the allocated (virtual) size of both tables.
//!
//! # Build
//! [`FibBuilder::add`] validates a route and stores it in a hash map per prefix length (a
//! second add of the same prefix replaces the first). [`FibBuilder::build`] then walks the
//! lengths from 0 to 32, each sorted by address (so the writes sweep `tbl24` in order):
//! - length ≤ 24: fill the covered `tbl24` range with the next hop. Because shorter prefixes
//!   are written first, a longer prefix overwrites the part of a shorter one it covers, which
//!   is exactly longest-prefix match;
//! - length > 24 (after every ≤ 24 route): if the `tbl24` entry is not extended yet, allocate a
//!   tbl8 group initialised with that entry's value (the covering route, or 0), point the entry
//!   at it, then fill the covered range of the group.
//!
//! The work is linear in the number of routes plus the number of entries written, which is at
//! most 2^24 per prefix length present.
//!
//! # Costs
//! Measured on a shared 2-core AMD EPYC VM (L2 2 MiB, L3 32 MiB, 4 KiB pages) while other
//! builds ran, release build, `cargo bench -p nfv-bench --bench fib`; medians of 12 runs, best
//! run in brackets (details in `bench/RESULTS.md`):
//!
//! | case | cost |
//! |---|---|
//! | lookup, 10 routes, random addresses | 3.6 ns/lookup, 280 M lookups/s (2.7 ns) |
//! | lookup, 1 M routes, random addresses | 20 ns/lookup, 50 M lookups/s (15 ns) |
//! | build, 1 M routes | 71 ms (59 ms), plus ~0.1 s for the 1 M `add`s |
//! | resident, 1 M / 10 routes | 55.8 MiB / 572 KiB |
//!
//! The lookup itself is ~11 instructions and one (rarely two) loads; what it costs is where
//! that load hits. Uniformly random addresses over a 56 MiB table (larger than L3) miss cache
//! and TLB on nearly every lookup; the out-of-order core overlaps the independent lookups of
//! a burst, so 32 of them cost far less than 32 memory latencies, but the 1 M case is bound by
//! memory, not by the code. With locality the cost falls to the 10-route level (a scratch run
//! drawing addresses from the 1 M table's first 1 000 / 10 000 / 100 000 prefixes: ~1.1 / 3.6 /
//! 7 ns). Transparent huge pages (`MADV_HUGEPAGE` on `tbl24`, tried in a scratch build: it
//! needs `unsafe`, which this crate does not use) made no measurable difference on this VM.
//!
//! # Incremental updates
//! Not implemented: the router builds its table once from configuration. They remain possible
//! without changing the lookup: keep the route set (as the builder does) next to the table;
//! adding or deleting `p/len` recomputes only the entries `p/len` covers, by re-running the
//! build above restricted to that range with the routes inside it (and the covering route, found
//! by probing the shorter lengths), and frees a tbl8 group whose 256 entries become equal. Only
//! the entries of that range change. Updating under live lookups would need the entries to be
//! `AtomicU32` (relaxed loads compile to the same `mov`); the simpler path is to build a new
//! table and swap it in behind an `Arc`.

use std::fmt;
use std::net::Ipv4Addr;

use ahash::AHashMap;

/// The largest next hop a route can carry: entries use bit 31 to mark a tbl8 reference.
pub const MAX_NEXT_HOP: u32 = EXTENDED - 1;

/// Entry flag: the low 31 bits are a tbl8 group index, not a next hop.
const EXTENDED: u32 = 1 << 31;

/// Entries of `tbl24`: one per /24.
const TBL24_ENTRIES: usize = 1 << 24;

/// Entries of a tbl8 group: one per address of a /24.
const TBL8_GROUP: usize = 256;

/// Why a route was refused by [`FibBuilder::add`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FibError {
    /// The prefix length is more than 32.
    #[error("prefix length {len} is out of range: an IPv4 prefix is at most /32")]
    PrefixLength {
        /// The length given.
        len: u8,
    },
    /// The address has bits set beyond the prefix length.
    #[error("{prefix}/{len} has host bits set: the network is {network}/{len}")]
    HostBits {
        /// The address given.
        prefix: Ipv4Addr,
        /// The length given.
        len: u8,
        /// `prefix` with the host bits cleared.
        network: Ipv4Addr,
    },
    /// The next hop is 0 (which encodes "no route") or does not fit in 31 bits.
    #[error("next hop {next_hop} is out of range: it must be 1..={max}", max = MAX_NEXT_HOP)]
    NextHop {
        /// The next hop given.
        next_hop: u32,
    },
}

/// The netmask of a /`len` (`len` ≤ 32) in host byte order.
fn mask(len: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0)
}

/// Collects routes, then builds a [`Fib`] in one pass.
///
/// # Examples
/// ```
/// use std::net::Ipv4Addr;
/// use nfv_functions::router::fib::FibBuilder;
///
/// let mut routes = FibBuilder::new();
/// routes.add(Ipv4Addr::UNSPECIFIED, 0, 1)?; // default route
/// routes.add(Ipv4Addr::new(10, 0, 0, 0), 8, 2)?;
/// let fib = routes.build();
/// assert_eq!(fib.lookup_addr(Ipv4Addr::new(10, 1, 2, 3)), Some(2));
/// assert_eq!(fib.lookup_addr(Ipv4Addr::new(192, 0, 2, 1)), Some(1));
/// # Ok::<(), nfv_functions::router::fib::FibError>(())
/// ```
#[derive(Clone)]
pub struct FibBuilder {
    /// `by_len[len]`: network (host byte order) → next hop.
    by_len: [AHashMap<u32, u32>; 33],
}

impl FibBuilder {
    /// An empty route set.
    pub fn new() -> Self {
        FibBuilder {
            by_len: std::array::from_fn(|_| AHashMap::default()),
        }
    }

    /// Adds the route `prefix/len → next_hop`. A later add of the same prefix and length
    /// replaces the earlier next hop.
    ///
    /// # Errors
    /// [`FibError::PrefixLength`] if `len > 32`, [`FibError::HostBits`] if `prefix` has bits
    /// set past `len`, [`FibError::NextHop`] if `next_hop` is 0 or more than [`MAX_NEXT_HOP`].
    /// The route set is unchanged on error.
    pub fn add(&mut self, prefix: Ipv4Addr, len: u8, next_hop: u32) -> Result<(), FibError> {
        if len > 32 {
            return Err(FibError::PrefixLength { len });
        }
        let bits = u32::from(prefix);
        let network = bits & mask(len);
        if network != bits {
            return Err(FibError::HostBits {
                prefix,
                len,
                network: Ipv4Addr::from(network),
            });
        }
        if next_hop == 0 || next_hop > MAX_NEXT_HOP {
            return Err(FibError::NextHop { next_hop });
        }
        self.by_len[usize::from(len)].insert(network, next_hop);
        Ok(())
    }

    /// The number of distinct prefixes added.
    pub fn len(&self) -> usize {
        self.by_len.iter().map(|routes| routes.len()).sum()
    }

    /// Whether no route has been added.
    pub fn is_empty(&self) -> bool {
        self.by_len.iter().all(|routes| routes.is_empty())
    }

    /// Builds the table: lengths in ascending order, each sorted by address, longer prefixes
    /// overwriting the part of shorter ones they cover (see the [module docs](self)).
    pub fn build(self) -> Fib {
        let routes = self.len();
        let mut tbl24: Box<[u32; TBL24_ENTRIES]> = vec![0u32; TBL24_ENTRIES]
            .into_boxed_slice()
            .try_into()
            .expect("the Vec has exactly TBL24_ENTRIES entries");
        let mut tbl8: Vec<u32> = Vec::new();
        let mut sorted: Vec<(u32, u32)> = Vec::new();

        for (len, by_network) in self.by_len.into_iter().enumerate() {
            sorted.clear();
            sorted.extend(by_network);
            sorted.sort_unstable_by_key(|&(network, _)| network);
            for &(network, next_hop) in &sorted {
                let index24 = (network >> 8) as usize;
                if len <= 24 {
                    // The network is aligned to its length, so the range stays inside tbl24.
                    let count = 1usize << (24 - len);
                    tbl24[index24..index24 + count].fill(next_hop);
                    continue;
                }
                let entry = &mut tbl24[index24];
                let group = if *entry & EXTENDED != 0 {
                    (*entry & !EXTENDED) as usize
                } else {
                    // Every address of the /24 starts with what tbl24 said for it: the
                    // covering route, or none.
                    let group = tbl8.len() / TBL8_GROUP;
                    tbl8.resize(tbl8.len() + TBL8_GROUP, *entry);
                    *entry =
                        EXTENDED | u32::try_from(group).expect("at most 2^24 groups, one per /24");
                    group
                };
                let start = group * TBL8_GROUP + (network & 0xff) as usize;
                let count = 1usize << (32 - len);
                tbl8[start..start + count].fill(next_hop);
            }
        }
        tbl8.shrink_to_fit();
        Fib {
            tbl24,
            tbl8,
            routes,
        }
    }
}

impl Default for FibBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for FibBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FibBuilder")
            .field("routes", &self.len())
            .finish_non_exhaustive()
    }
}

/// An immutable IPv4 longest-prefix-match table (DIR-24-8), built by [`FibBuilder`].
///
/// Lookups take `&self` and never allocate, so one table can be shared by every worker
/// (`Fib` is `Send + Sync`; wrap it in an `Arc`). `Debug` prints the sizes, not the 16 M
/// entries.
pub struct Fib {
    /// Indexed by the top 24 bits of the address; see the module docs for the encoding.
    tbl24: Box<[u32; TBL24_ENTRIES]>,
    /// Groups of [`TBL8_GROUP`] entries, indexed by `group * 256 + low 8 bits`.
    tbl8: Vec<u32>,
    /// Distinct prefixes the table was built from.
    routes: usize,
}

impl Fib {
    /// The next hop of the longest prefix containing `addr` (host byte order, i.e.
    /// `u32::from(Ipv4Addr)`), or `None` if no route covers it. Never panics.
    #[inline]
    pub fn lookup(&self, addr: u32) -> Option<u32> {
        let entry = self.tbl24[(addr >> 8) as usize];
        let entry = if entry & EXTENDED == 0 {
            entry
        } else {
            let index = (((entry & !EXTENDED) as usize) << 8) | (addr & 0xff) as usize;
            self.tbl8.get(index).copied().unwrap_or(0)
        };
        (entry != 0).then_some(entry)
    }

    /// [`lookup`](Self::lookup) for an [`Ipv4Addr`].
    #[inline]
    pub fn lookup_addr(&self, addr: Ipv4Addr) -> Option<u32> {
        self.lookup(u32::from(addr))
    }

    /// The number of distinct prefixes the table was built from.
    pub fn routes(&self) -> usize {
        self.routes
    }

    /// The number of 256-entry tbl8 groups: /24 blocks holding a prefix longer than /24.
    pub fn tbl8_groups(&self) -> usize {
        self.tbl8.len() / TBL8_GROUP
    }

    /// Bytes allocated for both tables (virtual size: untouched `tbl24` pages are not
    /// resident, see the module docs).
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of_val(&*self.tbl24) + self.tbl8.capacity() * std::mem::size_of::<u32>()
    }
}

impl fmt::Debug for Fib {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fib")
            .field("routes", &self.routes)
            .field("tbl8_groups", &self.tbl8_groups())
            .field("memory_bytes", &self.memory_bytes())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::HashMap;

    use super::*;

    fn ip(s: &str) -> u32 {
        u32::from(s.parse::<Ipv4Addr>().unwrap())
    }

    fn fib(routes: &[(&str, u8, u32)]) -> Fib {
        let mut b = FibBuilder::new();
        for &(prefix, len, next_hop) in routes {
            b.add(prefix.parse().unwrap(), len, next_hop).unwrap();
        }
        b.build()
    }

    /// Asserts `lookup(addr) == want` for each `(addr, want)`, naming the failing address.
    fn check(fib: &Fib, cases: &[(&str, Option<u32>)]) {
        for &(addr, want) in cases {
            assert_eq!(fib.lookup(ip(addr)), want, "lookup({addr})");
            assert_eq!(fib.lookup_addr(addr.parse().unwrap()), want, "{addr}");
        }
    }

    const NESTED: [(&str, u8, u32); 6] = [
        ("0.0.0.0", 0, 1),
        ("10.0.0.0", 8, 2),
        ("10.1.0.0", 16, 3),
        ("10.1.2.0", 24, 4),
        ("10.1.2.128", 25, 5),
        ("10.1.2.200", 32, 6),
    ];

    const NESTED_CASES: [(&str, Option<u32>); 22] = [
        ("0.0.0.0", Some(1)),
        ("255.255.255.255", Some(1)),
        ("9.255.255.255", Some(1)),
        ("10.0.0.0", Some(2)),
        ("10.0.255.255", Some(2)),
        ("10.255.255.255", Some(2)),
        ("11.0.0.0", Some(1)),
        ("10.1.0.0", Some(3)),
        ("10.1.1.255", Some(3)),
        ("10.1.255.255", Some(3)),
        ("10.2.0.0", Some(2)),
        ("10.1.2.0", Some(4)),
        ("10.1.2.127", Some(4)),
        ("10.1.2.128", Some(5)),
        ("10.1.2.199", Some(5)),
        ("10.1.2.200", Some(6)),
        ("10.1.2.201", Some(5)),
        ("10.1.2.255", Some(5)),
        ("10.1.3.0", Some(3)),
        ("10.1.3.255", Some(3)),
        ("10.0.2.200", Some(2)),
        ("11.1.2.200", Some(1)),
    ];

    #[test]
    fn fib_nested_prefixes_longest_match_wins_at_every_boundary() {
        let fib = fib(&NESTED);
        check(&fib, &NESTED_CASES);
        assert_eq!(fib.routes(), 6);
        assert_eq!(
            fib.tbl8_groups(),
            1,
            "the /25 and the /32 share 10.1.2.0/24's group"
        );
    }

    #[test]
    fn fib_result_does_not_depend_on_insertion_order() {
        let mut reversed = NESTED;
        reversed.reverse();
        check(&fib(&reversed), &NESTED_CASES);
    }

    #[test]
    fn fib_empty_table_has_no_route_anywhere() {
        let fib = FibBuilder::new().build();
        check(
            &fib,
            &[
                ("0.0.0.0", None),
                ("10.1.2.3", None),
                ("255.255.255.255", None),
            ],
        );
        assert_eq!(fib.routes(), 0);
        assert_eq!(fib.tbl8_groups(), 0);
    }

    #[test]
    fn fib_later_add_of_same_prefix_replaces_next_hop() {
        let mut b = FibBuilder::new();
        let net = Ipv4Addr::new(10, 0, 0, 0);
        let host = Ipv4Addr::new(10, 9, 9, 9);
        b.add(net, 8, 2).unwrap();
        b.add(host, 32, 3).unwrap();
        b.add(net, 8, 7).unwrap();
        b.add(host, 32, 8).unwrap();
        assert_eq!(b.len(), 2);
        let fib = b.build();
        assert_eq!(fib.routes(), 2);
        assert_eq!(fib.lookup_addr(Ipv4Addr::new(10, 0, 0, 1)), Some(7));
        assert_eq!(fib.lookup_addr(host), Some(8));
        assert_eq!(fib.lookup_addr(Ipv4Addr::new(10, 9, 9, 10)), Some(7));
    }

    #[test]
    fn fib_same_address_different_lengths_are_different_prefixes() {
        let fib = fib(&[("10.0.0.0", 8, 1), ("10.0.0.0", 9, 2), ("10.0.0.0", 30, 3)]);
        assert_eq!(fib.routes(), 3);
        check(
            &fib,
            &[
                ("10.0.0.0", Some(3)),
                ("10.0.0.3", Some(3)),
                ("10.0.0.4", Some(2)),
                ("10.127.255.255", Some(2)),
                ("10.128.0.0", Some(1)),
            ],
        );
    }

    #[test]
    fn fib_long_prefix_without_cover_leaves_rest_of_its_24_unrouted() {
        let fib = fib(&[("192.0.2.0", 25, 9)]);
        assert_eq!(fib.tbl8_groups(), 1);
        check(
            &fib,
            &[
                ("192.0.1.255", None),
                ("192.0.2.0", Some(9)),
                ("192.0.2.127", Some(9)),
                ("192.0.2.128", None),
                ("192.0.2.255", None),
                ("192.0.3.0", None),
            ],
        );
    }

    #[test]
    fn fib_long_prefix_inherits_covering_route_in_its_group() {
        let fib = fib(&[("192.0.0.0", 16, 1), ("192.0.2.77", 32, 2)]);
        check(
            &fib,
            &[
                ("192.0.2.0", Some(1)),
                ("192.0.2.76", Some(1)),
                ("192.0.2.77", Some(2)),
                ("192.0.2.78", Some(1)),
                ("192.0.2.255", Some(1)),
                ("192.0.3.77", Some(1)),
            ],
        );
    }

    #[test]
    fn fib_two_25s_share_one_group() {
        let fib = fib(&[
            ("192.0.2.0", 25, 1),
            ("192.0.2.128", 25, 2),
            ("198.51.100.64", 26, 3),
        ]);
        assert_eq!(fib.tbl8_groups(), 2, "one group per /24, not per prefix");
        check(
            &fib,
            &[
                ("192.0.2.0", Some(1)),
                ("192.0.2.127", Some(1)),
                ("192.0.2.128", Some(2)),
                ("192.0.2.255", Some(2)),
                ("192.0.3.0", None),
                ("198.51.100.63", None),
                ("198.51.100.64", Some(3)),
                ("198.51.100.127", Some(3)),
                ("198.51.100.128", None),
            ],
        );
    }

    #[test]
    fn fib_host_routes_at_both_ends_of_the_address_space() {
        let fib = fib(&[
            ("0.0.0.0", 32, 1),
            ("255.255.255.255", 32, 2),
            ("255.255.255.0", 24, 3),
        ]);
        check(
            &fib,
            &[
                ("0.0.0.0", Some(1)),
                ("0.0.0.1", None),
                ("0.0.1.0", None),
                ("255.255.254.255", None),
                ("255.255.255.0", Some(3)),
                ("255.255.255.254", Some(3)),
                ("255.255.255.255", Some(2)),
            ],
        );
    }

    #[test]
    fn fib_largest_next_hop_round_trips() {
        let fib = fib(&[
            ("0.0.0.0", 0, MAX_NEXT_HOP),
            ("1.2.3.4", 32, MAX_NEXT_HOP - 1),
        ]);
        assert_eq!(fib.lookup(0), Some(MAX_NEXT_HOP));
        assert_eq!(fib.lookup(ip("1.2.3.4")), Some(MAX_NEXT_HOP - 1));
        assert_eq!(fib.lookup(ip("1.2.3.5")), Some(MAX_NEXT_HOP));
    }

    #[test]
    fn fib_refuses_bad_routes_and_stays_unchanged() {
        let mut b = FibBuilder::new();
        let ten = Ipv4Addr::new(10, 0, 0, 0);
        assert_eq!(b.add(ten, 33, 1), Err(FibError::PrefixLength { len: 33 }));
        assert_eq!(
            b.add(Ipv4Addr::new(10, 0, 0, 1), 8, 1),
            Err(FibError::HostBits {
                prefix: Ipv4Addr::new(10, 0, 0, 1),
                len: 8,
                network: ten,
            })
        );
        assert_eq!(
            b.add(Ipv4Addr::new(0, 0, 0, 1), 0, 1),
            Err(FibError::HostBits {
                prefix: Ipv4Addr::new(0, 0, 0, 1),
                len: 0,
                network: Ipv4Addr::UNSPECIFIED,
            })
        );
        assert_eq!(b.add(ten, 8, 0), Err(FibError::NextHop { next_hop: 0 }));
        assert_eq!(
            b.add(ten, 8, 1 << 31),
            Err(FibError::NextHop { next_hop: 1 << 31 })
        );
        assert_eq!(
            b.add(ten, 8, u32::MAX),
            Err(FibError::NextHop { next_hop: u32::MAX })
        );
        assert!(b.is_empty());
        assert_eq!(b.len(), 0);
    }

    #[test]
    fn fib_error_messages_name_the_value() {
        let mut b = FibBuilder::new();
        let err = |r: Result<(), FibError>| r.unwrap_err().to_string();
        assert_eq!(
            err(b.add(Ipv4Addr::new(10, 0, 0, 0), 33, 1)),
            "prefix length 33 is out of range: an IPv4 prefix is at most /32"
        );
        assert_eq!(
            err(b.add(Ipv4Addr::new(10, 1, 0, 0), 8, 1)),
            "10.1.0.0/8 has host bits set: the network is 10.0.0.0/8"
        );
        assert_eq!(
            err(b.add(Ipv4Addr::new(10, 0, 0, 0), 8, 0)),
            "next hop 0 is out of range: it must be 1..=2147483647"
        );
    }

    #[test]
    fn fib_debug_prints_sizes_not_entries() {
        let fib = fib(&NESTED);
        let text = format!("{fib:?}");
        assert!(text.len() < 200, "{text}");
        assert!(text.contains("routes: 6"), "{text}");
        assert!(text.contains("tbl8_groups: 1"), "{text}");
        assert_eq!(fib.memory_bytes(), (1 << 24) * 4 + 256 * 4);
        let builder = format!("{:?}", FibBuilder::new());
        assert!(builder.contains("routes: 0"), "{builder}");
    }

    /// xorshift64 with a fixed seed, so failures reproduce.
    struct Rng(u64);

    impl Rng {
        fn next_u32(&mut self) -> u32 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            (x >> 32) as u32
        }
    }

    /// The obvious LPM: scan the prefixes longest first, return the first that matches.
    struct Reference {
        /// `(network, len, next_hop)`, longest first.
        routes: Vec<(u32, u8, u32)>,
    }

    impl Reference {
        fn new(routes: &HashMap<(u32, u8), u32>) -> Self {
            let mut routes: Vec<_> = routes.iter().map(|(&(n, l), &h)| (n, l, h)).collect();
            routes.sort_unstable_by_key(|&(_, len, _)| std::cmp::Reverse(len));
            Reference { routes }
        }

        fn lookup(&self, addr: u32) -> Option<u32> {
            self.routes
                .iter()
                .find(|&&(network, len, _)| addr & mask(len) == network)
                .map(|&(_, _, next_hop)| next_hop)
        }
    }

    #[test]
    fn fib_agrees_with_linear_scan_on_random_routes() {
        let mut rng = Rng(0x5eed_f1b0_0000_0001);
        let mut builder = FibBuilder::new();
        let mut model = HashMap::new();
        for _ in 0..2_000 {
            let len = (rng.next_u32() % 33) as u8;
            let network = rng.next_u32() & mask(len);
            let next_hop = rng.next_u32() % MAX_NEXT_HOP + 1;
            builder.add(Ipv4Addr::from(network), len, next_hop).unwrap();
            model.insert((network, len), next_hop);
        }
        assert_eq!(builder.len(), model.len());
        let fib = builder.build();
        assert_eq!(fib.routes(), model.len());
        let reference = Reference::new(&model);

        for _ in 0..100_000 {
            let addr = rng.next_u32();
            assert_eq!(
                fib.lookup(addr),
                reference.lookup(addr),
                "{}",
                Ipv4Addr::from(addr)
            );
        }

        // Every prefix's edges and the addresses just outside them, plus one inside.
        let mut edges = vec![0, u32::MAX];
        for &(network, len, _) in &reference.routes {
            let last = network | !mask(len);
            let inside = network | (rng.next_u32() & !mask(len));
            edges.extend([
                network,
                last,
                network.wrapping_sub(1),
                last.wrapping_add(1),
                inside,
            ]);
        }
        for addr in edges {
            assert_eq!(
                fib.lookup(addr),
                reference.lookup(addr),
                "{}",
                Ipv4Addr::from(addr)
            );
        }
    }
}
