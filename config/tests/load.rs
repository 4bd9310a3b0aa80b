//! What a loaded topology contains: values, defaults, resolution, warnings, problem fields.

use std::net::Ipv4Addr;
use std::time::Duration;

use std::path::Path;

use nfv_config::{
    ConfigError, Endpoint, HostSpec, Ipv4Cidr, Loaded, MacAddr, Node, NodeKind, RouteSpec,
    RouterInterface, RouterSpec, SwitchPort, SwitchSpec, TapSpec, Topology, VlanMode, load_file,
    load_str, load_str_in,
};

const SWITCH_EXAMPLE: &str = include_str!("fixtures/ok/switch.yaml");

fn load(text: &str) -> Loaded {
    load_str("t.yaml", text).unwrap_or_else(|e| panic!("should load:\n{e}"))
}

fn fail(text: &str) -> ConfigError {
    match load_str("t.yaml", text) {
        Ok(l) => panic!("should fail, loaded {:?}", l.topology),
        Err(e) => e,
    }
}

fn host<'a>(t: &'a Topology, name: &str) -> &'a HostSpec {
    match &t.node(name).expect("node exists").kind {
        NodeKind::Host(h) => h,
        other => panic!("{name} is a {}", other.kind_name()),
    }
}

fn tap<'a>(t: &'a Topology, name: &str) -> &'a TapSpec {
    match &t.node(name).expect("node exists").kind {
        NodeKind::Tap(s) => s,
        other => panic!("{name} is a {}", other.kind_name()),
    }
}

fn switch<'a>(t: &'a Topology, name: &str) -> &'a SwitchSpec {
    match &t.node(name).expect("node exists").kind {
        NodeKind::Switch(s) => s,
        other => panic!("{name} is a {}", other.kind_name()),
    }
}

fn router<'a>(t: &'a Topology, name: &str) -> &'a RouterSpec {
    match &t.node(name).expect("node exists").kind {
        NodeKind::Router(r) => r,
        other => panic!("{name} is a {}", other.kind_name()),
    }
}

fn cidr(s: &str) -> Ipv4Cidr {
    s.parse().expect("valid CIDR")
}

fn route(to: &str, via: &str) -> RouteSpec {
    RouteSpec {
        to: cidr(to),
        via: via.parse().expect("valid address"),
    }
}

fn ep(node: &str, iface: &str) -> Endpoint {
    Endpoint {
        node: node.into(),
        iface: iface.into(),
    }
}

fn access(name: &str, vlan: u16) -> SwitchPort {
    SwitchPort {
        name: name.into(),
        mode: VlanMode::Access { vlan },
    }
}

#[test]
fn switch_example_loads_with_defaults_filled_in() {
    let loaded = load(SWITCH_EXAMPLE);
    assert_eq!(loaded.warnings, vec![]);
    let t = &loaded.topology;
    assert_eq!(t.name, "lab1");

    let names: Vec<&str> = t.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["h1", "h2", "h3", "vm1", "sw1"], "file order");
    let kinds: Vec<&str> = t.nodes.iter().map(|n| n.kind.kind_name()).collect();
    assert_eq!(kinds, ["host", "host", "host", "tap", "switch"]);

    for (i, name) in ["h1", "h2", "h3"].into_iter().enumerate() {
        let h = host(t, name);
        assert_eq!(h.netns, format!("lab1-{name}"));
        assert_eq!(h.ifname.as_str(), "eth0");
        let octet = u8::try_from(i + 1).expect("small");
        assert_eq!(
            h.address,
            Some(Ipv4Cidr {
                addr: Ipv4Addr::new(10, 0, 0, octet),
                prefix_len: 24
            })
        );
        assert_eq!((h.gateway, h.mac, h.mtu), (None, None, 1500));
    }

    let vm1 = tap(t, "vm1");
    assert_eq!(
        (vm1.ifname.as_str(), vm1.mtu, vm1.mac),
        ("vm1-tap", 1500, None)
    );

    let sw1 = switch(t, "sw1");
    assert_eq!(sw1.mac_table_size, 65536);
    assert_eq!(sw1.ageing, Duration::from_secs(300));
    // Configured ports first (p4), then ports used only by links, in link order.
    assert_eq!(
        sw1.ports,
        vec![
            access("p4", 20),
            access("p1", 1),
            access("p2", 1),
            access("p3", 1)
        ]
    );

    let links: Vec<(Endpoint, Endpoint)> =
        t.links.iter().map(|l| (l.a.clone(), l.b.clone())).collect();
    assert_eq!(
        links,
        vec![
            (ep("h1", "eth0"), ep("sw1", "p1")),
            (ep("h2", "eth0"), ep("sw1", "p2")),
            (ep("vm1", "vm1-tap"), ep("sw1", "p3")),
            (ep("h3", "eth0"), ep("sw1", "p4")),
        ]
    );
    assert_eq!(t.links_of("sw1").count(), 4);
    assert_eq!(t.links_of("h2").count(), 1);
    assert!(t.node("nope").is_none());
}

