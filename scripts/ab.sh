#!/usr/bin/env bash
# A/B: the same load through two builds of ringlb, interleaved, to show a change lost no speed.
# See --help.
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: scripts/ab.sh [options] OLD NEW

Builds ringlb at two git revisions (a commit, branch or tag; `.` is the working tree as it is),
then runs the same wrk load through each, in interleaved rounds (A B, B A, A B, ...: drift of
a shared machine hits both alike), and prints per mode:
  req/s                  median over the rounds, and NEW/OLD
  CPU us per request     (utime + stime of the ringlb process during the run) / requests,
                         median, and NEW/OLD: this drifts far less than req/s
Behind ringlb: one `ringlb-bench backend --threads 1` (built from the working tree).

Options:
  --rounds N      rounds per mode (default 5)
  --duration S    seconds per wrk run (default 8; 1 s of warm-up comes before each)
  --conns C       wrk connections (default 64)
  --modes LIST    "keepalive close" (default both): close sends `Connection: close`, so every
                  request is a new connection
  --driver D      io_uring (default) or legacy
  --threads T     ringlb nbthread (default 2)
  -h, --help      this text

Builds are cached in target/ab/<commit> (the working tree always rebuilds). The report is
printed and written to bench/out/ab-DATE.txt.
Example: scripts/ab.sh main .        (the working tree against main)
         scripts/ab.sh main main     (a null comparison: how far apart equal builds land)
USAGE
}

ROUNDS=5 DURATION=8 CONNS=64 MODES="keepalive close" DRIVER=io_uring THREADS=2
REVS=()
while (($#)); do
    case "$1" in
        -h | --help) usage; exit 0 ;;
        --rounds) ROUNDS=${2:?--rounds needs a number}; shift 2 ;;
        --duration) DURATION=${2:?--duration needs seconds}; shift 2 ;;
        --conns) CONNS=${2:?--conns needs a number}; shift 2 ;;
        --modes) MODES=${2:?--modes needs a list}; shift 2 ;;
        --driver) DRIVER=${2:?--driver needs io_uring or legacy}; shift 2 ;;
        --threads) THREADS=${2:?--threads needs a number}; shift 2 ;;
        -*) echo "ab: unknown option '$1' (see --help)" >&2; exit 2 ;;
        *) REVS+=("$1"); shift ;;
    esac
done
((${#REVS[@]} == 2)) || { echo "ab: give two revisions, OLD and NEW (see --help)" >&2; exit 2; }
case "$DRIVER" in io_uring | legacy) ;; *) echo "ab: --driver io_uring|legacy" >&2; exit 2 ;; esac
for m in $MODES; do
    case "$m" in keepalive | close) ;; *) echo "ab: unknown mode '$m'" >&2; exit 2 ;; esac
done

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/ringlb-ab.XXXXXX")
PIDS=()
step() { printf '==> %s\n' "$*" >&2; }
die() { printf 'ab: error: %s\n' "$*" >&2; exit 1; }
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # cleanup, free_port, start_backend
remove_worktrees() {
    local d
    for d in "$TMP"/src-*; do
        [[ -d "$d" ]] && git -C "$ROOT" worktree remove --force "$d" 2>/dev/null
    done
    cleanup
}
trap remove_worktrees EXIT
trap 'echo; echo "ab: interrupted" >&2; exit 130' INT TERM

command -v wrk >/dev/null || die "wrk is needed (apt-get install wrk)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"

# build REV LABEL: prints the path of the ringlb binary built at REV.
build() {
    local rev=$1 label=$2 sha dir
    if [[ "$rev" == . ]]; then
        step "$label: building the working tree (release)"
        (cd "$ROOT" && cargo build --release -q -p ringlb) >&2 || die "the build of the working tree failed"
        echo "$TARGET/release/ringlb"
        return
    fi
    sha=$(git -C "$ROOT" rev-parse --verify -q "$rev^{commit}") || die "'$rev' is not a git revision"
    dir="$TARGET/ab/$sha"
    if [[ ! -x "$dir/release/ringlb" ]]; then
        step "$label: building $rev (${sha:0:10}, release) into $dir"
        git -C "$ROOT" worktree add -q --detach "$TMP/src-$label" "$sha" >&2
        (cd "$TMP/src-$label" && CARGO_TARGET_DIR="$dir" cargo build --release -q -p ringlb) >&2 ||
            die "the build of $rev failed"
    fi
    echo "$dir/release/ringlb"
}

BIN_A=$(build "${REVS[0]}" A)
BIN_B=$(build "${REVS[1]}" B)
step "building the backend (ringlb-bench, release)"
(cd "$ROOT" && cargo build --release -q -p ringlb-bench) >&2 || die "the build of ringlb-bench failed"

