//! `kind: nat`, `kind: firewall` and `chains:`: values, defaults, chain expansion, warnings.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use nfv_config::{
    ConfigError, Endpoint, FirewallSpec, ForwardSpec, FwAction, FwDirection, FwRuleSpec, FwState,
    FwTimeoutsSpec, Ipv4Cidr, L4Proto, Link, Loaded, MacAddr, NatFiltering, NatSpec,
    NatTimeoutsSpec, NodeKind, Topology, load_str,
};

const EDGE: &str = include_str!("fixtures/ok/nat_firewall.yaml");

fn load(text: &str) -> Loaded {
    load_str("t.yaml", text).unwrap_or_else(|e| panic!("should load:\n{e}"))
}

fn fail(text: &str) -> ConfigError {
    match load_str("t.yaml", text) {
        Ok(l) => panic!("should fail, loaded {:?}", l.topology),
        Err(e) => e,
    }
}

fn nat<'a>(t: &'a Topology, name: &str) -> &'a NatSpec {
    match &t.node(name).expect("node exists").kind {
        NodeKind::Nat(n) => n,
        other => panic!("{name} is a {}", other.kind_name()),
    }
}

fn firewall<'a>(t: &'a Topology, name: &str) -> &'a FirewallSpec {
    match &t.node(name).expect("node exists").kind {
        NodeKind::Firewall(f) => f,
        other => panic!("{name} is a {}", other.kind_name()),
    }
}

fn ip(s: &str) -> Ipv4Addr {
    s.parse().expect("valid address")
}

fn cidr(s: &str) -> Ipv4Cidr {
    s.parse().expect("valid CIDR")
}

fn link(a: (&str, &str), b: (&str, &str)) -> Link {
    let ep = |(node, iface): (&str, &str)| Endpoint {
        node: node.into(),
        iface: iface.into(),
    };
    Link {
        a: ep(a),
        b: ep(b),
        elements: Vec::new(),
    }
}

/// A rule that matches everything, with `action`.
fn rule(action: FwAction) -> FwRuleSpec {
    FwRuleSpec {
        action,
        direction: None,
        src: None,
        dst: None,
        proto: None,
        src_ports: None,
        dst_ports: None,
        icmp_type: None,
        states: None,
    }
}

/// Two hosts either side of the node `f` (a nat or firewall) defined by `spec`.
fn around(spec: &str) -> String {
    format!(
        "name: t\nnodes:\n  h1: {{ kind: host, address: 10.0.0.10/24 }}\n  \
         h2: {{ kind: host, address: 203.0.113.80/24 }}\n  f: {spec}\nchains:\n  - [h1, f, h2]\n"
    )
}

