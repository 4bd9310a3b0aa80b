//! `nfv graph FILE [-o OUT]`: the topology as a Graphviz DOT graph (docs/graph.md).
//!
//! One DOT node per topology node (label: name, kind, addresses; shape by kind), one undirected
//! edge per link (links from `chains:` included) with the interface names as `taillabel` /
//! `headlabel` and, on switch ports, the VLANs. Without `-o` the DOT goes to stdout; `-o x.dot`
//! writes it; `-o x.svg`/`.png`/`.pdf` pipes it through Graphviz's `dot`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};

use anyhow::{Context as _, Result, bail};
use nfv_config::{Endpoint, Node, Topology};

/// Output formats rendered by running `dot -T<format>`, by file extension.
const RENDERED: &[&str] = &["svg", "png", "pdf"];
/// Extensions written as DOT text.
const DOT_TEXT: &[&str] = &["dot", "gv"];

/// A DOT quoted string: `"` and `\` are escaped, so the text shows as written (no `\N`-style
/// escapes), and a line break becomes DOT's centred `\n`.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A multi-line label: every line escaped, joined with DOT's `\n`.
fn label(lines: &[String]) -> String {
    quote(&lines.join("\n"))
}

/// Label lines of a node: name, kind, then what its kind says identifies it.
fn node_lines(node: &Node) -> Vec<String> {
    let mut lines = vec![node.name.clone(), format!("({})", node.kind.kind_name())];
    lines.extend(nfv_runtime::kinds::of(&node.kind).describe(node));
    lines
}

/// The label of one link end: the interface name, plus what the node's kind adds (the VLANs
/// of a switch port; nothing for an access port in the default VLAN 1).
fn end_label(topo: &Topology, end: &Endpoint) -> String {
    let mut lines = vec![end.iface.clone()];
    if let Some(node) = topo.node(&end.node) {
        lines.extend(nfv_runtime::kinds::of(&node.kind).end_label(node, &end.iface));
    }
    label(&lines)
}

/// The topology as a DOT graph (an undirected `graph`).
pub fn to_dot(topo: &Topology) -> String {
    let mut out = String::new();
    let mut title = vec![format!("topology {}", topo.name)];
    if let Some(m) = &topo.metrics {
        title.push(format!("metrics http://{}/metrics", m.listen));
    }
    let _ = writeln!(out, "graph {} {{", quote(&topo.name));
    let _ = writeln!(
        out,
        "  graph [label={}, labelloc=t, rankdir=LR, fontname=\"Helvetica\"];",
        label(&title)
    );
    out.push_str("  node [fontname=\"Helvetica\", fontsize=10];\n");
    out.push_str("  edge [fontname=\"Helvetica\", fontsize=8, labeldistance=2];\n");
    for node in &topo.nodes {
        let _ = writeln!(
            out,
            "  {} [label={}, {}];",
            quote(&node.name),
            label(&node_lines(node)),
            nfv_runtime::kinds::of(&node.kind).graph_shape()
        );
    }
    for link in &topo.links {
        let _ = writeln!(
            out,
            "  {} -- {} [taillabel={}, headlabel={}];",
            quote(&link.a.node),
            quote(&link.b.node),
            end_label(topo, &link.a),
            end_label(topo, &link.b)
        );
    }
    out.push_str("}\n");
    out
}

/// What `-o` asks for.
#[derive(Debug, PartialEq, Eq)]
enum Output<'a> {
    Stdout,
    Dot(&'a Path),
    Rendered(&'a Path, &'static str),
}

fn output_kind(out: Option<&Path>) -> Result<Output<'_>> {
    let Some(path) = out else {
        return Ok(Output::Stdout);
    };
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    if DOT_TEXT.contains(&ext.as_str()) {
        return Ok(Output::Dot(path));
    }
    if let Some(f) = RENDERED.iter().find(|f| **f == ext) {
        return Ok(Output::Rendered(path, f));
    }
    bail!(
        "{}: unknown output format; use a file ending in .dot or .gv (DOT text), or .svg, .png or .pdf (rendered with Graphviz)",
        path.display()
    )
}

