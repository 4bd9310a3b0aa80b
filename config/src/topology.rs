//! The validated topology: the only config type the other crates accept.
//!
//! Every value here has passed both stages, defaults are filled in, and every link endpoint
//! names an existing node and interface. [`Topology`] is `#[non_exhaustive]`, so code outside
//! this crate can read (and clone) it but cannot build one with a struct literal: the only way
//! to get one is [`crate::load_file`], [`crate::load_str`] or [`crate::load_str_in`]. The parts
//! (`Node`, `HostSpec`, `RouterSpec`, …) stay constructible so that other crates' unit tests can
//! make a `SwitchSpec`, a `HostSpec` or a `RouterSpec` (`..RouterSpec::default()`) directly.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;
use std::time::Duration;

use crate::types::{IfName, Ipv4Cidr, MacAddr};

/// Node kinds that `kind:` accepts, in the order error messages list them.
pub const KNOWN_KINDS: &[&str] = &["host", "tap", "pcap", "switch", "router", "nat", "firewall"];
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
/// NAT `port-range` when not given: every port but the well-known ones.
pub const DEFAULT_NAT_PORT_RANGE: (u16, u16) = (1024, 65535);
/// NAT `max-sessions` when not given.
pub const DEFAULT_MAX_SESSIONS: u32 = 65536;
/// NAT `max-sessions-per-host` when not given.
pub const DEFAULT_MAX_SESSIONS_PER_HOST: u32 = 4096;
/// Firewall `max-flows` when not given.
pub const DEFAULT_MAX_FLOWS: u32 = 262_144;
/// `timeouts.udp` (NAT and firewall) when not given (RFC 4787 REQ-5 recommends 300 s).
pub const DEFAULT_UDP_TIMEOUT: Duration = Duration::from_secs(300);
/// `timeouts.tcp-established` (NAT and firewall) when not given (RFC 5382 REQ-5: 2 h 4 min).
pub const DEFAULT_TCP_ESTABLISHED_TIMEOUT: Duration = Duration::from_secs(7440);
/// `timeouts.tcp-transitory` (NAT and firewall) when not given (RFC 5382 REQ-5: 4 min).
pub const DEFAULT_TCP_TRANSITORY_TIMEOUT: Duration = Duration::from_secs(240);
/// `timeouts.icmp` (NAT and firewall) when not given (RFC 5508 REQ-2: 60 s).
pub const DEFAULT_ICMP_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest NAT or firewall timeout accepted.
pub const MAX_FLOW_TIMEOUT: Duration = Duration::from_secs(1_000_000);
/// RFC 4787 REQ-5: a NAT UDP mapping timer must not expire in less than 2 minutes. Lower
/// values load with a warning.
pub const NAT_UDP_TIMEOUT_FLOOR: Duration = Duration::from_secs(120);
/// RFC 5382 REQ-5: an established TCP connection's idle timeout must not be less than
/// 2 hours 4 minutes. Lower values load with a warning.
pub const NAT_TCP_ESTABLISHED_TIMEOUT_FLOOR: Duration = Duration::from_secs(7440);
/// RFC 5382 REQ-5: the transitory TCP idle timeout must not be less than 4 minutes. Lower
/// values load with a warning.
pub const NAT_TCP_TRANSITORY_TIMEOUT_FLOOR: Duration = Duration::from_secs(240);
/// RFC 5508 REQ-2: an ICMP query mapping must not expire in less than 60 s. Lower values load
/// with a warning.
pub const NAT_ICMP_TIMEOUT_FLOOR: Duration = Duration::from_secs(60);
/// The two interfaces of a `kind: nat` node: `[inside, outside]`.
pub const NAT_SIDES: [&str; 2] = ["inside", "outside"];
/// The two interfaces of a `kind: firewall` node: `[in, out]` (`in` faces the inside).
pub const FIREWALL_SIDES: [&str; 2] = ["in", "out"];
/// IP protocol number of ICMP.
pub const PROTO_ICMP: u8 = 1;
/// IP protocol number of TCP.
pub const PROTO_TCP: u8 = 6;
/// IP protocol number of UDP.
pub const PROTO_UDP: u8 = 17;
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
    /// `links:` in file order, then the links that `chains:` expand to, in chain order.
    pub links: Vec<Link>,
    /// `metrics:`: where to serve Prometheus metrics; `None` serves none.
    pub metrics: Option<MetricsSpec>,
    /// `poll:`: how the worker waits for packets (default adaptive).
    pub poll: PollSpec,
    /// `workers:`: number of worker threads; `None`: one per CPU minus one, at least one
    /// (decided at run time, on the machine that runs it).
    pub workers: Option<u16>,
    /// `spin:`: with `poll: adaptive`, how long a worker keeps polling after the last packet
    /// before it sleeps; `None`: the data plane's default (200 µs).
    pub spin: Option<std::time::Duration>,
    /// `cpu-budget:`: with `poll: adaptive`, the share of a core (parts per million) a
    /// worker may spend polling for packets it predicts from the gaps between earlier ones;
    /// `None`: the data plane's default (10 %); 0 turns prediction off.
    pub cpu_budget: Option<u32>,
}