#[test]
fn edge_example_loads_with_every_value() {
    let loaded = load(EDGE);
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let t = &loaded.topology;

    let n = nat(t, "nat1");
    assert_eq!(
        *n,
        NatSpec {
            external: vec![ip("203.0.113.2")],
            port_range: (1024, 65535),
            filtering: NatFiltering::AddressDependent,
            max_sessions: 65536,
            max_sessions_per_host: 4096,
            timeouts: NatTimeoutsSpec {
                udp: Duration::from_secs(300),
                tcp_established: Duration::from_secs(7440),
                tcp_transitory: Duration::from_secs(240),
                icmp: Duration::from_secs(60),
            },
            forwards: vec![ForwardSpec {
                proto: L4Proto::Tcp,
                external: None,
                port: 8080,
                to: SocketAddrV4::new(ip("10.0.0.10"), 80),
            }],
            one_to_one: vec![(ip("10.0.0.20"), ip("203.0.113.3"))],
            icmp_rate_limit: 100,
            icmp_burst: 50,
            mac_inside: None,
            mac_outside: None,
            mtu: 1500,
        }
    );

    let f = firewall(t, "fw1");
    assert_eq!(f.default, FwAction::Drop);
    assert_eq!(f.max_flows, 262_144);
    assert_eq!(f.timeouts, FwTimeoutsSpec::default());
    assert_eq!((f.icmp_rate_limit, f.icmp_burst), (100, 50));
    let rules = vec![
        FwRuleSpec {
            direction: Some(FwDirection::Out),
            ..rule(FwAction::Allow)
        },
        FwRuleSpec {
            states: Some(vec![FwState::Established]),
            ..rule(FwAction::Allow)
        },
        FwRuleSpec {
            proto: Some(6),
            dst_ports: Some((80, 80)),
            direction: Some(FwDirection::In),
            ..rule(FwAction::Allow)
        },
        FwRuleSpec {
            proto: Some(17),
            dst_ports: Some((1000, 2000)),
            src: Some(cidr("10.0.0.0/8")),
            ..rule(FwAction::Reject)
        },
        FwRuleSpec {
            proto: Some(1),
            icmp_type: Some(8),
            states: Some(vec![FwState::New, FwState::Related]),
            ..rule(FwAction::Allow)
        },
    ];
    assert_eq!(f.rules, rules);

    // Explicit links first, then the chain's, inside to outside.
    assert_eq!(
        t.links,
        vec![
            link(("pc1", "eth0"), ("lan", "p1")),
            link(("pc2", "eth0"), ("lan", "p2")),
            link(("lan", "p3"), ("r1", "lan")),
            link(("r1", "wan"), ("fw1", "in")),
            link(("fw1", "out"), ("nat1", "inside")),
            link(("nat1", "outside"), ("web", "eth0")),
        ]
    );
    assert_eq!(t.links_of("nat1").count(), 2);
    let kind = &t.node("fw1").expect("fw1").kind;
    assert_eq!(kind.kind_name(), "firewall");
    assert_eq!(kind.sides(), Some(["in", "out"]));
    assert_eq!(
        t.node("nat1").expect("nat1").kind.sides(),
        Some(["inside", "outside"])
    );
    assert_eq!(t.node("r1").expect("r1").kind.sides(), None);
}

#[test]
fn omitted_fields_get_the_documented_defaults() {
    let t = load(&around("{ kind: nat, external: [203.0.113.2] }")).topology;
    assert_eq!(
        *nat(&t, "f"),
        NatSpec {
            external: vec![ip("203.0.113.2")],
            ..NatSpec::default()
        }
    );
    let n = nat(&t, "f");
    assert_eq!(n.port_range, (1024, 65535));
    assert_eq!(n.filtering, NatFiltering::AddressDependent);
    assert_eq!(n.timeouts.udp, Duration::from_secs(300));
    assert_eq!(n.timeouts.tcp_established, Duration::from_secs(7440));
    assert_eq!(n.timeouts.tcp_transitory, Duration::from_secs(240));
    assert_eq!(n.timeouts.icmp, Duration::from_secs(60));

    // A firewall with no rules and no `default` passes everything.
    let t = load(&around("{ kind: firewall }")).topology;
    let f = firewall(&t, "f");
    assert_eq!(*f, FirewallSpec::default());
    assert_eq!(f.default, FwAction::Allow);
    assert!(f.rules.is_empty());
    assert_eq!(f.max_flows, 262_144);
}

