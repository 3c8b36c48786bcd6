#!/usr/bin/env bash
# bench/status.sh — how long `botdb status` takes on an up-to-date SQLite database, compared
# with sqlite3 reading the same bookkeeping, and with botdb's bare process start.
#
# The database is migrated once by botdb with its embedded migrations (in a temp folder).
# Then hyperfine times, each as a whole process without a shell in between:
#   status   `botdb --database-url sqlite://DB status`
#   sqlite3  `sqlite3 -batch -bail DB` reading both bookkeeping tables, every row and
#            column botdb's status reads
#   start    `botdb --version`: start-up and exit, no runtime, no database
# The runs are split into rounds, and each round times the three commands in another
# order (bench/lib.sh's `rounds`): this machine's speed drifts by a third within a
# minute, which a single hyperfine call (all runs of one command, then all of the next)
# would charge to whichever command ran in the slow stretch.
# It prints a markdown table with the minimum and the median of each command over all
# rounds, the ratio status/sqlite3 of those medians (the issue's target is at most 1.5),
# and the lowest and highest ratio of a single round.
#
# Usage:
#   bench/status.sh [-n RUNS] [-r ROUNDS] [-k]
#     -n, --runs N     timed runs per command in all (default 100, or $BENCH_RUNS)
#     -r, --rounds N   rounds to split them into (default 10; at most RUNS)
#     -k, --keep       keep the temp folder (database, hyperfine JSON)
#     -h, --help       this help
#
# Environment:
#   BENCH_RUNS   default for --runs
#   BOTDB        botdb binary to use; otherwise target/release/botdb, built with
#                `cargo build --release` if it does not exist (not rebuilt when stale)
#
# hyperfine and sqlite3 are required. Everything lives in one mktemp folder, removed by an
# EXIT trap; nothing in the repository is written except target/ when the binary is built.

set -euo pipefail

NAME=status.sh
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
RUNS=${BENCH_RUNS:-100}
ROUNDS=10
KEEP=0

while (($#)); do
    case $1 in
        -n | --runs) RUNS=${2:?--runs needs a number}; shift 2 ;;
        --runs=*) RUNS=${1#*=}; shift ;;
        -r | --rounds) ROUNDS=${2:?--rounds needs a number}; shift 2 ;;
        --rounds=*) ROUNDS=${1#*=}; shift ;;
        -k | --keep) KEEP=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) unknown_option "$1" ;;
    esac
done
positive_runs
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "--rounds must be a positive integer, got '$ROUNDS'"
((ROUNDS <= RUNS)) || die "--rounds ($ROUNDS) must not exceed --runs ($RUNS)"

command -v hyperfine >/dev/null || die "hyperfine is not installed (apt-get install -y hyperfine)"
SQLITE3=$(command -v sqlite3) || die "sqlite3 is not installed (apt-get install -y sqlite3)"

unset DATABASE_URL DB_URL MIGRATION_DIRECTORY RUST_LOG

find_botdb

WORK=$(mktemp -d "${TMPDIR:-/tmp}/botdb-status.XXXXXX")
cleanup() {
    local rc=$?
    trap - EXIT
    if ((KEEP)); then log "temp folder kept: $WORK"; else rm -rf "$WORK"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
cd "$WORK"

DB=$WORK/up.sqlite3
"$BOTDB" --quiet --database-url "sqlite://$DB" migrate >/dev/null \
    || die "botdb migrate on $DB failed"
"$BOTDB" --database-url "sqlite://$DB" status --check >/dev/null \
    || die "botdb status --check says the freshly migrated $DB is not up to date"
READ='SELECT version, run_on FROM __diesel_schema_migrations; SELECT version, checksum, state, detail FROM __botdb_migrations;'
[[ -n $("$SQLITE3" -batch -bail "$DB" "$READ") ]] || die "sqlite3 read no bookkeeping from $DB"

log "botdb: $BOTDB; scratch: $WORK"
rounds status "$RUNS" "$ROUNDS" --warmup 3 \
    status "$(q "$BOTDB" --database-url "sqlite://$DB" status)" \
    sqlite3 "$(q "$SQLITE3" -batch -bail "$DB" "$READ")" \
    start "$(q "$BOTDB" --version)"

# The minimum and median of each command over all rounds, in ms, the ratio of the
# medians, and the range of the per-round ratios.
python3 - "$WORK"/status-[0-9]*.json <<'EOF'
import json, statistics, sys
times, ratios = {}, []
for path in sys.argv[1:]:
    results = {r["command"]: r["times"] for r in json.load(open(path))["results"]}
    for name, ts in results.items():
        times.setdefault(name, []).extend(ts)
    ratios.append(statistics.median(results["status"]) / statistics.median(results["sqlite3"]))
print("| command | min (ms) | median (ms) |")
print("|---|---:|---:|")
for name in ("status", "sqlite3", "start"):
    ts = times[name]
    print(f"| {name} | {min(ts) * 1000:.2f} | {statistics.median(ts) * 1000:.2f} |")
ratio = statistics.median(times["status"]) / statistics.median(times["sqlite3"])
print(f"\nstatus / sqlite3 (medians): {ratio:.2f}x (target <= 1.5); "
      f"per round: {min(ratios):.2f}x to {max(ratios):.2f}x over {len(ratios)} rounds")
EOF