/// Longest `spin:`.
pub const MAX_SPIN: std::time::Duration = std::time::Duration::from_secs(1);

/// Most worker threads a topology may ask for.
pub const MAX_WORKERS: u16 = 64;

/// `poll:` — `adaptive` (sleep in epoll 200 µs after the last packet: no CPU when idle) or
/// `busy` (never sleep: one core at 100 %, no wake-up latency).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PollSpec {
    /// `adaptive` (the default).
    #[default]
    Adaptive,
    /// `busy`.
    Busy,
}

/// `metrics:`: the Prometheus `/metrics` endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsSpec {
    /// Address and port to listen on (TCP).
    pub listen: std::net::SocketAddr,
    /// `allow-remote: true` was given, so `listen` may be a non-loopback address.
    pub allow_remote: bool,
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
    /// `worker:`: the worker thread this node runs on; `None`: placed automatically.
    pub worker: Option<u16>,
}

/// A node's `kind` and the settings that go with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeKind {
    /// `kind: host`: a network namespace with one interface.
    Host(HostSpec),
    /// `kind: tap`: a TAP device in the host namespace, left for a VM.
    Tap(TapSpec),
    /// `kind: pcap`: a port that replays a pcap file as rx and records tx into one.
    Pcap(PcapSpec),
    /// `kind: switch`: an L2 learning switch.
    Switch(SwitchSpec),
    /// `kind: router`: an IPv4 router with one or more interfaces and static routes.
    Router(RouterSpec),
    /// `kind: nat`: a NAPT between interface `inside` and interface `outside`.
    Nat(NatSpec),
    /// `kind: firewall`: a stateful filter between interface `in` and interface `out`.
    Firewall(FirewallSpec),
}

