//! `nfv-functions`: network functions as pure packet logic.
//!
//! Each function is an [`nfv_dataplane::Element`]: it gets batches and a
//! [`nfv_dataplane::Context`] (time, packet allocation) and never makes a syscall or reads
//! the clock, so every behaviour is testable with frames in, frames and counters out, and
//! time advanced by value. Functions take their own plain configuration types (not YAML
//! types): the `nfv` binary maps the validated topology onto them.
//!
//! | kind | type |
//! |---|---|
//! | `switch` | [`l2_switch::L2Switch`] |
//! | `router` | [`router::Ipv4Router`] |
//! | `nat` | [`nat::Nat44`] |
//! | `firewall` | [`firewall::Firewall`] |

/// True when `pkt` is a non-GSO frame longer than `mtu` plus its Ethernet header (14 bytes;
/// 18 with an 802.1Q/802.1ad tag): it cannot have arrived whole on a link of that MTU, as a
/// NIC drops what its MTU cannot carry. Router, NAT and firewall drop it `too_big` on
/// ingress rather than forward (or fragment: a 64 KB frame would become 44) it. A GSO
/// super-frame is exempt: the kernel made it, and it leaves as MTU-sized segments. One
/// comparison for a frame that fits.
#[inline]
pub(crate) fn over_ingress_mtu(pkt: &nfv_dataplane::PacketBuf, mtu: u16) -> bool {
    let f = pkt.data();
    let limit = usize::from(mtu) + 14;
    if f.len() <= limit {
        return false;
    }
    let tagged = matches!(f.get(12..14), Some([0x81, 0x00] | [0x88, 0xa8]));
    f.len() > limit + if tagged { 4 } else { 0 } && !pkt.is_gso()
}

pub mod dhcp;
pub mod firewall;
pub mod impair;
pub mod l2_switch;
pub mod nat;
pub mod rate_limit;
pub mod router;
mod show;

pub use dhcp::{DhcpConfig, DhcpConfigError, DhcpDrop, DhcpServer, Lease, LeaseState, StaticLease};
pub use firewall::FwDrop;
pub use firewall::{
    Action, ConnState, Direction, Firewall, FirewallConfig, FlowState, FlowView, FwTimeouts, Rule,
};
pub use impair::{GilbertElliott, Impair, ImpairConfig, ImpairDrop, ImpairSpec, LossModel, Ppm};
pub use l2_switch::SwitchDrop;
pub use l2_switch::{L2Switch, SwitchConfig, SwitchPortConfig, VlanMode};
pub use nat::NatDrop;
pub use nat::{
    Filtering, Nat44, NatConfig, NatError, NatProto, NatTimeouts, PortForward, SessionState,
    SessionView,
};
pub use router::RouterDrop;
pub use router::{Ipv4Router, RouterConfig, RouterInterfaceConfig, StaticRoute};

use nfv_dataplane::{DropReason, ReasonInfo};

/// Every drop-reason list: the data plane core's ([`DropReason`]) and each function's own,
/// with the kind it belongs to (`core` for the shared list). The README's drop-reason table
/// is generated from these (see the `drop_reason_docs` test).
pub const DROP_REASONS: &[(&str, &[ReasonInfo])] = &[
    ("core", DropReason::TABLE),
    ("switch", SwitchDrop::TABLE),
    ("router", RouterDrop::TABLE),
    ("nat", NatDrop::TABLE),
    ("firewall", FwDrop::TABLE),
    ("impair", ImpairDrop::TABLE),
    ("dhcp", DhcpDrop::TABLE),
];

/// The README's drop-reason table, generated from [`DROP_REASONS`].
pub fn drop_reason_table() -> String {
    let mut s = String::from("| Drop reason | Counted by | Meaning |\n|---|---|---|\n");
    for (kind, table) in DROP_REASONS {
        for r in *table {
            let by = if *kind == "core" { "any" } else { kind };
            s.push_str(&format!("| `{}` | {by} | {} |\n", r.name, r.description()));
        }
    }
    s
}

