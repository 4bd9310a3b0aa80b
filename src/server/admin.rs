//! The JSON endpoints about the topology and its state (`docs/admin.md`):
//!
//! * `GET /api/v1/topology`: nodes (name, kind, interfaces) and links, from the topology
//!   file (built once at start-up).
//! * `GET /api/v1/counters`: a fresh worker [`Snapshot`] (ports, functions, worker).
//! * `GET /api/v1/tables/{fdb|arp|routes|nat|flows|rules}[?node=NAME]`: the functions'
//!   tables, built by the worker at the end of a round (never on the packet path).
//!
//! Errors are JSON too: `{"error": "..."}` ([`json_error`], used by every API endpoint) with
//! 400 (bad parameter), 404 (unknown path, table or node) or 503 (the worker did not
//! answer).

use std::time::Duration;

use nfv_config::{NodeKind, Topology};
use nfv_dataplane::graph::ElementTables;
use nfv_dataplane::worker::{Controllers, Snapshot, SnapshotError};
use serde_json::{Map, Value, json};

use crate::api::TablesQuery;
use crate::http::{Response, Status};

/// The tables `GET /api/v1/tables/{name}` knows, and the node kind that has each: every
/// kind's [`nfv_runtime::Kind::tables`], in registry order.
fn tables_known() -> impl Iterator<Item = (&'static str, &'static str)> {
    nfv_runtime::kinds::tables().map(|(t, kind)| (t.name, kind))
}

/// How long an API request waits for the worker.
pub const WORKER_TIMEOUT: Duration = Duration::from_secs(1);

