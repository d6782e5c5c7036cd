#!/usr/bin/env bash
# Rate ramp against any running HTTP target (ringlb or another): open-loop steps at rising
# rates until p99 latency or the error rate breaks a threshold. See --help.
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: scripts/loadtest.sh [OPTIONS] URL

Drives URL with `ringlb-bench ramp`: open loop (latency from each request's intended send
time, so a stalling server shows), one step per rate, and reports the last rate that held and
the first at which p99 or the error rate crossed its threshold.

Options (or the environment variables in brackets):
  --rates LIST      rates in req/s            [RATES=1000,2000,5000,10000,20000,50000,100000,200000]
  --step S          seconds per step          [STEP=3]
  --max-p99 MS      p99 threshold in ms       [MAX_P99_MS=10]
  --max-errors PCT  error-rate threshold, %   [MAX_ERRORS_PCT=1]
  -c N              connections               [CONNS=64]
  -t N              load threads              [THREADS=1]
  any other option is passed to ringlb-bench ramp (e.g. --close, --body 64k, -H 'Host: x')

Environment: CARGO_TARGET_DIR (where ringlb-bench is built), SKIP_BUILD=1.
USAGE
}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH="${CARGO_TARGET_DIR:-$ROOT/target}/release/ringlb-bench"
RATES=${RATES:-1000,2000,5000,10000,20000,50000,100000,200000}
STEP=${STEP:-3}
MAX_P99_MS=${MAX_P99_MS:-10}
MAX_ERRORS_PCT=${MAX_ERRORS_PCT:-1}
CONNS=${CONNS:-64}
THREADS=${THREADS:-1}
EXTRA=()
URL=""
while (($#)); do
    case "$1" in
        -h | --help) usage; exit 0 ;;
        --rates) RATES=$2; shift ;;
        --step) STEP=$2; shift ;;
        --max-p99) MAX_P99_MS=$2; shift ;;
        --max-errors) MAX_ERRORS_PCT=$2; shift ;;
        -c) CONNS=$2; shift ;;
        -t) THREADS=$2; shift ;;
        http://* | https://*) URL=$1 ;;
        *) EXTRA+=("$1") ;;
    esac
    shift
done
[[ -n "$URL" ]] || { usage >&2; exit 2; }

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    (cd "$ROOT" && cargo build --release -q -p ringlb-bench) || { echo "loadtest: build failed" >&2; exit 1; }
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

echo "date:    $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "machine: nproc=$(nproc), kernel $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
echo "command: scripts/loadtest.sh --rates $RATES --step $STEP --max-p99 $MAX_P99_MS --max-errors $MAX_ERRORS_PCT -c $CONNS -t $THREADS ${EXTRA[*]} $URL"
exec "$BENCH" ramp --rates "$RATES" --step "$STEP" --max-p99 "$MAX_P99_MS" \
    --max-errors "$MAX_ERRORS_PCT" -c "$CONNS" -t "$THREADS" --no-pin "${EXTRA[@]}" "$URL"
