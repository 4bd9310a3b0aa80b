//! End-to-end: checksum and segmentation offload on namespace hosts' TAPs (issue 6). Real
//! TCP (iperf3) through the switch, through router + NAT, and through a router whose link
//! MTU is smaller than the hosts' (PMTU discovery with DF, software segmentation and
//! fragmentation without). Names start with `t-g` so they never meet other tests'.
//!
//! What proves what:
//! * GSO is active: nfv's port counters show the sender's port received frames averaging
//!   far above 1514 bytes (64 KB super-frames cross the pipeline whole).
//! * Segmentation in software: a UDP super-frame (USO) switched to a VM's TAP, which nfv
//!   reaches through `AF_PACKET` (no offload), arrives as MSS-sized datagrams with full
//!   checksums, read by the test from the TAP's user side as QEMU would.
//! * Checksums are right as delivered: a capture in the receiving namespace is checked
//!   frame by frame (IPv4 header checksum, and the TCP checksum either complete or — for a
//!   CHECKSUM_PARTIAL frame, which tcpdump itself reports as "incorrect" — exactly the
//!   pseudo-header sum of the frame's own addresses and length, which is what the kernel
//!   finishes). After the NAT the addresses are the translated ones, so a wrong partial
//!   update shows up here. Where frames arrive as plain wire frames (software segments and
//!   fragments), the receiving kernel verifies every checksum itself: its
//!   `TcpInCsumErrors` must stay 0.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use nfv_dataplane::capture::read_pcap;
use nfv_dataplane::wire::checksum::{fold, pseudo_header_v4, sum, verify};

/// What a capture in a receiving namespace holds.
#[derive(Debug, Default)]
struct CaptureCheck {
    tcp_frames: usize,
    /// Frames over 1514 bytes (GSO super-frames as delivered to the stack).
    large: usize,
    complete_csum: usize,
    partial_csum: usize,
    /// Frames whose IPv4 or TCP checksum is wrong: must be 0.
    bad: Vec<String>,
    /// (src, dst) of the TCP frames seen.
    pairs: std::collections::BTreeSet<([u8; 4], [u8; 4])>,
    /// (src, source port) of the TCP frames seen.
    sources: std::collections::BTreeSet<([u8; 4], u16)>,
}

fn check_capture(path: &std::path::Path) -> CaptureCheck {
    let bytes = std::fs::read(path).unwrap();
    let mut c = CaptureCheck::default();
    for (n, rec) in read_pcap(&bytes).unwrap().iter().enumerate() {
        let f = &rec.data;
        if f.len() < 34 || f[12..14] != [0x08, 0x00] || f[23] != 6 {
            continue;
        }
        let ihl = usize::from(f[14] & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([f[16], f[17]]));
        let frag = u16::from_be_bytes([f[20], f[21]]);
        if frag & 0x3fff != 0 || 14 + total > f.len() {
            continue; // fragments are verified by the receiving kernel (nstat)
        }
        c.tcp_frames += 1;
        if f.len() > 1514 {
            c.large += 1;
        }
        let src = [f[26], f[27], f[28], f[29]];
        let dst = [f[30], f[31], f[32], f[33]];
        c.pairs.insert((src, dst));
        if !verify(&f[14..14 + ihl]) {
            c.bad.push(format!("frame {n}: IPv4 header checksum"));
            continue;
        }
        let l4 = &f[14 + ihl..14 + total];
        c.sources.insert((src, u16::from_be_bytes([l4[0], l4[1]])));
        let ps = pseudo_header_v4(
            u32::from_be_bytes(src),
            u32::from_be_bytes(dst),
            6,
            l4.len() as u16,
        );
        let field = u16::from_be_bytes([l4[16], l4[17]]);
        let norm = |x: u16| if x == 0xffff { 0 } else { x };
        if fold(sum(l4, ps)) == 0xffff {
            c.complete_csum += 1;
        } else if norm(field) == norm(fold(ps)) {
            c.partial_csum += 1;
        } else {
            c.bad.push(format!(
                "frame {n}: {src:?} -> {dst:?} len {}: TCP checksum {field:#06x} is neither \
                 complete nor the pseudo-header sum {:#06x}",
                f.len(),
                fold(ps)
            ));
        }
    }
    c
}

/// `rx_packets` and `rx_bytes` of `port` in nfv's exit report.
fn port_rx(report: &str, port: &str) -> (u64, u64) {
    let line = report
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{port} ")))
        .unwrap_or_else(|| panic!("no port {port} in the report:\n{report}"));
    let cols: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(2)
        .map(|v| v.parse().unwrap())
        .collect();
    (cols[0], cols[1])
}

