//! Bringing a validated [`Topology`] to life: namespaces, TAP devices and the packet graph,
//! and taking all of it down again.
//!
//! Everything created is recorded in [`Resources`] *before* the next step runs, and
//! `Resources` removes it on drop (reverse order). So an error half-way through start-up,
//! a signal during start-up, a normal exit and a panic all leave nothing behind. Only
//! SIGKILL can leave leftovers; the next `nfv run` finds them in [`preflight`] and prints
//! the exact command that removes them (or `nfv clean FILE` does it).

use std::collections::HashMap;
use std::fmt::Write as _;

use anyhow::{Context as _, Result, anyhow, bail};
use nfv_config::{
    Endpoint as CfgEndpoint, FirewallSpec, FwAction, FwDirection, FwState, HostSpec, L4Proto,
    NatFiltering, NatSpec, NodeKind, RouterSpec, SwitchSpec, TapSpec, Topology,
};
use nfv_dataplane::pipeline::{Pipeline, PipelineBuilder};
use nfv_dataplane::port::{GSO_FRAME_MAX, PacketSocketPort, TapDevice, TapPort};
use nfv_dataplane::sys::cpu;
use nfv_dataplane::sys::netlink::{Netlink, set_sysctl};
use nfv_dataplane::sys::netns::NetNs;
use nfv_dataplane::{Endpoint, PacketPool};
use nfv_functions::{
    Ipv4Router, L2Switch, RouterConfig, RouterInterfaceConfig, StaticRoute, SwitchConfig,
    SwitchPortConfig, VlanMode,
};

/// Buffers in the packet pool. Each is sized for the largest MTU in the topology; at the
/// default 1500 this is ~7 MiB.
const POOL_BUFFERS: usize = 4096;

/// Buffers of the large-buffer pool ([`GSO_FRAME_MAX`] bytes each) that the namespace
/// hosts' offloading TAPs read GSO super-frames into. Created only when the topology has a
/// host. The slab is ~17 MiB of address space; only buffers that ever held a large frame
/// are touched, so resident memory follows actual use. Each host port keeps one spare, a
/// burst holds at most 32 per port, and when the pool is empty a port stops reading (the
/// frame waits in the TAP's queue) and counts `rx_no_buffer`.
const GSO_POOL_BUFFERS: usize = 256;

/// Ethernet header + one 802.1Q tag + one spare byte, so a read that fills the buffer
/// completely can be recognised as truncated.
const FRAME_OVERHEAD: usize = 14 + 4 + 1;

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

/// A running network: one graph per worker, and what to clean up afterwards.
#[derive(Debug)]
pub struct Network {
    /// The packet graphs (index = worker), where every node went, and the rings.
    pub pipeline: Pipeline,
    /// Created system objects (drop after the graph, so TAP fds close first).
    pub resources: Resources,
    /// What was created, one line each, for the start-up log.
    pub summary: Vec<String>,
}

/// Things that already exist and would clash with this topology, each with the command that
/// removes it. Empty when the system is clean.
pub fn preflight(topo: &Topology) -> Result<Vec<String>> {
    let mut clashes = Vec::new();
    let mut nl = Netlink::new().context("couldn't open a netlink socket")?;
    for node in &topo.nodes {
        match &node.kind {
            NodeKind::Host(h) => {
                if NetNs::exists(&h.netns) {
                    clashes.push(format!(
                        "network namespace {} already exists (left over from an earlier run?): \
                         remove it with `ip netns del {}`",
                        h.netns, h.netns
                    ));
                }
            }
            NodeKind::Tap(t) => {
                if nl.link_exists(t.ifname.as_str())? {
                    clashes.push(format!(
                        "interface {} already exists (left over from an earlier run?): \
                         remove it with `ip link del {}`",
                        t.ifname, t.ifname
                    ));
                }
            }
            NodeKind::Pcap(_)
            | NodeKind::Switch(_)
            | NodeKind::Router(_)
            | NodeKind::Nat(_)
            | NodeKind::Firewall(_) => {}
        }
    }
    Ok(clashes)
}

