//! `nfv show TABLE [NODE]`: one aligned table per node, from `/api/v1/tables/{table}`;
//! `nfv show ports` and `nfv show errors` from `/api/v1/counters` (`ports.rs`,
//! `errors.rs`). `--json` prints the JSON instead (`docs/json.md`).
//!
//! Exit status: 0 with something to show, 1 when nothing has the table ("no node has a nat
//! table", or NODE has no ports), 2 on an error (no API, unknown node or table).

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::Result;
use serde_json::{Value, json};

use super::{ApiArgs, HTTP_TIMEOUT, errors, get_json, ports, render_table};
use crate::api::{COUNTERS, TablesQuery};
use crate::output::{JsonArg, print_document};

/// `nfv show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// Which table.
    #[arg(value_parser = table_names())]
    table: String,
    /// Only this node (default: every node that has the table).
    node: Option<String>,
    #[command(flatten)]
    out: JsonArg,
    #[command(flatten)]
    api: ApiArgs,
}

/// `nfv show ports`: not a kind's table, the port counters.
pub const PORTS: &str = "ports";
/// `nfv show errors`: not a kind's table, the drop counters by reason.
pub const ERRORS: &str = "errors";

/// The tables `nfv show` knows: every kind's tables, from the kind registry (the same list
/// the server answers for), with their help lines, then [`PORTS`] and [`ERRORS`].
fn table_names() -> clap::builder::PossibleValuesParser {
    use clap::builder::PossibleValue;
    clap::builder::PossibleValuesParser::new(
        nfv_runtime::kinds::tables()
            .map(|(t, _)| PossibleValue::new(t.name).help(t.help))
            .chain([
                PossibleValue::new(PORTS)
                    .help("Port counters: rx/tx packets and bytes, errors, drops."),
                PossibleValue::new(ERRORS).help("Drops by node and reason, with descriptions."),
            ]),
    )
}

/// The text of `nfv show` for a `/api/v1/tables/...` answer.
pub fn render_tables(v: &Value) -> String {
    let table = v["table"].as_str().unwrap_or("?");
    let nodes = v["nodes"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    if nodes.is_empty() {
        let article = if table.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        };
        return format!("no node has {article} {table} table\n");
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
    let node = args.node.as_deref();
    if args.table == PORTS || args.table == ERRORS {
        let c = get_json(addr, COUNTERS, HTTP_TIMEOUT, &format!("{COUNTERS}: "))?;
        let (rows, key) = if args.table == PORTS {
            (ports::ports(&c, node), "ports")
        } else {
            (errors::errors(&c, node), "errors")
        };
        // A node with no ports has nothing to show; no drops at all is a good answer.
        let empty = args.table == PORTS && rows.is_empty();
        if args.out.json {
            print_document(&json!({ key: rows }))?;
        } else if empty {
            eprintln!(
                "{}",
                node.map_or("no ports".to_owned(), |n| format!(
                    "node {n:?} has no ports"
                ))
            );
        } else if args.table == PORTS {
            print!("{}", ports::render_ports(&rows));
        } else {
            print!("{}", errors::render_errors(&rows));
        }
        return Ok(exit(empty));
    }
    let q = TablesQuery {
        node: args.node.clone(),
    };
    let path = q.path(&args.table);
    let v = get_json(addr, &path, HTTP_TIMEOUT, &format!("{path}: "))?;
    let empty = v["nodes"].as_array().is_none_or(Vec::is_empty);
    if args.out.json {
        print_document(&v)?;
    } else if empty {
        eprint!("{}", render_tables(&v));
    } else {
        print!("{}", render_tables(&v));
    }
    Ok(exit(empty))
}

/// 1 when there was nothing to show.
fn exit(empty: bool) -> ExitCode {
    if empty {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
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
        assert_eq!(
            render_tables(&json!({"table": "impair", "nodes": []})),
            "no node has an impair table\n"
        );
    }

    #[test]
    fn ports_and_errors_are_no_kinds_table_names() {
        for (t, kind) in nfv_runtime::kinds::tables() {
            assert!(t.name != PORTS && t.name != ERRORS, "{kind} has {}", t.name);
        }
    }
}