impl NodeKind {
    /// The `kind:` string: `"host"`, `"tap"`, `"switch"`, `"router"`, `"nat"` or
    /// `"firewall"`.
    #[must_use]
    pub fn kind_name(&self) -> &'static str {
        match self {
            NodeKind::Host(_) => "host",
            NodeKind::Tap(_) => "tap",
            NodeKind::Pcap(_) => "pcap",
            NodeKind::Switch(_) => "switch",
            NodeKind::Router(_) => "router",
            NodeKind::Nat(_) => "nat",
            NodeKind::Firewall(_) => "firewall",
        }
    }

    /// The two interfaces of a two-sided function, inside first: `["inside", "outside"]` for
    /// a NAT, `["in", "out"]` for a firewall; `None` for other kinds.
    #[must_use]
    pub fn sides(&self) -> Option<[&'static str; 2]> {
        match self {
            NodeKind::Nat(_) => Some(NAT_SIDES),
            NodeKind::Firewall(_) => Some(FIREWALL_SIDES),
            _ => None,
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
    /// TAP queues (`IFF_MULTI_QUEUE`), 1..=[`MAX_TAP_QUEUES`], default 1. Each queue is a
    /// port of its own, on its own worker where there are enough.
    pub queues: u16,
}

/// Most queues a host's TAP may have.
pub const MAX_TAP_QUEUES: u16 = 16;

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

/// The one interface of a `kind: pcap` node (`node` or `node:eth0` in links).
pub const PCAP_IFNAME: &str = "eth0";

/// `kind: pcap`: a port that replays `read` as received frames and records every frame sent
/// to it into `write`. At least one of the two is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcapSpec {
    /// A classic pcap file (Ethernet), relative paths resolved against the topology file's
    /// directory; it existed and parsed when the topology was loaded.
    pub read: Option<PathBuf>,
    /// Where to record transmitted frames (created or truncated at start-up; same
    /// resolution as `read`).
    pub write: Option<PathBuf>,
    /// Replay rate in frames per second, 1..=10,000,000; `None` is as fast as the worker goes.
    pub rate_pps: Option<u32>,
    /// Replay `read` again from the start when it ends (`loop:`, default false).
    pub repeat: bool,
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

/// `kind: nat`: a NAPT (RFC 4787, RFC 5382, RFC 5508) with two interfaces, `inside` and
/// `outside`, as link endpoints `nat1:inside` and `nat1:outside`.
///
/// Validated: at least one `external` address, no duplicates; external and one-to-one outside
/// addresses are unique across the topology and are no host's or router interface's address;
/// `forwards` are unique per (proto, external address, port).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatSpec {
    /// The NAT's own outside addresses, in file order; never empty in a loaded topology.
    pub external: Vec<Ipv4Addr>,
    /// Ports handed out for dynamic mappings, `(first, last)`, 1 <= first <= last
    /// (default 1024-65535).
    pub port_range: (u16, u16),
    /// Which outside packets may use a mapping (default address-dependent).
    pub filtering: NatFiltering,
    /// Most sessions in all, at least 1 (default 65536).
    pub max_sessions: u32,
    /// Most sessions of one inside address, at least 1 (default 4096).
    pub max_sessions_per_host: u32,
    /// Idle timeouts.
    pub timeouts: NatTimeoutsSpec,
    /// Port forwards, in file order.
    pub forwards: Vec<ForwardSpec>,
    /// Static one-to-one mappings `(inside, outside)`, in file order. No outside address is in
    /// `external`; inside and outside addresses are each unique.
    pub one_to_one: Vec<(Ipv4Addr, Ipv4Addr)>,
    /// ICMP errors per second (token bucket rate), default 100; 0 means no ICMP errors.
    pub icmp_rate_limit: u32,
    /// ICMP token bucket size, at least 1, default 50.
    pub icmp_burst: u32,
    /// MAC of the `inside` interface; `None` lets the binary derive one.
    pub mac_inside: Option<MacAddr>,
    /// MAC of the `outside` interface; `None` lets the binary derive one.
    pub mac_outside: Option<MacAddr>,
    /// MTU of both sides, 68..=9000, default 1500: longer non-GSO frames are `too_big`.
    pub mtu: u16,
}

impl Default for NatSpec {
    /// The defaults of the file format, with no external address (which a loaded topology
    /// never has: a NAT needs one).
    fn default() -> Self {
        NatSpec {
            external: Vec::new(),
            port_range: DEFAULT_NAT_PORT_RANGE,
            filtering: NatFiltering::default(),
            max_sessions: DEFAULT_MAX_SESSIONS,
            max_sessions_per_host: DEFAULT_MAX_SESSIONS_PER_HOST,
            timeouts: NatTimeoutsSpec::default(),
            forwards: Vec::new(),
            one_to_one: Vec::new(),
            icmp_rate_limit: DEFAULT_ICMP_RATE_LIMIT,
            icmp_burst: DEFAULT_ICMP_BURST,
            mac_inside: None,
            mac_outside: None,
            mtu: DEFAULT_MTU,
        }
    }
}

/// NAT filtering behaviour (RFC 4787 section 5): which outside packets may come in through a
/// mapping that an inside host made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum NatFiltering {
    /// `endpoint-independent`: any outside address and port.
    EndpointIndependent,
    /// `address-dependent` (the default): only addresses the inside host has sent to.
    #[default]
    AddressDependent,
    /// `address-and-port-dependent`: only address and port pairs the inside host has sent to.
    AddressAndPortDependent,
}

