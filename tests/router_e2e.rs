//! End-to-end: the router with namespace hosts and the real tools — ping, traceroute (UDP and
//! ICMP), tracepath, tcpdump — plus a malformed frame injected from a namespace.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;

const ROUTED: &str = "\
name: t-rt
nodes:
  a1: { kind: host, address: 10.51.0.2/24, gateway: 10.51.0.1, mac: 02:51:00:00:00:02 }
  b1: { kind: host, address: 10.52.0.2/24, gateway: 10.52.0.1, mtu: 1400 }
  r1:
    kind: router
    interfaces:
      lan-a: { address: 10.51.0.1/24, mac: 02:51:00:00:00:01 }
      lan-b: { address: 10.52.0.1/24, mtu: 1400 }
    routes:
      - { to: 192.0.2.0/24, via: 10.52.0.254 }
links:
  - endpoints: [a1, r1:lan-a]
  - endpoints: [b1, r1:lan-b]
";

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn routed_ping_traceroute_tracepath_and_unreachables() {
    if !require_root() {
        return;
    }
    let mut run = Running::start("rt", ROUTED, &["t-rt-a1", "t-rt-b1"], &[]);
    assert!(
        ping("t-rt-a1", "10.52.0.2", 3),
        "a1 -> b1 through the router"
    );
    assert!(
        ping("t-rt-a1", "10.51.0.1", 2),
        "the router answers on lan-a"
    );
    assert!(
        ping("t-rt-a1", "10.52.0.1", 2),
        "and on lan-b's address, from lan-a"
    );

    // traceroute, UDP (default) and ICMP modes: the router, then the host.
    for mode in [&[][..], &["-I"][..]] {
        let mut args = vec![
            "traceroute",
            "-n",
            "-q",
            "1",
            "-N",
            "1",
            "-w",
            "2",
            "-m",
            "5",
        ];
        args.extend_from_slice(mode);
        args.push("10.52.0.2");
        let out = ns_exec("t-rt-a1", &args);
        let t = text(&out);
        let hops: Vec<&str> = t.lines().skip(1).collect();
        assert!(hops.len() >= 2, "traceroute {mode:?}:\n{t}");
        assert!(
            hops[0].trim_start().starts_with("1  10.51.0.1 "),
            "hop 1 {mode:?}:\n{t}"
        );
        assert!(
            hops[1].trim_start().starts_with("2  10.52.0.2 "),
            "hop 2 {mode:?}:\n{t}"
        );
    }

    // tracepath discovers the 1400-byte MTU of lan-b (Fragmentation Needed with next-hop MTU).
    let out = ns_exec("t-rt-a1", &["tracepath", "-n", "-m", "5", "10.52.0.2"]);
    let t = text(&out);
    assert!(t.contains("Resume: pmtu 1400"), "tracepath:\n{t}");

    // No route: Destination Net Unreachable from the router's lan-a address.
    let out = ns_exec("t-rt-a1", &["ping", "-n", "-c", "1", "-W", "2", "10.9.9.9"]);
    let t = text(&out);
    assert!(
        t.contains("From 10.51.0.1") && t.contains("Destination Net Unreachable"),
        "{t}"
    );
    // Next hop 10.52.0.254 does not exist: Destination Host Unreachable after ARP gives up.
    let out = ns_exec(
        "t-rt-a1",
        &["ping", "-n", "-c", "1", "-W", "6", "192.0.2.1"],
    );
    let t = text(&out);
    assert!(t.contains("Destination Host Unreachable"), "{t}");

    let (ok, out) = run.stop();
    assert!(ok, "{out}");
    assert!(out.contains("r1 (router)"), "{out}");
    assert!(out.contains("no_route="), "{out}");
}

