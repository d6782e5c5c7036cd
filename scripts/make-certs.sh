#!/usr/bin/env bash
# Makes test certificates for ringlb's TLS binds with openssl. See --help.
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: scripts/make-certs.sh [--help] DIR [HOST...]

Writes into DIR (created if missing), with openssl:
  key.ca          a test CA certificate (the `ca-file` of a bind with client certificates,
                  and the file to give clients: curl --cacert DIR/key.ca)
  ca.key          the CA's private key (kept only to sign more certificates)
  key.pem         a server certificate for HOST... followed by its private key: the
                  `crt` file of a bind (`bind :443 ssl crt DIR/key.pem`)
  client.pem      a client certificate signed by the CA followed by its key
                  (curl --cert DIR/client.pem), subject CN=ringlb-test-client
  client.crt, client.key   the same, as two files

HOST defaults to the demo names: localhost test.server.com test.haproxy.com; each becomes a
DNS subjectAltName (an IP address such as 127.0.0.1 becomes an IP SAN). The server key is
RSA 2048, so that TLS 1.2 clients limited to ECDHE-RSA suites (the seed config's
ssl-default-bind-ciphers) can still connect. Certificates are valid for 825 days.

For tests and demos only: the CA key sits unencrypted beside the certificates.
USAGE
}

DAYS=825
CLIENT_CN=ringlb-test-client

die() { printf 'make-certs: error: %s\n' "$*" >&2; exit 1; }
step() { printf 'make-certs: %s\n' "$*"; }

case "${1:-}" in
    -h | --help) usage; exit 0 ;;
    "") usage >&2; exit 2 ;;
    -*) die "unknown option '$1' (see --help)" ;;
esac
command -v openssl >/dev/null || die "openssl is needed (apt-get install openssl)"

DIR=$1
shift
HOSTS=("$@")
if ((${#HOSTS[@]} == 0)); then
    HOSTS=(localhost test.server.com test.haproxy.com)
fi
mkdir -p "$DIR" || die "cannot create $DIR"

# subjectAltName=DNS:a,DNS:b,IP:127.0.0.1
san=""
for h in "${HOSTS[@]}"; do
    if [[ $h =~ ^[0-9.]+$ || $h == *:* ]]; then
        san+="${san:+,}IP:$h"
    else
        san+="${san:+,}DNS:$h"
    fi
done

# openssl prints its progress dots and key details on stderr: kept quiet unless it fails.
run() {
    local out
    out=$("$@" 2>&1) || { printf '%s\n' "$out" >&2; die "failed: $*"; }
}

scratch=$(mktemp -d "${TMPDIR:-/tmp}/make-certs.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

step "CA key.ca (CN=ringlb test CA) in $DIR"
run openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days "$DAYS" \
    -subj "/CN=ringlb test CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$DIR/ca.key" -out "$DIR/key.ca"

step "server key.pem (CN=${HOSTS[0]}, $san)"
printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' "$san" \
    >"$scratch/server.ext"
run openssl req -newkey rsa:2048 -nodes -subj "/CN=${HOSTS[0]}" \
    -keyout "$scratch/server.key" -out "$scratch/server.csr"
run openssl x509 -req -in "$scratch/server.csr" -CA "$DIR/key.ca" -CAkey "$DIR/ca.key" \
    -CAcreateserial -CAserial "$scratch/ca.srl" -days "$DAYS" \
    -extfile "$scratch/server.ext" -out "$scratch/server.crt"
# HAProxy's usual crt file: the certificate (chain) first, then the key.
cat "$scratch/server.crt" "$scratch/server.key" >"$DIR/key.pem"

step "client client.pem (CN=$CLIENT_CN)"
printf 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n' >"$scratch/client.ext"
run openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$CLIENT_CN" \
    -keyout "$DIR/client.key" -out "$scratch/client.csr"
run openssl x509 -req -in "$scratch/client.csr" -CA "$DIR/key.ca" -CAkey "$DIR/ca.key" \
    -CAserial "$scratch/ca.srl" -days "$DAYS" \
    -extfile "$scratch/client.ext" -out "$DIR/client.crt"
cat "$DIR/client.crt" "$DIR/client.key" >"$DIR/client.pem"
chmod 600 "$DIR/ca.key" "$DIR/key.pem" "$DIR/client.key" "$DIR/client.pem"

run openssl verify -CAfile "$DIR/key.ca" "$scratch/server.crt" "$DIR/client.crt"
step "done: key.ca key.pem client.pem (verified against key.ca)"