impl NatFiltering {
    /// The `filtering:` strings, in the order messages list them.
    pub const NAMES: [&'static str; 3] = [
        "endpoint-independent",
        "address-dependent",
        "address-and-port-dependent",
    ];

    /// The `filtering:` word for this value (for logs and messages).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            NatFiltering::EndpointIndependent => Self::NAMES[0],
            NatFiltering::AddressDependent => Self::NAMES[1],
            NatFiltering::AddressAndPortDependent => Self::NAMES[2],
        }
    }
}

/// NAT idle timeouts. Each is more than 0 and at most 1,000,000 s; values below the RFC floors
/// load with a warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NatTimeoutsSpec {
    /// UDP mapping (default 300 s; RFC 4787 REQ-5 floor 120 s).
    pub udp: Duration,
    /// Established TCP connection (default 7440 s; RFC 5382 REQ-5 floor 7440 s).
    pub tcp_established: Duration,
    /// TCP connection being opened or closed (default 240 s; RFC 5382 REQ-5 floor 240 s).
    pub tcp_transitory: Duration,
    /// ICMP query mapping (default 60 s; RFC 5508 REQ-2 floor 60 s).
    pub icmp: Duration,
}

impl Default for NatTimeoutsSpec {
    fn default() -> Self {
        NatTimeoutsSpec {
            udp: DEFAULT_UDP_TIMEOUT,
            tcp_established: DEFAULT_TCP_ESTABLISHED_TIMEOUT,
            tcp_transitory: DEFAULT_TCP_TRANSITORY_TIMEOUT,
            icmp: DEFAULT_ICMP_TIMEOUT,
        }
    }
}

/// A transport protocol of a port forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum L4Proto {
    /// `tcp` (IP protocol 6).
    Tcp,
    /// `udp` (IP protocol 17).
    Udp,
}

impl L4Proto {
    /// The IP protocol number: 6 or 17.
    #[must_use]
    pub fn number(self) -> u8 {
        match self {
            L4Proto::Tcp => PROTO_TCP,
            L4Proto::Udp => PROTO_UDP,
        }
    }
}

/// One NAT port forward: packets to `external:port` (`proto`) go to `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ForwardSpec {
    /// TCP or UDP.
    pub proto: L4Proto,
    /// One of [`NatSpec::external`]; `None` means every external address.
    pub external: Option<Ipv4Addr>,
    /// Outside port, 1..=65535.
    pub port: u16,
    /// Inside address and port (port 1..=65535).
    pub to: SocketAddrV4,
}

/// `kind: firewall`: a stateful packet filter with two interfaces, `in` (facing the inside)
/// and `out`, as link endpoints `fw1:in` and `fw1:out`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirewallSpec {
    /// What happens to a packet no rule matches (default allow: a firewall with no rules
    /// passes everything).
    pub default: FwAction,
    /// Rules, first match wins, in file order.
    pub rules: Vec<FwRuleSpec>,
    /// Most tracked flows, at least 1 (default 262144).
    pub max_flows: u32,
    /// Most flows one originator address may hold, at least 1; `None` (not set): the
    /// firewall's default, max(max_flows / 16, 64).
    pub max_flows_per_host: Option<u32>,
    /// Idle timeouts of tracked flows.
    pub timeouts: FwTimeoutsSpec,
    /// ICMP errors (for `reject`) per second, default 100; 0 means none.
    pub icmp_rate_limit: u32,
    /// ICMP token bucket size, at least 1, default 50.
    pub icmp_burst: u32,
    /// MTU of both sides, 68..=9000, default 1500: longer non-GSO frames are `too_big`.
    pub mtu: u16,
}

impl Default for FirewallSpec {
    /// The defaults of the file format: no rules, default allow.
    fn default() -> Self {
        FirewallSpec {
            default: FwAction::Allow,
            rules: Vec::new(),
            max_flows: DEFAULT_MAX_FLOWS,
            max_flows_per_host: None,
            timeouts: FwTimeoutsSpec::default(),
            icmp_rate_limit: DEFAULT_ICMP_RATE_LIMIT,
            icmp_burst: DEFAULT_ICMP_BURST,
            mtu: DEFAULT_MTU,
        }
    }
}

