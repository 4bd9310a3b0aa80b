//! YAML syntax errors explained in words: the [`Problem::help`](crate::Problem::help) of a
//! stage-1 syntax error.
//!
//! The parser reports where it gave up, which for an indentation mistake is often the line
//! *after* the mistake: with `ageing: 300s` dedented on line 13, `ports:` on line 14 is
//! what the parser cannot place ("mapping values are not allowed in this context"). So the
//! help looks at the indentation of the error's line and the significant lines before it
//! (not blank, not a comment) and names the line where the indentation went wrong:
//!
//! * **a tab** in the indentation: YAML indents with spaces only;
//! * **a dedented line between deeper ones** that has a value (`ageing: 300s` at 2 spaces
//!   between lines at 4): it left its mapping, and the next line is then too deep;
//! * **a line deeper than a `key: value` line above it**: nothing nests under a key that
//!   has a value;
//! * **a dedent to a column no mapping above uses** (1 space where keys are at 0 and 2);
//! * **an unclosed `{` or `[`** (the parser says so on the next line it cannot read): the
//!   opening bracket's line, with the caret under it.
//!
//! Each shows the lines involved with a caret under the place, `rustc` style; any other
//! syntax error gets the caret at the parser's position only. The text is advice drawn from
//! indentation alone; the parser's message stays the problem's message.

use std::fmt::Write as _;

/// Longest source line shown; a longer one is cut (and gets no caret past the cut).
const SHOWN_LINE_CHARS: usize = 120;

/// One source line of the text, 1-based.
struct Src<'a> {
    lines: Vec<&'a str>,
}

impl<'a> Src<'a> {
    fn line(&self, n: usize) -> &'a str {
        n.checked_sub(1)
            .and_then(|i| self.lines.get(i))
            .copied()
            .unwrap_or("")
    }

    /// Not blank, not a comment, not a document marker.
    fn significant(&self, n: usize) -> bool {
        let t = self.line(n).trim();
        !(t.is_empty() || t.starts_with('#') || t == "---" || t == "...")
    }

    /// The significant line before `n`, if any.
    fn before(&self, n: usize) -> Option<usize> {
        (1..n).rev().find(|&i| self.significant(i))
    }

    /// Leading spaces of line `n`.
    fn indent(&self, n: usize) -> usize {
        self.line(n).chars().take_while(|&c| c == ' ').count()
    }

    /// 1-based column of the first tab in line `n`'s indentation.
    fn tab_in_indent(&self, n: usize) -> Option<usize> {
        self.line(n)
            .chars()
            .take_while(|c| c.is_whitespace())
            .position(|c| c == '\t')
            .map(|i| i + 1)
    }

    /// `key: value` on one line, with a value that is a plain scalar (not a block scalar
    /// indicator, not an opening flow collection, not an anchor or tag alone): nothing can
    /// nest under it on the next lines.
    fn has_inline_value(&self, n: usize) -> bool {
        let t = self.line(n).trim();
        let t = t.strip_prefix("- ").unwrap_or(t).trim_start();
        let Some((_, value)) = t.split_once(": ") else {
            return false;
        };
        let v = value.split(" #").next().unwrap_or("").trim();
        !(v.is_empty() || v.starts_with(['|', '>', '&', '!', '[', '{']))
    }

    /// The columns (indentations) at which keys of the mappings open at line `n` start:
    /// line `n`'s own, then each less indented line above it. A list item `- key: v` opens
    /// a mapping two columns further in.
    fn open_levels(&self, n: usize) -> Vec<(usize, usize)> {
        let mut levels = Vec::new();
        let mut deepest = usize::MAX;
        for i in (1..=n).rev().filter(|&i| self.significant(i)) {
            let ind = self.indent(i);
            if ind < deepest {
                let item = self.line(i).trim_start().starts_with("- ");
                if item {
                    levels.push((ind + 2, i));
                }
                levels.push((ind, i));
                deepest = ind;
            }
            if ind == 0 {
                break;
            }
        }
        levels
    }
}

fn spaces(n: usize) -> String {
    format!("{n} space{}", if n == 1 { "" } else { "s" })
}

