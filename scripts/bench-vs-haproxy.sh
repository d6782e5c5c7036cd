#!/usr/bin/env bash
# First measurement: wrk through ringlb (both monoio drivers) and through HAProxy 2.6 with the
# same haproxy.cfg, plus wrk straight to the backend. See --help.
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: scripts/bench-vs-haproxy.sh [--help]

Runs `wrk -t1 -c64 -d10s --latency` (keep-alive, tiny response) against each target, ROUNDS
times, interleaved (A B C D, A B C D, ...), and prints the median req/s and p99 per target
and their ratios to HAProxy. Targets:
  direct          wrk straight to the backend (the ceiling of this machine)
  haproxy         HAProxy, nbthread 2, the generated config
  ringlb-io_uring ringlb -f <same config> -db, RINGLB_DRIVER=io_uring
  ringlb-legacy   ringlb -f <same config> -db, RINGLB_DRIVER=legacy
Behind every proxy: one `ringlb-bench backend --threads 1`.

The report (with machine info) is also written to bench/out/bench-vs-haproxy-DATE.txt.

Environment:
  DURATION=10       seconds per wrk run
  ROUNDS=3          rounds
  CONNS=64          wrk connections
  TARGETS="direct haproxy ringlb-io_uring ringlb-legacy"   which targets, in round order
  CARGO_TARGET_DIR  where cargo puts the binaries (default ./target)
  SKIP_BUILD=1      use the binaries already built

On a 2-core machine wrk, the proxy (2 threads) and the backend share the same two cores, so
every number includes that contention; nothing is pinned except what ringlb pins itself.
USAGE
}

case "${1:-}" in
    -h | --help) usage; exit 0 ;;
    "") ;;
    *) echo "bench: unknown argument '$1' (see --help)" >&2; exit 2 ;;
esac

DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-64}
TARGETS=${TARGETS:-direct haproxy ringlb-io_uring ringlb-legacy}
READY_TIMEOUT_S=10
WARMUP_S=1

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/release"
OUT_DIR="$ROOT/bench/out"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/ringlb-bench.XXXXXX")
PIDS=()

step() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # cleanup, free_port, wait_for_line, start_backend
trap cleanup EXIT
trap 'echo; echo "bench: interrupted" >&2; exit 130' INT TERM

wants() { [[ " $TARGETS " == *" $1 "* ]]; }

