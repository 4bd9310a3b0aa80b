#!/usr/bin/env bash
# Instructions per packet of each benchmark scenario, counted by valgrind (callgrind): the
# number that does not move with machine noise. For each scenario the `instr` binary
# (bench/src/bin/instr.rs; the same set-up as the criterion benches) runs twice, with N1 and
# N2 measured packets after the same warm-up; callgrind counts only inside `measured_burst`
# (process + free the output, the part criterion times), and
#   instr_per_pkt = (Ir(N2) - Ir(N1)) / (N2 - N1)
# cancels the warm-up. Stable output: one "result scenario=... instr_per_pkt=..." line each.
#
# Usage: bench/instructions.sh [--n1 N] [--n2 N] [SCENARIO...]   (default: all; `--list`)
# Needs valgrind. About 70 s for all scenarios on a 2-vCPU VM (nat_1m alone ~50 s: building
# 1M sessions under valgrind). Counts depend on the compiler and on ahash's per-process
# random seeds (probe lengths), so expect ±1 % between runs.
set -euo pipefail

N1=1600
N2=4800
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SCEN=()
while [ $# -gt 0 ]; do
  case "$1" in
    --n1) N1=$2; shift 2 ;;
    --n2) N2=$2; shift 2 ;;
    --list) LIST=1; shift ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) SCEN+=("$1"); shift ;;
  esac
done
command -v valgrind >/dev/null || { echo "valgrind not found" >&2; exit 2; }
(cd "$ROOT" && cargo build --quiet --release -p nfv-bench --bin instr)
BIN="$ROOT/target/release/instr"
if [ "${LIST:-0}" = 1 ]; then "$BIN" --list; exit 0; fi
if [ ${#SCEN[@]} -eq 0 ]; then
  mapfile -t SCEN < <("$BIN" --list | cut -f1)
fi

WORK=$(mktemp -d /tmp/nfv-instr.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# Ir counted inside measured_burst for SCENARIO with PACKETS measured packets.
ir() {
  local out="$WORK/cg.$1.$2"
  valgrind --tool=callgrind --toggle-collect='*measured_burst*' --callgrind-out-file="$out" \
    "$BIN" "$1" "$2" >/dev/null 2>"$out.log" || { cat "$out.log" >&2; exit 1; }
  awk '/^summary:/ {print $2}' "$out"
}

echo "nfv instructions: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'), $(rustc --version), $(valgrind --version), N1=$N1 N2=$N2"
for s in "${SCEN[@]}"; do
  a=$(ir "$s" "$N1")
  b=$(ir "$s" "$N2")
  awk -v s="$s" -v a="$a" -v b="$b" -v n1="$N1" -v n2="$N2" \
    'BEGIN { printf "result scenario=%s instr_per_pkt=%.1f\n", s, (b - a) / (n2 - n1) }'
done
