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

# rounds KEY RUNS ROUNDS [--warmup N] [--prepare CMD] NAME CMD [NAME CMD]...: hyperfine in
# ROUNDS rounds, each timing every command (in an order rotated by one from round to
# round), the RUNS runs per command spread over them; round R is exported to
# $WORK/KEY-R.json and its report goes to stderr. This machine's speed drifts by a third
# within a minute, and one hyperfine call runs every run of a command before the next, so
# it charged the drift to whichever command ran in the slow stretch: alternating makes
# the commands share it.
rounds() {
    local key=$1 total=$2 count=$3 warmup=2 round runs i k
    shift 3
    local -a extra=() names=() commands=() args
    if [[ $1 == --warmup ]]; then warmup=$2; shift 2; fi
    if [[ $1 == --prepare ]]; then extra=(--prepare "$2"); shift 2; fi
    while (($#)); do names+=("$1"); commands+=("$2"); shift 2; done
    ((count <= total)) || count=$total
    log ""
    log "== $key: $total runs per command in $count rounds"
    for ((round = 0; round < count; round++)); do
        # The first TOTAL % COUNT rounds take one run more.
        runs=$((total / count + (round < total % count ? 1 : 0)))
        args=(-N --warmup "$warmup" --runs "$runs" --style basic "${extra[@]}"
            --export-json "$WORK/$key-$round.json")
        for ((i = 0; i < ${#names[@]}; i++)); do
            k=$(((i + round) % ${#names[@]}))
            args+=(--command-name "${names[k]}" "${commands[k]}")
        done
        hyperfine "${args[@]}" >&2 || die "hyperfine failed ($key, round $round)"
    done
}

# pooled KEY NAME STAT: one command's figure over all rounds of KEY, in seconds: `median`
# of all its times, or `user`, its mean user CPU time.
pooled() {
    python3 - "$2" "$3" "$WORK/$1"-[0-9]*.json <<'PY' || die "no $3 for $2 in $1"
import json, statistics, sys
name, stat, paths = sys.argv[1], sys.argv[2], sys.argv[3:]
times, user = [], 0.0
for path in paths:
    for r in json.load(open(path))["results"]:
        if r["command"] == name:
            times += r["times"]
            user += r["user"] * len(r["times"])
if not times:
    sys.exit(1)
print({"median": lambda: statistics.median(times), "user": lambda: user / len(times)}[stat]())
PY
}
