#!/usr/bin/env bash
# The cluster benchmark of issue 16: pairs crossing nodes (router A, NATS,
# router B) beside NATS alone and one router alone, as msg/s, latency and
# the CPU of every server process per message. Loopback only; every run
# bounded by loadgen's --duration; stops only the processes it started.
#
#   bash bench/cluster.sh            # P=16, 64 B and 1 KiB, 5 s each (~3 min)
#   DURATION=10 PAIRS=16 NODE_FLAGS="--peer-window 4MiB" bash bench/cluster.sh
#   ROUTER=/tmp/router-main bash bench/cluster.sh   # another build, for A/B
#   NATS_GOGC="100" NATS_SIZES= bash bench/cluster.sh   # the main table only
#
# The cluster and NATS alone run against the same nats-server, once for each
# Go GC setting in NATS_GOGC (100 is Go's default; the server's CPU per byte
# is mostly its garbage collector, see BENCHMARKS.md, "Cluster"). Then NATS
# alone runs once per message size in NATS_SIZES, to show what the server
# itself carries per byte on this machine, whatever sits around it.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
PAIRS=${PAIRS:-16}
SIZES=${SIZES:-"64 1024"}
NATS_GOGC=${NATS_GOGC:-"100 400"}
NATS_SIZES=${NATS_SIZES-"1024 16384 65536"}
# Flags for both cluster nodes, e.g. NODE_FLAGS="--peer-window 4MiB".
NODE_FLAGS=${NODE_FLAGS:-}
LOADGEN=target/release/loadgen
# The router under test: this tree's, unless another build is given.
ROUTER=${ROUTER:-target/release/router}
LOGS=target/bench/cluster
mkdir -p "$LOGS"

BENCH=cluster
# shellcheck source=bench/lib.sh
source bench/lib.sh
trap stop_all EXIT

install_servers nats-server
cargo build --release --locked -q -p router-bench -p router

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# utime + stime, in clock ticks, of every PID given.
cpu_ticks() {
    local total=0 pid
    for pid in "$@"; do
        total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
    done
    echo "$total"
}

# measure NAME PIDS SIZE LOADGEN-ARGS...: one run, the CPU of PIDS (a
# space-separated list) around it, printed as one line.
measure() {
    local name=$1 pids=$2 size=$3
    shift 3
    local before after json
    before=$(cpu_ticks $pids)
    json=$("$LOADGEN" --format json --duration "$DURATION" --warmup "$WARMUP" "$@")
    after=$(cpu_ticks $pids)
    python3 - "$name" "$((after - before))" "$(getconf CLK_TCK)" "$size" "$json" <<'PY'
import json, sys
name, ticks, hz, size, line = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
r = json.loads(line)
t = r["throughput"]
msgs, rate, lat = t["messages"], t["msgs_per_s"], t["latency_us"]
# The servers' CPU over the whole run (warm-up included) per message of the
# measured window: an overestimate by the same factor for every setup.
per = ticks / hz * 1e6 / msgs if msgs else float("nan")
print(f"{name:<34} {rate:>10,.0f} msg/s  {rate * size / 1e6:>5,.0f} MB/s  p50 {lat['p50']:>6.0f} us  "
      f"p99 {lat['p99']:>6.0f} us  servers' CPU {per:6.2f} us/msg {per * 1024 / size:5.2f} us/KiB  "
      f"{'ok' if r['ok'] else 'FAULTS'}")
PY
}

# A NATS server with Go's GC at $1. Sets NATS_PORT and NATS_PID.
start_nats() {
    NATS_PORT=$(free_port)
    start "nats-gogc$1" env GOGC="$1" nats-server -a 127.0.0.1 -p "$NATS_PORT"
    NATS_PID=$LAST_PID
    wait_for_port "$NATS_PORT" "nats-gogc$1"
}

# Router nodes 0 and 1 on that server. Sets A_PORT, A_PID, B_PORT, B_PID.
start_nodes() {
    local node port
    for node in 0 1; do
        port=$(free_port)
        # shellcheck disable=SC2086
        start "node$node" "$ROUTER" --listen "127.0.0.1:$port" \
            --nats "nats://127.0.0.1:$NATS_PORT" --node "$node" $NODE_FLAGS
        wait_for_port "$port" "node$node"
        if ((node == 0)); then A_PORT=$port A_PID=$LAST_PID; else B_PORT=$port B_PID=$LAST_PID; fi
    done
}

SOLO_PORT=$(free_port)
start solo "$ROUTER" --listen "127.0.0.1:$SOLO_PORT" --shards 1
SOLO_PID=$LAST_PID
wait_for_port "$SOLO_PORT" solo
for size in $SIZES; do
    echo "== pairs P=$PAIRS, $size B, $DURATION s"
    measure "one router alone" "$SOLO_PID" "$size" \
        --backend router --addr "127.0.0.1:$SOLO_PORT" pairs -p "$PAIRS" -s "$size"
done
stop_all

for gogc in $NATS_GOGC; do
    start_nats "$gogc"
    start_nodes
    for size in $SIZES; do
        echo "== pairs P=$PAIRS, $size B, $DURATION s, nats-server GOGC=$gogc"
        measure "cluster (A -> NATS -> B)" "$A_PID $B_PID $NATS_PID" "$size" \
            --backend router --addr "127.0.0.1:$B_PORT" --send-addr "127.0.0.1:$A_PORT" \
            pairs -p "$PAIRS" -s "$size"
        measure "NATS alone" "$NATS_PID" "$size" \
            --backend nats --addr "127.0.0.1:$NATS_PORT" pairs -p "$PAIRS" -s "$size"
    done
    stop_all
done

if [[ -n $NATS_SIZES ]]; then
    echo "== what NATS alone carries per byte: pairs P=$PAIRS, $DURATION s, GOGC=100"
    start_nats 100
    for size in $NATS_SIZES; do
        measure "NATS alone, $size B messages" "$NATS_PID" "$size" \
            --backend nats --addr "127.0.0.1:$NATS_PORT" pairs -p "$PAIRS" -s "$size"
    done
fi
