#!/usr/bin/env bash
# Side-by-side comparison: ringlb (both drivers), HAProxy, nginx and the backend itself, one
# scenario at a time, interleaved rounds, via `ringlb-bench compare`. See --help.
set -euo pipefail

SCENARIOS="keepalive close body-1k body-64k body-1m post-64k idle-10k tcp leastconn-skew rules tls-handshake-rsa tls-handshake-ecdsa tls-resume tls-keepalive h2-tls h2c"
TLS_SCENARIOS="tls-handshake-rsa tls-handshake-ecdsa tls-resume tls-keepalive"
H2_SCENARIOS="h2-tls h2c"
RESULTS_SCENARIOS="keepalive close body-64k tcp idle-10k"

usage() {
    cat <<USAGE
Usage: scripts/compare.sh [SCENARIO ...]     run these scenarios (default: keepalive)
       scripts/compare.sh tls                run the four tls-* scenarios
       scripts/compare.sh h2                 run the two HTTP/2 scenarios (h2-tls h2c)
       scripts/compare.sh --h2-results       run them and rewrite bench/RESULTS.h2.md
       scripts/compare.sh --tls-results      run the four tls-* scenarios and rewrite the TLS
                                             section of bench/RESULTS.md (bench/RESULTS.tls.md)
       scripts/compare.sh --results          regenerate bench/RESULTS.md and bench/report.html
                                             ($RESULTS_SCENARIOS, plus the wrk check)
       scripts/compare.sh --list | --help

Scenarios: $SCENARIOS
  keepalive      GET /, tiny response, keep-alive (the headline; goal ringlb >= 1.3x haproxy,
                 p99 no worse)
  close          GET /, a new connection per request (goal >= 1.2x)
  body-1k/64k/1m GET /size/N
  post-64k       POST /status with a 64 KiB body
  idle-10k       10,000 connections that send nothing; RSS and fds added per target process.
                 Every target (and the backend) is started afresh for each round and stopped
                 after it, so every round measures the cold cost
  tcp            mode tcp in HAProxy and ringlb (nginx only if its stream module is present)
  leastconn-skew balance leastconn over a fast and a slow (--delay) server: who answered, p99
  rules          20 acl + use_backend rules, the request matching the last one
  tls-handshake-rsa    TLS termination, a new connection and a full TLS 1.3 handshake per
                 request (no resumption offered), RSA-2048 certificate; goal: handshakes/s
                 >= 1.3x the faster of haproxy and nginx
  tls-handshake-ecdsa  the same with an ECDSA P-256 certificate (same goal)
  tls-resume     a new connection per request, each resuming its previous session with a
                 ticket (the resumed share is reported; ECDSA certificate); goal >= 1.0x
                 haproxy (the issue sets none)
  tls-keepalive  keep-alive over TLS, GET /, ECDSA certificate; goal >= 1.3x haproxy req/s,
                 p99 no worse
  h2-tls         HTTP/2 over TLS (ALPN h2, ECDSA P-256 certificate), GET /, many streams per
                 connection: h2load -c H2_CONNS -m H2_STREAMS -n H2_REQUESTS; goal >= 1.3x
                 haproxy req/s, p99 no worse
  h2c            the same over cleartext h2 with prior knowledge (HAProxy and ringlb:
                 `bind ... proto h2`; nginx: `listen ... http2`); same goal
  The h2 scenarios run h2load (nghttp2-client) instead of ringlb-bench's HTTP/1.1 load:
  every round runs each target in turn (interleaved), p50/p99 come from h2load's per-request
  log (--log-file), CPU per request from /proc/PID/stat; direct is left out (the backend
  speaks HTTP/1.1 only). Reports: bench/out/STAMP-SCENARIO.md (and .txt, the raw rounds).
  The TLS scenarios leave out direct (the backend speaks plain HTTP) and add each proxy's CPU
  time per handshake (tls-keepalive: per request) from /proc/PID/stat, with its ratio to
  haproxy's. Certificates (a CA, RSA-2048 and ECDSA P-256 leaves for bench.test) are made once
  per run with openssl in the scratch folder; every proxy serves the same files, and the
  load generator verifies them against the CA (rustls, TLS 1.3, X25519).
Goals for the scenarios without one above: >= 1.0x haproxy (idle-10k: bytes per connection
no more than haproxy's).

For each scenario it writes equivalent configs (ringlb reads the very haproxy.cfg HAProxy
reads), starts one ringlb-bench backend (two for leastconn-skew), the proxies, all on
loopback, runs ringlb-bench compare, and stops everything it started, also on Ctrl-C.
Reports go to bench/out/ (text, JSON, HTML), with the machine, versions and command.

Environment:
  TARGETS="direct haproxy nginx ringlb-io_uring ringlb-legacy"   targets, in round order
  DURATION=5 WARMUP=1 ROUNDS=3 CONNS=64 LOAD_THREADS=1 PROXY_THREADS=2
  TLS_DURATION=3      seconds measured per run in the tls-* scenarios (the set takes ~4 min)
  SLOW_MS=5           leastconn-skew: the slow server's delay
  H2_CONNS=16 H2_STREAMS=32 H2_REQUESTS=200000   h2load's -c, -m (streams per connection)
                      and -n (requests per round) in the h2 scenarios; H2_WARMUP=10000
  WRK_ROUNDS=3        --results: rounds of the wrk agreement check
  BASE_BIN=PATH       another ringlb binary (e.g. main's build) as the target ringlb-base
                      (io_uring driver), to measure a change: TARGETS="ringlb-base
                      ringlb-io_uring haproxy"
  SKIP_BUILD=1        use the binaries already built
  CARGO_TARGET_DIR    where cargo puts the binaries (default ./target)
USAGE
}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/release"
BENCH="$BIN_DIR/ringlb-bench"
OUT_DIR="$ROOT/bench/out"
TARGETS=${TARGETS:-direct haproxy nginx ringlb-io_uring ringlb-legacy}
DURATION=${DURATION:-5}
TLS_DURATION=${TLS_DURATION:-3}
WARMUP=${WARMUP:-1}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-64}
LOAD_THREADS=${LOAD_THREADS:-1}
PROXY_THREADS=${PROXY_THREADS:-2}
SLOW_MS=${SLOW_MS:-5}
H2_CONNS=${H2_CONNS:-16}
H2_STREAMS=${H2_STREAMS:-32}
H2_REQUESTS=${H2_REQUESTS:-200000}
H2_WARMUP=${H2_WARMUP:-10000}
WRK_ROUNDS=${WRK_ROUNDS:-3}
IDLE_CONNS=10000
READY_TIMEOUT_S=10
COMMAND="scripts/compare.sh $*"
ENV_LINE="TARGETS=\"$TARGETS\" DURATION=$DURATION TLS_DURATION=$TLS_DURATION WARMUP=$WARMUP ROUNDS=$ROUNDS CONNS=$CONNS LOAD_THREADS=$LOAD_THREADS PROXY_THREADS=$PROXY_THREADS"

step() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'compare: error: %s\n' "$*" >&2; exit 1; }

