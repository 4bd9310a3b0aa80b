#!/usr/bin/env bash
# Ping RTT and nfv's CPU through an nfv switch at several `cpu-budget:` settings, next to a
# Linux bridge on the same machine, alternating, in one run: the RTT/CPU curve of the
# adaptive worker's predicted wake-ups (dataplane/src/wake.rs).
#
# Usage (as root): bench/latency.sh [--rounds N] [--pings P] [--interval S] [--budgets "0% 5% 10% 20%"]
#                                   [--nfv PATH]
# Per round: the bridge, then nfv once per budget. For each: P pings at S seconds apart
# (default 200 at 0.01), median RTT; for nfv also its CPU (utime+stime from /proc) during
# the pings, as % of one core. Then, for the default budget only: nfv idle for 10 s and at
# one ping a second for 10 s. Prints one `result ...` line per measurement and a summary of
# medians over rounds with ratios to the bridge. Creates only namespaces lat-* and
# devices latbr0/lat-*; removes them on every exit path.
set -euo pipefail

ROUNDS=2
PINGS=200
INTERVAL=0.01
BUDGETS="0% 5% 10% 20%"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
NFV="$ROOT/target/release/nfv"
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --pings) PINGS=$2; shift 2 ;;
    --interval) INTERVAL=$2; shift 2 ;;
    --budgets) BUDGETS=$2; shift 2 ;;
    --nfv) NFV=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[ -x "$NFV" ] || { echo "build first: cargo build --release ($NFV)" >&2; exit 2; }
TICK=$(getconf CLK_TCK)
WORK=$(mktemp -d /tmp/nfv-lat.XXXXXX)
NFV_PID=""

cleanup() {
  if [ -n "$NFV_PID" ]; then kill -TERM "$NFV_PID" 2>/dev/null || true; wait "$NFV_PID" 2>/dev/null || true; fi
  for ns in lat-a lat-b lat-h1 lat-h2; do ip netns del "$ns" 2>/dev/null || true; done
  ip link del latbr0 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

median_rtt() { # ns dst count interval
  ip netns exec "$1" ping -n -c "$3" -i "$4" -W 1 "$2" 2>/dev/null \
    | sed -n 's/.*time=\([0-9.]*\) ms/\1/p' | tail -n +2 | sort -g \
    | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else print a[int((NR+1)/2)]*1000}'
}

ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }

bridge_rtt() {
  ip netns add lat-a; ip netns add lat-b
  ip link add latbr0 type bridge; ip link set latbr0 up
  for n in a b; do
    ip link add "lat-$n" type veth peer name eth0 netns "lat-$n"
    ip link set "lat-$n" master latbr0 up
    ip -n "lat-$n" link set lo up; ip -n "lat-$n" link set eth0 up
  done
  ip -n lat-a addr add 10.99.0.1/24 dev eth0; ip -n lat-b addr add 10.99.0.2/24 dev eth0
  ping_warm lat-a 10.99.0.2
  median_rtt lat-a 10.99.0.2 "$PINGS" "$INTERVAL"
  ip netns del lat-a; ip netns del lat-b; ip link del latbr0
}

ping_warm() { ip netns exec "$1" ping -n -c 3 -i 0.2 -W 1 "$2" >/dev/null 2>&1 || true; }

start_nfv() { # budget
  cat > "$WORK/lat.yaml" <<EOF
name: lat
cpu-budget: $1
workers: 1
nodes:
  h1: { kind: host, address: 10.98.0.1/24 }
  h2: { kind: host, address: 10.98.0.2/24 }
  sw: { kind: switch }
links:
  - endpoints: [h1, sw:p1]
  - endpoints: [h2, sw:p2]
EOF
  "$NFV" run "$WORK/lat.yaml" >"$WORK/nfv.out" 2>&1 &
  NFV_PID=$!
  for _ in $(seq 100); do grep -q running "$WORK/nfv.out" && break; sleep 0.1; done
  grep -q running "$WORK/nfv.out" || { cat "$WORK/nfv.out" >&2; exit 1; }
  ping_warm lat-h1 10.98.0.2
}

stop_nfv() { kill -TERM "$NFV_PID"; wait "$NFV_PID" || true; NFV_PID=""; }

T0=0; C0=0
cpu_start() { T0=$(date +%s.%N); C0=$(ticks "$NFV_PID"); }
cpu_end() { # CPU % of one core nfv used since cpu_start
  local t1 c1
  t1=$(date +%s.%N); c1=$(ticks "$NFV_PID")
  awk -v c="$((c1 - C0))" -v hz="$TICK" -v a="$T0" -v b="$t1" 'BEGIN {printf "%.2f", 100*c/hz/(b-a)}'
}

declare -A SUM
for r in $(seq "$ROUNDS"); do
  b=$(bridge_rtt)
  echo "result round=$r path=bridge rtt_us=$b"
  SUM[bridge]+="$b "
  for budget in $BUDGETS; do
    start_nfv "$budget"
    cpu_start
    rtt=$(median_rtt lat-h1 10.98.0.2 "$PINGS" "$INTERVAL")
    cpu=$(cpu_end)
    echo "result round=$r path=nfv budget=$budget rtt_us=$rtt cpu_pct=$cpu"
    SUM["nfv $budget"]+="$rtt "
    SUM["cpu $budget"]+="$cpu "
    if [ "$budget" = "10%" ]; then
      cpu_start; sleep 10; idle=$(cpu_end)
      cpu_start; ip netns exec lat-h1 ping -n -c 10 -i 1 -W 1 10.98.0.2 >/dev/null 2>&1 || true
      slow=$(cpu_end)
      echo "result round=$r path=nfv budget=$budget idle_cpu_pct=$idle ping_1s_cpu_pct=$slow"
    fi
    stop_nfv
  done
done

med() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
B=$(echo "${SUM[bridge]}" | med)
echo "summary bridge rtt_us=$B"
for budget in $BUDGETS; do
  R=$(echo "${SUM["nfv $budget"]}" | med); C=$(echo "${SUM["cpu $budget"]}" | med)
  awk -v r="$R" -v b="$B" -v c="$C" -v k="$budget" \
    'BEGIN {printf "summary nfv cpu-budget=%s rtt_us=%s ratio=%.2f cpu_pct=%s\n", k, r, r/b, c}'
done
