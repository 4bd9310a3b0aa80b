//! The host side: system objects a topology creates (namespaces, persistent TAPs), recorded
//! so that every exit path removes them, and the checks for leftovers of an earlier run.
//!
//! Everything created is recorded in [`Resources`] *before* the next step runs, and
//! `Resources` removes it on drop (reverse order). So an error half-way through start-up,
//! a signal during start-up, a normal exit and a panic all leave nothing behind. Only
//! SIGKILL can leave leftovers; the next `nfv run` finds them in [`preflight`] and
//! `nfv clean FILE` removes them.
//!
//! # Ownership: nfv removes only what it made
//!
//! Names are not proof: anyone can `ip netns add lab1-h1` or make a veth called `vm1-tap`.
//! So nfv marks what it creates and checks the mark before removing anything:
//!
//! * **Marker.** Every interface nfv creates carries the alias ([`marker`]) `nfv:<topology>`:
//!   a `kind: tap` device in the host namespace, and the `lo` of every namespace it makes
//!   (set first thing after the namespace exists, so even a run killed half-way through
//!   start-up leaves a recognisable namespace). `nfv clean` and [`preflight`] read it: with
//!   the marker an object is a leftover of this topology; without it it is foreign, named,
//!   and left alone.
//! * **Identity at teardown.** A namespace is removed on the way out only if
//!   `/run/netns/NAME` is still the namespace this run created (same nsfs device and inode
//!   as the fd nfv holds); a TAP only if the same index still carries the marker. Someone
//!   who deleted and re-created a namespace of the same name meanwhile keeps theirs.
//! * **Liveness** is the topology's lock ([`crate::instance`]): `nfv clean` refuses a
//!   running topology, so it never removes a live instance's objects.
//!
//! Which objects a node creates is the node's kind's business
//! ([`crate::Kind::system_objects`]); this module only knows the two sorts of object.

use std::os::unix::fs::MetadataExt as _;

use anyhow::{Context as _, Result, bail};
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

/// The alias nfv sets on the interfaces it creates for `topology`: `nfv:<topology>`.
#[must_use]
pub fn marker(topology: &str) -> String {
    format!("nfv:{topology}")
}

/// (device, inode) of an nsfs file: a namespace's identity.
type NsId = (u64, u64);

/// Something nfv created that must be removed on the way out.
#[derive(Debug)]
enum Created {
    /// A namespace, with the identity it had when created.
    Namespace { ns: NetNs, id: Option<NsId> },
    /// A persistent TAP in the host namespace (for a VM), by name and index, with the
    /// marker it was given.
    PersistentTap {
        name: String,
        index: u32,
        marker: String,
    },
}

/// An interface nfv created, as `nfv inspect` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    /// Node name.
    pub node: String,
    /// The namespace it lives in (`None`: the host namespace).
    pub namespace: Option<String>,
    /// Its name there.
    pub ifname: String,
    /// Its index there.
    pub ifindex: u32,
    /// Its MAC address.
    pub mac: [u8; 6],
    /// Its MTU.
    pub mtu: u16,
    /// Its IPv4 address with prefix length (`10.0.0.1/24`), if it has one.
    pub address: Option<String>,
}

/// Every system object this run created, removed on drop in reverse order.
#[derive(Debug, Default)]
pub struct Resources {
    created: Vec<Created>,
    interfaces: Vec<Interface>,
}

/// The identity of whatever is mounted on `/run/netns/NAME` now.
fn ns_id_at(path: &std::path::Path) -> std::io::Result<NsId> {
    std::fs::metadata(path).map(|m| (m.dev(), m.ino()))
}

impl Resources {
    /// Record a namespace this run created (with its nsfs identity); it is deleted on
    /// cleanup if `/run/netns/NAME` is still this namespace. Returns it, to work in.
    pub fn namespace(&mut self, ns: NetNs) -> &NetNs {
        let id = ns
            .as_fd()
            .try_clone_to_owned()
            .map(std::fs::File::from)
            .and_then(|f| f.metadata())
            .map(|m| (m.dev(), m.ino()))
            .ok();
        self.created.push(Created::Namespace { ns, id });
        match self.created.last() {
            Some(Created::Namespace { ns, .. }) => ns,
            _ => unreachable!("just pushed a namespace"),
        }
    }

    /// Record a persistent TAP this run created in the host namespace, marked with
    /// `marker`; it is deleted (by index, and only while it still carries the marker, so
    /// a later device of the same name is never touched) on cleanup.
    pub fn persistent_tap(&mut self, name: &str, index: u32, marker: &str) {
        self.created.push(Created::PersistentTap {
            name: name.to_string(),
            index,
            marker: marker.to_string(),
        });
    }

