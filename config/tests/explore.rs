#[test]
fn explore() {
    let cases = [
        ("nullport", "name: a\nnodes:\n  sw1:\n    kind: switch\n    ports:\n      p1:\n  h1: {kind: host}\nlinks:\n  - endpoints: [h1, sw1:p1]\n"),
        ("nullnodes", "name: a\nnodes:\n"),
        ("nodeslist", "name: a\nnodes: [a, b]\n"),
        ("toplist", "- a\n- b\n"),
        ("topscalar", "hello\n"),
        ("anchor", "name: a\nnodes:\n  h1: &h { kind: host, mtu: 1400 }\n  h2: *h\n"),
        ("anchorbad", "name: a\nnodes:\n  h1: &h { kind: host, mtu: x }\n  h2: *h\n"),
        ("merge", "name: a\nnodes:\n  h1: &h { kind: host, mtu: 1400 }\n  h2: { <<: *h, address: 10.0.0.2/24 }\n"),
        ("nameint", "name: 42\nnodes: {}\n"),
        ("namebool", "name: true\nnodes: {}\n"),
        ("kindnull", "name: a\nnodes:\n  h1: { kind: }\n"),
        ("links null", "name: a\nnodes: {}\nlinks:\n"),
        ("link unknown", "name: a\nnodes: {}\nlinks:\n  - endpoint: [a, b]\n"),
        ("port unknown", "name: a\nnodes:\n  sw1:\n    kind: switch\n    ports:\n      p1: { vlam: 3 }\n"),
        ("bom", "\u{feff}name: a\nnodes: {}\n"),
        ("mtu float", "name: a\nnodes:\n  h1: { kind: host, mtu: 1500.5 }\n"),
        ("mtu huge", "name: a\nnodes:\n  h1: { kind: host, mtu: 99999999999999999999999 }\n"),
        ("ageing float", "name: a\nnodes:\n  s: { kind: switch, ageing: 1.5 }\n"),
        ("ageing big", "name: a\nnodes:\n  s: { kind: switch, ageing: 2000000 }\n"),
        ("utf8 col", "name: a\nnodes:\n  h1: { kind: host, ifname: \"ééééééééé\" }\n"),
        ("dotnode", "name: a\nnodes:\n  h.1: { kind: host, mtu: x }\n"),
        ("gateway bad", "name: a\nnodes:\n  h1: { kind: host, address: 10.0.0.1/24, gateway: 10.0.0.256 }\n"),
        ("endpoints scalar", "name: a\nnodes: {}\nlinks:\n  - endpoints: a\n"),
        ("vlans scalar", "name: a\nnodes:\n  s:\n    kind: switch\n    ports:\n      p: { vlans: 5 }\n"),
        ("vlan str", "name: a\nnodes:\n  s:\n    kind: switch\n    ports:\n      p: { vlan: ten }\n"),
        ("empty endpoint", "name: a\nnodes:\n  h1: {kind: host}\nlinks:\n  - endpoints: [\":x\", \"h1:\"]\n"),
    ];
    for (label, text) in cases {
        match nfv_config::load_str("t.yaml", text) {
            Ok(l) => println!("{label}: OK nodes={:?} warnings={}", l.topology.nodes, l.warnings.len()),
            Err(e) => println!("{label}: ERR {e}"),
        }
    }
}
