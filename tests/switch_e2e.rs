//! End-to-end: the real `nfv run` with namespace hosts, TAPs and real tools (ping, tcpdump).
//! Each test uses its own topology name, so namespaces (`<name>-<node>`) never clash, and
//! its guard removes everything even if the test fails.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

#[test]
fn three_hosts_ping_each_other_and_unicast_is_not_seen_by_the_third() {
    if !require_root() {
        return;
    }
    let yaml = "\
name: t-sw3
nodes:
  h1: { kind: host, address: 10.31.0.1/24 }
  h2: { kind: host, address: 10.31.0.2/24 }
  h3: { kind: host, address: 10.31.0.3/24 }
  sw1: { kind: switch }
links:
  - endpoints: [h1, sw1:p1]
  - endpoints: [h2, sw1:p2]
  - endpoints: [h3, sw1:p3]
";
    let mut run = Running::start("sw3", yaml, &["t-sw3-h1", "t-sw3-h2", "t-sw3-h3"], &[]);
    assert!(ping("t-sw3-h1", "10.31.0.2", 3), "h1 -> h2");
    assert!(ping("t-sw3-h2", "10.31.0.3", 3), "h2 -> h3");
    assert!(ping("t-sw3-h3", "10.31.0.1", 3), "h3 -> h1");

    // All three MACs are learned now. Watch h3's wire while h1 pings h2 (must not appear)
    // and h1 pings h3 (must appear: proves the capture works).
    let cap = Background::start(
        "t-sw3-h3",
        &["tcpdump", "-i", "eth0", "-n", "-l", "-p", "icmp"],
        "listening on",
    );
    assert!(ping("t-sw3-h1", "10.31.0.2", 10), "h1 -> h2 during capture");
    assert!(ping("t-sw3-h1", "10.31.0.3", 2), "h1 -> h3 during capture");
    std::thread::sleep(Duration::from_millis(300));
    let seen = cap.finish();
    let between_1_and_2 = seen
        .lines()
        .filter(|l| l.contains("10.31.0.1 > 10.31.0.2") || l.contains("10.31.0.2 > 10.31.0.1"))
        .count();
    let to_3 = seen.lines().filter(|l| l.contains("> 10.31.0.3")).count();
    assert_eq!(
        between_1_and_2, 0,
        "h3 saw unicast between h1 and h2:\n{seen}"
    );
    assert!(to_3 >= 2, "the capture on h3 saw its own pings:\n{seen}");

    let (ok, out) = run.stop();
    assert!(ok, "nfv exit status; output:\n{out}");
    assert!(out.contains("sw1 (switch)"), "counters printed:\n{out}");
    assert!(out.contains("learned=3"), "three MACs learned:\n{out}");
}

