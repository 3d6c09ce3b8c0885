#!/usr/bin/env bash
# What --metrics-addr costs the router end to end: alternates runs of the
# release `router` ($DRIVER: mio by default) without and with --metrics-addr, scraped once a
# second, under bench's loadgen (pairs: 16 × 64 B, window 128; pingpong: 64
# pairs), and prints the medians' ratios: throughput, and messages per server
# CPU-second (the steadier of the two on a shared machine).
#
#   cargo build --release -p router -p router-bench && REPS=5 metrics/overhead.sh
#   DRIVER=tokio metrics/overhead.sh
#
# Traffic stays on 127.0.0.1; it stops only the PIDs it started.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUTER=target/release/router
LOADGEN=target/release/loadgen
REPS=${REPS:-3}
DRIVER=${DRIVER:-mio}
PORT=${PORT:-17600}
METRICS_PORT=$((PORT + 1))
RESULTS=$(mktemp)
trap 'rm -f "$RESULTS"' EXIT

# run MODE WORKLOAD ARGS...: one loadgen run against a fresh router.
run() {
    local mode=$1 scraper="" extra=()
    shift
    if [ "$mode" = metrics ]; then extra=(--metrics-addr "127.0.0.1:$METRICS_PORT"); fi
    "$ROUTER" --driver "$DRIVER" --listen "127.0.0.1:$PORT" --shards 1 "${extra[@]}" 2>/dev/null &
    local pid=$!
    for _ in $(seq 50); do
        (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
        sleep 0.1
    done
    if [ "$mode" = metrics ]; then
        (for _ in $(seq 60); do
            curl -sf -o /dev/null "http://127.0.0.1:$METRICS_PORT/metrics" || true
            sleep 1
        done) &
        scraper=$!
    fi
    "$LOADGEN" --backend router --addr "127.0.0.1:$PORT" --server-pid "$pid" \
        --label "$mode" --format json --duration 5 --warmup 1 "$@" >>"$RESULTS"
    if [ -n "$scraper" ]; then kill "$scraper" 2>/dev/null || true; fi
    kill -TERM "$pid"
    wait "$pid" || true
}

for _ in $(seq "$REPS"); do
    for mode in plain metrics; do run "$mode" pairs --pairs 16 --size 64 --window 128; done
    for mode in metrics plain; do run "$mode" pingpong --pairs 64; done
done

python3 - "$RESULTS" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
assert all(r["ok"] for r in rows), "a run counted faults"
def median(workload, label, value):
    return statistics.median(value(r) for r in rows if r["workload"] == workload and r["label"] == label)
for workload in ("pairs", "pingpong"):
    rate = lambda r: r["throughput"]["msgs_per_s"]
    per_cpu = lambda r: r["server"]["msgs_per_cpu_s"]
    print(f"{workload}: msgs/s without {median(workload, 'plain', rate):.0f}, "
          f"with {median(workload, 'metrics', rate):.0f}; with/without: throughput "
          f"{median(workload, 'metrics', rate) / median(workload, 'plain', rate):.3f}, "
          f"msgs per server CPU-s "
          f"{median(workload, 'metrics', per_cpu) / median(workload, 'plain', per_cpu):.3f}")
PY
