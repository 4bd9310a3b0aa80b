//! `nfv-runtime`: a validated [`nfv_config::Topology`] brought to life.
//!
//! ```text
//!   nfv-config ──Topology──▶ build (kinds::KINDS) ──Pipeline──▶ workers ──▶ GraphReport
//!                               │          │
//!                        element kinds   port kinds ──▶ host (namespaces, TAPs, Resources)
//! ```
//!
//! * [`kinds`]: the kind registry. One file per node kind, one line per kind in
//!   [`kinds::KINDS`]; every per-kind list the binary needs (admin tables, graph shapes,
//!   pool sizing, leftover checks) is derived from it.
//! * [`build`]: topology → [`nfv_dataplane::pipeline::Pipeline`], with real devices
//!   ([`bring_up`]) or in-memory ports ([`build_in_memory`], for tests and benchmarks).
//! * [`host`]: what is created on the system, and its removal on every exit path.
//! * [`instance`]: the run directory: one lock and one control socket per running
//!   topology.
//! * [`workers`]: one pinned thread per graph, and collecting them again.
//!
//! Errors are `anyhow` chains: everything here runs at start-up or shutdown, and what the
//! user needs is the whole chain of context ("host h1: couldn't create namespace lab1-h1:
//! File exists"); nothing here is on the packet path.

pub mod build;
pub mod host;
pub mod instance;
pub mod kinds;
pub mod workers;

pub use build::{Network, bring_up, build_in_memory};
pub use host::{Clash, Cleaned, Resources, clean, preflight, require_privileges};
pub use kinds::{KINDS, Kind};
