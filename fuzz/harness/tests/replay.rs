//! Replays the committed fuzz corpora (`fuzz/corpus/TARGET/*`, minimised with `cargo fuzz
//! cmin`, findings included) through every target on stable, plus a few thousand
//! pseudo-random programs, so a finding fixed once stays fixed and CI runs every invariant.

use std::path::Path;

#[test]
fn every_corpus_input_passes_its_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus");
    let mut total = 0;
    for (name, target) in nfv_fuzz::TARGETS {
        let dir = root.join(name);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            panic!("no corpus for target {name} at {}", dir.display());
        };
        let mut n = 0;
        for e in entries {
            let path = e.expect("corpus entry").path();
            let data = std::fs::read(&path).expect("corpus file");
            let res = std::panic::catch_unwind(|| target(&data));
            assert!(res.is_ok(), "{name}: {} fails", path.display());
            n += 1;
        }
        assert!(n > 0, "the corpus of {name} is empty");
        total += n;
    }
    eprintln!("replayed {total} corpus inputs");
}

#[test]
fn pseudo_random_inputs_pass_every_target() {
    // xorshift64*: deterministic, no dependency.
    let mut s: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        s.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    for (name, target) in nfv_fuzz::TARGETS {
        for i in 0..100 {
            let len = (next() % 512) as usize;
            let data: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            let res = std::panic::catch_unwind(|| target(&data));
            assert!(
                res.is_ok(),
                "{name}: pseudo-random input {i} fails: {data:02x?}"
            );
        }
    }
}
