#!/usr/bin/env bash
# Requests lost per reload: ringlb `-sf` beside HAProxy `-sf`, each also with `-x` (the
# listening sockets handed over), under keep-alive and new-connection-per-request load.
# See --help.
set -euo pipefail

usage() {
    cat <<USAGE
Usage: scripts/reload-loss.sh [options]

Reloads each proxy RELOADS times under load and prints, per reload, the requests the load
client did not get a good answer to. A reload is what an operator runs: a new process on the
same config with -sf OLDPID (ringlb -f CFG -sf PID, haproxy -f CFG -sf PID); the old process
finishes softly (SIGUSR1) and exits. The targets ringlb-x and haproxy-x reload seamlessly:
their config has 'stats socket SOCK expose-fd listeners' and the new process also gets
'-x SOCK', so it takes the old process's listening sockets instead of binding its own.
The targets ringlb-W and haproxy-W run master-worker mode (-W): one master for the whole
run, and a reload is SIGUSR2 to it (its new worker takes the old one's sockets); the reload
is over once the master logs 'Loading success.' and the old worker's exit.

For each reload, one run of 'ringlb-bench load' (open loop, a fixed rate, so both proxies get
the same offered load) lasts WINDOW seconds, and the reload starts RELOAD_AT seconds into it;
every request it counts as failed (connect, timeout, reset, bad status, parse) is lost. Its
per-request timeout (TIMEOUT) ends early enough that a request stuck by the reload times out
inside the window; the requests merely still in flight when the window ends ('unfinished')
are not losses and are not counted. A run with no reload first shows the baseline, which
should be 0.

Options (or the environment variables in capitals):
  -n, --reloads N     reloads per proxy and load mode        RELOADS=10
  -r, --rate R        requests/s offered, or 'max' for a     RATE=2000
                      closed loop (each connection sends as soon as it is answered: the
                      offered load then differs between the proxies)
  -c, --conns N       load connections                       CONNS=32
  -w, --window S      seconds of load around each reload     WINDOW=4
  --reload-at S       when the reload starts in the window   RELOAD_AT=1
  --timeout S         the load client's per-request timeout  TIMEOUT=2
  -m, --modes LIST    keepalive and/or close                 MODES="keepalive close"
  -t, --targets LIST  ringlb, haproxy, ringlb-x, haproxy-x,  TARGETS="ringlb haproxy
                      ringlb-W, haproxy-W                    ringlb-x haproxy-x"
  --threads N         threads of each proxy (nbthread)       PROXY_THREADS=2
  --driver D          ringlb's driver: io_uring or legacy    RINGLB_DRIVER=io_uring
  --no-build          use the release binaries already built SKIP_BUILD=1
  RINGLB_BIN=PATH     another ringlb binary (e.g. an older build, to compare)
  KEEP_LOGS=1         keep the proxies' logs and the load client's JSON (the folder is named)
  -h, --help          this text

Needs: haproxy (2.6) on PATH; builds target/release/ringlb and ringlb-bench. Loopback only.
Without -x, connections that the kernel queued on the old process's listener when it closes
are reset (HAProxy loses those too); -x (the *-x targets) hands the sockets over instead.
USAGE
}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/release"
RINGLB=${RINGLB_BIN:-$BIN_DIR/ringlb}
BENCH="$BIN_DIR/ringlb-bench"
RELOADS=${RELOADS:-10}
RATE=${RATE:-2000}
CONNS=${CONNS:-32}
WINDOW=${WINDOW:-4}
RELOAD_AT=${RELOAD_AT:-1}
TIMEOUT=${TIMEOUT:-2}
MODES=${MODES:-keepalive close}
TARGETS=${TARGETS:-ringlb haproxy ringlb-x haproxy-x}
PROXY_THREADS=${PROXY_THREADS:-2}
DRIVER=${RINGLB_DRIVER:-io_uring}
SKIP_BUILD=${SKIP_BUILD:-0}
# How long a new process may take to start and the old one to drain and exit.
START_TIMEOUT_S=10

die() { printf 'reload-loss: error: %s\n' "$*" >&2; exit 1; }
step() { printf '==> %s\n' "$*" >&2; }

while (($#)); do
    case "$1" in
        -h | --help) usage; exit 0 ;;
        -n | --reloads) RELOADS=${2:?}; shift ;;
        -r | --rate) RATE=${2:?}; shift ;;
        -c | --conns) CONNS=${2:?}; shift ;;
        -w | --window) WINDOW=${2:?}; shift ;;
        --reload-at) RELOAD_AT=${2:?}; shift ;;
        --timeout) TIMEOUT=${2:?}; shift ;;
        -m | --modes) MODES=${2:?}; shift ;;
        -t | --targets) TARGETS=${2:?}; shift ;;
        --threads) PROXY_THREADS=${2:?}; shift ;;
        --driver) DRIVER=${2:?}; shift ;;
        --no-build) SKIP_BUILD=1 ;;
        *) die "unknown option '$1' (see --help)" ;;
    esac
    shift
