#!/usr/bin/env bash
# What a crowd of idle keep-alive clients costs: ringlb (both drivers) beside HAProxy 2.6.
# See --help.
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: scripts/idle-clients.sh [--help]

Opens CLIENTS keep-alive client connections to each proxy, one after the other; each sends
one GET and reads its response, then stays open and silent. HOLD seconds after the last one,
it reads what the proxy holds for them:
  proxy fds       descriptors the proxy process added (/proc/PID/fd)
  server conns    connections established to the backend's port (ss)
  RSS/client      resident memory the proxy added (VmRSS), divided by the idle clients
Each target runs in its own fresh processes, one after the other, with the same haproxy.cfg
(nbthread PROXY_THREADS, http-reuse safe, timeouts long enough for the clients to stay).
Behind it: one `ringlb-bench backend`. The clients are `ringlb-bench compare --idle N
--idle-request` (bench/src/compare/idle.rs).

The table is also written to bench/out/idle-clients-DATE.txt, with the machine and command.

Environment:
  CLIENTS=5000      idle clients per target (RLIMIT_NOFILE caps it: each costs the proxy one
                    descriptor, and this script the same)
  HOLD=2            seconds between the last client's response and the measurement
  REQUEST=1         0: the clients connect and send nothing (no request, no server
                    connection: the cost of a bare idle connection)
  PROXY_THREADS=2   nbthread of both proxies
  TARGETS="haproxy ringlb-io_uring ringlb-legacy"   which targets, in this order
  CARGO_TARGET_DIR  where cargo puts the binaries (default ./target)
  SKIP_BUILD=1      use the binaries already built
USAGE
}

case "${1:-}" in
    -h | --help) usage; exit 0 ;;
    "") ;;
    *) echo "idle-clients: unknown argument '$1' (see --help)" >&2; exit 2 ;;
esac

CLIENTS=${CLIENTS:-5000}
HOLD=${HOLD:-2}
REQUEST=${REQUEST:-1}
PROXY_THREADS=${PROXY_THREADS:-2}
TARGETS=${TARGETS:-haproxy ringlb-io_uring ringlb-legacy}
READY_TIMEOUT_S=10
# Descriptors a proxy needs beyond one per client: listeners, the backend, the rest.
FD_SLACK=200

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/release"
BENCH="$BIN_DIR/ringlb-bench"
OUT_DIR="$ROOT/bench/out"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/ringlb-idle.XXXXXX")
PIDS=()

step() { printf '==> %s\n' "$*" >&2; }
die() { printf 'idle-clients: error: %s\n' "$*" >&2; exit 1; }

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # cleanup, free_port, wait_for_line, start_backend
trap cleanup EXIT
trap 'echo; echo "idle-clients: interrupted" >&2; exit 130' INT TERM

[[ "$CLIENTS" =~ ^[1-9][0-9]*$ ]] || die "CLIENTS=$CLIENTS: expected a number of clients"
[[ "$HOLD" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "HOLD=$HOLD: expected seconds"
[[ "$REQUEST" == 0 || "$REQUEST" == 1 ]] || die "REQUEST=$REQUEST: expected 0 or 1"
REQUEST_ARGS=(--idle-request)
WHAT="one request each"
if [[ "$REQUEST" == 0 ]]; then
    REQUEST_ARGS=()
    WHAT="no request"
fi

# One descriptor per idle client in this script and in the proxy: raise the soft limit.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
((CLIENTS + FD_SLACK <= NOFILE)) ||
    die "CLIENTS=$CLIENTS needs more descriptors than RLIMIT_NOFILE ($NOFILE) allows; lower it"

wants() { [[ " $TARGETS " == *" $1 "* ]]; }

build() {
    [[ "${SKIP_BUILD:-0}" == 1 ]] && return
    step "building ringlb and ringlb-bench (release)"
    (cd "$ROOT" && cargo build --release -p ringlb -p ringlb-bench) >&2 ||
        die "the build failed (see above)"
}

# wait_for_listen PORT WHAT PID LOG: until something accepts on 127.0.0.1:PORT.
wait_for_listen() {
    local port=$1 what=$2 pid=$3 log=$4 i
    for ((i = 0; i < READY_TIMEOUT_S * 20; i++)); do
        ss -Htln "sport = :$port" | grep -q . && return 0
        kill -0 "$pid" 2>/dev/null || die "$what exited during start-up: $(tail -5 "$log")"
        sleep 0.05
    done
    die "$what: port $port did not listen within ${READY_TIMEOUT_S}s"
}

write_config() {
    cat >"$TMP/haproxy.cfg" <<CFG
global
    nbthread $PROXY_THREADS
    maxconn $((CLIENTS + FD_SLACK))

defaults
    mode http
    timeout connect 5s
    timeout client 300s
    timeout server 300s
    timeout http-keep-alive 300s

frontend fe
    bind 127.0.0.1:$FE_PORT
    default_backend app

backend app
    server s1 127.0.0.1:$BPORT
CFG
}

# start_proxy TARGET: sets PROXY_PID.
start_proxy() {
    local t=$1 log="$TMP/$1.log"
    case $t in
        haproxy) haproxy -db -f "$TMP/haproxy.cfg" >"$log" 2>&1 & ;;
        ringlb-io_uring | ringlb-legacy)
            RINGLB_DRIVER=${t#ringlb-} "$BIN_DIR/ringlb" -f "$TMP/haproxy.cfg" -db >"$log" 2>&1 &
            ;;
        *) die "unknown target '$t' (haproxy, ringlb-io_uring, ringlb-legacy)" ;;
    esac
    PROXY_PID=$!
    PIDS+=("$PROXY_PID")
    wait_for_listen "$FE_PORT" "$t" "$PROXY_PID" "$log"
}

