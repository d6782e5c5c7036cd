# Helpers shared by the scripts in this folder; sourced, not run.
# shellcheck shell=bash
#
# The sourcing script must define `die MESSAGE...` (print an error, exit non-zero) before it
# calls wait_for_line or start_backend: they report failures through it, in the script's own
# words. Globals used here: READY_TIMEOUT_S (seconds, default 10), PIDS (an array of pids;
# start_backend appends to it, cleanup stops them), TMP (the scratch folder cleanup removes).

# A loopback port below the kernel's ephemeral range (32768+ by default, see
# /proc/sys/net/ipv4/ip_local_port_range) that no socket uses in any state: outgoing connections
# never take such a port, so binding it cannot collide with one.
free_port() {
    local p
    while :; do
        p=$((20000 + RANDOM % 12000))
        ss -Htan "sport = :$p" 2>/dev/null | grep -q . || { echo "$p"; return; }
    done
}

# The EXIT trap of the scripts that start processes: stops every pid in the PIDS array (and
# waits for it), then removes the scratch folder TMP.
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$TMP"
}

# wait_for_line FILE REGEX WHAT PID: returns once FILE has a line matching REGEX (grep -E);
# dies if PID exits first or after READY_TIMEOUT_S seconds (polled every 0.05 s), showing the
# last 20 lines of FILE and of FILE.err, where a process writes its stderr apart.
wait_for_line() {
    local file=$1 regex=$2 what=$3 pid=$4 timeout=${READY_TIMEOUT_S:-10} i
    for ((i = 0; i < timeout * 20; i++)); do
        grep -qE "$regex" "$file" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || die "$what exited before it was ready; its output:
$(cat "$file" "$file.err" 2>/dev/null | tail -20)"
        sleep 0.05
    done
    die "$what did not come up within ${timeout}s; its output:
$(cat "$file" "$file.err" 2>/dev/null | tail -20)"
}

# start_backend [--stderr FILE] BIN NAME OUT [ARGS...]: starts
#   BIN backend --threads 1 --no-pin --name NAME ARGS...
# in the background, stdout to OUT and stderr to OUT as well (or to FILE; name it OUT.err and
# wait_for_line shows it), appends its pid to PIDS, waits for its `listening on IP:PORT` line,
# and sets BACKEND_STARTED_PID and BACKEND_STARTED_PORT (the first listener's port). --no-pin:
# one-thread backends should not all sit on core 0 beside the proxy.
# It sets globals and PIDS, so call it directly, never in $(...): a subshell would lose them,
# and the cleanup would never stop the backend.
start_backend() {
    local err=""
    if [[ "$1" == --stderr ]]; then
        err=$2
        shift 2
    fi
    local bin=$1 name=$2 out=$3
    shift 3
    if [[ -n "$err" ]]; then
        "$bin" backend --threads 1 --no-pin --name "$name" "$@" >"$out" 2>"$err" &
    else
        "$bin" backend --threads 1 --no-pin --name "$name" "$@" >"$out" 2>&1 &
    fi
    BACKEND_STARTED_PID=$!
    PIDS+=("$BACKEND_STARTED_PID")
    wait_for_line "$out" '^listening on ' "the backend $name" "$BACKEND_STARTED_PID"
    BACKEND_STARTED_PORT=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$out" | head -1)
    [[ -n "$BACKEND_STARTED_PORT" ]] || die "the backend $name printed no port: $(head -3 "$out")"
}
