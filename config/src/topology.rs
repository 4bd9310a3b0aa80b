//! The validated topology: the only config type the other crates accept.
//!
//! Every value here has passed both stages, defaults are filled in, and every link endpoint
//! names an existing node and interface. [`Topology`] is `#[non_exhaustive]`, so code outside
//! this crate can read (and clone) it but cannot build one with a struct literal: the only way
//! to get one is [`crate::load_file`], [`crate::load_str`] or [`crate::load_str_in`]. The parts
//! (`Node`, `HostSpec`, `RouterSpec`, …) stay constructible so that other crates' unit tests can
//! make a `SwitchSpec`, a `HostSpec` or a `RouterSpec` (`..RouterSpec::default()`) directly.

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::types::{IfName, Ipv4Cidr, MacAddr};

/// Node kinds that `kind:` accepts, in the order error messages list them.
pub const KNOWN_KINDS: &[&str] = &["host", "tap", "switch", "router"];
/// MTU when `mtu` is not given.
pub const DEFAULT_MTU: u16 = 1500;
/// Smallest and largest `mtu` accepted (68 is the IPv4 minimum, RFC 791).
pub const MTU_RANGE: std::ops::RangeInclusive<u16> = 68..=9000;
/// Interface name inside a host's namespace when `ifname` is not given.
pub const DEFAULT_HOST_IFNAME: &str = "eth0";
/// Switch `mac-table-size` when not given.
pub const DEFAULT_MAC_TABLE_SIZE: u32 = 65536;
/// Switch `ageing` when not given.
pub const DEFAULT_AGEING: Duration = Duration::from_secs(300);
/// Longest `ageing` accepted.
pub const MAX_AGEING: Duration = Duration::from_secs(1_000_000);
/// Router `icmp-rate-limit` (ICMP errors per second) when not given.
pub const DEFAULT_ICMP_RATE_LIMIT: u32 = 100;
/// Router `icmp-burst` (token bucket size) when not given.
pub const DEFAULT_ICMP_BURST: u32 = 50;
/// Router `arp-timeout` when not given.
pub const DEFAULT_ARP_TIMEOUT: Duration = Duration::from_secs(300);
/// Longest router `arp-timeout` accepted.
pub const MAX_ARP_TIMEOUT: Duration = Duration::from_secs(1_000_000);
/// VLAN of a switch port that is not configured, or configured without `vlan`/`vlans`.
pub const DEFAULT_VLAN: u16 = 1;
/// Valid 802.1Q VLAN ids (0 and 4095 are reserved).
pub const VLAN_RANGE: std::ops::RangeInclusive<u16> = 1..=4094;

/// A validated topology. See the module docs for why it is `#[non_exhaustive]`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Topology {
    /// The `name:` key; also the prefix of host namespace names.
    pub name: String,
    /// Nodes in file order.
    pub nodes: Vec<Node>,
    /// Links in file order.
    pub links: Vec<Link>,
}

impl Topology {
    /// The node called `name`.
    #[must_use]
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// The links with an endpoint on node `name`, in file order.
    pub fn links_of<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Link> + 'a {
        self.links
            .iter()
            .filter(move |l| l.a.node == name || l.b.node == name)
    }
}

/// One entry of `nodes:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The key under `nodes:`.
    pub name: String,
    /// What the node is, with its settings.
    pub kind: NodeKind,
}

/// A node's `kind` and the settings that go with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeKind {
    /// `kind: host`: a network namespace with one interface.
    Host(HostSpec),
    /// `kind: tap`: a TAP device in the host namespace, left for a VM.
    Tap(TapSpec),
    /// `kind: switch`: an L2 learning switch.
    Switch(SwitchSpec),
    /// `kind: router`: an IPv4 router with one or more interfaces and static routes.
    Router(RouterSpec),
}

impl NodeKind {
    /// The `kind:` string: `"host"`, `"tap"`, `"switch"` or `"router"`.
    #[must_use]
    pub fn kind_name(&self) -> &'static str {
        match self {
            NodeKind::Host(_) => "host",
            NodeKind::Tap(_) => "tap",
            NodeKind::Switch(_) => "switch",
            NodeKind::Router(_) => "router",
        }
    }
}