/// Run Graphviz `dot -T<format> -o <path>` on `dot_text`.
fn render(dot_text: &str, path: &Path, format: &str) -> Result<()> {
    let spawned = Command::new("dot")
        .arg(format!("-T{format}"))
        .arg("-o")
        .arg(path)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "graphviz is not installed (no `dot` on PATH), so {} cannot be rendered; \
             install graphviz (e.g. `apt-get install graphviz`) or write DOT with `-o {}`",
            path.display(),
            path.with_extension("dot").display()
        ),
        Err(e) => return Err(e).context("couldn't run `dot`"),
    };
    let write_res = child
        .stdin
        .take()
        .context("no stdin for `dot`")?
        .write_all(dot_text.as_bytes());
    let out = child.wait_with_output().context("couldn't run `dot`")?;
    if !out.status.success() {
        bail!(
            "`dot -T{format}` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    write_res.context("couldn't write to `dot`")?;
    Ok(())
}

/// `nfv graph FILE [-o OUT]`. Exit 1 for an invalid topology (as `nfv check`); `Err` (exit 2)
/// for output problems, including a missing Graphviz.
pub fn run(file: &Path, out: Option<&Path>) -> Result<ExitCode> {
    // Checked first, so a bad `-o` fails before the topology is reported.
    let output = output_kind(out)?;
    let Some(topo) = crate::load(file) else {
        return Ok(ExitCode::FAILURE);
    };
    let dot_text = to_dot(&topo);
    match output {
        Output::Stdout => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(dot_text.as_bytes())
                .and_then(|()| stdout.flush())
                .context("couldn't write to stdout")?;
        }
        Output::Dot(path) => std::fs::write(path, &dot_text)
            .with_context(|| format!("couldn't write {}", path.display()))?,
        Output::Rendered(path, format) => render(&dot_text, path, format)?,
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn topo(yaml: &str) -> Topology {
        nfv_config::load_str("t.yaml", yaml).unwrap().topology
    }

    #[test]
    fn quote_escapes_quotes_backslashes_and_newlines() {
        assert_eq!(quote("h1"), r#""h1""#);
        assert_eq!(quote("edge-pc.1:eth0"), r#""edge-pc.1:eth0""#);
        assert_eq!(quote(r#"a"b"#), r#""a\"b""#);
        assert_eq!(quote(r"a\nb\N"), r#""a\\nb\\N""#);
        assert_eq!(quote("a\nb"), r#""a\nb""#);
        assert_eq!(quote("a\r\nb"), r#""a\nb""#);
        assert_eq!(quote("{x} -- [y];"), r#""{x} -- [y];""#);
        assert_eq!(quote(""), r#""""#);
    }

    #[test]
    fn small_topology_renders_to_the_expected_dot() {
        let t = topo(
            "name: lab-1.x
nodes:
  h-1.a: { kind: host, address: 10.0.0.10/24, gateway: 10.0.0.1 }
  vm.1: { kind: tap, ifname: tap-vm1 }
  sw:
    kind: switch
    ports:
      up: { vlans: [10, 20], native-vlan: 1 }
      p2: { vlan: 10 }
  r1:
    kind: router
    interfaces:
      v10: { address: 10.0.0.1/24 }
      v20: { address: 10.0.20.1/24 }
      wan: { address: 192.0.2.1/30 }
  fw: { kind: firewall, default: drop, rules: [{ action: allow, direction: out }] }
  nat-1: { kind: nat, external: [198.51.100.2, 198.51.100.3] }
  web: { kind: host, address: 198.51.100.80/24 }
links:
  - endpoints: [h-1.a, sw:p2]
  - endpoints: [sw:up, r1:v10]
  - endpoints: [vm.1, r1:v20]
chains:
  - [r1:wan, fw, nat-1, web]
",
        );
        let dot = to_dot(&t);
        let expected = r#"graph "lab-1.x" {
  graph [label="topology lab-1.x", labelloc=t, rankdir=LR, fontname="Helvetica"];
  node [fontname="Helvetica", fontsize=10];
  edge [fontname="Helvetica", fontsize=8, labeldistance=2];
  "h-1.a" [label="h-1.a\n(host)\neth0 10.0.0.10/24\ngw 10.0.0.1", shape=box, style=rounded];
  "vm.1" [label="vm.1\n(tap)\nifname tap-vm1", shape=component];
  "sw" [label="sw\n(switch)\n2 ports\nVLANs 1,10,20", shape=rect, style=filled, fillcolor=lightgrey];
  "r1" [label="r1\n(router)\nv10 10.0.0.1/24\nv20 10.0.20.1/24\nwan 192.0.2.1/30", shape=octagon];
  "fw" [label="fw\n(firewall)\n1 rule, default drop", shape=note];
  "nat-1" [label="nat-1\n(nat)\nexternal 198.51.100.2\nexternal 198.51.100.3", shape=hexagon];
  "web" [label="web\n(host)\neth0 198.51.100.80/24", shape=box, style=rounded];
  "h-1.a" -- "sw" [taillabel="eth0", headlabel="p2\naccess 10"];
  "sw" -- "r1" [taillabel="up\ntrunk 10,20 native 1", headlabel="v10"];
  "vm.1" -- "r1" [taillabel="tap-vm1", headlabel="v20"];
  "r1" -- "fw" [taillabel="wan", headlabel="in"];
  "fw" -- "nat-1" [taillabel="out", headlabel="inside"];
  "nat-1" -- "web" [taillabel="outside", headlabel="eth0"];
}
"#;
        assert_eq!(dot, expected, "got:\n{dot}");
    }

    #[test]
    fn default_vlan_switch_has_no_vlan_line_and_metrics_show_in_the_title() {
        let t = topo(
            "name: s
metrics: { listen: 127.0.0.1:9464 }
nodes:
  a: { kind: host }
  b: { kind: host }
  sw: { kind: switch }
links:
  - endpoints: [a, sw:p1]
  - endpoints: [b, sw:p2]
",
        );
        let dot = to_dot(&t);
        assert!(dot.contains(r#""sw" [label="sw\n(switch)\n2 ports", shape=rect"#));
        assert!(dot.contains(r#""a" [label="a\n(host)\neth0", "#));
        assert!(dot.contains(r#""a" -- "sw" [taillabel="eth0", headlabel="p1"];"#));
        assert!(dot.contains(
            r#"graph [label="topology s\nmetrics http://127.0.0.1:9464/metrics", labelloc=t"#
        ));
    }

    #[test]
    fn output_kind_by_extension() {
        assert_eq!(output_kind(None).unwrap(), Output::Stdout);
        let p = Path::new("/tmp/x.dot");
        assert_eq!(output_kind(Some(p)).unwrap(), Output::Dot(p));
        let p = Path::new("/tmp/x.SVG");
        assert_eq!(output_kind(Some(p)).unwrap(), Output::Rendered(p, "svg"));
        let p = Path::new("/tmp/x.png");
        assert_eq!(output_kind(Some(p)).unwrap(), Output::Rendered(p, "png"));
        let err = output_kind(Some(Path::new("/tmp/x.txt"))).unwrap_err();
        assert!(err.to_string().contains("unknown output format"), "{err}");
    }
}
