//! `kind: router`: an RFC 1812 IPv4 router ([`nfv_functions::Ipv4Router`]); every interface
//! is a link endpoint `router:<interface>`.

use anyhow::{Result, anyhow};
use nfv_config::{Node, NodeKind, RouterSpec};
use nfv_functions::{Ipv4Router, RouterConfig, RouterInterfaceConfig, StaticRoute};

use super::{Built, Kind, TableInfo, derived_mac};
use crate::host::mac_str;

/// The `router` kind.
#[derive(Debug)]
pub struct Router;

fn spec(node: &Node) -> &RouterSpec {
    match &node.kind {
        NodeKind::Router(r) => r,
        _ => unreachable!("the router kind builds router nodes only"),
    }
}

impl Kind for Router {
    fn name(&self) -> &'static str {
        "router"
    }

    fn graph_shape(&self) -> &'static str {
        "shape=octagon"
    }

    fn describe(&self, node: &Node) -> Vec<String> {
        spec(node)
            .interfaces
            .iter()
            .map(|i| format!("{} {}", i.name, i.address))
            .collect()
    }

    fn tables(&self) -> &'static [TableInfo] {
        &[
            TableInfo {
                name: "arp",
                help: "Router ARP caches.",
            },
            TableInfo {
                name: "routes",
                help: "Router routes (connected, local, static).",
            },
        ]
    }

    fn max_mtu(&self, node: &Node) -> u16 {
        spec(node)
            .interfaces
            .iter()
            .map(|i| i.mtu)
            .max()
            .unwrap_or(0)
    }

    fn element(&self, topology: &str, node: &Node) -> Result<Option<Built>> {
        let cfg = router_config(topology, &node.name, spec(node));
        let t = std::time::Instant::now();
        let router = Ipv4Router::new(&cfg).map_err(|e| anyhow!("router {}: {e}", node.name))?;
        let fib_time = t.elapsed();
        let ifs: Vec<String> = cfg
            .interfaces
            .iter()
            .map(|i| {
                format!(
                    "{} {}/{} mac {} mtu {}",
                    i.name,
                    i.addr,
                    i.prefix_len,
                    mac_str(i.mac),
                    i.mtu
                )
            })
            .collect();
        Ok(Some(Built {
            element: Box::new(router),
            gates: cfg.interfaces.iter().map(|i| i.name.clone()).collect(),
            log: format!(
                "router {}: {}; {} static routes (FIB built in {:.0?})",
                node.name,
                ifs.join(", "),
                cfg.routes.len(),
                fib_time
            ),
        }))
    }
}

/// The router function's own configuration from the validated spec.
fn router_config(topology: &str, node: &str, r: &RouterSpec) -> RouterConfig {
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
