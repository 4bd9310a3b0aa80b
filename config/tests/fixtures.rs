//! Table-driven fixture tests.
//!
//! - `fixtures/bad/<case>.yaml` must fail to load, and the error text (every line) must equal
//!   `fixtures/bad/<case>.expected`.
//! - `fixtures/ok/<case>.yaml` must load; its warnings must equal `fixtures/ok/<case>.warnings`
//!   (no file means no warnings).
//! - `*.txt` files are routers' `routes-file`s; each must be named by a fixture beside it.
//!
//! `NFV_BLESS=1 cargo test -p nfv-config --test fixtures` rewrites the expected files from the
//! current output; review the diff before committing it.
//!
//! Files are loaded through `load_file` with paths relative to the package root (cargo runs
//! integration tests there), so the messages read `tests/fixtures/bad/<case>.yaml:L:C: ...`.

use std::fs;
use std::path::{Path, PathBuf};

fn cases(dir: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {dir}: {e}"))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no fixtures in {dir}");
    out
}

fn bless() -> bool {
    std::env::var_os("NFV_BLESS").is_some_and(|v| v == "1")
}

/// Compare `actual` with the file at `expected_path`, or rewrite it when blessing.
/// Returns a description of the mismatch.
fn check(expected_path: &Path, actual: &str) -> Option<String> {
    if bless() {
        if actual.is_empty() {
            let _ = fs::remove_file(expected_path);
        } else {
            fs::write(expected_path, actual).expect("write expected file");
        }
        return None;
    }
    let expected = fs::read_to_string(expected_path).unwrap_or_default();
    (expected != actual).then(|| {
        format!(
            "--- {} (expected)\n{expected}+++ actual\n{actual}",
            expected_path.display()
        )
    })
}

fn lines<T: ToString>(items: &[T]) -> String {
    items.iter().map(|i| i.to_string() + "\n").collect()
}

#[test]
fn bad_fixtures_fail_with_the_expected_text() {
    let mut failures = Vec::new();
    for yaml in cases("tests/fixtures/bad") {
        let expected = yaml.with_extension("expected");
        if !bless() && !expected.exists() {
            failures.push(format!("{}: no .expected file", yaml.display()));
            continue;
        }
        match nfv_config::load_file(&yaml) {
            Ok(_) => failures.push(format!("{}: loaded, but should fail", yaml.display())),
            Err(e) => {
                assert!(
                    !e.problems.is_empty(),
                    "{}: empty ConfigError",
                    yaml.display()
                );
                failures.extend(check(&expected, &format!("{e}\n")));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn ok_fixtures_load_with_the_expected_warnings() {
    let mut failures = Vec::new();
    for yaml in cases("tests/fixtures/ok") {
        match nfv_config::load_file(&yaml) {
            Err(e) => failures.push(format!("{}: failed:\n{e}", yaml.display())),
            Ok(loaded) => failures.extend(check(
                &yaml.with_extension("warnings"),
                &lines(&loaded.warnings),
            )),
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn every_expected_file_has_its_fixture() {
    for dir in ["tests/fixtures/bad", "tests/fixtures/ok"] {
        let yaml_texts: Vec<String> = cases(dir)
            .iter()
            .map(|p| fs::read_to_string(p).expect("read fixture"))
            .collect();
        for entry in fs::read_dir(dir).expect("fixture dir") {
            let path = entry.expect("entry").path();
            let ext = path.extension().and_then(|x| x.to_str()).unwrap_or("");
            assert!(
                matches!(ext, "yaml" | "expected" | "warnings" | "txt"),
                "unexpected file {}",
                path.display()
            );
            if ext == "txt" {
                // A router's routes file: some fixture must name it.
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                let wanted = format!("routes-file: {name}");
                assert!(
                    yaml_texts.iter().any(|t| t.contains(&wanted)),
                    "{} is not the routes-file of any fixture in {dir}",
                    path.display()
                );
            } else if ext != "yaml" {
                assert!(
                    path.with_extension("yaml").exists(),
                    "{} has no .yaml beside it",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn missing_file_is_a_config_error() {
    let e = nfv_config::load_file(Path::new("tests/fixtures/no-such-file.yaml"))
        .expect_err("the file does not exist");
    assert_eq!(e.problems.len(), 1);
    let p = &e.problems[0];
    assert_eq!((p.line, p.column), (0, 0));
    assert!(
        e.to_string()
            .starts_with("tests/fixtures/no-such-file.yaml: cannot read the file: "),
        "{e}"
    );
}
