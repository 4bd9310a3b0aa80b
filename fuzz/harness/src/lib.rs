//! Fuzz target bodies (issue 15) as plain functions: `cargo +nightly fuzz run TARGET` calls
//! them from `fuzz/fuzz_targets/`, `cargo test -p nfv-fuzz` replays the committed corpora
//! (`fuzz/corpus/TARGET/`) through them on stable, so a finding fixed once stays fixed.
//!
//! Each body asserts invariants, not only "no panic" (a failed assertion is a finding):
//!
//! | target | input | invariants |
//! |---|---|---|
//! | [`config`] | YAML text | the loader and validator return (no panic, no hang), deterministically; every problem names the file |
//! | [`routes_file`] | a routes file | every parsed route prints and parses back to itself; columns stay on their line; lines increase |
//! | [`pcap`] | a pcap file | whole-file and streaming reads agree; records written back read back the same; the records account for every byte |
//! | [`gso`] | offload header + frame | no segment over the limit; segments counted; IPv4 segments have a valid header checksum and a total length that fits |
//! | [`switch`], [`router`], [`nat`], [`firewall`] | a program of frames (structured, then maybe corrupted), gates, offload metadata and time steps | per-node conservation after every step (`in + generated == out + dropped + consumed + held`), no packet buffer leaked, no table beyond its configured limit, and (router, NAT, firewall) every emitted IPv4 frame has a valid header checksum and TTL >= 1 |

mod elements;
mod frames;
mod parsers;

pub use elements::{firewall, nat, router, switch};
pub use parsers::{config, gso, pcap, routes_file};

/// A target body.
pub type Target = fn(&[u8]);

/// Every target, by name (the corpus directory's name).
pub const TARGETS: &[(&str, Target)] = &[
    ("config", config),
    ("routes_file", routes_file),
    ("pcap", pcap),
    ("gso", gso),
    ("switch", switch),
    ("router", router),
    ("nat", nat),
    ("firewall", firewall),
];
