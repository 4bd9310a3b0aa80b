#!/usr/bin/env bash
# End-to-end comparison, in one run, of nfv against the Linux kernel on this machine:
#   (a) Linux bridge + veth             vs  (b) nfv switch with TAP/namespace hosts
#   (c) kernel router + nft masquerade  vs  (d) nfv router + NAT chain
# Each round runs a, b, c, d in turn (A B A B ...), measuring TCP throughput (iperf3),
# ping RTT (median of PINGS pings) and 64-byte UDP forwarding rate: bench's `udpflood`
# sends 18-byte datagrams (60-byte frames) with sendmmsg for the UDP seconds, and the rate
# is what the destination namespace's kernel received (`Udp: NoPorts`; nothing listens),
# per second. iperf3 -u sends one datagram per syscall and ran out of sender first. Prints medians over the rounds and the
# ratios nfv / kernel. Stable output format (one "result" line per metric) so runs can be
# compared across commits.
#
# Usage: sudo bench/compare.sh [--rounds N] [--seconds S] [--pings P] [--poll adaptive|busy]
#                             [--spin DURATION] [--workers N] [--queues N] [--nfv PATH]
# Needs: iproute2, iperf3, ping, nft (nftables), python3; release builds of nfv and
# udpflood (cargo build --release --workspace). Creates only namespaces and devices named
# nfvb-*, removes them on exit (trap), and talks only to addresses inside those namespaces.
set -euo pipefail

ROUNDS=3
SECONDS_TCP=10
SECONDS_UDP=5
PINGS=200
POLL=adaptive
NFV="$(cd "$(dirname "$0")/.." && pwd)/target/release/nfv"
UDPFLOOD="$(cd "$(dirname "$0")/.." && pwd)/target/release/udpflood"
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --seconds) SECONDS_TCP=$2; SECONDS_UDP=$(( $2 < 5 ? $2 : 5 )); shift 2 ;;
    --pings) PINGS=$2; shift 2 ;;
    --poll) POLL=$2; shift 2 ;;
    --workers) WORKERS=$2; shift 2 ;;
    --queues) QUEUES=$2; shift 2 ;;
    --spin) SPIN=$2; shift 2 ;;
    --nfv) NFV=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
for t in ip iperf3 ping nft python3; do
  command -v "$t" >/dev/null || { echo "missing $t" >&2; exit 2; }
