//! Instruction-count driver: builds one [`Scenario`] (the criterion benches' set-up), warms
//! it up with one pass over its input bursts, then runs `packets` more packets through it.
//! Meant to run under `valgrind --tool=callgrind --toggle-collect='*measured_burst*'`, twice
//! with two packet counts: `bench/instructions.sh` does that and prints instructions per
//! packet = (Ir(N2) − Ir(N1)) / (N2 − N1), which cancels the warm-up. Only the timed part
//! of a criterion iteration is inside [`measured_burst`] (processing plus freeing the
//! output); building the input batch is not.
//!
//! Usage: `instr SCENARIO PACKETS` (PACKETS a multiple of 32) or `instr --list`.

use std::process::ExitCode;

use nfv_bench::scenario::{SCENARIOS, Scenario, Sut};
use nfv_dataplane::{BURST, Batch};

/// The measured part of one iteration: process a burst and free what comes out.
#[inline(never)]
fn measured_burst(sut: &mut Sut, input: (u16, Batch)) -> usize {
    sut.run(input)
}

fn usage() -> ExitCode {
    eprintln!("usage: instr SCENARIO PACKETS   (PACKETS a multiple of {BURST})");
    eprintln!("       instr --list");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--list") {
        for (name, what) in SCENARIOS {
            println!("{name}\t{what}");
        }
        return ExitCode::SUCCESS;
    }
    let [name, packets] = args.as_slice() else {
        return usage();
    };
    let Ok(packets) = packets.parse::<usize>() else {
        return usage();
    };
    if !packets.is_multiple_of(BURST) {
        return usage();
    }
    let Some(mut s) = Scenario::build(name) else {
        eprintln!("unknown scenario {name:?}; try --list");
        return ExitCode::from(2);
    };
    // Warm-up: one pass over every input burst (the table and caches in steady state).
    for _ in 0..s.inputs.len() {
        let input = s.inputs.next_batch();
        measured_burst(&mut s.sut, input);
    }
    let mut out = 0;
    for _ in 0..packets / BURST {
        let input = s.inputs.next_batch();
        out += measured_burst(&mut s.sut, input);
    }
    eprintln!("{name}: {packets} packets measured, {out} emitted by the element");
    ExitCode::SUCCESS
}
