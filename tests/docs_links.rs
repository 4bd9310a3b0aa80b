//! Docs never link outside the repository: every Markdown link in a `.md` file is an anchor
//! or a relative path to a file of the repository, and no `.md`, `.rs` or `.toml` file
//! points at the notes beside the repository (`../shared/`).

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with('.') || name == "target" {
            continue;
        }
        if p.is_dir() {
            files(&p, out);
        } else if p
            .extension()
            .is_some_and(|x| x == "md" || x == "rs" || x == "toml")
        {
            out.push(p);
        }
    }
}

/// The targets of `[text](target)` links in `md`.
fn link_targets(md: &str) -> Vec<&str> {
    md.match_indices("](")
        .filter_map(|(i, _)| {
            let rest = &md[i + 2..];
            rest.find(')').map(|end| &rest[..end])
        })
        .collect()
}

#[test]
fn no_doc_link_leaves_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .canonicalize()
        .unwrap();
    let mut all = Vec::new();
    files(&root, &mut all);
    assert!(all.len() > 20, "found the sources: {}", all.len());
    let mut bad = Vec::new();
    for f in &all {
        let text = std::fs::read_to_string(f).unwrap();
        let rel = f.strip_prefix(&root).unwrap().display().to_string();
        if rel != "tests/docs_links.rs"
            && (text.contains("../shared/") || text.contains("shared/research"))
        {
            bad.push(format!("{rel}: refers to the notes outside the repository"));
        }
        if text.contains("example.invalid") && rel != "tests/docs_links.rs" {
            bad.push(format!("{rel}: a made-up URL"));
        }
        if f.extension().is_none_or(|x| x != "md") {
            continue;
        }
        for t in link_targets(&text) {
            let path = t.split('#').next().unwrap();
            if t.contains("://") || t.starts_with("mailto:") {
                bad.push(format!("{rel}: link {t} leaves the repository"));
            } else if !path.is_empty() {
                let target = f.parent().unwrap().join(path);
                match target.canonicalize() {
                    Ok(p) if p.starts_with(&root) => {}
                    _ => bad.push(format!("{rel}: link {t} is not a file of the repository")),
                }
            }
        }
    }
    assert!(bad.is_empty(), "\n{}", bad.join("\n"));
}

#[test]
fn links_are_found() {
    assert_eq!(
        link_targets("see [a](docs/a.md#x) and [b](#y), not [c]"),
        ["docs/a.md#x", "#y"]
    );
}
