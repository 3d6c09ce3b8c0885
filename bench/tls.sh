#!/usr/bin/env bash
# The TLS rows: the router (mio) with and without TLS, beside NATS with and
# without TLS, on pairs P=16 (64 B and 1 KiB), ping-pong P=64, and the rate at
# which connections are set up (idle: connect, handshake, first byte). With
# BASE_ROUTER=path/to/router, the plain router built from another commit runs
# too, for the before/after ratio of the plain path.
#
#   bench/tls.sh                       # ~4 min on 2 cores
#   REPS=3 DURATION=5 bench/tls.sh
#
# Certificates are made here with openssl, into target/bench/tls; servers run on
# loopback ports, and only the processes this script started are stopped.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

REPS=${REPS:-2}
DURATION=${DURATION:-3}
WARMUP=${WARMUP:-1}
CONNECTIONS=${CONNECTIONS:-2000}
BASE_ROUTER=${BASE_ROUTER:-}
WORK=target/bench/tls
LOGS=$WORK
RESULTS=$WORK/results.jsonl
LOADGEN=target/release/loadgen
ROUTER=target/release/router
mkdir -p "$WORK"
: >"$RESULTS"

BENCH=tls
# shellcheck source=bench/lib.sh
source bench/lib.sh
trap stop_all EXIT

# "label backend port tls" per target.
TARGETS=()
# serve LABEL BACKEND PORT TLS COMMAND...: starts a target and waits for it.
serve() {
    local label=$1 kind=$2 port=$3 tls=$4
    shift 4
    start "$label" "$@"
    wait_for_port "$port" "$label"
    TARGETS+=("$label $kind $port $tls")
}
start_servers() {
    TARGETS=()
    serve router router 17100 - "$ROUTER" --listen 127.0.0.1:17100 --shards 1
    serve router-tls router 17101 tls "$ROUTER" --listen 127.0.0.1:17101 --shards 1 \
        --tls-cert "$WORK/server.pem" --tls-key "$WORK/server.key"
    if [[ -n $BASE_ROUTER ]]; then
        serve router-base router 17102 - "$BASE_ROUTER" --listen 127.0.0.1:17102 --shards 1
    fi
    serve nats nats 17103 - nats-server -a 127.0.0.1 -p 17103
    serve nats-tls nats 17104 tls nats-server -a 127.0.0.1 -p 17104 -c "$WORK/nats-tls.conf"
}

# Runs one workload on every target, in an order rotated by repetition $1.
interleave() {
    local rep=$1
    shift
    local n=${#TARGETS[@]} i label kind port tls
    for ((i = 0; i < n; i++)); do
        read -r label kind port tls <<<"${TARGETS[$(((i + rep) % n))]}"
        local extra=()
        [[ $tls == tls ]] && extra=(--tls-ca "$WORK/ca.pem")
        record_run "$rep" "$label" "$@" --backend "$kind" --addr "127.0.0.1:$port" "${extra[@]}"
    done
}

install_servers nats-server
cargo build --release --locked -q -p router -p router-bench
make_certificates "$WORK"
log "reps: $REPS; ${DURATION}s + ${WARMUP}s warm-up; base router: ${BASE_ROUTER:-none}"
for rep in $(seq "$REPS"); do
    start_servers
    interleave "$rep" idle --connections "$CONNECTIONS" --hold 0
    interleave "$rep" pairs --pairs 16 --size 64
    interleave "$rep" pairs --pairs 16 --size 1024
    interleave "$rep" pingpong --pairs 64 --size 64
    stop_all
done
log "results: $RESULTS"