RESULTS=0
TLS_RESULTS=0
H2_RESULTS=0
RUN=()
for a in "$@"; do
    case "$a" in
        -h | --help) usage; exit 0 ;;
        --list) echo "$SCENARIOS"; exit 0 ;;
        --results) RESULTS=1 ;;
        --tls-results) TLS_RESULTS=1; read -ra tls_set <<<"$TLS_SCENARIOS"; RUN+=("${tls_set[@]}") ;;
        tls) read -ra tls_set <<<"$TLS_SCENARIOS"; RUN+=("${tls_set[@]}") ;;
        h2) read -ra h2_set <<<"$H2_SCENARIOS"; RUN+=("${h2_set[@]}") ;;
        --h2-results) H2_RESULTS=1; read -ra h2_set <<<"$H2_SCENARIOS"; RUN+=("${h2_set[@]}") ;;
        -*) die "unknown option '$a' (see --help)" ;;
        *) [[ " $SCENARIOS " == *" $a "* ]] || die "unknown scenario '$a' (--list shows them)"
           RUN+=("$a") ;;
    esac
done
((RESULTS)) && read -ra RUN <<<"$RESULTS_SCENARIOS"
((${#RUN[@]})) || RUN=(keepalive)

TMP=$(mktemp -d "${TMPDIR:-/tmp}/ringlb-compare.XXXXXX")
chmod 755 "$TMP" # nginx workers may run as another user
PIDS=()
stop_all() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    PIDS=()
}
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() { stop_all; rm -rf "$TMP"; }
trap cleanup EXIT
trap 'echo; echo "compare: interrupted" >&2; exit 130' INT TERM

install_missing() {
    local need=() sudo=""
    command -v haproxy >/dev/null || need+=(haproxy)
    # nginx (not nginx-light): the TLS scenarios need its ssl module.
    command -v nginx >/dev/null || need+=(nginx)
    command -v wrk >/dev/null || need+=(wrk)
    command -v h2load >/dev/null || need+=(nghttp2-client)
    ((${#need[@]})) || return 0
    [[ $EUID -eq 0 ]] || sudo=sudo
    step "installing ${need[*]} with apt-get"
    if ! { $sudo apt-get update -qq && $sudo apt-get install -y -qq "${need[@]}" >/dev/null; }; then
        die "could not install ${need[*]}; install them and retry"
    fi
}

build() {
    [[ "${SKIP_BUILD:-0}" == 1 ]] && return 0
    step "building ringlb and ringlb-bench (release)"
    (cd "$ROOT" && cargo build --release -p ringlb -p ringlb-bench) || die "the build failed"
}

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # free_port

# wait_for FILE REGEX WHAT PID
wait_for() {
    local i
    for ((i = 0; i < READY_TIMEOUT_S * 20; i++)); do
        grep -qE "$2" "$1" 2>/dev/null && return 0
        kill -0 "$4" 2>/dev/null || die "$3 exited during start-up: $(tail -5 "$1" 2>/dev/null)"
        sleep 0.05
    done
    die "$3 not ready within ${READY_TIMEOUT_S}s: $(tail -5 "$1" 2>/dev/null)"
}

wait_port() { # wait_port PORT WHAT PID
    local i
    for ((i = 0; i < READY_TIMEOUT_S * 20; i++)); do
        ss -Htln "sport = :$1" | grep -q . && return 0
        kill -0 "$3" 2>/dev/null || die "$2 exited during start-up"
        sleep 0.05
    done
    die "$2: port $1 not listening within ${READY_TIMEOUT_S}s"
}

wants() { [[ " $TARGETS " == *" $1 "* ]]; }

nginx_has_stream() {
    nginx -V 2>&1 | grep -q -- '--with-stream ' && return 0
    ls /usr/lib/nginx/modules/ngx_stream_module.so >/dev/null 2>&1
}

machine() {
    echo "machine:  nproc=$(nproc), kernel $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), RLIMIT_NOFILE $(ulimit -n)"
    echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min, before the run)"
    echo "haproxy:  $( (haproxy -v 2>/dev/null || true) | sed -n 1p)"
    echo "nginx:    $( (nginx -v 2>&1 || true) | sed -n 1p)"
    echo "wrk:      $( (wrk --version 2>&1 || true) | sed -n 1p)"
    echo "h2load:   $( (h2load --version 2>&1 || true) | sed -n 1p)"
    echo "openssl:  $( (openssl version 2>/dev/null || true) | sed -n 1p) (HAProxy's and nginx's TLS; ringlb and the load generator use rustls 0.23 + aws-lc-rs)"
    echo "ringlb:   git $(cd "$ROOT" && git log -1 --format='%h %s' 2>/dev/null || echo unknown)"
    [[ -n "${BASE_BIN:-}" ]] && echo "base:     ringlb-base is $BASE_BIN, built $(date -u -r "$BASE_BIN" '+%Y-%m-%d %H:%M UTC')"
    echo "binaries: ringlb built $(date -u -r "$BIN_DIR/ringlb" '+%Y-%m-%d %H:%M UTC'), ringlb-bench built $(date -u -r "$BENCH" '+%Y-%m-%d %H:%M UTC') (SKIP_BUILD=1 may use older ones than the commit above)"
    echo "setup:    one ringlb-bench backend thread, proxies with $PROXY_THREADS threads (nbthread /"
    echo "          worker_processes), load generator $LOAD_THREADS thread(s), nothing else pinned"
    echo "          (ringlb pins its own workers); all share the same $(nproc) cores."
}

# ---- per scenario -------------------------------------------------------------------------

is_tls() { [[ " $TLS_SCENARIOS " == *" $1 "* ]]; }
is_h2() { [[ " $H2_SCENARIOS " == *" $1 "* ]]; }

# Sets: MODE PATH_ LOAD_ARGS BALANCE GOAL MAXCONN NOTES TLS_CERT RUN_S; fills $TMP/s
scenario_params() {
    MODE=http PATH_=/ LOAD_ARGS=() BALANCE=roundrobin GOAL=1.0 MAXCONN=4096 NOTES=()
    TLS_CERT="" RUN_S=$DURATION H2=0
    if is_tls "$1"; then
        # Every proxy serves the same certificate; the client verifies it against the CA.
        TLS_CERT=ecdsa RUN_S=$TLS_DURATION
        LOAD_ARGS=(--tls --ca "$TMP/tls/ca.pem" --sni "$TLS_NAME")
    fi
    case "$1" in
        keepalive) GOAL="1.3 --goal-p99" ;;
        close) LOAD_ARGS=(--close); GOAL=1.2 ;;
        body-1k) PATH_=/size/1024 ;;
        body-64k) PATH_=/size/65536 ;;
        body-1m) PATH_=/size/1048576 ;;
        post-64k) PATH_=/status; LOAD_ARGS=(--body 64k) ;;
        idle-10k)
            # HAProxy and ringlb both reserve 2 fds per connection (+ some) against the limit
            # and refuse a maxconn that does not fit: take the largest both accept.
            MAXCONN=$((($(ulimit -n) - 200) / 2))
            LOAD_ARGS=(--idle "$IDLE_CONNS")
            ((MAXCONN < IDLE_CONNS)) && NOTES+=("RLIMIT_NOFILE $(ulimit -n) caps maxconn at $MAXCONN for HAProxy and ringlb (both refuse more: they count 2 fds per connection); the other idle clients wait in the kernel's accept queue, so bytes/conn divides by the fds each process added (the connections it accepted)")
            ;;
        tcp) MODE=tcp ;;
        leastconn-skew) BALANCE=leastconn ;;
        rules) PATH_=/r20/x ;;
        tls-handshake-rsa | tls-handshake-ecdsa)
            [[ $1 == tls-handshake-rsa ]] && TLS_CERT=rsa
            LOAD_ARGS+=(--close)
            GOAL="1.3 --goal-base haproxy,nginx"
            NOTES+=("a full TLS 1.3 handshake per request (new connection, no resumption offered), $TLS_CERT certificate, X25519; req/s = handshakes/s")
            ;;
        tls-resume)
            LOAD_ARGS+=(--close --tls-resume)
            NOTES+=("a new connection per request resuming the previous session of its connection slot with a ticket (TLS 1.3 PSK with X25519), $TLS_CERT certificate")
            ;;
        h2-tls | h2c)
            H2=1 GOAL=1.3
            [[ $1 == h2-tls ]] && TLS_CERT=ecdsa
            NOTES+=("h2load -c $H2_CONNS -m $H2_STREAMS -n $H2_REQUESTS -t $LOAD_THREADS: $H2_CONNS connections, up to $H2_STREAMS concurrent streams each; servers are HTTP/1.1")
            ;;
        tls-keepalive)
            GOAL="1.3 --goal-p99"
            NOTES+=("keep-alive over TLS 1.3, $TLS_CERT certificate; CPU is per request")
            ;;
    esac
}

