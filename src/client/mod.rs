//! The CLI side of the control plane: `nfv show`, `nfv stats`, `nfv trace` and
//! `nfv capture`, clients of a running nfv's admin API (`docs/admin.md`) over the one
//! HTTP client ([`crate::http::client`]). Each command is its argument struct, its
//! request (paths and queries from [`crate::api`]) and its output formatting; nothing here
//! imports the server.

mod capture;
mod errors;
mod ports;
mod show;
mod stats;
mod trace;

use std::fmt::Write as _;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs as _};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use serde_json::Value;

pub use capture::{CaptureArgs, run as capture};
pub use show::{ShowArgs, show};
pub use stats::{StatsArgs, stats};
pub use trace::{TraceArgs, run as trace};

use crate::http::client;

/// Default admin API address when neither `--api` nor `-f` is given.
pub const DEFAULT_API: &str = "127.0.0.1:9464";

/// How long a request may take (connect, then the whole answer).
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the admin API is.
#[derive(Debug, clap::Args)]
pub struct ApiArgs {
    /// Address of a running nfv's admin API (its `metrics.listen`). Default: from `-f FILE`,
    /// else 127.0.0.1:9464.
    #[arg(long, value_name = "ADDR")]
    api: Option<String>,
    /// Topology file of the running nfv: its `metrics.listen` is the API address.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    file: Option<PathBuf>,
}

impl ApiArgs {
    /// `--api`, else the topology file's `metrics.listen` (an unspecified address such as
    /// 0.0.0.0 becomes loopback), else [`DEFAULT_API`].
    pub(crate) fn addr(&self) -> Result<SocketAddr> {
        if let Some(a) = &self.api {
            return a
                .to_socket_addrs()
                .with_context(|| format!("bad --api address {a:?}"))?
                .next()
                .ok_or_else(|| anyhow!("--api {a:?} resolves to nothing"));
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
            let Some(m) = loaded.topology.metrics else {
                bail!(
                    "{} has no `metrics:` section, so the running nfv serves no admin API",
                    f.display()
                );
            };
            let mut a = m.listen;
            if a.ip().is_unspecified() {
                a.set_ip(if a.is_ipv4() {
                    std::net::Ipv4Addr::LOCALHOST.into()
                } else {
                    std::net::Ipv6Addr::LOCALHOST.into()
                });
            }
            return Ok(a);
        }
        Ok(DEFAULT_API.parse()?)
    }
}

/// `GET path` on `addr`, waiting up to `wait` for the answer: (status code, raw body).
///
/// # Errors
/// Connection or I/O failure, or an answer that is not HTTP.
fn get(addr: SocketAddr, path: &str, wait: Duration) -> Result<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect_timeout(&addr, HTTP_TIMEOUT).with_context(|| {
        format!("couldn't connect to the admin API at {addr} (is `nfv run` up with a `metrics:` section?)")
    })?;
    s.set_read_timeout(Some(wait))?;
    s.set_write_timeout(Some(HTTP_TIMEOUT))?;
    let a = client::get(&mut s, &addr.to_string(), path)
        .with_context(|| format!("GET {path} from {addr}"))?;
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
fn get_json(addr: SocketAddr, path: &str, wait: Duration, label: &str) -> Result<Value> {
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
