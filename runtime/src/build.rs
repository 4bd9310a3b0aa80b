//! A validated [`Topology`] to a [`Pipeline`]: every node through its [`Kind`], then the
//! links.
//!
//! [`bring_up`] creates the real devices (namespaces, TAPs, pcap files); [`build_in_memory`]
//! gives every port node an in-memory port from a factory instead and touches nothing
//! on the system, so tests and benchmarks build exactly the graph `nfv run` would.

use std::collections::HashMap;

use anyhow::{Context as _, Result, anyhow, bail};
use nfv_config::{Endpoint as CfgEndpoint, Topology};
use nfv_dataplane::pipeline::{Pipeline, PipelineBuilder};
use nfv_dataplane::port::GSO_FRAME_MAX;
use nfv_dataplane::sys::cpu;
use nfv_dataplane::{Endpoint, PacketPool};

use crate::host::Resources;
use crate::kinds::{self, BuildCx, PortFactory};

/// Buffers in the packet pool, per worker. Each is sized for the largest MTU in the
/// topology; at the default 1500 this is ~7 MiB.
pub const POOL_BUFFERS: usize = 4096;

/// Buffers of the large-buffer pool ([`GSO_FRAME_MAX`] bytes each), per worker, that the
/// namespace hosts' offloading TAPs read GSO super-frames into. Created only when a node's
/// kind needs it ([`kinds::Kind::needs_large_pool`]). The slab is ~17 MiB of address space;
/// only buffers that ever held a large frame are touched, so resident memory follows actual
/// use. Each host port keeps one spare, a burst holds at most 32 per port, and when the pool
/// is empty a port stops reading (the frame waits in the TAP's queue) and counts
/// `rx_no_buffer`.
pub const GSO_POOL_BUFFERS: usize = 256;

/// Ethernet header + one 802.1Q tag + one spare byte, so a read that fills the buffer
/// completely can be recognised as truncated.
const FRAME_OVERHEAD: usize = 14 + 4 + 1;

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

/// Largest frame the topology can carry.
#[must_use]
pub fn max_frame(topo: &Topology) -> usize {
    let mtu = topo
        .nodes
        .iter()
        .map(|n| kinds::of(&n.kind).max_mtu(n))
        .max()
        .unwrap_or(0)
        .max(1500);
    usize::from(mtu) + FRAME_OVERHEAD
}

/// Worker threads `topo` runs on: `workers:`, or the machine's default.
#[must_use]
pub fn worker_count(topo: &Topology) -> usize {
    usize::from(
        topo.workers
            .unwrap_or_else(|| cpu::allowed_cpus().map_or(1, |c| cpu::default_workers(&c) as u16)),
    )
}

/// Create every namespace and device of `topo` and wire the graph. `stop` is polled between
/// nodes so a signal during start-up aborts it (and everything is removed).
///
/// # Errors
/// The first failure, with everything created so far already removed.
pub fn bring_up(topo: &Topology, stop: &dyn Fn() -> bool) -> Result<Network> {
    build(topo, worker_count(topo), None, stop)
}

/// Build `topo`'s graph with an in-memory port from `factory` for every port node's
/// interface (`factory` gets the port name, `node:iface`), on `workers` workers. Nothing on
/// the system is touched; [`Network::resources`] is empty.
///
/// # Errors
/// An element that cannot be built, or a wiring error (validation bugs).
pub fn build_in_memory(
    topo: &Topology,
    workers: usize,
    factory: &mut PortFactory<'_>,
) -> Result<Network> {
    build(topo, workers, Some(factory), &|| false)
}

