//! `dhcp:` on a link, end to end: a namespace host without an address runs a real DHCP
//! client (busybox `udhcpc`, Debian's busybox-static), gets its address, DNS server and
//! domain from nfv, pings another host, renews (unicast, after ARP for the server address)
//! and releases; `nfv show leases` lists the lease throughout. Plus the element built in
//! memory by the runtime from the same YAML.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};

use common::*;
use nfv_dataplane::testing::QueuePort;
use nfv_dataplane::{Instant, Port};

const API: &str = "127.0.0.1:19497";
const ELEMENT: &str = "h1:eth0~sw:p1";

fn topology() -> String {
    format!(
        "name: t-dhc\nmetrics: {{ listen: {API} }}\nnodes:\n  h1: {{ kind: host }}\n  \
         h2: {{ kind: host, address: 10.91.0.2/24 }}\n  sw: {{ kind: switch }}\n\
         links:\n  - endpoints: [h1, sw:p1]\n    dhcp: {{ server: 10.91.0.1/24, \
         range: 10.91.0.100-10.91.0.199, lease: 1h, dns: [10.91.0.53], domain: lab.example }}\n  \
         - {{ endpoints: [h2, sw:p2] }}\n"
    )
}

/// A process we started, killed by its PID on drop (also when the test fails).
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `udhcpc`'s event script: configures the interface as the busybox example script does
/// (address and default route; no resolv.conf) and saves the variables of each event to
/// `<dir>/<event>.env`.
fn script(dir: &TempDir) -> String {
    let d = dir.0.display();
    let text = format!(
        "#!/bin/sh\n\
         env > {d}/\"$1\".env.tmp && mv {d}/\"$1\".env.tmp {d}/\"$1\".env\n\
         case \"$1\" in\n\
           deconfig) ip -4 addr flush dev \"$interface\"; ip link set \"$interface\" up ;;\n\
           bound|renew) ip -4 addr flush dev \"$interface\"; \
              ip addr add \"$ip/$mask\" dev \"$interface\"; \
              [ -z \"$router\" ] || ip route replace default via \"$router\" ;;\n\
         esac\n"
    );
    let p = dir.file("udhcpc.sh", &text);
    Command::new("chmod").arg("+x").arg(&p).status().unwrap();
    p.display().to_string()
}

/// The variables `udhcpc` gave the script for `event`, if it ran.
fn event(dir: &TempDir, event: &str) -> Option<HashMap<String, String>> {
    let text = std::fs::read_to_string(dir.0.join(format!("{event}.env"))).ok()?;
    Some(
        text.lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
    )
}

