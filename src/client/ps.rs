//! `nfv ps`: the running topologies, from their control sockets in the run directory
//! (`/run/nfv`): name, pid, uptime, file, ports, rx/tx packets per second over all ports
//! (two counter samples `--interval` apart, one wait for all instances), drops.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::{Value, json};

use super::{Api, HTTP_TIMEOUT, get_json, render_table};
use crate::api::{COUNTERS, INSTANCE};

/// `nfv ps`.
#[derive(Debug, clap::Args)]
pub struct PsArgs {
    /// JSON instead of a table: an array of objects with the fields `name`, `pid`,
    /// `uptime_s`, `file`, `socket`, `ports`, `rx_pps`, `tx_pps`, `drops_total`,
    /// `drops_per_s` (docs/admin.md).
    #[arg(long)]
    json: bool,
    /// Seconds between the two counter samples the rates come from.
    #[arg(long, default_value_t = 0.5, value_parser = parse_interval)]
    interval: f64,
}

fn parse_interval(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.05..=60.0).contains(&v) => Ok(v),
        _ => Err("expected seconds between 0.05 and 60".into()),
    }
}

/// Sums over every port: (rx packets, tx packets, drops), drops of functions included.
fn totals(counters: &Value) -> (u64, u64, u64) {
    let list = |k: &str| counters[k].as_array().cloned().unwrap_or_default();
    let sum = |l: &[Value], k: &str| l.iter().map(|p| p[k].as_u64().unwrap_or(0)).sum::<u64>();
    let ports = list("ports");
    let functions = list("functions");
    (
        sum(&ports, "rx_packets"),
        sum(&ports, "tx_packets"),
        sum(&ports, "drops_total") + sum(&functions, "drops_total"),
    )
}

/// `5s`, `3m07s`, `2h05m`, `3d04h`.
pub fn uptime(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s if s < 86_400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        s => format!("{}d{:02}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// One instance's row as JSON, from its instance answer and two counter samples `dt`
/// apart (`None` when its workers did not answer: it is stopping; the rates are null).
fn row(inst: &Value, samples: Option<(&Value, &Value, Duration)>) -> Value {
    let mut r = json!({
        "name": inst["name"],
        "pid": inst["pid"],
        "uptime_s": inst["uptime_s"],
        "file": inst["file"],
        "socket": inst["socket"],
        "ports": inst["ports"].as_array().map_or(0, Vec::len),
        "rx_pps": null,
        "tx_pps": null,
        "drops_total": null,
        "drops_per_s": null,
    });
    if let Some((before, after, dt)) = samples {
        let secs = dt.as_secs_f64().max(1e-3);
        let (rx0, tx0, d0) = totals(before);
        let (rx1, tx1, d1) = totals(after);
        let rate = |a: u64, b: u64| ((b.saturating_sub(a) as f64 / secs) * 10.0).round() / 10.0;
        r["rx_pps"] = rate(rx0, rx1).into();
        r["tx_pps"] = rate(tx0, tx1).into();
        r["drops_total"] = d1.into();
        r["drops_per_s"] = rate(d0, d1).into();
    }
    r
}

/// The table `nfv ps` prints for `rows` ([`row`] objects).
pub fn render(rows: &[Value]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let s = |k: &str| match &r[k] {
                Value::String(s) => s.clone(),
                Value::Null => "-".into(),
                v => v.to_string(),
            };
            vec![
                s("name"),
                s("pid"),
                r["uptime_s"].as_u64().map_or_else(|| "-".into(), uptime),
                s("ports"),
                s("rx_pps"),
                s("tx_pps"),
                s("drops_total"),
                s("file"),
            ]
        })
        .collect();
    render_table(
        &[
            "name", "pid", "uptime", "ports", "rx_pps", "tx_pps", "drops", "file",
        ],
        &cells,
    )
}

/// `nfv ps`. An instance that does not answer (its socket is root's and this is not root)
/// is listed with its name and pid only, the reason on stderr, and the exit status is 1.
/// One that answers but whose workers do not (it is stopping) has no rates.
///
/// # Errors
/// The run directory cannot be read.
pub fn run(args: &PsArgs) -> Result<ExitCode> {
    let running = nfv_runtime::instance::running()?;
    let apis: Vec<Api> = running
        .iter()
        .map(|r| Api::unix(r.socket.clone()))
        .collect();
    let first: Vec<Result<(Value, Option<Value>)>> = apis
        .iter()
        .map(|&a| {
            let inst = get_json(a, INSTANCE, HTTP_TIMEOUT, "")?;
            Ok((inst, get_json(a, COUNTERS, HTTP_TIMEOUT, "").ok()))
        })
        .collect();
    let t0 = Instant::now();
    if first.iter().any(|r| matches!(r, Ok((_, Some(_))))) {
        std::thread::sleep(Duration::from_secs_f64(args.interval));
    }
    let mut rows = Vec::new();
    let mut failed = false;
    for ((r, api), first) in running.iter().zip(&apis).zip(first) {
        match first {
            Ok((inst, before)) => {
                let after = get_json(*api, COUNTERS, HTTP_TIMEOUT, "").ok();
                let samples = match (&before, &after) {
                    (Some(b), Some(a)) => Some((b, a, t0.elapsed())),
                    _ => None,
                };
                rows.push(row(&inst, samples));
            }
            Err(e) => {
                failed = true;
                eprintln!("nfv ps: {}: {e:#}", r.name);
                rows.push(json!({ "name": r.name, "pid": r.pid, "socket": r.socket }));
            }
        }
    }
    if args.json {
        println!("{}", Value::Array(rows));
    } else {
        print!("{}", render(&rows));
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_sum_every_port_and_drops_include_functions() {
        let inst = json!({"name": "lab1", "pid": 7, "uptime_s": 125, "file": "/x.yaml",
                          "socket": "/run/nfv/lab1.sock", "ports": ["h1:eth0", "h2:eth0"]});
        let before = json!({"ports": [{"rx_packets": 10, "tx_packets": 5, "drops_total": 0},
                                      {"rx_packets": 0, "tx_packets": 0, "drops_total": 1}],
                            "functions": [{"drops_total": 2}]});
        let after = json!({"ports": [{"rx_packets": 30, "tx_packets": 15, "drops_total": 0},
                                     {"rx_packets": 10, "tx_packets": 0, "drops_total": 1}],
                           "functions": [{"drops_total": 4}]});
        let r = row(&inst, Some((&before, &after, Duration::from_secs(2))));
        assert_eq!(r["rx_pps"], 15.0);
        assert_eq!(r["tx_pps"], 5.0);
        assert_eq!(r["drops_total"], 5);
        assert_eq!(r["drops_per_s"], 1.0);
        assert_eq!(r["ports"], 2);
        assert_eq!(
            render(&[r]),
            "NAME  PID  UPTIME  PORTS  RX_PPS  TX_PPS  DROPS  FILE\n\
             lab1  7    2m05s   2      15.0    5.0     5      /x.yaml\n"
        );
        let stopping = row(&inst, None);
        assert!(stopping["rx_pps"].is_null() && stopping["drops_total"].is_null());
        assert!(render(&[stopping]).contains("lab1  7    2m05s   2      -       -"));
    }

    #[test]
    fn uptimes_are_short() {
        assert_eq!(uptime(5), "5s");
        assert_eq!(uptime(3600 + 5 * 60), "1h05m");
        assert_eq!(uptime(2 * 86_400 + 3600), "2d01h");
    }
}
