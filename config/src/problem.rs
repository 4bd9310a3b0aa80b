//! [`Problem`] (one error or warning, with its place in the file) and [`ConfigError`].

use std::fmt;

/// One thing wrong (or suspicious) in a topology file.
///
/// Displayed as `file:line:column: path: "value": message`. Parts that are unknown are left
/// out: no `line:column` when `line` is 0, no `path` when it is empty (the whole document),
/// no `"value"` when the problem is about a key or a whole mapping rather than a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file name as given to [`crate::load_file`] or [`crate::load_str`].
    pub file: String,
    /// 1-based line, 0 if unknown.
    pub line: usize,
    /// 1-based column in characters, 0 if unknown.
    pub column: usize,
    /// Field path such as `nodes.h1.address` or `links[1].endpoints[0]`; empty for the document.
    pub path: String,
    /// The offending value as written, if the problem is about a value.
    pub value: Option<String>,
    /// What is wrong, as a sentence fragment without the value.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        f.write_str(": ")?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        if let Some(value) = &self.value {
            write!(f, "{value:?}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// The file could not be read or is not a valid topology. Holds every problem found: one for a
/// stage-1 (syntax or type) error, all of them for stage-2 (meaning) errors. Sorted by position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", lines(.problems))]
pub struct ConfigError {
    /// What went wrong, at least one.
    pub problems: Vec<Problem>,
}

fn lines(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(line: usize, path: &str, value: Option<&str>) -> Problem {
        Problem {
            file: "topo.yaml".into(),
            line,
            column: if line > 0 { 20 } else { 0 },
            path: path.into(),
            value: value.map(Into::into),
            message: "no node named \"sw9\"".into(),
        }
    }

    #[test]
    fn display_has_every_part() {
        let p = problem(14, "links[1].endpoints[1]", Some("sw9:p1"));
        assert_eq!(
            p.to_string(),
            r#"topo.yaml:14:20: links[1].endpoints[1]: "sw9:p1": no node named "sw9""#
        );
    }

    #[test]
    fn display_leaves_out_unknown_parts() {
        assert_eq!(
            problem(0, "", None).to_string(),
            r#"topo.yaml: no node named "sw9""#
        );
        assert_eq!(
            problem(3, "nodes", None).to_string(),
            r#"topo.yaml:3:20: nodes: no node named "sw9""#
        );
    }

    #[test]
    fn value_is_escaped() {
        let p = problem(1, "name", Some("a\"b\n"));
        assert!(p.to_string().contains(r#""a\"b\n""#), "{p}");
    }

    #[test]
    fn config_error_is_one_problem_per_line() {
        let e = ConfigError {
            problems: vec![problem(1, "a", None), problem(2, "b", None)],
        };
        assert_eq!(e.to_string().lines().count(), 2);
        assert!(!e.to_string().ends_with('\n'));
    }
}
