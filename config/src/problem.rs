//! [`Problem`] (one error or warning, with its place in the file) and [`ConfigError`].

use std::fmt;

/// One thing wrong (or suspicious) in a topology file.
///
/// Displayed as `file:line:column: path: "value": message`. Parts that are unknown are left
/// out: no `line:column` when `line` is 0, no `path` when it is empty (the whole document),
/// no `"value"` when the problem is about a key or a whole mapping rather than a value.
/// [`suggestions`](Problem::suggestions) add `; did you mean "x"?` (or `"x" or "y"`) at the
/// end.
///
/// Long text is shortened for display (a 20 MB value is not echoed whole): a value, a
/// quoted string in the message or a path segment longer than [`SHOWN_CHARS`] characters
/// is shown as its first characters, `…` and its length, `"aaaa…" (20971520 bytes)`. The
/// fields themselves keep the full text.
///
/// [`help`](Problem::help) is not part of the one-line display: the CLI prints it under
/// the line (the source line with a caret, and what to do).
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
    /// The valid words (field, kind, node or interface names) closest to a misspelt one,
    /// best first (`crate::suggest`); usually one, empty when nothing is close.
    pub suggestions: Vec<String>,
    /// Lines that explain the problem further: the source line with a caret under the
    /// place, and what to change (YAML indentation errors). No trailing newline.
    pub help: Option<String>,
}

impl Problem {
    /// A copy with the text shortened as [`Display`](fmt::Display) shortens it: for
    /// output that is not one line of text (`nfv check --json`). An over-long value becomes
    /// its first characters and `…` (no quotes, no length: the value is a string).
    #[must_use]
    pub fn shown(&self) -> Problem {
        Problem {
            file: self.file.clone(),
            line: self.line,
            column: self.column,
            path: short_path(&self.path),
            value: self.value.as_deref().map(|v| {
                if v.chars().count() <= SHOWN_CHARS {
                    v.to_owned()
                } else {
                    v.chars().take(SHOWN_PREFIX).collect::<String>() + "…"
                }
            }),
            message: short_message(&self.message),
            suggestions: self.suggestions.clone(),
            help: self.help.clone(),
        }
    }
}

/// Longest value, quoted string or path segment shown whole in a message, in characters.
pub const SHOWN_CHARS: usize = 80;

/// How many characters of a longer one are shown before the `…`.
const SHOWN_PREFIX: usize = 60;

/// `text` as a quoted string (Rust escapes), shortened past [`SHOWN_CHARS`] characters:
/// `"aaaa…" (20971520 bytes)`.
#[must_use]
pub fn quoted(text: &str) -> String {
    if text.chars().count() <= SHOWN_CHARS {
        return format!("{text:?}");
    }
    let head: String = text.chars().take(SHOWN_PREFIX).collect();
    format!("{:?} ({} bytes)", head + "…", text.len())
}

/// A path segment (a node or port name), shortened like [`quoted`] but without quotes.
fn segment(seg: &str) -> String {
    if seg.chars().count() <= SHOWN_CHARS {
        return seg.to_owned();
    }
    let head: String = seg.chars().take(SHOWN_PREFIX).collect();
    format!("{head}…({} bytes)", seg.len())
}

/// `path` with every over-long segment shortened.
fn short_path(path: &str) -> String {
    if path.len() <= SHOWN_CHARS {
        return path.to_owned();
    }
    path.split('.').map(segment).collect::<Vec<_>>().join(".")
}

/// `message` with every over-long `"quoted"` string (Rust escapes, as `{:?}` writes them)
/// shortened like [`quoted`].
fn short_message(message: &str) -> String {
    if message.len() <= SHOWN_CHARS {
        return message.to_owned();
    }
    let mut out = String::with_capacity(message.len().min(4 * SHOWN_CHARS));
    let mut rest = message;
    while let Some(open) = rest.find('"') {
        out.push_str(&rest[..open]);
        let body = &rest[open + 1..];
        let Some(close) = closing_quote(body) else {
            rest = &rest[open..];
            break;
        };
        match unescape(&body[..close]) {
            Some(text) => out.push_str(&quoted(&text)),
            None => {
                out.push('"');
                out.push_str(&body[..close]);
                out.push('"');
            }
        }
        rest = &body[close + 1..];
    }
    out.push_str(rest);
    out
}

/// Index of the first `"` in `s` not escaped by a backslash.
fn closing_quote(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(i),
            _ => {}
        }
    }
    None
}

/// The text a `{:?}`-quoted string stands for; `None` for an escape it does not write.
fn unescape(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        out.push(match chars.next()? {
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            '0' => '\0',
            '\\' => '\\',
            '"' => '"',
            '\'' => '\'',
            'u' => {
                let hex: String = chars.by_ref().skip(1).take_while(|&c| c != '}').collect();
                char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?
            }
            _ => return None,
        });
    }
    Some(out)
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        f.write_str(": ")?;
        if !self.path.is_empty() {
            write!(f, "{}: ", short_path(&self.path))?;
        }
        if let Some(value) = &self.value {
            write!(f, "{}: ", quoted(value))?;
        }
        f.write_str(&short_message(&self.message))?;
        if !self.suggestions.is_empty() {
            let words: Vec<String> = self.suggestions.iter().map(|s| quoted(s)).collect();
            write!(f, "; did you mean {}?", words.join(" or "))?;
        }
        Ok(())
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
            suggestions: Vec::new(),
            help: None,
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
    fn a_suggestion_is_a_suffix_and_help_is_not_displayed() {
        let mut p = problem(14, "links[1].endpoints[1]", Some("sw9:p1"));
        p.suggestions = vec!["sw1".into()];
        p.help = Some("more".into());
        assert_eq!(
            p.to_string(),
            r#"topo.yaml:14:20: links[1].endpoints[1]: "sw9:p1": no node named "sw9"; did you mean "sw1"?"#
        );
        p.suggestions.push("sw2".into());
        assert!(p.to_string().ends_with(r#"; did you mean "sw1" or "sw2"?"#));
    }

    #[test]
    fn long_values_paths_and_quoted_strings_are_shortened() {
        let long = "a".repeat(20 * 1024 * 1024);
        let mut p = problem(1, &format!("nodes.{long}.kind"), Some(&long));
        p.message = format!("unknown kind {long:?}, expected one of host");
        let head = "a".repeat(60);
        assert_eq!(
            p.to_string(),
            format!(
                "topo.yaml:1:20: nodes.{head}…(20971520 bytes).kind: \"{head}…\" (20971520 bytes): \
                 unknown kind \"{head}…\" (20971520 bytes), expected one of host"
            )
        );
        assert_eq!(
            p.value.as_ref().map(String::len),
            Some(long.len()),
            "kept whole"
        );
        // 80 characters are shown whole; escapes are counted as the text they stand for.
        let eighty = "é".repeat(80);
        assert_eq!(quoted(&eighty), format!("{eighty:?}"));
        let msg = format!("bad {:?} here", "\n".repeat(100));
        assert_eq!(
            short_message(&msg),
            format!("bad {:?} (100 bytes) here", "\n".repeat(60) + "…")
        );
        assert_eq!(short_message("a \"b"), "a \"b", "an unclosed quote stays");
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