/// The last `{` or `[` still open after `line:column` (1-based, that character included):
/// (line, column, char). Quoted strings and comments are skipped.
fn unclosed_bracket(src: &Src<'_>, line: usize, column: usize) -> Option<(usize, usize, char)> {
    let mut open = Vec::new();
    for n in 1..=line {
        let mut quote = None;
        let mut prev = ' ';
        for (i, c) in src.line(n).chars().enumerate() {
            if n == line && i + 1 > column {
                break;
            }
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '"' | '\'') => quote = Some(c),
                (None, '#') if prev.is_whitespace() => break,
                (None, '{' | '[') => open.push((n, i + 1, c)),
                (None, '}' | ']') => {
                    open.pop();
                }
                _ => {}
            }
            prev = c;
        }
    }
    open.pop()
}

/// The help for a syntax error the parser reported at `line:column` (1-based) of `text`
/// with `message`. `None` when the position is not in the text.
pub(crate) fn syntax_error(
    text: &str,
    line: usize,
    column: usize,
    message: &str,
) -> Option<String> {
    let src = Src {
        lines: text.lines().collect(),
    };
    if line == 0 || line > src.lines.len() {
        return None;
    }
    let about_brackets = ["flow mapping", "flow sequence", "unclosed bracket"]
        .iter()
        .any(|m| message.contains(m));
    if about_brackets && let Some((l, c, b)) = unclosed_bracket(&src, line, column) {
        let close = if b == '{' { '}' } else { ']' };
        let note = format!("this {b} is not closed");
        let words = format!(
            "a flow {} that starts with {b} ends with {close}: close the {b} of line {l}",
            if b == '{' { "mapping" } else { "list" }
        );
        let mut shown = vec![l, line];
        shown.dedup();
        return Some(render(&src, &shown, (l, c, &note), &words));
    }
    if let Some(col) = src.tab_in_indent(line) {
        let words = format!(
            "line {line} is indented with a tab; YAML indents with spaces only: replace the \
             tab with spaces"
        );
        return Some(render(&src, &[line], (line, col, "a tab"), &words));
    }
    let ind = src.indent(line);
    if let Some(p) = src.before(line) {
        let pi = src.indent(p);
        let p2 = src.before(p);
        // A dedented `key: value` between two deeper lines: it is the mistake.
        if let Some(p2) = p2
            && pi < ind
            && pi < src.indent(p2)
            && src.has_inline_value(p)
        {
            let want = src.indent(p2);
            let note = if want == ind {
                format!("indented {pi}, the lines around it {want}")
            } else {
                format!("indented {pi}, line {p2} {want}, line {line} {ind}")
            };
            let words = format!(
                "the indentation goes wrong on line {p}: YAML nests by indentation, so line {p} \
                 left the mapping of line {p2}, and line {line} is then deeper than a key that \
                 has a value. Indent line {p} by {} like line {p2} (or line {line} by {pi}, if \
                 line {p} is where it belongs)",
                spaces(want)
            );
            return Some(render(&src, &[p2, p, line], (p, pi + 1, &note), &words));
        }
        // Deeper than a `key: value` above it.
        if ind > pi && src.has_inline_value(p) {
            let note = format!("indented {ind}, deeper than line {p} ({pi})");
            let words = format!(
                "line {p} already has a value, so line {line} cannot nest under it: indent line \
                 {line} by {} like line {p} (or, if it belongs under line {p}'s key, move that \
                 value to its own line)",
                spaces(pi)
            );
            return Some(render(&src, &[p, line], (line, ind + 1, &note), &words));
        }
        // A dedent to a column that no open mapping uses.
        let levels = src.open_levels(p);
        if ind < pi && !levels.iter().any(|&(l, _)| l == ind) {
            let choices: Vec<String> = levels
                .iter()
                .filter(|&&(l, _)| l <= pi)
                .map(|&(l, at)| format!("{} like line {at}", spaces(l)))
                .collect();
            let note = format!("indented {ind}, a column no mapping above uses");
            let words = format!(
                "the keys of one mapping start in the same column: indent line {line} by {}",
                choices.join(", or ")
            );
            let mut shown: Vec<usize> = levels.iter().map(|&(_, at)| at).collect();
            shown.push(line);
            shown.sort_unstable();
            shown.dedup();
            return Some(render(&src, &shown, (line, ind + 1, &note), &words));
        }
    }
    Some(render(&src, &[line], (line, column, "here"), ""))
}

