//! `GET /metrics`: the Prometheus text exposition of the workers' [`Snapshot`]s, asked for
//! fresh on every scrape.
//!
//! The text (format 0.0.4) is written by hand rather than through a metrics crate. The packet
//! path already keeps plain per-port and per-element counters that only the worker writes,
//! and the worker hands over an exact copy of all of them on request (see
//! `nfv_dataplane::worker`). A client library (the tikv `prometheus` crate, or
//! `prometheus-client`) would add a registry of its own counters that we would only copy the
//! snapshot into at every scrape (both crates offer a custom collector for exactly this
//! case), so its only remaining job would be the ~40 lines of formatting below.
//! See `docs/metrics.md` for the metric names, label rules and example queries.

use std::fmt::Write as _;
use std::time::Duration;

use nfv_dataplane::worker::{Controllers, Snapshot};

use crate::http::{Response, Status};

/// `Content-Type` of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How long a scrape waits for the worker's snapshot before answering 503.
pub const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(1);

/// `GET /metrics`: 200 with the exposition, or 503 (text) if a worker does not answer.
/// Blocking: asks the workers.
pub fn answer(ctl: &Controllers) -> Response {
    match ctl.snapshots(SNAPSHOT_TIMEOUT) {
        Ok(snaps) => Response {
            status: Status::OK,
            content_type: CONTENT_TYPE,
            body: render(&snaps).into_bytes(),
        },
        Err(e) => Response::text(Status::SERVICE_UNAVAILABLE, format!("{e}\n")),
    }
}

/// True if element counter `name` of `e` is a level (a table's or a queue's current size),
/// exported as the gauge `nfv_table_entries`; every other element counter only grows and is
/// exported as `nfv_function_events_total`. The element says which
/// ([`nfv_dataplane::Element::counter_info`]).
fn is_level(e: &nfv_dataplane::graph::ElementReport, name: &str) -> bool {
    nfv_dataplane::CounterInfo::is_gauge(e.counter_info, name)
}

/// Escape a label value: backslash, double quote and line feed.
fn escape_label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{k}=\"{}\"", escape_label(v));
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

/// `node:iface` → (`node`, `iface`); a name without `:` is the node, with `ifname` as port.
fn split_port<'a>(name: &'a str, ifname: &'a str) -> (&'a str, &'a str) {
    name.split_once(':').unwrap_or((name, ifname))
}

