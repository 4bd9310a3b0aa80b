//! `--json`: one flag, the same on every command that prints results (`show`, `stats`,
//! `check`, `trace`). Field names are stable and documented in `docs/json.md`.
//!
//! A command that answers once prints one JSON document, indented (readable, and what `jq`
//! and every JSON parser read); a stream (`stats`) prints one compact object per line
//! (JSON Lines), so each sample can be read as it arrives.

use std::io::Write as _;

use anyhow::Result;
use serde_json::Value;

/// The `--json` flag.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct JsonArg {
    /// Print JSON instead of text (field names: docs/json.md); a stream prints one object
    /// per line.
    #[arg(long)]
    pub json: bool,
}

/// One JSON document on stdout, indented, with a final newline.
///
/// # Errors
/// Writing to stdout failed (a closed pipe).
pub fn print_document(v: &Value) -> Result<()> {
    print(v, true)
}

/// One JSON Lines record on stdout: compact, one line, flushed.
///
/// # Errors
/// Writing to stdout failed (a closed pipe).
pub fn print_line(v: &Value) -> Result<()> {
    print(v, false)
}

fn print(v: &Value, pretty: bool) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if pretty {
        serde_json::to_writer_pretty(&mut out, v)?;
    } else {
        serde_json::to_writer(&mut out, v)?;
    }
    writeln!(out)?;
    out.flush()?;
    Ok(())
}
