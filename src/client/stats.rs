//! `nfv stats`: rates between two `/api/v1/counters` answers, refreshed every interval.

use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::{Map, Value, json};

use super::{ApiArgs, HTTP_TIMEOUT, get_json, render_table};
use crate::api::COUNTERS;
use crate::output::{JsonArg, print_line};

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
    out: JsonArg,
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

/// One `nfv stats` sample as JSON: rates between two `/api/v1/counters` answers `dt`
/// apart. `{"interval_s", "ports": [{"name", "rx_pps", "rx_bps", "tx_pps", "tx_bps",
/// "drops_per_s", "drops": {reason: per_s}}], "functions": [{"name", "kind", "in_pps",
/// "drops_per_s", "drops"}]}`; `drops` lists the reasons that counted in the interval.
pub fn rates(before: &Value, after: &Value, dt: Duration) -> Value {
    let secs = dt.as_secs_f64().max(1e-3);
    let per_s = |now: u64, prev: u64| now.saturating_sub(prev) as f64 / secs;
    let rate =
        |a: &Value, b: Option<&Value>, k: &str| -> f64 { per_s(u(a, k), b.map_or(0, |b| u(b, k))) };
    let by_reason = |a: &Value, b: Option<&Value>| -> Map<String, Value> {
        let a = a["drops"].as_object().cloned().unwrap_or_default();
        a.into_iter()
            .filter_map(|(reason, n)| {
                let prev = b.map_or(0, |b| b["drops"][&reason].as_u64().unwrap_or(0));
                let r = per_s(n.as_u64().unwrap_or(0), prev);
                (r > 0.0).then(|| (reason, json!(r)))
            })
            .collect()
    };
    let find = |list: &Value, name: &Value| -> Option<Value> {
        list.as_array()?
            .iter()
            .find(|x| x["name"] == *name)
            .cloned()
    };
    let list = |v: &Value, k: &str| v[k].as_array().cloned().unwrap_or_default();
    let ports: Vec<Value> = list(after, "ports")
        .iter()
        .map(|p| {
            let b = find(&before["ports"], &p["name"]);
            let b = b.as_ref();
            json!({
                "name": p["name"],
                "rx_pps": rate(p, b, "rx_packets"),
                "rx_bps": rate(p, b, "rx_bytes") * 8.0,
                "tx_pps": rate(p, b, "tx_packets"),
                "tx_bps": rate(p, b, "tx_bytes") * 8.0,
                "drops_per_s": rate(p, b, "drops_total"),
                "drops": by_reason(p, b),
            })
        })
        .collect();
    let functions: Vec<Value> = list(after, "functions")
        .iter()
        .map(|f| {
            let b = find(&before["functions"], &f["name"]);
            let b = b.as_ref();
            json!({
                "name": f["name"],
                "kind": f["kind"],
                "in_pps": rate(f, b, "in_packets"),
                "drops_per_s": rate(f, b, "drops_total"),
                "drops": by_reason(f, b),
            })
        })
        .collect();
    json!({ "interval_s": secs, "ports": ports, "functions": functions })
}

/// One `nfv stats` sample as text, from [`rates`].
pub fn render_rates(before: &Value, after: &Value, dt: Duration) -> String {
    let r = rates(before, after, dt);
    let f = |v: &Value, k: &str| fmt_rate(v[k].as_f64().unwrap_or(0.0));
    let s = |v: &Value, k: &str| v[k].as_str().unwrap_or("?").to_string();
    let list = |k: &str| r[k].as_array().cloned().unwrap_or_default();
    let rows: Vec<Vec<String>> = list("ports")
        .iter()
        .map(|p| {
            vec![
                s(p, "name"),
                f(p, "rx_pps"),
                f(p, "rx_bps"),
                f(p, "tx_pps"),
                f(p, "tx_bps"),
                f(p, "drops_per_s"),
            ]
        })
        .collect();
    let mut out = render_table(
        &["port", "rx_pps", "rx_bps", "tx_pps", "tx_bps", "drops/s"],
        &rows,
    );
    let rows: Vec<Vec<String>> = list("functions")
        .iter()
        .map(|x| {
            vec![
                s(x, "name"),
                s(x, "kind"),
                f(x, "in_pps"),
                f(x, "drops_per_s"),
            ]
        })
        .collect();
    if !rows.is_empty() {
        out.push('\n');
        out.push_str(&render_table(
            &["function", "kind", "in_pps", "drops/s"],
            &rows,
        ));
    }
    out
}

/// Now, as seconds since the Unix epoch.
fn unix_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
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
        if args.out.json {
            let mut sample = rates(&prev, &cur, t - t_prev);
            sample["api"] = json!(addr.to_string());
            sample["time"] = json!(unix_seconds());
            print_line(&sample)?;
            prev = cur;
            t_prev = t;
            n += 1;
            continue;
        }
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

    #[test]
    fn json_rates_have_drops_by_reason() {
        let a = json!({"ports": [{"name": "p", "drops_total": 1, "drops": {"tx_full": 1}}]});
        let b = json!({
            "ports": [{"name": "p", "rx_packets": 4, "drops_total": 5,
                       "drops": {"tx_full": 3, "rx_truncated": 2}}],
            "functions": [],
        });
        let r = rates(&a, &b, Duration::from_secs(2));
        assert_eq!(r["interval_s"], 2.0);
        let p = &r["ports"][0];
        assert_eq!(
            (p["rx_pps"].as_f64(), p["drops_per_s"].as_f64()),
            (Some(2.0), Some(2.0))
        );
        assert_eq!(p["drops"], json!({"tx_full": 1.0, "rx_truncated": 1.0}));
        assert_eq!(r["functions"], json!([]));
    }
}