install_missing() {
    local missing=()
    command -v wrk >/dev/null || missing+=(wrk)
    if wants haproxy; then command -v haproxy >/dev/null || missing+=(haproxy); fi
    command -v curl >/dev/null || missing+=(curl)
    ((${#missing[@]} == 0)) && return
    step "installing ${missing[*]} with apt-get"
    local sudo=""
    ((EUID == 0)) || sudo=sudo
    $sudo apt-get install -y "${missing[@]}" >"$TMP/apt.log" 2>&1 ||
        die "apt-get install ${missing[*]} failed; see: $(tail -3 "$TMP/apt.log")"
}

build() {
    [[ "${SKIP_BUILD:-0}" == 1 ]] && return
    local pkgs=(-p ringlb-bench)
    if wants ringlb-io_uring || wants ringlb-legacy; then pkgs+=(-p ringlb); fi
    step "building ${pkgs[*]} (release)"
    (cd "$ROOT" && cargo build --release "${pkgs[@]}") >&2 ||
        die "the build failed (see above); TARGETS=\"direct haproxy\" runs without ringlb"
}

# wait_for_port PORT WHAT PID LOG: until an HTTP request to the port gets an answer.
wait_for_port() {
    local port=$1 what=$2 pid=$3 log=$4 i
    for ((i = 0; i < READY_TIMEOUT_S * 20; i++)); do
        curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/" && return 0
        kill -0 "$pid" 2>/dev/null || die "$what exited during start-up: $(tail -5 "$log")"
        sleep 0.05
    done
    die "$what: port $port did not answer within ${READY_TIMEOUT_S}s"
}


install_missing
build
declare -A URL TPID TLOG DEAD

step "starting the backend (ringlb-bench backend --threads 1)"
start_backend "$BIN_DIR/ringlb-bench" s1 "$TMP/backend.out"
BPORT=$BACKEND_STARTED_PORT
TPID[direct]=$BACKEND_STARTED_PID
TLOG[direct]="$TMP/backend.out"
URL[direct]="http://127.0.0.1:$BPORT/"

cat >"$TMP/haproxy.cfg.in" <<CFG
global
    nbthread 2
    # HAProxy needs about 2 fds per connection; RLIMIT_NOFILE here is 20000.
    maxconn 4096

defaults
    mode http
    timeout connect 5s
    timeout client  30s
    timeout server  30s

frontend fe
    bind 127.0.0.1:@PORT@
    default_backend be

backend be
    server s1 127.0.0.1:$BPORT
CFG

write_config() { # write_config NAME: $TMP/NAME.cfg with its own free port; sets URL[NAME]
    local port
    port=$(free_port)
    sed "s/@PORT@/$port/" "$TMP/haproxy.cfg.in" >"$TMP/$1.cfg"
    URL[$1]="http://127.0.0.1:$port/"
}

if wants haproxy; then
    step "starting haproxy"
    write_config haproxy
    haproxy -f "$TMP/haproxy.cfg" -db >"$TMP/haproxy.log" 2>&1 &
    PIDS+=($!)
    TPID[haproxy]=$!
    TLOG[haproxy]="$TMP/haproxy.log"
    port=${URL[haproxy]##*:}
    wait_for_port "${port%/}" haproxy $! "$TMP/haproxy.log"
fi
for driver in io_uring legacy; do
    wants "ringlb-$driver" || continue
    step "starting ringlb (RINGLB_DRIVER=$driver)"
    [[ -x "$BIN_DIR/ringlb" ]] || die "$BIN_DIR/ringlb is missing; build it or set TARGETS"
    write_config "ringlb-$driver"
    RINGLB_DRIVER=$driver "$BIN_DIR/ringlb" -f "$TMP/ringlb-$driver.cfg" -db >/dev/null 2>"$TMP/ringlb-$driver.log" &
    PIDS+=($!)
    TPID[ringlb-$driver]=$!
    TLOG[ringlb-$driver]="$TMP/ringlb-$driver.log"
    wait_for_line "$TMP/ringlb-$driver.log" 'ready' "ringlb ($driver)" $!
done
for t in $TARGETS; do
    [[ -n "${URL[$t]:-}" ]] || die "unknown target '$t' (see --help)"
done

# to_ms VALUE: wrk latency (e.g. 645.00us, 1.20ms, 1.01s) in milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
        printf "%.3f", n }'
}

# median FORMAT: the median of the whitespace-separated numbers on stdin, printf-formatted.
median() { tr ' ' '\n' | { grep . || true; } | sort -g | awk -v f="$1\n" '{ a[NR] = $1 } END {
    if (NR == 0) { print "-"; exit }
    printf f, (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

step "warm-up (${WARMUP_S}s per target)"
for t in $TARGETS; do wrk -t1 -c"$CONNS" -d"${WARMUP_S}s" "${URL[$t]}" >/dev/null; done

declare -A RPS P99 ERRS
REPORT="$TMP/report.txt"
for ((r = 1; r <= ROUNDS; r++)); do
    for t in $TARGETS; do
        [[ -n "${DEAD[$t]:-}" ]] && continue
        step "round $r/$ROUNDS: $t"
        out=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency "${URL[$t]}" 2>&1) || true
        if ! kill -0 "${TPID[$t]}" 2>/dev/null; then
            # Keep measuring the others; the report says what happened to this one.
            DEAD[$t]="died in round $r; last log lines: $(tail -3 "${TLOG[$t]}" | paste -sd'|')"
            printf 'bench: %s %s\n' "$t" "${DEAD[$t]}" >&2
            continue
        fi
        echo "$out" >"$TMP/wrk-$t-$r.txt"
        rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$out")
        p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
        # A target that died mid-run leaves wrk without a summary: count it as 0 req/s.
        rps=${rps:-0}
        errs=$(grep -E 'Non-2xx|Socket errors' <<<"$out" | tr -s ' ' | paste -sd';' || true)
        RPS[$t]="${RPS[$t]:-} $rps"
        P99[$t]="${P99[$t]:-} $p99"
        [[ -n "$errs" ]] && ERRS[$t]="${ERRS[$t]:-} round $r:$errs"
        printf '    %-16s round %d: %9s req/s  p99 %8s ms  %s\n' "$t" "$r" "$rps" "$p99" "$errs" >&2
    done
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0 && a != "-") printf "%.2f", a / b; else print "-" }'; }

{
    echo "# ringlb vs HAProxy: wrk -t1 -c$CONNS -d${DURATION}s --latency, keep-alive, tiny response"
    echo "date:     $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "command:  DURATION=$DURATION ROUNDS=$ROUNDS CONNS=$CONNS TARGETS=\"$TARGETS\" scripts/bench-vs-haproxy.sh"
    echo "machine:  nproc=$(nproc), kernel $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
    # sed, not head: head exits early and pipefail would count haproxy's SIGPIPE as a failure.
    echo "haproxy:  $( (haproxy -v 2>/dev/null || true) | sed -n 1p)"
    echo "wrk:      $( (wrk --version 2>&1 || true) | sed -n 1p)"
    echo "ringlb:   git HEAD $(cd "$ROOT" && git log -1 --format='%h %s' 2>/dev/null || echo unknown)"
    echo "setup:    proxies with 2 threads (nbthread 2 in the shared config), one backend"
    echo "          thread (ringlb-bench backend --threads 1 --no-pin), wrk 1 thread; all share"
    echo "          the same $(nproc) cores, so each number includes that contention."
    echo "rounds:   $ROUNDS, interleaved in the order: $TARGETS"
    echo
    printf '%-16s %12s %12s %14s %12s   %s\n' target "req/s(med)" "p99 ms(med)" "req/s/haproxy" "p99/haproxy" "per round req/s | p99 ms"
    base_rps=$( (wants haproxy && echo "${RPS[haproxy]:-}" | median %.0f) || echo -)
    base_p99=$( (wants haproxy && echo "${P99[haproxy]:-}" | median %.3f) || echo -)
    for t in $TARGETS; do
        m_rps=$(echo "${RPS[$t]:-}" | median %.0f)
        m_p99=$(echo "${P99[$t]:-}" | median %.3f)
        printf '%-16s %12s %12s %14s %12s  %s |%s\n' "$t" "$m_rps" "$m_p99" \
            "$(ratio "$m_rps" "$base_rps")" "$(ratio "$m_p99" "$base_p99")" "${RPS[$t]:-}" "${P99[$t]:-}"
    done
    for t in $TARGETS; do
        [[ -n "${ERRS[$t]:-}" ]] && echo "errors $t:${ERRS[$t]}"
        [[ -n "${DEAD[$t]:-}" ]] && echo "DIED   $t: ${DEAD[$t]}"
    done
    true
} >"$REPORT"

mkdir -p "$OUT_DIR"
FILE="$OUT_DIR/bench-vs-haproxy-$(date +%Y%m%d-%H%M%S).txt"
cp "$REPORT" "$FILE"
echo
cat "$REPORT"
echo
echo "written to ${FILE#"$ROOT"/}"
