//! End-to-end: `nfv capture` on a running topology (two hosts on a switch), checked with
//! tshark.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const YAML: &str = "\
name: t-cap
metrics: { listen: 127.0.0.1:19480 }
nodes:
  h1:  { kind: host, address: 10.62.0.1/24 }
  h2:  { kind: host, address: 10.62.0.2/24 }
  sw1: { kind: switch }
links:
  - endpoints: [h1, sw1:p1]
  - endpoints: [h2, sw1:p2]
";

fn mac_of(ns: &str) -> String {
    let o = ns_exec(ns, &["cat", "/sys/class/net/eth0/address"]);
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// A permanent neighbour entry, so no ARP exchange lands in the capture.
fn static_neigh(ns: &str, ip: &str, mac: &str) {
    let o = ns_exec(
        ns,
        &[
            "ip",
            "neigh",
            "replace",
            ip,
            "lladdr",
            mac,
            "dev",
            "eth0",
            "nud",
            "permanent",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn capture_a_ping_and_read_it_with_tshark() {
    if !require_root() {
        return;
    }
    let mut run = Running::start("cap", YAML, &["t-cap-h1", "t-cap-h2"], &[]);
    static_neigh("t-cap-h1", "10.62.0.2", &mac_of("t-cap-h2"));
    static_neigh("t-cap-h2", "10.62.0.1", &mac_of("t-cap-h1"));
    let file = run.dir.0.join("t-cap-h2.pcap");

    // An unknown port is a clear error.
    let out = Command::new(nfv_bin())
        .args(["capture", "nosuch:eth0", "-w"])
        .arg(&file)
        .args(["-c", "1", "--seconds", "1", "-n", "t-cap"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no port \"nosuch:eth0\""), "{err}");

    let mut cap = Command::new(nfv_bin())
        .args(["capture", "h2:eth0", "-w"])
        .arg(&file)
        .args(["-c", "6", "--seconds", "20", "-n", "t-cap"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The capture is armed once the worker has answered; give it a moment.
    std::thread::sleep(Duration::from_millis(500));
    assert!(ping("t-cap-h1", "10.62.0.2", 3), "h1 -> h2");
    let deadline = Instant::now() + Duration::from_secs(25);
    while cap.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "nfv capture did not finish");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = cap.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("captured 6 frames on h2:eth0"), "{err}");

    let tshark = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(&file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&tshark.stdout);
    assert!(
        tshark.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&tshark.stderr)
    );
    println!("{text}");
    let count = |words: &[&str]| {
        text.lines()
            .filter(|l| words.iter().all(|w| l.contains(w)))
            .count()
    };
    assert_eq!(
        count(&["10.62.0.1", "10.62.0.2", "ICMP", "Echo (ping) request"]),
        3,
        "{text}"
    );
    assert_eq!(
        count(&["10.62.0.2", "10.62.0.1", "ICMP", "Echo (ping) reply"]),
        3,
        "{text}"
    );
    assert_eq!(text.lines().count(), 6, "{text}");

    let (ok, _) = run.stop();
    assert!(ok);
}

/// A broadcast frame from station `i` (local experimental ethertype 0x88b5).
fn broadcast_frame(i: u8) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, i]);
    f.extend_from_slice(&[0x88, 0xb5]);
    f.extend((0..46 + i).map(|b| b ^ i));
    f
}

/// The fields of the report line of port `name`: rx_packets, rx_bytes, tx_packets, tx_bytes.
fn port_counters(report: &str, name: &str) -> Vec<u64> {
    let line = report
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("no port {name} in {report}"));
    line.split_whitespace()
        .skip(1)
        .take(4)
        .map(|v| v.parse().unwrap())
        .collect()
}