/// Firewall flow idle timeouts; each more than 0 and at most 1,000,000 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FwTimeoutsSpec {
    /// Established TCP connection (default 7440 s).
    pub tcp_established: Duration,
    /// TCP connection being opened or closed (default 240 s).
    pub tcp_transitory: Duration,
    /// UDP flow (default 300 s).
    pub udp: Duration,
    /// ICMP query flow (default 60 s).
    pub icmp: Duration,
}

impl Default for FwTimeoutsSpec {
    fn default() -> Self {
        FwTimeoutsSpec {
            tcp_established: DEFAULT_TCP_ESTABLISHED_TIMEOUT,
            tcp_transitory: DEFAULT_TCP_TRANSITORY_TIMEOUT,
            udp: DEFAULT_UDP_TIMEOUT,
            icmp: DEFAULT_ICMP_TIMEOUT,
        }
    }
}

/// What a firewall rule (or the default policy) does with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FwAction {
    /// `allow`: pass it.
    Allow,
    /// `drop`: discard it silently.
    Drop,
    /// `reject`: discard it and answer (TCP RST, or ICMP unreachable, rate limited).
    Reject,
}

impl FwAction {
    /// The `action:` strings, in the order messages list them.
    pub const NAMES: [&'static str; 3] = ["allow", "drop", "reject"];

    /// The `action:` word for this value (for logs and messages).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            FwAction::Allow => Self::NAMES[0],
            FwAction::Drop => Self::NAMES[1],
            FwAction::Reject => Self::NAMES[2],
        }
    }
}

/// Which way a packet crosses a firewall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FwDirection {
    /// `in`: arrived on `out`, going to `in` (from the outside).
    In,
    /// `out`: arrived on `in`, going to `out` (from the inside).
    Out,
}

/// Connection tracking state of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FwState {
    /// `new`: the first packet of a flow.
    New,
    /// `established`: a packet of a flow already allowed, either way.
    Established,
    /// `related`: an ICMP error about an established flow.
    Related,
}

impl FwState {
    /// The `state:` strings, in the order messages list them.
    pub const NAMES: [&'static str; 3] = ["new", "established", "related"];
}

/// One firewall rule. A packet matches if it matches every field that is `Some`.
///
/// Validated: `src` and `dst` have no host bits; ports only with proto 6 or 17, `icmp_type`
/// only with proto 1; port ranges are `(first, last)` with 1 <= first <= last; `states`
/// is not empty and has no duplicates.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FwRuleSpec {
    /// What to do with a matching packet.
    pub action: FwAction,
    /// Which way the packet crosses.
    pub direction: Option<FwDirection>,
    /// Source prefix (network address, host bits zero).
    pub src: Option<Ipv4Cidr>,
    /// Destination prefix (network address, host bits zero).
    pub dst: Option<Ipv4Cidr>,
    /// IP protocol number (`tcp` 6, `udp` 17, `icmp` 1).
    pub proto: Option<u8>,
    /// Source ports `(first, last)`; only with TCP or UDP.
    pub src_ports: Option<(u16, u16)>,
    /// Destination ports `(first, last)`; only with TCP or UDP.
    pub dst_ports: Option<(u16, u16)>,
    /// ICMP type; only with ICMP.
    pub icmp_type: Option<u8>,
    /// Connection states, in file order; one of them must match.
    pub states: Option<Vec<FwState>>,
}

/// One entry of `links:`: a point-to-point connection between two interfaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// First endpoint as written (for a link from `chains:`, the inside one).
    pub a: Endpoint,
    /// Second endpoint as written (for a link from `chains:`, the outside one).
    pub b: Endpoint,
    /// Elements on the link (`impair:` …), in file order, from `a` to `b`: gate 0 of each
    /// faces `a`. Empty for most links and for links from `chains:`.
    pub elements: Vec<crate::links::LinkElement>,
}

/// A link endpoint, resolved: `iface` is a host's or tap's interface name, a switch port name or
/// a router interface name, or a NAT's or firewall's side.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// Node name.
    pub node: String,
    /// Host: its `ifname`; tap: its `ifname`; switch: the port name; router: the interface name;
    /// nat: `inside` or `outside`; firewall: `in` or `out`.
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
