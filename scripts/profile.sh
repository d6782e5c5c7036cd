#!/usr/bin/env bash
# Where a proxy spends its CPU in one scenario: perf record of the proxy while ringlb-bench loads
# it, the profile grouped into a few buckets. See --help.
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: scripts/profile.sh [--proxy ringlb|haproxy] [--bin PATH] [--seconds N] SCENARIO

Profiles one proxy (one thread, pinned to core 0) while `ringlb-bench load` (64 connections,
core 1, beside the backend) runs SCENARIO through it, then groups `perf report --no-children
--sort sym` into buckets: kernel TCP/IP, copies, io_uring/epoll, scheduling, spinlocks, memory
(page faults, alloc/free), syscall entry, the proxy's own code, other. Prints the bucket table,
the top symbols and the proxy's CPU per request (utime+stime over the measured window /
requests; perf's sampling adds a little to it).

Scenarios:  keepalive  GET /, keep-alive        close     GET /, a connection per request
            body-64k   GET /size/65536          body-1m   GET /size/1048576
            post-64k   POST /status, 64 KiB body
Options:
  --proxy ringlb|haproxy   the proxy profiled (default ringlb)
  --bin PATH               the ringlb binary (default target/release/ringlb): e.g. an older
                           build, to compare before/after
  --seconds N              seconds measured and recorded (default 5, after 1 s of warm-up)
  --tag TAG                add -TAG to the output names (e.g. before / after)
  -h, --help               this text
Writes bench/out/profile-SCENARIO-PROXY[-TAG].txt (the report), .perf.data (perf report -i
...), .load.json (the load's summary). Without a hardware PMU (a VM) perf samples cpu-clock:
time spent with interrupts off lands on the spin_unlock_irqrestore that ends it, in the
spinlocks bucket. Needs perf (apt-get install linux-perf) and, for haproxy,
HAProxy; builds ringlb-bench (release) unless SKIP_BUILD=1.
USAGE
}

die() { printf 'profile: error: %s\n' "$*" >&2; exit 1; }
step() { printf '==> %s\n' "$*" >&2; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PROXY=ringlb SECONDS_=5 SCENARIO="" TAG="" BIN="$ROOT/target/release/ringlb"
while (($#)); do
    case "$1" in
        -h | --help) usage; exit 0 ;;
        --proxy) PROXY=${2:?--proxy needs ringlb or haproxy}; shift 2 ;;
        --bin) BIN=${2:?--bin needs a path}; shift 2 ;;
        --seconds) SECONDS_=${2:?--seconds needs a number}; shift 2 ;;
        --tag) TAG=-${2:?--tag needs a name}; shift 2 ;;
        -*) die "unknown option '$1' (see --help)" ;;
        *) [[ -z $SCENARIO ]] || die "one scenario at a time"; SCENARIO=$1; shift ;;
    esac
done
[[ -n $SCENARIO ]] || { usage >&2; exit 2; }
[[ $SECONDS_ =~ ^[0-9]+$ && $SECONDS_ -gt 0 ]] || die "--seconds: expected a whole number > 0"
LOAD_ARGS=() PATH_=/
case "$SCENARIO" in
    keepalive) ;;
    close) LOAD_ARGS=(--close) ;;
    body-64k) PATH_=/size/65536 ;;
    body-1m) PATH_=/size/1048576 ;;
    post-64k) PATH_=/status LOAD_ARGS=(--body 64k) ;;
    *) die "unknown scenario '$SCENARIO' (keepalive close body-64k body-1m post-64k)" ;;
esac
case "$PROXY" in
    ringlb) [[ -x $BIN ]] || die "no ringlb binary at $BIN (cargo build --release, or --bin)" ;;
    haproxy) command -v haproxy >/dev/null || die "haproxy is not installed" ;;
    *) die "--proxy: expected ringlb or haproxy" ;;
esac
command -v perf >/dev/null || die "perf is missing: apt-get install linux-perf"

BENCH="$ROOT/target/release/ringlb-bench"
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    step "building ringlb-bench (release)"
    (cd "$ROOT" && cargo build --release -q -p ringlb-bench) || die "the build failed"
fi
OUT="$ROOT/bench/out/profile-$SCENARIO-$PROXY$TAG"
mkdir -p "$ROOT/bench/out"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/ringlb-profile.XXXXXX")
PIDS=()
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh" # free_port, start_backend, wait_for_line, cleanup
trap cleanup EXIT

step "backend (core 1)"
start_backend "$BENCH" s1 "$TMP/backend.out"
taskset -apc 1 "$BACKEND_STARTED_PID" >/dev/null

PORT=$(free_port)
cat >"$TMP/proxy.cfg" <<CFG
global
    maxconn 4096
    nbthread 1
    cpu-map 1/1 0

defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s

frontend fe
    bind 127.0.0.1:$PORT
    default_backend be

backend be
    server s1 127.0.0.1:$BACKEND_STARTED_PORT
CFG
step "$PROXY on 127.0.0.1:$PORT (one thread, core 0)"
if [[ $PROXY == ringlb ]]; then
    "$BIN" -f "$TMP/proxy.cfg" -db >/dev/null 2>"$TMP/proxy.log" &
    PROXY_PID=$!
    PIDS+=("$PROXY_PID")
    wait_for_line "$TMP/proxy.log" ready ringlb "$PROXY_PID"
