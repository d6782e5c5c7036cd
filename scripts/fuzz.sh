#!/usr/bin/env bash
# Coverage-guided fuzzing of ringlb's parsers with AFL++ (through cargo-afl, stable toolchain).
# The targets are in fuzz/src/targets/, the corpus in fuzz/corpus/TARGET/. See --help.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_DIR=fuzz
OUT_DIR=$FUZZ_DIR/out
TARGETS="request chunked response config proxy hello"
# AFL++'s per-input timeout (ms): far above any input's normal cost; past it, a "hang".
EXEC_TIMEOUT_MS=1000
# Largest queue input --minimize keeps: a config costs ~10 ms to replay in a debug build, so
# its corpus keeps small files only (cargo test replays everything in a few seconds).
max_keep_bytes() {
    case "$1" in
        config) echo 2048 ;;
        *) echo 16384 ;;
    esac
}
# Without a terminal (no AFL++ screen), a progress line this often (seconds; AFL++ updates
# its statistics once a minute).
PROGRESS_EVERY=60

usage() {
    cat <<USAGE
Usage: scripts/fuzz.sh TARGET SECONDS     fuzz TARGET for SECONDS with AFL++
       scripts/fuzz.sh --minimize TARGET  fold the last run's queue into fuzz/corpus/TARGET
                                          (afl-cmin: the smallest set with the same coverage)
       scripts/fuzz.sh --list | --help

Targets:
  request   request head + framing (parse_request), then the chunked decoder on what follows
            when the head says chunked; asserts ranges, framing, split arrival, forwarded head
  chunked   the chunked decoder alone, fed whole, byte by byte and in random pieces: the
            results must be identical
  response  response head (parse_response) once per request method
  config    configuration text -> Model or file:line errors, in a Landlock sandbox that may
            read only its fixture directory
  proxy     PROXY protocol v1/v2 header parser: every prefix of a header is partial (nothing
            past a header is read), a header is found the same alone
  hello     TLS ClientHello reader (req.ssl_sni & co.): a name found lies in the input, and a
            decision stays when more bytes follow

The corpus (fuzz/corpus/TARGET/) seeds each run; cargo test replays it (tests/fuzz_corpus.rs).
Output goes to $OUT_DIR/TARGET/ (not committed): findings in default/crashes/ and
default/hangs/, statistics in default/fuzzer_stats. A finding becomes a regression input: copy
it into fuzz/corpus/TARGET/ under a name that says what it is, fix the bug, and cargo test
keeps it fixed (add a named unit test beside the code for the bug itself).

Needs cargo-afl; when missing, this installs it with 'cargo install cargo-afl' (crates.io),
which also builds AFL++ (a few minutes). CI does not fuzz.
USAGE
}

die() {
    echo "fuzz.sh: $*" >&2
    exit 1
}

is_target() {
    case " $TARGETS " in *" $1 "*) return 0 ;; esac
    return 1
}

ensure_cargo_afl() {
    if cargo afl --version >/dev/null 2>&1; then
        return
    fi
    echo "==> cargo-afl is not installed: installing it (cargo install cargo-afl; builds AFL++, a few minutes)"
    cargo install cargo-afl || die "cargo install cargo-afl failed; install it by hand and rerun"
    # Recent cargo-afl builds AFL++ while installing; older ones need this step. It fails,
    # harmlessly, when AFL++ is already built.
    cargo afl config --build >/dev/null 2>&1 || true
    cargo afl --version >/dev/null 2>&1 || die "cargo afl still does not run; see 'cargo afl config --build --verbose'"
}

build() {
    echo "==> building the fuzz targets (cargo afl build --release, in $FUZZ_DIR/)"
    (cd "$FUZZ_DIR" && cargo afl build --release --quiet) || die "the fuzz targets do not build"
}

dictionary() {
    case "$1" in
        config) echo "$FUZZ_DIR/dict/config.dict" ;;
        *) echo "$FUZZ_DIR/dict/http.dict" ;;
    esac
}

# AFL++ settings for a shared 2-core machine: no CPU pinning, no complaint about the
# frequency governor or about a core_pattern that pipes to a crash handler.
afl_env() {
    export AFL_NO_AFFINITY=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
}

stat() {
    grep "^$1 " "$2" 2>/dev/null | sed 's/.*: //'
}

report() {
    local target=$1 out=$OUT_DIR/$1/default
    local stats=$out/fuzzer_stats
    [ -f "$stats" ] || die "no statistics in $stats: the run did not start"
    local crashes hangs
    crashes=$(find "$out/crashes" -type f -name 'id:*' 2>/dev/null | wc -l)
    hangs=$(find "$out/hangs" -type f -name 'id:*' 2>/dev/null | wc -l)
    echo
    echo "==> $target: $(stat execs_done "$stats") execs in $(stat run_time "$stats") s" \
        "($(stat execs_per_sec "$stats") execs/s)"
    echo "    corpus $(stat corpus_count "$stats") inputs, edges $(stat edges_found "$stats")" \
        "of $(stat total_edges "$stats") ($(stat bitmap_cvg "$stats") bitmap)"
    echo "    findings: $crashes crashes, $hangs hangs"
    if [ "$crashes" -gt 0 ] || [ "$hangs" -gt 0 ]; then
        echo "    in $out/crashes/ and $out/hangs/; replay one with:"
        echo "      $FUZZ_DIR/target/release/$target < FILE"
        echo "    then copy it into fuzz/corpus/$target/ as a regression input (see --help)"
        return 1
    fi
    echo "    new inputs in $out/queue/; fold them into the corpus with:"
    echo "      scripts/fuzz.sh --minimize $target"
}

