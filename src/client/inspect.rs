//! `nfv inspect [NAME]`: what a running topology made, from its `/api/v1/instance`: nodes
//! (kind, worker, namespace and its inode), the interfaces it created (namespace, index,
//! MAC, MTU, address), workers and links.

use std::process::ExitCode;

use anyhow::Result;
use serde_json::Value;

use super::ps::uptime;
use super::{ApiArgs, HTTP_TIMEOUT, get_json, render_table};
use crate::api::INSTANCE;

/// `nfv inspect`.
#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// The running topology (default: the only one running).
    name: Option<String>,
    /// The `/api/v1/instance` JSON as is (fields in docs/admin.md).
    #[arg(long)]
    json: bool,
}

/// A JSON value as a table cell: strings bare, null `-`, lists joined with `,`.
fn cell(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        Value::Array(a) if a.is_empty() => "-".into(),
        Value::Array(a) => a.iter().map(cell).collect::<Vec<_>>().join(","),
        v => v.to_string(),
    }
}

fn list(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], Vec::as_slice)
}

/// The text `nfv inspect` prints for an `/api/v1/instance` answer.
pub fn render(v: &Value) -> String {
    let mut out = format!(
        "topology {}: pid {}, up {}, file {}\ncontrol socket {}, {} worker(s)\n\n",
        v["name"],
        cell(&v["pid"]),
        v["uptime_s"].as_u64().map_or_else(|| "-".into(), uptime),
        cell(&v["file"]),
        cell(&v["socket"]),
        list(&v["workers"]).len(),
    );
    let nodes: Vec<Vec<String>> = list(&v["nodes"])
        .iter()
        .map(|n| {
            ["name", "kind", "workers", "namespace", "netns_inode"]
                .iter()
                .map(|k| cell(&n[*k]))
                .collect()
        })
        .collect();
    out.push_str(&render_table(
        &["node", "kind", "worker", "namespace", "netns_inode"],
        &nodes,
    ));
    let ifs: Vec<Vec<String>> = list(&v["nodes"])
        .iter()
        .flat_map(|n| {
            list(&n["interfaces"]).iter().map(move |i| {
                let mut row = vec![cell(&n["name"])];
                row.extend(
                    ["ifname", "namespace", "ifindex", "mac", "mtu", "address"]
                        .iter()
                        .map(|k| cell(&i[*k])),
                );
                row
            })
        })
        .collect();
    out.push('\n');
    out.push_str(&render_table(
        &[
            "node",
            "ifname",
            "namespace",
            "ifindex",
            "mac",
            "mtu",
            "address",
        ],
        &ifs,
    ));
    let workers: Vec<Vec<String>> = list(&v["workers"])
        .iter()
        .map(|w| {
            vec![
                cell(&w["worker"]),
                list(&w["nodes"])
                    .iter()
                    .map(cell)
                    .collect::<Vec<_>>()
                    .join(", "),
            ]
        })
        .collect();
    out.push('\n');
    out.push_str(&render_table(&["worker", "nodes"], &workers));
    let links: Vec<Vec<String>> = list(&v["links"])
        .iter()
        .map(|l| vec![cell(&l["a"]), cell(&l["b"]), cell(&l["elements"])])
        .collect();
    out.push('\n');
    out.push_str(&render_table(&["a", "b", "elements"], &links));
    if !list(&v["rings"]).is_empty() {
        out.push_str(&format!("\nrings: {}\n", cell(&v["rings"])));
    }
    out
}

/// `nfv inspect`.
///
/// # Errors
/// The topology is not running, or its socket cannot be reached.
pub fn run(args: &InspectArgs) -> Result<ExitCode> {
    let api = ApiArgs {
        name: args.name.clone(),
        api: None,
        file: None,
    }
    .addr()?;
    let v = get_json(api, INSTANCE, HTTP_TIMEOUT, "")?;
    if args.json {
        println!("{v}");
    } else {
        print!("{}", render(&v));
    }
    Ok(ExitCode::SUCCESS)
}