/// The whole exposition for `snapshots` (index = worker number).
pub fn render(snapshots: &[Snapshot]) -> String {
    let mut out = String::with_capacity(16 * 1024);
    header(
        &mut out,
        "nfv_build_info",
        "gauge",
        "Always 1; the nfv version is a label.",
    );
    sample(
        &mut out,
        "nfv_build_info",
        &[("version", env!("CARGO_PKG_VERSION"))],
        1,
    );

    let ports: Vec<_> = snapshots.iter().flat_map(|s| &s.graph.ports).collect();
    type PortField = fn(&nfv_dataplane::PortStats) -> u64;
    let port_counters: [(&str, &str, PortField); 7] = [
        (
            "nfv_port_rx_packets_total",
            "Frames received from the device (into the data plane).",
            |s| s.rx_packets,
        ),
        (
            "nfv_port_rx_bytes_total",
            "Bytes received from the device.",
            |s| s.rx_bytes,
        ),
        (
            "nfv_port_tx_packets_total",
            "Frames written to the device (out of the data plane).",
            |s| s.tx_packets,
        ),
        (
            "nfv_port_tx_bytes_total",
            "Bytes written to the device.",
            |s| s.tx_bytes,
        ),
        (
            "nfv_port_rx_no_buffer_total",
            "Times a read was skipped because the packet pool was empty.",
            |s| s.rx_no_buffer,
        ),
        (
            "nfv_port_rx_gso_packets_total",
            "Received GSO super-frames (TSO/USO from an offloading TAP), each also one rx packet.",
            |s| s.rx_gso_packets,
        ),
        (
            "nfv_port_tx_gso_segments_total",
            "Segments made in software from GSO frames for a port without offload.",
            |s| s.tx_gso_segments,
        ),
    ];
    for (name, help, get) in port_counters {
        header(&mut out, name, "counter", help);
        for p in &ports {
            let (node, port) = split_port(&p.name, &p.ifname);
            sample(
                &mut out,
                name,
                &[("node", node), ("port", port)],
                get(&p.stats),
            );
        }
    }
    let name = "nfv_port_errors_total";
    header(
        &mut out,
        name,
        "counter",
        "Device read (rx) or write (tx) errors other than EAGAIN.",
    );
    for p in &ports {
        let (node, port) = split_port(&p.name, &p.ifname);
        for (dir, n) in [("rx", p.stats.rx_errors), ("tx", p.stats.tx_errors)] {
            sample(
                &mut out,
                name,
                &[("node", node), ("port", port), ("direction", dir)],
                n,
            );
        }
    }
    let name = "nfv_port_kernel_drops_total";
    header(
        &mut out,
        name,
        "counter",
        "Frames the kernel dropped at the port's device: rx before nfv read them (TAP queue full), tx after nfv wrote them.",
    );
    for p in &ports {
        let (node, port) = split_port(&p.name, &p.ifname);
        let k = [
            ("rx", p.stats.kernel_rx_drops),
            ("tx", p.stats.kernel_tx_drops),
        ];
        for (dir, n) in k {
            let labels = [("node", node), ("port", port), ("direction", dir)];
            sample(&mut out, name, &labels, n);
        }
    }
    let name = "nfv_port_up";
    header(
        &mut out,
        name,
        "gauge",
        "1 while the port's device works; 0 once its link went down or the device is gone.",
    );
    for p in &ports {
        let (node, port) = split_port(&p.name, &p.ifname);
        let up = p.stats.link == nfv_dataplane::LinkState::Up;
        sample(
            &mut out,
            name,
            &[("node", node), ("port", port)],
            u64::from(up),
        );
    }
    let name = "nfv_port_drops_total";
    header(
        &mut out,
        name,
        "counter",
        "Frames dropped at a port, by reason (every reason is listed).",
    );
    for p in &ports {
        let (node, port) = split_port(&p.name, &p.ifname);
        for (r, n) in p.stats.drops.all() {
            sample(
                &mut out,
                name,
                &[("node", node), ("port", port), ("reason", r.as_str())],
                n,
            );
        }
    }

    let elems: Vec<_> = snapshots.iter().flat_map(|s| &s.graph.elements).collect();
    type ElemField = fn(&nfv_dataplane::graph::ElementReport) -> u64;
    let elem_values: [(&str, &str, &str, ElemField); 4] = [
        (
            "nfv_function_in_packets_total",
            "counter",
            "Packets handed to the function.",
            |e| e.in_packets,
        ),
        (
            "nfv_function_generated_total",
            "counter",
            "Packets the function made itself (flood copies, ICMP errors, ARP requests).",
            |e| e.generated,
        ),
        (
            "nfv_function_local_total",
            "counter",
            "Packets delivered to the function itself (e.g. ARP replies a router learns from).",
            |e| e.consumed,
        ),
        (
            "nfv_function_held",
            "gauge",
            "Packets the function holds right now (waiting for ARP, held SYNs and fragments).",
            |e| e.held,
        ),
    ];
    for (name, kind, help, get) in elem_values {
        header(&mut out, name, kind, help);
        for e in &elems {
            sample(
                &mut out,
                name,
                &[("node", &e.name), ("kind", e.kind)],
                get(e),
            );
        }
    }
    let name = "nfv_function_out_packets_total";
    header(
        &mut out,
        name,
        "counter",
        "Packets the function sent, by output gate.",
    );
    for e in &elems {
        for (gate, n) in &e.out_packets {
            sample(
                &mut out,
                name,
                &[("node", &e.name), ("kind", e.kind), ("gate", gate)],
                n,
            );
        }
    }
    let name = "nfv_function_drops_total";
    header(
        &mut out,
        name,
        "counter",
        "Packets the function dropped, by reason (every reason is listed).",
    );
    for e in &elems {
        for (r, n) in e.drops.all() {
            sample(
                &mut out,
                name,
                &[("node", &e.name), ("kind", e.kind), ("reason", r.as_str())],
                n,
            );
        }
    }
    let name = "nfv_table_entries";
    header(
        &mut out,
        name,
        "gauge",
        "Current size of a function's table or queue (MAC table, ARP cache, routes, NAT sessions, flows, held packets).",
    );
    for e in &elems {
        for (table, n) in e.counters.iter().filter(|(k, _)| is_level(e, k)) {
            sample(
                &mut out,
                name,
                &[("node", &e.name), ("kind", e.kind), ("table", table)],
                n,
            );
        }
    }
    let name = "nfv_function_events_total";
    header(
        &mut out,
        name,
        "counter",
        "Function-specific event counters (learned MACs, ARP requests sent, NAT sessions created, ...).",
    );
    for e in &elems {
        for (event, n) in e.counters.iter().filter(|(k, _)| !is_level(e, k)) {
            sample(
                &mut out,
                name,
                &[("node", &e.name), ("kind", e.kind), ("event", event)],
                n,
            );
        }
    }

    type WorkerField = fn(&nfv_dataplane::worker::WorkerStats) -> u64;
    let worker_counters: [(&str, &str, WorkerField); 6] = [
        (
            "nfv_worker_rounds_total",
            "Rounds of the worker loop (one poll of every port each).",
            |w| w.rounds,
        ),
        (
            "nfv_worker_busy_rounds_total",
            "Rounds in which at least one packet was received.",
            |w| w.busy_rounds,
        ),
        (
            "nfv_worker_rx_packets_total",
            "Packets the worker received from all its ports.",
            |w| w.rx_packets,
        ),
        (
            "nfv_worker_rx_batches_total",
            "Non-empty rx bursts; rx_packets / rx_batches is the average batch size.",
            |w| w.rx_batches,
        ),
        (
            "nfv_worker_wake_plans_total",
            "Early wake-ups planned for a burst predicted from the gaps between earlier ones.",
            |w| w.wake_plans,
        ),
        (
            "nfv_worker_wake_hits_total",
            "Planned early wake-ups whose poll window saw the predicted burst arrive.",
            |w| w.wake_hits,
        ),
    ];
    for (name, help, get) in worker_counters {
        header(&mut out, name, "counter", help);
        for (i, s) in snapshots.iter().enumerate() {
            sample(
                &mut out,
                name,
                &[("worker", &i.to_string())],
                get(&s.worker),
            );
        }
    }
    let name = "nfv_worker_busy_seconds_total";
    header(
        &mut out,
        name,
        "counter",
        "Time spent in rounds that received packets; its rate is the busy ratio.",
    );
    for (i, s) in snapshots.iter().enumerate() {
        sample(
            &mut out,
            name,
            &[("worker", &i.to_string())],
            s.worker.busy_time().as_secs_f64(),
        );
    }

    let rings: Vec<_> = snapshots.iter().flat_map(|s| &s.graph.rings).collect();
    type RingField = fn(&nfv_dataplane::port::ring::RingReport) -> u64;
    let ring_families: [(&str, &str, &str, RingField); 5] = [
        (
            "nfv_ring_enqueued_packets_total",
            "counter",
            "Packets the producing worker put into the ring between two workers.",
            |r| r.enqueued,
        ),
        (
            "nfv_ring_dequeued_packets_total",
            "counter",
            "Packets the consuming worker took out of the ring.",
            |r| r.dequeued,
        ),
        (
            "nfv_ring_full_drops_total",
            "counter",
            "Packets dropped because the ring was full (the consuming worker is behind).",
            |r| r.full_drops,
        ),
        (
            "nfv_ring_occupancy_packets",
            "gauge",
            "Packets in the ring when scraped (enqueued - dequeued).",
            |r| r.occupancy(),
        ),
        (
            "nfv_ring_capacity_packets",
            "gauge",
            "Slots of the ring.",
            |r| r.capacity as u64,
        ),
    ];
    if !rings.is_empty() {
        for (name, kind, help, get) in ring_families {
            header(&mut out, name, kind, help);
            for r in &rings {
                let (from, to) = (r.from_worker.to_string(), r.to_worker.to_string());
                sample(
                    &mut out,
                    name,
                    &[
                        ("ring", &r.name),
                        ("from_worker", &from),
                        ("to_worker", &to),
                    ],
                    get(r),
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use nfv_dataplane::graph::{ElementReport, GraphReport, PortReport};
    use nfv_dataplane::worker::WorkerStats;
    use nfv_dataplane::{DropCounters, DropReason, PortStats};
    use nfv_functions::SwitchDrop;

    fn small() -> Snapshot {
        let mut drops = DropCounters::default();
        drops.add(DropReason::TxFull, 2);
        let mut edrops = DropCounters::for_element(SwitchDrop::TABLE);
        edrops.add(SwitchDrop::SamePort, 1);
        Snapshot {
            graph: GraphReport {
                ports: vec![PortReport {
                    name: "h1:eth0".into(),
                    ifname: "eth0".into(),
                    stats: PortStats {
                        rx_packets: 10,
                        rx_bytes: 1000,
                        tx_packets: 7,
                        tx_bytes: 700,
                        rx_errors: 0,
                        tx_errors: 3,
                        rx_no_buffer: 0,
                        drops,
                        ..PortStats::default()
                    },
                }],
                elements: vec![ElementReport {
                    name: "sw1".into(),
                    kind: "switch",
                    in_packets: 10,
                    generated: 4,
                    out_packets: vec![("p1".into(), 5), ("p2".into(), 8)],
                    drops: edrops,
                    consumed: 0,
                    held: 0,
                    counters: vec![("learned", 2), ("fdb_entries", 2)],
                    counter_info: nfv_functions::l2_switch::SWITCH_COUNTERS,
                }],
                rings: Vec::new(),
            },
            worker: WorkerStats {
                rounds: 100,
                busy_rounds: 3,
                rx_packets: 10,
                rx_batches: 4,
                busy_nanos: 1_500_000,
                wake_plans: 7,
                wake_hits: 6,
            },
        }
    }

    #[test]
    fn rings_between_workers_are_exported_once_each() {
        let mut w1 = small();
        w1.graph.ports.clear();
        w1.graph.elements.clear();
        w1.graph.rings.push(nfv_dataplane::port::ring::RingReport {
            name: "sw1:p2 -> h2:eth0".into(),
            from_worker: 1,
            to_worker: 0,
            capacity: 1024,
            enqueued: 50,
            dequeued: 48,
            full_drops: 3,
        });
        let text = render(&[small(), w1]);
        for line in [
            "nfv_ring_enqueued_packets_total{ring=\"sw1:p2 -> h2:eth0\",from_worker=\"1\",to_worker=\"0\"} 50",
            "nfv_ring_dequeued_packets_total{ring=\"sw1:p2 -> h2:eth0\",from_worker=\"1\",to_worker=\"0\"} 48",
            "nfv_ring_full_drops_total{ring=\"sw1:p2 -> h2:eth0\",from_worker=\"1\",to_worker=\"0\"} 3",
            "nfv_ring_occupancy_packets{ring=\"sw1:p2 -> h2:eth0\",from_worker=\"1\",to_worker=\"0\"} 2",
            "nfv_ring_capacity_packets{ring=\"sw1:p2 -> h2:eth0\",from_worker=\"1\",to_worker=\"0\"} 1024",
            "nfv_worker_rounds_total{worker=\"1\"} 100",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line}\n{text}");
        }
        assert_eq!(
            text.matches("# TYPE nfv_ring_full_drops_total counter")
                .count(),
            1
        );
        // No ring, no ring families.
        assert!(!render(&[small()]).contains("nfv_ring_"));
    }

    /// The exact text, with the per-reason drop families reduced to their non-zero lines.
    #[test]
    fn renders_a_small_snapshot_exactly() {
        let text = render(&[small()]);
        let kept: String = text
            .lines()
            .filter(|l| {
                !(l.starts_with("nfv_port_drops_total")
                    || l.starts_with("nfv_function_drops_total"))
                    || !l.ends_with(" 0")
            })
            .map(|l| format!("{l}\n"))
            .collect();
        let v = env!("CARGO_PKG_VERSION");
        let expected = format!(
            r#"# HELP nfv_build_info Always 1; the nfv version is a label.
# TYPE nfv_build_info gauge
nfv_build_info{{version="{v}"}} 1
# HELP nfv_port_rx_packets_total Frames received from the device (into the data plane).
# TYPE nfv_port_rx_packets_total counter
nfv_port_rx_packets_total{{node="h1",port="eth0"}} 10
# HELP nfv_port_rx_bytes_total Bytes received from the device.
# TYPE nfv_port_rx_bytes_total counter
nfv_port_rx_bytes_total{{node="h1",port="eth0"}} 1000
# HELP nfv_port_tx_packets_total Frames written to the device (out of the data plane).
# TYPE nfv_port_tx_packets_total counter
nfv_port_tx_packets_total{{node="h1",port="eth0"}} 7
# HELP nfv_port_tx_bytes_total Bytes written to the device.
# TYPE nfv_port_tx_bytes_total counter
nfv_port_tx_bytes_total{{node="h1",port="eth0"}} 700
# HELP nfv_port_rx_no_buffer_total Times a read was skipped because the packet pool was empty.
# TYPE nfv_port_rx_no_buffer_total counter
nfv_port_rx_no_buffer_total{{node="h1",port="eth0"}} 0
# HELP nfv_port_rx_gso_packets_total Received GSO super-frames (TSO/USO from an offloading TAP), each also one rx packet.
# TYPE nfv_port_rx_gso_packets_total counter
nfv_port_rx_gso_packets_total{{node="h1",port="eth0"}} 0
# HELP nfv_port_tx_gso_segments_total Segments made in software from GSO frames for a port without offload.
# TYPE nfv_port_tx_gso_segments_total counter
nfv_port_tx_gso_segments_total{{node="h1",port="eth0"}} 0
# HELP nfv_port_errors_total Device read (rx) or write (tx) errors other than EAGAIN.
# TYPE nfv_port_errors_total counter
nfv_port_errors_total{{node="h1",port="eth0",direction="rx"}} 0
nfv_port_errors_total{{node="h1",port="eth0",direction="tx"}} 3
# HELP nfv_port_kernel_drops_total Frames the kernel dropped at the port's device: rx before nfv read them (TAP queue full), tx after nfv wrote them.
# TYPE nfv_port_kernel_drops_total counter
nfv_port_kernel_drops_total{{node="h1",port="eth0",direction="rx"}} 0
nfv_port_kernel_drops_total{{node="h1",port="eth0",direction="tx"}} 0
# HELP nfv_port_up 1 while the port's device works; 0 once its link went down or the device is gone.
# TYPE nfv_port_up gauge
nfv_port_up{{node="h1",port="eth0"}} 1
# HELP nfv_port_drops_total Frames dropped at a port, by reason (every reason is listed).
# TYPE nfv_port_drops_total counter
nfv_port_drops_total{{node="h1",port="eth0",reason="tx_full"}} 2
# HELP nfv_function_in_packets_total Packets handed to the function.
# TYPE nfv_function_in_packets_total counter
nfv_function_in_packets_total{{node="sw1",kind="switch"}} 10
# HELP nfv_function_generated_total Packets the function made itself (flood copies, ICMP errors, ARP requests).
# TYPE nfv_function_generated_total counter
nfv_function_generated_total{{node="sw1",kind="switch"}} 4
# HELP nfv_function_local_total Packets delivered to the function itself (e.g. ARP replies a router learns from).
# TYPE nfv_function_local_total counter
nfv_function_local_total{{node="sw1",kind="switch"}} 0
# HELP nfv_function_held Packets the function holds right now (waiting for ARP, held SYNs and fragments).
# TYPE nfv_function_held gauge
nfv_function_held{{node="sw1",kind="switch"}} 0
# HELP nfv_function_out_packets_total Packets the function sent, by output gate.
# TYPE nfv_function_out_packets_total counter
nfv_function_out_packets_total{{node="sw1",kind="switch",gate="p1"}} 5
nfv_function_out_packets_total{{node="sw1",kind="switch",gate="p2"}} 8
# HELP nfv_function_drops_total Packets the function dropped, by reason (every reason is listed).
# TYPE nfv_function_drops_total counter
nfv_function_drops_total{{node="sw1",kind="switch",reason="same_port"}} 1
# HELP nfv_table_entries Current size of a function's table or queue (MAC table, ARP cache, routes, NAT sessions, flows, held packets).
# TYPE nfv_table_entries gauge
nfv_table_entries{{node="sw1",kind="switch",table="fdb_entries"}} 2
# HELP nfv_function_events_total Function-specific event counters (learned MACs, ARP requests sent, NAT sessions created, ...).
# TYPE nfv_function_events_total counter
nfv_function_events_total{{node="sw1",kind="switch",event="learned"}} 2
# HELP nfv_worker_rounds_total Rounds of the worker loop (one poll of every port each).
# TYPE nfv_worker_rounds_total counter
nfv_worker_rounds_total{{worker="0"}} 100
# HELP nfv_worker_busy_rounds_total Rounds in which at least one packet was received.
# TYPE nfv_worker_busy_rounds_total counter
nfv_worker_busy_rounds_total{{worker="0"}} 3
# HELP nfv_worker_rx_packets_total Packets the worker received from all its ports.
# TYPE nfv_worker_rx_packets_total counter
nfv_worker_rx_packets_total{{worker="0"}} 10
# HELP nfv_worker_rx_batches_total Non-empty rx bursts; rx_packets / rx_batches is the average batch size.
# TYPE nfv_worker_rx_batches_total counter
nfv_worker_rx_batches_total{{worker="0"}} 4
# HELP nfv_worker_wake_plans_total Early wake-ups planned for a burst predicted from the gaps between earlier ones.
# TYPE nfv_worker_wake_plans_total counter
nfv_worker_wake_plans_total{{worker="0"}} 7
# HELP nfv_worker_wake_hits_total Planned early wake-ups whose poll window saw the predicted burst arrive.
# TYPE nfv_worker_wake_hits_total counter
nfv_worker_wake_hits_total{{worker="0"}} 6
# HELP nfv_worker_busy_seconds_total Time spent in rounds that received packets; its rate is the busy ratio.
# TYPE nfv_worker_busy_seconds_total counter
nfv_worker_busy_seconds_total{{worker="0"}} 0.0015
"#
        );
        assert_eq!(kept, expected);
        // Every reason is listed, zero or not.
        let port_drops = text
            .lines()
            .filter(|l| l.starts_with("nfv_port_drops_total{"))
            .count();
        assert_eq!(port_drops, DropReason::ALL.len());
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape_label("x\ny"), r"x\ny");
        let mut s = small();
        s.graph.elements[0].name = "we\"ird\\\n".into();
        let text = render(&[s]);
        assert!(
            text.contains(r#"nfv_function_in_packets_total{node="we\"ird\\\n",kind="switch"} 10"#),
            "{text}"
        );
    }

    #[test]
    fn port_names_split_into_node_and_port() {
        assert_eq!(split_port("h1:eth0", "eth0"), ("h1", "eth0"));
        assert_eq!(split_port("vm1", "vm1-tap"), ("vm1", "vm1-tap"));
    }

    #[test]
    fn levels_are_tables_and_queues_only() {
        use nfv_dataplane::CounterInfo;
        let all: Vec<&CounterInfo> = [
            nfv_functions::l2_switch::SWITCH_COUNTERS,
            nfv_functions::router::ROUTER_COUNTERS,
            nfv_functions::nat::NAT_COUNTERS,
            nfv_functions::firewall::FIREWALL_COUNTERS,
            nfv_functions::impair::IMPAIR_COUNTERS,
        ]
        .into_iter()
        .flatten()
        .collect();
        let is_gauge = |k: &str| {
            let c = all
                .iter()
                .find(|c| c.name == k)
                .unwrap_or_else(|| panic!("{k}"));
            c.kind == nfv_dataplane::CounterKind::Gauge
        };
        for k in [
            "fdb_entries",
            "arp_entries",
            "fib_routes",
            "sessions",
            "mappings",
            "hosts",
            "flows",
            "held_syns",
            "held_fragments",
            "a_to_b_held",
        ] {
            assert!(is_gauge(k), "{k}");
        }
        for k in [
            "learned",
            "flows_created",
            "sessions_created",
            "mappings_created",
            "fragments_held",
            "rules_matched_total",
        ] {
            assert!(!is_gauge(k), "{k}");
        }
    }
}
