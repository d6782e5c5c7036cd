#!/usr/bin/env bash
# ringlb demo: three demo backends, an HAProxy-syntax config with path/host routing,
# ringlb in front of them, a few visible requests and a short load. See --help.
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: scripts/demo.sh [--help]

Builds ringlb and ringlb-bench (release), starts three demo backends (web-1, web-2, api-1),
writes an HAProxy-syntax config into a temporary directory, runs `ringlb -f CFG -db`, and shows:
  - one request to / and one to /api (status line + x-server header),
  - one https request to the TLS bind over HTTP/1.1 (certificates from scripts/make-certs.sh,
    curl --cacert),
  - one HTTP/2 request to the same bind (curl --http2; the bind offers alpn h2,http/1.1) and
    the protocol it negotiated (HTTP/1.1 when h2 is not offered),
  - which server answered each of 30 requests to /,
  - a 3-second wrk load (or 200 curl requests when wrk is missing),
  - the tail of ringlb's log.
Everything it started is stopped on exit, also on Ctrl-C.

Environment:
  PORT               frontend port (default 8080, or the next free one above it)
  TLS_PORT           the https bind's port (default: a free one)
  CARGO_TARGET_DIR   where cargo puts the binaries (default ./target)
  SKIP_BUILD=1       use the binaries already built
USAGE
}

case "${1:-}" in
    -h | --help) usage; exit 0 ;;
    "") ;;
    *) echo "demo: unknown argument '$1' (see --help)" >&2; exit 2 ;;
esac

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/release"
READY_TIMEOUT_S=10
TMP=$(mktemp -d "${TMPDIR:-/tmp}/ringlb-demo.XXXXXX")
PIDS=()

step() { printf '\n==> %s\n' "$*"; }
die() { printf 'demo: error: %s\n' "$*" >&2; exit 1; }

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # cleanup, free_port, wait_for_line, start_backend
trap cleanup EXIT
trap 'echo; echo "demo: interrupted" >&2; exit 130' INT TERM

command -v curl >/dev/null || die "curl is needed (apt-get install curl)"
command -v openssl >/dev/null || die "openssl is needed for the demo's certificates (apt-get install openssl)"
command -v cargo >/dev/null || die "cargo is needed (https://rustup.rs)"

port_in_use() { ss -Htln "sport = :$1" 2>/dev/null | grep -q .; }

pick_port() {
    local p=${PORT:-8080}
    if [[ -n "${PORT:-}" ]]; then
        port_in_use "$p" && die "PORT=$p is already in use"
        echo "$p"; return
    fi
    while port_in_use "$p"; do
        p=$((p + 1))
        ((p < 8180)) || die "no free port in 8080..8179; set PORT"
    done
    echo "$p"
}

step "building ringlb and ringlb-bench (release)"
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    (cd "$ROOT" && cargo build --release -p ringlb -p ringlb-bench) ||
        die "the build failed (see the cargo output above)"
fi
for b in ringlb ringlb-bench; do
    [[ -x "$BIN_DIR/$b" ]] || die "$BIN_DIR/$b is missing after the build"
done

declare -A BACKEND_PORT BACKEND_PID
step "starting backends"
for name in web-1 web-2 api-1; do
    start_backend --stderr "$TMP/$name.out.err" "$BIN_DIR/ringlb-bench" "$name" "$TMP/$name.out"
    BACKEND_PID[$name]=$BACKEND_STARTED_PID
    BACKEND_PORT[$name]=$BACKEND_STARTED_PORT
    echo "    $name on 127.0.0.1:${BACKEND_PORT[$name]}"
done

FRONT_PORT=$(pick_port)
TLS_PORT=${TLS_PORT:-$(free_port)}
CERTS="$TMP/certs"
step "making test certificates: scripts/make-certs.sh $CERTS"
"$ROOT/scripts/make-certs.sh" "$CERTS" | sed 's/^/    /' || die "make-certs.sh failed"

CFG="$TMP/demo.cfg"
step "writing config $CFG"
cat >"$CFG" <<CFG
global
    maxconn 4096

defaults
    mode http
    timeout connect 5s
    timeout client  30s
    timeout server  30s

frontend demo
    bind 127.0.0.1:$FRONT_PORT
    bind 127.0.0.1:$TLS_PORT ssl crt $CERTS/key.pem alpn h2,http/1.1
    acl valid_method method GET HEAD POST
    http-request deny if !valid_method
    http-request set-header X-Forwarded-Proto https if { ssl_fc }
    http-request set-header X-Forwarded-Proto http unless { ssl_fc }
    http-response set-header X-Served-By ringlb
    use_backend api if { path_beg /api }
    use_backend api if { hdr(host) -i api.localhost }
    default_backend web

backend web
    balance roundrobin
    option httpchk GET /status
    http-check expect status 200
    default-server inter 200 rise 2 fall 2
    server web-1 127.0.0.1:${BACKEND_PORT[web-1]} check
    server web-2 127.0.0.1:${BACKEND_PORT[web-2]} check