#[test]
fn vlans_isolate_hosts_and_trunks_carry_tags_on_the_wire() {
    if !require_root() {
        return;
    }
    // Two switches joined by a trunk; hosts in VLAN 10 and 20 on both sides, all in one
    // subnet so only the VLANs keep them apart. `mon` sits on a trunk port of sw1 and
    // captures the tagged frames the trunk sends.
    let yaml = "\
name: t-vlan
nodes:
  a10: { kind: host, address: 10.32.0.1/24 }
  a20: { kind: host, address: 10.32.0.2/24 }
  b10: { kind: host, address: 10.32.0.3/24 }
  b20: { kind: host, address: 10.32.0.4/24 }
  mon: { kind: host }
  sw1:
    kind: switch
    ports:
      p1: { vlan: 10 }
      p2: { vlan: 20 }
      up: { vlans: [10, 20] }
      mon: { vlans: [10, 20] }
  sw2:
    kind: switch
    ports:
      p1: { vlan: 10 }
      p2: { vlan: 20 }
      up: { vlans: [10, 20] }
links:
  - endpoints: [a10, sw1:p1]
  - endpoints: [a20, sw1:p2]
  - endpoints: [mon, sw1:mon]
  - endpoints: [sw1:up, sw2:up]
  - endpoints: [b10, sw2:p1]
  - endpoints: [b20, sw2:p2]
";
    let ns = [
        "t-vlan-a10",
        "t-vlan-a20",
        "t-vlan-b10",
        "t-vlan-b20",
        "t-vlan-mon",
    ];
    let mut run = Running::start("vlan", yaml, &ns, &[]);
    let cap = Background::start(
        "t-vlan-mon",
        &["tcpdump", "-i", "eth0", "-n", "-e", "-l", "-p", "arp"],
        "listening on",
    );
    assert!(
        ping("t-vlan-a10", "10.32.0.3", 3),
        "VLAN 10 across the trunk"
    );
    assert!(
        ping("t-vlan-a20", "10.32.0.4", 3),
        "VLAN 20 across the trunk"
    );
    assert!(
        ping_fails("t-vlan-a10", "10.32.0.4"),
        "VLAN 10 must not reach VLAN 20"
    );
    assert!(
        ping_fails("t-vlan-b20", "10.32.0.1"),
        "VLAN 20 must not reach VLAN 10"
    );
    std::thread::sleep(Duration::from_millis(300));
    let seen = cap.finish();
    // tcpdump -e prints "ethertype 802.1Q (0x8100), length N: vlan 10, ..."
    assert!(
        seen.contains("vlan 10"),
        "tagged VLAN 10 ARP on the trunk:\n{seen}"
    );
    assert!(
        seen.contains("vlan 20"),
        "tagged VLAN 20 ARP on the trunk:\n{seen}"
    );
    let untagged_arp = seen
        .lines()
        .filter(|l| l.contains("ethertype ARP") && !l.contains("802.1Q"))
        .count();
    assert_eq!(
        untagged_arp, 0,
        "nothing untagged on a trunk without native VLAN:\n{seen}"
    );
    let (ok, out) = run.stop();
    assert!(ok, "{out}");
    assert!(out.contains("sw2 (switch)"), "{out}");
}

#[test]
fn sigterm_removes_every_namespace_and_tap() {
    if !require_root() {
        return;
    }
    let yaml = "\
name: t-term
nodes:
  h1: { kind: host, address: 10.33.0.1/24, mac: 02:33:00:00:00:01, mtu: 1400 }
  h2: { kind: host, address: 10.33.0.2/24, gateway: 10.33.0.254 }
  vm: { kind: tap, ifname: tterm-vm }
  sw1: { kind: switch }
links:
  - endpoints: [h1, sw1:p1]
  - endpoints: [h2, sw1:p2]
  - endpoints: [vm, sw1:p3]
";
    let mut run = Running::start("term", yaml, &["t-term-h1", "t-term-h2"], &["tterm-vm"]);
    let present = netns_list();
    assert!(present.contains(&"t-term-h1".to_string()), "{present:?}");
    assert!(present.contains(&"t-term-h2".to_string()), "{present:?}");
    assert!(
        link_exists("tterm-vm"),
        "TAP for the VM exists while running"
    );
    // The host is configured as written.
    let link = ns_exec("t-term-h1", &["ip", "-o", "link", "show", "eth0"]);
    let link = String::from_utf8_lossy(&link.stdout);
    assert!(
        link.contains("mtu 1400") && link.contains("02:33:00:00:00:01"),
        "{link}"
    );
    let route = ns_exec("t-term-h2", &["ip", "route", "show", "default"]);
    assert!(String::from_utf8_lossy(&route.stdout).contains("via 10.33.0.254"));

    let (ok, out) = run.stop();
    assert!(ok, "clean exit on SIGTERM:\n{out}");
    let after = netns_list();
    assert!(
        !after.iter().any(|n| n.starts_with("t-term-")),
        "leftover namespaces: {after:?}"
    );
    assert!(!link_exists("tterm-vm"), "leftover TAP tterm-vm");
    assert!(
        out.contains("ports:") && out.contains("h1:eth0"),
        "counters printed:\n{out}"
    );
}

