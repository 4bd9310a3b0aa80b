//! `impair:` on a link, end to end: ping through a 20 ms delay, 1 000 pings through 30 %
//! loss, iperf3 TCP through a 10 Mbit/s rate limit, with packet accounting checked at exit;
//! plus the same element built in memory by the runtime, with time advanced by value.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;

use common::*;
use nfv_dataplane::testing::{QueuePort, arp_request};
use nfv_dataplane::{Instant, Port};

/// Two hosts joined by one link carrying `impair` (a YAML flow mapping).
fn topology(name: &str, net: u8, impair: &str) -> String {
    format!(
        "name: {name}\nnodes:\n  h1: {{ kind: host, address: 10.{net}.0.1/24 }}\n  \
         h2: {{ kind: host, address: 10.{net}.0.2/24 }}\n\
         links:\n  - {{ endpoints: [h1, h2], impair: {impair} }}\n"
    )
}

/// The `time=` of every reply `ping` printed, in ms.
fn rtts(out: &str) -> Vec<f64> {
    out.lines()
        .filter_map(|l| l.split("time=").nth(1))
        .filter_map(|t| t.split_whitespace().next())
        .filter_map(|t| t.parse().ok())
        .collect()
}

fn stop_and_check_accounting(run: &mut Running) {
    let (ok, out) = run.stop();
    assert!(ok, "nfv exits cleanly:\n{out}");
    assert!(
        out.contains("packet accounting: every packet forwarded or dropped with a reason"),
        "conservation holds at exit:\n{out}"
    );
}

#[test]
fn impair_in_memory_holds_a_frame_until_its_delay_is_over() {
    let topo = nfv_config::load_str(
        "t.yaml",
        &topology("t-imm", 79, "{ a-to-b: { delay: 20ms }, seed: 7 }"),
    )
    .unwrap()
    .topology;
    let mut ports: HashMap<String, QueuePort> = HashMap::new();
    let mut net = nfv_runtime::build_in_memory(&topo, 1, &mut |name: &str| -> Box<dyn Port> {
        let q = QueuePort::new(name);
        ports.insert(name.to_string(), q.clone());
        Box::new(q)
    })
    .unwrap();
    let g = &mut net.pipeline.graphs[0];
    let arp = arp_request([2, 0, 0, 0, 0, 1], [10, 79, 0, 1], [10, 79, 0, 2]);
    ports["h1:eth0"].push_rx(&arp);
    ports["h2:eth0"].push_rx(&arp);
    g.poll(Instant::from_secs(1));
    assert_eq!(
        ports["h1:eth0"].take_tx().len(),
        1,
        "b to a is not impaired"
    );
    let t19 = Instant::from_secs(1) + std::time::Duration::from_millis(19);
    g.run_timers(t19);
    g.poll(t19);
    assert!(ports["h2:eth0"].take_tx().is_empty(), "a to b: held 20 ms");
    let t20 = Instant::from_secs(1) + std::time::Duration::from_millis(20);
    g.run_timers(t20);
    g.poll(t20);
    assert_eq!(ports["h2:eth0"].take_tx(), vec![arp], "released, unchanged");
    let report = g.report();
    let imp = report
        .elements
        .iter()
        .find(|e| e.name == "h1:eth0~h2:eth0")
        .unwrap();
    assert_eq!(imp.kind, "impair");
    assert!(g.conservation_errors().is_empty());
}

#[test]
fn impair_delay_20ms_gives_a_ping_rtt_of_40_to_45ms() {
    if !require_root() {
        return;
    }
    let mut run = Running::start(
        "imd",
        &topology("t-imd", 76, "{ delay: 20ms }"),
        &["t-imd-h1", "t-imd-h2"],
        &[],
    );
    let out = ns_exec(
        "t-imd-h1",
        &[
            "ping",
            "-n",
            "-c",
            "20",
            "-i",
            "0.05",
            "-W",
            "2",
            "10.76.0.2",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut t = rtts(&text);
    assert!(t.len() >= 19, "pings answered:\n{text}");
    // The first one also waits for ARP through the same delay.
    t.remove(0);
    t.sort_by(f64::total_cmp);
    let median = t[t.len() / 2];
    eprintln!(
        "impair delay 20ms: median RTT {median} ms of {} pings",
        t.len()
    );
    assert!(
        (40.0..=45.0).contains(&median),
        "median RTT {median} ms through 20 ms each way:\n{text}"
    );
    stop_and_check_accounting(&mut run);
}

#[test]
fn impair_loss_30_percent_with_a_seed_loses_25_to_35_percent_of_1000_pings() {
    if !require_root() {
        return;
    }
    let mut run = Running::start(
        "iml",
        &topology("t-iml", 77, "{ a-to-b: { loss: 30% }, seed: 7 }"),
        &["t-iml-h1", "t-iml-h2"],
        &[],
    );
    // One ping first so that ARP is settled (its request may be lost too).
    assert!(eventually(10, || ping("t-iml-h1", "10.77.0.2", 1)));
    let out = ns_exec(
        "t-iml-h1",
        &[
            "ping",
            "-n",
            "-q",
            "-c",
            "1000",
            "-i",
            "0.01",
            "-W",
            "1",
            "10.77.0.2",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let received: u32 = text
        .split(" received")
        .next()
        .and_then(|s| s.rsplit(", ").next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no summary in:\n{text}"));
    let lost = 1000 - received;
    eprintln!("impair loss 30%: {lost} of 1000 pings lost");
    assert!(
        (250..=350).contains(&lost),
        "{lost} of 1000 lost at 30 %:\n{text}"
    );
    stop_and_check_accounting(&mut run);
}

#[test]
fn impair_rate_10mbit_caps_iperf3_tcp_at_9_to_10_5_mbits() {
    if !require_root() {
        return;
    }
    let mut run = Running::start(
        "imr",
        &topology("t-imr", 78, "{ rate: 10mbit }"),
        &["t-imr-h1", "t-imr-h2"],
        &[],
    );
    assert!(ping("t-imr-h1", "10.78.0.2", 1));
    let out = ns_exec("t-imr-h2", &["iperf3", "-s", "-D", "-1", "-p", "5478"]);
    assert!(out.status.success(), "iperf3 server: {out:?}");
    std::thread::sleep(std::time::Duration::from_millis(400));
    let out = ns_exec(
        "t-imr-h1",
        &[
            "iperf3",
            "-c",
            "10.78.0.2",
            "-p",
            "5478",
            "-t",
            "5",
            "-J",
            "--connect-timeout",
            "3000",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "iperf3 client failed: {text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mbits = v["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .unwrap()
        / 1e6;
    eprintln!("impair rate 10mbit: iperf3 TCP {mbits:.2} Mbit/s");
    assert!(
        (9.0..=10.5).contains(&mbits),
        "TCP through a 10 Mbit/s link: {mbits:.2} Mbit/s"
    );
    stop_and_check_accounting(&mut run);
}
