//! Stage-1 errors: turn a serde-saphyr error into a [`Problem`] with a field path and a value.
//!
//! serde-saphyr gives the line and column of the node that failed but no field path. We do not
//! use `serde_path_to_error`: wrapped around serde-saphyr's deserializer it does run, but every
//! `Spanned<T>` adds a synthetic `value` segment (`nodes.value.?.value.address.value`) and a
//! `Spanned<String>` map key comes out as `?`, so node and port names are lost.
//!
//! Instead, when (and only when) stage 1 fails, we parse the text a second time with the same
//! event parser serde-saphyr uses (`granit-parser`, re-exported as `serde_saphyr::granit_parser`,
//! so positions agree exactly) and index every node by its start position with the path that
//! leads to it. The error's position then finds its node: a key for "unknown field" and
//! "duplicate key", the mapping for "missing field", the value otherwise. The same index gives
//! the scalar text for the `"value"` part of the message.

use serde_saphyr::Error as YamlError;
use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle};

use crate::explain;
use crate::problem::Problem;
use crate::raw::fields_of_kind;
use crate::suggest;
use crate::topology::KNOWN_KINDS;

/// One step of a path: a mapping key or a sequence index.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

fn render(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Key,
    Scalar,
    /// An empty value, `~` or `null`.
    Null,
    Mapping,
    Sequence,
    Alias,
}

#[derive(Debug)]
struct Entry {
    line: usize,
    column: usize,
    /// Path of the node; for a key, the path of the value it introduces.
    path: Vec<Seg>,
    role: Role,
    /// Scalar text (keys and scalars).
    text: Option<String>,
}

enum Frame {
    Map {
        path: Vec<Seg>,
        /// `Some` while waiting for the value of this key.
        key: Option<String>,
    },
    Seq {
        path: Vec<Seg>,
        next: usize,
    },
}

/// Every node of a document by position, with its path.
struct Index {
    entries: Vec<Entry>,
    /// Where the parser failed, if the text is not valid YAML.
    failure: Option<Failure>,
}

/// A YAML syntax error found while indexing.
struct Failure {
    line: usize,
    column: usize,
    message: String,
    /// Path of the innermost open collection (or pending key) at the failure.
    path: Vec<Seg>,
}

impl Index {
    fn build(text: &str) -> Index {
        let mut entries = Vec::new();
        let mut stack: Vec<Frame> = Vec::new();
        for next in Parser::new_from_str(text) {
            let (event, span) = match next {
                Ok(ev) => ev,
                Err(err) => {
                    let path = stack.last().map(|frame| match frame {
                        Frame::Map { path, key: Some(k) } => extend(path, Seg::Key(k.clone())),
                        Frame::Map { path, key: None } | Frame::Seq { path, .. } => path.clone(),
                    });
                    let failure = Failure {
                        line: err.marker().line(),
                        column: err.marker().col() + 1,
                        message: err.info(),
                        path: path.unwrap_or_default(),
                    };
                    return Index {
                        entries,
                        failure: Some(failure),
                    };
                }
            };
            let (role, text) = match event {
                Event::Scalar(s, ScalarStyle::Plain, ..)
                    if matches!(s.as_ref(), "" | "~" | "null" | "Null" | "NULL") =>
                {
                    (Role::Null, None)
                }
                Event::Scalar(s, ..) => (Role::Scalar, Some(s.into_owned())),
                Event::MappingStart(..) => (Role::Mapping, None),
                Event::SequenceStart(..) => (Role::Sequence, None),
                Event::Alias(_) => (Role::Alias, None),
                Event::MappingEnd | Event::SequenceEnd => {
                    stack.pop();
                    continue;
                }
                _ => continue,
            };
            let line = span.start.line();
            let column = span.start.col() + 1;
            // Where does this node sit: a key, a value, a sequence item or the root?
            let (path, is_key) = match stack.last_mut() {
                None => (Vec::new(), false),
                Some(Frame::Seq { path, next }) => {
                    *next += 1;
                    (extend(path, Seg::Index(*next - 1)), false)
                }
                Some(Frame::Map { path, key }) => match key.take() {
                    Some(k) => (extend(path, Seg::Key(k)), false),
                    None => {
                        // A key. Complex (collection) keys are rare; call them "?".
                        let k = text.clone().unwrap_or_else(|| "?".to_owned());
                        *key = Some(k.clone());
                        (extend(path, Seg::Key(k)), true)
                    }
                },
            };
            entries.push(Entry {
                line,
                column,
                path: path.clone(),
                role: if is_key { Role::Key } else { role },
                text,
            });
            match role {
                Role::Mapping => stack.push(Frame::Map { path, key: None }),
                Role::Sequence => stack.push(Frame::Seq { path, next: 0 }),
                _ => {}
            }
        }
        Index {
            entries,
            failure: None,
        }
    }

    /// The innermost node of one of `roles` starting at `line:column`.
    fn at(&self, line: usize, column: usize, roles: &[Role]) -> Option<&Entry> {
        self.entries
            .iter()
            .rev()
            .find(|e| e.line == line && e.column == column && roles.contains(&e.role))
    }