    /// Record an interface for `nfv inspect` (not removed by itself: it goes with its
    /// namespace or TAP).
    pub fn interface(&mut self, i: Interface) {
        self.interfaces.push(i);
    }

    /// The interfaces this run created, in creation order.
    #[must_use]
    pub fn interfaces(&self) -> &[Interface] {
        &self.interfaces
    }

    /// The namespaces this run created with their nsfs inode, in creation order.
    #[must_use]
    pub fn namespaces(&self) -> Vec<(String, Option<u64>)> {
        self.created
            .iter()
            .filter_map(|c| match c {
                Created::Namespace { ns, id } => Some((ns.name().to_string(), id.map(|i| i.1))),
                Created::PersistentTap { .. } => None,
            })
            .collect()
    }

    /// True when nothing was created (an in-memory build).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.created.is_empty()
    }

    /// Remove everything now (also done on drop). Logs each removal; failures are logged
    /// and the rest is still removed. Objects that are no longer the ones this run made
    /// are logged and left alone.
    pub fn cleanup(&mut self) {
        while let Some(c) = self.created.pop() {
            match c {
                Created::Namespace { ns, id } => remove_namespace(ns, id),
                Created::PersistentTap {
                    name,
                    index,
                    marker,
                } => remove_tap(&name, index, &marker),
            }
        }
    }
}

fn remove_namespace(ns: NetNs, id: Option<NsId>) {
    let name = ns.name().to_string();
    match (ns_id_at(ns.path()), id) {
        (Err(e), _) if e.kind() == std::io::ErrorKind::NotFound => {
            tracing::warn!("namespace {name} was already removed by someone else");
        }
        (Ok(now), Some(made)) if now == made => match ns.delete() {
            Ok(()) => tracing::info!("removed namespace {name}"),
            Err(e) => tracing::error!("couldn't remove namespace {name}: {e:#}"),
        },
        (Ok(_), Some(_)) => tracing::warn!(
            "namespace {name} is no longer the one nfv created (it was deleted and made \
             again by someone else): left alone"
        ),
        (res, _) => tracing::error!(
            "couldn't tell whether namespace {name} is still the one nfv created ({}): left \
             alone; `ip netns del {name}` removes it",
            res.err()
                .map_or_else(|| "no identity recorded".into(), |e| e.to_string())
        ),
    }
}

fn remove_tap(name: &str, index: u32, marker: &str) {
    let res = Netlink::new().and_then(|mut nl| {
        let alias = nl.link_alias(index)?;
        if alias.as_deref() != Some(marker) {
            return Ok(Some(alias));
        }
        nl.delete_link(index).map(|()| None)
    });
    match res {
        Ok(None) => tracing::info!("removed TAP {name}"),
        Ok(Some(alias)) => tracing::warn!(
            "interface index {index} (was TAP {name}) no longer carries nfv's marker \
             {marker:?} (alias {alias:?}): left alone"
        ),
        Err(e) if e.is_not_found() => {}
        Err(e) => tracing::error!("couldn't remove TAP {name}: {e:#}"),
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

/// Whose an existing object is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    /// It carries this topology's marker: a leftover of an earlier run.
    Leftover,
    /// No marker (or another topology's): not nfv's to remove.
    Foreign,
}

/// The alias of `lo` in namespace `name`, or why it cannot be read.
fn namespace_marker(name: &str) -> Result<Option<String>> {
    let ns = NetNs::open(name)?;
    let alias = ns.run_in(|| -> Result<Option<String>> {
        let mut nl = Netlink::new()?;
        let lo = nl.link_index("lo")?;
        Ok(nl.link_alias(lo)?)
    })??;
    Ok(alias)
}

fn owner(alias: Option<&str>, marker: &str) -> Owner {
    if alias == Some(marker) {
        Owner::Leftover
    } else {
        Owner::Foreign
    }
}

/// An object in the way of a topology.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clash {
    /// What it is and what to do about it.
    pub message: String,
    /// True for a leftover of this topology (`nfv clean` removes it); false for a foreign
    /// object nfv will not touch.
    pub leftover: bool,
}

