#!/usr/bin/env bash
# Configuration conformance: which HAProxy-valid configurations ringlb loads, and what stops the
# others. Runs `haproxy -c -f` and `ringlb -c -f` on each configuration. See --help.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)

usage() {
    cat <<USAGE
Usage: scripts/config-conformance.sh [OPTIONS] [PATH ...]

Each PATH is a configuration file or a directory (searched recursively for *.cfg). Every
configuration is checked with \`haproxy -c -f\` and \`ringlb -c -f\`, each run from the file's
directory (relative paths resolve as for a real start) under a timeout. Those HAProxy rejects
(a file they name is missing, a feature this haproxy lacks, a test of an invalid config) are
counted as "not HAProxy-valid" and skipped. Printed: how many are HAProxy-valid, how many of
those ringlb loads, and the most common ringlb errors over the others (each distinct message,
its file:line and hints cut off, counted once per configuration).

Options:
  --haproxy-git DIR  also check HAProxy's own configurations, extracted at run time into a
                     temporary directory from DIR, a clone (or bare mirror) of
                     https://github.com/haproxy/haproxy (e.g. \`git clone --bare
                     https://github.com/haproxy/haproxy\`): examples/*.cfg and the haproxy
                     sections of reg-tests/**/*.vtc (scripts/vtc-configs.py; VTest's macros
                     become loopback addresses)
  --ref REF          the tag or commit read from --haproxy-git (default: v2.6.0)
  --ringlb BIN       the ringlb binary (default: target/release/ringlb, else target/debug/ringlb)
  --haproxy BIN      the haproxy binary (default: haproxy)
  --timeout SECONDS  limit of each check (default: 10)
  --top N            how many refusals to list (default: 15)
  --keep DIR         write the extracted configurations and every run's output under DIR
  -v                 one line per configuration: its verdict
  -h, --help         this help

Examples:
  scripts/config-conformance.sh configs
  scripts/config-conformance.sh --haproxy-git ~/src/haproxy /usr/share/doc/haproxy/examples
USAGE
}

die() {
    echo "config-conformance: $*" >&2
    exit 1
}

HAPROXY_GIT=""
REF=v2.6.0
RINGLB=""
HAPROXY=haproxy
TIMEOUT=10
TOP=15
KEEP=""
VERBOSE=0
PATHS=()
while (($#)); do
    case "$1" in
        -h | --help) usage; exit 0 ;;
        --haproxy-git) HAPROXY_GIT=${2:?--haproxy-git needs a directory}; shift ;;
        --ref) REF=${2:?--ref needs a tag or commit}; shift ;;
        --ringlb) RINGLB=${2:?--ringlb needs a binary}; shift ;;
        --haproxy) HAPROXY=${2:?--haproxy needs a binary}; shift ;;
        --timeout) TIMEOUT=${2:?--timeout needs seconds}; shift ;;
        --top) TOP=${2:?--top needs a number}; shift ;;
        --keep) KEEP=${2:?--keep needs a directory}; shift ;;
        -v) VERBOSE=1 ;;
        -*) die "unknown option '$1' (see --help)" ;;
        *) PATHS+=("$1") ;;
    esac
    shift
done
((${#PATHS[@]})) || [[ -n $HAPROXY_GIT ]] || { usage >&2; exit 2; }

if [[ -z $RINGLB ]]; then
    for b in "$ROOT/target/release/ringlb" "$ROOT/target/debug/ringlb"; do
        [[ -x $b ]] && { RINGLB=$b; break; }
    done
    [[ -n $RINGLB ]] || die "no ringlb binary: run 'cargo build' first, or pass --ringlb BIN"
fi
[[ -x $RINGLB ]] || die "ringlb binary '$RINGLB' is not executable"
command -v "$HAPROXY" >/dev/null || die "haproxy binary '$HAPROXY' not found (pass --haproxy BIN)"
RINGLB=$(cd "$(dirname "$RINGLB")" && pwd)/$(basename "$RINGLB")

if [[ -n $KEEP ]]; then
    mkdir -p "$KEEP"
    WORK=$(cd "$KEEP" && pwd)
else
    WORK=$(mktemp -d)
    trap 'rm -rf "$WORK"' EXIT
fi
OUTS=$WORK/runs
mkdir -p "$OUTS"

# HAProxy's own configurations, from its git history (nothing is copied into this repository).
if [[ -n $HAPROXY_GIT ]]; then
    GIT_DIR_ARG=$HAPROXY_GIT
    [[ -d $HAPROXY_GIT/.git ]] && GIT_DIR_ARG=$HAPROXY_GIT/.git
    git --git-dir="$GIT_DIR_ARG" rev-parse --verify -q "$REF^{commit}" >/dev/null ||
        die "'$REF' is not in $HAPROXY_GIT (pass --ref)"
    SRC=$WORK/haproxy-$REF
    mkdir -p "$SRC" "$WORK/examples" "$WORK/reg-tests"
    git --git-dir="$GIT_DIR_ARG" archive "$REF" examples reg-tests | tar -x -C "$SRC"
    find "$SRC/examples" -name '*.cfg' -exec cp {} "$WORK/examples/" \;
    n=$(python3 "$ROOT/scripts/vtc-configs.py" "$SRC/reg-tests" "$WORK/reg-tests")
    echo "extracted from haproxy $REF: $(find "$WORK/examples" -name '*.cfg' | wc -l) examples, $n reg-tests configurations" >&2
    PATHS+=("$WORK/examples" "$WORK/reg-tests")
fi

CONFIGS=()
for p in "${PATHS[@]}"; do
    if [[ -d $p ]]; then
        while IFS= read -r -d '' f; do CONFIGS+=("$f"); done < <(find "$p" -name '*.cfg' -type f -print0 | sort -z)
    elif [[ -f $p ]]; then
        CONFIGS+=("$p")
    else
        die "'$p' is neither a file nor a directory"
    fi
done
((${#CONFIGS[@]})) || die "no *.cfg configuration found in ${PATHS[*]}"

# check BIN CONFIG OUT: runs `BIN -c -f CONFIG` from the config's directory; prints the status.
check() {
    local bin=$1 cfg=$2 out=$3 rc=0
    (cd "$(dirname "$cfg")" && timeout "$TIMEOUT" "$bin" -c -f "$(basename "$cfg")") >"$out" 2>&1 || rc=$?
    echo "$rc"
}

# The ringlb errors of one run, one key each: the message without file:line, warnings, hints.
refusal_keys() {
    grep -vE '^[^ ]+:[0-9]+: (warning|notice): |^ringlb: [0-9]+ error' "$1" |
        sed -E "s|$WORK|<work>|g" |
        sed -E 's/^[^ ]+:[0-9]+: //; s/^[^ ]+\.cfg: //; s/; (did you mean|remove|use |write|add ).*//; s/[0-9]+/N/g' |
        sort -u
}

total=${#CONFIGS[@]} valid=0 loads=0 invalid=0 timeouts=0 i=0
REFUSALS=$WORK/refusals
: >"$REFUSALS"
for cfg in "${CONFIGS[@]}"; do
    i=$((i + 1))
    id=$(printf '%04d' "$i")
    h=$(check "$HAPROXY" "$cfg" "$OUTS/$id.haproxy")
    if ((i % 25 == 0)); then
        echo "progress: $i/$total checked, $valid HAProxy-valid, $loads loaded by ringlb" >&2
    fi
    # 0: valid; 2: valid but nothing to listen on (-c says "will not start (no listener)").
    if [[ $h != 0 && $h != 2 ]]; then
        invalid=$((invalid + 1))
        ((VERBOSE)) && echo "not-haproxy-valid  $cfg"
        continue
    fi
    valid=$((valid + 1))
    r=$(check "$RINGLB" "$cfg" "$OUTS/$id.ringlb")
    if [[ $r == 0 ]]; then
        loads=$((loads + 1))
        ((VERBOSE)) && echo "loads              $cfg"
    elif [[ $r == 124 || $r == 137 ]]; then
        timeouts=$((timeouts + 1))
        echo "ringlb -c timed out (${TIMEOUT}s)" >>"$REFUSALS"
        ((VERBOSE)) && echo "ringlb-timeout     $cfg"
    else
        refusal_keys "$OUTS/$id.ringlb" >>"$REFUSALS"
        ((VERBOSE)) && echo "ringlb-refuses     $cfg: $(refusal_keys "$OUTS/$id.ringlb" | head -1)"
    fi
    [[ -n $KEEP ]] && echo "$cfg" >"$OUTS/$id.name"
done

echo
echo "configurations checked:           $total"
echo "not HAProxy-valid (skipped):      $invalid"
echo "HAProxy-valid:                    $valid"
if ((valid)); then
    echo "  of which ringlb loads:          $loads ($((loads * 100 / valid))%)"
else
    echo "  of which ringlb loads:          0"
fi
((timeouts)) && echo "  ringlb -c timed out:            $timeouts"
if [[ -s $REFUSALS ]]; then
    echo
    echo "most common ringlb refusals (configurations they block):"
    sort "$REFUSALS" | uniq -c | sort -rn | head -n "$TOP"
fi
