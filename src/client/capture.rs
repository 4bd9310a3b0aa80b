//! `nfv capture PORT`: frames of a port of a running nfv, over `/api/v1/capture`, into a
//! pcap file (`docs/capture.md`).

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use nfv_dataplane::capture::{self, Direction};

use super::{ApiArgs, error_text, get};
use crate::api::CaptureQuery;

/// `nfv capture`.
#[derive(Debug, clap::Args)]
pub struct CaptureArgs {
    /// The port: NODE:IFACE (e.g. h2:eth0, sw1:p1).
    port: String,
    /// Write the pcap here; `-` is stdout (the default, refused on a terminal).
    #[arg(short = 'w', long = "write", value_name = "FILE", default_value = "-")]
    write: PathBuf,
    /// Stop after this many frames.
    #[arg(short = 'c', long, value_name = "COUNT", value_parser = clap::value_parser!(u64).range(1..=CaptureQuery::MAX_COUNT))]
    count: Option<u64>,
    /// Stop after this many seconds (default 60, at most 3600).
    #[arg(long, value_name = "S")]
    seconds: Option<f64>,
    /// Which frames: rx (into nfv from the device), tx (out of nfv to it) or both.
    #[arg(long, value_enum, default_value = "both")]
    direction: DirArg,
    #[command(flatten)]
    api: ApiArgs,
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
    let seconds = args.seconds.unwrap_or(CaptureQuery::DEFAULT_SECONDS);
    if !CaptureQuery::seconds_ok(seconds) {
        bail!("--seconds must be in (0, {}]", CaptureQuery::MAX_SECONDS);
    }
    let q = CaptureQuery {
        port: args.port.clone(),
        count: args.count.unwrap_or(CaptureQuery::MAX_COUNT),
        seconds,
        direction: match args.direction {
            DirArg::Rx => Direction::Rx,
            DirArg::Tx => Direction::Tx,
            DirArg::Both => Direction::Both,
        },
    };
    let wait = Duration::from_secs_f64(seconds) + Duration::from_secs(10);
    let (code, body) = get(addr, &q.path(), wait)?;
    if code != 200 {
        bail!("capture {}: {code}: {}", args.port, error_text(&body));
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
