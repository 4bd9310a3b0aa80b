//! `nfv trace` and `GET /api/v1/trace`: the packet trace ([`nfv_dataplane::trace`]) of a
//! running nfv, VPP `show trace` style. See `docs/trace.md`.
//!
//! The API arms the worker's trace for the next `count` received packets matching `filter`,
//! then asks the worker every 20 ms for the log until every wanted packet was traced and
//! every traced packet has left (tx), been dropped or been consumed, or `seconds` passed,
//! and answers with the log as JSON. The CLI prints it, one block per packet.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use nfv_dataplane::trace::{Filter, MAX_COUNT, TraceLog};
use nfv_dataplane::worker::Controllers;
use serde_json::{Value, json};

use crate::admin::{Answer, WORKER_TIMEOUT};
use crate::admin_cli::ApiArgs;

/// Longest `seconds` the API waits.
pub const MAX_SECONDS: u64 = 60;
const POLL: Duration = Duration::from_millis(20);

/// `nfv trace`.
#[derive(Debug, clap::Args)]
pub struct TraceArgs {
    /// Trace the next N received packets that match (at most 64).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_COUNT)))]
    count: u32,
    /// Which packets: `src P`, `dst P`, `host P` (P an IPv4 address or prefix),
    /// `proto icmp|tcp|udp|N`, `port N`, joined by `and`. Default: every packet.
    #[arg(long, default_value = "")]
    filter: String,
    /// Stop waiting after this many seconds (at most 60).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=MAX_SECONDS))]
    seconds: u64,
    #[command(flatten)]
    api: ApiArgs,
}

fn answer(status: &'static str, v: &Value) -> Answer {
    Answer {
        status,
        body: v.to_string(),
    }
}

/// Decode `%XX` and `+` in a query value.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(b[i + 1]), hex(b[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Encode a query value (everything but unreserved characters).
fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for c in s.bytes() {
        if c.is_ascii_alphanumeric() || b"-_.~".contains(&c) {
            out.push(c as char);
        } else {
            let _ = write!(out, "%{c:02X}");
        }
    }
    out
}

fn query_value(query: &str, key: &str) -> Option<String> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| percent_decode(v))
}

