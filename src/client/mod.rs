//! The CLI side of the control plane: `nfv show`, `nfv stats`, `nfv trace`,
//! `nfv capture`, `nfv ps` and `nfv inspect`, clients of a running nfv's admin API
//! (`docs/admin.md`) over the one HTTP client ([`crate::http::client`]), on its control
//! socket (found by topology name, [`ApiArgs`]) or on TCP (`--api`). Each command is its
//! argument struct, its request (paths and queries from [`crate::api`]) and its output
//! formatting; nothing here imports the server.

mod capture;
mod errors;
mod inspect;
mod ports;
mod ps;
mod show;
mod stats;
mod trace;

use std::fmt::Write as _;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs as _};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use serde_json::Value;

pub use capture::{CaptureArgs, run as capture};
pub use inspect::{InspectArgs, run as inspect};
pub use ps::{PsArgs, run as ps};
pub use show::{ShowArgs, show};
pub use stats::{StatsArgs, stats};
pub use trace::{TraceArgs, run as trace};

use crate::http::client;

/// How long a request may take (connect, then the whole answer).
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the admin API is: a topology's control socket, by name (`-n`, the name in `-f
/// FILE`, or the only running topology), or a TCP address (`--api`).
#[derive(Debug, clap::Args)]
pub struct ApiArgs {
    /// Running topology to talk to, by name: its control socket /run/nfv/NAME.sock
    /// (root only). Default: the only running topology.
    #[arg(short = 'n', long = "name", value_name = "NAME", conflicts_with_all = ["api", "file"])]
    name: Option<String>,
    /// A running nfv's TCP admin API (its `metrics.listen`): read-only state (no trace or
    /// capture), reachable without root.
    #[arg(long, value_name = "ADDR", conflicts_with = "file")]
    api: Option<String>,
    /// Topology file of the running nfv: the control socket of the topology it names.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    file: Option<PathBuf>,
}

/// An admin API endpoint. `Copy` (the socket path is leaked once per command, a short-lived
/// process) so that commands pass it around like the `SocketAddr` it generalises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// A control socket.
    Unix(&'static Path),
    /// A TCP listener.
    Tcp(SocketAddr),
}

impl std::fmt::Display for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Api::Unix(p) => write!(f, "{}", p.display()),
            Api::Tcp(a) => write!(f, "{a}"),
        }
    }
}

impl Api {
    /// The control socket at `path`.
    pub fn unix(path: PathBuf) -> Api {
        Api::Unix(Box::leak(path.into_boxed_path()))
    }
}

impl ApiArgs {
    /// `--api`; else the control socket of `-n NAME` or of the topology `-f FILE` names;
    /// else the one running topology's (an error lists them when there are several, or
    /// says none is running).
    pub(crate) fn addr(&self) -> Result<Api> {
        if let Some(a) = &self.api {
            return a
                .to_socket_addrs()
                .with_context(|| format!("bad --api address {a:?}"))?
                .next()
                .map(Api::Tcp)
                .ok_or_else(|| anyhow!("--api {a:?} resolves to nothing"));
        }
        if let Some(n) = &self.name {
            return by_name(n);
        }
        if let Some(f) = &self.file {
            let loaded = nfv_config::load_file(f).map_err(|e| {
                anyhow!(
                    "{}: {} problem(s), first: {}",
                    f.display(),
                    e.problems.len(),
                    e.problems
                        .first()
                        .map(ToString::to_string)
                        .unwrap_or_default()
                )
            })?;
            return by_name(&loaded.topology.name);
        }
        let running = nfv_runtime::instance::running()?;
        match running.as_slice() {
            [] => bail!(
                "no topology is running (no control socket in {}); start one with `nfv run FILE`",
                nfv_runtime::instance::run_dir().display()
            ),
            [one] => Ok(Api::unix(one.socket.clone())),
            many => bail!(
                "{} topologies are running: {}; choose one with -n NAME",
                many.len(),
                list_running(many)
            ),
        }
    }
}

