//! The kind registry: one file per node kind, one line per kind in [`KINDS`].
//!
//! A [`Kind`] is everything the runtime knows about one `kind:` of node: how it becomes a
//! graph node (an element, or the ports of a device it creates), the system objects it
//! creates (for leftover checks and `nfv clean`), the tables its element serves on the
//! admin API, how `nfv graph` draws it, and the largest frame it carries. Everything that
//! used to be a per-kind list somewhere else (admin tables, CLI table names, graph shapes,
//! pool sizing, preflight) is derived from [`KINDS`].
//!
//! The YAML side of a kind (its fields and their validation) lives in `nfv-config`, whose
//! [`nfv_config::KNOWN_KINDS`] must name exactly the kinds listed here; a unit test checks
//! both directions.

use std::collections::HashMap;

use anyhow::{Result, anyhow};
use nfv_config::{Node, NodeKind, Topology};
use nfv_dataplane::pipeline::PipelineBuilder;
use nfv_dataplane::{Element, Endpoint, PacketPool, Port};

use crate::host::{Resources, SystemObject};

mod firewall;
mod host;
mod nat;
mod pcap;
mod router;
mod switch;
mod tap;

/// Every kind, in the order `nfv-config` lists them. Adding a kind is one line here and
/// its own file.
pub static KINDS: &[&dyn Kind] = &[
    &host::Host,
    &tap::Tap,
    &pcap::Pcap,
    &switch::Switch,
    &router::Router,
    &nat::Nat,
    &firewall::Firewall,
];

/// The kind of a validated node.
///
/// # Panics
/// If `nfv-config` accepted a kind the registry does not have (the unit test
/// `registry_matches_the_config_kinds` rules that out).
#[must_use]
pub fn of(kind: &NodeKind) -> &'static dyn Kind {
    by_name(kind.kind_name())
        .unwrap_or_else(|| panic!("kind {:?} is not in the registry", kind.kind_name()))
}

/// The kind called `name`.
#[must_use]
pub fn by_name(name: &str) -> Option<&'static dyn Kind> {
    KINDS.iter().copied().find(|k| k.name() == name)
}

/// A table an element of some kind serves on the admin API (`/api/v1/tables/{name}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableInfo {
    /// Stable name (`fdb`, `arp` …): the element's [`nfv_dataplane::Table::name`].
    pub name: &'static str,
    /// One line for `nfv show --help`.
    pub help: &'static str,
}

/// Every table of every kind with the kind that has it, in registry order, then the
/// tables of link elements ([`nfv_config::link_tables`]).
pub fn tables() -> impl Iterator<Item = (TableInfo, &'static str)> {
    KINDS
        .iter()
        .flat_map(|k| k.tables().iter().map(move |t| (*t, k.name())))
        .chain(nfv_config::link_tables().map(|(name, help, kind)| (TableInfo { name, help }, kind)))
}

/// One node kind. See the module docs.
pub trait Kind: Sync {
    /// The `kind:` word (`"switch"`).
    fn name(&self) -> &'static str;

    /// Graphviz node attributes for `nfv graph` (`shape=octagon`).
    fn graph_shape(&self) -> &'static str;

    /// Label lines for `nfv graph` after the name and kind (addresses, VLANs, rules).
    fn describe(&self, node: &Node) -> Vec<String>;

    /// Extra label lines for the end `node:iface` of a link in `nfv graph` (after the
    /// interface name), e.g. a switch port's VLANs.
    fn end_label(&self, _node: &Node, _iface: &str) -> Vec<String> {
        Vec::new()
    }

    /// Tables its element serves on the admin API.
    fn tables(&self) -> &'static [TableInfo] {
        &[]
    }

    /// Largest MTU the node carries (sizes the packet buffers); 0 if it has none of its own.
    fn max_mtu(&self, _node: &Node) -> u16 {
        0
    }

    /// True if its ports read GSO super-frames and need the large-buffer pool.
    fn needs_large_pool(&self) -> bool {
        false
    }

    /// System objects the node creates (checked for leftovers, removed by `nfv clean`).
    fn system_objects(&self, _node: &Node) -> Vec<SystemObject> {
        Vec::new()
    }

    /// For an element kind: the node's element, built from its validated settings, with
    /// its gate names and a start-up log line. `None` for port kinds. Pure: tests and
    /// benchmarks call it to get exactly the element `nfv run` would make.
    ///
    /// # Errors
    /// Settings the function refuses (validation normally reports them first).
    fn element(&self, _topology: &str, _node: &Node) -> Result<Option<Built>> {
        Ok(None)
    }

    /// Put the node into the graph: by default its [`Kind::element`]; port kinds add their
    /// ports (through [`BuildCx::add_ports`]). Registers the interfaces as link endpoints.
    ///
    /// # Errors
    /// A device or element that could not be made (everything made so far is in
    /// `cx`'s resources and is removed by the caller).
    fn build(&self, node: &Node, cx: &mut BuildCx<'_, '_>) -> Result<()> {
        let Some(b) = self.element(&cx.topology.name, node)? else {
            return Err(anyhow!(
                "kind {} makes neither an element nor ports",
                self.name()
            ));
        };
        cx.add_element(node, b.element, &b.gates)?;
        cx.log(b.log);
        Ok(())
    }
}

/// An element kind's node, made: see [`Kind::element`].
pub struct Built {
    /// The element.
    pub element: Box<dyn Element>,
    /// Gate `i` is the link endpoint `node:gates[i]`.
    pub gates: Vec<String>,
    /// One line for the start-up log.
    pub log: String,
}

