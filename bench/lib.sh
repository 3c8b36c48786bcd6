# bench/lib.sh — what migrate.sh, status.sh and history.sh share. Sourced, never run:
# the sourcing script sets NAME (its file name, for messages) first.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

log() { printf '%s\n' "$*" >&2; }
die() { log "$NAME: error: $*"; exit 1; }

# usage: the running script's header comment from "Usage:" on.
usage() { awk '/^# Usage:/ { on = 1 } on && !/^#/ { exit } on { sub(/^# ?/, ""); print }' "$0"; }

# unknown_option WORD: says so, with the usage, and exits 2.
unknown_option() { log "$NAME: unknown option: $1"; usage >&2; exit 2; }

# positive_runs: RUNS must be a positive integer (it comes from --runs or BENCH_RUNS).
positive_runs() {
    [[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "--runs / BENCH_RUNS must be a positive integer, got '$RUNS'"
}

# q WORD...: the words quoted for hyperfine, which splits a command line like a POSIX shell.
q() { local out='' w; for w in "$@"; do out+=" $(printf '%q' "$w")"; done; printf '%s' "${out# }"; }

# find_botdb: BOTDB made absolute when it is set; otherwise target/release/botdb, built
# with `cargo build --release` if it does not exist (it is not rebuilt when stale).
find_botdb() {
    if [[ -n ${BOTDB:-} ]]; then
        [[ -x $BOTDB ]] || die "BOTDB=$BOTDB is not an executable file"
        BOTDB=$(cd "$(dirname "$BOTDB")" && pwd)/$(basename "$BOTDB")
        return
    fi
    BOTDB=${CARGO_TARGET_DIR:-$ROOT/target}/release/botdb
    if [[ ! -x $BOTDB ]]; then
        log "building botdb (cargo build --release) ..."
        (cd "$ROOT" && cargo build --release >&2) || die "cargo build --release failed"
        [[ -x $BOTDB ]] || die "cargo build finished but $BOTDB does not exist"
    fi
}