/// A counter of a function from the report's `counters:` lines.
fn counter(report: &str, node: &str, name: &str) -> u64 {
    let mut in_node = false;
    for l in report.lines() {
        let t = l.trim_start();
        if t.starts_with(&format!("{node} (")) {
            in_node = true;
        } else if in_node && let Some(rest) = t.strip_prefix("counters: ") {
            for kv in rest.split_whitespace() {
                if let Some(v) = kv.strip_prefix(&format!("{name}=")) {
                    return v.parse().unwrap();
                }
            }
            panic!("{node} has no counter {name}:\n{report}");
        }
    }
    panic!("no function {node} in the report:\n{report}");
}

/// TCP from `client` to `server_addr` (in `server`) with iperf3; `extra` adds client flags
/// (`-R` for the reverse direction, `-n` to bound what a capture must hold). Returns the
/// received Gbit/s.
fn iperf(client: &str, server: &str, server_addr: &str, port: u16, extra: &[&str]) -> f64 {
    let p = port.to_string();
    let out = ns_exec(server, &["iperf3", "-s", "-D", "-1", "-p", &p]);
    assert!(out.status.success(), "iperf3 server: {out:?}");
    std::thread::sleep(Duration::from_millis(400));
    let mut args = vec![
        "iperf3",
        "-c",
        server_addr,
        "-p",
        &p,
        "-J",
        "--connect-timeout",
        "3000",
    ];
    args.extend_from_slice(extra);
    let out = ns_exec(client, &args);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "iperf3 client failed: {text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .unwrap()
        / 1e9
}

