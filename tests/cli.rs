//! The CLI without privileges: version, help, `check` exit codes.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;

use common::{TempDir, nfv_bin};

#[test]
fn version_and_help() {
    let out = Command::new(nfv_bin()).arg("--version").output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("nfv {}", env!("CARGO_PKG_VERSION"))
    );
    let out = Command::new(nfv_bin()).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for cmd in ["run", "check", "clean", "demo"] {
        assert!(help.contains(cmd), "--help lists {cmd}:\n{help}");
    }
}

#[test]
fn check_accepts_the_example_and_rejects_a_bad_file() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/switch.yaml");
    let out = Command::new(nfv_bin())
        .args(["check", example])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("ok: topology \"lab1\", 5 nodes, 4 links")
    );

    let dir = TempDir::new("cli");
    let bad = dir.file(
        "bad.yaml",
        "name: x\nnodes:\n  h1: { kind: host, adress: 10.0.0.1/24 }\n",
    );
    let out = Command::new(nfv_bin())
        .arg("check")
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "error: {f}:3:21: nodes.h1.adress: unknown field \"adress\", expected one of kind, address, gateway, queues, mac, mtu, ifname, worker; did you mean \"address\"?\n{f}: 1 problem found\n",
            f = bad.display()
        )
    );
}

#[test]
fn check_of_a_missing_file_names_it() {
    let out = Command::new(nfv_bin())
        .args(["check", "/nonexistent/topo.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/topo.yaml"));
}

/// True if Graphviz's `dot` runs. With `NFV_REQUIRE_PRIVILEGED=1` (CI) a missing `dot` fails.
fn have_dot() -> bool {
    let ok = Command::new("dot")
        .arg("-V")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok && std::env::var("NFV_REQUIRE_PRIVILEGED").as_deref() == Ok("1") {
        panic!("NFV_REQUIRE_PRIVILEGED=1 but graphviz (`dot`) is not installed");
    }
    ok
}

#[test]
fn graph_prints_dot_with_every_node_and_the_chain_links() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/edge.yaml");
    let out = Command::new(nfv_bin())
        .args(["graph", example])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dot = String::from_utf8(out.stdout).unwrap();
    assert!(dot.starts_with("graph \"edge\" {\n"), "{dot}");
    assert!(dot.ends_with("}\n"), "{dot}");
    for node in ["pc1", "pc2", "web", "lan", "r1", "fw1", "nat1"] {
        assert!(
            dot.contains(&format!("\n  \"{node}\" [label=\"{node}\\n(")),
            "{node}:\n{dot}"
        );
    }
    for line in [
        r#""r1" [label="r1\n(router)\nlan 10.0.0.1/24\nwan 203.0.113.1/24", shape=octagon];"#,
        r#""nat1" [label="nat1\n(nat)\nexternal 203.0.113.2", shape=hexagon];"#,
        r#""pc1" -- "lan" [taillabel="eth0", headlabel="p1"];"#,
        // The chain [r1:wan, fw1, nat1, web].
        r#""r1" -- "fw1" [taillabel="wan", headlabel="in"];"#,
        r#""fw1" -- "nat1" [taillabel="out", headlabel="inside"];"#,
        r#""nat1" -- "web" [taillabel="outside", headlabel="eth0"];"#,
    ] {
        assert!(dot.contains(line), "missing {line}:\n{dot}");
    }
    assert_eq!(dot.matches(" -- ").count(), 6, "{dot}");
}