fuzz() {
    local target=$1 seconds=$2
    is_target "$target" || die "unknown target '$target' (scripts/fuzz.sh --list)"
    [[ "$seconds" =~ ^[0-9]+$ ]] && [ "$seconds" -gt 0 ] || die "SECONDS must be a positive number"
    ensure_cargo_afl
    build
    afl_env
    mkdir -p "$OUT_DIR"
    rm -rf "${OUT_DIR:?}/$target"
    echo "==> fuzzing $target for $seconds s: seeds fuzz/corpus/$target/, output $OUT_DIR/$target/"
    # -V: stop after SECONDS; -t: per-input timeout; -x: tokens that matter to the target.
    local afl=(cargo afl fuzz -V "$seconds" -t "$EXEC_TIMEOUT_MS" -x "$(dictionary "$target")"
        -i "$FUZZ_DIR/corpus/$target" -o "$OUT_DIR/$target" -- "$FUZZ_DIR/target/release/$target")
    if [ -t 1 ]; then
        "${afl[@]}" || die "afl-fuzz failed"
    else
        run_with_progress "$target" "${afl[@]}"
    fi
    report "$target"
}

# AFL++ in the background with its log in a file, one progress line every PROGRESS_EVERY s.
run_with_progress() {
    local target=$1
    shift
    local log=$OUT_DIR/$target.log
    echo "    (no terminal: AFL++ log in $log, progress every $PROGRESS_EVERY s)"
    AFL_NO_UI=1 "$@" >"$log" 2>&1 &
    AFL_PID=$!
    trap 'kill "$AFL_PID" 2>/dev/null || true' EXIT INT TERM
    local waited=0 stats=$OUT_DIR/$target/default/fuzzer_stats
    while kill -0 "$AFL_PID" 2>/dev/null; do
        sleep 1
        waited=$((waited + 1))
        if [ $((waited % PROGRESS_EVERY)) -eq 0 ] && [ -f "$stats" ]; then
            echo "    ${waited}s: $(stat execs_done "$stats") execs ($(stat execs_per_sec "$stats")/s)," \
                "corpus $(stat corpus_count "$stats"), edges $(stat edges_found "$stats")," \
                "crashes $(stat saved_crashes "$stats"), hangs $(stat saved_hangs "$stats")"
        fi
    done
    trap - EXIT INT TERM
    if ! wait "$AFL_PID"; then
        tail -20 "$log" >&2
        die "afl-fuzz failed (log: $log)"
    fi
}

# The AFL++ tools cargo-afl built for the current rustc.
afl_bin_dir() {
    local version
    version=$(rustc -V | cut -d' ' -f2)
    find "${XDG_DATA_HOME:-$HOME/.local/share}/afl.rs" -name afl-cmin.bash \
        -path "*rustc-$version-*" 2>/dev/null | head -1 | xargs -r dirname
}

# Named seeds stay; the run's queue adds the inputs that reach edges the corpus does not
# (afl-cmin -e: edges, not hit counts, which keeps the corpus to a few hundred files).
minimize() {
    local target=$1
    is_target "$target" || die "unknown target '$target' (scripts/fuzz.sh --list)"
    local queue=$OUT_DIR/$target/default/queue corpus=$FUZZ_DIR/corpus/$target
    [ -d "$queue" ] || die "no queue in $queue: run scripts/fuzz.sh $target SECONDS first"
    ensure_cargo_afl
    build
    afl_env
    local bin
    bin=$(afl_bin_dir)
    [ -x "$bin/afl-cmin.bash" ] || die "afl-cmin.bash not found under ~/.local/share/afl.rs"
    local all=$OUT_DIR/$target/cmin-in min=$OUT_DIR/$target/cmin-out
    rm -rf "$all" "$min"
    mkdir -p "$all"
    cp "$corpus"/* "$all"/
    local f
    for f in "$queue"/id:*; do
        [ -f "$f" ] && cp "$f" "$all/min-$(sha1sum "$f" | cut -c1-12)"
    done
    echo "==> afl-cmin over $(ls "$all" | wc -l) inputs (a minute or two)"
    AFL_PATH=$bin PATH=$bin:$PATH AFL_QUIET=1 "$bin/afl-cmin.bash" -e -t "$EXEC_TIMEOUT_MS" \
        -i "$all" -o "$min" -- "$FUZZ_DIR/target/release/$target" >"$OUT_DIR/$target.cmin.log" 2>&1 \
        || die "afl-cmin failed (log: $OUT_DIR/$target.cmin.log)"
    local kept
    [ "$(ls "$min" | wc -l)" -gt 0 ] || die "afl-cmin kept nothing; corpus left as it was"
    local cap
    cap=$(max_keep_bytes "$target")
    kept=$(find "$min" -name 'min-*' -size -$((cap + 1))c | wc -l)
    # Earlier queue inputs were in the run too: those cmin did not keep go.
    rm -f "$corpus"/min-*
    find "$min" -name 'min-*' -size -$((cap + 1))c -exec cp {} "$corpus"/ \;
    echo "==> fuzz/corpus/$target: $kept inputs added, $(ls "$corpus" | wc -l) in all, $(du -sh "$corpus" | cut -f1)"
    echo "    check with: cargo test --test fuzz_corpus"
}

case "${1:-}" in
    -h | --help | "") usage ;;
    --list) for t in $TARGETS; do echo "$t"; done ;;
    --minimize) [ $# -eq 2 ] || die "usage: scripts/fuzz.sh --minimize TARGET"; minimize "$2" ;;
    *) [ $# -eq 2 ] || die "usage: scripts/fuzz.sh TARGET SECONDS (or --help)"; fuzz "$1" "$2" ;;
esac
