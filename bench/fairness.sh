#!/usr/bin/env bash
# Fairness as the router grows (issue 13, point 4): the p99 of one ping-pong
# pair beside a flooding pair, against the same pair's p99 without the flood,
# on the router with 1 shard, with 2 shards (both pairs on one shard, or each
# pair across the two) and with TLS, beside `direct` (no server) as the
# control. The flood runs uncapped, then capped at FAIR_FLOOD_RATE MiB/s.
# compare.sh has the same case per driver, beside Redis and NATS.
#
#   bench/fairness.sh                  # ~6 min on 2 cores
#   REPS=5 DRIVER=tokio bench/fairness.sh
#
# Prints its section of BENCHMARKS.md (also left in target/bench/fairness/).
# Servers run on loopback ports; only the processes it started are stopped.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

REPS=${REPS:-3}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
DRIVER=${DRIVER:-mio}
FAIR_FLOOD_RATE=${FAIR_FLOOD_RATE:-200}
PORT=${PORT:-17200}
WORK=target/bench/fairness
LOGS=$WORK
RESULTS=$WORK/results.jsonl
LOADGEN=target/release/loadgen
ROUTER=target/release/router
mkdir -p "$WORK"
: >"$RESULTS"

BENCH=fairness
# shellcheck source=bench/lib.sh
source bench/lib.sh
trap stop_all EXIT

# "label backend port loadgen-flags" per target; flags are words joined by
# commas, since the entry is split on spaces.
TARGETS=()
serve() {
    local label=$1 port=$2
    shift 2
    start "$label" "$ROUTER" --listen "127.0.0.1:$port" --driver "$DRIVER" "$@"
    wait_for_port "$port" "$label"
}
start_servers() {
    local tls=(--tls-cert "$WORK/server.pem" --tls-key "$WORK/server.key")
    local ca="--tls-ca,$WORK/ca.pem"
    serve "router-$DRIVER-1" "$PORT" --shards 1
    serve "router-$DRIVER-2" $((PORT + 1)) --shards 2
    serve "router-$DRIVER-tls-1" $((PORT + 2)) --shards 1 "${tls[@]}"
    serve "router-$DRIVER-tls-2" $((PORT + 3)) --shards 2 "${tls[@]}"
    TARGETS=(
        "router-$DRIVER-1 router $PORT -"
        "router-$DRIVER-2-same router $((PORT + 1)) --shards,2,--placement,same"
        "router-$DRIVER-2-cross router $((PORT + 1)) --shards,2,--placement,cross"
        "router-$DRIVER-tls-1 router $((PORT + 2)) $ca"
        "router-$DRIVER-tls-2-cross router $((PORT + 3)) $ca,--shards,2,--placement,cross"
        "direct direct 1 -"
    )
}

# Runs fairness with "$@" on every target, in an order rotated by repetition $1.
interleave() {
    local rep=$1
    shift
    local n=${#TARGETS[@]} i label kind port flags
    for ((i = 0; i < n; i++)); do
        read -r label kind port flags <<<"${TARGETS[$(((i + rep) % n))]}"
        local extra=()
        [[ $flags != - ]] && IFS=, read -r -a extra <<<"$flags"
        record_run "$rep" "$label" fairness "$@" --backend "$kind" --addr "127.0.0.1:$port" \
            "${extra[@]}"
    done
}

cargo build --release --locked -q -p router -p router-bench
make_certificates "$WORK"
log "driver $DRIVER; reps: $REPS; ${DURATION}s + ${WARMUP}s warm-up"
for rep in $(seq "$REPS"); do
    start_servers
    interleave "$rep"
    interleave "$rep" --flood-rate "$FAIR_FLOOD_RATE"
    stop_all
done
python3 bench/report.py "$RESULTS" --fairness-only "Fairness by shard count and with TLS" \
    --command "$(printf '%q ' env REPS="$REPS" DRIVER="$DRIVER" bench/fairness.sh)" \
    --setting "duration ${DURATION} s, warm-up ${WARMUP} s, ${REPS} repetitions" \
    | tee "$WORK/section.md"