write_haproxy_cfg() { # write_haproxy_cfg SCENARIO PORT FILE [MAXCONN]
    local s=$1 port=$2 file=$3 maxconn=${4:-$MAXCONN} i
    {
        echo "global"
        echo "    maxconn $maxconn"
        echo "    nbthread $PROXY_THREADS"
        echo
        echo "defaults"
        echo "    mode $MODE"
        echo "    timeout connect 5s"
        echo "    timeout client  60s"
        echo "    timeout server  60s"
        echo
        echo "frontend fe"
        if [[ -n $TLS_CERT ]] && ((H2)); then
            echo "    bind 127.0.0.1:$port ssl crt $TMP/tls/$TLS_CERT.pem alpn h2,http/1.1"
        elif [[ -n $TLS_CERT ]]; then
            echo "    bind 127.0.0.1:$port ssl crt $TMP/tls/$TLS_CERT.pem"
        elif ((H2)); then
            echo "    bind 127.0.0.1:$port proto h2"
        else
            echo "    bind 127.0.0.1:$port"
        fi
        if [[ $s == rules ]]; then
            for i in $(seq 1 20); do echo "    acl r$i path_beg /r$i/"; done
            for i in $(seq 1 20); do echo "    use_backend b$i if r$i"; done
        fi
        echo "    default_backend be"
        echo
        echo "backend be"
        echo "    balance $BALANCE"
        echo "    server s1 127.0.0.1:${BPORT[0]}"
        [[ $s == leastconn-skew ]] && echo "    server s2 127.0.0.1:${BPORT[1]}"
        if [[ $s == rules ]]; then
            for i in $(seq 1 20); do
                printf '\nbackend b%s\n    server s1 127.0.0.1:%s\n' "$i" "${BPORT[0]}"
            done
        fi
    } >"$file"
}