/// `udhcpc` in the foreground in `ns` with event script `script` (killed on drop).
fn udhcpc(ns: &str, script: &str) -> Proc {
    Proc(
        Command::new("ip")
            .args(["netns", "exec", ns, "busybox", "udhcpc", "-f", "-i", "eth0"])
            .args(["-t", "5", "-T", "1", "-s", script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

fn show_leases() -> String {
    let out = Command::new(nfv_bin())
        .args(["show", "leases", "--api", API])
        .output()
        .unwrap();
    assert!(out.status.success(), "nfv show leases: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The DHCP element's event counter `name` from `/metrics`.
fn dhcp_counter(name: &str) -> u64 {
    let out = Command::new("curl")
        .args(["-s", "--max-time", "3", &format!("http://{API}/metrics")])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    metric(
        &text,
        &format!("nfv_function_events_total{{node=\"{ELEMENT}\",kind=\"dhcp\",event=\"{name}\"}}"),
    )
}

fn mac_of(ns: &str) -> String {
    let o = ns_exec(ns, &["cat", "/sys/class/net/eth0/address"]);
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

#[test]
fn udhcpc_in_a_namespace_gets_a_lease_pings_renews_and_releases() {
    if !require_root() {
        return;
    }
    let mut run = Running::start("dhc", &topology(), &["t-dhc-h1", "t-dhc-h2"], &[]);
    let dir = TempDir::new("dhc-client");
    let script = script(&dir);
    let h1_mac = mac_of("t-dhc-h1");
    let client = udhcpc("t-dhc-h1", &script);
    assert!(
        eventually(20, || event(&dir, "bound").is_some()),
        "udhcpc got no lease"
    );
    let bound = event(&dir, "bound").unwrap();
    eprintln!("udhcpc bound: {bound:?}");
    assert_eq!(bound["ip"], "10.91.0.100", "first address of the range");
    assert_eq!(bound["mask"], "24");
    assert_eq!(bound["serverid"], "10.91.0.1");
    assert_eq!(
        bound["router"], "10.91.0.1",
        "router defaults to the server"
    );
    assert_eq!(bound["dns"].trim(), "10.91.0.53");
    assert_eq!(bound["domain"], "lab.example");
    assert_eq!(bound["lease"], "3600");
    let addr = ns_exec(
        "t-dhc-h1",
        &["ip", "-4", "-o", "addr", "show", "dev", "eth0"],
    );
    let addr = String::from_utf8_lossy(&addr.stdout).to_string();
    assert!(
        addr.contains("10.91.0.100/24"),
        "address configured: {addr}"
    );

    assert!(
        ping("t-dhc-h1", "10.91.0.2", 3),
        "h1 pings h2 with its leased address"
    );
    assert!(ping("t-dhc-h2", "10.91.0.100", 1), "and h2 reaches it");
    let leases = show_leases();
    eprintln!("{leases}");
    assert!(
        leases
            .lines()
            .any(|l| l.contains(&h1_mac) && l.contains("10.91.0.100") && l.contains("bound")),
        "nfv show leases lists the lease:\n{leases}"
    );

    // SIGUSR1: renew now, unicast to the server (RFC 2131 §4.4.5 RENEWING); the kernel ARPs
    // for 10.91.0.1 first, which the element answers.
    signal(client.0.id(), "USR1");
    assert!(
        eventually(10, || dhcp_counter("renews") == 1
            && dhcp_counter("acks") == 2),
        "renewal acked: renews {} acks {}",
        dhcp_counter("renews"),
        dhcp_counter("acks")
    );
    assert!(
        dhcp_counter("arp_replies") >= 1,
        "the server address was resolved"
    );
    assert!(
        eventually(5, || event(&dir, "renew").is_some()),
        "udhcpc renewed"
    );
    assert_eq!(event(&dir, "renew").unwrap()["ip"], "10.91.0.100");

    // SIGUSR2: release (RFC 2131 §4.4.6).
    signal(client.0.id(), "USR2");
    assert!(
        eventually(10, || dhcp_counter("releases") == 1),
        "release received"
    );
    let leases = show_leases();
    assert!(
        leases
            .lines()
            .any(|l| l.contains("10.91.0.100") && l.contains("released")),
        "released:\n{leases}"
    );
    drop(client);
    assert_eq!(dhcp_counter("naks"), 0);
    let (ok, out) = run.stop();
    assert!(ok, "nfv exits cleanly:\n{out}");
    assert!(
        out.contains("packet accounting: every packet forwarded or dropped with a reason"),
        "conservation holds at exit:\n{out}"
    );
}

/// In front of a router interface: the server uses the interface's address (`arp: false`,
/// the router answers ARP for it itself), the client gets the router as its default gateway
/// and reaches a host behind it.
#[test]
fn udhcpc_behind_a_dhcp_link_in_front_of_a_router_reaches_the_next_subnet() {
    if !require_root() {
        return;
    }
    let yaml = "name: t-dhr\nnodes:\n  h1: { kind: host }\n  \
                h2: { kind: host, address: 10.93.0.2/24, gateway: 10.93.0.1 }\n  \
                r1:\n    kind: router\n    interfaces:\n      \
                lan: { address: 10.92.0.1/24 }\n      wan: { address: 10.93.0.1/24 }\n\
                links:\n  - endpoints: [h1, r1:lan]\n    \
                dhcp: { server: 10.92.0.1/24, range: 10.92.0.100-10.92.0.110, arp: false }\n  \
                - { endpoints: [h2, r1:wan] }\n";
    let mut run = Running::start("dhr", yaml, &["t-dhr-h1", "t-dhr-h2"], &[]);
    let dir = TempDir::new("dhr-client");
    let script = script(&dir);
    let client = udhcpc("t-dhr-h1", &script);
    assert!(
        eventually(20, || event(&dir, "bound").is_some()),
        "udhcpc got no lease"
    );
    let bound = event(&dir, "bound").unwrap();
    assert_eq!(bound["ip"], "10.92.0.100");
    assert_eq!(bound["router"], "10.92.0.1");
    assert!(
        ping("t-dhr-h1", "10.93.0.2", 3),
        "h1 reaches h2 through the router it was given"
    );
    // A renewal is unicast to 10.92.0.1 at the router's MAC and still reaches the server.
    signal(client.0.id(), "USR1");
    assert!(
        eventually(10, || event(&dir, "renew").is_some()),
        "udhcpc renewed through the router's ARP answer"
    );
    drop(client);
    let (ok, out) = run.stop();
    assert!(ok, "nfv exits cleanly:\n{out}");
    assert!(
        out.contains("packet accounting: every packet forwarded or dropped with a reason"),
        "conservation holds at exit:\n{out}"
    );
}

/// The same YAML built in memory: the element sits on the link with its gates facing h1
/// (clients) and the switch, and answers a DISCOVER from h1's port.
#[test]
fn dhcp_link_element_in_memory_answers_a_discover_from_the_first_endpoint() {
    let topo = nfv_config::load_str("t.yaml", &topology())
        .unwrap()
        .topology;
    assert_eq!(
        topo.links[0].elements[0].spec().summary(),
        "dhcp server 10.91.0.1/24 range 10.91.0.100-10.91.0.199 lease 3600s"
    );
    let mut ports: HashMap<String, QueuePort> = HashMap::new();
    let mut net = nfv_runtime::build_in_memory(&topo, 1, &mut |name: &str| -> Box<dyn Port> {
        let q = QueuePort::new(name);
        ports.insert(name.to_string(), q.clone());
        Box::new(q)
    })
    .unwrap();
    let g = &mut net.pipeline.graphs[0];
    let mac = [2, 0, 0, 0, 0, 0x41];
    let mut m = vec![0u8; 236];
    m[0] = 1;
    m[1] = 1;
    m[2] = 6;
    m[4..8].copy_from_slice(&[1, 2, 3, 4]);
    m[28..34].copy_from_slice(&mac);
    m.extend_from_slice(&[99, 130, 83, 99, 53, 1, 1, 255]);
    let u = nfv_dataplane::testing::udp([0; 4], [255; 4], 68, 67, &m);
    let ip = nfv_dataplane::testing::ipv4([0; 4], [255; 4], 17, 64, &u);
    let discover = nfv_dataplane::testing::eth_ipv4([0xff; 6], mac, &ip);
    ports["h1:eth0"].push_rx(&discover);
    g.poll(Instant::from_secs(1));
    let tx = ports["h1:eth0"].take_tx();
    assert_eq!(tx.len(), 1, "an OFFER back to h1");
    assert_eq!(nfv_dataplane::testing::eth_dst_of(&tx[0]), mac);
    assert_eq!(nfv_dataplane::testing::ip_dst(&tx[0]), [10, 91, 0, 100]);
    assert!(
        ports["h2:eth0"].take_tx().is_empty(),
        "the DISCOVER went no further"
    );
    let report = g.report();
    let e = report.elements.iter().find(|e| e.name == ELEMENT).unwrap();
    assert_eq!(e.kind, "dhcp");
    assert!(g.conservation_errors().is_empty());
}