#[test]
fn values_other_than_the_defaults_are_read() {
    let t = load(&around(
        "{ kind: nat, external: [203.0.113.2, 203.0.113.4], port-range: 40000, \
         filtering: endpoint-independent, max-sessions: 10, max-sessions-per-host: 2, \
         timeouts: { udp: 5m, tcp-established: 3h }, icmp-rate-limit: 0, icmp-burst: 1, \
         mac-inside: 02:00:00:00:00:0A, mac-outside: 02:00:00:00:00:0b, \
         forwards: [ { proto: udp, external: 203.0.113.4, port: 53, to: 10.0.0.53:5353 } ] }",
    ))
    .topology;
    let n = nat(&t, "f");
    assert_eq!(n.external, vec![ip("203.0.113.2"), ip("203.0.113.4")]);
    assert_eq!(n.port_range, (40000, 40000));
    assert_eq!(n.filtering, NatFiltering::EndpointIndependent);
    assert_eq!((n.max_sessions, n.max_sessions_per_host), (10, 2));
    assert_eq!(n.timeouts.udp, Duration::from_secs(300));
    assert_eq!(n.timeouts.tcp_established, Duration::from_secs(10800));
    assert_eq!((n.icmp_rate_limit, n.icmp_burst), (0, 1));
    assert_eq!(n.mac_inside, Some(MacAddr([2, 0, 0, 0, 0, 0x0a])));
    assert_eq!(n.mac_outside, Some(MacAddr([2, 0, 0, 0, 0, 0x0b])));
    assert_eq!(
        n.forwards,
        vec![ForwardSpec {
            proto: L4Proto::Udp,
            external: Some(ip("203.0.113.4")),
            port: 53,
            to: SocketAddrV4::new(ip("10.0.0.53"), 5353),
        }]
    );

    let t = load(&around(
        "{ kind: firewall, default: reject, max-flows: 7, timeouts: { udp: 30s }, \
         rules: [ { action: drop, proto: 47, dst: 192.0.2.0/24, state: related }, \
                  { action: allow, proto: udp, src-port: 53, dst-port: 1-65535 } ] }",
    ))
    .topology;
    let f = firewall(&t, "f");
    assert_eq!(f.default, FwAction::Reject);
    assert_eq!(f.max_flows, 7);
    assert_eq!(f.timeouts.udp, Duration::from_secs(30));
    assert_eq!(f.timeouts.tcp_established, Duration::from_secs(7440));
    assert_eq!(
        f.rules,
        vec![
            FwRuleSpec {
                proto: Some(47),
                dst: Some(cidr("192.0.2.0/24")),
                states: Some(vec![FwState::Related]),
                ..rule(FwAction::Drop)
            },
            FwRuleSpec {
                proto: Some(17),
                src_ports: Some((53, 53)),
                dst_ports: Some((1, 65535)),
                ..rule(FwAction::Allow)
            },
        ]
    );
}

#[test]
fn nat_udp_timeout_below_the_rfc_floor_is_a_warning() {
    let loaded = load(&around(
        "{ kind: nat, external: [203.0.113.2], timeouts: { udp: 60s } }",
    ));
    assert_eq!(
        nat(&loaded.topology, "f").timeouts.udp,
        Duration::from_secs(60)
    );
    let [w] = loaded.warnings.as_slice() else {
        panic!("one warning expected: {:?}", loaded.warnings);
    };
    assert_eq!(w.path, "nodes.f.timeouts.udp");
    assert_eq!(w.value.as_deref(), Some("60s"));
    assert!(w.message.contains("RFC 4787 REQ-5"), "{w}");
    assert!(w.message.contains("120s"), "{w}");
    // At the floor: no warning. A firewall has no floors.
    for spec in [
        "{ kind: nat, external: [203.0.113.2], timeouts: { udp: 120s } }",
        "{ kind: firewall, timeouts: { udp: 10s, tcp-established: 60s } }",
    ] {
        assert!(load(&around(spec)).warnings.is_empty(), "{spec}");
    }
}

#[test]
fn every_nat_timeout_floor_names_its_requirement() {
    let loaded = load(&around(
        "{ kind: nat, external: [203.0.113.2], \
         timeouts: { udp: 119s, tcp-established: 2h, tcp-transitory: 239s, icmp: 59s } }",
    ));
    let got: Vec<(&str, bool)> = loaded
        .warnings
        .iter()
        .map(|w| (w.path.as_str(), w.message.contains("REQ-")))
        .collect();
    assert_eq!(
        got,
        [
            ("nodes.f.timeouts.udp", true),
            ("nodes.f.timeouts.tcp-established", true),
            ("nodes.f.timeouts.tcp-transitory", true),
            ("nodes.f.timeouts.icmp", true),
        ]
    );
    assert!(loaded.warnings[1].message.contains("RFC 5382 REQ-5"));
    assert!(loaded.warnings[3].message.contains("RFC 5508 REQ-2"));
}

