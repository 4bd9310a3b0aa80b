//! `nfv check FILE [--json]`, and how every command prints a topology file's problems.
//!
//! Text: `error: <problem>` (or `warning:`) on stderr, then its help lines (the source line
//! with a caret and what to change, for YAML syntax errors), then `FILE: N problems found`.
//! JSON (`--json`, `docs/json.md`): one document on stdout with every error and warning.
//! Exit status 1 when there is an error, either way.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use nfv_config::Problem;
use serde_json::{Value, json};

use crate::output::print_document;

/// `error` or `warning`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The file is refused.
    Error,
    /// Valid, but probably not meant.
    Warning,
}

impl Severity {
    fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// `severity: problem` on stderr, and its help lines.
pub fn print_problem(severity: Severity, p: &Problem) {
    eprintln!("{}: {p}", severity.as_str());
    if let Some(help) = &p.help {
        eprintln!("{help}");
    }
}

/// One problem as JSON: `file`, `line`, `column` (0: unknown), `path` (empty: the whole
/// document), `value` (null: about a key or a mapping), `message`, `severity`,
/// `suggestions` and `help` (null or text), long text shortened as in the text output.
pub fn problem_json(severity: Severity, p: &Problem) -> Value {
    let p = p.shown();
    json!({
        "file": p.file,
        "line": p.line,
        "column": p.column,
        "path": p.path,
        "value": p.value,
        "message": p.message,
        "severity": severity.as_str(),
        "suggestions": p.suggestions,
        "help": p.help,
    })
}

/// The `nfv check --json` document for `file`.
fn check_json(file: &Path, loaded: &Result<nfv_config::Loaded, nfv_config::ConfigError>) -> Value {
    let (topology, problems): (Value, Vec<Value>) = match loaded {
        Ok(l) => (
            json!({
                "name": l.topology.name,
                "nodes": l.topology.nodes.len(),
                "links": l.topology.links.len(),
            }),
            l.warnings
                .iter()
                .map(|w| problem_json(Severity::Warning, w))
                .collect(),
        ),
        Err(e) => (
            Value::Null,
            e.problems
                .iter()
                .map(|p| problem_json(Severity::Error, p))
                .collect(),
        ),
    };
    let count = |s: &str| problems.iter().filter(|p| p["severity"] == s).count();
    json!({
        "file": file.display().to_string(),
        "ok": loaded.is_ok(),
        "errors": count("error"),
        "warnings": count("warning"),
        "topology": topology,
        "problems": problems,
    })
}

/// `nfv check --json`.
///
/// # Errors
/// Writing to stdout failed.
pub fn check_json_cmd(file: &Path) -> Result<ExitCode> {
    let loaded = nfv_config::load_file(file);
    print_document(&check_json(file, &loaded))?;
    Ok(if loaded.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn problems_have_every_documented_field() {
        let loaded = nfv_config::load_str(
            "t.yaml",
            "name: t\nnodes:\n  h1: { kind: host, adress: 10.0.0.1/24 }\n",
        );
        let v = check_json(Path::new("t.yaml"), &loaded);
        assert_eq!(v["ok"], false);
        assert_eq!(
            (v["errors"].as_u64(), v["warnings"].as_u64()),
            (Some(1), Some(0))
        );
        assert_eq!(v["topology"], Value::Null);
        let p = &v["problems"][0];
        let mut keys: Vec<&str> = p.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "column",
                "file",
                "help",
                "line",
                "message",
                "path",
                "severity",
                "suggestions",
                "value"
            ]
        );
        assert_eq!(
            (&p["line"], &p["column"], &p["path"], &p["severity"]),
            (
                &json!(3),
                &json!(21),
                &json!("nodes.h1.adress"),
                &json!("error")
            )
        );
        assert_eq!(p["suggestions"], json!(["address"]));
        assert_eq!(p["value"], Value::Null);
    }

    #[test]
    fn warnings_come_with_the_topology() {
        let loaded = nfv_config::load_str(
            "t.yaml",
            "name: t\nnodes:\n  h1: { kind: host, address: 10.0.0.1/24 }\n",
        );
        let v = check_json(Path::new("t.yaml"), &loaded);
        assert_eq!(v["ok"], true);
        assert_eq!(v["topology"], json!({"name": "t", "nodes": 1, "links": 0}));
        assert!(v["warnings"].as_u64().unwrap() >= 1, "{v}");
        assert_eq!(v["problems"][0]["severity"], "warning");
    }
}