else
    haproxy -f "$TMP/proxy.cfg" -db >"$TMP/proxy.log" 2>&1 &
    PROXY_PID=$!
    PIDS+=("$PROXY_PID")
    for ((i = 0; i < 200; i++)); do
        ss -Htln "sport = :$PORT" | grep -q . && break
        kill -0 "$PROXY_PID" 2>/dev/null || die "haproxy exited: $(tail -5 "$TMP/proxy.log")"
        sleep 0.05
    done
fi

step "load: $SCENARIO for 1+${SECONDS_}s, perf record of pid $PROXY_PID"
"$BENCH" load -q -c 64 --cores 1 --warmup 1 -d "$SECONDS_" --cpu-pid "$PROXY_PID" \
    --json "$OUT.load.json" "${LOAD_ARGS[@]}" "http://127.0.0.1:$PORT$PATH_" >"$TMP/load.out" &
LOAD_PID=$!
sleep 1
perf record -q -o "$OUT.perf.data" -p "$PROXY_PID" -- sleep "$SECONDS_" 2>"$TMP/perf.err" ||
    die "perf record failed: $(tail -3 "$TMP/perf.err")"
wait "$LOAD_PID" || die "the load failed: $(tail -5 "$TMP/load.out")"

step "report"
perf report -i "$OUT.perf.data" --no-children --sort sym --stdio 2>/dev/null |
    awk '$1 ~ /%$/ && ($2 == "[k]" || $2 == "[.]")' >"$TMP/syms"
# bucket SYMBOL KIND: the first rule that matches wins (memcpy before user code, ...).
awk -v cpu_line="$(grep 'cpu of --cpu-pid' "$TMP/load.out" || true)" \
    -v req_line="$(grep 'requests in' "$TMP/load.out" || true)" '
function bucket(s, k) {
    if (s ~ /memcpy|memmove|copy_(user|to_user|from_user|to_iter|from_iter|page_to_iter|page_from_iter)|rep_movs|skb_copy_datagram|csum_partial_copy|__check_object_size|__virt_addr_valid/) return "copies"
    if (k == "[.]") {
        if (s ~ /^(malloc|free|cfree|realloc|calloc|_int_malloc|_int_free|malloc_consolidate|__libc_(malloc|free|calloc|realloc)|__rust_(alloc|dealloc|realloc)|__rdl_)/) return "memory"
        return "proxy user code"
    }
    if (s ~ /page_fault|handle_mm_fault|do_anonymous_page|clear_page|alloc_pages|get_page_from_freelist|free_pages|free_unref|rmqueue|folio|kmem_cache|kmalloc|kfree|slab|lru_|mem_cgroup|memcg|zap_|unmap_|madvise|mmap|brk|pte_|pmd_|vma_|mm_|page_counter|obj_stock|obj_cgroup/) return "memory"
    if (s ~ /^(__)?io_|io_uring|tctx_task_work|^ep_|epoll/) return "io_uring/epoll"
    if (s ~ /spin_lock|spin_unlock|queued_spin|_raw_read|_raw_write/) return "spinlocks"
    if (s ~ /schedule|switch_to|finish_task_switch|pick_next|task_fair|enqueue_|dequeue_|wake_up|ttwu|update_curr|update_load|psi_|select_task_rq|set_next_entity|sched_|account_|cpuacct/) return "scheduling"
    if (s ~ /entry_SYSCALL|do_syscall|syscall_exit|syscall_return|exit_to_user|^__x64_sys_|syscall_enter|__entry_text|return_thunk|srso_|retbleed|untrain_ret/) return "syscall entry"
    if (s ~ /tcp|^(__)?inet|^(__)?ip_|ipv4|^(__)?sk_|sock|skb|^(__)?dev_|netif|napi|net_rx|softirq|loopback|^nf_|neigh|eth_|validate_xmit|^__sys_|^raw_|bpf|fib_|dst_|^rt_|bbr_|cubic|check_access_socket/) return "kernel TCP/IP"
    return "other"
}
{ pct = $1; sub(/%$/, "", pct); k = $2; s = $0; sub(/^ *[0-9.]+% +\[.\] +/, "", s); b = bucket(s, k); sum[b] += pct; total += pct
  if (n < 30) top[++n] = sprintf("  %6.2f%%  %-16s %s %s", pct, b, k, s) }
END {
    order = "kernel TCP/IP|copies|io_uring/epoll|scheduling|spinlocks|memory|syscall entry|proxy user code|other"
    m = split(order, bs, "|")
    cpu_us = ""; if (match(cpu_line, /[0-9.]+ us\/request/)) cpu_us = substr(cpu_line, RSTART, RLENGTH - 11) + 0
    printf "%s\n%s\n\n", req_line, cpu_line
    printf "%-18s %7s %14s\n", "bucket", "%", "CPU us/request"
    for (i = 1; i <= m; i++) {
        b = bs[i]; v = sum[b] + 0
        printf "%-18s %6.1f%% %14s\n", b, v, cpu_us == "" ? "-" : sprintf("%.2f", v / 100 * cpu_us)
    }
    printf "%-18s %6.1f%% %14s\n\ntop symbols:\n", "total", total, cpu_us == "" ? "-" : sprintf("%.2f", cpu_us)
    for (i = 1; i <= n; i++) print top[i]
}' "$TMP/syms" >"$TMP/report"
{
    echo "profile: $SCENARIO through $PROXY (pid $PROXY_PID$([[ $PROXY == ringlb ]] && echo ", $BIN")), ${SECONDS_}s, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "load:    $(uptime | sed 's/.*load average/load average/')  (before the report)"
    echo
    cat "$TMP/report"
} | tee "$OUT.txt"
echo "written: ${OUT#"$ROOT"/}.{txt,perf.data,load.json}" >&2
