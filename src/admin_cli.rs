//! `nfv show` and `nfv stats`: clients of a running nfv's admin API (`crate::admin`), over a
//! tiny blocking HTTP/1.1 client (GET, `Connection: close`, read to EOF).

use std::fmt::Write as _;
use std::io::{IsTerminal as _, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use serde_json::Value;

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

/// `nfv show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// Which table.
    #[arg(value_enum)]
    table: TableName,
    /// Only this node (default: every node that has the table).
    node: Option<String>,
    #[command(flatten)]
    api: ApiArgs,
}

/// `nfv stats`.
#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    /// Seconds between samples.
    #[arg(long, default_value_t = 1.0, value_parser = parse_interval)]
    interval: f64,
    /// Print this many samples and exit (default: refresh until Ctrl-C).
    #[arg(long, value_name = "N")]
    count: Option<u64>,
    #[command(flatten)]
    api: ApiArgs,
}

fn parse_interval(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.1..=3600.0).contains(&v) => Ok(v),
        _ => Err("expected seconds between 0.1 and 3600".into()),
    }
}

/// The tables `nfv show` knows (`crate::admin::TABLES`).
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum TableName {
    /// Switch MAC tables.
    Fdb,
    /// Router ARP caches.
    Arp,
    /// Router routes (connected, local, static).
    Routes,
    /// NAT sessions.
    Nat,
    /// Firewall connections.
    Flows,
    /// Firewall rules with hit counts.
    Rules,
}

impl TableName {
    fn as_str(self) -> &'static str {
        match self {
            TableName::Fdb => "fdb",
            TableName::Arp => "arp",
            TableName::Routes => "routes",
            TableName::Nat => "nat",
            TableName::Flows => "flows",
            TableName::Rules => "rules",
        }
    }
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

/// `GET path` on `addr`, waiting up to `wait` for the answer: (status code, raw body). The
/// one HTTP client of the CLI (`show`, `stats`, `trace`, `capture`).
///
/// # Errors
/// Connection or I/O failure, or an answer that is not HTTP.
pub fn http_get_bytes(addr: SocketAddr, path: &str, wait: Duration) -> Result<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect_timeout(&addr, HTTP_TIMEOUT).with_context(|| {
        format!("couldn't connect to the admin API at {addr} (is `nfv run` up with a `metrics:` section?)")
    })?;
    s.set_read_timeout(Some(wait))?;
    s.set_write_timeout(Some(HTTP_TIMEOUT))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)
        .with_context(|| format!("reading the answer from {addr}"))?;
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| anyhow!("{addr}: not an HTTP answer"))?;
    let head = String::from_utf8_lossy(&buf[..end]);
    let code = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| anyhow!("{addr}: bad status line {:?}", head.lines().next()))?;
    Ok((code, buf[end + 4..].to_vec()))
}

/// [`http_get_bytes`] for a text answer, waiting up to `wait`.
///
/// # Errors
/// As [`http_get_bytes`], or a body that is not UTF-8.
pub fn http_get(addr: SocketAddr, path: &str, wait: Duration) -> Result<(u16, String)> {
    let (code, body) = http_get_bytes(addr, path, wait)?;
    Ok((
        code,
        String::from_utf8(body).context("the answer is not UTF-8")?,
    ))
}

