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
            "error: {f}:3:21: nodes.h1.adress: unknown field \"adress\", expected one of kind, address, gateway, mac, mtu, ifname\n{f}: 1 problem found\n",
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