#[test]
fn omitted_switch_fields_get_the_same_defaults_as_written_ones() {
    let t = load(
        "name: d\nnodes:\n  h1: { kind: host }\n  sw1: { kind: switch }\nlinks:\n  - endpoints: [h1, sw1:p1]\n",
    )
    .topology;
    let sw1 = switch(&t, "sw1");
    assert_eq!(
        (sw1.mac_table_size, sw1.ageing),
        (
            SwitchSpec::default().mac_table_size,
            SwitchSpec::default().ageing
        )
    );
    assert_eq!(sw1.ports, vec![access("p1", 1)]);
}

#[test]
fn every_optional_field_is_read() {
    let t = load(include_str!("fixtures/ok/trunk.yaml")).topology;
    assert_eq!(t.name, "trunk-lab_2.v1");

    let h1 = host(&t, "h1");
    assert_eq!(h1.netns, "trunk-lab_2.v1-h1");
    assert_eq!(h1.ifname.as_str(), "veth-h1");
    assert_eq!(
        h1.address.map(|a| a.to_string()).as_deref(),
        Some("192.168.10.5/24")
    );
    assert_eq!(h1.gateway, Some(Ipv4Addr::new(192, 168, 10, 1)));
    assert_eq!(h1.mac, Some(MacAddr([2, 0, 0, 0, 0x10, 5])));
    assert_eq!(h1.mtu, 9000);
    // A /31 has no network or broadcast address (RFC 3021): .5/31 is fine.
    assert_eq!(host(&t, "h2").address.map(|a| a.prefix_len), Some(31));
    assert_eq!(host(&t, "h3").address, None);

    let vm1 = tap(&t, "vm1");
    assert_eq!(
        vm1.ifname.as_str(),
        "vm1",
        "a tap's ifname defaults to its node name"
    );
    assert_eq!(vm1.mtu, 1400);
    assert_eq!(
        vm1.mac.map(|m| m.to_string()).as_deref(),
        Some("02:aa:bb:00:00:01")
    );

    let sw1 = switch(&t, "sw1");
    assert_eq!(
        (sw1.mac_table_size, sw1.ageing),
        (1024, Duration::from_secs(300))
    );
    assert_eq!(
        sw1.ports,
        vec![
            SwitchPort {
                name: "up".into(),
                mode: VlanMode::Trunk {
                    vlans: vec![10, 20, 30],
                    native: Some(30)
                }
            },
            access("h1", 10),
            access("spare-1", 1),
        ]
    );
    let sw2 = switch(&t, "sw2");
    assert_eq!(
        sw2.ageing,
        Duration::from_secs(45),
        "a bare number is seconds"
    );
    assert_eq!(
        sw2.port("up").map(|p| &p.mode),
        Some(&VlanMode::Trunk {
            vlans: vec![10, 20],
            native: Some(99)
        })
    );
    assert_eq!(
        sw2.port("h3"),
        Some(&access("h3", 1)),
        "linked, not configured"
    );

    assert_eq!(t.links[0].a, ep("sw1", "up"));
    assert_eq!(t.links[0].b, ep("sw2", "up"));
    assert_eq!(t.links[1].a, ep("h1", "veth-h1"), "node:ifname is accepted");
    assert_eq!(t.links[3].a, ep("vm1", "vm1"));
}

