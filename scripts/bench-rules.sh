#!/usr/bin/env bash
# Keep-alive req/s through ringlb with configs/api-gateway.cfg (20+ rules) against the same
# routing with every http-request / http-response / http-after-response line removed. See --help.
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: scripts/bench-rules.sh [--help]

Starts one `ringlb-bench backend --threads 1` and two ringlb instances (nbthread 2):
  rules   configs/api-gateway.cfg as shipped (binds and servers localized)
  plain   the same file without its http-request/http-response/http-after-response lines
          (same ACLs, same use_backend routing)
then runs `wrk -t1 -c64 -d10s -H 'Host: api.example.com' http://.../api/v1/users` against
each, ROUNDS times, interleaved (plain rules, plain rules, ...), and prints the median req/s
of each and the ratio rules/plain (target: >= 0.9).

Environment: DURATION=10 ROUNDS=3 CONNS=64 RINGLB_DRIVER (default: io_uring where it works)
             CARGO_TARGET_DIR, SKIP_BUILD=1
USAGE
}

case "${1:-}" in
    -h | --help) usage; exit 0 ;;
    "") ;;
    *) echo "bench-rules: unknown argument '$1' (see --help)" >&2; exit 2 ;;
esac

DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-64}
READY_TIMEOUT_S=10
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/release"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/ringlb-bench-rules.XXXXXX")
PIDS=()

step() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench-rules: error: %s\n' "$*" >&2; exit 1; }
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # cleanup, free_port, wait_for_line, start_backend
trap cleanup EXIT

command -v wrk >/dev/null || die "wrk is missing (apt-get install wrk)"
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    step "building ringlb and ringlb-bench (release)"
    (cd "$ROOT" && cargo build --release -p ringlb -p ringlb-bench) >&2
fi

step "starting the backend"
start_backend "$BIN_DIR/ringlb-bench" s1 "$TMP/backend.out"
BPORT=$BACKEND_STARTED_PORT

declare -A URL
# localize NAME FILTER: every bind -> a free port, every server -> the backend, nbthread 2.
localize() {
    local port
    port=$(free_port)
    sed -E -e "s/^(\s*bind\s+)\S+/\1127.0.0.1:$port/" \
        -e "s/^(\s*server\s+\S+\s+)\S+/\1127.0.0.1:$BPORT/" \
        -e "s/^global\s*$/global\n    nbthread 2/" \
        "$ROOT/configs/api-gateway.cfg" | $2 >"$TMP/$1.cfg"
    URL[$1]="http://127.0.0.1:$port/api/v1/users"
}
no_rules() { grep -vE '^\s*http-(request|response|after-response)\s'; }
localize rules cat
localize plain no_rules
echo "rules in the rules config: $(grep -cE '^\s*http-(request|response|after-response)\s' "$TMP/rules.cfg")" >&2

for t in plain rules; do
    step "starting ringlb ($t)"
    "$BIN_DIR/ringlb" -f "$TMP/$t.cfg" -db >/dev/null 2>"$TMP/$t.log" &
    PIDS+=($!)
    wait_for_line "$TMP/$t.log" 'ready' "ringlb ($t)" $!
    code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: api.example.com' "${URL[$t]}")
    [[ "$code" == 200 ]] || die "ringlb ($t) answered $code to the benchmark request"
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{ a[NR] = $1 } END {
    if (NR == 0) { print 0; exit }
    printf "%.0f\n", (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

declare -A RPS
for t in plain rules; do wrk -t1 -c"$CONNS" -d1s -H 'Host: api.example.com' "${URL[$t]}" >/dev/null; done
for ((r = 1; r <= ROUNDS; r++)); do
    for t in plain rules; do
        out=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" -H 'Host: api.example.com' "${URL[$t]}" 2>&1)
        rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$out")
        errs=$(grep -E 'Non-2xx|Socket errors' <<<"$out" | tr -s ' ' | paste -sd';' || true)
        RPS[$t]="${RPS[$t]:-} ${rps:-0}"
        printf '    round %d %-5s %9s req/s %s\n' "$r" "$t" "${rps:-0}" "$errs" >&2
    done
done
m_plain=$(echo "${RPS[plain]}" | median)
m_rules=$(echo "${RPS[rules]}" | median)
echo "# bench-rules: wrk -t1 -c$CONNS -d${DURATION}s keep-alive, ROUNDS=$ROUNDS interleaved"
echo "machine: nproc=$(nproc), kernel $(uname -r); ringlb git $(cd "$ROOT" && git log -1 --format=%h)"
echo "plain (no rules):    median $m_plain req/s  (rounds:${RPS[plain]})"
echo "rules (api-gateway): median $m_rules req/s  (rounds:${RPS[rules]})"
awk -v a="$m_rules" -v b="$m_plain" 'BEGIN { if (b > 0) printf "ratio rules/plain: %.3f (target >= 0.9)\n", a / b }'
