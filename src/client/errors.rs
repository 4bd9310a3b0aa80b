//! `nfv show errors [NODE]`: drops by node and reason, VPP `show errors` style (count, node,
//! reason, description), from `/api/v1/counters`.
//!
//! Every port and every function (link elements such as `impair` included) with a non-zero
//! drop counter gets one row per reason, in the answer's order: ports first, then functions;
//! reasons by name. The description is the reason's declaration (its doc comment, the same
//! text as the README's drop-reason table): looked up in the dropping kind's own
//! `drop_reasons!` list first, then the core list, then any list
//! ([`nfv_functions::DROP_REASONS`]); a name no list declares (a newer server) gets none.

use serde_json::{Value, json};

use super::render_table;

/// The description of drop reason `reason` counted by a node of `kind` (`port` for ports).
pub fn describe(kind: &str, reason: &str) -> Option<String> {
    let lists = nfv_functions::DROP_REASONS;
    let in_list = |want: &dyn Fn(&str) -> bool| {
        lists
            .iter()
            .filter(|(k, _)| want(k))
            .flat_map(|(_, table)| table.iter())
            .find(|r| r.name == reason)
            .map(nfv_dataplane::ReasonInfo::description)
    };
    in_list(&|k| k == kind)
        .or_else(|| in_list(&|k| k == "core"))
        .or_else(|| in_list(&|_| true))
}

/// The rows of `nfv show errors` from a `/api/v1/counters` answer, as JSON objects
/// `{"count", "node", "kind", "reason", "description"}`; only `node` when one is given (a
/// port matches by its node, `h1` for `h1:eth0`).
pub fn errors(counters: &Value, node: Option<&str>) -> Vec<Value> {
    let list = |k: &str| counters[k].as_array().cloned().unwrap_or_default();
    let ports = list("ports").into_iter().map(|p| (p, "port"));
    let functions = list("functions").into_iter().map(|f| (f, ""));
    let mut out = Vec::new();
    for (entry, port_kind) in ports.chain(functions) {
        let name = entry["name"].as_str().unwrap_or("?");
        let owner = name.split_once(':').map_or(name, |(n, _)| n);
        if node.is_some_and(|n| n != name && n != owner) {
            continue;
        }
        let kind = entry["kind"].as_str().unwrap_or(port_kind);
        let Some(drops) = entry["drops"].as_object() else {
            continue;
        };
        for (reason, count) in drops {
            let count = count.as_u64().unwrap_or(0);
            if count == 0 {
                continue;
            }
            out.push(json!({
                "count": count,
                "node": name,
                "kind": kind,
                "reason": reason,
                "description": describe(kind, reason),
            }));
        }
    }
    out
}

/// The text of `nfv show errors`: an aligned table, counts right-aligned, or a line saying
/// nothing was dropped.
pub fn render_errors(rows: &[Value]) -> String {
    if rows.is_empty() {
        return "no packet was dropped\n".to_owned();
    }
    let counts: Vec<String> = rows.iter().map(|r| r["count"].to_string()).collect();
    let width = counts.iter().map(String::len).max().unwrap_or(0).max(5);
    let cells: Vec<Vec<String>> = rows
        .iter()
        .zip(&counts)
        .map(|(r, c)| {
            let s = |k: &str| r[k].as_str().unwrap_or("").to_owned();
            vec![
                format!("{c:>width$}"),
                s("node"),
                s("reason"),
                s("description"),
            ]
        })
        .collect();
    let header = format!("{:>width$}", "count");
    render_table(&[&header, "node", "reason", "description"], &cells)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn counters() -> Value {
        json!({
            "ports": [
                {"name": "h1:eth0", "drops": {"tx_full": 2}},
                {"name": "h2:eth0", "drops": {}},
            ],
            "functions": [
                {"name": "fw1", "kind": "firewall", "drops": {"fw_rule_drop": 1234, "malformed": 1}},
                {"name": "sw1", "kind": "switch", "drops": {}},
            ],
        })
    }

    #[test]
    fn every_drop_counter_is_a_row_with_its_declared_description() {
        let rows = errors(&counters(), None);
        let got: Vec<(u64, &str, &str)> = rows
            .iter()
            .map(|r| {
                (
                    r["count"].as_u64().unwrap(),
                    r["node"].as_str().unwrap(),
                    r["reason"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (2, "h1:eth0", "tx_full"),
                (1234, "fw1", "fw_rule_drop"),
                (1, "fw1", "malformed"),
            ]
        );
        let fw = nfv_functions::FwDrop::TABLE
            .iter()
            .find(|r| r.name == "fw_rule_drop")
            .unwrap();
        assert_eq!(rows[1]["description"], fw.description());
        assert_eq!(rows[0]["kind"], "port");
        assert!(!rows[0]["description"].as_str().unwrap().is_empty());
        assert_eq!(describe("firewall", "no_such_reason"), None);
    }

    #[test]
    fn node_filter_matches_a_function_or_a_ports_node() {
        assert_eq!(errors(&counters(), Some("h1")).len(), 1);
        assert_eq!(errors(&counters(), Some("h1:eth0")).len(), 1);
        assert_eq!(errors(&counters(), Some("fw1")).len(), 2);
        assert!(errors(&counters(), Some("sw1")).is_empty());
    }

    #[test]
    fn text_is_vpp_show_errors_style() {
        let rows = vec![
            json!({"count": 1234, "node": "fw1", "reason": "fw_rule_drop", "description": "Denied."}),
            json!({"count": 2, "node": "h1:eth0", "reason": "tx_full", "description": "Full."}),
        ];
        assert_eq!(
            render_errors(&rows),
            concat!(
                "COUNT  NODE     REASON        DESCRIPTION\n",
                " 1234  fw1      fw_rule_drop  Denied.\n",
                "    2  h1:eth0  tx_full       Full.\n",
            )
        );
        assert_eq!(render_errors(&[]), "no packet was dropped\n");
    }
}