/// `kind: host`: a namespace `<topology>-<node>` that nfv creates and removes, with one interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSpec {
    /// Namespace name, `"<topology-name>-<node-name>"`.
    pub netns: String,
    /// Interface name inside the namespace (default `eth0`).
    pub ifname: IfName,
    /// Address of the interface; never the network or broadcast address when the prefix is < 31.
    pub address: Option<Ipv4Cidr>,
    /// Default route; only with `address`, inside its subnet and not equal to it.
    pub gateway: Option<Ipv4Addr>,
    /// Unicast, non-zero MAC; `None` lets the kernel choose.
    pub mac: Option<MacAddr>,
    /// 68..=9000, default 1500.
    pub mtu: u16,
}

/// `kind: tap`: a TAP device left in the host namespace for a VM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapSpec {
    /// Device name (default: the node name).
    pub ifname: IfName,
    /// 68..=9000, default 1500.
    pub mtu: u16,
    /// MAC of the host-side device; unicast and non-zero.
    pub mac: Option<MacAddr>,
}

/// `kind: switch`: an L2 learning switch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwitchSpec {
    /// Maximum learned MACs, at least 1 (default 65536).
    pub mac_table_size: u32,
    /// How long a learned MAC stays without traffic; 0 < ageing <= 1,000,000 s (default 300 s).
    pub ageing: Duration,
    /// Every port that a link uses or `ports:` configures: configured ports first, in file
    /// order, then ports used by links only (access, VLAN 1), in link order.
    pub ports: Vec<SwitchPort>,
}

impl SwitchSpec {
    /// The port called `name`.
    #[must_use]
    pub fn port(&self, name: &str) -> Option<&SwitchPort> {
        self.ports.iter().find(|p| p.name == name)
    }
}

impl Default for SwitchSpec {
    /// The defaults of the file format, with no ports.
    fn default() -> Self {
        SwitchSpec {
            mac_table_size: DEFAULT_MAC_TABLE_SIZE,
            ageing: DEFAULT_AGEING,
            ports: Vec::new(),
        }
    }
}

/// One switch port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwitchPort {
    /// The port name (`[A-Za-z0-9_-]+`, at most 32 bytes), as in `sw1:p1`.
    pub name: String,
    /// Access or trunk.
    pub mode: VlanMode,
}

/// How a switch port treats VLANs. All ids are in 1..=4094.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VlanMode {
    /// `vlan: N` (or nothing, N = 1): frames on the wire are untagged and belong to VLAN N.
    Access {
        /// The port's VLAN.
        vlan: u16,
    },
    /// `vlans: [..]`, optional `native-vlan: N`: 802.1Q tagged frames for `vlans`; untagged
    /// frames belong to `native` (dropped if `None`).
    ///
    /// `native` may or may not also be listed in `vlans` (both are accepted, as on most
    /// switches where the native VLAN is usually in the allowed list); either way the port
    /// carries `native` and sends its frames untagged. `vlans` is in file order, no duplicates,
    /// never empty.
    Trunk {
        /// VLANs carried tagged (plus `native`, if listed here too, which is sent untagged).
        vlans: Vec<u16>,
        /// VLAN of untagged frames.
        native: Option<u16>,
    },
}

impl VlanMode {
    /// True if the port is a member of `vlan`.
    #[must_use]
    pub fn carries(&self, vlan: u16) -> bool {
        match self {
            VlanMode::Access { vlan: v } => *v == vlan,
            VlanMode::Trunk { vlans, native } => *native == Some(vlan) || vlans.contains(&vlan),
        }
    }

    /// The VLAN whose frames go out untagged and that untagged frames coming in belong to.
    #[must_use]
    pub fn untagged_vlan(&self) -> Option<u16> {
        match self {
            VlanMode::Access { vlan } => Some(*vlan),
            VlanMode::Trunk { native, .. } => *native,
        }
    }

    /// True if frames of `vlan` go out with an 802.1Q tag on this port.
    #[must_use]
    pub fn is_tagged(&self, vlan: u16) -> bool {
        self.carries(vlan) && self.untagged_vlan() != Some(vlan)
    }
}