#[test]
fn router_decrements_ttl_by_exactly_one_per_hop() {
    if !require_root() {
        return;
    }
    let mut run = Running::start(
        "ttl",
        &ROUTED.replace("t-rt", "t-ttl"),
        &["t-ttl-a1", "t-ttl-b1"],
        &[],
    );
    assert!(ping("t-ttl-a1", "10.52.0.2", 1), "warm up ARP");
    let cap = Background::start(
        "t-ttl-b1",
        &[
            "tcpdump",
            "-i",
            "eth0",
            "-n",
            "-v",
            "-l",
            "-p",
            "icmp[icmptype] == icmp-echo",
        ],
        "listening on",
    );
    let out = ns_exec(
        "t-ttl-a1",
        &[
            "ping",
            "-n",
            "-c",
            "3",
            "-i",
            "0.2",
            "-t",
            "17",
            "10.52.0.2",
        ],
    );
    assert!(out.status.success());
    std::thread::sleep(Duration::from_millis(300));
    let seen = cap.finish();
    let ttls: Vec<&str> = seen.lines().filter(|l| l.contains("ttl ")).collect();
    assert_eq!(ttls.len(), 3, "three echo requests captured:\n{seen}");
    assert!(
        ttls.iter().all(|l| l.contains("ttl 16,")),
        "sent with TTL 17, one hop:\n{seen}"
    );
    assert!(run.stop().0);
}

#[test]
fn router_on_a_switch_serves_a_shared_lan() {
    if !require_root() {
        return;
    }
    let yaml = "\
name: t-ros
nodes:
  h1: { kind: host, address: 10.53.0.2/24, gateway: 10.53.0.1 }
  h2: { kind: host, address: 10.53.0.3/24, gateway: 10.53.0.1 }
  srv: { kind: host, address: 10.54.0.2/24, gateway: 10.54.0.1 }
  sw1: { kind: switch }
  r1:
    kind: router
    interfaces:
      lan: { address: 10.53.0.1/24 }
      dmz: { address: 10.54.0.1/24 }
links:
  - endpoints: [h1, sw1:p1]
  - endpoints: [h2, sw1:p2]
  - endpoints: [sw1:p3, r1:lan]
  - endpoints: [srv, r1:dmz]
";
    let mut run = Running::start("ros", yaml, &["t-ros-h1", "t-ros-h2", "t-ros-srv"], &[]);
    assert!(
        ping("t-ros-h1", "10.54.0.2", 3),
        "h1 -> srv via switch and router"
    );
    assert!(ping("t-ros-h2", "10.54.0.2", 3), "h2 -> srv");
    assert!(
        ping("t-ros-h1", "10.53.0.3", 2),
        "h1 -> h2 stays on the switch"
    );
    assert!(ping("t-ros-srv", "10.53.0.2", 2), "srv -> h1");
    let (ok, out) = run.stop();
    assert!(ok, "{out}");
    // The router sees the switch's flooded traffic between h1 and h2 only until it is learned.
    assert!(
        out.contains("r1 (router)") && out.contains("sw1 (switch)"),
        "{out}"
    );
}

#[test]
fn malformed_ipv4_frame_is_dropped_with_its_reason_and_forwarding_continues() {
    if !require_root() {
        return;
    }
    use nfv_dataplane::sys::netlink::Netlink;
    use nfv_dataplane::sys::netns::NetNs;
    use nfv_dataplane::sys::packet_socket;
    use nfv_dataplane::testing::{eth_ipv4, ipv4};

    let yaml = ROUTED.replace("t-rt", "t-mal");
    let mut run = Running::start("mal", &yaml, &["t-mal-a1", "t-mal-b1"], &[]);
    assert!(ping("t-mal-a1", "10.52.0.2", 1));
    // A valid IPv4/UDP packet from a1 to b1, then its header checksum broken.
    let mut ip = ipv4([10, 51, 0, 2], [10, 52, 0, 2], 17, 64, &[0u8; 16]);
    ip[10] ^= 0xff;
    let frame = eth_ipv4([0x02, 0x51, 0, 0, 0, 1], [0x02, 0x51, 0, 0, 0, 2], &ip);
    let ns = NetNs::open("t-mal-a1").unwrap();
    ns.run_in(move || {
        let idx = Netlink::new().unwrap().link_index("eth0").unwrap();
        let fd = packet_socket::open(idx).unwrap();
        packet_socket::send(std::os::fd::AsRawFd::as_raw_fd(&fd), &frame).unwrap();
    })
    .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert!(ping("t-mal-a1", "10.52.0.2", 3), "forwarding continues");
    let (ok, out) = run.stop();
    assert!(ok, "{out}");
    let r1 = out.lines().find(|l| l.contains("r1 (router)")).unwrap();
    assert!(r1.contains("ip_bad_checksum=1"), "{r1}");
}
