//! End-to-end: NAT44 and firewall in a service chain, with namespace hosts and real clients
//! (ping, curl against python's http.server, tcpdump, coturn's RFC 5780 NAT discovery).

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;

/// The topology of the NAT issue: two inside PCs on a switch, a router, then the chain
/// router:wan → firewall → NAT → "the internet".
fn edge(name: &str, filtering: &str) -> String {
    format!(
        "\
name: {name}
nodes:
  pc1:  {{ kind: host, address: 10.60.0.10/24, gateway: 10.60.0.1 }}
  pc2:  {{ kind: host, address: 10.60.0.11/24, gateway: 10.60.0.1 }}
  web:  {{ kind: host, address: 203.0.113.80/24, gateway: 203.0.113.1 }}
  lan:  {{ kind: switch }}
  r1:
    kind: router
    interfaces:
      lan: {{ address: 10.60.0.1/24 }}
      wan: {{ address: 203.0.113.1/24 }}
  fw1:
    kind: firewall
    default: drop
    rules:
      - {{ action: allow, direction: out }}
      - {{ action: allow, state: established }}
      - {{ action: allow, proto: tcp, dst-port: 80, direction: in }}
      - {{ action: allow, proto: udp, dst-port: 5353, direction: in }}
      - {{ action: reject, proto: tcp, dst-port: 81, direction: in }}
  nat1:
    kind: nat
    external: [203.0.113.2]
    filtering: {filtering}
    forwards:
      - {{ proto: tcp, port: 8080, to: 10.60.0.10:80 }}
      - {{ proto: tcp, port: 8081, to: 10.60.0.10:81 }}
      - {{ proto: udp, port: 5353, to: 10.60.0.10:5353 }}
links:
  - endpoints: [pc1, lan:p1]
  - endpoints: [pc2, lan:p2]
  - endpoints: [lan:p3, r1:lan]
chains:
  - [r1:wan, fw1, nat1, web]
"
    )
}

fn http_server(ns: &str, port: u16) -> Background {
    let port = port.to_string();
    let bg = Background::start(
        ns,
        &[
            "python3",
            "-u",
            "-m",
            "http.server",
            &port,
            "--bind",
            "0.0.0.0",
        ],
        "",
    );
    // Ready once it answers locally.
    let url = format!("http://127.0.0.1:{port}/");
    assert!(
        eventually(10, || curl(ns, &url, 2).0),
        "http.server in {ns} did not start"
    );
    bg
}

#[test]
fn nat_and_firewall_chain_translate_forward_hairpin_and_block() {
    if !require_root() {
        return;
    }
    let ns = ["t-edge-pc1", "t-edge-pc2", "t-edge-web"];
    let mut run = Running::start("edge", &edge("t-edge", "address-dependent"), &ns, &[]);
    // Outbound: web sees only the NAT's address.
    let cap = Background::start(
        "t-edge-web",
        &["tcpdump", "-i", "eth0", "-n", "-l", "-p", "icmp or tcp"],
        "listening on",
    );
    assert!(
        ping("t-edge-pc1", "203.0.113.80", 3),
        "pc1 -> web through router, firewall, NAT"
    );
    assert!(ping("t-edge-pc2", "203.0.113.80", 2), "pc2 -> web");
    let web = http_server("t-edge-web", 80);
    let (ok, body) = curl("t-edge-pc1", "http://203.0.113.80/", 5);
    assert!(ok, "pc1 fetches from web: {body}");
    std::thread::sleep(Duration::from_millis(300));
    let seen = cap.finish();
    let (_, web_log) = web.finish_both();
    assert!(
        web_log.contains("203.0.113.2 - -"),
        "web's log shows the NAT address:\n{web_log}"
    );
    assert!(
        !seen.contains("10.60.0."),
        "no inside address on the outside:\n{seen}"
    );
    assert!(seen.contains("203.0.113.2 >"), "{seen}");

    // Port forward 203.0.113.2:8080 -> pc1:80, from outside and hairpinned from pc2.
    let pc1 = http_server("t-edge-pc1", 80);
    let (ok, body) = curl("t-edge-web", "http://203.0.113.2:8080/", 5);
    assert!(ok, "web reaches pc1 through the forward: {body}");
    let (ok, body) = curl("t-edge-pc2", "http://203.0.113.2:8080/", 5);
    assert!(ok, "pc2 reaches pc1 through the NAT (hairpin): {body}");
    let (_, pc1_log) = pc1.finish_both();
    assert!(
        pc1_log.contains("203.0.113.80 - -"),
        "forwarded from web:\n{pc1_log}"
    );
    // RFC 4787 REQ-9a: the hairpinned client appears with the external address.
    let hairpin_lines = pc1_log
        .lines()
        .filter(|l| l.starts_with("203.0.113.2 - -"))
        .count();
    assert_eq!(
        hairpin_lines, 1,
        "hairpin source is the NAT's address:\n{pc1_log}"
    );

    // UDP hairpin: pc2 -> 203.0.113.2:5353 -> pc1:5353, which sees the NAT's address.
    let echo = Background::start(
        "t-edge-pc1",
        &[
            "python3",
            "-u",
            "-c",
            "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(('0.0.0.0',5353))\nprint('ready',flush=True)\nwhile True:\n d,a=s.recvfrom(100)\n print('from',a[0],flush=True)\n s.sendto(d,a)",
        ],
        "",
    );
    std::thread::sleep(Duration::from_millis(500));
    let client = ns_exec(
        "t-edge-pc2",
        &[
            "python3",
            "-c",
            "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.settimeout(3)\ns.sendto(b'hi',('203.0.113.2',5353))\nprint(s.recvfrom(100)[0].decode())",
        ],
    );
    let reply = String::from_utf8_lossy(&client.stdout).to_string();
    let (echo_out, _) = echo.finish_both();
    assert_eq!(reply.trim(), "hi", "UDP hairpin round trip: {client:?}");
    assert!(
        echo_out.contains("from 203.0.113.2"),
        "RFC 4787 REQ-9a: {echo_out}"
    );

    // Unsolicited inbound does not get in.
    let (ok, _) = curl("t-edge-web", "http://203.0.113.2:9999/", 3);
    assert!(!ok, "no mapping for 9999");
    assert!(
        ping_fails("t-edge-web", "10.60.0.10"),
        "inside addresses are unreachable"
    );
    // Firewall reject: tcp/81 is forwarded by the NAT but rejected by the firewall with a
    // RST, so curl fails at once ("connection refused"), not by timeout.
    let t = std::time::Instant::now();
    let (ok, body) = curl("t-edge-web", "http://203.0.113.2:8081/", 5);
    assert!(
        !ok && t.elapsed() < Duration::from_secs(3),
        "rejected quickly: {body}"
    );
    assert!(
        body.contains("Couldn't connect") || body.contains("refused"),
        "{body}"
    );

    let (ok, out) = run.stop();
    assert!(ok, "{out}");
    assert!(
        out.contains("nat1 (nat)") && out.contains("fw1 (firewall)"),
        "{out}"
    );
}