fn tcp_csum_errors(ns: &str) -> u64 {
    let out = ns_exec(ns, &["nstat", "-az", "TcpInCsumErrors"]);
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("TcpInCsumErrors"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no TcpInCsumErrors in nstat output: {text}"))
}

fn capture(ns: &str, file: &std::path::Path) -> Background {
    Background::start(
        ns,
        &[
            "tcpdump",
            "-i",
            "eth0",
            "-nn",
            "-s",
            "0",
            "-U",
            "-w",
            file.to_str().unwrap(),
            "tcp port 5201 or tcp port 5202",
        ],
        "listening on",
    )
}

const SWITCHED: &str = "\
name: t-gsw
nodes:
  a: { kind: host, address: 10.81.0.1/24 }
  b: { kind: host, address: 10.81.0.2/24 }
  sw: { kind: switch }
links:
  - endpoints: [a, sw:p1]
  - endpoints: [b, sw:p2]
";

#[test]
fn gso_switch_carries_tcp_super_frames_with_valid_checksums() {
    if !require_root() {
        return;
    }
    let mut run = Running::start("gsw", SWITCHED, &["t-gsw-a", "t-gsw-b"], &[]);
    let dir = TempDir::new("gsw-cap");
    let file = dir.0.join("b.pcap");
    let cap = capture("t-gsw-b", &file);
    let gbps = iperf("t-gsw-a", "t-gsw-b", "10.81.0.2", 5201, &["-n", "64M"]);
    std::thread::sleep(Duration::from_millis(300));
    cap.finish();
    let (ok, report) = run.stop();
    assert!(ok, "nfv exit: {report}");
    assert!(gbps > 0.05, "TCP through the switch: {gbps} Gbit/s");
    let (pkts, bytes) = port_rx(&report, "a:eth0");
    assert!(
        pkts > 0 && bytes / pkts > 8000,
        "the sender's port received GSO super-frames (average {} bytes per frame):\n{report}",
        bytes / pkts.max(1)
    );
    let c = check_capture(&file);
    assert!(c.bad.is_empty(), "bad checksums as delivered: {:#?}", c.bad);
    assert!(c.large > 10, "super-frames delivered whole to b: {c:?}");
    assert!(
        c.partial_csum > 0,
        "CHECKSUM_PARTIAL frames passed through: {c:?}"
    );
}

const NATTED: &str = "\
name: t-gnat
nodes:
  a: { kind: host, address: 10.82.0.2/24, gateway: 10.82.0.1 }
  b: { kind: host, address: 198.18.82.80/24, gateway: 198.18.82.1 }
  r1:
    kind: router
    interfaces:
      lan: { address: 10.82.0.1/24 }
      wan: { address: 198.18.82.1/24 }
  nat1: { kind: nat, external: [198.18.82.2], port-range: 20000-29999 }
links:
  - endpoints: [a, r1:lan]
chains:
  - [r1:wan, nat1, b]
";

#[test]
fn gso_router_and_nat_translate_super_frames_and_partial_checksums_both_ways() {
    if !require_root() {
        return;
    }
    let mut run = Running::start("gnat", NATTED, &["t-gnat-a", "t-gnat-b"], &[]);
    let dir = TempDir::new("gnat-cap");
    let (fa, fb) = (dir.0.join("a.pcap"), dir.0.join("b.pcap"));
    let (cap_a, cap_b) = (capture("t-gnat-a", &fa), capture("t-gnat-b", &fb));
    // Upload: a's super-frames are source-translated (in2out); download (-R): b's are
    // destination-translated (out2in). a's ephemeral ports (32768-60999) are outside the
    // NAT's port range, so ports are translated too: on a partial checksum they must not
    // be folded into the pseudo-header sum.
    let up = iperf("t-gnat-a", "t-gnat-b", "198.18.82.80", 5201, &["-n", "64M"]);
    let down = iperf(
        "t-gnat-a",
        "t-gnat-b",
        "198.18.82.80",
        5202,
        &["-n", "64M", "-R"],
    );
    std::thread::sleep(Duration::from_millis(300));
    cap_a.finish();
    cap_b.finish();
    let (ok, report) = run.stop();
    assert!(ok, "nfv exit: {report}");
    assert!(
        up > 0.05 && down > 0.05,
        "TCP through router+NAT: up {up}, down {down}"
    );
    for port in ["a:eth0", "b:eth0"] {
        let (pkts, bytes) = port_rx(&report, port);
        assert!(
            pkts > 0 && bytes / pkts > 4000,
            "{port} received GSO super-frames (average {} bytes):\n{report}",
            bytes / pkts.max(1)
        );
    }
    assert!(counter(&report, "nat1", "in2out") > 0);
    assert!(counter(&report, "nat1", "out2in") > 0);
    for (who, file, translated) in [
        ("b", &fb, ([198, 18, 82, 2], [198, 18, 82, 80])),
        ("a", &fa, ([198, 18, 82, 80], [10, 82, 0, 2])),
    ] {
        let c = check_capture(file);
        assert!(
            c.bad.is_empty(),
            "bad checksums as delivered to {who}: {:#?}",
            c.bad
        );
        assert!(c.large > 10, "super-frames delivered to {who}: {c:?}");
        assert!(
            c.pairs.contains(&translated),
            "{who} sees the translated addresses {translated:?}: {:?}",
            c.pairs
        );
    }
    let at_b = check_capture(&fb);
    let nat_ports: Vec<u16> = at_b
        .sources
        .iter()
        .filter(|(a, _)| *a == [198, 18, 82, 2])
        .map(|(_, p)| *p)
        .collect();
    assert!(
        !nat_ports.is_empty() && nat_ports.iter().all(|p| (20000..=29999).contains(p)),
        "source ports translated into the NAT's range: {nat_ports:?}"
    );
}

const SMALL_LINK: &str = "\
name: t-gmtu
nodes:
  a: { kind: host, address: 10.83.0.2/24, gateway: 10.83.0.1 }
  b: { kind: host, address: 10.84.0.2/24, gateway: 10.84.0.1 }
  r1:
    kind: router
    interfaces:
      lan: { address: 10.83.0.1/24 }
      wan: { address: 10.84.0.1/24, mtu: 1400 }
links:
  - endpoints: [a, r1:lan]
  - endpoints: [b, r1:wan]
";

#[test]
fn gso_over_a_smaller_mtu_link_is_segmented_without_df_and_pmtu_discovered_with_df() {
    if !require_root() {
        return;
    }
    let mut run = Running::start("gmtu", SMALL_LINK, &["t-gmtu-a", "t-gmtu-b"], &[]);
    // Without DF (PMTU discovery off in a): the router must cut a's 1448-byte-MSS super-
    // frames into segments and fragment those to 1400 bytes. b's kernel reassembles and
    // verifies every checksum itself.
    let out = ns_exec("t-gmtu-a", &["sysctl", "-qw", "net.ipv4.ip_no_pmtu_disc=1"]);
    assert!(out.status.success());
    let nodf = iperf("t-gmtu-a", "t-gmtu-b", "10.84.0.2", 5201, &["-t", "2"]);
    assert!(
        nodf > 0.001,
        "TCP without DF over the 1400-byte link: {nodf} Gbit/s"
    );
    assert_eq!(
        tcp_csum_errors("t-gmtu-b"),
        0,
        "software segments verify at b"
    );
    // With DF (the default): ICMP Fragmentation Needed, a learns the 1400-byte path MTU
    // and TCP goes on with smaller segments — still as GSO super-frames.
    let out = ns_exec("t-gmtu-a", &["sysctl", "-qw", "net.ipv4.ip_no_pmtu_disc=0"]);
    assert!(out.status.success());
    let df = iperf("t-gmtu-a", "t-gmtu-b", "10.84.0.2", 5202, &["-t", "2"]);
    assert!(df > 0.05, "TCP with DF after PMTU discovery: {df} Gbit/s");
    let route = ns_exec("t-gmtu-a", &["ip", "route", "get", "10.84.0.2"]);
    let route = String::from_utf8_lossy(&route.stdout).to_string();
    assert!(
        route.contains("mtu 1400"),
        "a learned the path MTU: {route}"
    );
    assert_eq!(tcp_csum_errors("t-gmtu-b"), 0);
    let (ok, report) = run.stop();
    assert!(ok, "nfv exit: {report}");
    assert!(
        counter(&report, "r1", "gso_segments_created") > 0,
        "{report}"
    );
    assert!(counter(&report, "r1", "fragments_created") > 0, "{report}");
    assert!(
        report.contains("fragmentation_needed="),
        "DF super-frames over the MTU were answered with Fragmentation Needed:\n{report}"
    );
    let (pkts, bytes) = port_rx(&report, "a:eth0");
    assert!(bytes / pkts.max(1) > 4000, "GSO active on a:\n{report}");
}

const TO_A_VM: &str = "\
name: t-gvm
nodes:
  a: { kind: host, address: 10.85.0.1/24 }
  vm: { kind: tap, ifname: t-gvm-tap }
  sw: { kind: switch }
links:
  - endpoints: [a, sw:p1]
  - endpoints: [vm, sw:p2]
";

/// Python in the host: one `send` of 10 000 bytes with `UDP_SEGMENT` 1000 (USO: the stack
/// hands the TAP one 10 KB super-frame).
const USO_SEND: &str = "\
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_UDP, 103, 1000)  # UDP_SEGMENT
s.sendto(bytes((i * 7) % 256 for i in range(10000)), ('10.85.0.9', 9999))
";

#[test]
fn gso_frames_to_a_vm_tap_are_segmented_in_software_with_full_checksums() {
    if !require_root() {
        return;
    }
    let mut run = Running::start("gvm", TO_A_VM, &["t-gvm-a"], &["t-gvm-tap"]);
    // Play the VM: attach to the user side of the persistent TAP, as QEMU would. nfv
    // reaches the TAP's kernel side with AF_PACKET, a port without offload.
    let vm = nfv_dataplane::port::TapDevice::create("t-gvm-tap").unwrap();
    let out = ns_exec(
        "t-gvm-a",
        &[
            "ip",
            "neigh",
            "add",
            "10.85.0.9",
            "lladdr",
            "02:00:00:00:85:09",
            "dev",
            "eth0",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let out = ns_exec("t-gvm-a", &["python3", "-c", USO_SEND]);
    assert!(out.status.success(), "{out:?}");
    let mut frames = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let mut buf = vec![0u8; 70_000];
    while frames.len() < 10 && std::time::Instant::now() < deadline {
        match nfv_dataplane::sys::fdio::read(vm.as_raw_fd(), &mut buf) {
            Ok(n) if n >= 42 && buf[12..14] == [0x08, 0x00] && buf[23] == 17 => {
                frames.push(buf[..n].to_vec());
            }
            Ok(_) => {}
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    let (ok, report) = run.stop();
    assert!(ok, "nfv exit: {report}");
    let (pkts, bytes) = port_rx(&report, "a:eth0");
    assert!(
        bytes >= 10_000 && pkts <= 2,
        "the host sent one UDP super-frame (USO), not 10 datagrams: {pkts} frames, {bytes} bytes:\n{report}"
    );
    assert_eq!(
        frames.len(),
        10,
        "10 UDP datagrams reached the VM: {report}"
    );
    let mut data = Vec::new();
    for f in &frames {
        assert_eq!(f.len(), 14 + 20 + 8 + 1000, "one segment per datagram");
        assert!(verify(&f[14..34]), "IPv4 header checksum");
        let l4 = &f[34..];
        assert_eq!(usize::from(u16::from_be_bytes([l4[4], l4[5]])), l4.len());
        let ps = pseudo_header_v4(
            u32::from_be_bytes([10, 85, 0, 1]),
            u32::from_be_bytes([10, 85, 0, 9]),
            17,
            l4.len() as u16,
        );
        assert_eq!(fold(sum(l4, ps)), 0xffff, "complete UDP checksum");
        data.extend_from_slice(&l4[8..]);
    }
    let want: Vec<u8> = (0..10_000u32).map(|i| ((i * 7) % 256) as u8).collect();
    assert_eq!(data, want, "the datagrams carry the payload in order");
}
