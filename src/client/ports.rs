//! `nfv show ports [NODE]`: per port rx/tx packets and bytes, errors and drops (totals
//! since start, like `ip -s link`), from `/api/v1/counters`.

use serde_json::{Map, Value};

use super::render_table;

/// The fields of each port, in column order: the names `/api/v1/counters` uses.
pub const FIELDS: [&str; 9] = [
    "name",
    "ifname",
    "rx_packets",
    "rx_bytes",
    "tx_packets",
    "tx_bytes",
    "rx_errors",
    "tx_errors",
    "drops_total",
];

/// The ports of a `/api/v1/counters` answer with [`FIELDS`] only; only the ports of `node`
/// (`h1` for `h1:eth0`, or the whole port name) when one is given.
pub fn ports(counters: &Value, node: Option<&str>) -> Vec<Value> {
    counters["ports"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .filter(|p| {
            let name = p["name"].as_str().unwrap_or("");
            let owner = name.split_once(':').map_or(name, |(n, _)| n);
            node.is_none_or(|n| n == name || n == owner)
        })
        .map(|p| {
            let m: Map<String, Value> = FIELDS
                .iter()
                .map(|f| ((*f).to_owned(), p[*f].clone()))
                .collect();
            Value::Object(m)
        })
        .collect()
}

/// The text of `nfv show ports`.
pub fn render_ports(ports: &[Value]) -> String {
    let rows: Vec<Vec<String>> = ports
        .iter()
        .map(|p| {
            FIELDS
                .iter()
                .map(|f| match &p[*f] {
                    Value::String(s) => s.clone(),
                    Value::Null => "-".to_owned(),
                    v => v.to_string(),
                })
                .collect()
        })
        .collect();
    // The counter names, shorter where the table would repeat itself.
    let columns: Vec<&str> = FIELDS
        .iter()
        .map(|f| match *f {
            "name" => "port",
            "drops_total" => "drops",
            f => f,
        })
        .collect();
    render_table(&columns, &rows)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn ports_have_the_counter_names_and_filter_by_node() {
        let c = json!({"ports": [
            {"name": "h1:eth0", "ifname": "eth0", "rx_packets": 10, "rx_bytes": 1000,
             "tx_packets": 4, "tx_bytes": 400, "rx_errors": 0, "tx_errors": 1,
             "drops_total": 2, "drops": {"tx_full": 2}, "rx_no_buffer": 0},
            {"name": "vm1:vm1-tap", "ifname": "vm1-tap", "rx_packets": 0, "rx_bytes": 0,
             "tx_packets": 0, "tx_bytes": 0, "rx_errors": 0, "tx_errors": 0, "drops_total": 0},
        ]});
        let all = ports(&c, None);
        assert_eq!(all.len(), 2);
        assert_eq!(
            all[0].as_object().unwrap().keys().len(),
            FIELDS.len(),
            "only the documented fields"
        );
        assert_eq!(ports(&c, Some("vm1")).len(), 1);
        assert_eq!(ports(&c, Some("h1:eth0")).len(), 1);
        assert!(ports(&c, Some("h")).is_empty());
        assert_eq!(
            render_ports(&all[..1]),
            "PORT     IFNAME  RX_PACKETS  RX_BYTES  TX_PACKETS  TX_BYTES  RX_ERRORS  TX_ERRORS  DROPS\n\
             h1:eth0  eth0    10          1000      4           400       0          1          2\n"
        );
    }
}
