//! The host side: system objects a topology creates (namespaces, persistent TAPs), recorded
//! so that every exit path removes them, and the checks for leftovers of an earlier run.
//!
//! Everything created is recorded in [`Resources`] *before* the next step runs, and
//! `Resources` removes it on drop (reverse order). So an error half-way through start-up,
//! a signal during start-up, a normal exit and a panic all leave nothing behind. Only
//! SIGKILL can leave leftovers; the next `nfv run` finds them in [`preflight`] and prints
//! the exact command that removes them (or `nfv clean FILE` does it).
//!
//! Which objects a node creates is the node's kind's business
//! ([`crate::Kind::system_objects`]); this module only knows the two sorts of object.

use anyhow::{Context as _, Result};
use nfv_config::Topology;
use nfv_dataplane::sys::netlink::Netlink;
use nfv_dataplane::sys::netns::NetNs;

/// A system object a node creates, by name (for leftover checks and `nfv clean`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SystemObject {
    /// A named network namespace (a bind mount under `/run/netns`).
    Namespace(String),
    /// A network interface in the host namespace.
    Link(String),
}

/// Something nfv created that must be removed on the way out.
#[derive(Debug)]
enum Created {
    Namespace(NetNs),
    /// A persistent TAP in the host namespace (for a VM), by name and index.
    PersistentTap {
        name: String,
        index: u32,
    },
}

/// Every system object this run created, removed on drop in reverse order.
#[derive(Debug, Default)]
pub struct Resources {
    created: Vec<Created>,
}

impl Resources {
    /// Record a namespace this run created; it is deleted on cleanup. Returns it, to
    /// work in.
    pub fn namespace(&mut self, ns: NetNs) -> &NetNs {
        self.created.push(Created::Namespace(ns));
        match self.created.last() {
            Some(Created::Namespace(ns)) => ns,
            _ => unreachable!("just pushed a namespace"),
        }
    }

    /// Record a persistent TAP this run created in the host namespace; it is deleted (by
    /// index, so a later device of the same name is never touched) on cleanup.
    pub fn persistent_tap(&mut self, name: &str, index: u32) {
        self.created.push(Created::PersistentTap {
            name: name.to_string(),
            index,
        });
    }

    /// True when nothing was created (an in-memory build).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.created.is_empty()
    }

    /// Remove everything now (also done on drop). Logs each removal; failures are logged
    /// and the rest is still removed.
    pub fn cleanup(&mut self) {
        while let Some(c) = self.created.pop() {
            match c {
                Created::Namespace(ns) => {
                    let name = ns.name().to_string();
                    match ns.delete() {
                        Ok(()) => tracing::info!("removed namespace {name}"),
                        Err(e) => tracing::error!("couldn't remove namespace {name}: {e:#}"),
                    }
                }
                Created::PersistentTap { name, index } => {
                    let res = Netlink::new().and_then(|mut nl| nl.delete_link(index));
                    match res {
                        Ok(()) => tracing::info!("removed TAP {name}"),
                        Err(e) if e.is_not_found() => {}
                        Err(e) => tracing::error!("couldn't remove TAP {name}: {e:#}"),
                    }
                }
            }
        }
    }
}

impl Drop for Resources {
    fn drop(&mut self) {
        self.cleanup();
    }
}

/// Every system object `topo` would create, in node order.
fn objects(topo: &Topology) -> impl Iterator<Item = SystemObject> + '_ {
    topo.nodes
        .iter()
        .flat_map(|n| crate::kinds::of(&n.kind).system_objects(n))
}

/// Things that already exist and would clash with this topology, each with the command that
/// removes it. Empty when the system is clean.
///
/// # Errors
/// If no netlink socket can be opened or a link lookup fails.
pub fn preflight(topo: &Topology) -> Result<Vec<String>> {
    let mut clashes = Vec::new();
    let mut nl = Netlink::new().context("couldn't open a netlink socket")?;
    for obj in objects(topo) {
        match obj {
            SystemObject::Namespace(name) if NetNs::exists(&name) => clashes.push(format!(
                "network namespace {name} already exists (left over from an earlier run?): \
                 remove it with `ip netns del {name}`"
            )),
            SystemObject::Link(name) if nl.link_exists(&name)? => clashes.push(format!(
                "interface {name} already exists (left over from an earlier run?): \
                 remove it with `ip link del {name}`"
            )),
            _ => {}
        }
    }
    Ok(clashes)
}

/// Remove what a topology would create, if it exists (for `nfv clean`). Returns what was
/// removed.
///
/// # Errors
/// The first removal that fails (what was removed before it stays removed).
pub fn clean(topo: &Topology) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    let mut nl = Netlink::new().context("couldn't open a netlink socket")?;
    for obj in objects(topo) {
        match obj {
            SystemObject::Namespace(name) if NetNs::exists(&name) => {
                NetNs::delete_by_name(&name)
                    .with_context(|| format!("couldn't remove namespace {name}"))?;
                removed.push(format!("namespace {name}"));
            }
            SystemObject::Link(name) if nl.link_exists(&name)? => {
                let idx = nl.link_index(&name)?;
                nl.delete_link(idx)
                    .with_context(|| format!("couldn't remove interface {name}"))?;
                removed.push(format!("interface {name}"));
            }
            _ => {}
        }
    }
    Ok(removed)
}

/// `aa:bb:cc:dd:ee:ff`.
pub fn mac_str(m: [u8; 6]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(17);
    for (i, b) in m.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        let _ = write!(s, "{b:02x}");
    }
    s
}
