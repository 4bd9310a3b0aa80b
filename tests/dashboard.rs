//! `dashboards/nfv.json`: valid Grafana JSON whose queries use only metrics nfv exports.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

const DASHBOARD: &str = include_str!("../dashboards/nfv.json");
/// The exporter: every family it renders is a `"nfv_..."` string literal here.
const EXPORTER: &str = include_str!("../src/server/metrics.rs");
const METRICS_DOC: &str = include_str!("../docs/metrics.md");

/// Every `nfv_[a-z_]+` word in `text` that follows `before` (any char if `None`).
fn metric_names(text: &str, before: Option<char>) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (i, _) in text.match_indices("nfv_") {
        let prev = text[..i].chars().next_back();
        let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
        match before {
            Some(b) if prev != Some(b) => continue,
            None if prev.is_some_and(ident) => continue,
            _ => {}
        }
        let name: String = text[i..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_')
            .collect();
        names.insert(name);
    }
    names
}

/// Every `expr` of every panel target (rows nest panels too).
fn exprs(panels: &[serde_json::Value], out: &mut Vec<String>) {
    for p in panels {
        for t in p["targets"].as_array().into_iter().flatten() {
            out.push(t["expr"].as_str().unwrap().to_string());
        }
        if let Some(inner) = p["panels"].as_array() {
            exprs(inner, out);
        }
    }
}

#[test]
fn dashboard_queries_use_only_exported_metric_names() {
    let exported = metric_names(EXPORTER, Some('"'));
    let documented = metric_names(METRICS_DOC, Some('`'));
    assert!(
        exported.len() >= 15 && exported.contains("nfv_table_entries"),
        "scan of src/server/metrics.rs found {exported:?}"
    );
    let dash: serde_json::Value = serde_json::from_str(DASHBOARD).unwrap();
    let mut all = Vec::new();
    exprs(dash["panels"].as_array().unwrap(), &mut all);
    assert!(all.len() >= 10, "{all:?}");
    let mut used = BTreeSet::new();
    for e in &all {
        let names = metric_names(e, None);
        assert!(!names.is_empty(), "query uses no nfv metric: {e}");
        for n in names {
            assert!(
                exported.contains(&n),
                "{n} (in {e}) is not exported by src/server/metrics.rs"
            );
            assert!(
                documented.contains(&n),
                "{n} (in {e}) is not in docs/metrics.md"
            );
            used.insert(n);
        }
    }
    for needed in [
        "nfv_port_rx_packets_total",
        "nfv_port_tx_bytes_total",
        "nfv_port_drops_total",
        "nfv_function_drops_total",
        "nfv_function_in_packets_total",
        "nfv_table_entries",
        "nfv_worker_busy_seconds_total",
        "nfv_worker_rx_batches_total",
    ] {
        assert!(used.contains(needed), "no panel queries {needed}");
    }
}

#[test]
fn dashboard_uses_the_datasource_variable_and_a_node_variable() {
    let dash: serde_json::Value = serde_json::from_str(DASHBOARD).unwrap();
    assert!(dash["schemaVersion"].as_u64().unwrap() >= 36);
    assert_eq!(dash["uid"], "nfv-dataplane");
    let vars = dash["templating"]["list"].as_array().unwrap();
    let var = |name: &str| vars.iter().find(|v| v["name"] == name).unwrap();
    assert_eq!(var("DS_PROMETHEUS")["type"], "datasource");
    assert_eq!(var("DS_PROMETHEUS")["query"], "prometheus");
    assert_eq!(var("node")["type"], "query");
    for p in dash["panels"].as_array().unwrap() {
        if p["type"] == "row" {
            continue;
        }
        assert_eq!(p["datasource"]["uid"], "${DS_PROMETHEUS}", "{}", p["title"]);
        for t in p["targets"].as_array().unwrap() {
            assert_eq!(t["datasource"]["uid"], "${DS_PROMETHEUS}", "{}", p["title"]);
            let e = t["expr"].as_str().unwrap();
            // Per-node panels follow the `node` variable; the worker has no node label.
            assert!(
                e.contains("nfv_worker_") || e.contains(r#"node=~"$node""#),
                "{e}"
            );
        }
    }
}