/// `kind: router`: an IPv4 router. Every interface is a link endpoint `router:<interface>`.
///
/// Validated: at least one interface; interface subnets do not overlap; every route's `to` is a
/// network address (host bits zero), no two routes (nor a route and a connected subnet) have
/// the same `to`, and every `via` is on a connected subnet and is not the router's own address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterSpec {
    /// Interfaces in file order; never empty in a loaded topology.
    pub interfaces: Vec<RouterInterface>,
    /// Static routes: `routes:` first (file order), then the `routes-file` lines in order.
    /// Connected subnets are not listed here; they come from [`RouterInterface::address`].
    pub routes: Vec<RouteSpec>,
    /// ICMP errors per second (token bucket rate), default 100; 0 means no ICMP errors.
    pub icmp_rate_limit: u32,
    /// ICMP token bucket size, at least 1, default 50.
    pub icmp_burst: u32,
    /// ARP cache entry lifetime; 0 < arp-timeout <= 1,000,000 s (default 300 s).
    pub arp_timeout: Duration,
    /// Send ICMP redirects (RFC 1812 5.2.7.2), default true.
    pub redirects: bool,
}

impl RouterSpec {
    /// The interface called `name`.
    #[must_use]
    pub fn interface(&self, name: &str) -> Option<&RouterInterface> {
        self.interfaces.iter().find(|i| i.name == name)
    }
}

impl Default for RouterSpec {
    /// The defaults of the file format, with no interfaces and no routes (which a loaded
    /// topology never has: a router needs an interface).
    fn default() -> Self {
        RouterSpec {
            interfaces: Vec::new(),
            routes: Vec::new(),
            icmp_rate_limit: DEFAULT_ICMP_RATE_LIMIT,
            icmp_burst: DEFAULT_ICMP_BURST,
            arp_timeout: DEFAULT_ARP_TIMEOUT,
            redirects: true,
        }
    }
}

/// One router interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterInterface {
    /// The interface name (`[A-Za-z0-9_-]+`, at most 32 bytes), as in `r1:lan-a`.
    pub name: String,
    /// The router's address and the connected subnet. Prefix 1..=32; for a prefix < 31 never
    /// the network or broadcast address. Unique among hosts and router interfaces.
    pub address: Ipv4Cidr,
    /// 68..=9000, default 1500.
    pub mtu: u16,
    /// Unicast, non-zero MAC; `None` lets the binary derive one.
    pub mac: Option<MacAddr>,
}

/// One static route: packets to `to` go to the neighbour `via`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RouteSpec {
    /// Destination prefix; `to.addr` is the network address (host bits zero).
    pub to: Ipv4Cidr,
    /// Next hop, on one of the router's connected subnets.
    pub via: Ipv4Addr,
}

/// One entry of `links:`: a point-to-point connection between two interfaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// First endpoint as written.
    pub a: Endpoint,
    /// Second endpoint as written.
    pub b: Endpoint,
}

/// A link endpoint, resolved: `iface` is a host's or tap's interface name, a switch port name or
/// a router interface name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// Node name.
    pub node: String,
    /// Host: its `ifname`; tap: its `ifname`; switch: the port name; router: the interface name.
    pub iface: String,
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.node, self.iface)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_port_is_untagged_member_of_its_vlan_only() {
        let m = VlanMode::Access { vlan: 20 };
        assert!(m.carries(20) && !m.carries(1));
        assert_eq!(m.untagged_vlan(), Some(20));
        assert!(!m.is_tagged(20));
    }

    #[test]
    fn trunk_native_is_untagged_whether_listed_or_not() {
        for vlans in [vec![10, 20], vec![10, 20, 30]] {
            let m = VlanMode::Trunk {
                vlans,
                native: Some(30),
            };
            assert!(m.carries(10) && m.carries(30) && !m.carries(40));
            assert!(m.is_tagged(10) && !m.is_tagged(30));
            assert_eq!(m.untagged_vlan(), Some(30));
        }
        let m = VlanMode::Trunk {
            vlans: vec![5],
            native: None,
        };
        assert_eq!(m.untagged_vlan(), None);
        assert!(m.is_tagged(5));
    }
}
