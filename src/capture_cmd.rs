//! Packet capture on a running nfv: the admin endpoint
//! `GET /api/v1/capture?port=NODE:IFACE[&count=N][&seconds=S][&direction=rx|tx|both]`, which
//! answers a classic pcap file (`application/vnd.tcpdump.pcap`), and `nfv capture`, its
//! client. See `docs/capture.md`.
//!
//! The endpoint arms a [`nfv_dataplane::capture::CaptureTap`] on the port through the worker's
//! control channel, collects copies until `count` frames or `seconds` have passed
//! (whichever comes first), then drops the receiver, which disarms the tap at the port's
//! next frame.

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use nfv_dataplane::capture::{self, Direction, PcapWriter};
use nfv_dataplane::worker::Controllers;
use serde_json::json;

/// Frames in flight between the worker and the collector; more are dropped (from the
/// capture only).
pub const QUEUE: usize = 4096;
/// Most frames one capture returns.
pub const MAX_COUNT: u64 = 100_000;
/// Longest capture, and the default when no `seconds` is given.
pub const MAX_SECONDS: f64 = 3600.0;
/// Default capture length in seconds.
pub const DEFAULT_SECONDS: f64 = 60.0;

/// A parsed capture request.
#[derive(Debug, PartialEq)]
struct Params {
    port: String,
    count: u64,
    seconds: f64,
    direction: Direction,
}

fn parse_query(query: &str) -> Result<Params, String> {
    let mut port = None;
    let mut count = MAX_COUNT;
    let mut seconds = DEFAULT_SECONDS;
    let mut direction = Direction::Both;
    for (k, v) in query.split('&').filter_map(|kv| kv.split_once('=')) {
        match k {
            // Port names are `node:iface`; accept a percent-encoded colon too.
            "port" => port = Some(v.replace("%3A", ":").replace("%3a", ":")),
            "count" => match v.parse::<u64>() {
                Ok(n) if (1..=MAX_COUNT).contains(&n) => count = n,
                _ => return Err(format!("count must be 1..={MAX_COUNT}, not {v:?}")),
            },
            "seconds" => match v.parse::<f64>() {
                Ok(s) if s > 0.0 && s <= MAX_SECONDS => seconds = s,
                _ => return Err(format!("seconds must be in (0, {MAX_SECONDS}], not {v:?}")),
            },
            "direction" => {
                direction = Direction::parse(v)
                    .ok_or_else(|| format!("direction must be rx, tx or both, not {v:?}"))?;
            }
            _ => {}
        }
    }
    let port = port
        .filter(|p| !p.is_empty())
        .ok_or("port=NODE:IFACE is required")?;
    Ok(Params {
        port,
        count,
        seconds,
        direction,
    })
}

/// An answer: status, content type, body.
type Reply = (&'static str, &'static str, Vec<u8>);

fn json_error(status: &'static str, msg: &str) -> Reply {
    (
        status,
        "application/json",
        json!({ "error": msg }).to_string().into_bytes(),
    )
}

/// Answer `GET /api/v1/capture?query`. Blocks for up to the capture's `seconds`.
fn answer(query: &str, ctl: &Controllers) -> Reply {
    let p = match parse_query(query) {
        Ok(p) => p,
        Err(e) => return json_error("400 Bad Request", &e),
    };
    let (tap, rx) = capture::capture(p.direction, QUEUE);
    match ctl.capture(p.port.clone(), tap, crate::admin::WORKER_TIMEOUT) {
        Ok(true) => {}
        Ok(false) => {
            return json_error(
                "404 Not Found",
                &format!("no port {:?}; ports are named NODE:IFACE", p.port),
            );
        }
        Err(e) => return json_error("503 Service Unavailable", &e.to_string()),
    }
    let deadline = Instant::now() + Duration::from_secs_f64(p.seconds);
    let mut frames = Vec::new();
    while (frames.len() as u64) < p.count {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(f) => frames.push(f),
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
        }
    }
    drop(rx);
    let mut w = match PcapWriter::new(Vec::new()) {
        Ok(w) => w,
        Err(e) => return json_error("500 Internal Server Error", &e.to_string()),
    };
    for f in &frames {
        // Writing into a Vec cannot fail.
        let _ = w.write(f.ts, &f.data);
    }
    let body = w.finish().unwrap_or_default();
    tracing::info!(port = %p.port, frames = frames.len(), "capture done");
    ("200 OK", "application/vnd.tcpdump.pcap", body)
}

/// Serve `GET /api/v1/capture?query` on `stream` (called by the metrics server).
pub async fn serve(stream: &mut tokio::net::TcpStream, query: String, ctl: Controllers) {
    use tokio::io::AsyncWriteExt as _;
    let (status, ctype, body) = tokio::task::spawn_blocking(move || answer(&query, &ctl))
        .await
        .unwrap_or_else(|e| json_error("500 Internal Server Error", &e.to_string()));
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(&body).await;
    let _ = stream.shutdown().await;
}

