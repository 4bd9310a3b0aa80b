//! A routes file of a million lines loads, and says how long it took.
//!
//! There is no timing assertion (CI machines vary); run
//! `cargo test -p nfv-config --release --test routes_file -- --nocapture` to see the time.

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Instant;

use nfv_config::{NodeKind, load_file};

const LINES: u32 = 1_000_000;

#[test]
fn a_million_line_routes_file_loads() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("routes_file_1m");
    std::fs::create_dir_all(&dir).expect("create temp dir");

    // Distinct /24s from 32.0.0.0/24 to 47.66.63.0/24, in a scrambled order (route dumps are
    // often sorted, which would make the duplicate check's sort too easy), both line forms, a
    // comment now and then.
    let mut text = String::with_capacity(usize::try_from(LINES).unwrap_or(0) * 30);
    text.push_str("# generated: one /24 per line\n");
    let mut last = None;
    for i in (0..1u32 << 20).map(scramble).filter(|&j| j < LINES) {
        let net = Ipv4Addr::from(0x2000_0000 + (i << 8));
        let via = if i % 2 == 0 {
            "10.1.0.254"
        } else {
            "10.2.0.254"
        };
        let sep = if i % 3 == 0 { " via " } else { "\t" };
        writeln!(text, "{net}/24{sep}{via}").expect("write to a String");
        if i % 100_000 == 0 {
            text.push_str("\n# another hundred thousand or so\n");
        }
        last = Some((net, via));
    }
    std::fs::write(dir.join("routes.txt"), &text).expect("write routes file");
    let topology = dir.join("big.yaml");
    std::fs::write(
        &topology,
        "name: big\nnodes:\n  r1:\n    kind: router\n    interfaces:\n      a: { address: 10.1.0.1/24 }\n      b: { address: 10.2.0.1/24 }\n    routes: [ { to: 0.0.0.0/0, via: 10.1.0.254 } ]\n    routes-file: routes.txt\n",
    )
    .expect("write topology");

    let start = Instant::now();
    let loaded = load_file(&topology).unwrap_or_else(|e| panic!("should load:\n{e}"));
    let elapsed = start.elapsed();
    println!(
        "loaded {LINES} routes ({} MB) in {elapsed:?}",
        text.len() / 1_000_000
    );

    let Some(NodeKind::Router(r1)) = loaded.topology.node("r1").map(|n| &n.kind) else {
        panic!("r1 is a router");
    };
    assert_eq!(r1.routes.len(), 1 + usize::try_from(LINES).unwrap_or(0));
    assert_eq!(r1.routes[0].to.to_string(), "0.0.0.0/0");
    assert_eq!(
        r1.routes[1].to.to_string(),
        "32.0.0.0/24",
        "scramble(0) is 0"
    );
    assert_eq!(r1.routes[1].via, Ipv4Addr::new(10, 1, 0, 254));
    let (net, via) = last.expect("some lines");
    let got = r1.routes.last().expect("not empty");
    assert_eq!((got.to.addr, got.to.prefix_len), (net, 24));
    assert_eq!(got.via.to_string(), via);
    let mut tos: Vec<_> = r1.routes[1..]
        .iter()
        .map(|r| u32::from(r.to.addr))
        .collect();
    tos.sort_unstable();
    assert_eq!(tos.first(), Some(&0x2000_0000));
    assert_eq!(tos.last(), Some(&u32::from(Ipv4Addr::new(47, 66, 63, 0))));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A bijection on 0..2^20 (multiplying by an odd number mod 2^20), to shuffle the lines.
fn scramble(i: u32) -> u32 {
    i.wrapping_mul(0x9e37_79b1) & ((1 << 20) - 1)
}

/// A `routes-file` that is `/dev/zero` or a FIFO used to hang the load (read to the end
/// before parsing: /dev/zero has none, a FIFO blocks the open). Found while fuzzing the
/// loader (issue 15). Now it is refused at once: only regular files are read.
#[test]
fn a_routes_file_that_is_a_device_or_fifo_is_refused_at_once() {
    let dir = std::env::temp_dir().join(format!("nfv-routes-fifo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let fifo = dir.join("routes.fifo");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.is_ok_and(|s| s.success()), "mkfifo");
    for file in [PathBuf::from("/dev/zero"), fifo] {
        let yaml = format!(
            "name: t\nnodes:\n  r1:\n    kind: router\n    interfaces:\n      \
             a: {{ address: 10.1.0.1/24 }}\n    routes-file: {}\n",
            file.display()
        );
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(nfv_config::load_str("t.yaml", &yaml).map(|_| ()));
        });
        let err = match rx.recv_timeout(std::time::Duration::from_secs(2)) {
            Ok(r) => r.expect_err("refused").to_string(),
            Err(_) => panic!(
                "loading routes-file {} did not finish within 2 s",
                file.display()
            ),
        };
        assert!(
            err.contains(&format!(
                "cannot read routes file {}: not a regular file",
                file.display()
            )),
            "{err}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
