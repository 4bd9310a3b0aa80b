//! Run one target on files: `NFV_FUZZ_SHOW=1 cargo run -p nfv-fuzz --example show -- nat fuzz/corpus/nat/*`
//! prints what each program did to the function (reproducing a finding prints its panic).
fn main() {
    let mut args = std::env::args().skip(1);
    let name = args.next().expect("usage: show TARGET FILE...");
    let target = nfv_fuzz::TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
        .expect("no such target");
    for f in args {
        let data = std::fs::read(&f).expect("readable file");
        eprintln!("{f}:");
        target(&data);
    }
}