#[rstest::rstest]
#[case("500ms", Duration::from_millis(500))]
#[case("90s", Duration::from_secs(90))]
#[case("5m", Duration::from_secs(300))]
#[case("1h", Duration::from_secs(3600))]
#[case("600", Duration::from_secs(600))]
#[case("1000000", Duration::from_secs(1_000_000))]
fn ageing_units(#[case] text: &str, #[case] want: Duration) {
    let t = load(&format!(
        "name: a\nnodes:\n  s: {{ kind: switch, ageing: {text} }}\n"
    ))
    .topology;
    assert_eq!(switch(&t, "s").ageing, want);
}

#[rstest::rstest]
#[case("0")]
#[case("0ms")]
#[case("1000001")]
#[case("278h")]
fn ageing_out_of_range(#[case] text: &str) {
    let e = fail(&format!(
        "name: a\nnodes:\n  s: {{ kind: switch, ageing: {text} }}\n"
    ));
    assert_eq!(e.problems.len(), 1);
    assert_eq!(e.problems[0].path, "nodes.s.ageing");
    assert_eq!(e.problems[0].value.as_deref(), Some(text));
}

#[rstest::rstest]
#[case(67, false)]
#[case(68, true)]
#[case(9000, true)]
#[case(9001, false)]
#[case(-1, false)]
fn mtu_bounds(#[case] mtu: i64, #[case] ok: bool) {
    let text = format!(
        "name: a\nnodes:\n  h: {{ kind: host, mtu: {mtu} }}\n  t: {{ kind: tap, mtu: {mtu} }}\n"
    );
    match load_str("t.yaml", &text) {
        Ok(l) => {
            assert!(ok, "mtu {mtu} accepted");
            assert_eq!(i64::from(host(&l.topology, "h").mtu), mtu);
            assert_eq!(i64::from(tap(&l.topology, "t").mtu), mtu);
        }
        Err(e) => {
            assert!(!ok, "mtu {mtu} rejected: {e}");
            let paths: Vec<&str> = e.problems.iter().map(|p| p.path.as_str()).collect();
            assert_eq!(paths, ["nodes.h.mtu", "nodes.t.mtu"]);
        }
    }
}

#[test]
fn stage1_problem_has_position_path_and_value() {
    let e = fail("name: lab1\nnodes:\n  h1:\n    kind: host\n    address: 10.0.0.300/24\n");
    assert_eq!(
        e.problems,
        vec![nfv_config::Problem {
            file: "t.yaml".into(),
            line: 5,
            column: 14,
            path: "nodes.h1.address".into(),
            value: Some("10.0.0.300/24".into()),
            message: "invalid IPv4 CIDR (expected a.b.c.d/len)".into(),
            suggestions: Vec::new(),
            help: None,
        }]
    );
}

#[test]
fn stage2_collects_every_problem_in_file_order() {
    let e = fail(include_str!("fixtures/bad/many_problems.yaml"));
    assert!(e.problems.len() >= 10, "{e}");
    let positions: Vec<(usize, usize)> = e.problems.iter().map(|p| (p.line, p.column)).collect();
    let mut sorted = positions.clone();
    sorted.sort();
    assert_eq!(positions, sorted);
    assert!(
        e.problems
            .iter()
            .all(|p| p.line > 0 && p.column > 0 && !p.path.is_empty())
    );
}

