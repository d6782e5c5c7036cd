#!/usr/bin/env bash
# Keep-alive req/s with `option httplog` to a UDP syslog target vs logging off, for ringlb and
# for HAProxy, in the same run. See --help.
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: scripts/bench-logging.sh [--help]

Starts one `ringlb-bench backend --threads 1`, a UDP syslog receiver on loopback, and four
proxies (nbthread 2 each, the same haproxy.cfg for both programs):
  ringlb-off    ringlb, no log line
  ringlb-log    ringlb, `log 127.0.0.1:PORT local0` + `option httplog`
  haproxy-off   HAProxy 2.6, no log line
  haproxy-log   HAProxy 2.6, the same logging
then runs `wrk -t1 -c64 -d10s http://.../` (GET /, keep-alive) against each, ROUNDS times,
interleaved, and prints the median req/s of each and the ratios log/off (ringlb's target:
>= 0.95).

The receiver binds its port and never reads: the kernel discards what its buffer cannot
hold, so the senders pay the whole cost of each send (one datagram per line) and no reader
competes with them for the CPU. ringlb's lines dropped on the way are counted (LogCounters)
but not reported here.

Environment: DURATION=10 ROUNDS=3 CONNS=64 RINGLB_DRIVER (default: io_uring where it works)
             CARGO_TARGET_DIR, SKIP_BUILD=1
USAGE
}

case "${1:-}" in
    -h | --help) usage; exit 0 ;;
    "") ;;
    *) echo "bench-logging: unknown argument '$1' (see --help)" >&2; exit 2 ;;
esac

DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-64}
READY_TIMEOUT_S=10
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/release"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/ringlb-bench-logging.XXXXXX")
PIDS=()
TARGETS="ringlb-off ringlb-log haproxy-off haproxy-log"

step() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench-logging: error: %s\n' "$*" >&2; exit 1; }
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # cleanup, free_port, wait_for_line, start_backend
trap cleanup EXIT

command -v wrk >/dev/null || die "wrk is missing (apt-get install wrk)"
command -v haproxy >/dev/null || die "haproxy is missing (apt-get install haproxy)"
command -v python3 >/dev/null || die "python3 is missing (it holds the syslog port)"
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    step "building ringlb and ringlb-bench (release)"
    (cd "$ROOT" && cargo build --release -p ringlb -p ringlb-bench) >&2
fi

step "starting the backend and the syslog receiver"
start_backend "$BIN_DIR/ringlb-bench" s1 "$TMP/backend.out"
BPORT=$BACKEND_STARTED_PORT
LPORT=$(free_port)
python3 -c "import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('127.0.0.1', $LPORT))
print('ready', flush=True)
time.sleep(1e9)" >"$TMP/syslog.out" 2>&1 &
PIDS+=($!)
wait_for_line "$TMP/syslog.out" 'ready' "the syslog receiver" $!

declare -A URL
# write_cfg NAME LOG(0|1): the config both programs read.
write_cfg() {
    local port log_global="" log_defaults=""
    port=$(free_port)
    if [[ $2 == 1 ]]; then
        log_global="    log 127.0.0.1:$LPORT local0"
        log_defaults=$'    log global\n    option httplog'
    fi
    cat >"$TMP/$1.cfg" <<CFG
global
    nbthread 2
$log_global

defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
$log_defaults

frontend fe
    bind 127.0.0.1:$port
    default_backend be

backend be
    server s1 127.0.0.1:$BPORT
CFG
    URL[$1]="http://127.0.0.1:$port/"
}

for t in $TARGETS; do
    case $t in *-log) write_cfg "$t" 1 ;; *) write_cfg "$t" 0 ;; esac
    step "starting $t"
    case $t in
        ringlb-*) "$BIN_DIR/ringlb" -f "$TMP/$t.cfg" -db >/dev/null 2>"$TMP/$t.log" &
            PIDS+=($!)
            wait_for_line "$TMP/$t.log" 'ready' "$t" $! ;;
        haproxy-*) haproxy -f "$TMP/$t.cfg" -db >"$TMP/$t.log" 2>&1 &
            PIDS+=($!)
            for ((i = 0; i < 100; i++)); do
                curl -s -o /dev/null "${URL[$t]}" && break
                sleep 0.05
            done ;;
    esac
    code=$(curl -s -o /dev/null -w '%{http_code}' "${URL[$t]}")
    [[ "$code" == 200 ]] || die "$t answered $code to the benchmark request"
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{ a[NR] = $1 } END {
    if (NR == 0) { print 0; exit }
    printf "%.0f\n", (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

declare -A RPS
for t in $TARGETS; do wrk -t1 -c"$CONNS" -d1s "${URL[$t]}" >/dev/null; done
for ((r = 1; r <= ROUNDS; r++)); do
    for t in $TARGETS; do
        out=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" "${URL[$t]}" 2>&1)
        rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$out")
        errs=$(grep -E 'Non-2xx|Socket errors' <<<"$out" | tr -s ' ' | paste -sd';' || true)
        RPS[$t]="${RPS[$t]:-} ${rps:-0}"
        printf '    round %d %-12s %9s req/s %s\n' "$r" "$t" "${rps:-0}" "$errs" >&2
    done
done
echo "# bench-logging: wrk -t1 -c$CONNS -d${DURATION}s keep-alive GET /, ROUNDS=$ROUNDS interleaved"
echo "machine: nproc=$(nproc), load $(cut -d' ' -f1-3 /proc/loadavg), kernel $(uname -r); ringlb git $(cd "$ROOT" && git log -1 --format=%h); $(haproxy -v | head -1)"
declare -A MED
for t in $TARGETS; do
    MED[$t]=$(echo "${RPS[$t]}" | median)
    printf '%-12s median %8s req/s  (rounds:%s)\n' "$t" "${MED[$t]}" "${RPS[$t]}"
done
awk -v a="${MED[ringlb-log]}" -v b="${MED[ringlb-off]}" 'BEGIN { if (b > 0) printf "ringlb  log/off: %.3f (target >= 0.95)\n", a / b }'
awk -v a="${MED[haproxy-log]}" -v b="${MED[haproxy-off]}" 'BEGIN { if (b > 0) printf "haproxy log/off: %.3f\n", a / b }'
