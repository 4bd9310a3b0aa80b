//! End-to-end: the admin API of a running `nfv run` (`/api/v1/...` on `metrics.listen`) and
//! the `nfv show` / `nfv stats` commands that use it, on two PCs on a switch behind a router
//! and the chain router → firewall → NAT → web.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;

use common::*;

const API: &str = "127.0.0.1:19470";

const YAML: &str = "\
name: t-adm
metrics: { listen: 127.0.0.1:19470 }
nodes:
  pc1:  { kind: host, address: 10.61.0.10/24, gateway: 10.61.0.1 }
  pc2:  { kind: host, address: 10.61.0.11/24, gateway: 10.61.0.1 }
  web:  { kind: host, address: 203.0.113.80/24, gateway: 203.0.113.1 }
  lan:  { kind: switch }
  r1:
    kind: router
    interfaces:
      lan: { address: 10.61.0.1/24 }
      wan: { address: 203.0.113.1/24 }
  fw1:
    kind: firewall
    default: drop
    rules:
      - { action: allow, direction: out }
      - { action: allow, state: established }
  nat1:
    kind: nat
    external: [203.0.113.2]
links:
  - endpoints: [pc1, lan:p1]
  - endpoints: [pc2, lan:p2]
  - endpoints: [lan:p3, r1:lan]
chains:
  - [r1:wan, fw1, nat1, web]
";

