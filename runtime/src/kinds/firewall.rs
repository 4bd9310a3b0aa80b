//! `kind: firewall`: a stateful filter ([`nfv_functions::Firewall`]) with the interfaces
//! `in` (facing the inside) and `out`.

use anyhow::Result;
use nfv_config::{FIREWALL_SIDES, FirewallSpec, FwAction, FwDirection, FwState, Node, NodeKind};
use nfv_functions::{Action, ConnState, Direction, FirewallConfig, FwTimeouts, Rule};

use super::{Built, Kind, TableInfo};

/// The `firewall` kind.
#[derive(Debug)]
pub struct Firewall;

fn spec(node: &Node) -> &FirewallSpec {
    match &node.kind {
        NodeKind::Firewall(f) => f,
        _ => unreachable!("the firewall kind builds firewall nodes only"),
    }
}

impl Kind for Firewall {
    fn name(&self) -> &'static str {
        "firewall"
    }

    fn graph_shape(&self) -> &'static str {
        "shape=note"
    }

    fn describe(&self, node: &Node) -> Vec<String> {
        let f = spec(node);
        let n = f.rules.len();
        vec![format!(
            "{n} rule{}, default {}",
            if n == 1 { "" } else { "s" },
            f.default.as_str()
        )]
    }

    fn tables(&self) -> &'static [TableInfo] {
        &[
            TableInfo {
                name: "flows",
                help: "Firewall connections.",
            },
            TableInfo {
                name: "rules",
                help: "Firewall rules with hit counts.",
            },
        ]
    }

    fn element(&self, _topology: &str, node: &Node) -> Result<Option<Built>> {
        let f = spec(node);
        let cfg = firewall_config(f);
        Ok(Some(Built {
            element: Box::new(nfv_functions::Firewall::new(&cfg)),
            gates: FIREWALL_SIDES.map(String::from).to_vec(),
            // The YAML words (`default drop`), not the function's Debug names.
            log: format!(
                "firewall {}: {} rules, default {}",
                node.name,
                cfg.rules.len(),
                f.default.as_str()
            ),
        }))
    }
}

/// The firewall function's own configuration from the validated spec.
fn firewall_config(f: &FirewallSpec) -> FirewallConfig {
    let action = |a: FwAction| match a {
        FwAction::Allow => Action::Allow,
        FwAction::Drop => Action::Drop,
        FwAction::Reject => Action::Reject,
    };
    FirewallConfig {
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
        max_flows_per_host: f.max_flows_per_host,
        icmp_rate_limit: f.icmp_rate_limit,
        icmp_burst: f.icmp_burst,
        allow_non_ip: false,
        mtu: f.mtu,
    }
}
