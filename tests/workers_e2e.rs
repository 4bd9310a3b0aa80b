//! Several workers end to end: two namespace hosts on a switch, with the hosts' ports on
//! different worker threads, so every frame crosses a ring between workers (ping, a UDP
//! count checked in the metrics, a multi-megabyte HTTP transfer), and the rings' counters
//! balance exactly.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Command, Stdio};

use common::*;

const URL: &str = "http://127.0.0.1:19475/metrics";

fn get(url: &str) -> String {
    let out = Command::new("curl")
        .args(["-s", "-S", "--max-time", "5", url])
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(out.status.success(), "curl {url}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn two_workers_forward_across_rings_and_every_counter_balances() {
    if !require_root() {
        return;
    }
    let yaml = "\
name: t-mw
workers: 2
metrics: { listen: 127.0.0.1:19475 }
nodes:
  h1: { kind: host, address: 10.47.0.1/24, worker: 0 }
  h2: { kind: host, address: 10.47.0.2/24, worker: 1 }
  sw1: { kind: switch, worker: 0 }
links:
  - endpoints: [h1, sw1:p1]
  - endpoints: [h2, sw1:p2]
";
    let mut run = Running::start("mw", yaml, &["t-mw-h1", "t-mw-h2"], &[]);
    assert!(
        run.stdout_lines.iter().any(|l| l.contains("on 2 workers")),
        "{:?}",
        run.stdout_lines
    );

    // ARP and ICMP both ways: h2's frames cross worker 1 -> 0 to the switch, and back 0 -> 1.
    assert!(ping("t-mw-h1", "10.47.0.2", 3), "h1 -> h2 across workers");

    let to_h2 = r#"ring="sw1:p2 -> h2:eth0",from_worker="0",to_worker="1""#;
    let from_h2 = r#"ring="h2:eth0 -> sw1:p2",from_worker="1",to_worker="0""#;
    let enq = |t: &str, r: &str| metric(t, &format!("nfv_ring_enqueued_packets_total{{{r}}}"));
    let deq = |t: &str, r: &str| metric(t, &format!("nfv_ring_dequeued_packets_total{{{r}}}"));
    let full = |t: &str, r: &str| metric(t, &format!("nfv_ring_full_drops_total{{{r}}}"));
    let before = get(URL);
    assert!(
        enq(&before, to_h2) >= 3 && enq(&before, from_h2) >= 3,
        "{before}"
    );

    // Exactly N datagrams h1 -> h2 (a sink on h2, so no ICMP comes back): the ring towards
    // h2 carries exactly N more, all dequeued, none dropped (N < the ring's 1024 slots).
    let sink = udp_sink("t-mw-h2", "10.47.0.2", 9999);
    let before = get(URL);
    const N: u64 = 200;
    let send = ns_exec(
        "t-mw-h1",
        &[
            "python3",
            "-c",
            &format!(
                "import socket\n\
                 s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n\
                 [s.sendto(b'nfv-workers', ('10.47.0.2', 9999)) for _ in range({N})]"
            ),
        ],
    );
    assert!(send.status.success(), "{send:?}");
    let h2_tx = r#"nfv_port_tx_packets_total{node="h2",port="eth0"}"#;
    let mut after = String::new();
    assert!(
        eventually(5, || {
            after = get(URL);
            metric(&after, h2_tx) - metric(&before, h2_tx) >= N
        }),
        "h2 never got {N} frames:\n{after}"
    );
    assert_eq!(metric(&after, h2_tx) - metric(&before, h2_tx), N);
    assert_eq!(enq(&after, to_h2) - enq(&before, to_h2), N, "{after}");
    assert_eq!(deq(&after, to_h2), enq(&after, to_h2), "ring drained");
    assert_eq!(full(&after, to_h2), 0);
    drop(sink);

    // A bulk TCP transfer both ways through the rings (data one way, ACKs the other).
    let dir = TempDir::new("mw-www");
    let body: String = (0..4 * 1024 * 1024 / 64)
        .map(|i| format!("{i:063}\n"))
        .collect();
    dir.file("blob", &body);
    let www = Background::start(
        "t-mw-h2",
        &[
            "python3",
            "-u",
            "-m",
            "http.server",
            "8080",
            "--bind",
            "10.47.0.2",
            "--directory",
            dir.0.to_str().unwrap(),
        ],
        "",
    );
    assert!(
        eventually(10, || curl("t-mw-h1", "http://10.47.0.2:8080/", 2).0),
        "http.server did not answer across workers"
    );
    let out = ns_exec(
        "t-mw-h1",
        &[
            "curl",
            "-s",
            "-S",
            "--max-time",
            "30",
            "-o",
            "/dev/null",
            "-w",
            "%{size_download}",
            "http://10.47.0.2:8080/blob",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        body.len().to_string(),
        "the whole 4 MiB arrived"
    );
    drop(www);
    // The server's stack sent TSO super-frames, which crossed the ring whole.
    let m = get(URL);
    let gso = metric(
        &m,
        r#"nfv_port_rx_gso_packets_total{node="h2",port="eth0"}"#,
    );
    assert!(gso > 0, "no GSO frames from h2:\n{m}");

    // The admin API shows both workers and the rings.
    let api = get("http://127.0.0.1:19475/api/v1/counters");
    let v: serde_json::Value = serde_json::from_str(&api).unwrap();
    assert_eq!(v["workers"].as_array().unwrap().len(), 2, "{api}");
    assert_eq!(v["rings"].as_array().unwrap().len(), 2, "{api}");

    // On exit the report lists the rings; every packet was accounted for across workers.
    let (ok, out) = run.stop();
    assert!(ok, "{out}");
    assert!(out.contains("rings:"), "{out}");
    assert!(
        out.contains("packet accounting: every packet forwarded or dropped with a reason"),
        "{out}"
    );
    for line in out.lines().filter(|l| l.contains(" (worker ")) {
        let n: Vec<u64> = line
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        // enqueued, dequeued, full_drops (worker numbers are inside "(worker 0 -> 1)").
        let [.., enq, deq, _full] = n[..] else {
            panic!("{line}")
        };
        assert_eq!(enq, deq, "ring drained at exit: {line}");
    }
    assert!(netns_list().iter().all(|n| !n.starts_with("t-mw-")));
}

#[test]
fn a_multiqueue_host_spreads_its_flows_over_queues_on_two_workers() {
    if !require_root() {
        return;
    }
    let yaml = "\
name: t-mq
workers: 2
metrics: { listen: 127.0.0.1:19476 }
nodes:
  h1: { kind: host, address: 10.48.0.1/24, queues: 2 }
  h2: { kind: host, address: 10.48.0.2/24 }
  sw1: { kind: switch }
links:
  - endpoints: [h1, sw1:p1]
  - endpoints: [h2, sw1:p2]
";
    let mut run = Running::start("mq", yaml, &["t-mq-h1", "t-mq-h2"], &[]);
    assert!(ping("t-mq-h1", "10.48.0.2", 2), "h1 -> h2");
    let sink = udp_sink("t-mq-h2", "10.48.0.2", 9999);
    let url = "http://127.0.0.1:19476/metrics";
    let before = get(url);
    // 64 flows (one socket each, so 64 source ports), 4 datagrams per flow.
    const FLOWS: u64 = 64;
    let send = ns_exec(
        "t-mq-h1",
        &[
            "python3",
            "-c",
            &format!(
                "import socket\n\
                 for _ in range({FLOWS}):\n\
                 \x20   s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n\
                 \x20   [s.sendto(b'nfv-mq', ('10.48.0.2', 9999)) for _ in range(4)]\n\
                 \x20   s.close()"
            ),
        ],
    );
    assert!(send.status.success(), "{send:?}");
    let q0 = r#"nfv_port_rx_packets_total{node="h1",port="eth0"}"#;
    let q1 = r#"nfv_port_rx_packets_total{node="h1",port="eth0/q1"}"#;
    let h2_tx = r#"nfv_port_tx_packets_total{node="h2",port="eth0"}"#;
    let mut after = String::new();
    assert!(
        eventually(5, || {
            after = get(url);
            metric(&after, h2_tx) - metric(&before, h2_tx) >= 4 * FLOWS
        }),
        "h2 never got the datagrams:\n{after}"
    );
    assert_eq!(metric(&after, h2_tx) - metric(&before, h2_tx), 4 * FLOWS);
    let (d0, d1) = (
        metric(&after, q0) - metric(&before, q0),
        metric(&after, q1) - metric(&before, q1),
    );
    assert_eq!(
        d0 + d1,
        4 * FLOWS,
        "every datagram read once, from one queue or the other"
    );
    // The kernel picks a queue per flow by hash: 64 flows all on one of two queues would
    // have a probability of 2^-63.
    assert!(
        d0 > 0 && d1 > 0,
        "both queues carried flows: q0 {d0}, q1 {d1}"
    );
    drop(sink);
    let (ok, out) = run.stop();
    assert!(ok, "{out}");
    assert!(
        out.contains("packet accounting: every packet forwarded or dropped with a reason"),
        "{out}"
    );
}