/// What the API knows without asking the worker.
#[derive(Debug, Clone)]
pub struct Info {
    /// `GET /api/v1/topology`, rendered once.
    topology: String,
    /// Node name → kind.
    nodes: Vec<(String, &'static str)>,
}

impl Info {
    /// From the validated topology.
    pub fn new(topo: &Topology) -> Info {
        Info {
            topology: topology_json(topo).to_string(),
            nodes: topo
                .nodes
                .iter()
                .map(|n| (n.name.clone(), n.kind.kind_name()))
                .collect(),
        }
    }
}

/// `{"error": msg}` with `status`: the error answer of every API endpoint.
pub fn json_error(status: Status, msg: impl Into<String>) -> Response {
    Response::json(status, &json!({ "error": msg.into() }))
}

/// 503: the worker did not answer.
pub fn worker_error(e: &SnapshotError) -> Response {
    json_error(Status::SERVICE_UNAVAILABLE, e.to_string())
}

/// The interfaces of a node, in link-name terms.
fn interfaces(kind: &NodeKind) -> Vec<String> {
    match kind {
        NodeKind::Host(h) => vec![h.ifname.to_string()],
        NodeKind::Tap(t) => vec![t.ifname.to_string()],
        NodeKind::Pcap(_) => vec![nfv_config::PCAP_IFNAME.to_string()],
        NodeKind::Switch(s) => s.ports.iter().map(|p| p.name.clone()).collect(),
        NodeKind::Router(r) => r.interfaces.iter().map(|i| i.name.clone()).collect(),
        NodeKind::Nat(_) | NodeKind::Firewall(_) => kind
            .sides()
            .map(|s| s.iter().map(|x| (*x).to_string()).collect())
            .unwrap_or_default(),
    }
}

/// `GET /api/v1/topology`.
pub fn topology_json(topo: &Topology) -> Value {
    let nodes: Vec<Value> = topo
        .nodes
        .iter()
        .map(|n| {
            json!({
                "name": n.name,
                "kind": n.kind.kind_name(),
                "interfaces": interfaces(&n.kind),
            })
        })
        .collect();
    let links: Vec<Value> = topo
        .links
        .iter()
        .map(|l| json!({ "a": l.a.to_string(), "b": l.b.to_string() }))
        .collect();
    json!({ "name": topo.name, "nodes": nodes, "links": links })
}

fn drops_json(d: &nfv_dataplane::DropCounters) -> Value {
    let m: Map<String, Value> = d
        .nonzero()
        .map(|(r, n)| (r.as_str().to_string(), n.into()))
        .collect();
    Value::Object(m)
}

/// `GET /api/v1/counters`: every counter of every worker's snapshot (ports and functions of
/// all workers in one list each; `worker` is the sum over workers, `workers` each one;
/// `rings` the rings between workers). Drops list non-zero reasons only, with their sum in
/// `drops_total`.
pub fn counters_json(snaps: &[Snapshot]) -> Value {
    let ports: Vec<Value> = snaps
        .iter()
        .flat_map(|s| &s.graph.ports)
        .map(|p| {
            let st = &p.stats;
            json!({
                "name": p.name,
                "ifname": p.ifname,
                "rx_packets": st.rx_packets,
                "rx_bytes": st.rx_bytes,
                "tx_packets": st.tx_packets,
                "tx_bytes": st.tx_bytes,
                "rx_errors": st.rx_errors,
                "tx_errors": st.tx_errors,
                "rx_no_buffer": st.rx_no_buffer,
                "rx_gso_packets": st.rx_gso_packets,
                "tx_gso_segments": st.tx_gso_segments,
                "link": st.link.as_str(),
                "kernel_rx_drops": st.kernel_rx_drops,
                "kernel_tx_drops": st.kernel_tx_drops,
                "drops_total": st.drops.total(),
                "drops": drops_json(&st.drops),
            })
        })
        .collect();
    let functions: Vec<Value> = snaps
        .iter()
        .flat_map(|s| &s.graph.elements)
        .map(|e| {
            let out: Map<String, Value> = e
                .out_packets
                .iter()
                .map(|(g, n)| (g.clone(), (*n).into()))
                .collect();
            let counters: Map<String, Value> = e
                .counters
                .iter()
                .map(|(k, n)| ((*k).to_string(), (*n).into()))
                .collect();
            json!({
                "name": e.name,
                "kind": e.kind,
                "in_packets": e.in_packets,
                "generated": e.generated,
                "out_packets": out,
                "local": e.consumed,
                "held": e.held,
                "drops_total": e.drops.total(),
                "drops": drops_json(&e.drops),
                "counters": counters,
            })
        })
        .collect();
    let worker_json = |w: &nfv_dataplane::worker::WorkerStats| {
        json!({
            "rounds": w.rounds,
            "busy_rounds": w.busy_rounds,
            "rx_packets": w.rx_packets,
            "rx_batches": w.rx_batches,
            "wake_plans": w.wake_plans,
            "wake_hits": w.wake_hits,
            "busy_seconds": w.busy_time().as_secs_f64(),
        })
    };
    let mut sum = nfv_dataplane::worker::WorkerStats::default();
    for s in snaps {
        sum.rounds += s.worker.rounds;
        sum.busy_rounds += s.worker.busy_rounds;
        sum.rx_packets += s.worker.rx_packets;
        sum.rx_batches += s.worker.rx_batches;
        sum.busy_nanos += s.worker.busy_nanos;
    }
    let rings: Vec<Value> = snaps
        .iter()
        .flat_map(|s| &s.graph.rings)
        .map(|r| {
            json!({
                "name": r.name,
                "from_worker": r.from_worker,
                "to_worker": r.to_worker,
                "capacity": r.capacity,
                "enqueued": r.enqueued,
                "dequeued": r.dequeued,
                "full_drops": r.full_drops,
                "occupancy": r.occupancy(),
            })
        })
        .collect();
    json!({
        "ports": ports,
        "functions": functions,
        "rings": rings,
        "worker": worker_json(&sum),
        "workers": snaps.iter().map(|s| worker_json(&s.worker)).collect::<Vec<_>>(),
    })
}

/// The body of `GET /api/v1/tables/{table}` from the worker's tables (already filtered to
/// `node` when one was asked for).
pub fn tables_json(table: &str, all: &[ElementTables]) -> Value {
    let nodes: Vec<Value> = all
        .iter()
        .flat_map(|e| {
            e.tables.iter().filter(|t| t.name == table).map(|t| {
                json!({
                    "node": e.name,
                    "kind": e.kind,
                    "columns": t.columns,
                    "rows": t.rows,
                    "total": t.total,
                })
            })
        })
        .collect();
    json!({ "table": table, "nodes": nodes })
}

/// `GET /api/v1/topology`: the answer rendered at start-up.
pub fn topology(info: &Info) -> Response {
    Response {
        status: Status::OK,
        content_type: crate::http::JSON,
        body: info.topology.clone().into_bytes(),
    }
}

/// `GET /api/v1/counters`. Blocking: asks the workers.
pub fn counters(ctl: &Controllers) -> Response {
    match ctl.snapshots(WORKER_TIMEOUT) {
        Ok(s) => Response::json(Status::OK, &counters_json(&s)),
        Err(e) => worker_error(&e),
    }
}

/// `table|table|…`, for messages.
pub fn table_names() -> String {
    tables_known().map(|(t, _)| t).collect::<Vec<_>>().join("|")
}

/// `GET /api/v1/tables/{table}?node=`. Blocking: asks the workers.
pub fn tables(table: &str, q: TablesQuery, ctl: &Controllers, info: &Info) -> Response {
    let Some((table, owner)) = tables_known().find(|(t, _)| *t == table) else {
        return json_error(
            Status::NOT_FOUND,
            format!("no table {table:?}; tables: {}", table_names()),
        );
    };
    if let Some(n) = &q.node {
        match info.nodes.iter().find(|(name, _)| name == n) {
            None => return json_error(Status::NOT_FOUND, format!("no node {n:?}")),
            Some((_, kind)) if *kind != owner => {
                return json_error(
                    Status::NOT_FOUND,
                    format!("node {n:?} is a {kind}; only a {owner} has a {table} table"),
                );
            }
            Some(_) => {}
        }
    }
    match ctl.tables(q.node, WORKER_TIMEOUT) {
        Ok(all) => Response::json(Status::OK, &tables_json(table, &all)),
        Err(e) => worker_error(&e),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use nfv_dataplane::graph::{ElementReport, GraphReport, PortReport};
    use nfv_dataplane::worker::WorkerStats;
    use nfv_dataplane::{DropCounters, DropReason, PortStats, Table};

    #[test]
    fn counters_json_shape() {
        let mut drops = DropCounters::default();
        drops.add(DropReason::TxFull, 2);
        let s = Snapshot {
            graph: GraphReport {
                ports: vec![PortReport {
                    name: "h1:eth0".into(),
                    ifname: "eth0".into(),
                    stats: PortStats {
                        rx_packets: 10,
                        rx_bytes: 1000,
                        drops,
                        ..PortStats::default()
                    },
                }],
                elements: vec![ElementReport {
                    name: "sw1".into(),
                    kind: "switch",
                    in_packets: 10,
                    generated: 4,
                    out_packets: vec![("p1".into(), 5)],
                    drops: DropCounters::default(),
                    consumed: 0,
                    held: 0,
                    counters: vec![("fdb_entries", 2)],
                    counter_info: nfv_functions::l2_switch::SWITCH_COUNTERS,
                }],
                rings: Vec::new(),
            },
            worker: WorkerStats {
                rounds: 100,
                busy_nanos: 1_500_000,
                ..WorkerStats::default()
            },
        };
        let v = counters_json(&[s]);
        assert_eq!(v["ports"][0]["name"], "h1:eth0");
        assert_eq!(v["ports"][0]["rx_packets"], 10);
        assert_eq!(v["ports"][0]["drops_total"], 2);
        assert_eq!(v["ports"][0]["drops"], json!({ "tx_full": 2 }));
        assert_eq!(v["functions"][0]["kind"], "switch");
        assert_eq!(v["functions"][0]["out_packets"], json!({ "p1": 5 }));
        assert_eq!(v["functions"][0]["counters"]["fdb_entries"], 2);
        assert_eq!(v["functions"][0]["drops"], json!({}));
        assert_eq!(v["worker"]["rounds"], 100);
        assert_eq!(v["worker"]["busy_seconds"], 0.0015);
    }

    #[test]
    fn tables_json_keeps_only_the_asked_table() {
        let mut fdb = Table::new("fdb", &["vlan", "mac", "port", "age_s"]);
        fdb.push_with(|| {
            vec![
                "1".into(),
                "02:00:00:00:00:01".into(),
                "p1".into(),
                "3".into(),
            ]
        });
        let all = vec![
            ElementTables {
                name: "sw1".into(),
                kind: "switch",
                tables: vec![fdb],
            },
            ElementTables {
                name: "r1".into(),
                kind: "router",
                tables: vec![Table::new("arp", &["ip"])],
            },
        ];
        assert_eq!(
            tables_json("fdb", &all),
            json!({
                "table": "fdb",
                "nodes": [{
                    "node": "sw1", "kind": "switch",
                    "columns": ["vlan", "mac", "port", "age_s"],
                    "rows": [["1", "02:00:00:00:00:01", "p1", "3"]],
                    "total": 1,
                }],
            })
        );
    }

    fn small_topology() -> Topology {
        nfv_config::load_str(
            "t.yaml",
            "name: t\nnodes:\n  h1: {kind: host}\n  sw1: {kind: switch}\n\
             links:\n  - endpoints: [h1, sw1:p1]\n",
        )
        .unwrap()
        .topology
    }

    #[test]
    fn topology_json_lists_nodes_interfaces_and_links() {
        let topo = small_topology();
        let v = topology_json(&topo);
        assert_eq!(v["name"], "t");
        assert_eq!(
            v["nodes"],
            json!([
                {"name": "h1", "kind": "host", "interfaces": ["eth0"]},
                {"name": "sw1", "kind": "switch", "interfaces": ["p1"]},
            ])
        );
        assert_eq!(v["links"], json!([{"a": "h1:eth0", "b": "sw1:p1"}]));
    }

    #[test]
    fn unknown_tables_and_nodes_are_json_404s() {
        let topo = small_topology();
        let info = Info::new(&topo);
        let sd = nfv_dataplane::worker::Shutdown::new().unwrap();
        let (ctl, _rx) = nfv_dataplane::worker::control(sd);
        let ctl = Controllers::single(ctl);
        for (table, node, msg) in [
            ("bogus", None, "no table"),
            ("fdb", Some("zz"), "no node"),
            ("arp", Some("sw1"), "is a switch"),
        ] {
            let q = TablesQuery {
                node: node.map(str::to_string),
            };
            let a = tables(table, q, &ctl, &info);
            assert_eq!(a.status, Status::NOT_FOUND, "{table}");
            assert_eq!(a.content_type, "application/json");
            let v: Value = serde_json::from_slice(&a.body).unwrap();
            assert!(v["error"].as_str().unwrap().contains(msg), "{table}: {v}");
        }
        let a = topology(&info);
        assert_eq!(a.status, Status::OK);
        assert_eq!(a.body, topology_json(&topo).to_string().into_bytes());
    }
}