#[test]
fn unknown_kind_is_one_problem_and_links_to_it_are_not_reported() {
    let e = fail(include_str!("fixtures/bad/unknown_kind.yaml"));
    assert_eq!(e.problems.len(), 1, "{e}");
    assert_eq!(
        e.problems[0].message,
        r#"unknown kind "swich", expected one of host, tap, pcap, switch, router, nat, firewall"#
    );
}

#[test]
fn duplicate_address_names_both_nodes() {
    let e = fail(
        "name: a\nnodes:\n  h1: { kind: host, address: 10.0.0.1/24 }\n  h2: { kind: host, address: 10.0.0.1/24 }\n",
    );
    assert_eq!(e.problems.len(), 1);
    assert_eq!(e.problems[0].path, "nodes.h2.address");
    assert!(e.problems[0].message.contains(r#"node "h1""#), "{e}");
}

#[test]
fn warnings_for_unused_nodes_and_ports() {
    let loaded = load(include_str!("fixtures/ok/warnings.yaml"));
    let got: Vec<(&str, &str)> = loaded
        .warnings
        .iter()
        .map(|w| (w.path.as_str(), w.message.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("nodes.h2", r#"host "h2" is not used by any link"#),
            ("nodes.vm1", r#"tap "vm1" is not used by any link"#),
            (
                "nodes.sw1.ports.p9",
                r#"port "p9" is configured but no link uses it"#
            ),
            ("nodes.sw2", r#"switch "sw2" has no links"#),
        ]
    );
    // Unused ports are still part of the switch.
    let sw1 = switch(&loaded.topology, "sw1");
    assert_eq!(sw1.ports, vec![access("p1", 5), access("p9", 5)]);
}

#[test]
fn warnings_are_not_errors_and_are_absent_when_everything_is_linked() {
    assert!(load(SWITCH_EXAMPLE).warnings.is_empty());
}

#[test]
fn file_name_is_only_used_in_messages() {
    let e = load_str("some/where.yaml", "name: a\nnodes: {}\nfoo: 1\n").expect_err("unknown field");
    assert!(
        e.to_string().starts_with("some/where.yaml:3:1: foo: "),
        "{e}"
    );
}

#[test]
fn topology_clone_and_eq() {
    let a = load(SWITCH_EXAMPLE).topology;
    let b = a.clone();
    assert_eq!(a, b);
    let n: &Node = &a.nodes[0];
    assert_eq!(n.name, "h1");
}

#[test]
fn router_example_loads_with_every_value() {
    let loaded = load_file(Path::new("tests/fixtures/ok/routed.yaml"))
        .unwrap_or_else(|e| panic!("should load:\n{e}"));
    assert_eq!(loaded.warnings, vec![]);
    let t = &loaded.topology;
    let kinds: Vec<&str> = t.nodes.iter().map(|n| n.kind.kind_name()).collect();
    assert_eq!(kinds, ["host", "host", "router"]);
    let r1 = router(t, "r1");
    assert_eq!(
        r1.interfaces,
        vec![
            RouterInterface {
                name: "lan-a".into(),
                address: cidr("10.1.0.1/24"),
                mtu: 1500,
                mac: None,
            },
            RouterInterface {
                name: "lan-b".into(),
                address: cidr("10.2.0.1/24"),
                mtu: 1400,
                mac: Some(MacAddr([2, 0, 0, 0, 2, 1])),
            },
        ]
    );
    assert_eq!(
        r1.interface("lan-b").map(|i| i.address.addr),
        Some(Ipv4Addr::new(10, 2, 0, 1))
    );
    // `routes:` in file order, then routes.txt in line order (comments and blank lines skipped,
    // with and without `via`, spaces and tabs).
    assert_eq!(
        r1.routes,
        vec![
            route("192.0.2.0/24", "10.2.0.254"),
            route("0.0.0.0/0", "10.1.0.254"),
            route("198.51.100.0/24", "10.2.0.254"),
            route("203.0.113.0/25", "10.1.0.254"),
            route("10.10.0.0/16", "10.2.0.253"),
            route("172.16.0.0/12", "10.1.0.200"),
        ]
    );
    assert_eq!(
        (
            r1.icmp_rate_limit,
            r1.icmp_burst,
            r1.arp_timeout,
            r1.redirects
        ),
        (100, 50, Duration::from_secs(300), true)
    );
    let links: Vec<(Endpoint, Endpoint)> =
        t.links.iter().map(|l| (l.a.clone(), l.b.clone())).collect();
    assert_eq!(
        links,
        vec![
            (ep("a1", "eth0"), ep("r1", "lan-a")),
            (ep("b1", "eth0"), ep("r1", "lan-b")),
        ]
    );
}

#[test]
fn omitted_router_fields_get_the_documented_defaults() {
    let t = load(
        "name: d\nnodes:\n  h1: { kind: host }\n  r1:\n    kind: router\n    interfaces:\n      e0: { address: 10.0.0.1/24 }\nlinks:\n  - endpoints: [h1, r1:e0]\n",
    )
    .topology;
    let r1 = router(&t, "r1");
    let want = RouterSpec {
        interfaces: vec![RouterInterface {
            name: "e0".into(),
            address: cidr("10.0.0.1/24"),
            mtu: 1500,
            mac: None,
        }],
        ..RouterSpec::default()
    };
    assert_eq!(r1, &want);
    assert_eq!(
        (
            r1.icmp_rate_limit,
            r1.icmp_burst,
            r1.arp_timeout,
            r1.redirects
        ),
        (100, 50, Duration::from_secs(300), true)
    );
    assert!(r1.routes.is_empty());
}

#[test]
fn router_values_other_than_the_defaults_are_read() {
    let t = load(
        "name: d\nnodes:\n  r1:\n    kind: router\n    interfaces: { p2p: { address: 192.0.2.0/31, mtu: 9000 }, lo: { address: 10.255.0.1/32 } }\n    routes: [ { to: 10.0.0.0/8, via: 192.0.2.1 } ]\n    icmp-rate-limit: 0\n    icmp-burst: 1\n    arp-timeout: 5m\n    redirects: false\n",
    )
    .topology;
    let r1 = router(&t, "r1");
    assert_eq!(
        (
            r1.icmp_rate_limit,
            r1.icmp_burst,
            r1.arp_timeout,
            r1.redirects
        ),
        (0, 1, Duration::from_secs(300), false)
    );
    // A /31 has no network or broadcast address: .0 is a host, .1 a valid next hop.
    assert_eq!(r1.interfaces[0].address, cidr("192.0.2.0/31"));
    assert_eq!(r1.interfaces[0].mtu, 9000);
    assert_eq!(r1.routes, vec![route("10.0.0.0/8", "192.0.2.1")]);
}

#[test]
fn unused_router_interfaces_and_routers_are_warnings() {
    let loaded = load(
        "name: w\nnodes:\n  h1: { kind: host }\n  r1:\n    kind: router\n    interfaces:\n      a: { address: 10.1.0.1/24 }\n      b: { address: 10.2.0.1/24 }\n  r2: { kind: router, interfaces: { x: { address: 10.3.0.1/24 } } }\nlinks:\n  - endpoints: [h1, r1:a]\n",
    );
    let got: Vec<(&str, &str)> = loaded
        .warnings
        .iter()
        .map(|w| (w.path.as_str(), w.message.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "nodes.r1.interfaces.b",
                r#"interface "b" is not used by any link"#
            ),
            ("nodes.r2", r#"router "r2" has no links"#),
        ]
    );
}

#[test]
fn redirects_is_a_strict_boolean() {
    let e = fail(
        "name: d\nnodes:\n  r1: { kind: router, redirects: yes, interfaces: { e0: { address: 10.0.0.1/24 } } }\n",
    );
    assert_eq!(
        e.to_string(),
        r#"t.yaml:3:34: nodes.r1.redirects: "yes": expected true or false"#
    );
}

#[test]
fn interface_needs_an_address() {
    let e = fail("name: d\nnodes:\n  r1: { kind: router, interfaces: { e0: { mtu: 1500 } } }\n");
    assert_eq!(e.problems.len(), 1);
    // In a flow mapping the error is at the first key; the path is still the mapping's.
    assert_eq!(e.problems[0].path, "nodes.r1.interfaces.e0");
    assert_eq!(e.problems[0].message, r#"missing required field "address""#);
}

const ROUTES_FILE_TOPOLOGY: &str = "name: d\nnodes:\n  r1:\n    kind: router\n    interfaces: { e0: { address: 10.1.0.1/24 }, e1: { address: 10.2.0.1/24 } }\n    routes-file: routes.txt\n";

#[test]
fn load_str_reads_the_routes_file_from_the_current_directory() {
    // cargo runs integration tests in the package root, where there is no routes.txt.
    let e = fail(ROUTES_FILE_TOPOLOGY);
    assert_eq!(e.problems.len(), 1, "{e}");
    assert!(
        e.to_string().starts_with(
            r#"t.yaml:6:18: nodes.r1.routes-file: "routes.txt": cannot read routes file routes.txt: "#
        ),
        "{e}"
    );
}

#[test]
fn load_str_in_reads_the_routes_file_from_base_dir() {
    let dir = Path::new("tests/fixtures/ok");
    let loaded = load_str_in("t.yaml", ROUTES_FILE_TOPOLOGY, dir)
        .unwrap_or_else(|e| panic!("should load:\n{e}"));
    let r1 = router(&loaded.topology, "r1");
    assert_eq!(r1.routes.len(), 4);
    assert_eq!(r1.routes[3], route("172.16.0.0/12", "10.1.0.200"));

    // Messages name the routes file as base_dir joined with it.
    let topo = ROUTES_FILE_TOPOLOGY.replace("10.1.0.1/24", "10.3.0.1/24");
    let e = load_str_in("t.yaml", &topo, dir).expect_err("next hops are now off-subnet");
    assert_eq!(e.problems[0].file, "tests/fixtures/ok/routes.txt");
    assert_eq!((e.problems[0].line, e.problems[0].column), (5, 21), "{e}");
    assert_eq!(e.problems[0].value.as_deref(), Some("10.1.0.254"));
}

#[test]
fn topology_errors_come_before_routes_file_errors() {
    let topo =
        format!("{ROUTES_FILE_TOPOLOGY}    arp-timeout: 0\n").replace("10.1.0.1/24", "10.3.0.1/24");
    let e = load_str_in("t.yaml", &topo, Path::new("tests/fixtures/ok")).expect_err("bad");
    let files: Vec<&str> = e.problems.iter().map(|p| p.file.as_str()).collect();
    assert_eq!(files[0], "t.yaml", "{e}");
    assert!(
        files[1..]
            .iter()
            .all(|f| *f == "tests/fixtures/ok/routes.txt"),
        "{e}"
    );
}

#[test]
fn two_interfaces_on_one_subnet_are_an_overlap_not_a_duplicate_route() {
    let e = fail(
        "name: d\nnodes:\n  r1:\n    kind: router\n    interfaces:\n      e0: { address: 10.0.0.1/24 }\n      e1: { address: 10.0.0.2/24 }\n    routes: [ { to: 10.0.0.0/24, via: 10.0.0.9 } ]\n",
    );
    let got: Vec<(&str, &str)> = e
        .problems
        .iter()
        .map(|p| (p.path.as_str(), p.message.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "nodes.r1.interfaces.e1.address",
                r#"subnet 10.0.0.0/24 overlaps subnet 10.0.0.0/24 of interface "e0" (line 6)"#
            ),
            (
                "nodes.r1.routes[0].to",
                r#"route to 10.0.0.0/24 is the connected subnet of interface "e0" (line 6); a connected subnet needs no route"#
            ),
        ]
    );
}
