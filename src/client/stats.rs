//! `nfv stats`: rates between two `/api/v1/counters` answers, refreshed every interval.

use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::Value;

use super::{ApiArgs, HTTP_TIMEOUT, get_json, render_table};
use crate::api::COUNTERS;

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
    let label = format!("{COUNTERS}: ");
    let mut prev = get_json(addr, COUNTERS, HTTP_TIMEOUT, &label)?;
    let mut t_prev = Instant::now();
    let mut n = 0u64;
    while args.count.is_none_or(|c| n < c) {
        std::thread::sleep(interval);
        let cur = get_json(addr, COUNTERS, HTTP_TIMEOUT, &label)?;
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
