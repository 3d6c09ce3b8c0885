# Helpers shared by the benchmark scripts (compare.sh, shards.sh, tls.sh,
# fairness.sh): starting servers and stopping exactly those, waiting for a
# port, installing the peers, making TLS certificates. Sourced, not run.
#
# The sourcing script sets BENCH (its name, for log lines) and LOGS (where
# each server's output goes) first, and calls `trap stop_all EXIT`; for
# record_run, also LOADGEN, RESULTS, DURATION and WARMUP.

log() { printf '[%s %(%H:%M:%S)T] %s\n' "${BENCH:-bench}" -1 "$*" >&2; }

# PIDs this script started, so that stop_all stops exactly those (never a
# process of someone else's that happens to match a name).
STARTED=()
LAST_PID=

# start NAME COMMAND...: runs COMMAND in the background, its output in
# $LOGS/NAME.log; its PID is $LAST_PID.
start() {
    local name=$1
    shift
    "$@" >"$LOGS/$name.log" 2>&1 &
    LAST_PID=$!
    STARTED+=("$LAST_PID")
}

# Stops every process start() started: TERM, a bounded wait, then KILL.
stop_all() {
    local pid
    for pid in "${STARTED[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
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

# wait_for_port PORT NAME: waits until server NAME (PID $LAST_PID) listens on
# PORT; fails fast, with its log, if it exits instead (a bad flag, a driver
# not built, a port in use).
wait_for_port() {
    local port=$1 name=$2
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        if ! kill -0 "$LAST_PID" 2>/dev/null; then
            log "$name exited before listening on port $port:"
            tail -n 5 "$LOGS/$name.log" >&2
            exit 1
        fi
        sleep 0.1
    done
    log "$name did not listen on port $port within 10 s; see $LOGS/$name.log"
    exit 1
}

# record_run REP LABEL WORKLOAD [ARGS...]: one loadgen run ($LOADGEN, for
# $DURATION s after $WARMUP s) labelled LABEL; its JSON line, tagged with the
# repetition, goes to $RESULTS, its text line to the terminal and
# $LOGS/loadgen.log. A run that fails outright (not one that counted faults,
# exit 3) is recorded as failed, so the report shows the gap.
record_run() {
    local rep=$1 label=$2
    shift 2
    local rc=0
    "$LOADGEN" "$@" --label "$label" --duration "$DURATION" --warmup "$WARMUP" \
        --format both 2> >(tee -a "$LOGS/loadgen.log" >&2) |
        sed "s/^{/{\"rep\":$rep,/" >>"$RESULTS" || rc=$?
    if ((rc != 0 && rc != 3)); then
        printf '{"rep":%d,"workload":"%s","label":"%s","failed":true,"args":"%s"}\n' \
            "$rep" "$1" "$label" "$*" >>"$RESULTS"
    fi
}

# install_servers PACKAGE...: installs from Debian whichever of the given
# servers (redis-server, nats-server) is missing. Debian puts them in
# /usr/sbin, which a non-login shell may not have on its PATH.
install_servers() {
    export PATH="$PATH:/usr/sbin:/usr/local/sbin"
    local missing=() package
    for package in "$@"; do
        command -v "$package" >/dev/null || missing+=("$package")
    done
    if ((${#missing[@]})); then
        log "installing ${missing[*]} from Debian"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

# make_certificates DIR: a throw-away CA (DIR/ca.pem) and a server certificate
# for localhost and 127.0.0.1 signed by it (DIR/server.pem, DIR/server.key),
# P-256, valid two days, plus DIR/nats-tls.conf serving the same certificate
# from nats-server. Made per run, so no key is ever committed.
make_certificates() {
    local d=$1
    mkdir -p "$d"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=bench CA" -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -subj "/CN=localhost" -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$d/server.ext"
    openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
        -CAcreateserial -days 2 -extfile "$d/server.ext" -out "$d/server.pem" 2>/dev/null
    cat >"$d/nats-tls.conf" <<CONF
tls {
  cert_file: "$(cd "$d" && pwd)/server.pem"
  key_file: "$(cd "$d" && pwd)/server.key"
}
CONF
}