/// Remove what a topology would create, if it exists (for `nfv clean`). Returns what was
/// removed.
pub fn clean(topo: &Topology) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    let mut nl = Netlink::new().context("couldn't open a netlink socket")?;
    for node in &topo.nodes {
        match &node.kind {
            NodeKind::Host(h) if NetNs::exists(&h.netns) => {
                NetNs::delete_by_name(&h.netns)
                    .with_context(|| format!("couldn't remove namespace {}", h.netns))?;
                removed.push(format!("namespace {}", h.netns));
            }
            NodeKind::Tap(t) if nl.link_exists(t.ifname.as_str())? => {
                let idx = nl.link_index(t.ifname.as_str())?;
                nl.delete_link(idx)
                    .with_context(|| format!("couldn't remove interface {}", t.ifname))?;
                removed.push(format!("interface {}", t.ifname));
            }
            _ => {}
        }
    }
    Ok(removed)
}

fn mac_str(m: [u8; 6]) -> String {
    let mut s = String::with_capacity(17);
    for (i, b) in m.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Create the namespace, its TAP and its addressing. Returns the TAP (user side).
fn create_host(name: &str, h: &HostSpec, res: &mut Resources) -> Result<(Vec<TapDevice>, String)> {
    let ns = NetNs::create(&h.netns)
        .with_context(|| format!("host {name}: couldn't create namespace {}", h.netns))?;
    res.created.push(Created::Namespace(ns));
    let Some(Created::Namespace(ns)) = res.created.last() else {
        unreachable!("just pushed a namespace");
    };
    let h2 = h.clone();
    let (devs, mac) = ns
        .run_in(move || -> Result<(Vec<TapDevice>, [u8; 6])> {
            let ifname = h2.ifname.as_str();
            // Created inside the namespace: the kernel side is born there, so no name can
            // clash with the host's interfaces and nothing needs moving. With offload the
            // host's stack sends 64 KB TSO/USO super-frames with partial checksums. With
            // `queues` > 1, one fd per queue (IFF_MULTI_QUEUE).
            let devs = TapDevice::create_queues_with_offload(ifname, usize::from(h2.queues))?;
            let mut nl = Netlink::new()?;
            let lo = nl.link_index("lo")?;
            nl.set_up(lo)?;
            let idx = nl.link_index(ifname)?;
            // nfv hosts are IPv4 hosts; without this the kernel would send router
            // solicitations, MLD reports and DAD probes into the topology.
            set_sysctl(&format!("net/ipv6/conf/{ifname}/disable_ipv6"), "1")?;
            if let Some(mac) = h2.mac {
                nl.set_mac(idx, mac.0)?;
            }
            nl.set_mtu(idx, u32::from(h2.mtu))?;
            if let Some(a) = h2.address {
                nl.add_ipv4_address(idx, a.addr, a.prefix_len)?;
            }
            nl.set_up(idx)?;
            if let Some(gw) = h2.gateway {
                nl.add_ipv4_default_route(gw)?;
            }
            Ok((devs, nl.link_mac(idx)?))
        })
        .with_context(|| format!("host {name}: couldn't enter namespace {}", h.netns))?
        .with_context(|| format!("host {name}: couldn't set up {} in {}", h.ifname, h.netns))?;
    let addr = h
        .address
        .map_or_else(|| "no address".to_string(), |a| a.to_string());
    let gw = h.gateway.map(|g| format!(" via {g}")).unwrap_or_default();
    let queues = if devs.len() > 1 {
        format!(" queues {}", devs.len())
    } else {
        String::new()
    };
    let line = format!(
        "host {name}: namespace {} with {} {addr}{gw} mac {} mtu {} offload {}{queues}",
        h.netns,
        h.ifname,
        mac_str(mac),
        h.mtu,
        offload_names(devs.first().map_or(0, TapDevice::offloads))
    );
    Ok((devs, line))
}

/// `TUN_F_*` flags as words for the start-up log.
fn offload_names(flags: u32) -> String {
    let names = [
        (libc::TUN_F_CSUM, "csum"),
        (libc::TUN_F_TSO4, "tso4"),
        (libc::TUN_F_TSO6, "tso6"),
        (libc::TUN_F_USO4, "uso4"),
        (libc::TUN_F_USO6, "uso6"),
    ];
    let on: Vec<&str> = names
        .iter()
        .filter(|(f, _)| flags & f != 0)
        .map(|(_, n)| *n)
        .collect();
    if on.is_empty() {
        "none".into()
    } else {
        on.join(",")
    }
}

/// Create a persistent TAP for a VM and open an `AF_PACKET` port on its kernel side.
fn create_vm_tap(
    name: &str,
    t: &TapSpec,
    res: &mut Resources,
) -> Result<(PacketSocketPort, String)> {
    let ifname = t.ifname.as_str();
    let dev = TapDevice::create(ifname)
        .with_context(|| format!("tap {name}: couldn't create {ifname}"))?;
    dev.set_persist(true)
        .with_context(|| format!("tap {name}: couldn't make {ifname} persistent"))?;
    let mut nl = Netlink::new()?;
    let idx = nl.link_index(ifname)?;
    res.created.push(Created::PersistentTap {
        name: ifname.to_string(),
        index: idx,
    });
    // Detach: QEMU attaches to the user side with TUNSETIFF; nfv works the kernel side.
    drop(dev);
    set_sysctl(&format!("net/ipv6/conf/{ifname}/disable_ipv6"), "1")
        .with_context(|| format!("tap {name}: couldn't disable IPv6 on {ifname}"))?;
    if let Some(mac) = t.mac {
        nl.set_mac(idx, mac.0)?;
    }
    nl.set_mtu(idx, u32::from(t.mtu))?;
    nl.set_up(idx)?;
    let port = PacketSocketPort::open(ifname, idx, t.mtu)
        .with_context(|| format!("tap {name}: couldn't open a packet socket on {ifname}"))?;
    let line = format!(
        "tap {name}: {ifname} mtu {} for a VM: qemu ... -netdev tap,id=n0,ifname={ifname},script=no,downscript=no -device virtio-net-pci,netdev=n0",
        t.mtu
    );
    Ok((port, line))
}

/// The switch function's own configuration from the validated spec.
pub fn switch_config(s: &SwitchSpec) -> SwitchConfig {
    SwitchConfig {
        ports: s
            .ports
            .iter()
            .map(|p| SwitchPortConfig {
                name: p.name.clone(),
                mode: match &p.mode {
                    nfv_config::VlanMode::Access { vlan } => VlanMode::Access(*vlan),
                    nfv_config::VlanMode::Trunk { vlans, native } => VlanMode::Trunk {
                        allowed: vlans.clone(),
                        native: *native,
                    },
                },
            })
            .collect(),
        mac_table_size: s.mac_table_size,
        ageing: s.ageing,
    }
}

/// A stable, locally administered unicast MAC for a function's interface that has none
/// configured: `02:` + 40 bits of FNV-1a over "topology/node/interface". Stable across runs,
/// so captures and neighbour caches stay readable.
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

/// The router function's own configuration from the validated spec.
pub fn router_config(topology: &str, node: &str, r: &RouterSpec) -> RouterConfig {
    RouterConfig {
        interfaces: r
            .interfaces
            .iter()
            .map(|i| RouterInterfaceConfig {
                name: i.name.clone(),
                mac: i
                    .mac
                    .map_or_else(|| derived_mac(topology, node, &i.name), |m| m.0),
                addr: i.address.addr,
                prefix_len: i.address.prefix_len,
                mtu: i.mtu,
            })
            .collect(),
        routes: r
            .routes
            .iter()
            .map(|rt| StaticRoute {
                prefix: rt.to.addr,
                len: rt.to.prefix_len,
                via: rt.via,
            })
            .collect(),
        icmp_rate_limit: r.icmp_rate_limit,
        icmp_burst: r.icmp_burst,
        arp_timeout: r.arp_timeout,
        redirects: r.redirects,
    }
}

/// The firewall function's own configuration from the validated spec.
pub fn firewall_config(f: &FirewallSpec) -> nfv_functions::FirewallConfig {
    use nfv_functions::{Action, ConnState, Direction, FwTimeouts, Rule};
    let action = |a: FwAction| match a {
        FwAction::Allow => Action::Allow,
        FwAction::Drop => Action::Drop,
        FwAction::Reject => Action::Reject,
    };
    nfv_functions::FirewallConfig {
        rules: f
            .rules
            .iter()
            .map(|r| Rule {
                action: action(r.action),
                direction: r.direction.map(|d| match d {
                    FwDirection::In => Direction::In,
                    FwDirection::Out => Direction::Out,
                }),
                src: r.src.map(|c| (c.addr, c.prefix_len)),
                dst: r.dst.map(|c| (c.addr, c.prefix_len)),
                proto: r.proto,
                src_ports: r.src_ports,
                dst_ports: r.dst_ports,
                icmp_type: r.icmp_type,
                states: r.states.as_ref().map(|v| {
                    v.iter()
                        .map(|s| match s {
                            FwState::New => ConnState::New,
                            FwState::Established => ConnState::Established,
                            FwState::Related => ConnState::Related,
                        })
                        .collect()
                }),
            })
            .collect(),
        default: action(f.default),
        timeouts: FwTimeouts {
            tcp_established: f.timeouts.tcp_established,
            tcp_transitory: f.timeouts.tcp_transitory,
            udp: f.timeouts.udp,
            icmp: f.timeouts.icmp,
            ..FwTimeouts::default()
        },
        max_flows: f.max_flows,
        icmp_rate_limit: f.icmp_rate_limit,
        icmp_burst: f.icmp_burst,
        allow_non_ip: false,
    }
}

/// The NAT function's own configuration from the validated spec. A forward without an
/// `external` address applies to every external address (the file format's meaning).
pub fn nat_config(topology: &str, node: &str, n: &NatSpec) -> nfv_functions::NatConfig {
    use nfv_functions::{Filtering, NatProto, NatTimeouts, PortForward};
    let mut forwards = Vec::new();
    for f in &n.forwards {
        let proto = match f.proto {
            L4Proto::Tcp => NatProto::Tcp,
            L4Proto::Udp => NatProto::Udp,
        };
        let externals: Vec<_> = match f.external {
            Some(a) => vec![a],
            None => n.external.clone(),
        };
        for a in externals {
            forwards.push(PortForward {
                proto,
                external: Some(a),
                port: f.port,
                to: f.to,
            });
        }
    }
    nfv_functions::NatConfig {
        inside_mac: n
            .mac_inside
            .map_or_else(|| derived_mac(topology, node, "inside"), |m| m.0),
        outside_mac: n
            .mac_outside
            .map_or_else(|| derived_mac(topology, node, "outside"), |m| m.0),
        external: n.external.clone(),
        port_range: n.port_range,
        filtering: match n.filtering {
            NatFiltering::EndpointIndependent => Filtering::EndpointIndependent,
            NatFiltering::AddressDependent => Filtering::AddressDependent,
            NatFiltering::AddressAndPortDependent => Filtering::AddressAndPortDependent,
        },
        timeouts: NatTimeouts {
            udp: n.timeouts.udp,
            tcp_established: n.timeouts.tcp_established,
            tcp_transitory: n.timeouts.tcp_transitory,
            icmp: n.timeouts.icmp,
            ..NatTimeouts::default()
        },
        max_sessions: n.max_sessions,
        max_sessions_per_host: n.max_sessions_per_host,
        forwards,
        one_to_one: n.one_to_one.clone(),
        icmp_rate_limit: n.icmp_rate_limit,
        icmp_burst: n.icmp_burst,
    }
}

/// The port of a `kind: pcap` node: `read` opened and streamed, `write` created (truncated).
fn create_pcap_port(
    name: &str,
    p: &nfv_config::PcapSpec,
) -> Result<(nfv_dataplane::port::PcapPort, String)> {
    let mut what = Vec::new();
    if let Some(f) = &p.read {
        what.push(format!(
            "replays {}{}{}",
            f.display(),
            p.rate_pps
                .map(|r| format!(" at {r} pps"))
                .unwrap_or_default(),
            if p.repeat { " in a loop" } else { "" }
        ));
    }
    if let Some(f) = &p.write {
        what.push(format!("records tx into {}", f.display()));
    }
    let port = nfv_dataplane::port::PcapPort::open(
        nfv_config::PCAP_IFNAME,
        p.read.as_deref(),
        p.write.as_deref(),
        p.rate_pps,
        p.repeat,
    )
    .with_context(|| format!("pcap {name}"))?;
    Ok((port, format!("pcap {name}: {}", what.join(", "))))
}

/// Largest frame the topology can carry.
fn max_frame(topo: &Topology) -> usize {
    let mtu = topo
        .nodes
        .iter()
        .map(|n| match &n.kind {
            NodeKind::Host(h) => h.mtu,
            NodeKind::Tap(t) => t.mtu,
            NodeKind::Router(r) => r.interfaces.iter().map(|i| i.mtu).max().unwrap_or(0),
            NodeKind::Pcap(_) | NodeKind::Switch(_) | NodeKind::Nat(_) | NodeKind::Firewall(_) => 0,
        })
        .max()
        .unwrap_or(1500)
        .max(1500);
    usize::from(mtu) + FRAME_OVERHEAD
}

/// Create every namespace and device of `topo` and wire the graph. `stop` is polled between
/// steps so a signal during start-up aborts it (and everything is removed).
///
/// # Errors
/// The first failure, with everything created so far already removed.
pub fn bring_up(topo: &Topology, stop: &dyn Fn() -> bool) -> Result<Network> {
    let mut res = Resources::default();
    let mut summary = Vec::new();
    let workers = usize::from(
        topo.workers
            .unwrap_or_else(|| cpu::allowed_cpus().map_or(1, |c| cpu::default_workers(&c) as u16)),
    );
    let pool = PacketPool::new(POOL_BUFFERS * workers, max_frame(topo));
    let has_hosts = topo
        .nodes
        .iter()
        .any(|n| matches!(n.kind, NodeKind::Host(_)));
    let large_pool = has_hosts.then(|| PacketPool::new(GSO_POOL_BUFFERS * workers, GSO_FRAME_MAX));
    let mut gb = PipelineBuilder::new(pool, workers);
    // (node, iface) → graph endpoint
    let mut ends: HashMap<(String, String), Endpoint> = HashMap::new();
    for node in &topo.nodes {
        if stop() {
            bail!("interrupted during start-up");
        }
        let worker = node.worker.map(usize::from);
        match &node.kind {
            NodeKind::Host(h) => {
                let (devs, line) = create_host(&node.name, h, &mut res)?;
                tracing::info!("{line}");
                summary.push(line);
                let queues: Vec<Box<dyn nfv_dataplane::Port>> = devs
                    .into_iter()
                    .map(|dev| -> Box<dyn nfv_dataplane::Port> {
                        match large_pool {
                            Some(large) => Box::new(TapPort::with_large_pool(dev, h.mtu, large)),
                            None => Box::new(TapPort::new(dev, h.mtu)),
                        }
                    })
                    .collect();
                let id =
                    gb.add_port_queues(format!("{}:{}", node.name, h.ifname), queues, worker)?;
                ends.insert(
                    (node.name.clone(), h.ifname.to_string()),
                    Endpoint::Port(id),
                );
            }
            NodeKind::Tap(t) => {
                let (port, line) = create_vm_tap(&node.name, t, &mut res)?;
                tracing::info!("{line}");
                summary.push(line);
                let id = gb.add_port(
                    format!("{}:{}", node.name, t.ifname),
                    Box::new(port),
                    worker,
                )?;
                ends.insert(
                    (node.name.clone(), t.ifname.to_string()),
                    Endpoint::Port(id),
                );
            }
            NodeKind::Pcap(p) => {
                let (port, line) = create_pcap_port(&node.name, p)?;
                tracing::info!("{line}");
                summary.push(line);
                let id = gb.add_port(
                    format!("{}:{}", node.name, nfv_config::PCAP_IFNAME),
                    Box::new(port),
                    worker,
                )?;
                ends.insert(
                    (node.name.clone(), nfv_config::PCAP_IFNAME.to_string()),
                    Endpoint::Port(id),
                );
            }
            NodeKind::Switch(s) => {
                let cfg = switch_config(s);
                let id =
                    gb.add_element(node.name.clone(), Box::new(L2Switch::new(&cfg)), worker)?;
                for (i, p) in s.ports.iter().enumerate() {
                    let gate = u16::try_from(i)
                        .map_err(|_| anyhow!("switch {}: too many ports", node.name))?;
                    ends.insert(
                        (node.name.clone(), p.name.clone()),
                        Endpoint::Gate(id, gate),
                    );
                }
                let line = format!(
                    "switch {}: {} ports, mac-table-size {}, ageing {}s",
                    node.name,
                    s.ports.len(),
                    s.mac_table_size,
                    s.ageing.as_secs_f64()
                );
                tracing::info!("{line}");
                summary.push(line);
            }
            NodeKind::Firewall(f) => {
                let cfg = firewall_config(f);
                let id = gb.add_element(
                    node.name.clone(),
                    Box::new(nfv_functions::Firewall::new(&cfg)),
                    worker,
                )?;
                ends.insert((node.name.clone(), "in".into()), Endpoint::Gate(id, 0));
                ends.insert((node.name.clone(), "out".into()), Endpoint::Gate(id, 1));
                let line = format!(
                    "firewall {}: {} rules, default {:?}",
                    node.name,
                    cfg.rules.len(),
                    cfg.default
                );
                tracing::info!("{line}");
                summary.push(line);
            }
            NodeKind::Nat(n) => {
                let cfg = nat_config(&topo.name, &node.name, n);
                let nat = nfv_functions::Nat44::new(&cfg)
                    .map_err(|e| anyhow!("nat {}: {e}", node.name))?;
                let id = gb.add_element(node.name.clone(), Box::new(nat), worker)?;
                ends.insert((node.name.clone(), "inside".into()), Endpoint::Gate(id, 0));
                ends.insert((node.name.clone(), "outside".into()), Endpoint::Gate(id, 1));
                let ext: Vec<String> = cfg.external.iter().map(|a| a.to_string()).collect();
                let line = format!(
                    "nat {}: external {} (inside mac {}, outside mac {}), {:?} filtering, {} forwards, {} one-to-one",
                    node.name,
                    ext.join(", "),
                    mac_str(cfg.inside_mac),
                    mac_str(cfg.outside_mac),
                    cfg.filtering,
                    cfg.forwards.len(),
                    cfg.one_to_one.len()
                );
                tracing::info!("{line}");
                summary.push(line);
            }
            NodeKind::Router(r) => {
                let cfg = router_config(&topo.name, &node.name, r);
                let t = std::time::Instant::now();
                let router =
                    Ipv4Router::new(&cfg).map_err(|e| anyhow!("router {}: {e}", node.name))?;
                let fib_time = t.elapsed();
                let id = gb.add_element(node.name.clone(), Box::new(router), worker)?;
                let mut ifs = Vec::new();
                for (i, ifc) in cfg.interfaces.iter().enumerate() {
                    let gate = u16::try_from(i)
                        .map_err(|_| anyhow!("router {}: too many interfaces", node.name))?;
                    ends.insert(
                        (node.name.clone(), ifc.name.clone()),
                        Endpoint::Gate(id, gate),
                    );
                    ifs.push(format!(
                        "{} {}/{} mac {} mtu {}",
                        ifc.name,
                        ifc.addr,
                        ifc.prefix_len,
                        mac_str(ifc.mac),
                        ifc.mtu
                    ));
                }
                let line = format!(
                    "router {}: {}; {} static routes (FIB built in {:.0?})",
                    node.name,
                    ifs.join(", "),
                    cfg.routes.len(),
                    fib_time
                );
                tracing::info!("{line}");
                summary.push(line);
            }
        }
    }
    let resolve = |e: &CfgEndpoint| -> Result<Endpoint> {
        ends.get(&(e.node.clone(), e.iface.clone()))
            .copied()
            .ok_or_else(|| {
                anyhow!(
                    "link endpoint {}:{} has no port (a validation bug)",
                    e.node,
                    e.iface
                )
            })
    };
    for l in &topo.links {
        gb.link(resolve(&l.a)?, resolve(&l.b)?);
    }
    let pipeline = gb
        .build()
        .context("couldn't wire the packet graph (a validation bug)")?;
    if workers > 1 {
        let mut by_worker = vec![Vec::new(); workers];
        for p in &pipeline.placement {
            by_worker[p.worker].push(p.name.as_str());
        }
        for (w, names) in by_worker.iter().enumerate() {
            let line = format!("worker {w}: {}", names.join(", "));
            tracing::info!("{line}");
            summary.push(line);
        }
        let line = format!(
            "{} rings between workers{}{}",
            pipeline.rings.len(),
            if pipeline.rings.is_empty() { "" } else { ": " },
            pipeline.rings.join(", ")
        );
        tracing::info!("{line}");
        summary.push(line);
    }
    Ok(Network {
        pipeline,
        resources: res,
        summary,
    })
}
