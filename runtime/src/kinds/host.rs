//! `kind: host`: a network namespace `<topology>-<node>` with one interface, the kernel side
//! of an offloading TAP whose fd nfv holds (one fd per queue with `queues:`).

use anyhow::{Context as _, Result};
use nfv_config::{HostSpec, Node, NodeKind};
use nfv_dataplane::Port;
use nfv_dataplane::port::{TapDevice, TapPort};
use nfv_dataplane::sys::netlink::{Netlink, set_sysctl};
use nfv_dataplane::sys::netns::NetNs;

use super::{BuildCx, Kind};
use crate::host::{Interface, Resources, SystemObject, mac_str, marker};

/// The `host` kind.
#[derive(Debug)]
pub struct Host;

fn spec(node: &Node) -> &HostSpec {
    match &node.kind {
        NodeKind::Host(h) => h,
        _ => unreachable!("the host kind builds host nodes only"),
    }
}

impl Kind for Host {
    fn name(&self) -> &'static str {
        "host"
    }

    fn graph_shape(&self) -> &'static str {
        "shape=box, style=rounded"
    }

    fn describe(&self, node: &Node) -> Vec<String> {
        let h = spec(node);
        let mut lines = vec![match h.address {
            Some(a) => format!("{} {a}", h.ifname),
            None => h.ifname.to_string(),
        }];
        if let Some(g) = h.gateway {
            lines.push(format!("gw {g}"));
        }
        lines
    }

    fn max_mtu(&self, node: &Node) -> u16 {
        spec(node).mtu
    }

    fn needs_large_pool(&self) -> bool {
        true
    }

    fn system_objects(&self, node: &Node) -> Vec<SystemObject> {
        vec![SystemObject::Namespace(spec(node).netns.clone())]
    }

    fn build(&self, node: &Node, cx: &mut BuildCx<'_, '_>) -> Result<()> {
        let h = spec(node);
        let topology = cx.topology;
        cx.add_ports(node, h.ifname.as_str(), |res, large| {
            let (devs, line) = create(&topology.name, &node.name, h, res)?;
            let ports = devs
                .into_iter()
                .map(|dev| -> Box<dyn Port> {
                    match large {
                        Some(large) => Box::new(TapPort::with_large_pool(dev, h.mtu, large)),
                        None => Box::new(TapPort::new(dev, h.mtu)),
                    }
                })
                .collect();
            Ok((ports, line))
        })
    }
}

/// Create the namespace, its TAP(s) and its addressing. Returns the TAP queues (user side)
/// and the start-up log line. The namespace's `lo` and the TAP carry the topology's
/// [`marker`] (`lo` first, so a namespace is recognisable from its first moment).
fn create(
    topology: &str,
    name: &str,
    h: &HostSpec,
    res: &mut Resources,
) -> Result<(Vec<TapDevice>, String)> {
    let ns = NetNs::create(&h.netns)
        .with_context(|| format!("host {name}: couldn't create namespace {}", h.netns))?;
    let ns = res.namespace(ns);
    let h2 = h.clone();
    let mark = marker(topology);
    let (devs, mac, index) = ns
        .run_in(move || -> Result<(Vec<TapDevice>, [u8; 6], u32)> {
            let mut nl = Netlink::new()?;
            let lo = nl.link_index("lo")?;
            nl.set_alias(lo, &mark)?;
            let ifname = h2.ifname.as_str();
            // Created inside the namespace: the kernel side is born there, so no name can
            // clash with the host's interfaces and nothing needs moving. With offload the
            // host's stack sends 64 KB TSO/USO super-frames with partial checksums. With
            // `queues` > 1, one fd per queue (IFF_MULTI_QUEUE).
            let devs = TapDevice::create_queues_with_offload(ifname, usize::from(h2.queues))?;
            nl.set_up(lo)?;
            let idx = nl.link_index(ifname)?;
            nl.set_alias(idx, &mark)?;
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
            Ok((devs, nl.link_mac(idx)?, idx))
        })
        .with_context(|| format!("host {name}: couldn't enter namespace {}", h.netns))?
        .with_context(|| format!("host {name}: couldn't set up {} in {}", h.ifname, h.netns))?;
    res.interface(Interface {
        node: name.to_string(),
        namespace: Some(h.netns.clone()),
        ifname: h.ifname.to_string(),
        ifindex: index,
        mac,
        mtu: h.mtu,
        address: h.address.map(|a| a.to_string()),
    });
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