/// `nfv ARGS`: (success, stdout, stderr).
fn nfv(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(nfv_bin()).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `nfv show ARGS --api API`, which must succeed; its stdout.
fn show(args: &[&str]) -> String {
    let mut a = vec!["show"];
    a.extend_from_slice(args);
    a.extend_from_slice(&["--api", API]);
    let (ok, out, err) = nfv(&a);
    assert!(ok, "nfv {a:?} failed: {err}{out}");
    out
}

fn mac_of(ns: &str) -> String {
    let o = ns_exec(ns, &["cat", "/sys/class/net/eth0/address"]);
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// A line of `text` containing every one of `words`.
fn has_line(text: &str, words: &[&str]) -> bool {
    text.lines().any(|l| words.iter().all(|w| l.contains(w)))
}

#[test]
fn admin_api_show_and_stats_on_a_running_topology() {
    if !require_root() {
        return;
    }
    let mut run = Running::start("adm", YAML, &["t-adm-pc1", "t-adm-pc2", "t-adm-web"], &[]);
    assert!(
        ping("t-adm-pc1", "10.61.0.11", 2),
        "pc1 -> pc2 on the switch"
    );
    assert!(
        ping("t-adm-pc1", "203.0.113.80", 2),
        "pc1 -> web through router, firewall and NAT"
    );

    // fdb: both PCs' MACs on their ports.
    let fdb = show(&["fdb"]);
    let (m1, m2) = (mac_of("t-adm-pc1"), mac_of("t-adm-pc2"));
    assert!(fdb.contains("lan (switch): fdb"), "{fdb}");
    assert!(has_line(&fdb, &[&m1, " p1"]), "pc1 {m1} on p1:\n{fdb}");
    assert!(has_line(&fdb, &[&m2, " p2"]), "pc2 {m2} on p2:\n{fdb}");
    let fdb_lan = show(&["fdb", "lan"]);
    assert_eq!(fdb_lan.lines().next(), fdb.lines().next());

    // arp on the router: pc1 resolved on lan (web too, on wan).
    let arp = show(&["arp", "r1"]);
    assert!(
        has_line(&arp, &["10.61.0.10", &m1, "lan", "reachable"]),
        "{arp}"
    );
    let routes = show(&["routes", "r1"]);
    assert!(
        has_line(&routes, &["10.61.0.0/24", "lan", "connected"]),
        "{routes}"
    );
    assert!(
        has_line(&routes, &["203.0.113.1/32", "wan", "local"]),
        "{routes}"
    );

    // nat: the ping's session, found through the topology file's metrics.listen.
    let file = run.dir.0.join("topo.yaml");
    let (ok, nat, err) = nfv(&["show", "nat", "-f", file.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(
        has_line(
            &nat,
            &["icmp", "10.61.0.10:", "203.0.113.2:", "203.0.113.80"]
        ),
        "{nat}"
    );

    // flows and rules on the firewall (inside addresses: it sits before the NAT).
    let flows = show(&["flows"]);
    assert!(
        has_line(&flows, &["icmp", "10.61.0.10", "203.0.113.80", "replied"]),
        "{flows}"
    );
    let rules = show(&["rules", "fw1"]);
    assert!(has_line(&rules, &["1", "allow", "dir out"]), "{rules}");
    assert!(has_line(&rules, &["default", "drop", "any"]), "{rules}");

    // Unknown node and table: errors, exit status 2.
    let (ok, _, err) = nfv(&["show", "fdb", "nosuch", "--api", API]);
    assert!(!ok && err.contains("no node \"nosuch\""), "{err}");
    let (ok, _, err) = nfv(&["show", "arp", "lan", "--api", API]);
    assert!(!ok && err.contains("is a switch"), "{err}");

    // stats: two samples one second apart naming every port and function.
    let (ok, stats, err) = nfv(&["stats", "--count", "2", "--interval", "1", "--api", API]);
    assert!(ok, "{err}");
    assert_eq!(stats.matches("nfv stats ").count(), 2, "{stats}");
    for w in [
        "PORT", "RX_PPS", "pc1:eth0", "pc2:eth0", "web:eth0", "FUNCTION", "nat1",
    ] {
        assert!(stats.contains(w), "{w} in:\n{stats}");
    }

    // Ports, drops by reason and --json (docs/json.md). An unsolicited ping to the NAT's
    // external address has no session: dropped by the NAT, with a counted reason.
    let _ = ping_fails("t-adm-web", "203.0.113.2");
    let ports = show(&["ports"]);
    assert!(
        has_line(&ports, &["PORT", "RX_PACKETS", "DROPS"]),
        "{ports}"
    );
    assert!(has_line(&ports, &["pc1:eth0", "eth0"]), "{ports}");
    let (ok, out, err) = nfv(&["show", "ports", "pc1", "--json", "--api", API]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let p = v["ports"].as_array().unwrap();
    assert_eq!(p.len(), 1, "{v}");
    assert_eq!(p[0]["name"], "pc1:eth0");
    assert!(p[0]["rx_packets"].as_u64().unwrap() >= 4, "{v}");
    let errors = show(&["errors"]);
    let (ok, out, err) = nfv(&["show", "errors", "--json", "--api", API]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let rows = v["errors"].as_array().unwrap();
    let nat = rows.iter().find(|r| r["node"] == "nat1");
    assert!(nat.is_some(), "a nat1 row:\n{errors}\n{v}");
    for r in rows {
        assert!(r["count"].as_u64().unwrap() > 0, "{r}");
        assert!(!r["description"].as_str().unwrap().is_empty(), "{r}");
        assert!(
            has_line(
                &errors,
                &[r["node"].as_str().unwrap(), r["reason"].as_str().unwrap()]
            ),
            "{errors}"
        );
    }
    let table = show(&["fdb", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&table).unwrap();
    assert_eq!(v["table"], "fdb");
    assert_eq!(v["nodes"][0]["node"], "lan");
    // Nothing has the table: exit 1, the message on stderr.
    let out = Command::new(nfv_bin())
        .args(["show", "impair", "--api", API])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no node has an impair table"));
    // stats --json: one object per line per sample.
    let (ok, stats, err) = nfv(&[
        "stats",
        "--json",
        "--count",
        "2",
        "--interval",
        "0.5",
        "--api",
        API,
    ]);
    assert!(ok, "{err}");
    let samples: Vec<serde_json::Value> = stats
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(samples.len(), 2, "{stats}");
    for s in &samples {
        assert!(s["interval_s"].as_f64().unwrap() > 0.4, "{s}");
        assert!(s["time"].as_f64().unwrap() > 1.0e9, "{s}");
        assert_eq!(s["ports"].as_array().unwrap().len(), 3, "{s}");
        assert_eq!(s["functions"].as_array().unwrap().len(), 4, "{s}");
        assert!(s["ports"][0]["rx_pps"].is_number(), "{s}");
    }

    // The JSON itself, with curl.
    let get = |path: &str| {
        let o = Command::new("curl")
            .args(["-s", "-S", "--max-time", "5", "-w", "\n%{http_code}"])
            .arg(format!("http://{API}{path}"))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap();
        (code.to_string(), body.to_string())
    };
    let (code, body) = get("/api/v1/counters");
    assert_eq!(code, "200");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let pc1 = v["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "pc1:eth0")
        .unwrap();
    assert!(pc1["rx_packets"].as_u64().unwrap() >= 4, "{pc1}");
    assert!(v["functions"].as_array().unwrap().len() == 4, "{v}");
    assert!(v["worker"]["rounds"].as_u64().unwrap() > 0);
    let (code, body) = get("/api/v1/topology");
    assert_eq!(code, "200");
    let t: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(t["nodes"].as_array().unwrap().len(), 7, "{t}");
    let (code, body) = get("/api/v1/tables/bogus");
    assert_eq!(code, "404");
    let e: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(e["error"].as_str().unwrap().contains("no table"), "{e}");

    // Bound to loopback only: the machine's other addresses refuse the port, and so does
    // the namespace side (the router's address as seen from pc1).
    let ips = Command::new("ip")
        .args(["-4", "-o", "addr", "show", "scope", "global"])
        .output()
        .unwrap();
    for line in String::from_utf8_lossy(&ips.stdout).lines() {
        let Some(addr) = line
            .split_whitespace()
            .skip_while(|w| *w != "inet")
            .nth(1)
            .and_then(|a| a.split('/').next())
        else {
            continue;
        };
        let sa: std::net::SocketAddr = format!("{addr}:19470").parse().unwrap();
        assert!(
            std::net::TcpStream::connect_timeout(&sa, std::time::Duration::from_secs(1)).is_err(),
            "the admin API answers on {sa}"
        );
    }
    let (ok, out) = curl("t-adm-pc1", "http://10.61.0.1:19470/api/v1/counters", 2);
    assert!(!ok, "reachable from a namespace: {out}");

    let (ok, out) = run.stop();
    assert!(ok, "nfv exit status; output:\n{out}");
}
