//! `kind: switch`: an 802.1Q learning switch ([`nfv_functions::L2Switch`]); every port is a
//! link endpoint `switch:<port>`.

use anyhow::Result;
use nfv_config::{DEFAULT_VLAN, Node, NodeKind, SwitchSpec};
use nfv_functions::{L2Switch, SwitchConfig, SwitchPortConfig, VlanMode};

use super::{Built, Kind, TableInfo};

/// The `switch` kind.
#[derive(Debug)]
pub struct Switch;

fn spec(node: &Node) -> &SwitchSpec {
    match &node.kind {
        NodeKind::Switch(s) => s,
        _ => unreachable!("the switch kind builds switch nodes only"),
    }
}

/// VLAN ids joined with `,` (labels).
fn vlan_list(v: &[u16]) -> String {
    v.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

impl Kind for Switch {
    fn name(&self) -> &'static str {
        "switch"
    }

    fn graph_shape(&self) -> &'static str {
        "shape=rect, style=filled, fillcolor=lightgrey"
    }

    fn describe(&self, node: &Node) -> Vec<String> {
        let s = spec(node);
        let n = s.ports.len();
        let mut lines = vec![format!("{n} port{}", if n == 1 { "" } else { "s" })];
        let mut vlans: Vec<u16> = Vec::new();
        for p in &s.ports {
            match &p.mode {
                nfv_config::VlanMode::Access { vlan } => vlans.push(*vlan),
                nfv_config::VlanMode::Trunk { vlans: v, native } => {
                    vlans.extend(v);
                    vlans.extend(native);
                }
            }
        }
        vlans.sort_unstable();
        vlans.dedup();
        if vlans != [DEFAULT_VLAN] && !vlans.is_empty() {
            lines.push(format!("VLANs {}", vlan_list(&vlans)));
        }
        lines
    }

    fn end_label(&self, node: &Node, iface: &str) -> Vec<String> {
        match spec(node).port(iface).map(|p| &p.mode) {
            Some(nfv_config::VlanMode::Access { vlan }) if *vlan != DEFAULT_VLAN => {
                vec![format!("access {vlan}")]
            }
            Some(nfv_config::VlanMode::Trunk { vlans, native }) => {
                let mut l = format!("trunk {}", vlan_list(vlans));
                if let Some(n) = native {
                    l.push_str(&format!(" native {n}"));
                }
                vec![l]
            }
            _ => Vec::new(),
        }
    }

    fn tables(&self) -> &'static [TableInfo] {
        &[TableInfo {
            name: "fdb",
            help: "Switch MAC tables.",
        }]
    }

    fn element(&self, _topology: &str, node: &Node) -> Result<Option<Built>> {
        let s = spec(node);
        let cfg = switch_config(s);
        Ok(Some(Built {
            element: Box::new(L2Switch::new(&cfg)),
            gates: s.ports.iter().map(|p| p.name.clone()).collect(),
            log: format!(
                "switch {}: {} ports, mac-table-size {}, ageing {}s",
                node.name,
                s.ports.len(),
                s.mac_table_size,
                s.ageing.as_secs_f64()
            ),
        }))
    }
}

/// The switch function's own configuration from the validated spec.
fn switch_config(s: &SwitchSpec) -> SwitchConfig {
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