#[test]
fn graph_writes_dot_and_renders_svg_with_graphviz() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/edge.yaml");
    let dir = TempDir::new("graph");
    let dot_file = dir.0.join("edge.dot");
    let out = Command::new(nfv_bin())
        .args(["graph", example, "-o"])
        .arg(&dot_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    let text = std::fs::read_to_string(&dot_file).unwrap();
    assert!(text.starts_with("graph \"edge\" {"), "{text}");

    // Without `dot` on PATH: a clear error, exit 2, and a hint to write DOT instead.
    let svg = dir.0.join("edge.svg");
    let out = Command::new(nfv_bin())
        .args(["graph", example, "-o"])
        .arg(&svg)
        .env("PATH", dir.0.join("no-such-dir"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("graphviz is not installed") && err.contains("edge.dot"),
        "{err}"
    );
    assert!(!svg.exists());

    if !have_dot() {
        eprintln!("skipped SVG rendering: graphviz (`dot`) is not installed");
        return;
    }
    let out = Command::new(nfv_bin())
        .args(["graph", example, "--output"])
        .arg(&svg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let svg_text = std::fs::read_to_string(&svg).unwrap();
    assert!(
        svg_text.starts_with("<?xml") || svg_text.starts_with("<svg"),
        "{}",
        &svg_text[..svg_text.len().min(200)]
    );
    assert!(svg_text.contains("nat1"));
}

#[test]
fn graph_rejects_an_invalid_topology_like_check_and_an_unknown_format() {
    let dir = TempDir::new("graph-bad");
    let bad = dir.file(
        "bad.yaml",
        "name: x\nnodes:\n  h1: { kind: host, adress: 10.0.0.1/24 }\n",
    );
    let out = Command::new(nfv_bin())
        .arg("graph")
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown field \"adress\""));

    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/edge.yaml");
    let out = Command::new(nfv_bin())
        .args(["graph", example, "-o"])
        .arg(dir.0.join("x.txt"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown output format"));
}

/// `nfv ARGS`: (exit code, stdout, stderr).
fn run_nfv(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(nfv_bin()).args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const SUBCOMMANDS: [&str; 15] = [
    "run",
    "up",
    "down",
    "check",
    "clean",
    "demo",
    "show",
    "stats",
    "trace",
    "capture",
    "graph",
    "ps",
    "inspect",
    "completion",
    "man",
];

#[test]
fn completion_scripts_know_every_subcommand_and_show_tables() {
    let (code, bash, err) = run_nfv(&["completion", "bash"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        bash.contains("complete -F _nfv"),
        "a bash completion function"
    );
    // The words offered after `nfv `: the top level `opts="-v ..."` line.
    let top = bash.lines().find(|l| l.contains("opts=\"-v")).unwrap();
    let words: Vec<&str> = top.split(['"', ' ']).collect();
    for cmd in SUBCOMMANDS {
        assert!(words.contains(&cmd), "bash completes {cmd}: {top}");
    }
    for t in ["fdb", "ports", "errors", "--json"] {
        assert!(bash.contains(t), "bash completes `show {t}`");
    }
    let (code, zsh, _) = run_nfv(&["completion", "zsh"]);
    assert_eq!(code, Some(0));
    assert!(
        zsh.starts_with("#compdef nfv"),
        "{}",
        &zsh[..zsh.len().min(80)]
    );
    let (code, fish, _) = run_nfv(&["completion", "fish"]);
    assert_eq!(code, Some(0));
    assert!(fish.contains("complete -c nfv") && fish.contains("stats"));
    let (code, _, err) = run_nfv(&["completion", "tcsh"]);
    assert_eq!(code, Some(2), "an unknown shell is a usage error: {err}");
    // bash itself accepts the script.
    if Command::new("bash").arg("--version").output().is_ok() {
        let dir = TempDir::new("compl");
        let f = dir.file("nfv.bash", &bash);
        let st = Command::new("bash").arg("-n").arg(&f).status().unwrap();
        assert!(st.success(), "bash -n rejects the script");
    }
}

#[test]
fn man_page_has_name_and_synopsis_and_renders() {
    let (code, roff, err) = run_nfv(&["man"]);
    assert_eq!(code, Some(0), "{err}");
    for s in [
        ".TH nfv 1",
        ".SH NAME",
        ".SH SYNOPSIS",
        ".SH SUBCOMMANDS",
        "nfv\\-check(1)",
    ] {
        assert!(roff.contains(s), "{s} in:\n{roff}");
    }
    // `man -l` renders it, where man is installed (man-db).
    if Command::new("man").arg("--version").output().is_ok() {
        let dir = TempDir::new("man");
        let page = dir.file("nfv.1", &roff);
        let out = Command::new("man")
            .arg("-l")
            .arg(&page)
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "100")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains("SYNOPSIS") && text.contains("nfv-show(1)"),
            "{text}"
        );
    }
    // --dir: one page per command, each a page of its own.
    let dir = TempDir::new("mandir");
    let (code, listed, err) = run_nfv(&["man", "--dir", dir.0.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(listed.lines().count(), SUBCOMMANDS.len() + 1, "{listed}");
    let check = std::fs::read_to_string(dir.0.join("nfv-check.1")).unwrap();
    assert!(check.contains(".TH nfv-check 1"), "{check}");
    assert!(check.contains("\\-\\-json"), "{check}");
}

#[test]
fn check_json_lists_problems_with_their_fields_and_exits_like_text() {
    let dir = TempDir::new("check-json");
    let bad = dir.file(
        "bad.yaml",
        "name: x\nnodes:\n  sw1: { kind: swich }\n  h1: { kind: host }\nlinks:\n  - endpoints: [h1, sw:p1]\n",
    );
    let (code, out, err) = run_nfv(&["check", "--json", bad.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.is_empty(), "JSON mode prints nothing else: {err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["errors"], 2);
    let p = &v["problems"][0];
    assert_eq!(p["file"], bad.to_str().unwrap());
    assert_eq!(
        (p["line"].as_u64(), p["column"].as_u64()),
        (Some(3), Some(16))
    );
    assert_eq!(p["path"], "nodes.sw1.kind");
    assert_eq!(p["value"], "swich");
    assert_eq!(p["severity"], "error");
    assert_eq!(p["suggestions"], serde_json::json!(["switch"]));
    assert!(p["message"].as_str().unwrap().starts_with("unknown kind"));
    assert_eq!(v["problems"][1]["suggestions"], serde_json::json!(["sw1"]));

    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/switch.yaml");
    let (code, out, _) = run_nfv(&["check", "--json", example]);
    assert_eq!(code, Some(0));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["topology"],
        serde_json::json!({"name": "lab1", "nodes": 5, "links": 4})
    );
}

#[test]
fn check_explains_a_dedented_line_with_a_caret_under_it() {
    let dir = TempDir::new("check-indent");
    let example = include_str!("../examples/switch.yaml");
    let text = example.replace("    ageing: 300s", "  ageing: 300s");
    let f = dir.file("sw.yaml", &text);
    let (code, _, err) = run_nfv(&["check", f.to_str().unwrap()]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains(":14:10: nodes: YAML syntax error: mapping values are not allowed"),
        "{err}"
    );
    assert!(
        err.contains("13 |   ageing: 300s\n   |   ^ indented 2, the lines around it 4\n"),
        "{err}"
    );
    assert!(
        err.contains("Indent line 13 by 4 spaces like line 12"),
        "{err}"
    );
}