fn build<'f>(
    topo: &Topology,
    workers: usize,
    in_memory: Option<&mut PortFactory<'f>>,
    stop: &dyn Fn() -> bool,
) -> Result<Network> {
    let mut resources = Resources::default();
    let mut summary = Vec::new();
    let held: usize = topo
        .links
        .iter()
        .flat_map(|l| &l.elements)
        .map(|e| e.spec().max_held())
        .sum();
    let pool = PacketPool::new(POOL_BUFFERS * workers + held, max_frame(topo));
    let large_pool = topo
        .nodes
        .iter()
        .any(|n| kinds::of(&n.kind).needs_large_pool())
        .then(|| PacketPool::new(GSO_POOL_BUFFERS * workers, GSO_FRAME_MAX));
    let mut gb = PipelineBuilder::new(pool, workers);
    // (node, iface) → graph endpoint
    let mut ends: HashMap<(String, String), Endpoint> = HashMap::new();
    {
        let mut cx = BuildCx {
            topology: topo,
            gb: &mut gb,
            ends: &mut ends,
            resources: &mut resources,
            in_memory,
            large_pool,
            summary: &mut summary,
        };
        for node in &topo.nodes {
            if stop() {
                bail!("interrupted during start-up");
            }
            kinds::of(&node.kind).build(node, &mut cx)?;
        }
    }
    let resolve = |e: &CfgEndpoint| -> Result<Endpoint> {
        ends.get(&(e.node.clone(), e.iface.clone()))
            .copied()
            .ok_or_else(|| anyhow!("link endpoint {e} has no port (a validation bug)"))
    };
    for l in &topo.links {
        let (a, b) = (resolve(&l.a)?, resolve(&l.b)?);
        // Elements on the link go between its ends, gate 0 towards `a` (config::links).
        let mut from = a;
        for (i, e) in l.elements.iter().enumerate() {
            let name = match l.elements.len() {
                1 => format!("{}~{}", l.a, l.b),
                _ => format!("{}~{}#{i}", l.a, l.b),
            };
            let line = format!("link {} - {}: {name}: {}", l.a, l.b, e.spec().summary());
            tracing::info!("{line}");
            summary.push(line);
            let id = gb.add_element(name, e.spec().element(), None)?;
            gb.link(from, Endpoint::Gate(id, 0));
            from = Endpoint::Gate(id, 1);
        }
        gb.link(from, b);
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
        resources,
        summary,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use nfv_dataplane::Instant;
    use nfv_dataplane::testing::{
        QueuePort, arp_request, eth_ipv4, ip_dst, ip_src, ip_ttl, ipv4, udp,
    };

    use super::*;
    use nfv_dataplane::Port;

    /// `yaml` built in memory on one worker, with the queue port of every `node:iface`.
    fn build_yaml(yaml: &str) -> (Network, HashMap<String, QueuePort>) {
        let topo = nfv_config::load_str("t.yaml", yaml)
            .expect("valid topology")
            .topology;
        let mut ports = HashMap::new();
        let net = build_in_memory(&topo, 1, &mut |name: &str| -> Box<dyn Port> {
            let q = QueuePort::new(name);
            ports.insert(name.to_string(), q.clone());
            Box::new(q)
        })
        .expect("builds");
        (net, ports)
    }

    fn poll(net: &mut Network) {
        for _ in 0..4 {
            net.pipeline.graphs[0].poll(Instant::from_secs(1));
        }
    }

    const H1: [u8; 6] = [0x02, 0, 0, 0, 0, 1];
    const H2: [u8; 6] = [0x02, 0, 0, 0, 0, 2];

    #[test]
    fn start_up_lines_use_the_yaml_words() {
        let (net, _) = build_yaml(
            "name: t\nnodes:\n  a: { kind: host, address: 10.0.0.1/24 }\n  \
             b: { kind: host, address: 192.0.2.9/24 }\n  \
             fw: { kind: firewall, default: drop }\n  \
             nat1: { kind: nat, external: [192.0.2.1] }\n\
             chains:\n  - [a, fw, nat1, b]\n",
        );
        let log = net.summary.join("\n");
        assert!(log.contains("firewall fw: 0 rules, default drop"), "{log}");
        assert!(log.contains(", address-dependent filtering,"), "{log}");
        assert!(
            !log.contains("Drop") && !log.contains("AddressDependent"),
            "{log}"
        );
    }

    #[test]
    fn switch_topology_in_memory_floods_then_forwards() {
        let (mut net, ports) = build_yaml(
            "name: t\nnodes:\n  h1: { kind: host, address: 10.0.0.1/24 }\n  \
             h2: { kind: host, address: 10.0.0.2/24 }\n  sw: { kind: switch }\n\
             links:\n  - endpoints: [h1, sw:p1]\n  - endpoints: [h2, sw:p2]\n",
        );
        assert!(net.resources.is_empty(), "nothing on the system");
        assert_eq!(ports.len(), 2, "one port per host interface");
        ports["h1:eth0"].push_rx(&arp_request(H1, [10, 0, 0, 1], [10, 0, 0, 2]));
        poll(&mut net);
        let out = ports["h2:eth0"].take_tx();
        assert_eq!(out.len(), 1, "the broadcast reached h2 through the switch");
        let ip = ipv4(
            [10, 0, 0, 2],
            [10, 0, 0, 1],
            17,
            64,
            &udp([10, 0, 0, 2], [10, 0, 0, 1], 5, 6, b"x"),
        );
        ports["h2:eth0"].push_rx(&eth_ipv4(H1, H2, &ip));
        poll(&mut net);
        assert_eq!(ports["h1:eth0"].take_tx().len(), 1, "learned unicast");
        assert!(ports["h2:eth0"].take_tx().is_empty(), "not flooded back");
        let report = net.pipeline.graphs[0].report();
        assert_eq!(report.ports.len(), 2);
    }

    #[test]
    fn router_chain_in_memory_routes_with_named_gates_and_derived_macs() {
        let yaml = "name: t\nnodes:\n  h1: { kind: host, address: 10.0.0.2/24, gateway: 10.0.0.1 }\n  \
             web: { kind: host, address: 203.0.113.80/24 }\n  \
             r1:\n    kind: router\n    interfaces:\n      lan: { address: 10.0.0.1/24 }\n      \
             wan: { address: 192.0.2.1/24 }\n    routes:\n      - { to: 203.0.113.0/24, via: 192.0.2.2 }\n  \
             r2:\n    kind: router\n    interfaces:\n      a: { address: 192.0.2.2/24 }\n      \
             b: { address: 203.0.113.1/24 }\n  fw: { kind: firewall }\n\
             links:\n  - endpoints: [h1, r1:lan]\n  - endpoints: [r2:b, web]\nchains:\n  - [r1:wan, fw, r2:a]\n";
        let (mut net, ports) = build_yaml(yaml);
        let lan_mac = crate::kinds::derived_mac("t", "r1", "lan");
        let ip = ipv4(
            [10, 0, 0, 2],
            [203, 0, 113, 80],
            17,
            64,
            &udp([10, 0, 0, 2], [203, 0, 113, 80], 5, 6, b"x"),
        );
        ports["h1:eth0"].push_rx(&eth_ipv4(lan_mac, H1, &ip));
        poll(&mut net);
        // r1 has no ARP entry for r2 yet: it asks on wan, through the firewall to r2, which
        // answers; r1 then forwards, r2 asks web's MAC on b.
        let out = ports["web:eth0"].take_tx();
        assert_eq!(out.len(), 1, "r2 asks for web's MAC on its b interface");
        let report = net.pipeline.graphs[0].report();
        let names: Vec<&str> = report.elements.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["r1", "r2", "fw"]);
        let held: u64 = report.elements.iter().map(|f| f.held).sum();
        assert_eq!(held, 1, "the datagram waits at r2 for web's ARP reply");
        // web answers r2's ARP request: the held datagram is delivered.
        let r2_b = crate::kinds::derived_mac("t", "r2", "b");
        let web = [0x02, 0, 0, 0, 0, 0x80];
        ports["web:eth0"].push_rx(&nfv_dataplane::testing::arp_reply(
            web,
            [203, 0, 113, 80],
            r2_b,
            [203, 0, 113, 1],
        ));
        poll(&mut net);
        let out = ports["web:eth0"].take_tx();
        assert_eq!(out.len(), 1);
        assert_eq!(ip_src(&out[0]), [10, 0, 0, 2]);
        assert_eq!(ip_dst(&out[0]), [203, 0, 113, 80]);
        assert_eq!(ip_ttl(&out[0]), 62, "two routers on the way");
    }

    #[test]
    fn pool_is_sized_for_the_largest_mtu() {
        let topo = nfv_config::load_str(
            "t.yaml",
            "name: t\nnodes:\n  h1: { kind: host, mtu: 9000 }\n  h2: { kind: tap, mtu: 1400 }\n",
        )
        .expect("valid")
        .topology;
        assert_eq!(max_frame(&topo), 9000 + FRAME_OVERHEAD);
    }
}