    fn scalar_at_path(&self, path: &[Seg]) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| e.role == Role::Scalar && e.path == path)
            .and_then(|e| e.text.as_deref())
    }

    fn first_key_at_path(&self, path: &[Seg]) -> Option<&Entry> {
        self.entries
            .iter()
            .find(|e| e.role == Role::Key && e.path == path)
    }
}

fn extend(path: &[Seg], seg: Seg) -> Vec<Seg> {
    let mut p = path.to_vec();
    p.push(seg);
    p
}

const VALUE_ROLES: &[Role] = &[
    Role::Scalar,
    Role::Null,
    Role::Mapping,
    Role::Sequence,
    Role::Alias,
];

/// Build the single [`Problem`] for a stage-1 error.
pub(crate) fn problem_from_yaml_error(file: &str, text: &str, err: &YamlError) -> Problem {
    let (line, column) = err.location().map_or((0, 0), |l| {
        (
            usize::try_from(l.line()).unwrap_or(0),
            usize::try_from(l.column()).unwrap_or(0),
        )
    });
    let mut problem = Problem {
        file: file.to_owned(),
        line,
        column,
        path: String::new(),
        value: None,
        message: String::new(),
        suggestions: Vec::new(),
        help: None,
    };
    // Over a parser limit: say which, without indexing the (large) text again.
    if let YamlError::Budget { breach, .. } = innermost(err) {
        problem.message = budget_message(breach);
        return problem;
    }
    let index = Index::build(text);
    // A value-level error: path and text of the value node at the error's position.
    let value_problem = |mut problem: Problem, message: String| {
        if let Some(e) = index.at(line, column, VALUE_ROLES) {
            problem.path = render(&e.path);
            problem.value = e.text.clone();
        }
        problem.message = message;
        problem
    };
    let found = || match index.at(line, column, VALUE_ROLES).map(|e| e.role) {
        Some(Role::Mapping) => ", found a mapping",
        Some(Role::Sequence) => ", found a list",
        Some(Role::Null) => ", found nothing",
        _ => "",
    };

    match innermost(err) {
        YamlError::SerdeUnknownField {
            field, expected, ..
        } => {
            let mut expected: Vec<&str> = expected.clone();
            if let Some(e) = index.at(line, column, &[Role::Key]) {
                problem.path = render(&e.path);
                if let Some(fields) = node_fields_from_kind(&index, &e.path) {
                    expected = fields;
                }
            }
            problem.message = format!(
                "unknown field \"{field}\", expected one of {}",
                expected.join(", ")
            );
            problem.suggestions = suggest::closest(field, expected);
            problem
        }
        YamlError::DuplicateMappingKey { key, .. } => {
            let key = key.clone().unwrap_or_else(|| "?".to_owned());
            problem.message = format!("duplicate key \"{key}\"");
            if let Some(e) = index.at(line, column, &[Role::Key]) {
                problem.path = render(&e.path);
                if let Some(first) = index.first_key_at_path(&e.path)
                    && (first.line, first.column) != (line, column)
                {
                    problem.message = format!(
                        "duplicate key \"{key}\" (first at line {} column {})",
                        first.line, first.column
                    );
                }
            }
            problem
        }
        YamlError::SerdeMissingField { field, .. } => {
            // A block mapping starts where its first key does; a flow mapping's error points at
            // its first key, not at the `{`. Either way the first key's parent is the mapping.
            if let Some(e) = index.at(line, column, &[Role::Mapping]) {
                problem.path = render(&e.path);
            } else if let Some(e) = index.at(line, column, &[Role::Key]) {
                problem.path = render(&e.path[..e.path.len().saturating_sub(1)]);
            }
            problem.message = if *field == "kind" {
                format!(
                    "missing required field \"kind\" (one of {})",
                    KNOWN_KINDS.join(", ")
                )
            } else {
                format!("missing required field \"{field}\"")
            };
            problem
        }
        // A YAML syntax error anywhere wins over a type error before it: serde-saphyr streams,
        // so an unclosed `{` may first show up as a strange value (`"10.0.0.1/24 h2"`).
        _ if index.failure.is_some() => {
            if let Some(f) = &index.failure {
                problem.line = f.line;
                problem.column = f.column;
                problem.path = render(&f.path);
                problem.message = format!("YAML syntax error: {}", f.message);
                problem.help = explain::syntax_error(text, f.line, f.column, &f.message);
            }
            problem
        }
        YamlError::ExternalMessage { msg, .. } => {
            problem.message = format!("YAML syntax error: {msg}");
            problem
        }
        YamlError::Eof { .. } if index.entries.is_empty() => {
            problem.message =
                "the file has no content; a topology needs at least name and nodes".to_owned();
            problem
        }
        YamlError::MultipleDocuments { .. } => {
            problem.message =
                "a second YAML document starts here; a topology file holds exactly one".to_owned();
            problem
        }
        YamlError::InvalidScalar { ty, .. } => {
            let what = match *ty {
                "bool" => "true or false",
                t if t.starts_with('i') || t.starts_with('u') => "an integer",
                "f32" | "f64" => "a number",
                _ => ty,
            };
            value_problem(problem, format!("expected {what}{}", found()))
        }
        YamlError::Unexpected { expected, .. } => {
            let what = match *expected {
                "string scalar" => "a single value (string or number)",
                "mapping start" | "mapping" => "a mapping (key: value)",
                "sequence start" | "sequence" => "a list",
                other => other,
            };
            value_problem(problem, format!("expected {what}{}", found()))
        }
        YamlError::InvalidBooleanStrict { .. } => {
            value_problem(problem, "expected true or false".to_owned())
        }
        YamlError::NullIntoString { .. } => {
            value_problem(problem, "expected a value".to_owned() + found())
        }
        YamlError::SerdeInvalidType {
            unexpected,
            expected,
            ..
        }
        | YamlError::SerdeInvalidValue {
            unexpected,
            expected,
            ..
        } => value_problem(problem, format!("expected {expected}, found {unexpected}")),
        YamlError::Message { msg, .. } => value_problem(problem, msg.clone()),
        other => value_problem(problem, without_location(&other.to_string())),
    }
}

