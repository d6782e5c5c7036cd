#!/usr/bin/env bash
# Checker CPU cost: N servers (default 1000) checked every INTER ms (default 100) with
# `option httpchk` + `http-check expect status 200 string OK`, against a few HAProxy frontends
# used as check targets (many server lines share each port). Reads the ringlb-checker thread's
# utime+stime from /proc/PID/task/TID/stat over a window and prints CPU% and checks/s.
#
# usage: scripts/bench-checks.sh [SERVERS] [INTER_MS] [SECONDS]
# needs: a release build (cargo build --release), haproxy on PATH; loopback only.
set -euo pipefail
SERVERS=${1:-1000}
INTER=${2:-100}
SECS=${3:-10}
TARGETS=4
BASE_PORT=${BASE_PORT:-19400}
BIN=${RINGLB_BIN:-${CARGO_TARGET_DIR:-target}/release/ringlb}
DIR=$(mktemp -d)
cleanup() { [[ -n "${RL:-}" ]] && kill "$RL" 2>/dev/null; [[ -n "${HA:-}" ]] && kill "$HA" 2>/dev/null; rm -rf "$DIR"; }
trap cleanup EXIT

{
  echo "global"
  echo "    maxconn 4000"
  echo "defaults"
  echo "    mode http"
  echo "    timeout connect 1s"
  echo "    timeout client 5s"
  echo "    timeout server 5s"
  for i in $(seq 0 $((TARGETS - 1))); do
    echo "frontend t$i"
    echo "    bind 127.0.0.1:$((BASE_PORT + i))"
    echo "    http-request return status 200 content-type text/plain string OK"
  done
} > "$DIR/targets.cfg"
haproxy -db -f "$DIR/targets.cfg" > "$DIR/haproxy.log" 2>&1 &
HA=$!

{
  echo "global"
  echo "    nbthread 2"
  echo "defaults"
  echo "    mode http"
  echo "    timeout connect 1s"
  echo "    timeout client 5s"
  echo "    timeout server 5s"
  echo "    timeout check 1s"
  echo "frontend fe"
  echo "    bind 127.0.0.1:$((BASE_PORT + TARGETS))"
  echo "    default_backend app"
  echo "backend app"
  echo "    option httpchk GET /health"
  echo "    http-check expect status 200 string OK"
  echo "    default-server inter $INTER rise 2 fall 3"
  for i in $(seq 1 "$SERVERS"); do
    echo "    server s$i 127.0.0.1:$((BASE_PORT + i % TARGETS)) check"
  done
} > "$DIR/ringlb.cfg"
sleep 0.5
"$BIN" -f "$DIR/ringlb.cfg" -db > "$DIR/ringlb.log" 2>&1 &
RL=$!
sleep 2
TID=""
for t in /proc/$RL/task/*; do
  if [[ "$(cat "$t/comm")" == "ringlb-checker" ]]; then TID=${t##*/}; fi
done
[[ -n "$TID" ]] || { echo "no ringlb-checker thread"; cat "$DIR/ringlb.log"; exit 1; }
ticks() { awk '{print $14 + $15}' "/proc/$RL/task/$TID/stat"; }
HZ=$(getconf CLK_TCK)
t0=$(ticks); s0=$(date +%s.%N)
sleep "$SECS"
t1=$(ticks); s1=$(date +%s.%N)
DOWN=$(grep -c "is DOWN" "$DIR/ringlb.log" || true)
awk -v a="$t0" -v b="$t1" -v hz="$HZ" -v s0="$s0" -v s1="$s1" -v n="$SERVERS" -v inter="$INTER" -v down="$DOWN" 'BEGIN {
  wall = s1 - s0; cpu = (b - a) / hz;
  printf "servers %d, inter %dms: checker thread CPU %.2fs over %.1fs = %.1f%% of one core (%.0f checks/s expected, %.1f us CPU per check); %d DOWN transitions\n",
    n, inter, cpu, wall, 100 * cpu / wall, n * 1000 / inter, 1e6 * cpu / (wall * n * 1000 / inter), down
}'
echo "machine: $(nproc) CPUs, $(uname -r), driver: $(grep -o '[a-z_( )]* driver' "$DIR/ringlb.log" | head -1)"
