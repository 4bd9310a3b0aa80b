//! `kind: pcap`: a port that replays a pcap file as received frames and records what it is
//! sent into another.

use anyhow::{Context as _, Result};
use nfv_config::{Node, NodeKind, PCAP_IFNAME, PcapSpec};
use nfv_dataplane::Port;
use nfv_dataplane::port::PcapPort;

use super::{BuildCx, Kind};

/// The `pcap` kind.
#[derive(Debug)]
pub struct Pcap;

fn spec(node: &Node) -> &PcapSpec {
    match &node.kind {
        NodeKind::Pcap(p) => p,
        _ => unreachable!("the pcap kind builds pcap nodes only"),
    }
}

impl Kind for Pcap {
    fn name(&self) -> &'static str {
        "pcap"
    }

    fn graph_shape(&self) -> &'static str {
        "shape=cylinder"
    }

    fn describe(&self, node: &Node) -> Vec<String> {
        let p = spec(node);
        let mut lines = Vec::new();
        for (what, f) in [("read", &p.read), ("write", &p.write)] {
            if let Some(f) = f.as_ref().and_then(|f| f.file_name()) {
                lines.push(format!("{what} {}", f.to_string_lossy()));
            }
        }
        lines
    }

    fn build(&self, node: &Node, cx: &mut BuildCx<'_, '_>) -> Result<()> {
        let p = spec(node);
        cx.add_ports(node, PCAP_IFNAME, |_, _| {
            let (port, line) = create(&node.name, p)?;
            Ok((vec![Box::new(port) as Box<dyn Port>], line))
        })
    }
}

/// The port of a `kind: pcap` node: `read` opened and streamed, `write` created (truncated).
fn create(name: &str, p: &PcapSpec) -> Result<(PcapPort, String)> {
    let mut what = Vec::new();
    if let Some(f) = &p.read {
        what.push(format!(
            "replays {}{}{}",
            f.display(),
            p.rate_pps
                .map(|r| format!(" at {r} pps"))
                .unwrap_or_default(),
            if p.repeat { " in a loop" } else { "" }
        ));
    }
    if let Some(f) = &p.write {
        what.push(format!("records tx into {}", f.display()));
    }
    let port = PcapPort::open(
        PCAP_IFNAME,
        p.read.as_deref(),
        p.write.as_deref(),
        p.rate_pps,
        p.repeat,
    )
    .with_context(|| format!("pcap {name}"))?;
    Ok((port, format!("pcap {name}: {}", what.join(", "))))
}