/// `GET path` as JSON; a non-200 answer is an error with the API's message.
fn get_json(addr: SocketAddr, path: &str) -> Result<Value> {
    let (code, body) = http_get(addr, path, HTTP_TIMEOUT)?;
    let v: Value = serde_json::from_str(&body)
        .with_context(|| format!("{path}: answer {code} is not JSON"))?;
    if code != 200 {
        let msg = v["error"].as_str().unwrap_or("unknown error");
        bail!("{path}: {code}: {msg}");
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
    let mut path = format!("/api/v1/tables/{}", args.table.as_str());
    if let Some(n) = &args.node {
        let _ = write!(path, "?node={n}");
    }
    let v = get_json(addr, &path)?;
    print!("{}", render_tables(&v));
    Ok(ExitCode::SUCCESS)
}

fn u(v: &Value, k: &str) -> u64 {
    v[k].as_u64().unwrap_or(0)
}

/// One `nfv stats` sample: rates between two `/api/v1/counters` answers `dt` apart.
pub fn render_rates(before: &Value, after: &Value, dt: Duration) -> String {
    let secs = dt.as_secs_f64().max(1e-3);
    let rate = |a: &Value, b: Option<&Value>, k: &str| -> f64 {
        let prev = b.map_or(0, |b| u(b, k));
        u(a, k).saturating_sub(prev) as f64 / secs
    };
    let find = |list: &Value, name: &Value| -> Option<Value> {
        list.as_array()?
            .iter()
            .find(|x| x["name"] == *name)
            .cloned()
    };
    let mut rows = Vec::new();
    for p in after["ports"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
        let b = find(&before["ports"], &p["name"]);
        let b = b.as_ref();
        rows.push(vec![
            p["name"].as_str().unwrap_or("?").to_string(),
            fmt_rate(rate(p, b, "rx_packets")),
            fmt_rate(rate(p, b, "rx_bytes") * 8.0),
            fmt_rate(rate(p, b, "tx_packets")),
            fmt_rate(rate(p, b, "tx_bytes") * 8.0),
            fmt_rate(rate(p, b, "drops_total")),
        ]);
    }
    let mut out = render_table(
        &["port", "rx_pps", "rx_bps", "tx_pps", "tx_bps", "drops/s"],
        &rows,
    );
    let mut rows = Vec::new();
    for f in after["functions"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
    {
        let b = find(&before["functions"], &f["name"]);
        let b = b.as_ref();
        rows.push(vec![
            f["name"].as_str().unwrap_or("?").to_string(),
            f["kind"].as_str().unwrap_or("?").to_string(),
            fmt_rate(rate(f, b, "in_packets")),
            fmt_rate(rate(f, b, "drops_total")),
        ]);
    }
    if !rows.is_empty() {
        out.push('\n');
        out.push_str(&render_table(
            &["function", "kind", "in_pps", "drops/s"],
            &rows,
        ));
    }
    out
}

/// `1234.5` → `1.2k`; below 1000 one decimal.
fn fmt_rate(v: f64) -> String {
    if v >= 1e9 {
        format!("{:.1}G", v / 1e9)
    } else if v >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else {
        format!("{v:.1}")
    }
}

/// `nfv stats`.
///
/// # Errors
/// The API cannot be reached or answers an error.
pub fn stats(args: &StatsArgs) -> Result<ExitCode> {
    let addr = args.api.addr()?;
    let interval = Duration::from_secs_f64(args.interval);
    let tty = std::io::stdout().is_terminal();
    let mut prev = get_json(addr, "/api/v1/counters")?;
    let mut t_prev = Instant::now();
    let mut n = 0u64;
    while args.count.is_none_or(|c| n < c) {
        std::thread::sleep(interval);
        let cur = get_json(addr, "/api/v1/counters")?;
        let t = Instant::now();
        let text = render_rates(&prev, &cur, t - t_prev);
        let mut out = std::io::stdout().lock();
        if tty {
            // Clear the screen and go home.
            write!(out, "\x1b[2J\x1b[H")?;
        } else if n > 0 {
            writeln!(out)?;
        }
        writeln!(
            out,
            "nfv stats {addr}: rates over {:.1}s",
            (t - t_prev).as_secs_f64()
        )?;
        write!(out, "{text}")?;
        out.flush()?;
        prev = cur;
        t_prev = t;
        n += 1;
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

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

    #[test]
    fn rates_come_from_two_samples() {
        let a = json!({
            "ports": [{"name": "h1:eth0", "rx_packets": 10, "rx_bytes": 1000,
                       "tx_packets": 0, "tx_bytes": 0, "drops_total": 0}],
            "functions": [{"name": "sw1", "kind": "switch", "in_packets": 5, "drops_total": 1}],
        });
        let b = json!({
            "ports": [{"name": "h1:eth0", "rx_packets": 30, "rx_bytes": 3000,
                       "tx_packets": 4, "tx_bytes": 400, "drops_total": 2}],
            "functions": [{"name": "sw1", "kind": "switch", "in_packets": 2005, "drops_total": 1}],
        });
        let t = render_rates(&a, &b, Duration::from_secs(2));
        assert_eq!(
            t,
            "PORT     RX_PPS  RX_BPS  TX_PPS  TX_BPS  DROPS/S\n\
             h1:eth0  10.0    8.0k    2.0     1.6k    1.0\n\
             \n\
             FUNCTION  KIND    IN_PPS  DROPS/S\n\
             sw1       switch  1.0k    0.0\n"
        );
    }
}
