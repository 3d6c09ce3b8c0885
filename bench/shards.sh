#!/usr/bin/env bash
# The shard figures: the router (mio) with 1 and 2 shards, pairs placed on
# the same shard or across shards, beside NATS, each run bounded and short.
#
#   bench/shards.sh            # ~3 min on 2 cores; a table on stdout
#   DURATION=5 bench/shards.sh
#
# Prints one line per run (loadgen's text format). Starts NATS and each
# router on loopback ports, and stops only the PIDs it started, on any exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

DURATION=${DURATION:-3}
WARMUP=${WARMUP:-1}
PORT=${PORT:-17100}
NATS_PORT=${NATS_PORT:-14322}
DRIVER=${DRIVER:-mio}
LOGS=target/bench/shards
mkdir -p "$LOGS"

BENCH=shards
# shellcheck source=bench/lib.sh
source bench/lib.sh
trap stop_all EXIT

install_servers nats-server
cargo build --release --locked -q -p router -p router-bench

WORKLOADS=(
    "pingpong -p 1 -s 64"
    "pingpong -p 64 -s 64"
    "pairs -p 16 -s 64"
    "pairs -p 16 -s 1024"
    "pairs -p 256 -s 64"
    "pairs -p 256 -s 1024"
)

run() {
    local label=$1 backend=$2 addr=$3 extra=$4 workload=$5
    # shellcheck disable=SC2086
    target/release/loadgen $workload --backend "$backend" --addr "$addr" \
        --duration "$DURATION" --warmup "$WARMUP" --grace 2 \
        --server-pid "$SERVER" --label "$label" --format table $extra
}

start nats nats-server -a 127.0.0.1 -p "$NATS_PORT"
wait_for_port "$NATS_PORT" nats
NATS_PID=$LAST_PID
for shards in 1 2; do
    port=$((PORT + shards))
    start "router-$shards" target/release/router --listen "127.0.0.1:$port" \
        --driver "$DRIVER" --shards "$shards"
    wait_for_port "$port" "router-$shards"
    SERVER=$LAST_PID
    placements=(any)
    [[ $shards -gt 1 ]] && placements=(same cross)
    for workload in "${WORKLOADS[@]}"; do
        for placement in "${placements[@]}"; do
            run "$DRIVER-$shards-$placement" router "127.0.0.1:$port" \
                "--shards $shards --placement $placement" "$workload"
        done
        if [[ $shards == 2 && $workload == "pingpong -p 64 -s 64" ]]; then
            SERVER=$NATS_PID run nats nats "127.0.0.1:$NATS_PORT" "" "$workload"
        fi
    done
done