write_nginx_conf() { # write_nginx_conf SCENARIO PORT FILE
    local s=$1 port=$2 file=$3 i servers lc=""
    servers="server 127.0.0.1:${BPORT[0]};"
    [[ $s == leastconn-skew ]] && servers+=" server 127.0.0.1:${BPORT[1]};" && lc="least_conn;"
    mkdir -p "$TMP/nginx"
    {
        [[ $EUID -eq 0 ]] && echo "user root;"
        echo "worker_processes $PROXY_THREADS;"
        echo "worker_rlimit_nofile $(ulimit -Hn);"
        echo "pid $TMP/nginx/nginx.pid;"
        echo "error_log $TMP/nginx/error.log warn;"
        echo "daemon off;"
        [[ $MODE == tcp ]] && [[ -f /usr/lib/nginx/modules/ngx_stream_module.so ]] &&
            echo "load_module /usr/lib/nginx/modules/ngx_stream_module.so;"
        echo "events { worker_connections $(($(ulimit -Hn) - 100)); }"
        if [[ $MODE == tcp ]]; then
            echo "stream { upstream be { $servers } server { listen 127.0.0.1:$port; proxy_pass be; } }"
            return
        fi
        cat <<NGINX
http {
    access_log off;
    client_body_temp_path $TMP/nginx/body;
    proxy_temp_path $TMP/nginx/proxy;
    fastcgi_temp_path $TMP/nginx/fastcgi;
    uwsgi_temp_path $TMP/nginx/uwsgi;
    scgi_temp_path $TMP/nginx/scgi;
    keepalive_requests 100000000;
    keepalive_timeout 60s;
    client_max_body_size 4m;
    client_body_buffer_size 1m;
    upstream be { $lc $servers keepalive 256; }
    server {
NGINX
        local h2=""
        ((H2)) && h2=" http2"
        if [[ -n $TLS_CERT ]]; then
            # The same files as HAProxy and ringlb; tickets on (nginx's default, said so),
            # keys made at start-up and shared by the workers; no session cache, like ringlb.
            cat <<NGINX
        listen 127.0.0.1:$port ssl$h2 reuseport;
        ssl_certificate $TMP/tls/$TLS_CERT.crt;
        ssl_certificate_key $TMP/tls/$TLS_CERT.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_tickets on;
NGINX
        else
            echo "        listen 127.0.0.1:$port$h2 reuseport;"
        fi
        if [[ $s == rules ]]; then
            for i in $(seq 1 20); do echo "        location /r$i/ { proxy_pass http://be; }"; done
        fi
        cat <<NGINX
        location / { proxy_pass http://be; }
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_max_temp_file_size 0;
    }
}
NGINX
    } >"$file"
}

declare -A URL PIDOF
BPORT=()
start_backends() { # start_backends SCENARIO
    local n=1 i args
    [[ $1 == leastconn-skew ]] && n=2
    BPORT=()
    for ((i = 0; i < n; i++)); do
        args=(--no-pin --name "s$((i + 1))")
        ((i == 1)) && args+=(--delay "$SLOW_MS")
        "$BENCH" backend "${args[@]}" >"$TMP/backend$i.out" 2>/dev/null &
        PIDS+=($!)
        [[ $i == 0 ]] && PIDOF[direct]=$!
        wait_for "$TMP/backend$i.out" '^listening on ' "backend $i" $!
        BPORT+=("$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$TMP/backend$i.out" | head -1)")
    done
    URL[direct]="http://127.0.0.1:${BPORT[0]}$PATH_"
}

start_targets() { # start_targets SCENARIO; sets ACTIVE (targets that run), NOTES
    local s=$1 port d cfg
    SCHEME=http
    [[ -n $TLS_CERT ]] && SCHEME=https
    ACTIVE=()
    for t in $TARGETS; do
        case "$t" in
            direct)
                if [[ $s == leastconn-skew || $s == rules ]]; then
                    NOTES+=("direct: left out (this scenario is about the proxy's routing)")
                    continue
                fi
                if ((H2)); then
                    NOTES+=("direct: left out (the backend speaks HTTP/1.1 only)")
                    continue
                fi
                if [[ -n $TLS_CERT ]]; then
                    NOTES+=("direct: left out (the backend speaks plain HTTP; this scenario is TLS termination)")
                    continue
                fi
                ;;
            haproxy)
                port=$(free_port)
                write_haproxy_cfg "$s" "$port" "$TMP/haproxy.cfg"
                haproxy -f "$TMP/haproxy.cfg" -db >"$TMP/haproxy.log" 2>&1 &
                PIDS+=($!)
                PIDOF[haproxy]=$!
                wait_port "$port" haproxy $!
                URL[haproxy]="$SCHEME://127.0.0.1:$port$PATH_"
                ;;
            nginx)
                if [[ $MODE == tcp ]] && ! nginx_has_stream; then
                    NOTES+=("nginx: skipped; this nginx ($(nginx -v 2>&1 | sed 's/.*: //')) has no stream module (nginx-light builds it as a dynamic module that is not installed)")
                    continue
                fi
                port=$(free_port)
                write_nginx_conf "$s" "$port" "$TMP/nginx.conf"
                nginx -c "$TMP/nginx.conf" >"$TMP/nginx.log" 2>&1 &
                PIDS+=($!)
                wait_port "$port" nginx $!
                PIDOF[nginx]="$!,$(pgrep -d, -P $! || true)"
                PIDOF[nginx]=${PIDOF[nginx]%,}
                URL[nginx]="$SCHEME://127.0.0.1:$port$PATH_"
                ;;
            ringlb-io_uring | ringlb-legacy | ringlb-base)
                d=${t#ringlb-} bin="$BIN_DIR/ringlb"
                if [[ $t == ringlb-base ]]; then
                    [[ -x "${BASE_BIN:-}" ]] || die "the target ringlb-base needs BASE_BIN=PATH, a ringlb binary"
                    d=io_uring bin=$BASE_BIN
                fi
                port=$(free_port)
                cfg="$TMP/$t.cfg"
                write_haproxy_cfg "$s" "$port" "$cfg"
                RINGLB_DRIVER=$d "$bin" -f "$cfg" -db >/dev/null 2>"$TMP/$t.log" &
                PIDS+=($!)
                PIDOF[$t]=$!
                wait_for "$TMP/$t.log" 'ready' "ringlb ($d)" $!
                URL[$t]="$SCHEME://127.0.0.1:$port$PATH_"
                ;;
            *) die "unknown target '$t'" ;;
        esac
        ACTIVE+=("$t")
    done
}