#[test]
fn a_vm_attached_to_a_tap_node_talks_to_a_namespace_host() {
    if !require_root() {
        return;
    }
    use nfv_dataplane::port::TapDevice;
    use nfv_dataplane::sys::fdio;
    let yaml = "\
name: t-vm
nodes:
  h1: { kind: host, address: 10.34.0.1/24 }
  vm: { kind: tap, ifname: tvm-tap }
  sw1: { kind: switch }
links:
  - endpoints: [h1, sw1:p1]
  - endpoints: [vm, sw1:p2]
";
    let mut run = Running::start("vm", yaml, &["t-vm-h1"], &["tvm-tap"]);
    // Attach to the TAP exactly as QEMU's `-netdev tap,ifname=tvm-tap` does.
    let vm = TapDevice::create("tvm-tap").unwrap();
    let vm_mac = [0x02, 0x34, 0, 0, 0, 0x99];
    // ARP request: who has 10.34.0.1? tell 10.34.0.99
    let mut arp = Vec::new();
    arp.extend_from_slice(&[0xff; 6]);
    arp.extend_from_slice(&vm_mac);
    arp.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
    arp.extend_from_slice(&vm_mac);
    arp.extend_from_slice(&[10, 34, 0, 99]);
    arp.extend_from_slice(&[0; 6]);
    arp.extend_from_slice(&[10, 34, 0, 1]);
    arp.resize(60, 0);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 2048];
    let mut got_reply = false;
    'outer: while Instant::now() < deadline {
        fdio::write(vm.as_raw_fd(), &arp).unwrap();
        let until = Instant::now() + Duration::from_millis(500);
        while Instant::now() < until {
            match fdio::read(vm.as_raw_fd(), &mut buf) {
                Ok(n)
                    if n >= 42
                        && buf[..6] == vm_mac
                        && buf[12..14] == [0x08, 0x06]
                        && buf[21] == 2 =>
                {
                    assert_eq!(&buf[28..32], &[10, 34, 0, 1], "reply is from 10.34.0.1");
                    got_reply = true;
                    break 'outer;
                }
                Ok(_) => {}
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }
    assert!(got_reply, "the VM got h1's ARP reply through the switch");
    drop(vm);
    let (ok, out) = run.stop();
    assert!(ok, "{out}");
    assert!(!link_exists("tvm-tap"));
}

#[test]
fn bad_topology_gives_the_exact_error_and_creates_nothing() {
    if !require_root() {
        return;
    }
    let dir = TempDir::new("bad");
    let file = dir.file(
        "bad.yaml",
        "\
name: t-bad
nodes:
  h1: { kind: host, address: 10.35.0.1/24 }
  h2: { kind: host, address: 10.35.0.300/24 }
  sw1: { kind: switch }
links:
  - endpoints: [h1, sw1:p1]
  - endpoints: [h2, sw9:p2]
",
    );
    let none_created = || !netns_list().iter().any(|n| n.starts_with("t-bad-"));
    for cmd in ["check", "run"] {
        let out = Command::new(nfv_bin())
            .arg(cmd)
            .arg(&file)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "nfv {cmd} exit code");
        let err = String::from_utf8_lossy(&out.stderr);
        let f = file.display();
        let expected = format!(
            "error: {f}:4:30: nodes.h2.address: \"10.35.0.300/24\": invalid IPv4 CIDR (expected a.b.c.d/len)\n"
        );
        assert!(
            err.starts_with(&expected),
            "nfv {cmd} stderr:\n{err}\nexpected:\n{expected}"
        );
    }
    assert!(none_created(), "nothing created");
    // Semantic problems are all reported together.
    let file2 = dir.file(
        "bad2.yaml",
        "\
name: t-bad
nodes:
  h1: { kind: host, address: 10.35.0.1/24 }
  h2: { kind: host, address: 10.35.0.1/24 }
  sw1: { kind: switch, ports: { p1: { vlan: 4095 } } }
links:
  - endpoints: [h1, sw1:p1]
  - endpoints: [h2, sw9:p2]
",
    );
    let out = Command::new(nfv_bin())
        .arg("run")
        .arg(&file2)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nodes.sw1.ports.p1.vlan: \"4095\""), "{err}");
    assert!(
        err.contains("links[1].endpoints[1]: \"sw9:p2\": no node named \"sw9\""),
        "{err}"
    );
    assert!(err.contains("nodes.h2.address: \"10.35.0.1/24\""), "{err}");
    assert!(err.contains("3 problems found"), "{err}");
    assert!(none_created(), "nothing created");
}