done
awk -v w="$WINDOW" -v r="$RELOAD_AT" -v t="$TIMEOUT" 'BEGIN { exit !(r + t + 0.5 < w) }' ||
    die "RELOAD_AT + TIMEOUT must end at least 0.5 s before WINDOW, or stuck requests go uncounted"
for m in $MODES; do [[ $m == keepalive || $m == close ]] || die "unknown mode '$m'"; done
for t in $TARGETS; do [[ $t =~ ^(ringlb|haproxy)(-x|-W)?$ ]] || die "unknown target '$t'"; done
[[ " $TARGETS " != *" haproxy"* ]] || command -v haproxy >/dev/null || die "haproxy is not on PATH"

# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh" # free_port, cleanup (PIDS, TMP)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/ringlb-reload-loss.XXXXXX")
PIDS=()
if [[ ${KEEP_LOGS:-0} == 1 ]]; then
    trap 'TMP=; cleanup; echo "logs kept in $KEPT" >&2' EXIT
    KEPT=$TMP
else
    trap cleanup EXIT
fi
trap 'echo; echo "reload-loss: interrupted" >&2; exit 130' INT TERM

if [[ $SKIP_BUILD != 1 ]]; then
    step "building ringlb and ringlb-bench (release)"
    (cd "$ROOT" && cargo build --release -q -p ringlb -p ringlb-bench --bins) || die "the build failed"
fi
[[ -x $RINGLB && -x $BENCH ]] || die "no release binaries in $BIN_DIR (drop --no-build)"

# line_appears FILE REGEX: true once FILE has a line matching REGEX, false after
# START_TIMEOUT_S. Not lib.sh's wait_for_line, which dies: the callers here pick the message,
# and ready() has no pid to watch.
line_appears() {
    local i
    for ((i = 0; i < START_TIMEOUT_S * 20; i++)); do
        grep -qE "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

# wait_gone PID: true once PID has exited (it is our child: reaped here, and forgotten, so
# that the cleanup never signals a later process that reuses its number).
wait_gone() {
    local i p kept=()
    for ((i = 0; i < START_TIMEOUT_S * 20; i++)); do
        if ! kill -0 "$1" 2>/dev/null; then
            wait "$1" 2>/dev/null || true
            for p in "${PIDS[@]}"; do [[ $p == "$1" ]] || kept+=("$p"); done
            PIDS=("${kept[@]}")
            return 0
        fi
        sleep 0.05
    done
    return 1
}

BACKEND_PORT=$(free_port)
"$BENCH" backend --listen "127.0.0.1:$BACKEND_PORT" --threads 1 >"$TMP/backend.log" 2>&1 &
PIDS+=($!)
line_appears "$TMP/backend.log" "listening on" || die "the backend did not start: $(cat "$TMP/backend.log")"

PORT=$(free_port)
CFG="$TMP/proxy.cfg"
cat >"$CFG" <<CFG
global
    nbthread $PROXY_THREADS
    maxconn 4000

defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
    timeout http-keep-alive 10s

frontend fe
    bind 127.0.0.1:$PORT
    default_backend app

backend app
    server s1 127.0.0.1:$BACKEND_PORT
CFG
URL="http://127.0.0.1:$PORT/"
# The -x targets' config: the same, with a stats socket that hands the listeners over.
SOCK="$TMP/api.sock"
CFG_X="$TMP/proxy-x.cfg"
sed "s|^global\$|global\n    stats socket $SOCK level admin expose-fd listeners|" "$CFG" >"$CFG_X"

# start_proxy TARGET LOG [-sf PID]: starts one proxy process; sets STARTED to its pid. A -x
# target's reload (given -sf) also takes the old process's sockets: -x SOCK. A -W target
# starts its master (reloaded by reload_master, never with -sf).
start_proxy() {
    local target=$1 log=$2 cfg=$CFG take=()
    shift 2
    if [[ $target == *-x ]]; then
        cfg=$CFG_X
        (($#)) && take=(-x "$SOCK")
    fi
    [[ $target == *-W ]] && take=(-W)
    case "${target%-[xW]}" in
        ringlb) RINGLB_DRIVER=$DRIVER "$RINGLB" -f "$cfg" -db "${take[@]}" "$@" >"$log" 2>&1 & ;;
        haproxy) haproxy -f "$cfg" -db "${take[@]}" "$@" >"$log" 2>&1 & ;;
    esac
    STARTED=$!
    PIDS+=("$STARTED")
}

# ready TARGET LOG: the process that logs to LOG listens.
ready() {
    case "${1%-[xW]}" in
        ringlb) line_appears "$2" "ready: " ;;
        # HAProxy -db prints nothing when it starts well: wait until the port answers.
        haproxy) for ((i = 0; i < START_TIMEOUT_S * 20; i++)); do
                     (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && return 0
                     sleep 0.05
                 done; return 1 ;;
    esac
}

# load MODE JSON: one load window, in the background; sets LOADPID.
load() {
    local close=() rate=()
    [[ $1 == close ]] && close=(--close)
    [[ $RATE == max ]] || rate=(--rate "$RATE")
    "$BENCH" load -q -c "$CONNS" "${rate[@]}" --warmup 0 -d "$WINDOW" --timeout "$TIMEOUT" \
        "${close[@]}" --json "$2" "$URL" >"$2.out" 2>&1 &
    LOADPID=$!
}

