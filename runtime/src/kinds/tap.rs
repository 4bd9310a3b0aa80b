//! `kind: tap`: a persistent TAP in the host namespace, left for a VM; nfv works its kernel
//! side through an `AF_PACKET` socket.

use anyhow::{Context as _, Result};
use nfv_config::{Node, NodeKind, TapSpec};
use nfv_dataplane::Port;
use nfv_dataplane::port::{PacketSocketPort, TapDevice};
use nfv_dataplane::sys::netlink::{Netlink, set_sysctl};

use super::{BuildCx, Kind};
use crate::host::{Interface, Resources, SystemObject, marker};

/// The `tap` kind.
#[derive(Debug)]
pub struct Tap;

fn spec(node: &Node) -> &TapSpec {
    match &node.kind {
        NodeKind::Tap(t) => t,
        _ => unreachable!("the tap kind builds tap nodes only"),
    }
}

impl Kind for Tap {
    fn name(&self) -> &'static str {
        "tap"
    }

    fn graph_shape(&self) -> &'static str {
        "shape=component"
    }

    fn describe(&self, node: &Node) -> Vec<String> {
        vec![format!("ifname {}", spec(node).ifname)]
    }

    fn max_mtu(&self, node: &Node) -> u16 {
        spec(node).mtu
    }

    fn system_objects(&self, node: &Node) -> Vec<SystemObject> {
        vec![SystemObject::Link(spec(node).ifname.to_string())]
    }

    fn build(&self, node: &Node, cx: &mut BuildCx<'_, '_>) -> Result<()> {
        let t = spec(node);
        let topology = cx.topology;
        cx.add_ports(node, t.ifname.as_str(), |res, _| {
            let (port, line) = create(&topology.name, &node.name, t, res)?;
            Ok((vec![Box::new(port) as Box<dyn Port>], line))
        })
    }
}

/// Create a persistent TAP for a VM, mark it with the topology's [`marker`] (its alias),
/// and open an `AF_PACKET` port on its kernel side.
fn create(
    topology: &str,
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
    let mark = marker(topology);
    // Teardown removes only a device that carries the marker, so it is set before the TAP
    // is recorded; if that fails, the device this call just made is removed here.
    if let Err(e) = nl.set_alias(idx, &mark) {
        let _ = nl.delete_link(idx);
        return Err(e).with_context(|| format!("tap {name}: couldn't mark {ifname} as nfv's"));
    }
    res.persistent_tap(ifname, idx, &mark);
    // Detach: QEMU attaches to the user side with TUNSETIFF; nfv works the kernel side.
    drop(dev);
    set_sysctl(&format!("net/ipv6/conf/{ifname}/disable_ipv6"), "1")
        .with_context(|| format!("tap {name}: couldn't disable IPv6 on {ifname}"))?;
    if let Some(mac) = t.mac {
        nl.set_mac(idx, mac.0)?;
    }
    nl.set_mtu(idx, u32::from(t.mtu))?;
    nl.set_up(idx)?;
    res.interface(Interface {
        node: name.to_string(),
        namespace: None,
        ifname: ifname.to_string(),
        ifindex: idx,
        mac: nl.link_mac(idx)?,
        mtu: t.mtu,
        address: None,
    });
    let port = PacketSocketPort::open(ifname, idx, t.mtu)
        .with_context(|| format!("tap {name}: couldn't open a packet socket on {ifname}"))?;
    let line = format!(
        "tap {name}: {ifname} mtu {} for a VM: qemu ... -netdev tap,id=n0,ifname={ifname},script=no,downscript=no -device virtio-net-pci,netdev=n0",
        t.mtu
    );
    Ok((port, line))
}
