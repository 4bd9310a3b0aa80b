//! `nfv show TABLE [NODE]`: one aligned table per node, from `/api/v1/tables/{table}`.

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::Result;
use serde_json::Value;

use super::{ApiArgs, HTTP_TIMEOUT, get_json, render_table};
use crate::api::TablesQuery;

/// `nfv show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// Which table.
    #[arg(value_parser = table_names())]
    table: String,
    /// Only this node (default: every node that has the table).
    node: Option<String>,
    #[command(flatten)]
    api: ApiArgs,
}

/// The tables `nfv show` knows: every kind's tables, from the kind registry (the same list
/// the server answers for), with their help lines.
fn table_names() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(
        nfv_runtime::kinds::tables()
            .map(|(t, _)| clap::builder::PossibleValue::new(t.name).help(t.help)),
    )
}

/// The text of `nfv show` for a `/api/v1/tables/...` answer.
pub fn render_tables(v: &Value) -> String {
    let table = v["table"].as_str().unwrap_or("?");
    let nodes = v["nodes"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    if nodes.is_empty() {
        return format!("no node has a {table} table\n");
    }
    let strs = |x: &Value| -> Vec<String> {
        x.as_array()
            .map(|a| {
                a.iter()
                    .map(|c| c.as_str().map_or_else(|| c.to_string(), str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut out = String::new();
    for (i, n) in nodes.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let cols = strs(&n["columns"]);
        let cols: Vec<&str> = cols.iter().map(String::as_str).collect();
        let rows: Vec<Vec<String>> = n["rows"]
            .as_array()
            .map(|r| r.iter().map(strs).collect())
            .unwrap_or_default();
        let total = n["total"].as_u64().unwrap_or(rows.len() as u64);
        let _ = writeln!(
            out,
            "{} ({}): {table}, {total} entr{}",
            n["node"].as_str().unwrap_or("?"),
            n["kind"].as_str().unwrap_or("?"),
            if total == 1 { "y" } else { "ies" }
        );
        out.push_str(&render_table(&cols, &rows));
        if total > rows.len() as u64 {
            let _ = writeln!(
                out,
                "... {} more not shown (the first {} are listed)",
                total - rows.len() as u64,
                rows.len()
            );
        }
    }
    out
}

/// `nfv show`.
///
/// # Errors
/// The API cannot be reached or answers an error (unknown node …).
pub fn show(args: &ShowArgs) -> Result<ExitCode> {
    let addr = args.api.addr()?;
    let q = TablesQuery {
        node: args.node.clone(),
    };
    let path = q.path(&args.table);
    let v = get_json(addr, &path, HTTP_TIMEOUT, &format!("{path}: "))?;
    print!("{}", render_tables(&v));
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn show_renders_each_node_and_says_what_was_left_out() {
        let v = json!({
            "table": "routes",
            "nodes": [{
                "node": "r1", "kind": "router",
                "columns": ["prefix", "kind"],
                "rows": [["10.0.0.0/24", "connected"]],
                "total": 3,
            }],
        });
        assert_eq!(
            render_tables(&v),
            "r1 (router): routes, 3 entries\n\
             PREFIX       KIND\n\
             10.0.0.0/24  connected\n\
             ... 2 more not shown (the first 1 are listed)\n"
        );
        assert_eq!(
            render_tables(&json!({"table": "nat", "nodes": []})),
            "no node has a nat table\n"
        );
    }
}
