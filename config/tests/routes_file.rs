//! A routes file of a million lines loads, and says how long it took.
//!
//! There is no timing assertion (CI machines vary); run
//! `cargo test -p nfv-config --release --test routes_file -- --nocapture` to see the time.

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::time::Instant;

use nfv_config::{NodeKind, load_file};

const LINES: u32 = 1_000_000;

#[test]
fn a_million_line_routes_file_loads() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("routes_file_1m");
    std::fs::create_dir_all(&dir).expect("create temp dir");

    // Distinct /24s counting up from 32.0.0.0 (ending at 47.66.63.0/24), both line forms, a
    // comment now and then.
    let mut text = String::with_capacity(usize::try_from(LINES).unwrap_or(0) * 30);
    text.push_str("# generated: one /24 per line\n");
    for i in 0..LINES {
        let net = Ipv4Addr::from(0x2000_0000 + (i << 8));
        let via = if i % 2 == 0 {
            "10.1.0.254"
        } else {
            "10.2.0.254"
        };
        let sep = if i % 3 == 0 { " via " } else { "\t" };
        writeln!(text, "{net}/24{sep}{via}").expect("write to a String");
        if i % 100_000 == 0 {
            text.push_str("\n# another hundred thousand\n");
        }
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
    assert_eq!(r1.routes[1].to.to_string(), "32.0.0.0/24");
    assert_eq!(r1.routes[1].via, Ipv4Addr::new(10, 1, 0, 254));
    let last = r1.routes.last().expect("not empty");
    assert_eq!(last.to.to_string(), "47.66.63.0/24");
    assert_eq!(last.via, Ipv4Addr::new(10, 2, 0, 254));
    let _ = std::fs::remove_dir_all(&dir);
}