/// `nfv capture`.
#[derive(Debug, clap::Args)]
pub struct CaptureArgs {
    /// The port: NODE:IFACE (e.g. h2:eth0, sw1:p1).
    port: String,
    /// Write the pcap here; `-` is stdout (the default, refused on a terminal).
    #[arg(short = 'w', long = "write", value_name = "FILE", default_value = "-")]
    write: PathBuf,
    /// Stop after this many frames.
    #[arg(short = 'c', long, value_name = "COUNT", value_parser = clap::value_parser!(u64).range(1..=MAX_COUNT))]
    count: Option<u64>,
    /// Stop after this many seconds (default 60, at most 3600).
    #[arg(long, value_name = "S")]
    seconds: Option<f64>,
    /// Which frames: rx (into nfv from the device), tx (out of nfv to it) or both.
    #[arg(long, value_enum, default_value = "both")]
    direction: DirArg,
    #[command(flatten)]
    api: crate::admin_cli::ApiArgs,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum DirArg {
    Rx,
    Tx,
    Both,
}

/// `nfv capture`.
///
/// # Errors
/// The API cannot be reached or answers an error (unknown port …), or FILE cannot be written.
pub fn run(args: &CaptureArgs) -> Result<ExitCode> {
    let to_stdout = args.write.as_os_str() == "-";
    if to_stdout && std::io::stdout().is_terminal() {
        bail!("refusing to write pcap data to a terminal; use -w FILE or a pipe");
    }
    let addr = args.api.addr()?;
    let seconds = args.seconds.unwrap_or(DEFAULT_SECONDS);
    if !(seconds > 0.0 && seconds <= MAX_SECONDS) {
        bail!("--seconds must be in (0, {MAX_SECONDS}]");
    }
    let dir = match args.direction {
        DirArg::Rx => "rx",
        DirArg::Tx => "tx",
        DirArg::Both => "both",
    };
    let mut path = format!(
        "/api/v1/capture?port={}&seconds={seconds}&direction={dir}",
        args.port
    );
    if let Some(c) = args.count {
        path.push_str(&format!("&count={c}"));
    }
    let wait = Duration::from_secs_f64(seconds) + Duration::from_secs(10);
    let (code, body) = crate::admin_cli::http_get_bytes(addr, &path, wait)?;
    if code != 200 {
        let msg = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_string))
            .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
        bail!("capture {}: {code}: {msg}", args.port);
    }
    let frames = capture::read_pcap(&body)
        .map(|r| r.len())
        .context("the answer is not a pcap file")?;
    if to_stdout {
        let mut out = std::io::stdout().lock();
        out.write_all(&body)?;
        out.flush()?;
    } else {
        std::fs::write(&args.write, &body)
            .with_context(|| format!("couldn't write {}", args.write.display()))?;
    }
    eprintln!(
        "nfv: captured {frames} frame{} on {}{}",
        if frames == 1 { "" } else { "s" },
        args.port,
        if to_stdout {
            String::new()
        } else {
            format!(" into {}", args.write.display())
        }
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn capture_query_parsing() {
        assert_eq!(
            parse_query("port=h2%3Aeth0&count=6&seconds=2.5&direction=rx"),
            Ok(Params {
                port: "h2:eth0".into(),
                count: 6,
                seconds: 2.5,
                direction: Direction::Rx,
            })
        );
        let d = parse_query("port=sw1:p1").unwrap();
        assert_eq!(
            (d.count, d.seconds, d.direction),
            (MAX_COUNT, DEFAULT_SECONDS, Direction::Both)
        );
        for (q, msg) in [
            ("", "required"),
            ("port=a:b&count=0", "count"),
            ("port=a:b&seconds=-1", "seconds"),
            ("port=a:b&seconds=99999", "seconds"),
            ("port=a:b&direction=up", "direction"),
        ] {
            assert!(parse_query(q).unwrap_err().contains(msg), "{q}");
        }
    }

    #[test]
    fn unknown_port_is_a_404_and_a_stopped_worker_a_503() {
        let sd = nfv_dataplane::worker::Shutdown::new().unwrap();
        let (ctl, rx) = nfv_dataplane::worker::control(std::sync::Arc::clone(&sd));
        let ctl = Controllers::single(ctl);
        drop(rx);
        let (status, _, body) = answer("port=h1:eth0&count=1", &ctl);
        assert_eq!(status, "503 Service Unavailable");
        assert!(String::from_utf8(body).unwrap().contains("not running"));
        let (status, _, _) = answer("count=1", &ctl);
        assert_eq!(status, "400 Bad Request");
    }
}
