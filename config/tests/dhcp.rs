//! `dhcp:` on a link: accepted settings and every problem named with file, line, column,
//! path and value.

fn load(dhcp: &str) -> Result<nfv_config::Loaded, nfv_config::ConfigError> {
    let text = format!(
        "name: t\nnodes:\n  h1: {{ kind: host }}\n  sw: {{ kind: switch }}\nlinks:\n  - endpoints: [h1, sw:p1]\n    dhcp: {dhcp}\n"
    );
    nfv_config::load_str("t.yaml", &text)
}

fn errors(dhcp: &str) -> String {
    load(dhcp).expect_err("invalid").to_string()
}

#[test]
fn dhcp_settings_become_one_element_on_the_link() {
    let t = load(
        "{ server: 10.0.0.1/24, range: 10.0.0.100-10.0.0.199, lease: 30m, dns: [10.0.0.53, 10.0.0.54], \
         domain: lab.example, static: [ { mac: 02:00:00:00:00:09, address: 10.0.0.9 } ] }",
    )
    .expect("valid")
    .topology;
    let e = &t.links[0].elements;
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].kind, "dhcp");
    assert_eq!(
        e[0].spec().summary(),
        "dhcp server 10.0.0.1/24 range 10.0.0.100-10.0.0.199 lease 1800s static 1"
    );
    let el = e[0].spec().element();
    assert_eq!(el.kind(), "dhcp");
    let mut available = 0;
    el.counters(&mut |n, v| {
        if n == "available" {
            available = v;
        }
    });
    assert_eq!(available, 100);
}

#[test]
fn dhcp_problems_name_line_column_path_and_value() {
    let e = errors("{ range: 10.0.0.100-10.0.0.199, lese: 1h }");
    assert!(
        e.contains("links[0].dhcp.lese: unknown field \"lese\", expected one of server, range"),
        "{e}"
    );
    assert!(
        e.contains("t.yaml:7:11: links[0].dhcp: a DHCP server needs server"),
        "{e}"
    );
    let e = errors(
        "{ server: 10.0.0.1/24, range: 10.0.0.100, dns: [10.0.0.x], mac: 01:00:00:00:00:01 }",
    );
    assert!(
        e.contains("links[0].dhcp.range: \"10.0.0.100\": expected first-last addresses"),
        "{e}"
    );
    let e = errors(
        "{ server: 10.0.0.1/24, range: 10.0.0.100-10.0.0.110, dns: [10.0.0.x], static: [ { mac: 02:00:00:00:00:09 } ] }",
    );
    assert!(
        e.contains("links[0].dhcp.dns[0]: \"10.0.0.x\": expected an IPv4 address"),
        "{e}"
    );
    assert!(
        e.contains("links[0].dhcp.static[0]: a static lease needs address"),
        "{e}"
    );
    let e = errors("{ server: 10.0.0.1/24, range: 10.0.1.100-10.0.1.110 }");
    assert!(
        e.contains(
            "links[0].dhcp: range address 10.0.1.100 is not a host address of the server's subnet"
        ),
        "{e}"
    );
    let e = errors("{ server: 10.0.0.1/24, range: 10.0.0.100-10.0.0.110, lease: 1s }");
    assert!(e.contains("lease time must be from 4s"), "{e}");
}