/// A parser budget breach in words, with the limit that was crossed.
fn budget_message(breach: &serde_saphyr::budget::BudgetBreach) -> String {
    use serde_saphyr::budget::BudgetBreach as B;
    match breach {
        B::Nodes { .. } => format!(
            "the file has more than {} YAML nodes (keys, values and list items count one each), \
             the limit for a topology file (put large route tables in a router's routes-file)",
            crate::MAX_YAML_NODES
        ),
        B::Depth { depth } => {
            format!("the file nests {depth} levels deep, more than YAML allows here")
        }
        B::Aliases { .. } | B::Anchors { .. } | B::AliasAnchorRatio { .. } => {
            "the file uses too many YAML aliases or anchors".to_owned()
        }
        B::ScalarBytes { total_scalar_bytes } => {
            format!(
                "the file's values add up to {total_scalar_bytes} bytes, more than a topology file may hold"
            )
        }
        other => format!("the file is too large or too complex for the YAML parser ({other:?})"),
    }
}

/// Unwrap the wrappers serde-saphyr puts around the real error.
fn innermost(err: &YamlError) -> &YamlError {
    match err {
        YamlError::WithSnippet { error, .. } | YamlError::AliasError { error, .. } => {
            innermost(error)
        }
        other => other,
    }
}

/// For an unknown field directly under `nodes.<name>`, the fields valid for that node's kind
/// (read from the sibling `kind:` scalar), so the list matches what the user is writing.
fn node_fields_from_kind(index: &Index, key_path: &[Seg]) -> Option<Vec<&'static str>> {
    let [Seg::Key(nodes), node, Seg::Key(_)] = key_path else {
        return None;
    };
    if nodes != "nodes" {
        return None;
    }
    let kind_path = [
        Seg::Key("nodes".to_owned()),
        node.clone(),
        Seg::Key("kind".to_owned()),
    ];
    let fields = fields_of_kind(index.scalar_at_path(&kind_path)?)?;
    Some(
        std::iter::once("kind")
            .chain(fields.iter().copied())
            .chain(std::iter::once("worker"))
            .collect(),
    )
}

/// serde-saphyr's Display appends " at line L, column C"; we print the position ourselves.
fn without_location(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(text: &str) -> Vec<(usize, usize, String, Role)> {
        Index::build(text)
            .entries
            .into_iter()
            .map(|e| (e.line, e.column, render(&e.path), e.role))
            .collect()
    }

    #[test]
    fn index_gives_every_node_its_path() {
        let got = paths("a:\n  b: [x, {c: 1}]\nd: ~\n");
        let want = [
            (1, 1, "", Role::Mapping),
            (1, 1, "a", Role::Key),
            (2, 3, "a", Role::Mapping),
            (2, 3, "a.b", Role::Key),
            (2, 6, "a.b", Role::Sequence),
            (2, 7, "a.b[0]", Role::Scalar),
            (2, 10, "a.b[1]", Role::Mapping),
            (2, 11, "a.b[1].c", Role::Key),
            (2, 14, "a.b[1].c", Role::Scalar),
            (3, 1, "d", Role::Key),
            (3, 4, "d", Role::Null),
        ];
        let want: Vec<_> = want
            .into_iter()
            .map(|(l, c, p, r)| (l, c, p.to_owned(), r))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn index_records_where_a_syntax_error_is() {
        let index = Index::build("a:\n  b: [1, 2\n");
        let f = index.failure.expect("unclosed bracket");
        assert_eq!(render(&f.path), "a.b");
        assert!(f.line >= 2, "line {}", f.line);
    }

    #[test]
    fn location_suffix_is_removed() {
        assert_eq!(
            without_location("bad thing at line 3, column 4"),
            "bad thing"
        );
        assert_eq!(without_location("bad thing"), "bad thing");
    }
}
