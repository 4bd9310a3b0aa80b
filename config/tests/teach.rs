//! Errors that teach: "did you mean", YAML indentation explained with the line where it
//! went wrong, long values shortened, limits stated as such, reserved interface names.

use nfv_config::{ConfigError, MAX_FILE_BYTES, MAX_YAML_NODES, load_file, load_str};

fn fail(text: &str) -> ConfigError {
    match load_str("t.yaml", text) {
        Ok(l) => panic!("should fail, loaded {:?}", l.topology),
        Err(e) => e,
    }
}

/// `examples/switch.yaml` with line `line` (1-based) replaced.
fn switch_example_with(line: usize, text: &str) -> String {
    let example = include_str!("../../examples/switch.yaml");
    let mut lines: Vec<&str> = example.lines().collect();
    lines[line - 1] = text;
    lines.join("\n") + "\n"
}

#[test]
fn a_misspelt_field_gets_the_field_it_was_meant_to_be() {
    let text = switch_example_with(12, "    mac-tabel-size: 65536");
    let e = fail(&text);
    assert_eq!(e.problems.len(), 1, "{e}");
    assert_eq!(e.problems[0].suggestions, ["mac-table-size"]);
    assert_eq!(
        e.to_string(),
        "t.yaml:12:5: nodes.sw1.mac-tabel-size: unknown field \"mac-tabel-size\", expected one of \
         kind, mac-table-size, ageing, ports, worker; did you mean \"mac-table-size\"?"
    );
}

#[test]
fn unknown_kinds_nodes_and_interfaces_get_suggestions() {
    let e = fail(
        "name: t\nnodes:\n  h1: { kind: hots }\n  web: { kind: host }\n  fw1: { kind: firewall }\n\
         links:\n  - endpoints: [wbe, fw1:ot]\nchains:\n  - [h1, fw, web]\n",
    );
    let got: Vec<(&str, Vec<String>)> = e
        .problems
        .iter()
        .map(|p| (p.path.as_str(), p.suggestions.clone()))
        .collect();
    assert_eq!(
        got,
        [
            ("nodes.h1.kind", vec!["host".to_owned()]),
            ("links[0].endpoints[0]", vec!["web".to_owned()]),
            ("links[0].endpoints[1]", vec!["out".to_owned()]),
            ("chains[0][1]", vec!["fw1".to_owned()]),
        ],
        "{e}"
    );
}

#[test]
fn a_dedented_key_is_explained_at_its_own_line_with_a_caret() {
    // `ageing` dedented on line 13: the parser fails on line 14.
    let text = switch_example_with(13, "  ageing: 300s");
    let e = fail(&text);
    let p = &e.problems[0];
    assert_eq!(
        p.to_string(),
        "t.yaml:14:10: nodes: YAML syntax error: mapping values are not allowed in this context",
        "the parser's line stays the problem's position"
    );
    let help = p.help.as_deref().unwrap_or_default();
    assert!(
        help.contains("13 |   ageing: 300s\n   |   ^ indented 2, the lines around it 4\n"),
        "{help}"
    );
    assert!(
        help.contains("the indentation goes wrong on line 13")
            && help.contains("Indent line 13 by 4 spaces like line 12"),
        "{help}"
    );
}

#[test]
fn a_line_nested_under_a_value_is_explained() {
    let text = switch_example_with(13, "      ageing: 300s");
    let e = fail(&text);
    let help = e.problems[0].help.as_deref().unwrap_or_default();
    assert!(
        help.contains("line 12 already has a value, so line 13 cannot nest under it"),
        "{e}\n{help}"
    );
}

#[test]
fn a_huge_value_is_shortened_in_the_message() {
    let long = "a".repeat(10 * 1024 * 1024);
    let e = fail(&format!("name: {long}\nnodes:\n  h1: {{ kind: host }}\n"));
    let text = e.to_string();
    assert!(text.len() < 300, "{} bytes", text.len());
    assert!(
        text.contains(&format!("\"{}…\" (10485760 bytes)", "a".repeat(60))),
        "{text}"
    );
    assert_eq!(
        e.problems[0].value.as_ref().map(String::len),
        Some(long.len())
    );
}

#[test]
fn a_file_over_the_size_limit_is_refused_before_it_is_read() {
    let dir = std::env::temp_dir().join(format!("nfv-teach-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("big.yaml");
    // Sparse: nothing is written, the length alone is over the limit.
    let f = std::fs::File::create(&path).expect("create");
    f.set_len(50 << 20).expect("set_len");
    let e = load_file(&path).expect_err("too big");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        e.problems[0].message,
        "the topology file is 50 MiB (52428800 bytes); the limit is 16 MiB (put large route \
         tables in a router's routes-file)"
    );
    let text = "#".repeat(usize::try_from(MAX_FILE_BYTES).unwrap_or(usize::MAX) + 1);
    assert!(fail(&text).problems[0].message.contains("16.0 MiB"));
}

#[test]
fn too_many_yaml_nodes_is_stated_as_a_limit() {
    // One chain of a node per list item: cheap to parse, over the limit.
    let items = vec!["a"; MAX_YAML_NODES];
    let text = format!(
        "name: t\nnodes: {{}}\nchains:\n  - [{}]\n",
        items.join(", ")
    );
    let e = fail(&text);
    assert!(
        e.problems[0]
            .message
            .starts_with("the file has more than 250000 YAML nodes"),
        "{e}"
    );
}

#[test]
fn reserved_interface_names_are_refused() {
    let e = fail("name: t\nnodes:\n  h1: { kind: host, ifname: lo }\n  lo: { kind: tap }\n");
    let got: Vec<String> = e.problems.iter().map(ToString::to_string).collect();
    assert!(
        got[0].starts_with(
            "t.yaml:3:29: nodes.h1.ifname: \"lo\": reserved interface name: the loopback \
             interface"
        ),
        "{e}"
    );
    assert!(e.problems.len() == 1, "stage 1 stops at the first: {e}");
    let e = fail("name: t\nnodes:\n  lo: { kind: tap }\n");
    assert!(e.to_string().contains("reserved interface name"), "{e}");
    let e = fail("name: t\nnodes:\n  t1: { kind: tap, ifname: default }\n");
    assert!(e.to_string().contains("the kernel refuses it"), "{e}");
}