#[test]
fn chains_may_start_and_end_on_functions_in_any_order() {
    let text = "name: t\nnodes:\n  h1: { kind: host }\n  h2: { kind: host }\n  \
                fw1: { kind: firewall }\n  fw2: { kind: firewall }\n  \
                nat1: { kind: nat, external: [192.0.2.1] }\nlinks:\n  - endpoints: [h1, fw1:in]\n\
                chains:\n  - [fw1:out, nat1, fw2, h2]\n";
    let t = load(text).topology;
    assert_eq!(
        t.links,
        vec![
            link(("h1", "eth0"), ("fw1", "in")),
            link(("fw1", "out"), ("nat1", "inside")),
            link(("nat1", "outside"), ("fw2", "in")),
            link(("fw2", "out"), ("h2", "eth0")),
        ]
    );
}

#[test]
fn chain_middle_elements_are_bare_function_names() {
    let e = fail(&around("{ kind: firewall }").replace("[h1, f, h2]", "[h1, f:in, h2]"));
    assert_eq!(e.problems.len(), 1, "{e}");
    assert_eq!(e.problems[0].path, "chains[0][1]");
    assert!(e.problems[0].message.contains("bare node name"), "{e}");
}

#[test]
fn a_function_used_twice_in_one_chain_reuses_an_interface() {
    let text = around("{ kind: firewall }").replace("[h1, f, h2]", "[h1, f, f, f, h2]");
    let e = fail(&text);
    let paths: Vec<&str> = e.problems.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(paths, ["chains[0][2]", "chains[0][3]"], "{e}");
    assert!(
        e.to_string().contains("f:in is already used by chains[0]"),
        "{e}"
    );
}

#[test]
fn unknown_kinds_in_a_chain_are_not_reported_again() {
    let e = fail(&around("{ kind: loadbalancer }"));
    assert_eq!(e.problems.len(), 1, "{e}");
    assert_eq!(e.problems[0].path, "nodes.f.kind");
}

#[test]
fn nat_addresses_are_unique_across_nodes() {
    let text = "name: t\nnodes:\n  \
                n1: { kind: nat, external: [192.0.2.1], one-to-one: [ { inside: 10.0.0.1, outside: 192.0.2.9 } ] }\n  \
                n2: { kind: nat, external: [192.0.2.9, 192.0.2.1, 192.0.2.1] }\n  \
                r1: { kind: router, interfaces: { a: { address: 192.0.2.1/24 } } }\n";
    let e = fail(text);
    let got: Vec<(&str, &str)> = e
        .problems
        .iter()
        .map(|p| (p.path.as_str(), p.message.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "nodes.n2.external[0]",
                r#"address 192.0.2.9 is already used by node "n1" (line 3)"#
            ),
            (
                "nodes.n2.external[1]",
                r#"address 192.0.2.1 is already used by node "n1" (line 3)"#
            ),
            (
                "nodes.n2.external[2]",
                r#"address 192.0.2.1 is already used by node "n1" (line 3)"#
            ),
            (
                "nodes.r1.interfaces.a.address",
                r#"address 192.0.2.1 is already used by node "n1" (line 3)"#
            ),
        ]
    );
}

#[test]
fn nat_macs_are_unique_with_the_others() {
    let text = around("{ kind: nat, external: [192.0.2.1], mac-inside: 02:00:00:00:00:01 }")
        .replace(
            "h1: { kind: host, address: 10.0.0.10/24 }",
            "h1: { kind: host, address: 10.0.0.10/24, mac: 02:00:00:00:00:01 }",
        );
    let e = fail(&text);
    assert_eq!(e.problems.len(), 1, "{e}");
    assert_eq!(e.problems[0].path, "nodes.f.mac-inside");
}

