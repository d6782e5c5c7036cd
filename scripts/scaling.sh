#!/usr/bin/env bash
# Core scaling: keep-alive req/s through ringlb (both drivers) and HAProxy at 1, 2, 4, 8 threads,
# on a machine with enough cores to keep the load generator and the backend off the proxy's
# cores. See --help.
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: scripts/scaling.sh [--help]

For each thread count N in $THREADS, runs wrk (keep-alive, tiny response) against HAProxy and
ringlb (io_uring and legacy drivers) configured with `nbthread N` and pinned to CPUs 0..N-1,
one target after the other, and prints req/s, p99 and the ratio ringlb/HAProxy per N.

CPU layout (needs at least 16 CPUs for the defaults):
  proxies   CPUs 0..N-1 (taskset + cpu-map)
  backend   $BACKEND_CPUS  (ringlb-bench backend, $BACKEND_THREADS threads)
  wrk       $LOAD_CPUS     ($LOAD_THREADS threads, 64 connections per proxy thread)

Environment:
  THREADS="1 2 4 8"  DURATION=5  BACKEND_CPUS=8-11  LOAD_CPUS=12-15
  BACKEND_THREADS=4  LOAD_THREADS=4
  HAPROXY=haproxy  WRK=wrk          commands to run (may be wrappers)
  MODE=keepalive|close              close: every request on a new connection
                                    (wrk -H 'Connection: close')
  RINGLB=target/release/ringlb  BENCH=target/release/ringlb-bench
  OUT_FILE=...                      also write the table there
USAGE
}
case "${1:-}" in
    -h | --help) usage; exit 0 ;;
    "") ;;
    *) echo "scaling: unknown argument '$1' (see --help)" >&2; exit 2 ;;
esac

THREADS=${THREADS:-1 2 4 8}
MODE=${MODE:-keepalive}
case "$MODE" in
    keepalive) WRK_HEADER=() ;;
    close) WRK_HEADER=(-H "Connection: close") ;;
    *) echo "scaling: MODE must be keepalive or close" >&2; exit 2 ;;
esac
DURATION=${DURATION:-5}
BACKEND_CPUS=${BACKEND_CPUS:-8-11}
LOAD_CPUS=${LOAD_CPUS:-12-15}
BACKEND_THREADS=${BACKEND_THREADS:-4}
LOAD_THREADS=${LOAD_THREADS:-4}
HAPROXY=${HAPROXY:-haproxy}
WRK=${WRK:-wrk}
RINGLB=${RINGLB:-target/release/ringlb}
BENCH=${BENCH:-target/release/ringlb-bench}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/ringlb-scaling.XXXXXX")
PIDS=()

step() { printf '==> %s\n' "$*" >&2; }
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # cleanup, free_port
trap cleanup EXIT
trap 'exit 130' INT TERM


wait_port() {
    local port=$1 i
    for i in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "scaling: nothing listens on port $port" >&2
    return 1
}

step "mode: $MODE; machine: $(nproc) CPUs, kernel $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
BPORT=$(free_port)
step "backend: $BENCH backend on CPUs $BACKEND_CPUS, port $BPORT"
taskset -c "$BACKEND_CPUS" "$BENCH" backend --listen "127.0.0.1:$BPORT" --threads "$BACKEND_THREADS" --no-pin >"$TMP/backend.log" 2>&1 &
PIDS+=($!)
wait_port "$BPORT"

config() { # N PORT
    local n=$1 port=$2 last=$(($1 - 1))
    cat <<EOF
global
    nbthread $n
    cpu-map auto:1/1-$n 0-$last
    maxconn 8000
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend fe
    bind 127.0.0.1:$port
    default_backend be
backend be
    http-reuse always
    server s1 127.0.0.1:$BPORT
EOF
}

run_wrk() { # PORT CONNS -> "req/s p99ms"
    local out
    out=$(taskset -c "$LOAD_CPUS" "$WRK" -t"$LOAD_THREADS" -c"$2" -d"${DURATION}s" --latency "${WRK_HEADER[@]}" "http://127.0.0.1:$1/" 2>&1 || true)
    local rps p99
    rps=$(awk '/^Requests\/sec/ {print int($2)}' <<<"$out")
    p99=$(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; printf "%.2f", v}' <<<"$out")
    echo "${rps:-0} ${p99:-nan}"
}

start_target() { # NAME N PORT CFG -> pid
    local name=$1 n=$2 port=$3 cfg=$4 cpus="0-$(($2 - 1))"
    case "$name" in
        haproxy) taskset -c "$cpus" $HAPROXY -db -f "$cfg" >"$TMP/$name.log" 2>&1 & ;;
        ringlb-io_uring) RINGLB_DRIVER=io_uring taskset -c "$cpus" "$RINGLB" -db -f "$cfg" >"$TMP/$name.log" 2>&1 & ;;
        ringlb-legacy) RINGLB_DRIVER=legacy taskset -c "$cpus" "$RINGLB" -db -f "$cfg" >"$TMP/$name.log" 2>&1 & ;;
    esac
    echo $!
}

TABLE="$TMP/table"
printf '%-8s %-16s %10s %9s %12s\n' threads target req/s p99_ms vs_haproxy >"$TABLE"
for n in $THREADS; do
    conns=$((64 * n))
    declare -A RPS=()
    for target in haproxy ringlb-io_uring ringlb-legacy; do
        port=$(free_port)
        config "$n" "$port" >"$TMP/$target-$n.cfg"
        pid=$(start_target "$target" "$n" "$port" "$TMP/$target-$n.cfg")
        PIDS+=("$pid")
        if wait_port "$port"; then
            taskset -c "$LOAD_CPUS" "$WRK" -t1 -c16 -d1s "http://127.0.0.1:$port/" >/dev/null 2>&1 || true
            read -r rps p99 < <(run_wrk "$port" "$conns")
        else
            echo "scaling: $target did not start; its log:" >&2
            tail -5 "$TMP/$target.log" >&2
            rps=0 p99=nan
        fi
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        RPS[$target]=$rps
        ratio=$(awk -v a="$rps" -v b="${RPS[haproxy]:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
        printf '%-8s %-16s %10s %9s %12s\n' "$n" "$target" "$rps" "$p99" "$ratio" | tee -a "$TABLE" >&2
    done
    unset RPS
done
echo
cat "$TABLE"
if [ -n "${OUT_FILE:-}" ]; then cp "$TABLE" "$OUT_FILE"; fi