backend api
    balance leastconn
    server api-1 127.0.0.1:${BACKEND_PORT[api-1]}
CFG
sed 's/^/    /' "$CFG"

step "starting ringlb -f $CFG -db"
LOG="$TMP/ringlb.log"
"$BIN_DIR/ringlb" -f "$CFG" -db 2>"$LOG" >/dev/null &
PIDS+=($!)
wait_for_line "$LOG" 'ready' "ringlb" $!
grep 'listening on' "$LOG" | sed 's/^/    /' || true

URL="http://127.0.0.1:$FRONT_PORT"
show() {
    local shown="" a
    for a in "$@"; do [[ "$a" == *' '* ]] && shown+=" '$a'" || shown+=" $a"; done
    printf '    $ curl -si%s\n' "$shown"
    curl -si --max-time 5 "$@" | tr -d '\r' | grep -Ei '^(HTTP/|x-server:|x-served-by:)' | sed 's/^/      /' ||
        echo "      (no answer)"
}
step "a few requests"
show "$URL/"
show "$URL/api/users"
show -H "Host: api.localhost" "$URL/"

step "one https request over HTTP/1.1 (TLS terminated by ringlb)"
TLS_URL="https://localhost:$TLS_PORT/"
printf '    $ curl -sv --http1.1 --cacert %s %s\n' "$CERTS/key.ca" "$TLS_URL"
# curl -v writes the handshake on stderr: keep the lines that say what was negotiated.
curl -sv --http1.1 --max-time 5 --cacert "$CERTS/key.ca" -o /dev/null -D - "$TLS_URL" 2>&1 | tr -d '\r' |
    grep -Ei '^(\* SSL connection using|\* ALPN: server accepted|\*  subject:|HTTP/|x-server:)' |
    sed 's/^\* *//; s/^/      /' || echo "      (no answer)"

step "one HTTP/2 request to the same bind (curl --http2: ALPN offers h2, then http/1.1)"
printf '    $ curl -s --http2 --cacert %s -w %%{http_version} %s\n' "$CERTS/key.ca" "$TLS_URL"
if curl -V 2>/dev/null | grep -qi 'HTTP2'; then
    H2_OUT=$(curl -sv --http2 --max-time 5 --cacert "$CERTS/key.ca" -o /dev/null -D - \
        -w 'negotiated=%{http_version}\n' "$TLS_URL" 2>&1 | tr -d '\r') || true
    grep -Ei '^(\* ALPN: server accepted|HTTP/|x-server:)' <<<"$H2_OUT" | sed 's/^\* *//; s/^/      /' || true
    case "$(sed -n 's/^negotiated=//p' <<<"$H2_OUT")" in
        2) echo "      => HTTP/2 negotiated (ALPN h2)" ;;
        "" | 0) echo "      => no answer" ;;
        *) echo "      => HTTP/$(sed -n 's/^negotiated=//p' <<<"$H2_OUT") negotiated: this ringlb does not offer h2 (see its load-time warning)" ;;
    esac
else
    echo "      (skipped: this curl has no HTTP/2 support)"
fi

step "30 requests to / (which server answered)"
for _ in $(seq 30); do
    curl -s -o /dev/null -D - --max-time 5 "$URL/" | tr -d '\r' | sed -n 's/^x-server: //Ip'
done | sort | uniq -c | sed 's/^/   /'

if command -v wrk >/dev/null; then
    step "load: wrk -t1 -c16 -d3s $URL/"
    wrk -t1 -c16 -d3s "$URL/" | grep -E 'requests in|Requests/sec|Non-2xx|Socket errors' | sed 's/^ */    /'
else
    step "load: 200 sequential curl requests (install wrk for a real load)"
    start=$(date +%s.%N)
    ok=0
    for _ in $(seq 200); do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$URL/") || true
        [[ "$code" == 200 ]] && ok=$((ok + 1))
    done
    end=$(date +%s.%N)
    printf '    %d/200 answered 200 in %.2fs\n' "$ok" "$(echo "$end - $start" | bc -l 2>/dev/null || echo 0)"
fi

step "a method the rules refuse, and a request smuggling attempt (Content-Length + chunked)"
show -X DELETE "$URL/"
printf '    raw: POST / with both Content-Length: 5 and Transfer-Encoding: chunked\n'
{ printf 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'; sleep 0.3; } |
    curl -s --max-time 2 telnet://127.0.0.1:"$FRONT_PORT" 2>/dev/null | tr -d '\r' | head -1 | sed 's/^/      /' || true

step "web-2 fails: stop it, and watch the health check take it out"
kill "${BACKEND_PID[web-2]}" 2>/dev/null || true
sleep 1
for _ in $(seq 20); do
    curl -s -o /dev/null -D - --max-time 5 "$URL/" | tr -d '\r' | sed -n 's/^x-server: //Ip'
done | sort | uniq -c | sed 's/^/   /'

step "tail of ringlb's log"
tail -n 15 "$LOG" | sed 's/^/    /'

step "done; stopping everything"