# idle_cold_rounds SCENARIO: the idle rounds, each target in its own fresh processes (a new
# backend and a new proxy, stopped after the run), interleaved as compare does (A B C, A B C).
# A process reused across rounds keeps the memory its allocator got in round 1, so later
# rounds would show only the growth beyond it (warm) and the median would understate the cost.
# Each run is recorded in $TMP/SCENARIO.rec for one `compare --idle-replay` table; sets ACTIVE.
idle_cold_rounds() {
    local s=$1 r t all=() args
    : >"$TMP/$s.rec"
    for ((r = 1; r <= ROUNDS; r++)); do
        for t in $TARGETS; do
            start_backends "$s"
            TARGETS=$t start_targets "$s"
            if ((${#ACTIVE[@]} == 0)); then stop_all; continue; fi
            ((r > 1)) || all+=("$t")
            printf '    cold round %d/%d %s (fresh, pid %s)\n' "$r" "$ROUNDS" "$t" "${PIDOF[$t]:-?}" >&2
            args=(compare --scenario "$s" --rounds 1 --idle "$IDLE_CONNS" --idle-record "$TMP/$s.rec"
                --target "$t=${URL[$t]}")
            [[ -n "${PIDOF[$t]:-}" ]] && args+=(--pid "$t=${PIDOF[$t]}")
            "$BENCH" "${args[@]}" >/dev/null
            stop_all
        done
    done
    ACTIVE=("${all[@]}")
}

# run_scenario SCENARIO: start, compare, stop; reports in $OUT_DIR/$STAMP-SCENARIO.*
run_scenario() {
    local s=$1 t base="$OUT_DIR/$STAMP-$1" cold=0
    step "scenario $s"
    scenario_params "$s"
    if ((H2)); then
        run_h2_scenario "$s"
        return
    fi
    if [[ $s == idle-10k ]]; then
        cold=1
        idle_cold_rounds "$s"
        LOAD_ARGS+=(--idle-replay "$TMP/$s.rec" --cold)
    else
        start_backends "$s"
        start_targets "$s"
    fi
    local goal
    read -ra goal <<<"$GOAL" # the ratio, then flags such as --goal-p99
    local args=(compare --scenario "$s" --rounds "$ROUNDS" --goal "${goal[@]}"
        -c "$CONNS" -t "$LOAD_THREADS" --no-pin -d "$RUN_S" --warmup "$WARMUP"
        --json "$base.json" --html "$base.html" --html-fragment "$TMP/$s.frag.html"
        --markdown "$TMP/$s.md" --hgrm "$base" "${LOAD_ARGS[@]}")
    # The versions of what is compared, for the JSON (the harness adds machine, time, commit).
    args+=(--about "ringlb_commit=$(git -C "$ROOT" log -1 --format=%h 2>/dev/null || echo unknown)")
    command -v haproxy >/dev/null && args+=(--about "haproxy=$(haproxy -v | sed -n 1p)")
    command -v nginx >/dev/null && args+=(--about "nginx=$(nginx -v 2>&1 | sed -n 1p)")
    [[ $s == leastconn-skew ]] && args+=(--note "servers: s1 fast, s2 answers ${SLOW_MS} ms late; balance leastconn")
    [[ $s == rules ]] && args+=(--note "20 acl path_beg + use_backend rules; the request matches the 20th (nginx: 20 prefix locations, which nginx matches with a tree, not in order)")
    for t in "${ACTIVE[@]}"; do
        args+=(--target "$t=${URL[$t]}")
        # (cold: the recorded runs are reported; their processes are gone)
        ((cold)) || [[ -z "${PIDOF[$t]:-}" ]] || args+=(--pid "$t=${PIDOF[$t]}")
    done
    for n in "${NOTES[@]}"; do args+=(--note "$n"); done
    "$BENCH" "${args[@]}" | tee "$TMP/$s.out"
    [[ $s == keepalive ]] && ((RESULTS)) && wrk_check
    stop_all
    { echo '```'; machine_info; echo "command:  $ENV_LINE $COMMAND"; echo '```'; echo; cat "$TMP/$s.md"; } >"$base.md"
    echo "report: ${base#"$ROOT"/}.{md,json,html} and ${base#"$ROOT"/}-TARGET.hgrm" >&2
}

# The harness against wrk on the same target (keepalive, same connections and duration).
wrk_check() {
    local t r w h
    : >"$TMP/wrk.md"
    {
        echo "#### harness check: ringlb-bench load vs wrk, keepalive, -t1 -c$CONNS, ${DURATION}s, $WRK_ROUNDS interleaved rounds"
        echo
        echo "| target | wrk req/s (median) | ringlb-bench req/s (median) | difference |"
        echo "|---|---:|---:|---:|"
    } >>"$TMP/wrk.md"
    for t in direct haproxy; do
        [[ " ${ACTIVE[*]} " == *" $t "* ]] || continue
        local W=() H=()
        for ((r = 1; r <= WRK_ROUNDS; r++)); do
            w=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" "${URL[$t]}" | awk '/^Requests\/sec:/ { printf "%.0f", $2 }')
            h=$("$BENCH" load -q -t 1 --no-pin -c "$CONNS" -d "$DURATION" --warmup 0 "${URL[$t]}" |
                awk '/requests in/ { sub(/^.*: /, ""); printf "%.0f", $1 }')
            echo "    wrk check $t round $r: wrk $w req/s, ringlb-bench $h req/s" >&2
            W+=("$w") H+=("$h")
        done
        w=$(printf '%s\n' "${W[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
        h=$(printf '%s\n' "${H[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
        awk -v t="$t" -v w="$w" -v h="$h" -v ws="${W[*]}" -v hs="${H[*]}" 'BEGIN {
            d = (h - w) / w * 100
            printf "| %s | %d (%s) | %d (%s) | %+.1f%% %s |\n", t, w, ws, h, hs, d, (d < 10 && d > -10) ? "(within 10%)" : "(**outside 10%**)" }' >>"$TMP/wrk.md"
    done
}

machine_info() { cat "$TMP/machine.txt"; }

# ---- the h2 scenarios: h2load instead of ringlb-bench --------------------------------------

# cpu_ticks PIDS: utime + stime (clock ticks) of the comma-separated processes, all threads.
cpu_ticks() {
    local p t=0 v
    for p in ${1//,/ }; do
        # Fields after the command name, which is in parentheses and may hold spaces.
        v=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | awk '{ print $12 + $13 }')
        t=$((t + ${v:-0}))
    done
    echo "$t"
}

# h2load_run TARGET ROUND N: one h2load run; appends "target round req/s p50 p99 cpu_us
# succeeded failed" to $TMP/$S.rec and prints a progress line.
h2load_run() {
    local t=$1 r=$2 n=$3 out="$TMP/h2load-$1-$2" before after
    before=$(cpu_ticks "${PIDOF[$t]}")
    h2load -c "$H2_CONNS" -m "$H2_STREAMS" -n "$n" -t "$LOAD_THREADS" --log-file "$out.log" \
        "${URL[$t]}" >"$out.out" 2>&1 || true
    after=$(cpu_ticks "${PIDOF[$t]}")
    [[ $r == warmup ]] && return 0
    local rps ok failed p50 p99 cpu
    rps=$(awk '/^finished in/ { gsub(",", "", $4); print $4 }' "$out.out")
    ok=$(awk '/^requests:/ { print $8 }' "$out.out")
    failed=$(awk '/^requests:/ { print $10 }' "$out.out")
    [[ -n $rps && -n $ok ]] || die "h2load against $t printed no result: $(tail -5 "$out.out")"
    read -r p50 p99 < <(awk -F'\t' '{ print $3 }' "$out.log" | sort -n |
        awk '{ a[NR] = $1 } END { if (NR == 0) { print "0 0"; exit }
            i = int(NR * 0.50); if (i < 1) i = 1; j = int(NR * 0.99); if (j < 1) j = 1
            printf "%.3f %.3f\n", a[i] / 1000, a[j] / 1000 }')
    cpu=$(awk -v d=$((after - before)) -v hz="$(getconf CLK_TCK)" -v n="$ok" \
        'BEGIN { v = 0; if (n > 0) v = d / hz * 1e6 / n; printf "%.2f", v }')
    echo "$t $r $rps $p50 $p99 $cpu $ok $failed" >>"$TMP/$S.rec"
    printf '    round %s/%s %-16s %10.0f req/s  p50 %7.3f ms  p99 %7.3f ms  CPU %7.2f us/req  failed %s\n' \
        "$r" "$ROUNDS" "$t" "$rps" "$p50" "$p99" "$cpu" "$failed" >&2
}

# run_h2_scenario SCENARIO: start, warm up, interleaved rounds, report, stop.
run_h2_scenario() {
    local s=$1 base="$OUT_DIR/$STAMP-$1" t r
    S=$s
    start_backends "$s"
    start_targets "$s"
    : >"$TMP/$s.rec"
    for t in "${ACTIVE[@]}"; do
        printf '    warm-up %s: %s requests (%s)\n' "$t" "$H2_WARMUP" "${URL[$t]}" >&2
        h2load_run "$t" warmup "$H2_WARMUP"
        grep -q '^Application protocol: h2' "$TMP/h2load-$t-warmup.out" ||
            die "$t did not speak h2: $(tail -5 "$TMP/h2load-$t-warmup.out")"
    done
    for ((r = 1; r <= ROUNDS; r++)); do
        for t in "${ACTIVE[@]}"; do h2load_run "$t" "$r" "$H2_REQUESTS"; done
    done
    stop_all
    {
        echo "#### $s: h2load -c $H2_CONNS -m $H2_STREAMS -n $H2_REQUESTS -t $LOAD_THREADS, $ROUNDS interleaved rounds"
        echo
        for n in "${NOTES[@]}"; do echo "- $n"; done
        echo
        awk -v goal="$GOAL" -v order="${ACTIVE[*]}" '
            function median(list,   n, v, i, j, tmp) {
                n = split(list, v, " ")
                for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] + 0 < v[i] + 0) { tmp = v[i]; v[i] = v[j]; v[j] = tmp }
                return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
            }
            function lo(list,   n, v, i, m) { n = split(list, v, " "); m = v[1]; for (i = 2; i <= n; i++) if (v[i] + 0 < m + 0) m = v[i]; return m }
            function hi(list,   n, v, i, m) { n = split(list, v, " "); m = v[1]; for (i = 2; i <= n; i++) if (v[i] + 0 > m + 0) m = v[i]; return m }
            { rps[$1] = rps[$1] " " $3; p50[$1] = p50[$1] " " $4; p99[$1] = p99[$1] " " $5; cpu[$1] = cpu[$1] " " $6; fail[$1] += $8 }
            END {
                n = split(order, ts, " ")
                base = 0; bp99 = 0; bcpu = 0
                if ("haproxy" in rps) { base = median(rps["haproxy"]); bp99 = median(p99["haproxy"]); bcpu = median(cpu["haproxy"]) }
                print "| target | req/s (median) | min–max | vs haproxy | p50 ms | p99 ms | p99 vs haproxy | CPU us/req | CPU vs haproxy | failed |"
                print "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
                for (i = 1; i <= n; i++) {
                    t = ts[i]; if (!(t in rps)) continue
                    m = median(rps[t]); q = median(p99[t]); c = median(cpu[t])
                    r1 = "-"; r2 = "-"; r3 = "-"
                    if (base > 0) r1 = sprintf("%.2fx", m / base)
                    if (bp99 > 0) r2 = sprintf("%.2fx", q / bp99)
                    if (bcpu > 0) r3 = sprintf("%.2fx", c / bcpu)
                    printf "| %s | %.0f | %.0f–%.0f | %s | %.3f | %.3f | %s | %.2f | %s | %d |\n", t, m, lo(rps[t]), hi(rps[t]), r1, median(p50[t]), q, r2, c, r3, fail[t]
                }
                print ""
                for (i = 1; i <= n; i++) {
                    t = ts[i]; if (t !~ /^ringlb/ || !(t in rps)) continue
                    if (base == 0) { printf "- %s: goal >= %sx haproxy req/s with p99 no worse: no haproxy in this run\n", t, goal; continue }
                    m = median(rps[t]) / base; q = median(p99[t])
                    verdict = "NOT MET"
                    if (m >= goal && q <= bp99) verdict = "MET"
                    printf "- %s: %.2fx haproxy req/s, p99 %.3f ms vs %.3f ms: **%s** (goal >= %sx, p99 no worse)\n", t, m, q, bp99, verdict, goal
                }
            }' "$TMP/$s.rec"
    } >"$TMP/$s.md"
    cat "$TMP/$s.md"
    { echo '```'; machine_info; echo "command:  $ENV_LINE H2_CONNS=$H2_CONNS H2_STREAMS=$H2_STREAMS H2_REQUESTS=$H2_REQUESTS $COMMAND"; echo '```'; echo; cat "$TMP/$s.md"; } >"$base.md"
    { echo "# target round req/s p50_ms p99_ms cpu_us_per_req succeeded failed"; cat "$TMP/$s.rec"; } >"$base.txt"
    echo "report: ${base#"$ROOT"/}.{md,txt}" >&2
}

# make_certs: a CA and two server certificates for $TLS_NAME signed by it (RSA-2048 and ECDSA
# P-256), in $TMP/tls: NAME.crt and NAME.key for nginx, NAME.pem (certificate then key) for
# HAProxy and ringlb (`crt FILE`), ca.pem for the load generator. Made once per run, so every
# proxy of a scenario serves the very same certificate.
TLS_NAME=bench.test
make_certs() {
    local d="$TMP/tls" k
    mkdir -p "$d"
    step "making the TLS certificates (openssl) in $d"
    openssl req -x509 -newkey rsa:2048 -nodes -days 7 -subj "/CN=ringlb bench CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" \
        -keyout "$d/ca.key" -out "$d/ca.pem" 2>"$d/openssl.log" || die "openssl: $(tail -3 "$d/openssl.log")"
    printf 'subjectAltName=DNS:%s\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' \
        "$TLS_NAME" >"$d/leaf.ext"
    for k in rsa ecdsa; do
        local alg=(-newkey rsa:2048)
        [[ $k == ecdsa ]] && alg=(-newkey ec -pkeyopt ec_paramgen_curve:P-256)
        openssl req "${alg[@]}" -nodes -subj "/CN=$TLS_NAME" -keyout "$d/$k.key" -out "$d/$k.csr" \
            2>>"$d/openssl.log" || die "openssl ($k key): $(tail -3 "$d/openssl.log")"
        openssl x509 -req -in "$d/$k.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
            -days 7 -extfile "$d/leaf.ext" -out "$d/$k.crt" 2>>"$d/openssl.log" ||
            die "openssl ($k certificate): $(tail -3 "$d/openssl.log")"
        cat "$d/$k.crt" "$d/$k.key" >"$d/$k.pem"
    done
    # nginx workers may run as another user and HAProxy reads the files after start-up checks.
    chmod 644 "$d"/*.pem "$d"/*.crt "$d"/*.key
}

# ---- main ---------------------------------------------------------------------------------

# One fd per idle client, two per proxied connection: raise the soft limit to the hard one.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
install_missing
build
[[ -x "$BENCH" && -x "$BIN_DIR/ringlb" ]] || die "binaries missing in $BIN_DIR"
mkdir -p "$OUT_DIR"
STAMP=$(date +%Y%m%d-%H%M%S)
DATE=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
machine >"$TMP/machine.txt"
echo "date:     $DATE" >>"$TMP/machine.txt"

for s in "${RUN[@]}"; do
    if is_tls "$s" || [[ $s == h2-tls ]]; then
        [[ -f "$TMP/tls/ca.pem" ]] || make_certs
    fi
done
for s in "${RUN[@]}"; do run_scenario "$s"; done

if ((RESULTS)); then
    step "writing bench/RESULTS.md and bench/report.html"
    {
        echo "# ringlb benchmark results"
        echo
        echo "Regenerated by \`scripts/compare.sh --results\` (nothing here is edited by hand; the"
        echo "per-run lines and JSON of this run are in bench/out/$STAMP-*). The charts are in"
        echo "[report.html](report.html)."
        echo
        echo '```'
        machine_info
        echo "command:  $ENV_LINE $COMMAND"
        echo '```'
        echo
        echo "Goals for ringlb: >= 1.3x HAProxy req/s on keepalive with p99 no worse, >= 1.2x on close,"
        echo ">= 1.0x on the others (idle-10k: no more memory per connection than HAProxy, cold). Each table"
        echo "ends with a plain MET / NOT MET line per ringlb driver. req/s and CPU are medians of the"
        echo "rounds (min–max: the spread over rounds); latency percentiles are over every round's requests"
        echo "together (one merged histogram per target, also in bench/out/*.hgrm). Latency is from the load generator"
        echo "(closed loop: from each send; the harness also has an open-loop mode, see bench/README.md)."
        echo
        cat "$ROOT/bench/RESULTS.intro.md" 2>/dev/null || true
        for s in "${RUN[@]}"; do
            echo
            echo "## $s"
            echo
            cat "$TMP/$s.md"
        done
        echo
        echo "## Is the harness right? ringlb-bench vs wrk"
        echo
        cat "$TMP/wrk.md" 2>/dev/null || echo "(not run)"
    } >"$ROOT/bench/RESULTS.md"
    # The TLS section comes from its own run (--tls-results); keep the latest one.
    [[ -f "$ROOT/bench/RESULTS.tls.md" ]] && { echo; cat "$ROOT/bench/RESULTS.tls.md"; } >>"$ROOT/bench/RESULTS.md"
    { machine_info; echo "command:  $ENV_LINE $COMMAND"; } >"$TMP/intro.txt"
    frags=()
    for s in "${RUN[@]}"; do frags+=("$TMP/$s.frag.html"); done
    "$BENCH" report --title "ringlb benchmark results ($DATE)" --intro "$TMP/intro.txt" \
        --out "$ROOT/bench/report.html" "${frags[@]}"
    echo "written: bench/RESULTS.md, bench/report.html" >&2
fi

# The TLS section: bench/RESULTS.tls.md, also spliced into RESULTS.md in place of the previous
# one (everything from its marker line on; the section is the last of the file).
TLS_MARK='<!-- TLS section: scripts/compare.sh --tls-results -->'
if ((TLS_RESULTS)); then
    step "writing the TLS section of bench/RESULTS.md (bench/RESULTS.tls.md)"
    {
        echo "$TLS_MARK"
        echo "## TLS termination (scripts/compare.sh --tls-results)"
        echo
        echo "Regenerated by \`scripts/compare.sh --tls-results\` (per-run lines and JSON in"
        echo "bench/out/$STAMP-tls-*)."
        echo
        echo '```'
        machine_info
        echo "command:  $ENV_LINE $COMMAND"
        echo '```'
        echo
        cat "$ROOT/bench/RESULTS.tls-intro.md" 2>/dev/null || true
        for s in "${RUN[@]}"; do
            is_tls "$s" || continue
            echo
            echo "### $s"
            echo
            cat "$TMP/$s.md"
        done
    } >"$ROOT/bench/RESULTS.tls.md"
    results="$ROOT/bench/RESULTS.md"
    if [[ -f "$results" ]]; then
        awk -v mark="$TLS_MARK" '$0 == mark { exit } { print }' "$results" >"$TMP/results.head"
        # Drop the blank lines the previous section left at the end of the head.
        sed -e :a -e '/^\n*$/{$d;N;ba' -e '}' "$TMP/results.head" >"$results"
        echo >>"$results"
    fi
    cat "$ROOT/bench/RESULTS.tls.md" >>"$results"
    echo "written: bench/RESULTS.tls.md, bench/RESULTS.md (TLS section)" >&2
fi

if ((H2_RESULTS)); then
    step "writing bench/RESULTS.h2.md"
    {
        echo "# HTTP/2 on the frontend (scripts/compare.sh --h2-results)"
        echo
        echo "Regenerated by \`scripts/compare.sh --h2-results\` (nothing here is edited by hand; the"
        echo "per-round lines are in bench/out/$STAMP-h2*.txt). Goal for ringlb: >= 1.3x HAProxy req/s"
        echo "with p99 no worse. Medians of interleaved rounds; p50/p99 from h2load's per-request log;"
        echo "CPU per request is the proxy's user+system time (all threads, nginx's workers) over the"
        echo "round divided by its requests."
        echo
        echo '```'
        machine_info
        echo "command:  $ENV_LINE H2_CONNS=$H2_CONNS H2_STREAMS=$H2_STREAMS H2_REQUESTS=$H2_REQUESTS $COMMAND"
        echo '```'
        for s in "${RUN[@]}"; do
            is_h2 "$s" || continue
            echo
            echo "## $s"
            echo
            cat "$TMP/$s.md"
        done
    } >"$ROOT/bench/RESULTS.h2.md"
    echo "written: bench/RESULTS.h2.md" >&2
fi
