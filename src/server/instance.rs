//! `GET /api/v1/instance`: what this running instance is and what it made, for `nfv ps`
//! and `nfv inspect` (`docs/admin.md` lists the fields; they are a stable contract).
//!
//! Everything but the uptime is fixed at start-up, so it is rendered once from the
//! topology, the pipeline's placement and the runtime's record of what it created
//! ([`nfv_runtime::Resources`]).

use std::path::Path;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use nfv_config::{NodeKind, Topology};
use nfv_dataplane::pipeline::Pipeline;
use nfv_runtime::Resources;
use nfv_runtime::host::mac_str;
use serde_json::{Value, json};

use crate::http::{Response, Status};

/// The instance's identity and inventory.
#[derive(Debug, Clone)]
pub struct Instance {
    /// Everything fixed at start-up (an object).
    fixed: Value,
    started: Instant,
}

impl Instance {
    /// From what `nfv run` knows once the topology is up. `file` is the topology file as
    /// given; it is reported absolute.
    pub fn new(
        topo: &Topology,
        file: &Path,
        socket: &Path,
        pipeline: &Pipeline,
        resources: &Resources,
    ) -> Instance {
        let started_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let file = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
        let worker_of = |name: &str| -> Vec<usize> {
            let mut w: Vec<usize> = pipeline
                .placement
                .iter()
                // A port is `node:iface`; an element is its node's name (link elements,
                // `a:x~b:y`, belong to no node).
                .filter(|p| match p.name.split_once(':') {
                    Some((n, _)) if p.is_port => n == name,
                    _ => p.name == name,
                })
                .map(|p| p.worker)
                .collect();
            w.sort_unstable();
            w.dedup();
            w
        };
        let namespaces = resources.namespaces();
        let nodes: Vec<Value> = topo
            .nodes
            .iter()
            .map(|n| {
                let namespace = match &n.kind {
                    NodeKind::Host(h) => Some(h.netns.clone()),
                    _ => None,
                };
                let netns_inode = namespace.as_ref().and_then(|ns| {
                    namespaces
                        .iter()
                        .find(|(name, _)| name == ns)
                        .and_then(|(_, ino)| *ino)
                });
                let interfaces: Vec<Value> = resources
                    .interfaces()
                    .iter()
                    .filter(|i| i.node == n.name)
                    .map(|i| {
                        json!({
                            "ifname": i.ifname,
                            "namespace": i.namespace,
                            "ifindex": i.ifindex,
                            "mac": mac_str(i.mac),
                            "mtu": i.mtu,
                            "address": i.address,
                        })
                    })
                    .collect();
                json!({
                    "name": n.name,
                    "kind": n.kind.kind_name(),
                    "workers": worker_of(&n.name),
                    "namespace": namespace,
                    "netns_inode": netns_inode,
                    "interfaces": interfaces,
                })
            })
            .collect();
        let workers: Vec<Value> = (0..pipeline.graphs.len())
            .map(|w| {
                let names: Vec<&str> = pipeline
                    .placement
                    .iter()
                    .filter(|p| p.worker == w)
                    .map(|p| p.name.as_str())
                    .collect();
                json!({ "worker": w, "nodes": names })
            })
            .collect();
        let links: Vec<Value> = topo
            .links
            .iter()
            .map(|l| {
                let elements: Vec<String> = l.elements.iter().map(|e| e.spec().summary()).collect();
                json!({ "a": l.a.to_string(), "b": l.b.to_string(), "elements": elements })
            })
            .collect();
        let ports: Vec<&str> = pipeline
            .placement
            .iter()
            .filter(|p| p.is_port)
            .map(|p| p.name.as_str())
            .collect();
        Instance {
            fixed: json!({
                "name": topo.name,
                "pid": std::process::id(),
                "version": env!("CARGO_PKG_VERSION"),
                "file": file,
                "socket": socket,
                "started_unix": started_unix,
                "ports": ports,
                "workers": workers,
                "rings": pipeline.rings,
                "nodes": nodes,
                "links": links,
            }),
            started: Instant::now(),
        }
    }

    /// The topology's name.
    pub fn name(&self) -> &str {
        self.fixed["name"].as_str().unwrap_or_default()
    }

    /// The answer: the fixed part plus `uptime_s`.
    pub fn json(&self) -> Value {
        let mut v = self.fixed.clone();
        v["uptime_s"] = self.started.elapsed().as_secs().into();
        v
    }
}

/// `GET /api/v1/instance`.
pub fn answer(instance: &Instance) -> Response {
    Response::json(Status::OK, &instance.json())
}
