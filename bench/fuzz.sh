#!/usr/bin/env bash
# Run every cargo-fuzz target (fuzz/fuzz_targets/) for SECONDS each, one after another, and
# print a table: target, executions, seconds, execs/s, corpus size, findings (new crash,
# timeout or out-of-memory artifacts under fuzz/artifacts/TARGET/).
#
#   bench/fuzz.sh 60                 # every target, 60 s each
#   bench/fuzz.sh 600 router nat     # only these
#   JOBS=2 bench/fuzz.sh 300         # libFuzzer workers per target (default 1)
#   SANITIZER=address bench/fuzz.sh 60   # with ASan (default: none, with debug assertions)
#   CORPUS=/tmp/corpus bench/fuzz.sh 600  # grow a corpus outside the tree (default fuzz/corpus)
#
# Default build: release with debug assertions (an integer overflow panics: a finding) and no
# sanitizer. The code under test is safe Rust but for dataplane/src/packet (checked by miri
# and the pool's tests); ASan costs the element targets ~50x (the router's 64 MiB DIR-24-8
# table is allocated and freed per run), so it is opt-in.
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). New corpus
# entries land in fuzz/corpus/TARGET/; minimise before committing:
#   cargo +nightly fuzz cmin TARGET
# A finding is a file in fuzz/artifacts/TARGET/: reproduce with
#   cargo +nightly fuzz run TARGET fuzz/artifacts/TARGET/crash-...
# fix it, and copy the input into fuzz/corpus/TARGET/ so `cargo test -p nfv-fuzz` keeps it fixed.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:?usage: bench/fuzz.sh SECONDS [TARGET...]}
shift
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(ls fuzz/fuzz_targets | sed 's/\.rs$//')
fi
jobs=${JOBS:-1}
corpus_root=${CORPUS:-fuzz/corpus}
build=(-O -a -s "${SANITIZER:-none}")
cargo +nightly fuzz build "${build[@]}" >/dev/null 2>&1 || cargo +nightly fuzz build "${build[@]}"
log_dir=$(mktemp -d)
# Run copies of the binaries built now: editing the tree during a long run changes nothing.
bin_dir="$log_dir/bin"
mkdir -p "$bin_dir"
for t in "${targets[@]}"; do
    cp "fuzz/target/x86_64-unknown-linux-gnu/release/$t" "$bin_dir/"
done
printf '%-12s %14s %8s %10s %8s %9s\n' target execs seconds execs/s corpus findings
for t in "${targets[@]}"; do
    mkdir -p "fuzz/artifacts/$t" "$corpus_root/$t"
    before=$(find "fuzz/artifacts/$t" -type f | wc -l)
    start=$(date +%s)
    # -rss_limit_mb bounds memory ("memory bounded" is an invariant too); -timeout flags a
    # single input that runs for over 10 s (a hang).
    par=()
    if [ "$jobs" -gt 1 ]; then
        par=(-jobs="$jobs" -workers="$jobs")
    fi
    cdir=$(realpath -m "$corpus_root/$t")
    adir=$(realpath -m "fuzz/artifacts/$t")
    (cd "$log_dir" && "$bin_dir/$t" -artifact_prefix="$adir/" \
        -max_total_time="$secs" -print_final_stats=1 -rss_limit_mb=1024 -timeout=10 \
        "${par[@]}" "$cdir" >"$log_dir/$t.log" 2>&1) || true
    elapsed=$(( $(date +%s) - start ))
    # One stat line per worker (jobs > 1 writes fuzz-N.log files in the log dir).
    execs=$( { cat "$log_dir/$t.log"; cat "$log_dir"/fuzz-*.log 2>/dev/null || true; } \
        | awk '/stat::number_of_executed_units/ {s += $2} END {print s + 0}')
    rm -f "$log_dir"/fuzz-*.log
    after=$(find "fuzz/artifacts/$t" -type f | wc -l)
    corpus=$(find "$corpus_root/$t" -type f | wc -l)
    rate=$(( execs / (elapsed > 0 ? elapsed : 1) ))
    printf '%-12s %14s %8s %10s %8s %9s\n' "$t" "$execs" "$elapsed" "$rate" "$corpus" "$((after - before))"
    if [ "$after" -gt "$before" ]; then
        grep -m3 -E "panicked|ERROR: libFuzzer|SUMMARY" "$log_dir/$t.log" | sed 's/^/    /' || true
    fi
done
echo "logs: $log_dir"