#[test]
fn empty_lists_and_out_of_range_numbers_are_errors() {
    let e = fail(&around(
        "{ kind: nat, external: [], max-sessions: 0, max-sessions-per-host: -1, \
         timeouts: { icmp: 0s } }",
    ));
    let paths: Vec<&str> = e.problems.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "nodes.f.external",
            "nodes.f.max-sessions",
            "nodes.f.max-sessions-per-host",
            "nodes.f.timeouts.icmp"
        ],
        "{e}"
    );
    let e = fail(&around(
        "{ kind: firewall, max-flows: 0, rules: [ { action: drop, state: [] } ] }",
    ));
    let paths: Vec<&str> = e.problems.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        ["nodes.f.max-flows", "nodes.f.rules[0].state"],
        "{e}"
    );
}

#[test]
fn rule_needs_an_action_and_timeouts_reject_unknown_fields() {
    let e = fail(&around("{ kind: firewall, rules: [ { proto: tcp } ] }"));
    assert_eq!(e.problems.len(), 1);
    assert!(
        e.problems[0]
            .message
            .contains(r#"missing required field "action""#),
        "{e}"
    );
    let e = fail(&around(
        "{ kind: nat, external: [192.0.2.1], timeouts: { tcp: 5s } }",
    ));
    assert!(
        e.to_string().contains(
            r#"nodes.f.timeouts.tcp: unknown field "tcp", expected one of udp, tcp-established, tcp-transitory, icmp"#
        ),
        "{e}"
    );
}

#[test]
fn a_state_that_is_not_a_word_is_reported_with_its_path() {
    let e = fail(&around(
        "{ kind: firewall, rules: [ { action: drop, state: 5 } ] }",
    ));
    assert_eq!(e.problems.len(), 1, "{e}");
    assert_eq!(e.problems[0].path, "nodes.f.rules[0].state");
    assert_eq!(e.problems[0].value.as_deref(), Some("5"));
}

/// Issue 15 defects 2 and 5: `max-flows-per-host` (firewall; unset: the function's default)
/// and `mtu` (NAT and firewall, 68..=9000, default 1500).
#[test]
fn firewall_max_flows_per_host_and_nat_firewall_mtu_load_and_are_checked() {
    let text = "name: t\nnodes:\n  \
        fw1: { kind: firewall, max-flows: 1000, max-flows-per-host: 100, mtu: 9000 }\n  \
        fw2: { kind: firewall }\n  \
        nat1: { kind: nat, external: [203.0.113.2], mtu: 9000 }\n  \
        nat2: { kind: nat, external: [203.0.113.3] }\n";
    let loaded = nfv_config::load_str("t.yaml", text).expect("loads");
    let t = &loaded.topology;
    let (f1, f2) = (firewall(t, "fw1"), firewall(t, "fw2"));
    assert_eq!((f1.max_flows_per_host, f1.mtu), (Some(100), 9000));
    assert_eq!((f2.max_flows_per_host, f2.mtu), (None, 1500));
    assert_eq!((nat(t, "nat1").mtu, nat(t, "nat2").mtu), (9000, 1500));

    let bad = "name: t\nnodes:\n  \
        fw1: { kind: firewall, max-flows-per-host: 0, mtu: 67 }\n  \
        nat1: { kind: nat, external: [203.0.113.2], mtu: 9001 }\n";
    let err = nfv_config::load_str("t.yaml", bad)
        .expect_err("out of range")
        .to_string();
    assert!(err.contains("nodes.fw1.max-flows-per-host: \"0\""), "{err}");
    assert!(
        err.contains("nodes.fw1.mtu: \"67\": MTU must be in 68..=9000"),
        "{err}"
    );
    assert!(
        err.contains("nodes.nat1.mtu: \"9001\": MTU must be in 68..=9000"),
        "{err}"
    );
}