/// `a (pid 1), b (pid 2)`.
fn list_running(r: &[nfv_runtime::instance::Running]) -> String {
    r.iter()
        .map(|r| match r.pid {
            Some(p) => format!("{} (pid {p})", r.name),
            None => r.name.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The control socket of running topology `name`, or an error saying it is not running
/// (and which are).
fn by_name(name: &str) -> Result<Api> {
    let path = nfv_runtime::instance::socket_path(name);
    if nfv_runtime::instance::is_live(name).is_some() && nfv_runtime::instance::exists(&path) {
        return Ok(Api::unix(path));
    }
    let running = nfv_runtime::instance::running().unwrap_or_default();
    if running.is_empty() {
        bail!("topology {name:?} is not running (no topology is)");
    }
    bail!(
        "topology {name:?} is not running; running: {}",
        list_running(&running)
    )
}

/// `GET path` on `api`, waiting up to `wait` for the answer: (status code, raw body).
///
/// # Errors
/// Connection or I/O failure, or an answer that is not HTTP.
fn get(api: Api, path: &str, wait: Duration) -> Result<(u16, Vec<u8>)> {
    let a = match api {
        Api::Tcp(addr) => {
            let mut s = TcpStream::connect_timeout(&addr, HTTP_TIMEOUT).with_context(|| {
                format!("couldn't connect to the admin API at {addr} (is `nfv run` up with a `metrics:` section?)")
            })?;
            s.set_read_timeout(Some(wait))?;
            s.set_write_timeout(Some(HTTP_TIMEOUT))?;
            client::get(&mut s, &addr.to_string(), path)
        }
        Api::Unix(p) => {
            let mut s = UnixStream::connect(p).map_err(|e| {
                let hint = if e.kind() == std::io::ErrorKind::PermissionDenied {
                    " (the control socket is root's, mode 0600: run this as root)"
                } else {
                    ""
                };
                anyhow!("couldn't connect to the control socket {}: {e}{hint}", p.display())
            })?;
            s.set_read_timeout(Some(wait))?;
            s.set_write_timeout(Some(HTTP_TIMEOUT))?;
            client::get(&mut s, "localhost", path)
        }
    }
    .with_context(|| format!("GET {path} from {api}"))?;
    Ok((a.status, a.body))
}

/// The `error` of an API error answer, else the body as text.
fn error_text(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned())
}

/// `GET path` as JSON, waiting up to `wait`; a non-200 answer is an error
/// `{label}{code}: {the API's message}` (`label` is `"{path}: "` for `show`/`stats`, empty for
/// `trace`, as each always printed).
fn get_json(addr: Api, path: &str, wait: Duration, label: &str) -> Result<Value> {
    let (code, body) = get(addr, path, wait)?;
    let v: Value = serde_json::from_slice(&body)
        .with_context(|| format!("{label}answer {code} is not JSON"))?;
    if code != 200 {
        let msg = v["error"].as_str().unwrap_or("unknown error");
        bail!("{label}{code}: {msg}");
    }
    Ok(v)
}

/// Left-aligned columns separated by two spaces; the header is upper case.
pub fn render_table(columns: &[&str], rows: &[Vec<String>]) -> String {
    let mut width: Vec<usize> = columns.iter().map(|c| c.chars().count()).collect();
    for r in rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = String>| {
        let mut l = String::new();
        for (i, (c, w)) in cells.zip(&width).enumerate() {
            if i > 0 {
                l.push_str("  ");
            }
            let _ = write!(l, "{c:<w$}");
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&mut columns.iter().map(|c| c.to_uppercase()));
    for r in rows {
        line(&mut r.iter().cloned());
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn tables_are_aligned() {
        let t = render_table(
            &["vlan", "mac", "port"],
            &[
                vec!["1".into(), "02:00:00:00:00:01".into(), "p1".into()],
                vec!["100".into(), "x".into(), "uplink".into()],
            ],
        );
        assert_eq!(
            t,
            "VLAN  MAC                PORT\n\
             1     02:00:00:00:00:01  p1\n\
             100   x                  uplink\n"
        );
    }
}