/// The lines `shown` (ascending) with `| `, a caret and `note` under `mark`'s line at its
/// column, then `= help: words` when there are words.
fn render(src: &Src<'_>, shown: &[usize], mark: (usize, usize, &str), words: &str) -> String {
    let (mark_line, mark_col, note) = mark;
    let width = shown.iter().max().map_or(1, |n| n.to_string().len());
    let gutter = " ".repeat(width);
    let mut out = format!("{gutter} |\n");
    let mut last = None;
    for &n in shown {
        if last.is_some_and(|l: usize| n > l + 1) {
            let _ = writeln!(out, "{gutter} ...");
        }
        last = Some(n);
        let text = src.line(n);
        let cut: String = text.chars().take(SHOWN_LINE_CHARS).collect();
        let ellipsis = if cut.len() < text.len() { "…" } else { "" };
        let _ = writeln!(out, "{n:>width$} | {cut}{ellipsis}");
        if n == mark_line && (1..=SHOWN_LINE_CHARS).contains(&mark_col) {
            // Keep tabs so the caret lines up with the text above it.
            let pad: String = text
                .chars()
                .take(mark_col - 1)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            let _ = writeln!(out, "{gutter} | {pad}^ {note}");
        }
    }
    let _ = write!(out, "{gutter} |");
    if !words.is_empty() {
        let _ = write!(out, "\n{gutter} = help: {words}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dedented_key_with_a_value_is_named_not_the_line_after_it() {
        let text = "name: lab\nnodes:\n  sw1:\n    kind: switch\n  ageing: 300s\n    ports:\n";
        let help = syntax_error(text, 6, 10, "").unwrap_or_default();
        assert_eq!(
            help,
            "  |\n\
             4 |     kind: switch\n\
             5 |   ageing: 300s\n  \
               |   ^ indented 2, the lines around it 4\n\
             6 |     ports:\n  \
               |\n  \
               = help: the indentation goes wrong on line 5: YAML nests by indentation, so \
             line 5 left the mapping of line 4, and line 6 is then deeper than a key that has \
             a value. Indent line 5 by 4 spaces like line 4 (or line 6 by 2, if line 5 is \
             where it belongs)"
        );
    }

    #[test]
    fn a_line_deeper_than_a_key_with_a_value() {
        let text = "nodes:\n  sw1:\n    kind: switch\n      ageing: 300s\n";
        let help = syntax_error(text, 4, 13, "").unwrap_or_default();
        assert!(
            help.contains("4 |       ageing: 300s\n  |       ^ indented 6, deeper than line 3 (4)"),
            "{help}"
        );
        assert!(
            help.contains("indent line 4 by 4 spaces like line 3"),
            "{help}"
        );
    }

    #[test]
    fn a_dedent_to_no_open_column_lists_the_columns() {
        let text = "name: lab1\nnodes:\n  h1: { kind: host }\n sw1: { kind: switch }\n";
        let help = syntax_error(text, 4, 2, "").unwrap_or_default();
        assert!(
            help.contains("4 |  sw1: { kind: switch }\n  |  ^ indented 1"),
            "{help}"
        );
        assert!(
            help.ends_with("indent line 4 by 2 spaces like line 3, or 0 spaces like line 2"),
            "{help}"
        );
    }

    #[test]
    fn an_unclosed_brace_is_shown_where_it_opens() {
        let text = "nodes:\n  h1: { kind: host, x: \"{\" # {\n  h2: { kind: host }\n";
        let msg = "while parsing a flow mapping, did not find expected ',' or '}'";
        let help = syntax_error(text, 3, 5, msg).unwrap_or_default();
        assert!(help.contains("2 |   h1: { kind: host"), "{help}");
        assert!(
            help.contains("\n  |       ^ this { is not closed\n3 |   h2"),
            "{help}"
        );
        assert!(help.ends_with("close the { of line 2"), "{help}");
        let help = syntax_error("a: [1, {b: 2}\n", 1, 14, "unclosed bracket '['");
        assert!(help.is_some_and(|h| h.contains("^ this [ is not closed")));
    }

    #[test]
    fn a_tab_is_named_and_anything_else_gets_a_caret() {
        let help = syntax_error("name: a\nnodes:\n\th1: {}\n", 3, 2, "").unwrap_or_default();
        assert!(help.contains("3 | \th1: {}\n  | ^ a tab"), "{help}");
        assert!(help.contains("spaces only"), "{help}");
        let help = syntax_error("a: [1, 2\n", 1, 4, "mapping values").unwrap_or_default();
        assert_eq!(help, "  |\n1 | a: [1, 2\n  |    ^ here\n  |");
        assert_eq!(syntax_error("a: 1\n", 7, 1, ""), None);
    }
}
