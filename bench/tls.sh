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
export PATH="$PATH:/usr/sbin:/usr/local/sbin"

REPS=${REPS:-2}
DURATION=${DURATION:-3}
WARMUP=${WARMUP:-1}
CONNECTIONS=${CONNECTIONS:-2000}
BASE_ROUTER=${BASE_ROUTER:-}
WORK=target/bench/tls
RESULTS=$WORK/results.jsonl
LOADGEN=target/release/loadgen
ROUTER=target/release/router
mkdir -p "$WORK"
: >"$RESULTS"

log() { printf '[tls %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

certificates() {
    local d=$WORK
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=bench CA" -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -subj "/CN=localhost" -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$d/server.ext"
    openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
        -CAcreateserial -days 2 -extfile "$d/server.ext" -out "$d/server.pem" 2>/dev/null
    cat >"$d/nats-tls.conf" <<CONF
tls {
  cert_file: "$ROOT/$d/server.pem"
  key_file: "$ROOT/$d/server.key"
}
CONF
}

STARTED=()
start() {
    local name=$1
    shift
    "$@" >"$WORK/$name.log" 2>&1 &
    STARTED+=("$!")
}
stop_all() {
    local pid
    for pid in "${STARTED[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${STARTED[@]}"; do
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    STARTED=()
}
trap stop_all EXIT

wait_for_port() {
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    log "nothing listens on port $1"
    exit 1
}

# "label backend port tls" per target.
TARGETS=()
start_servers() {
    TARGETS=()
    start router "$ROUTER" --listen 127.0.0.1:17100
    TARGETS+=("router router 17100 -")
    start router-tls "$ROUTER" --listen 127.0.0.1:17101 \
        --tls-cert "$WORK/server.pem" --tls-key "$WORK/server.key"
    TARGETS+=("router-tls router 17101 tls")
    if [[ -n $BASE_ROUTER ]]; then
        start router-base "$BASE_ROUTER" --listen 127.0.0.1:17102
        TARGETS+=("router-base router 17102 -")
    fi
    start nats nats-server -a 127.0.0.1 -p 17103
    TARGETS+=("nats nats 17103 -")
    start nats-tls nats-server -a 127.0.0.1 -p 17104 -c "$WORK/nats-tls.conf"
    TARGETS+=("nats-tls nats 17104 tls")
    local target
    for target in "${TARGETS[@]}"; do
        # shellcheck disable=SC2086 # four words by construction
        set -- $target
        wait_for_port "$3"
    done
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
        "$LOADGEN" --backend "$kind" --addr "127.0.0.1:$port" --label "$label" \
            --duration "$DURATION" --warmup "$WARMUP" --format both "${extra[@]}" "$@" \
            2> >(cat >&2) | sed "s/^{/{\"rep\":$rep,/" >>"$RESULTS" || true
    done
}

certificates
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