impl std::fmt::Display for Clash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The owner of the existing object `obj` of `topo` (`None`: it does not exist), with a
/// description for messages.
fn existing(nl: &mut Netlink, obj: &SystemObject, marker: &str) -> Result<Option<(Owner, String)>> {
    Ok(match obj {
        SystemObject::Namespace(name) if NetNs::exists(name) => {
            let owner = match namespace_marker(name) {
                Ok(alias) => owner(alias.as_deref(), marker),
                Err(_) => Owner::Foreign,
            };
            Some((owner, format!("network namespace {name}")))
        }
        SystemObject::Link(name) if nl.link_exists(name)? => {
            let idx = nl.link_index(name)?;
            let alias = nl.link_alias(idx)?;
            Some((owner(alias.as_deref(), marker), format!("interface {name}")))
        }
        _ => None,
    })
}

/// The command that removes `obj` by hand.
fn removal_command(obj: &SystemObject) -> String {
    match obj {
        SystemObject::Namespace(n) => format!("ip netns del {n}"),
        SystemObject::Link(n) => format!("ip link del {n}"),
    }
}

/// Things that already exist and would clash with this topology: leftovers of an earlier
/// run (they carry its marker) and foreign objects of the same name. Empty when the system
/// is clean. Call it holding the topology's lock, so no live instance is mistaken for
/// leftovers.
///
/// # Errors
/// If no netlink socket can be opened or a link lookup fails.
pub fn preflight(topo: &Topology) -> Result<Vec<Clash>> {
    let marker = marker(&topo.name);
    let mut clashes = Vec::new();
    let mut nl = Netlink::new().context("couldn't open a netlink socket")?;
    for obj in objects(topo) {
        let Some((owner, what)) = existing(&mut nl, &obj, &marker)? else {
            continue;
        };
        clashes.push(match owner {
            Owner::Leftover => Clash {
                message: format!(
                    "{what} already exists, left over from an earlier run of {:?} (it carries \
                     the marker {marker:?}): remove it with `{}`",
                    topo.name,
                    removal_command(&obj)
                ),
                leftover: true,
            },
            Owner::Foreign => Clash {
                message: format!(
                    "{what} already exists and was not made by nfv (no {marker:?} marker): nfv \
                     will not touch it; rename it in the topology, or remove it yourself with \
                     `{}`",
                    removal_command(&obj)
                ),
                leftover: false,
            },
        });
    }
    Ok(clashes)
}

/// What `nfv clean` did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Cleaned {
    /// Leftovers removed.
    pub removed: Vec<String>,
    /// Objects of the topology's names that nfv did not make, left alone (each with the
    /// command that would remove it).
    pub foreign: Vec<String>,
}

/// Remove the leftovers of a stopped run of `topo` (for `nfv clean`): only objects that
/// carry its marker. Foreign objects of the same names are reported and left alone. Call
/// it holding the topology's lock.
///
/// # Errors
/// The first removal that fails (what was removed before it stays removed).
pub fn clean(topo: &Topology) -> Result<Cleaned> {
    let marker = marker(&topo.name);
    let mut out = Cleaned::default();
    let mut nl = Netlink::new().context("couldn't open a netlink socket")?;
    for obj in objects(topo) {
        let Some((owner, what)) = existing(&mut nl, &obj, &marker)? else {
            continue;
        };
        if owner == Owner::Foreign {
            out.foreign.push(format!(
                "{what} (not made by nfv: no {marker:?} marker; `{}` removes it)",
                removal_command(&obj)
            ));
            continue;
        }
        match &obj {
            SystemObject::Namespace(name) => NetNs::delete_by_name(name)
                .with_context(|| format!("couldn't remove namespace {name}"))?,
            SystemObject::Link(name) => {
                let idx = nl.link_index(name)?;
                nl.delete_link(idx)
                    .with_context(|| format!("couldn't remove interface {name}"))?;
            }
        }
        out.removed.push(what);
    }
    Ok(out)
}

/// `CAP_NET_ADMIN` and `CAP_SYS_ADMIN` (bits 12 and 21 of the effective set).
const NEEDED_CAPS: [(u32, &str); 2] = [(12, "CAP_NET_ADMIN"), (21, "CAP_SYS_ADMIN")];

/// Fail with a plain message unless this process has the capabilities creating namespaces
/// and devices needs (root has them): checked before anything else so a non-root user
/// does not get a mount error from deep inside namespace creation.
///
/// # Errors
/// A missing capability, naming it.
pub fn require_privileges() -> Result<()> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0);
    let missing: Vec<&str> = NEEDED_CAPS
        .iter()
        .filter(|(bit, _)| eff & (1 << bit) == 0)
        .map(|(_, n)| *n)
        .collect();
    if !missing.is_empty() {
        bail!(
            "this needs root: creating network namespaces and devices takes CAP_NET_ADMIN and \
             CAP_SYS_ADMIN, and this process lacks {} (run it with sudo)",
            missing.join(" and ")
        );
    }
    Ok(())
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
