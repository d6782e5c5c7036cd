# Helpers shared by the scripts in this folder; sourced, not run.

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