start_backend "$TARGET/release/ringlb-bench" s1 "$TMP/backend.out"
BPORT=$BACKEND_STARTED_PORT

# config PORT: the same configuration for both builds.
config() {
    cat <<CFG
global
    nbthread $THREADS
    maxconn 4096
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend fe
    bind 127.0.0.1:$1
    default_backend be
backend be
    server s1 127.0.0.1:$BPORT
CFG
}

# cpu_ticks PID: utime + stime of the process, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# run_one BIN MODE: prints "REQS_PER_S CPU_US_PER_REQ".
run_one() {
    local bin=$1 mode=$2 port pid t0 t1 out reqs secs hdr=()
    port=$(free_port)
    config "$port" >"$TMP/ab.cfg"
    RINGLB_DRIVER=$DRIVER "$bin" -f "$TMP/ab.cfg" -db >"$TMP/ringlb.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    for _ in $(seq 200); do
        curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/" && break
        kill -0 "$pid" 2>/dev/null || die "ringlb exited: $(tail -3 "$TMP/ringlb.log")"
        sleep 0.05
    done
    [[ "$mode" == close ]] && hdr=(-H "Connection: close")
    wrk -t1 -c"$CONNS" -d1s "${hdr[@]}" "http://127.0.0.1:$port/" >/dev/null 2>&1 || true
    t0=$(cpu_ticks "$pid")
    out=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" "${hdr[@]}" "http://127.0.0.1:$port/" 2>&1) || true
    t1=$(cpu_ticks "$pid")
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    reqs=$(sed -n 's/^ *\([0-9]*\) requests in \([0-9.]*\)s.*/\1/p' <<<"$out")
    secs=$(sed -n 's/^ *\([0-9]*\) requests in \([0-9.]*\)s.*/\2/p' <<<"$out")
    [[ -n "$reqs" && "$reqs" -gt 0 ]] || die "wrk got no answer: $out"
    awk -v r="$reqs" -v s="$secs" -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" \
        'BEGIN { printf "%.0f %.2f\n", r / s, t / hz * 1e6 / r }'
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

mkdir -p "$ROOT/bench/out"
REPORT="$ROOT/bench/out/ab-$(date -u +%Y%m%d-%H%M%S).txt"
{
    echo "A = ${REVS[0]} ($(git -C "$ROOT" rev-parse --short "${REVS[0]}^{commit}" 2>/dev/null || echo 'working tree'))"
    echo "B = ${REVS[1]} ($(git -C "$ROOT" rev-parse --short "${REVS[1]}^{commit}" 2>/dev/null || echo 'working tree'))"
    echo "machine: $(nproc) CPUs, $(uname -r); driver $DRIVER, nbthread $THREADS, wrk -t1 -c$CONNS -d${DURATION}s, $ROUNDS interleaved rounds"
} | tee "$REPORT"
for mode in $MODES; do
    : >"$TMP/A.$mode"
    : >"$TMP/B.$mode"
    for ((r = 1; r <= ROUNDS; r++)); do
        order="A B"
        ((r % 2 == 0)) && order="B A"
        for side in $order; do
            bin=$BIN_A
            [[ $side == B ]] && bin=$BIN_B
            res=$(run_one "$bin" "$mode")
            echo "$res" >>"$TMP/$side.$mode"
            step "$mode round $r/$ROUNDS $side: $(awk '{ printf "%s req/s, %s us CPU/req", $1, $2 }' <<<"$res")"
        done
    done
    ra=$(cut -d' ' -f1 "$TMP/A.$mode" | median)
    rb=$(cut -d' ' -f1 "$TMP/B.$mode" | median)
    ca=$(cut -d' ' -f2 "$TMP/A.$mode" | median)
    cb=$(cut -d' ' -f2 "$TMP/B.$mode" | median)
    awk -v m="$mode" -v ra="$ra" -v rb="$rb" -v ca="$ca" -v cb="$cb" 'BEGIN {
        printf "%-9s req/s        A %8.0f  B %8.0f  B/A %.3f\n", m, ra, rb, rb / ra
        printf "%-9s CPU us/req   A %8.2f  B %8.2f  B/A %.3f\n", m, ca, cb, cb / ca
    }' | tee -a "$REPORT"
    paste -d' ' "$TMP/A.$mode" "$TMP/B.$mode" |
        awk '{ printf "    round %d: A %s req/s %s us, B %s req/s %s us\n", NR, $1, $2, $3, $4 }' | tee -a "$REPORT"
done
echo "report: $REPORT" >&2
