//! Human-readable counters: per port and per function, with drops by reason.

use std::fmt::Write as _;

use nfv_dataplane::GraphReport;

/// Format `r` as tables (ports, functions, rings between workers). Stable layout: tests
/// parse it.
pub fn format(r: &GraphReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "ports:");
    let _ = writeln!(
        s,
        "  {:<20} {:>10} {:>12} {:>10} {:>12} {:>8}  drops",
        "port", "rx_packets", "rx_bytes", "tx_packets", "tx_bytes", "errors"
    );
    for p in &r.ports {
        let st = &p.stats;
        let _ = writeln!(
            s,
            "  {:<20} {:>10} {:>12} {:>10} {:>12} {:>8}  {}",
            p.name,
            st.rx_packets,
            st.rx_bytes,
            st.tx_packets,
            st.tx_bytes,
            st.rx_errors + st.tx_errors,
            drops(st.drops.nonzero())
        );
    }
    if !r.elements.is_empty() {
        let _ = writeln!(s, "functions:");
    }
    for e in &r.elements {
        let out: u64 = e.out_packets.iter().map(|(_, n)| n).sum();
        let _ = writeln!(
            s,
            "  {} ({}): in {} generated {} out {} dropped {} local {} held {}  drops: {}",
            e.name,
            e.kind,
            e.in_packets,
            e.generated,
            out,
            e.drops.total(),
            e.consumed,
            e.held,
            drops(e.drops.nonzero())
        );
        let per_gate: Vec<String> = e
            .out_packets
            .iter()
            .map(|(g, n)| format!("{g}={n}"))
            .collect();
        let _ = writeln!(s, "    out by port: {}", per_gate.join(" "));
        let counters: Vec<String> = e.counters.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(s, "    counters: {}", counters.join(" "));
    }
    if !r.rings.is_empty() {
        let _ = writeln!(s, "rings:");
    }
    for ring in &r.rings {
        let _ = writeln!(
            s,
            "  {} (worker {} -> {}): enqueued {} dequeued {} full_drops {}",
            ring.name,
            ring.from_worker,
            ring.to_worker,
            ring.enqueued,
            ring.dequeued,
            ring.full_drops
        );
    }
    s
}

fn drops(it: impl Iterator<Item = (&'static nfv_dataplane::ReasonInfo, u64)>) -> String {
    let v: Vec<String> = it.map(|(r, n)| format!("{r}={n}")).collect();
    if v.is_empty() {
        "-".to_string()
    } else {
        v.join(" ")
    }
}
