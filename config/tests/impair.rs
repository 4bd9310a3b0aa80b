//! `impair:` on a link: accepted settings and every problem named with file, line, column,
//! path and value.

fn load(impair: &str) -> Result<nfv_config::Loaded, nfv_config::ConfigError> {
    let text = format!(
        "name: t\nnodes:\n  h1: {{ kind: host }}\n  h2: {{ kind: host }}\nlinks:\n  - endpoints: [h1, h2]\n    impair: {impair}\n"
    );
    nfv_config::load_str("t.yaml", &text)
}

fn errors(impair: &str) -> String {
    load(impair).expect_err("invalid").to_string()
}

#[test]
fn impair_settings_become_one_element_on_the_link() {
    let t = load("{ delay: 20ms, jitter: 2ms, loss: 1%, rate: 10mbit, seed: 7 }")
        .expect("valid")
        .topology;
    let e = &t.links[0].elements;
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].kind, "impair");
    assert_eq!(
        e[0].spec().summary(),
        "impair delay 20ms jitter 2ms loss random 1% rate 10000000bit/s (seed 7)"
    );
    assert_eq!(
        e[0].spec().max_held(),
        2000,
        "default limit in each direction"
    );
    let t = load("{ a-to-b: { delay: 5ms }, b-to-a: { loss: { p: 1%, r: 25% } } }")
        .expect("valid")
        .topology;
    assert_eq!(
        t.links[0].elements[0].spec().summary(),
        "impair a-to-b delay 5ms; b-to-a loss gemodel 1% 25% 100% 0% (seed 1)"
    );
}

#[test]
fn impair_problems_name_line_column_path_and_value() {
    let e = errors("{ dealy: 20ms, loss: 30, rate: fast, limit: 0 }");
    assert!(
        e.contains(
            "t.yaml:7:15: links[0].impair.dealy: unknown field \"dealy\", expected one of delay, jitter"
        ),
        "{e}"
    );
    assert!(
        e.contains("t.yaml:7:34: links[0].impair.loss: \"30\": expected a percentage"),
        "{e}"
    );
    assert!(
        e.contains("links[0].impair.rate: \"fast\": expected a rate such as 10mbit"),
        "{e}"
    );
    assert!(
        e.contains("links[0].impair.limit: \"0\": expected a number of frames from 1 to 65536"),
        "{e}"
    );
    let e = errors("{ delay: 1ms, a-to-b: { delay: 2ms } }");
    assert!(
        e.contains(
            "links[0].impair.delay: with a-to-b or b-to-a, every setting goes under one of them"
        ),
        "{e}"
    );
    let e = errors("{ loss: { p: 1% } }");
    assert!(e.contains("a Gilbert-Elliott loss model needs r"), "{e}");
    let e = errors("20ms");
    assert!(
        e.contains("links[0].impair: \"20ms\": expected a mapping with delay"),
        "{e}"
    );
}