# lost JSON: "LOST REQUESTS DETAIL" from one load window's summary.
lost() {
    jq -r '.result | [.errors_total, .requests,
        ([.errors | to_entries[] | select(.value > 0) | "\(.key) \(.value)"] | join(", "))]
        | @tsv' "$1"
}

# lines_appear FILE TEXT N: true once FILE has N lines containing TEXT, false after
# START_TIMEOUT_S.
lines_appear() {
    local i
    for ((i = 0; i < START_TIMEOUT_S * 20; i++)); do
        (($(grep -cF "$2" "$1" 2>/dev/null || true) >= $3)) && return 0
        sleep 0.05
    done
    return 1
}

# reload_master TARGET LOG PID N: the Nth reload of a -W target's master: SIGUSR2, then its
# new worker serves and the old one has exited (both proxies log these two lines).
reload_master() {
    kill -USR2 "$3"
    lines_appear "$2" "Loading success." $(($4 + 1)) || die "$1: reload $4 did not load: $(tail -5 "$2")"
    lines_appear "$2" "Former worker" "$4" || die "$1: the old worker still runs ${START_TIMEOUT_S}s after reload $4"
}

declare -A LOST DETAIL
# measure TARGET MODE: a baseline window, then RELOADS windows each with one reload.
measure() {
    local target=$1 mode=$2 i old json row
    step "$target, $mode: start, baseline, then $RELOADS reloads ($RATE req/s, $CONNS connections)"
    start_proxy "$target" "$TMP/$target-$mode-0.log"
    old=$STARTED
    ready "$target" "$TMP/$target-$mode-0.log" || die "$target did not start: $(cat "$TMP/$target-$mode-0.log")"
    json="$TMP/$target-$mode-base.json"
    load "$mode" "$json"
    wait "$LOADPID" || die "the load client failed: $(cat "$json.out")"
    IFS=$'\t' read -r LOST[$target/$mode/base] _ DETAIL[$target/$mode/base] < <(lost "$json")
    for ((i = 1; i <= RELOADS; i++)); do
        json="$TMP/$target-$mode-$i.json"
        load "$mode" "$json"
        sleep "$RELOAD_AT"
        if [[ $target == *-W ]]; then
            reload_master "$target" "$TMP/$target-$mode-0.log" "$old" "$i"
        else
            start_proxy "$target" "$TMP/$target-$mode-$i.log" -sf "$old"
            wait_gone "$old" || die "$target: old process $old still running ${START_TIMEOUT_S}s after the reload"
            old=$STARTED
        fi
        wait "$LOADPID" || die "the load client failed: $(cat "$json.out")"
        IFS=$'\t' read -r LOST[$target/$mode/$i] _ DETAIL[$target/$mode/$i] < <(lost "$json")
        printf '    reload %2d: %s lost%s\n' "$i" "${LOST[$target/$mode/$i]}" \
            "${DETAIL[$target/$mode/$i]:+ (${DETAIL[$target/$mode/$i]})}" >&2
    done
    kill "$old" 2>/dev/null || true
    wait_gone "$old" || true
}

for mode in $MODES; do
    for target in $TARGETS; do
        measure "$target" "$mode"
    done
done

# The table: one column per target and mode, one row per reload, then the totals.
COLS=()
for mode in $MODES; do for target in $TARGETS; do COLS+=("$target/$mode"); done; done
echo
echo "Requests lost per reload ($RATE req/s offered, $CONNS connections, ${WINDOW}s window per reload,"
echo "proxies with $PROXY_THREADS threads, ringlb driver $DRIVER; $(nproc) CPUs, $(uname -r), $(haproxy -v 2>/dev/null | head -1 | cut -d' ' -f1-3))"
echo
printf '| %-8s |' reload
for c in "${COLS[@]}"; do printf ' %-20s |' "$c"; done
echo
printf '|----------|'
for _ in "${COLS[@]}"; do printf -- '----------------------|'; done
echo
row() {
    printf '| %-8s |' "$1"
    for c in "${COLS[@]}"; do printf ' %20s |' "${LOST[$c/$2]:-?}"; done
    echo
}
row "baseline" base
for ((i = 1; i <= RELOADS; i++)); do row "$i" "$i"; done
printf '| %-8s |' total
for c in "${COLS[@]}"; do
    t=0
    for ((i = 1; i <= RELOADS; i++)); do t=$((t + ${LOST[$c/$i]:-0})); done
    printf ' %20s |' "$t ($(awk -v t="$t" -v n="$RELOADS" 'BEGIN { printf "%.1f", t / n }')/reload)"
done
echo
echo
echo "What was lost, by kind (ringlb-bench load's counts):"
for c in "${COLS[@]}"; do
    kinds=""
    for ((i = 1; i <= RELOADS; i++)); do
        [[ -n ${DETAIL[$c/$i]:-} ]] && kinds+="  #$i: ${DETAIL[$c/$i]}"
    done
    echo "  $c:${kinds:- nothing}"
done