#[test]
fn stun_nat_behaviour_discovery_reports_endpoint_independent_mapping_rfc5780() {
    if !require_root() {
        return;
    }
    let ns = ["t-stun-pc1", "t-stun-pc2", "t-stun-web"];
    let mut run = Running::start("stun", &edge("t-stun", "address-dependent"), &ns, &[]);
    // A STUN server with two outside addresses (RFC 5780 needs an alternate address).
    let add = ns_exec(
        "t-stun-web",
        &["ip", "addr", "add", "203.0.113.81/24", "dev", "eth0"],
    );
    assert!(add.status.success());
    let stun = Background::start(
        "t-stun-web",
        &[
            "turnserver",
            "-n",
            "-L",
            "203.0.113.80",
            "-L",
            "203.0.113.81",
            "--stun-only",
            "--no-cli",
            "--no-tls",
            "--no-dtls",
            "--log-file",
            "stdout",
            "--pidfile",
            "/tmp/nfv-test-turnserver.pid",
        ],
        "",
    );
    // The server needs a moment; the client retries by itself, but allow for start-up.
    std::thread::sleep(Duration::from_secs(1));
    // The firewall must let the STUN replies (from the alternate address/port) in: the
    // discovery probes filtering too, which our firewall (established only) restricts, so
    // mapping is the property checked through the whole chain.
    let out = ns_exec(
        "t-stun-pc1",
        &[
            "timeout",
            "30",
            "turnutils_natdiscovery",
            "-m",
            "203.0.113.80",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    drop(stun);
    assert!(
        text.contains("NAT with Endpoint Independent Mapping!"),
        "natdiscovery:\n{text}"
    );
    assert!(
        text.contains("203.0.113.2:"),
        "reflexive address is the NAT's:\n{text}"
    );
    assert!(run.stop().0);
}

#[test]
fn firewall_between_two_hosts_allows_outbound_and_replies_and_drops_or_rejects_inbound() {
    if !require_root() {
        return;
    }
    let yaml = "\
name: t-fw
nodes:
  inner: { kind: host, address: 10.61.0.2/24 }
  outer: { kind: host, address: 10.61.0.3/24 }
  fw1:
    kind: firewall
    default: drop
    rules:
      - { action: allow, direction: out }
      - { action: allow, state: established }
      - { action: allow, proto: tcp, dst-port: 80, direction: in }
      - { action: reject, proto: tcp, dst-port: 81, direction: in }
      - { action: reject, proto: udp, direction: in }
chains:
  - [inner, fw1, outer]
";
    let mut run = Running::start("fw", yaml, &["t-fw-inner", "t-fw-outer"], &[]);
    assert!(
        ping("t-fw-inner", "10.61.0.3", 3),
        "outbound ping and its replies"
    );
    assert!(
        ping_fails("t-fw-outer", "10.61.0.2"),
        "unsolicited inbound ping is dropped"
    );
    let srv80 = http_server("t-fw-inner", 80);
    let (ok, body) = curl("t-fw-outer", "http://10.61.0.2:80/", 5);
    assert!(ok, "tcp/80 inbound is allowed: {body}");
    drop(srv80);
    // tcp/81 is rejected with a RST: refused at once, not a timeout.
    let t = std::time::Instant::now();
    let (ok, body) = curl("t-fw-outer", "http://10.61.0.2:81/", 5);
    assert!(!ok && t.elapsed() < Duration::from_secs(3), "{body}");
    assert!(
        body.contains("Couldn't connect") || body.contains("refused"),
        "{body}"
    );
    // tcp/82 is dropped by the default policy: curl times out.
    let t = std::time::Instant::now();
    let (ok, _) = curl("t-fw-outer", "http://10.61.0.2:82/", 2);
    assert!(
        !ok && t.elapsed() >= Duration::from_secs(2),
        "silently dropped"
    );
    let (ok, out) = run.stop();
    assert!(ok, "{out}");
    let fw = out.lines().find(|l| l.contains("fw1 (firewall)")).unwrap();
    assert!(
        fw.contains("fw_rejected=") && fw.contains("fw_rule_drop="),
        "{fw}"
    );
}
