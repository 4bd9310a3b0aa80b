//! `kind: nat`: an RFC 4787/5382/5508 NAPT ([`nfv_functions::Nat44`]) with the interfaces
//! `inside` and `outside`.

use anyhow::{Result, anyhow};
use nfv_config::{L4Proto, NAT_SIDES, NatFiltering, NatSpec, Node, NodeKind};
use nfv_functions::{Filtering, NatConfig, NatProto, NatTimeouts, PortForward};

use super::{Built, Kind, TableInfo, derived_mac, join};
use crate::host::mac_str;

/// The `nat` kind.
#[derive(Debug)]
pub struct Nat;

fn spec(node: &Node) -> &NatSpec {
    match &node.kind {
        NodeKind::Nat(n) => n,
        _ => unreachable!("the nat kind builds nat nodes only"),
    }
}

impl Kind for Nat {
    fn name(&self) -> &'static str {
        "nat"
    }

    fn graph_shape(&self) -> &'static str {
        "shape=hexagon"
    }

    fn describe(&self, node: &Node) -> Vec<String> {
        spec(node)
            .external
            .iter()
            .map(|e| format!("external {e}"))
            .collect()
    }

    fn tables(&self) -> &'static [TableInfo] {
        &[TableInfo {
            name: "nat",
            help: "NAT sessions.",
        }]
    }

    fn element(&self, topology: &str, node: &Node) -> Result<Option<Built>> {
        let n = spec(node);
        let cfg = nat_config(topology, &node.name, n);
        let nat = nfv_functions::Nat44::new(&cfg).map_err(|e| anyhow!("nat {}: {e}", node.name))?;
        let log = format!(
            "nat {}: external {} (inside mac {}, outside mac {}), {} filtering, {} forwards, {} one-to-one",
            node.name,
            join(&cfg.external),
            mac_str(cfg.inside_mac),
            mac_str(cfg.outside_mac),
            // The YAML word (`address-dependent`), not the function's Debug name.
            n.filtering.as_str(),
            cfg.forwards.len(),
            cfg.one_to_one.len()
        );
        Ok(Some(Built {
            element: Box::new(nat),
            gates: NAT_SIDES.map(String::from).to_vec(),
            log,
        }))
    }
}

/// The NAT function's own configuration from the validated spec. A forward without an
/// `external` address applies to every external address (the file format's meaning).
fn nat_config(topology: &str, node: &str, n: &NatSpec) -> NatConfig {
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
    NatConfig {
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
        mtu: n.mtu,
    }
}
