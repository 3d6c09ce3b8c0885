#!/usr/bin/env bash
# The cluster benchmark of issue 16: pairs crossing nodes (router A, NATS,
# router B) beside NATS alone and one router alone, as msg/s, latency and
# the CPU of every server process per message. Loopback only; every run
# bounded by loadgen's --duration; stops only the processes it started.
#
#   bash bench/cluster.sh            # P=16, 64 B and 1 KiB, 5 s each
#   DURATION=10 PAIRS=16 NODE_FLAGS="--peer-window 4MiB" bash bench/cluster.sh
#   ROUTER=/tmp/router-main bash bench/cluster.sh   # another build, for A/B
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-5}
PAIRS=${PAIRS:-16}
SIZES=${SIZES:-"64 1024"}
# Flags for both cluster nodes, e.g. NODE_FLAGS="--peer-window 4MiB".
NODE_FLAGS=${NODE_FLAGS:-}
LOADGEN=target/release/loadgen
# The router under test: this tree's, unless another build is given.
ROUTER=${ROUTER:-target/release/router}
WORK=$(mktemp -d)

command -v nats-server >/dev/null || {
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >/dev/null
}
cargo build --release --locked -p router-bench -p router >&2

STARTED=()
cleanup() {
    for pid in "${STARTED[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${STARTED[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_for_port() {
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "nothing listens on $1" >&2
    return 1
}
start() { "$@" >>"$WORK/servers.log" 2>&1 & STARTED+=($!); LAST=$!; }
# utime + stime, in clock ticks, of every PID given.
cpu_ticks() {
    local total=0 pid
    for pid in "$@"; do
        total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
    done
    echo "$total"
}

# One run: loadgen with "$@", the CPU of PIDS (a space-separated list)
# around it, printed as one line.
measure() {
    local name=$1 pids=$2
    shift 2
    local before after json
    before=$(cpu_ticks $pids)
    json=$("$LOADGEN" --format json --duration "$DURATION" --warmup 1 "$@")
    after=$(cpu_ticks $pids)
    python3 - "$name" "$((after - before))" "$(getconf CLK_TCK)" "$json" <<'PY'
import json, sys
name, ticks, hz, line = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
r = json.loads(line)
t = r["throughput"]
msgs, rate, lat = t["messages"], t["msgs_per_s"], t["latency_us"]
# The servers' CPU over the whole run (warm-up included) per message of the
# measured window: an overestimate by the same factor for every setup.
per = ticks / hz * 1e6 / msgs if msgs else float("nan")
print(f"{name:<26} {rate:>10,.0f} msg/s  p50 {lat['p50']:>8.0f} us  p99 {lat['p99']:>8.0f} us  "
      f"servers' CPU {per:6.2f} us/msg  {'ok' if r['ok'] else 'FAULTS'}")
PY
}

NATS_PORT=$(free_port)
start nats-server -a 127.0.0.1 -p "$NATS_PORT"
NATS_PID=$LAST
wait_for_port "$NATS_PORT"
A_PORT=$(free_port)
B_PORT=$(free_port)
SOLO_PORT=$(free_port)
start "$ROUTER" --listen "127.0.0.1:$A_PORT" --nats "nats://127.0.0.1:$NATS_PORT" --node 0 $NODE_FLAGS
A_PID=$LAST
start "$ROUTER" --listen "127.0.0.1:$B_PORT" --nats "nats://127.0.0.1:$NATS_PORT" --node 1 $NODE_FLAGS
B_PID=$LAST
start "$ROUTER" --listen "127.0.0.1:$SOLO_PORT"
SOLO_PID=$LAST
for port in "$A_PORT" "$B_PORT" "$SOLO_PORT"; do wait_for_port "$port"; done

for size in $SIZES; do
    echo "== pairs P=$PAIRS, $size B, $DURATION s"
    measure "cluster (A -> NATS -> B)" "$A_PID $B_PID $NATS_PID" \
        --backend router --addr "127.0.0.1:$B_PORT" --send-addr "127.0.0.1:$A_PORT" \
        pairs -p "$PAIRS" -s "$size"
    measure "NATS alone" "$NATS_PID" \
        --backend nats --addr "127.0.0.1:$NATS_PORT" pairs -p "$PAIRS" -s "$size"
    measure "one router alone" "$SOLO_PID" \
        --backend router --addr "127.0.0.1:$SOLO_PORT" pairs -p "$PAIRS" -s "$size"
done