/// The JSON form of a trace log.
pub fn log_json(log: &TraceLog, complete: bool) -> Value {
    let packets: Vec<Value> = log
        .packets
        .iter()
        .map(|p| {
            json!({
                "id": p.id,
                "generated_by": p.generated_by.as_ref().map(|(node, parent)| json!({
                    "node": node,
                    "packet": parent,
                })),
                "done": p.done,
                "lines": p.lines.iter().map(|l| json!({"node": l.node, "text": l.text})).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "filter": log.filter,
        "remaining": log.remaining,
        "complete": complete,
        "packets": packets,
    })
}

/// `GET /api/v1/trace?count=N&filter=F&seconds=S`. Blocks up to `seconds`.
pub fn api(query: &str, ctl: &Controllers) -> Answer {
    let bad = |msg: String| answer("400 Bad Request", &json!({ "error": msg }));
    let count = match query_value(query, "count")
        .as_deref()
        .map(str::parse::<u32>)
    {
        None => 10,
        Some(Ok(n)) if (1..=MAX_COUNT).contains(&n) => n,
        Some(_) => return bad(format!("count must be 1..={MAX_COUNT}")),
    };
    let seconds = match query_value(query, "seconds")
        .as_deref()
        .map(str::parse::<u64>)
    {
        None => 10,
        Some(Ok(n)) if (1..=MAX_SECONDS).contains(&n) => n,
        Some(_) => return bad(format!("seconds must be 1..={MAX_SECONDS}")),
    };
    let filter = match Filter::parse(&query_value(query, "filter").unwrap_or_default()) {
        Ok(f) => f,
        Err(e) => return bad(e.to_string()),
    };
    let unavailable = |e: &dyn std::fmt::Display| {
        answer(
            "503 Service Unavailable",
            &json!({ "error": e.to_string() }),
        )
    };
    if let Err(e) = ctl.trace(Some((filter, count)), WORKER_TIMEOUT) {
        return unavailable(&e);
    }
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        std::thread::sleep(POLL);
        let log = match ctl.trace(None, WORKER_TIMEOUT) {
            Ok(l) => l,
            Err(e) => return unavailable(&e),
        };
        let complete = log.complete();
        if complete || Instant::now() >= deadline {
            return answer("200 OK", &log_json(&log, complete));
        }
    }
}

/// The trace as text: one block per packet, one line per node (VPP `show trace`).
pub fn render(v: &Value) -> String {
    let mut out = String::new();
    let packets = v["packets"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    let width = packets
        .iter()
        .flat_map(|p| p["lines"].as_array().into_iter().flatten())
        .map(|l| l["node"].as_str().unwrap_or("").chars().count())
        .max()
        .unwrap_or(0);
    let _ = writeln!(out, "Trace filter: {}", v["filter"].as_str().unwrap_or(""));
    for p in packets {
        let _ = write!(out, "\nPacket {}", p["id"]);
        if let Some(g) = p["generated_by"].as_object() {
            let _ = write!(
                out,
                " (generated by {} while handling packet {})",
                g["node"].as_str().unwrap_or("?"),
                g["packet"]
            );
        }
        out.push('\n');
        for l in p["lines"].as_array().into_iter().flatten() {
            let _ = writeln!(
                out,
                "  {:<width$}  {}",
                l["node"].as_str().unwrap_or(""),
                l["text"].as_str().unwrap_or("")
            );
        }
        if p["done"] != Value::Bool(true) {
            let _ = writeln!(out, "  (still held or in flight when the trace was read)");
        }
    }
    if packets.is_empty() {
        out.push_str("\nNo packet matched.\n");
    }
    let remaining = v["remaining"].as_u64().unwrap_or(0);
    if remaining > 0 {
        let _ = writeln!(
            out,
            "\n{remaining} more packet(s) wanted when the time ran out."
        );
    }
    out
}

/// `nfv trace`.
pub fn run(args: &TraceArgs) -> Result<ExitCode> {
    // Check the filter here for a clear message before contacting the API.
    Filter::parse(&args.filter)?;
    let addr = args.api.addr()?;
    let path = format!(
        "/api/v1/trace?count={}&seconds={}&filter={}",
        args.count,
        args.seconds,
        percent_encode(&args.filter)
    );
    let (code, body) =
        crate::admin_cli::http_get(addr, &path, Duration::from_secs(args.seconds + 5))?;
    let v: Value =
        serde_json::from_str(&body).with_context(|| format!("answer {code} is not JSON"))?;
    if code != 200 {
        bail!("{code}: {}", v["error"].as_str().unwrap_or("unknown error"));
    }
    print!("{}", render(&v));
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use nfv_dataplane::trace::{TraceLine, TracedPacket};

    #[test]
    fn trace_query_values_round_trip() {
        let f = "proto icmp and src 10.0.0.0/24";
        let q = format!("count=1&filter={}", percent_encode(f));
        assert_eq!(query_value(&q, "filter").unwrap(), f);
        assert_eq!(query_value("filter=a+b%2", "filter").unwrap(), "a b%2");
        assert_eq!(query_value(&q, "count").unwrap(), "1");
        assert!(query_value(&q, "seconds").is_none());
    }

    #[test]
    fn trace_renders_one_block_per_packet() {
        let line = |n: &str, t: &str| TraceLine {
            node: n.into(),
            text: t.into(),
        };
        let log = TraceLog {
            filter: "proto icmp".into(),
            remaining: 0,
            packets: vec![
                TracedPacket {
                    id: 1,
                    generated_by: None,
                    lines: vec![
                        line("h1:eth0", "rx, 98 bytes"),
                        line("sw1", "switch: in gate p1"),
                    ],
                    done: true,
                },
                TracedPacket {
                    id: 2,
                    generated_by: Some(("r1".into(), 1)),
                    lines: vec![line("r1", "icmp error")],
                    done: false,
                },
            ],
        };
        let text = render(&log_json(&log, false));
        assert!(
            text.contains("Packet 1\n  h1:eth0  rx, 98 bytes\n  sw1      switch: in gate p1\n"),
            "{text}"
        );
        assert!(
            text.contains("Packet 2 (generated by r1 while handling packet 1)"),
            "{text}"
        );
        assert!(text.contains("still held or in flight"), "{text}");
    }
}