impl std::fmt::Debug for Built {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Built")
            .field("element", &self.element.kind())
            .field("gates", &self.gates)
            .finish_non_exhaustive()
    }
}

/// The element of the element-kind node `name` of `topo`, as `nfv run` would make it.
///
/// # Errors
/// No such node, a port node, or settings the function refuses.
pub fn element(topo: &Topology, name: &str) -> Result<Box<dyn Element>> {
    let node = topo
        .node(name)
        .ok_or_else(|| anyhow!("no node named {name:?}"))?;
    of(&node.kind)
        .element(&topo.name, node)?
        .map(|b| b.element)
        .ok_or_else(|| anyhow!("{name} is a {} node, not a function", node.kind.kind_name()))
}

/// Makes an in-memory port for a port node's interface (given its name, `node:iface`)
/// instead of the device the kind would create: for tests and benchmarks.
pub type PortFactory<'f> = dyn FnMut(&str) -> Box<dyn Port> + 'f;

/// What a [`Kind::build`] works with.
pub struct BuildCx<'a, 'f> {
    /// The whole topology (a kind may need the topology name or its neighbours).
    pub topology: &'a Topology,
    pub(crate) gb: &'a mut PipelineBuilder,
    pub(crate) ends: &'a mut HashMap<(String, String), Endpoint>,
    pub(crate) resources: &'a mut Resources,
    pub(crate) in_memory: Option<&'a mut PortFactory<'f>>,
    pub(crate) large_pool: Option<PacketPool>,
    pub(crate) summary: &'a mut Vec<String>,
}

impl std::fmt::Debug for BuildCx<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuildCx")
            .field("topology", &self.topology.name)
            .field("in_memory", &self.in_memory.is_some())
            .finish_non_exhaustive()
    }
}

impl BuildCx<'_, '_> {
    /// Add `elem` for `node`; its gate `i` is the link endpoint `node:gates[i]`.
    ///
    /// # Errors
    /// A duplicate node name or a gate count the pipeline refuses (validation bugs).
    pub fn add_element<S: AsRef<str>>(
        &mut self,
        node: &Node,
        elem: Box<dyn Element>,
        gates: &[S],
    ) -> Result<()> {
        let worker = node.worker.map(usize::from);
        let id = self.gb.add_element(node.name.clone(), elem, worker)?;
        for (i, g) in gates.iter().enumerate() {
            let gate = u16::try_from(i)
                .map_err(|_| anyhow!("{}: more than 65535 interfaces", node.name))?;
            self.ends.insert(
                (node.name.clone(), g.as_ref().to_string()),
                Endpoint::Gate(id, gate),
            );
        }
        Ok(())
    }

    /// Add the port(s) of `node`'s interface `iface`: the queues `make` creates (recording
    /// what it creates in the resources it is given; it gets the large-buffer pool when
    /// the topology has one), or, when building in memory, one port from the factory.
    /// `make` returns the ports and a line for the start-up log.
    ///
    /// # Errors
    /// What `make` returns, or a duplicate port name (a validation bug).
    pub fn add_ports(
        &mut self,
        node: &Node,
        iface: &str,
        make: impl FnOnce(&mut Resources, Option<PacketPool>) -> Result<(Vec<Box<dyn Port>>, String)>,
    ) -> Result<()> {
        let name = format!("{}:{iface}", node.name);
        let queues = match self.in_memory.as_mut() {
            Some(factory) => vec![factory(&name)],
            None => {
                let (ports, line) = make(self.resources, self.large_pool)?;
                self.log(line);
                ports
            }
        };
        let worker = node.worker.map(usize::from);
        let id = self.gb.add_port_queues(name, queues, worker)?;
        self.ends
            .insert((node.name.clone(), iface.to_string()), Endpoint::Port(id));
        Ok(())
    }

    /// A line for the start-up log (also kept in [`crate::Network::summary`]).
    pub fn log(&mut self, line: String) {
        tracing::info!("{line}");
        self.summary.push(line);
    }
}

/// A stable, locally administered unicast MAC for a function's interface that has none
/// configured: `02:` + 40 bits of FNV-1a over "topology/node/interface". Stable across runs,
/// so captures and neighbour caches stay readable.
#[must_use]
pub fn derived_mac(topology: &str, node: &str, iface: &str) -> [u8; 6] {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in topology
        .bytes()
        .chain([b'/'])
        .chain(node.bytes())
        .chain([b'/'])
        .chain(iface.bytes())
    {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    // splitmix64 finaliser: FNV's top bytes barely change when only the last character
    // does (lan-a / lan-b), and MACs that differ in one bit are hard to tell apart.
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    let b = h.to_be_bytes();
    [0x02, b[0], b[1], b[2], b[3], b[4]]
}

/// Items joined with `, ` (for labels and log lines).
pub(crate) fn join<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_matches_the_config_kinds() {
        let names: Vec<&str> = KINDS.iter().map(|k| k.name()).collect();
        assert_eq!(names, nfv_config::KNOWN_KINDS, "same kinds, same order");
    }

    #[test]
    fn every_table_name_is_unique() {
        let mut names: Vec<&str> = tables().map(|(t, _)| t.name).collect();
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n);
        assert!(
            tables().any(|(t, k)| t.name == "impair" && k == "impair"),
            "link elements' tables are listed too"
        );
    }

    #[test]
    fn derived_macs_are_unicast_local_and_differ_per_interface() {
        let a = derived_mac("lab", "r1", "lan-a");
        let b = derived_mac("lab", "r1", "lan-b");
        assert_ne!(a, b);
        assert_eq!(a[0], 0x02);
        assert_eq!(a, derived_mac("lab", "r1", "lan-a"), "stable");
    }
}