#[test]
fn pcap_nodes_replay_through_a_switch_and_record() {
    if !require_root() {
        return;
    }
    let frames: Vec<Vec<u8>> = (1..=5).map(broadcast_frame).collect();
    let dir = TempDir::new("capf-fixture");
    let fixture = dir.0.join("fixture.pcap");
    let mut w = nfv_dataplane::capture::PcapWriter::new(Vec::new()).unwrap();
    for f in &frames {
        w.write(std::time::SystemTime::now(), f).unwrap();
    }
    std::fs::write(&fixture, w.finish().unwrap()).unwrap();
    let yaml = format!(
        "name: t-capf\nnodes:\n  \
           pcapsrc: {{ kind: pcap, read: {} }}\n  \
           pcapdst: {{ kind: pcap, write: {} }}\n  \
           sw1: {{ kind: switch }}\n\
         links:\n  - endpoints: [pcapsrc, sw1:p1]\n  - endpoints: [pcapdst, sw1:p2]\n",
        fixture.display(),
        dir.0.join("out.pcap").display()
    );
    let mut run = Running::start("capf", &yaml, &[], &[]);
    let out = dir.0.join("out.pcap");
    let deadline = Instant::now() + Duration::from_secs(10);
    let got = loop {
        let recs = std::fs::read(&out)
            .ok()
            .and_then(|b| nfv_dataplane::capture::read_pcap(&b).ok())
            .unwrap_or_default();
        if recs.len() >= frames.len() {
            break recs;
        }
        assert!(
            Instant::now() < deadline,
            "only {} frames arrived",
            recs.len()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let (ok, report) = run.stop();
    assert!(ok, "{report}");
    let data: Vec<Vec<u8>> = got.into_iter().map(|r| r.data).collect();
    assert_eq!(data, frames, "the frames arrived unchanged and in order");
    let bytes: u64 = frames.iter().map(|f| f.len() as u64).sum();
    assert_eq!(port_counters(&report, "pcapsrc:eth0"), [5, bytes, 0, 0]);
    assert_eq!(port_counters(&report, "pcapdst:eth0"), [0, 0, 5, bytes]);
}

#[test]
fn a_pcap_node_needs_a_readable_pcap_file() {
    let dir = TempDir::new("capv");
    dir.file(
        "bad.pcap",
        "this is not a pcap file, but long enough for a header",
    );
    let topo = dir.file(
        "topo.yaml",
        "name: t-capv\nnodes:\n  a: { kind: pcap, read: bad.pcap }\n  \
         b: { kind: pcap, read: missing.pcap }\n  c: { kind: pcap }\n  \
         sw1: { kind: switch }\n\
         links:\n  - endpoints: [a, sw1:p1]\n  - endpoints: [b, sw1:p2]\n  \
         - endpoints: [c:eth0, sw1:p3]\n",
    );
    let out = Command::new(nfv_bin())
        .arg("check")
        .arg(&topo)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let bad = dir.0.join("bad.pcap");
    let missing = dir.0.join("missing.pcap");
    assert!(
        err.contains(&format!(
            "pcap file {}: not a classic pcap file",
            bad.display()
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("pcap file {}: cannot read it", missing.display())),
        "{err}"
    );
    assert!(
        err.contains("a pcap node needs `read: FILE`, `write: FILE` or both"),
        "{err}"
    );
}

/// Issue 15 defect 1: `read: /dev/zero` (or a FIFO) used to hang `nfv check` at 100 % CPU
/// while it read the whole "file" before looking at its magic.
#[test]
fn nfv_check_refuses_dev_zero_and_a_fifo_at_once() {
    let dir = TempDir::new("capz");
    let fifo = dir.0.join("in.fifo");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let topo = dir.file(
        "topo.yaml",
        &format!(
            "name: t-capz\nnodes:\n  a: {{ kind: pcap, read: /dev/zero }}\n  \
             b: {{ kind: pcap, read: {} }}\n  sw1: {{ kind: switch }}\n\
             links:\n  - endpoints: [a, sw1:p1]\n  - endpoints: [b, sw1:p2]\n",
            fifo.display()
        ),
    );
    let mut child = Command::new(nfv_bin())
        .arg("check")
        .arg(&topo)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("nfv check did not finish within 10 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("nodes.a.read: \"/dev/zero\": pcap file /dev/zero: not a regular file"),
        "{err}"
    );
    assert!(
        err.contains(&format!("pcap file {}: not a regular file", fifo.display())),
        "{err}"
    );
}