#[cfg(test)]
mod drop_reason_docs {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The names every release so far has exported as `reason="..."` labels: a metrics API.
    const STABLE_NAMES: [&str; 53] = [
        "malformed",
        "invalid_source_mac",
        "link_local_multicast",
        "vlan_not_allowed",
        "same_port",
        "no_output",
        "no_headroom",
        "tx_full",
        "tx_error",
        "ring_full",
        "rx_truncated",
        "too_big",
        "bad_gate",
        "not_for_us",
        "unsupported_ethertype",
        "arp_invalid",
        "ip_too_short",
        "ip_bad_version",
        "ip_bad_header_length",
        "ip_bad_total_length",
        "ip_bad_checksum",
        "ttl_exceeded",
        "no_route",
        "host_unreachable",
        "arp_queue_full",
        "fragmentation_needed",
        "martian_source",
        "martian_destination",
        "link_local_address",
        "l2_broadcast_not_forwarded",
        "broadcast_not_forwarded",
        "multicast_not_forwarded",
        "no_buffer",
        "fw_rule_drop",
        "fw_rejected",
        "fw_invalid",
        "fw_table_full",
        "fw_fragment",
        "nat_not_external",
        "nat_no_mapping",
        "nat_filtered",
        "nat_ports_exhausted",
        "nat_host_quota",
        "nat_table_full",
        "nat_no_inside_neighbour",
        "nat_unsupported_protocol",
        "nat_icmp_bad_checksum",
        "nat_icmp_no_session",
        "nat_unsolicited_syn",
        "nat_syn_superseded",
        "nat_fragment_timeout",
        "nat_fragment_limit",
        "offload_invalid",
    ];

    fn declared() -> Vec<&'static str> {
        DROP_REASONS
            .iter()
            .flat_map(|(_, t)| t.iter().map(|r| r.name))
            .collect()
    }

    #[test]
    fn every_stable_drop_reason_name_is_still_declared_by_some_list() {
        let declared = declared();
        for name in STABLE_NAMES {
            assert!(declared.contains(&name), "drop reason {name} disappeared");
        }
    }

    #[test]
    fn drop_reason_names_are_unique_across_all_lists() {
        let mut names = declared();
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n, "a name is declared twice");
    }

    #[test]
    fn every_function_names_its_own_drop_reasons() {
        use nfv_dataplane::Element;
        let sw = L2Switch::new(&SwitchConfig {
            ports: Vec::new(),
            mac_table_size: 1,
            ageing: std::time::Duration::from_secs(1),
        });
        let fw = Firewall::new(&FirewallConfig::default());
        let nat = Nat44::new(&NatConfig {
            external: vec![std::net::Ipv4Addr::new(203, 0, 113, 1)],
            ..NatConfig::default()
        })
        .unwrap();
        let r = Ipv4Router::new(&RouterConfig {
            interfaces: vec![RouterInterfaceConfig {
                name: "a".into(),
                mac: [2, 0, 0, 0, 0, 1],
                addr: std::net::Ipv4Addr::new(10, 0, 0, 1),
                prefix_len: 24,
                mtu: 1500,
            }],
            routes: Vec::new(),
            icmp_rate_limit: 0,
            icmp_burst: 0,
            arp_timeout: std::time::Duration::from_secs(1),
            redirects: false,
        })
        .unwrap();
        assert_eq!(sw.drop_reasons(), SwitchDrop::TABLE);
        assert_eq!(fw.drop_reasons(), FwDrop::TABLE);
        assert_eq!(nat.drop_reasons(), NatDrop::TABLE);
        assert_eq!(r.drop_reasons(), RouterDrop::TABLE);
        let imp = Impair::new(&ImpairConfig::default());
        assert_eq!(imp.drop_reasons(), ImpairDrop::TABLE);
        // Every function reports exactly the counters it declares, in order, so metrics
        // and docs take counter/gauge and help from the declaration.
        let elems: [&dyn Element; 5] = [&sw, &fw, &nat, &r, &imp];
        for e in elems {
            let mut reported = Vec::new();
            e.counters(&mut |name, _| reported.push(name));
            let declared: Vec<&str> = e.counter_info().iter().map(|c| c.name).collect();
            assert_eq!(
                reported,
                declared,
                "{}: counters() == counter_info()",
                e.kind()
            );
            assert!(
                e.counter_info().iter().all(|c| !c.help.is_empty()),
                "{}: every counter has help",
                e.kind()
            );
        }
    }

    /// The README section between the markers is [`drop_reason_table`]; `NFV_BLESS=1`
    /// rewrites it.
    #[test]
    fn readme_drop_reason_table_is_generated_from_the_declarations() {
        const BEGIN: &str = "<!-- drop-reasons: generated from the drop_reasons! lists; `NFV_BLESS=1 cargo test -p nfv-functions readme_drop_reason` rewrites it -->\n";
        const END: &str = "<!-- /drop-reasons -->";
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
        let readme = std::fs::read_to_string(path).unwrap();
        let start = readme
            .find(BEGIN)
            .expect("README has the drop-reasons begin marker")
            + BEGIN.len();
        let end = start
            + readme[start..]
                .find(END)
                .expect("README has the end marker");
        let want = drop_reason_table();
        if readme[start..end] != want {
            if std::env::var_os("NFV_BLESS").is_some() {
                let new = format!("{}{want}{}", &readme[..start], &readme[end..]);
                std::fs::write(path, new).unwrap();
            } else {
                panic!("README drop-reason table is out of date; run with NFV_BLESS=1\n{want}");
            }
        }
    }
}