stop_proxy() {
    kill "$PROXY_PID" 2>/dev/null || true
    wait "$PROXY_PID" 2>/dev/null || true
}

# measure TARGET: one fresh proxy, CLIENTS idle clients, one line appended to $TMP/idle.rec.
measure() {
    local t=$1
    step "$t: $CLIENTS idle keep-alive clients ($WHAT), measured ${HOLD}s after the last one"
    start_proxy "$t"
    "$BENCH" compare --scenario idle-clients --rounds 1 --pause 0 \
        --target "$t=http://127.0.0.1:$FE_PORT/" --pid "$t=$PROXY_PID" \
        --idle "$CLIENTS" "${REQUEST_ARGS[@]}" --idle-server-port "$BPORT" --hold "$HOLD" \
        --idle-record "$TMP/idle.rec" >"$TMP/$t.compare" 2>&1 ||
        die "$t: ringlb-bench compare failed: $(tail -5 "$TMP/$t.compare")"
    grep '^round' "$TMP/$t.compare" | sed 's/^/    /' >&2 || true
    stop_proxy
}

# The table, from the records: NAME OPENED FAILED FDS RSS_BEFORE RSS_ADDED SERVER_CONNS.
table() {
    awk -F'\t' '
        function num(v) { return v == "-" ? "-" : v }
        { name[NR] = $1; opened[NR] = $2; failed[NR] = $3; fds[NR] = $4; rss[NR] = $6; srv[NR] = $7
          per[NR] = ($2 > 0 && $6 != "-") ? $6 * 1024 / $2 : -1
          if ($1 == "haproxy") base = per[NR] }
        END {
            printf "| %-16s | %7s | %6s | %15s | %12s | %10s | %14s | %10s |\n", "target", "clients", "failed", "proxy fds added", "server conns", "RSS added", "RSS per client", "vs haproxy"
            printf "|%s|%s|%s|%s|%s|%s|%s|%s|\n", "------------------", "--------:", "-------:", "----------------:", "-------------:", "-----------:", "---------------:", "-----------:"
            for (i = 1; i <= NR; i++) {
                ratio = (base > 0 && per[i] >= 0) ? sprintf("%.2fx", per[i] / base) : "-"
                kib = rss[i] == "-" ? "-" : sprintf("%.1f MiB", rss[i] / 1024)
                pc = per[i] < 0 ? "-" : sprintf("%.0f B", per[i])
                printf "| %-16s | %7s | %6s | %15s | %12s | %10s | %14s | %10s |\n", name[i], opened[i], failed[i], num(fds[i]), num(srv[i]), kib, pc, ratio
            }
        }' "$TMP/idle.rec"
}

command -v ss >/dev/null || die "ss (iproute2) is needed to count server connections"
if wants haproxy; then command -v haproxy >/dev/null || die "haproxy is not installed"; fi
build
[[ -x "$BENCH" ]] || die "$BENCH is missing (SKIP_BUILD=1 without a build?)"

step "starting the backend (ringlb-bench backend --threads 1)"
start_backend "$BENCH" s1 "$TMP/backend.out"
BPORT=$BACKEND_STARTED_PORT
FE_PORT=$(free_port)
write_config

for t in $TARGETS; do
    measure "$t"
done

mkdir -p "$OUT_DIR"
OUT="$OUT_DIR/idle-clients-$(date +%Y%m%d-%H%M%S).txt"
{
    echo "# Idle keep-alive clients: $CLIENTS clients, $WHAT, measured ${HOLD}s later"
    echo
    echo "Machine: $(nproc) CPUs, $(uname -sr), $(haproxy -v 2>/dev/null | head -1 || echo 'no haproxy')"
    echo "Command: CLIENTS=$CLIENTS HOLD=$HOLD REQUEST=$REQUEST PROXY_THREADS=$PROXY_THREADS TARGETS=\"$TARGETS\" scripts/idle-clients.sh"
    echo
    table
    echo
    echo "proxy fds added: descriptors the proxy process opened for the clients (one each, plus"
    echo "server connections); server conns: established to the backend port (ss); RSS per"
    echo "client: VmRSS added divided by the clients."
} | tee "$OUT"
step "written to ${OUT#"$ROOT"/}"