#[test]
fn leftovers_from_a_killed_run_are_reported_then_cleaned() {
    if !require_root() {
        return;
    }
    let yaml = "\
name: t-left
nodes:
  h1: { kind: host, address: 10.36.0.1/24 }
  h2: { kind: host, address: 10.36.0.2/24 }
  sw1: { kind: switch }
links:
  - endpoints: [h1, sw1:p1]
  - endpoints: [h2, sw1:p2]
";
    let mut run = Running::start("left", yaml, &["t-left-h1", "t-left-h2"], &[]);
    // SIGKILL: nfv gets no chance to clean up.
    let mut child = run.child.take().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        netns_list().contains(&"t-left-h1".to_string()),
        "SIGKILL leaves the namespace"
    );

    let file = run.dir.file("topo.yaml", yaml);
    let out = Command::new(nfv_bin())
        .arg("run")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("remove it with `ip netns del t-left-h1`"),
        "{err}"
    );
    assert!(
        err.contains("remove it with `ip netns del t-left-h2`"),
        "{err}"
    );

    let out = Command::new(nfv_bin())
        .arg("clean")
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success());
    let after = netns_list();
    assert!(!after.iter().any(|n| n.starts_with("t-left-")), "{after:?}");
    // And now it starts again.
    let mut again = Running::start("left2", yaml, &["t-left-h1", "t-left-h2"], &[]);
    assert!(ping("t-left-h1", "10.36.0.2", 2));
    assert!(again.stop().0);
}

#[test]
fn demo_runs_real_traffic_and_cleans_up() {
    if !require_root() {
        return;
    }
    let out = Command::new(nfv_bin()).arg("demo").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = text.lines().find(|l| l.starts_with("UDP echo")).unwrap();
    let replies: usize = line
        .split_whitespace()
        .find_map(|w| w.strip_suffix("/1000"))
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(replies >= 990, "{line}");
    assert!(text.contains("TCP h1 -> h2:"), "{text}");
    assert!(
        text.contains("every packet forwarded or dropped with a reason"),
        "{text}"
    );
    assert!(!netns_list().iter().any(|n| n.starts_with("nfvdemo-")));
}

#[test]
fn jumbo_frames_pass_between_jumbo_hosts_and_are_counted_too_big_for_a_1500_host() {
    if !require_root() {
        return;
    }
    let yaml = "\
name: t-mtu
nodes:
  j1: { kind: host, address: 10.37.0.1/24, mtu: 9000 }
  j2: { kind: host, address: 10.37.0.2/24, mtu: 9000 }
  s3: { kind: host, address: 10.37.0.3/24 }
  sw1: { kind: switch }
links:
  - endpoints: [j1, sw1:p1]
  - endpoints: [j2, sw1:p2]
  - endpoints: [s3, sw1:p3]
";
    let mut run = Running::start("mtu", yaml, &["t-mtu-j1", "t-mtu-j2", "t-mtu-s3"], &[]);
    let big = |dst: &str| {
        ns_exec(
            "t-mtu-j1",
            &[
                "ping", "-n", "-q", "-c", "3", "-i", "0.2", "-W", "1", "-M", "do", "-s", "8000",
                dst,
            ],
        )
    };
    let out = big("10.37.0.2");
    assert!(
        out.status.success(),
        "8 KB ping between 9000-MTU hosts: {out:?}"
    );
    assert!(
        ping("t-mtu-j1", "10.37.0.3", 2),
        "small frames reach the 1500-MTU host"
    );
    let out = big("10.37.0.3");
    assert!(
        !out.status.success(),
        "8 KB frames cannot enter a 1500-MTU host"
    );
    let (ok, text) = run.stop();
    assert!(ok, "{text}");
    let s3 = text
        .lines()
        .find(|l| l.trim_start().starts_with("s3:eth0"))
        .unwrap();
    assert!(
        s3.contains("too_big=3"),
        "the three big echo requests: {s3}"
    );
}

#[test]
fn busy_polling_topology_forwards_and_stops_cleanly() {
    if !require_root() {
        return;
    }
    let yaml = "\
name: t-busy
poll: busy
nodes:
  h1: { kind: host, address: 10.38.0.1/24 }
  h2: { kind: host, address: 10.38.0.2/24 }
  sw1: { kind: switch }
links:
  - endpoints: [h1, sw1:p1]
  - endpoints: [h2, sw1:p2]
";
    let mut run = Running::start("busy", yaml, &["t-busy-h1", "t-busy-h2"], &[]);
    assert!(ping("t-busy-h1", "10.38.0.2", 3));
    let (ok, out) = run.stop();
    assert!(ok, "a busy worker still sees SIGTERM: {out}");
}
