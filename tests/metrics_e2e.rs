//! End-to-end: `nfv run` with `metrics:` serves Prometheus text whose counters match the
//! traffic sent. Scraped with `curl` from the host (the endpoint is on the host's loopback).

#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write as _;
use std::process::{Command, Stdio};

use common::*;

const URL: &str = "http://127.0.0.1:19464/metrics";

/// `curl` from the host: (HTTP status, headers, body).
fn fetch(url: &str, method: &str) -> (u32, String, String) {
    let out = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "5",
            "-X",
            method,
            "-D",
            "/dev/stderr",
            url,
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "curl {url}: {out:?}");
    let headers = String::from_utf8_lossy(&out.stderr).to_string();
    let status = headers
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (
        status,
        headers,
        String::from_utf8_lossy(&out.stdout).to_string(),
    )
}

fn scrape() -> String {
    let (status, headers, body) = fetch(URL, "GET");
    assert_eq!(status, 200, "{headers}{body}");
    let h = headers.to_ascii_lowercase();
    assert!(
        h.contains("content-type: text/plain; version=0.0.4; charset=utf-8"),
        "{headers}"
    );
    assert!(
        h.contains(&format!("content-length: {}", body.len())),
        "{headers}"
    );
    body
}

/// `promtool check metrics` on `text` if promtool is installed (required under CI).
fn promtool_check(text: &str) {
    let found = Command::new("promtool")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var("NFV_REQUIRE_PRIVILEGED").as_deref() != Ok("1"),
            "promtool is not installed (apt-get install prometheus)"
        );
        eprintln!("promtool not found: exposition not checked by promtool");
        return;
    }
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn metrics_count_exactly_the_datagrams_sent() {
    if !require_root() {
        return;
    }
    let yaml = "\
name: t-met
metrics: { listen: 127.0.0.1:19464 }
nodes:
  h1: { kind: host, address: 10.46.0.1/24 }
  h2: { kind: host, address: 10.46.0.2/24 }
  sw1: { kind: switch }
links:
  - endpoints: [h1, sw1:p1]
  - endpoints: [h2, sw1:p2]
";
    let mut run = Running::start("met", yaml, &["t-met-h1", "t-met-h2"], &[]);
    // A UDP sink on h2, so the datagrams cause no ICMP port-unreachable replies.
    let sink = udp_sink("t-met-h2", "10.46.0.2", 9999);

    // Other paths and methods.
    assert_eq!(fetch("http://127.0.0.1:19464/", "GET").0, 404);
    assert_eq!(fetch(URL, "POST").0, 405);

    // Resolve ARP both ways, then measure at once: the neighbour entries stay REACHABLE
    // for well over the second this takes, so neither host sends ARP in between.
    assert!(ping("t-met-h1", "10.46.0.2", 1), "h1 -> h2");
    let before = scrape();
    promtool_check(&before);
    const N: u64 = 50;
    let send = ns_exec(
        "t-met-h1",
        &[
            "python3",
            "-c",
            &format!(
                "import socket\n\
                 s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n\
                 [s.sendto(b'nfv-metrics', ('10.46.0.2', 9999)) for _ in range({N})]"
            ),
        ],
    );
    assert!(send.status.success(), "{send:?}");

    let h1_rx = r#"nfv_port_rx_packets_total{node="h1",port="eth0"}"#;
    let h2_rx = r#"nfv_port_rx_packets_total{node="h2",port="eth0"}"#;
    let h2_tx = r#"nfv_port_tx_packets_total{node="h2",port="eth0"}"#;
    let sw_in = r#"nfv_function_in_packets_total{node="sw1",kind="switch"}"#;
    let mut after = String::new();
    // A round reads at most one burst per port, so wait until all N are in.
    assert!(
        eventually(5, || {
            after = scrape();
            metric(&after, h2_tx) - metric(&before, h2_tx) >= N
        }),
        "h2 never got {N} frames:\n{after}"
    );
    let delta = |series: &str| metric(&after, series) - metric(&before, series);
    assert_eq!(
        delta(h1_rx),
        N,
        "h1 sent exactly the datagrams (no IPv6, no ARP)"
    );
    assert_eq!(
        delta(h2_rx),
        0,
        "h2 sent nothing back (UDP sink; ARP still fresh)"
    );
    assert_eq!(delta(h2_tx), N);
    assert_eq!(delta(sw_in), N);
    assert_eq!(
        delta(r#"nfv_function_out_packets_total{node="sw1",kind="switch",gate="p2"}"#),
        N
    );
    assert!(delta(r#"nfv_worker_rx_packets_total{worker="0"}"#) >= N);
    let batches = delta(r#"nfv_worker_rx_batches_total{worker="0"}"#);
    assert!((1..=N).contains(&batches), "{batches} batches");
    promtool_check(&after);
    drop(sink);

    let (ok, out) = run.stop();
    assert!(ok, "nfv exit status; output:\n{out}");
    assert!(!netns_list().iter().any(|n| n.starts_with("t-met-")));
}

#[test]
fn metrics_port_in_use_is_a_start_up_error_and_nothing_is_left() {
    if !require_root() {
        return;
    }
    let busy = std::net::TcpListener::bind("127.0.0.1:19465").unwrap();
    let yaml = "\
name: t-metb
metrics: { listen: 127.0.0.1:19465 }
nodes:
  h1: { kind: host, address: 10.47.0.1/24 }
  sw1: { kind: switch }
links:
  - endpoints: [h1, sw1:p1]
";
    let dir = TempDir::new("metb");
    let file = dir.file("topo.yaml", yaml);
    let out = Command::new(nfv_bin())
        .arg("run")
        .arg(&file)
        .output()
        .unwrap();
    drop(busy);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("couldn't listen for metrics on 127.0.0.1:19465"),
        "{err}"
    );
    assert!(!netns_list().iter().any(|n| n.starts_with("t-metb-")));
}