done
[ -x "$NFV" ] || { echo "no nfv binary at $NFV (cargo build --release)" >&2; exit 2; }
[ -x "$UDPFLOOD" ] || { echo "no udpflood at $UDPFLOOD (cargo build --release --workspace)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 2; }

WORK=$(mktemp -d /tmp/nfvb.XXXXXX)
NFV_PID=""
cleanup() {
  if [ -n "$NFV_PID" ]; then kill -TERM "$NFV_PID" 2>/dev/null || true; wait "$NFV_PID" 2>/dev/null || true; fi
  for ns in $(ip netns list | awk '{print $1}' | grep '^nfvb-' || true); do ip netns del "$ns" 2>/dev/null || true; done
  ip link del nfvb-br 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# ---- scenario set-up / tear-down -------------------------------------------------------
# Every scenario ends with a client namespace nfvb-a and a server namespace nfvb-b; the
# server's address is in $DST.

up_bridge() {
  ip netns add nfvb-a; ip netns add nfvb-b
  ip link add nfvb-br type bridge; ip link set nfvb-br up
  for x in a b; do
    ip link add "nfvb-$x" type veth peer name "nfvb-$x-br"
    ip link set "nfvb-$x" netns "nfvb-$x"
    ip link set "nfvb-$x-br" master nfvb-br up
    nsx "nfvb-$x" ip link set lo up
  done
  nsx nfvb-a ip addr add 10.70.0.1/24 dev nfvb-a; nsx nfvb-a ip link set nfvb-a up
  nsx nfvb-b ip addr add 10.70.0.2/24 dev nfvb-b; nsx nfvb-b ip link set nfvb-b up
  DST=10.70.0.2
}
down_bridge() { ip netns del nfvb-a; ip netns del nfvb-b; ip link del nfvb-br; }

start_nfv() {
  local yaml=$1
  "$NFV" run "$yaml" >"$WORK/nfv.out" 2>"$WORK/nfv.err" &
  NFV_PID=$!
  for _ in $(seq 100); do
    grep -q running "$WORK/nfv.out" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nfv did not start:" >&2; cat "$WORK/nfv.err" >&2; exit 1
}
stop_nfv() { kill -TERM "$NFV_PID"; wait "$NFV_PID" || true; NFV_PID=""; }

up_nfv_switch() {
  cat >"$WORK/sw.yaml" <<EOF
name: nfvb
poll: $POLL
${WORKERS:+workers: $WORKERS}
${SPIN:+spin: $SPIN}
nodes:
  a:  { kind: host, address: 10.70.0.1/24${QUEUES:+, queues: $QUEUES} }
  b:  { kind: host, address: 10.70.0.2/24${QUEUES:+, queues: $QUEUES} }
  sw: { kind: switch }
links:
  - endpoints: [a, sw:p1]
  - endpoints: [b, sw:p2]
EOF
  start_nfv "$WORK/sw.yaml"
  DST=10.70.0.2
}
down_nfv_switch() { stop_nfv; }

up_kernel_nat() {
  ip netns add nfvb-a; ip netns add nfvb-r; ip netns add nfvb-b
  ip link add nfvb-a type veth peer name nfvb-ra; ip link add nfvb-b type veth peer name nfvb-rb
  ip link set nfvb-a netns nfvb-a; ip link set nfvb-ra netns nfvb-r
  ip link set nfvb-b netns nfvb-b; ip link set nfvb-rb netns nfvb-r
  for ns in nfvb-a nfvb-r nfvb-b; do nsx "$ns" ip link set lo up; done
  nsx nfvb-a ip addr add 10.71.0.2/24 dev nfvb-a; nsx nfvb-a ip link set nfvb-a up
  nsx nfvb-a ip route add default via 10.71.0.1
  nsx nfvb-r ip addr add 10.71.0.1/24 dev nfvb-ra; nsx nfvb-r ip link set nfvb-ra up
  nsx nfvb-r ip addr add 203.0.113.1/24 dev nfvb-rb; nsx nfvb-r ip link set nfvb-rb up
  nsx nfvb-r sysctl -qw net.ipv4.ip_forward=1
  nsx nfvb-r nft -f - <<'EOF'
table ip nat {
  chain post {
    type nat hook postrouting priority 100;
    oifname "nfvb-rb" masquerade
  }
}
EOF
  nsx nfvb-b ip addr add 203.0.113.80/24 dev nfvb-b; nsx nfvb-b ip link set nfvb-b up
  DST=203.0.113.80
}
down_kernel_nat() { ip netns del nfvb-a; ip netns del nfvb-r; ip netns del nfvb-b; }

up_nfv_nat() {
  cat >"$WORK/nat.yaml" <<EOF
name: nfvb
poll: $POLL
${WORKERS:+workers: $WORKERS}
${SPIN:+spin: $SPIN}
nodes:
  a:  { kind: host, address: 10.71.0.2/24, gateway: 10.71.0.1${QUEUES:+, queues: $QUEUES} }
  b:  { kind: host, address: 203.0.113.80/24, gateway: 203.0.113.1${QUEUES:+, queues: $QUEUES} }
  r1:
    kind: router
    interfaces:
      lan: { address: 10.71.0.1/24 }
      wan: { address: 203.0.113.1/24 }
  nat1: { kind: nat, external: [203.0.113.2] }
links:
  - endpoints: [a, r1:lan]
chains:
  - [r1:wan, nat1, b]
EOF
  start_nfv "$WORK/nat.yaml"
  DST=203.0.113.80
}
down_nfv_nat() { stop_nfv; }

# ---- measurements -----------------------------------------------------------------------

measure() {
  local name=$1
  nsx nfvb-a ping -q -c 3 -i 0.2 "$DST" >/dev/null || { echo "$name: no connectivity" >&2; exit 1; }
  nsx nfvb-b iperf3 -s -D -1 -p 5201 --logfile "$WORK/srv.log" >/dev/null
  sleep 0.3
  local tcp
  tcp=$(nsx nfvb-a iperf3 -c "$DST" -p 5201 -t "$SECONDS_TCP" -J | python3 -c \
    'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9)')
  local rtt # median of the per-packet times
  rtt=$(nsx nfvb-a ping -n -c "$PINGS" -i 0.005 "$DST" 2>/dev/null | awk -F'time=' '/time=/ {split($2,a," "); print a[1]*1000}' \
    | sort -n | awk '{v[NR]=$1} END {if (NR) print v[int((NR+1)/2)]; else print "nan"}')
  local before after
  before=$(nsx nfvb-b awk '/^Udp:/ { if (seen) print $3; seen = 1 }' /proc/net/snmp)
  nsx nfvb-a "$UDPFLOOD" "$DST" 9 "$SECONDS_UDP" >"$WORK/flood.out"
  sleep 0.5 # frames still queued in the forwarder
  after=$(nsx nfvb-b awk '/^Udp:/ { if (seen) print $3; seen = 1 }' /proc/net/snmp)
  local udp
  udp=$(python3 -c "print(($after - $before) / $SECONDS_UDP / 1e6)")
  echo "$name $tcp $rtt $udp" >>"$WORK/samples"
  printf '  %-12s tcp %6.2f Gbit/s   rtt %6.0f us   udp64 %5.3f Mpps\n' "$name" "$tcp" "$rtt" "$udp"
}

echo "nfv compare: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), kernel $(uname -r), $(date -u +%FT%TZ)"
echo "rounds $ROUNDS, TCP ${SECONDS_TCP}s, UDP ${SECONDS_UDP}s, $PINGS pings, nfv poll $POLL${SPIN:+ spin $SPIN}, workers ${WORKERS:-default}, queues ${QUEUES:-1}; $("$NFV" --version)"
for r in $(seq "$ROUNDS"); do
  echo "round $r"
  up_bridge; measure linux-bridge; down_bridge
  up_nfv_switch; measure nfv-switch; down_nfv_switch
  up_kernel_nat; measure kernel-nat; down_kernel_nat
  up_nfv_nat; measure nfv-nat; down_nfv_nat
done

python3 - "$WORK/samples" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    n, tcp, rtt, udp = line.split()
    rows.setdefault(n, []).append((float(tcp), float(rtt), float(udp)))
med = {n: tuple(statistics.median(v[i] for v in s) for i in range(3)) for n, s in rows.items()}
print()
print(f"{'scenario':<14}{'TCP Gbit/s':>12}{'RTT us':>10}{'UDP64 Mpps':>12}   (medians of {len(next(iter(rows.values())))} rounds)")
for n in ("linux-bridge", "nfv-switch", "kernel-nat", "nfv-nat"):
    t, r, u = med[n]
    print(f"{n:<14}{t:>12.2f}{r:>10.0f}{u:>12.3f}")
print()
for a, b in (("nfv-switch", "linux-bridge"), ("nfv-nat", "kernel-nat")):
    (t1, r1, u1), (t2, r2, u2) = med[a], med[b]
    print(f"ratio {a}/{b}: tcp {t1/t2:.2f}x  rtt {r1/r2:.2f}x  udp64 {u1/u2:.2f}x")
    print(f"result {a} tcp_gbps={t1:.3f} rtt_us={r1:.0f} udp64_mpps={u1:.4f} vs {b} tcp_gbps={t2:.3f} rtt_us={r2:.0f} udp64_mpps={u2:.4f}")
EOF
