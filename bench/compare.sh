#!/usr/bin/env bash
# Compares the router (each driver in $DRIVERS) with Redis pub/sub, NATS and a
# serverless loopback baseline, and writes BENCHMARKS.md.
#
#   bench/compare.sh                 # full run, every driver: ~19 min on 2 cores
#   QUICK=1 bench/compare.sh         # smoke test, ~2 min
#   DRIVERS=mio REPS=5 bench/compare.sh
#
# Every server runs on loopback ports and is restarted at the start of each
# repetition (so the idle memory figure starts from a fresh process). Workloads run
# interleaved across backends (A, B, C, A, B, C, ...), with the order rotated each
# repetition; the report takes medians over repetitions. Only the processes this
# script started are stopped, on any exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

QUICK=${QUICK:-0}
if [[ $QUICK == 1 ]]; then
    DURATION=${DURATION:-1}
    WARMUP=${WARMUP:-0.5}
    REPS=${REPS:-1}
    OUT=${OUT:-target/bench/BENCHMARKS-quick.md}
else
    DURATION=${DURATION:-5}
    WARMUP=${WARMUP:-1}
    REPS=${REPS:-3}
    OUT=${OUT:-BENCHMARKS.md}
fi
DRIVERS=${DRIVERS:-mio tokio smol}
IDLE_CONNECTIONS=${IDLE_CONNECTIONS:-10000}
REDIS_PORT=${REDIS_PORT:-16379}
NATS_PORT=${NATS_PORT:-14222}
ROUTER_BASE_PORT=${ROUTER_BASE_PORT:-17000}
# The fairness flood's cap in its second run, MiB/s: below what the slowest
# backend moves uncapped, so that every backend moves the same bytes.
FAIR_FLOOD_RATE=${FAIR_FLOOD_RATE:-200}

WORK=target/bench
LOGS=$WORK/logs
RESULTS=$WORK/results.jsonl
LOADGEN=target/release/loadgen
ROUTER=target/release/router
mkdir -p "$LOGS"
: >"$RESULTS"

BENCH=compare
# shellcheck source=bench/lib.sh
source bench/lib.sh
trap stop_all EXIT

build() {
    cargo build --release --locked -p router-bench -p router
}

# BACKENDS holds "label backend addr pid" per server, rebuilt at every start.
BACKENDS=()
start_servers() {
    BACKENDS=()
    start redis redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' \
        --appendonly no --maxclients $((IDLE_CONNECTIONS + 1000)) --protected-mode yes
    BACKENDS+=("redis redis 127.0.0.1:$REDIS_PORT $LAST_PID")
    wait_for_port "$REDIS_PORT" redis
    start nats nats-server -a 127.0.0.1 -p "$NATS_PORT"
    BACKENDS+=("nats nats 127.0.0.1:$NATS_PORT $LAST_PID")
    wait_for_port "$NATS_PORT" nats
    local i=0 driver port
    for driver in $DRIVERS; do
        port=$((ROUTER_BASE_PORT + i))
        start "router-$driver" "$ROUTER" --listen "127.0.0.1:$port" --driver "$driver" --shards 1
        BACKENDS+=("router-$driver router 127.0.0.1:$port $LAST_PID")
        wait_for_port "$port" "router-$driver"
        i=$((i + 1))
    done
}

# One loadgen run in repetition $1 against one backend (lib.sh's record_run).
run_one() {
    local rep=$1 label=$2 kind=$3 addr=$4 pid=$5
    shift 5
    local server=()
    [[ $pid != - ]] && server=(--server-pid "$pid")
    record_run "$rep" "$label" "$@" --backend "$kind" --addr "$addr" "${server[@]}"
}

# Runs one workload on every backend, in an order rotated by the repetition number.
interleave() {
    local rep=$1 with_direct=$2
    shift 2
    local targets=("${BACKENDS[@]}")
    [[ $with_direct == 1 ]] && targets+=("direct direct 127.0.0.1:1 -")
    local n=${#targets[@]} i
    for ((i = 0; i < n; i++)); do
        # shellcheck disable=SC2086 # the entry is four words by construction
        run_one "$rep" ${targets[$(((i + rep) % n))]} "$@"
    done
}

# The machine's busy CPU ticks, the CPU ticks of this script's waited-for children
# (the servers, loadgen), the ticks stolen by a hypervisor, and the time in ns.
# Over the run, busy minus children is other work competing for the cores.
cpu_sample() {
    local _cpu user nice system _idle _iowait irq softirq steal _rest
    read -r _cpu user nice system _idle _iowait irq softirq steal _rest </proc/stat
    local stat children
    stat=$(</proc/$$/stat)
    stat=${stat##*) }
    read -r -a stat <<<"$stat"
    # cutime and cstime: fields 16 and 17 of /proc/PID/stat, 14 and 15 after the name.
    children=$((stat[13] + stat[14]))
    echo "$((user + nice + system + irq + softirq)) $children $steal $(date +%s%N)"
}

install_servers redis-server nats-server
build
ulimit -n "$(ulimit -Hn)"
log "drivers: $DRIVERS; reps: $REPS; duration ${DURATION}s + ${WARMUP}s warm-up"
# The generator shares 2 cores with the servers: anything else running skews the
# figures, so the report states how much CPU other work took during the run.
CPU_BEFORE=$(cpu_sample)

for rep in $(seq "$REPS"); do
    log "repetition $rep/$REPS: starting servers"
    start_servers
    # First, on fresh processes: memory per idle connection.
    interleave "$rep" 0 idle --connections "$IDLE_CONNECTIONS"
    for pairs in 1 16 256; do
        for size in 64 1024; do
            interleave "$rep" 1 pairs --pairs "$pairs" --size "$size"
            # The report divides each slow run by the pairs run of the same shape and
            # repetition; running them back to back keeps drift in the machine's
            # load out of that ratio.
            if ((pairs == 16 && size == 64)); then
                interleave "$rep" 0 slow --pairs 16 --size 64
            fi
        done
    done
    for pairs in 1 64; do
        interleave "$rep" 1 pingpong --pairs "$pairs"
    done
    # One ping-pong pair alone and beside a 64 KiB flood, in alternating phases:
    # the flood as fast as each backend takes it, then capped alike for all.
    interleave "$rep" 1 fairness
    interleave "$rep" 1 fairness --flood-rate "$FAIR_FLOOD_RATE"
    stop_all
done

mkdir -p "$(dirname "$OUT")"
# The shard, cluster and TLS sections come from their own scripts
# (bench/shards.sh, bench/cluster.sh, bench/tls.sh): keep them, from the
# marker on, when this run rewrites the rest.
MARKER='<!-- sections by other scripts -->'
KEPT=$WORK/kept-sections.md
if [[ -f $OUT ]] && grep -qF "$MARKER" "$OUT"; then
    sed -n "/^$MARKER\$/,\$p" "$OUT" >"$KEPT"
else
    : >"$KEPT"
fi
python3 bench/report.py "$RESULTS" \
    --command "$(printf '%q ' env QUICK="$QUICK" DRIVERS="$DRIVERS" REPS="$REPS" bench/compare.sh)" \
    --setting "duration ${DURATION} s, warm-up ${WARMUP} s, ${REPS} repetitions, idle ${IDLE_CONNECTIONS} connections" \
    --fact "$(redis-server --version)" --fact "$(nats-server --version)" \
    --cpu-before "$CPU_BEFORE" --cpu-after "$(cpu_sample)" \
    >"$OUT"
cat "$KEPT" >>"$OUT"
log "wrote $OUT (raw results: $RESULTS)"
