#!/usr/bin/env bash
# bench/history.sh — how botdb copes with a long migration history, compared with diesel_cli
# on the same folder, on SQLite.
#
# The script generates the history itself, in a temp folder: N trivial migrations in one
# backend folder, `YYYY-MM-DD-HHMMSS_mNNNN/{up.sql,down.sql}`, once for a small and once for
# a large N (100 and 1000 by default), of one of two kinds (--kind):
#   tables  (the default) up.sql `CREATE TABLE t_NNNN (id INTEGER PRIMARY KEY);`, down.sql
#           `DROP TABLE t_NNNN;`: the schema gains a table per migration;
#   rows    the first migration creates `bench_rows (n INTEGER PRIMARY KEY)`, each one after
#           it inserts a row (`INSERT INTO bench_rows (n) VALUES (NNNN);`, down.sql deletes
#           it): the schema stays one table.
# Both tools read that folder at run time (botdb with --migrations-dir, diesel with
# --migration-dir); nothing embedded in botdb is used.
#
# What is measured, with hyperfine (each command a whole process: start-up, connect, work,
# exit; run without a shell in between), at the large N unless said otherwise. The runs
# are split into rounds that each time every command of a check in turn (bench/lib.sh's
# `rounds`), and the figures are taken over all rounds:
#   a. status    `botdb --database-url sqlite://DB --migrations-dir DIR status` on an
#                up-to-date database, vs `diesel migration pending` on the same file.
#   b. no-op     `botdb ... migrate` on that up-to-date database, vs `diesel migration run`.
#   c. apply     applying all N migrations to an empty database: `botdb ... migrate` vs
#                `diesel migration run`. hyperfine's --prepare puts a fresh copy of an empty
#                database in place before every run (not timed).
#   d. CPU       growth of botdb's user CPU time for c. from the small to the large N: the
#                mean of hyperfine's `user` figure at the large N over the one at the small
#                N (diesel's growth is shown for reference, not judged). The small N gets
#                LARGE/SMALL times the runs (at most 10 times): the kernel splits a
#                process's CPU time into user and system by scheduler ticks (4 ms here),
#                so the user time of a 10 ms run is little more than a coin toss, and ten
#                such runs moved the growth between 10.4x and 14.7x. When sqlite3 is
#                installed, c. also times it running the same SQL from empty (`botdb
#                print-sql --offline` for the history, after the PRAGMAs botdb's connection
#                sets), and a row shows its growth: what SQLite itself costs on that
#                history, the floor for any tool. On the tables kind SQLite's own cost grows
#                with the square of N: after each CREATE TABLE it scans its schema table,
#                which holds a row per table, for the new table's entry.
# The up-to-date database of a. and b. is migrated once by botdb (diesel reads the same
# __diesel_schema_migrations table). Before timing, the setup is checked: botdb's and
# diesel's runs from empty must each record all N versions (and create the N tables, when
# sqlite3 is installed), and both tools must see nothing pending on the up-to-date file,
# or the script stops with what it saw.
#
# Targets (each can be overridden through the environment, see below), judged in the table:
#   a. botdb/diesel median time   <= BENCH_TARGET_STATUS        (default 1.0)
#   b. botdb/diesel median time   <= BENCH_TARGET_NOOP          (default 1.0)
#   c. diesel/botdb median time   >= BENCH_TARGET_APPLY_SPEEDUP (default 2.4)
#   d. botdb user CPU large/small <= BENCH_TARGET_CPU_GROWTH    (default 1.2 × large/small,
#                                                                i.e. 12 for 100 → 1000)
#
# Output: a markdown table on stdout, one row per check, with both tools' figures, the
# ratio, the target and PASS or FAIL; hyperfine's own report and progress go to stderr.
# Without diesel on PATH (or DIESEL), the script says so and reports botdb's figures alone:
# a. to c. then have no ratio, d. is still judged. hyperfine is required: without it the
# script says so and exits with 1. The exit code does not depend on PASS/FAIL.
#
# Usage:
#   bench/history.sh [-n RUNS] [-r ROUNDS] [-s SMALL,LARGE] [--kind tables|rows] [-k]
#     -n, --runs N             timed runs per command (default 10, or $BENCH_RUNS; more
#                              at the small N for d., see above)
#     -r, --rounds N           rounds the runs are split into (default 5, at most the runs;
#                              see above)
#     -s, --sizes SMALL,LARGE  the two history lengths (default 100,1000; at most 9999)
#     --kind tables|rows       what each migration does (default tables; see above)
#     -k, --keep               keep the temp folder (histories, databases, hyperfine JSON)
#     -h, --help               this help
#
# Environment:
#   BENCH_RUNS        default for --runs
#   BOTDB             botdb binary to use; otherwise target/release/botdb, built with
#                     `cargo build --release` if it does not exist (not rebuilt when stale)
#   DIESEL            diesel_cli binary to use; otherwise `diesel` from PATH
#   BENCH_TARGET_STATUS, BENCH_TARGET_NOOP, BENCH_TARGET_APPLY_SPEEDUP,
#   BENCH_TARGET_CPU_GROWTH   the targets above (exported, so child processes see them too)
#
# diesel runs with the temp folder as its working directory and DIESEL_CONFIG_FILE pointing
# at an empty diesel.toml there, so it never finds the repository's diesel.toml and never
# rewrites src/schema.rs. DATABASE_URL, DB_URL, MIGRATION_DIRECTORY and RUST_LOG are
# removed from the environment of both tools. Everything lives in one folder made by
# mktemp (botdb-history.XXXXXX), removed by an EXIT trap on error or Ctrl-C too, so the
# script can be rerun (or run twice at once) without leftovers. Nothing in the repository
# is written except target/ when the binary has to be built.

set -euo pipefail

# ---------------------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------------------

NAME=history.sh
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUNS=${BENCH_RUNS:-10}
ROUNDS=5
SIZES=100,1000
KIND=tables
KEEP=0

while (($#)); do
    case $1 in
        -n | --runs) RUNS=${2:?--runs needs a number}; shift 2 ;;
        --runs=*) RUNS=${1#*=}; shift ;;
        -r | --rounds) ROUNDS=${2:?--rounds needs a number}; shift 2 ;;
        --rounds=*) ROUNDS=${1#*=}; shift ;;
        -s | --sizes) SIZES=${2:?--sizes needs SMALL,LARGE}; shift 2 ;;
        --sizes=*) SIZES=${1#*=}; shift ;;
        --kind) KIND=${2:?--kind needs tables or rows}; shift 2 ;;
        --kind=*) KIND=${1#*=}; shift ;;
        -k | --keep) KEEP=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) unknown_option "$1" ;;
    esac
done

positive_runs
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "--rounds must be a positive integer, got '$ROUNDS'"
[[ $SIZES =~ ^[1-9][0-9]*,[1-9][0-9]*$ ]] || die "--sizes must be SMALL,LARGE (two positive integers), got '$SIZES'"
SMALL=$((10#${SIZES%,*}))
LARGE=$((10#${SIZES#*,}))
((SMALL < LARGE)) || die "--sizes: SMALL ($SMALL) must be less than LARGE ($LARGE)"
((LARGE <= 9999)) || die "--sizes: at most 9999 migrations (names are mNNNN), got $LARGE"
[[ $KIND == tables || $KIND == rows ]] || die "--kind must be tables or rows, got '$KIND'"

is_number() { [[ $1 =~ ^[0-9]+([.][0-9]+)?$ ]]; }
export BENCH_TARGET_STATUS=${BENCH_TARGET_STATUS:-1.0}
export BENCH_TARGET_NOOP=${BENCH_TARGET_NOOP:-1.0}
export BENCH_TARGET_APPLY_SPEEDUP=${BENCH_TARGET_APPLY_SPEEDUP:-2.4}
BENCH_TARGET_CPU_GROWTH=${BENCH_TARGET_CPU_GROWTH:-$(awk -v s="$SMALL" -v l="$LARGE" 'BEGIN { printf "%.1f", 1.2 * l / s }')}
export BENCH_TARGET_CPU_GROWTH
for t in BENCH_TARGET_STATUS BENCH_TARGET_NOOP BENCH_TARGET_APPLY_SPEEDUP BENCH_TARGET_CPU_GROWTH; do
    is_number "${!t}" || die "$t must be a number, got '${!t}'"
done

# Neither tool may pick up a database, a migrations folder or a config from the caller.
unset DATABASE_URL DB_URL MIGRATION_DIRECTORY RUST_LOG

# ---------------------------------------------------------------------------------------
# Tools
# ---------------------------------------------------------------------------------------

if ! command -v hyperfine >/dev/null; then
    log "history.sh: hyperfine is not installed; it is needed for every measurement."
    log "  install it with: apt-get install -y hyperfine   (or: cargo install hyperfine)"
    exit 1
fi

find_botdb

if [[ -n ${DIESEL:-} ]]; then
    [[ -x $DIESEL ]] || die "DIESEL=$DIESEL is not an executable file"
    DIESEL=$(cd "$(dirname "$DIESEL")" && pwd)/$(basename "$DIESEL")
else
    DIESEL=$(command -v diesel || true)
fi
if [[ -z $DIESEL ]]; then
    log "diesel (diesel_cli) is not on PATH: reporting botdb's own figures, without comparison."
    log "  for the comparison: cargo install diesel_cli --no-default-features --features sqlite-bundled"
fi

SQLITE3=$(command -v sqlite3 || true)

# ---------------------------------------------------------------------------------------
# Scratch space and cleanup
# ---------------------------------------------------------------------------------------

WORK=$(mktemp -d "${TMPDIR:-/tmp}/botdb-history.XXXXXX")

cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    if ((KEEP)); then
        log "temp folder kept: $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# diesel: no diesel.toml to find (so no schema file to rewrite), no Cargo.toml above it.
: >"$WORK/diesel.toml"
export DIESEL_CONFIG_FILE=$WORK/diesel.toml
cd "$WORK"

# reset.sh DB EMPTY: hyperfine's --prepare for c.: DB becomes a fresh copy of EMPTY.
cat >"$WORK/reset.sh" <<'EOF'
rm -f "$1" "$1-journal" "$1-wal" "$1-shm" "$1.lock"
cp "$2" "$1"
EOF

# An empty SQLite database: a zero-length file is one (sqlite3 itself creates one so).
: >"$WORK/empty.sqlite3"

# ---------------------------------------------------------------------------------------
# The histories
# ---------------------------------------------------------------------------------------

# folder_name I: the I-th migration's folder, versions one second apart from 2020-01-01.
folder_name() {
    local i=$1
    printf '2020-01-01-%02d%02d%02d_m%04d' $((i / 3600)) $((i / 60 % 60)) $((i % 60)) "$i"
}

# generate N: writes $WORK/hN/sqlite/ with N migrations; sets DIR to that folder.
generate() {
    local n=$1 i name
    local -a dirs=()
    DIR=$WORK/h$n/sqlite
    for ((i = 1; i <= n; i++)); do dirs+=("$DIR/$(folder_name "$i")"); done
    mkdir -p "${dirs[@]}"
    for ((i = 1; i <= n; i++)); do
        if [[ $KIND == tables ]]; then
            name=$(printf 't_%04d' "$i")
            printf 'CREATE TABLE %s (id INTEGER PRIMARY KEY);\n' "$name" >"${dirs[i - 1]}/up.sql"
            printf 'DROP TABLE %s;\n' "$name" >"${dirs[i - 1]}/down.sql"
        elif ((i == 1)); then
            printf 'CREATE TABLE bench_rows (n INTEGER PRIMARY KEY);\n' >"${dirs[0]}/up.sql"
            printf 'DROP TABLE bench_rows;\n' >"${dirs[0]}/down.sql"
        else
            printf 'INSERT INTO bench_rows (n) VALUES (%d);\n' "$i" >"${dirs[i - 1]}/up.sql"
            printf 'DELETE FROM bench_rows WHERE n = %d;\n' "$i" >"${dirs[i - 1]}/down.sql"
        fi
    done
    log "generated $n migrations ($KIND) in $DIR"
}

# ---------------------------------------------------------------------------------------
# The commands
# ---------------------------------------------------------------------------------------

# run_botdb DB DIR ARGS...; run_diesel DB DIR SUBCOMMAND
run_botdb() { "$BOTDB" --database-url "sqlite://$1" --migrations-dir "$2" "${@:3}"; }
run_diesel() { "$DIESEL" migration "$3" --database-url "$1" --migration-dir "$2"; }

# must WHAT CMD...: runs CMD, output kept in $WORK/out; stops the script if it fails.
must() {
    local what=$1; shift
    if ! "$@" >"$WORK/out" 2>&1; then
        log "$what failed: $*"
        sed 's/^/    /' "$WORK/out" >&2
        exit 1
    fi
}

# check_applied WHO DB N: DB records the N versions and holds what the N migrations made
# (N tables, or N - 1 rows), counted with sqlite3.
check_applied() {
    local who=$1 db=$2 n=$3 versions made expected what
    [[ -n $SQLITE3 ]] || return 0
    versions=$("$SQLITE3" -batch -bail "$db" 'SELECT count(*) FROM __diesel_schema_migrations')
    if [[ $KIND == tables ]]; then
        made=$("$SQLITE3" -batch -bail "$db" "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name GLOB 't_[0-9]*'")
        expected=$n what=tables
    else
        made=$("$SQLITE3" -batch -bail "$db" 'SELECT count(*) FROM bench_rows')
        expected=$((n - 1)) what=rows
    fi
    [[ $versions == "$n" && $made == "$expected" ]] \
        || die "$who from empty: expected $n versions and $expected $what, found $versions versions and $made $what in $db"
}

# script N DIR: $WORK/scriptN.sql, what sqlite3 runs for c.: the PRAGMAs botdb sets on a
# connection (src/db/sqlite.rs), then print-sql's script for applying DIR to an empty database.
script() {
    {
        printf '%s\n' 'PRAGMA foreign_keys = ON;' 'PRAGMA busy_timeout = 5000;'
        "$BOTDB" --quiet --migrations-dir "$2" print-sql --offline --dialect sqlite
    } >"$WORK/script$1.sql" || die "botdb print-sql --offline (N=$1) failed"
}

# verify N DIR: checks the setup for one history; leaves $WORK/upN.sqlite3 up to date.
verify() {
    local n=$1 dir=$2 up=$WORK/up$1.sqlite3 d=$WORK/check-diesel$1.sqlite3 s=$WORK/check-sqlite3$1.sqlite3
    cp "$WORK/empty.sqlite3" "$up"
    must "botdb migrate (N=$n, from empty)" run_botdb "$up" "$dir" migrate
    check_applied botdb "$up" "$n"
    must "botdb status --check (N=$n, up to date)" run_botdb "$up" "$dir" status --check
    grep -q '^pending' "$WORK/out" && die "botdb status still lists pending migrations after migrate (N=$n)"
    if [[ -n $DIESEL ]]; then
        must "diesel migration pending (N=$n, up to date)" run_diesel "$up" "$dir" pending
        [[ $(<"$WORK/out") == false ]] \
            || die "diesel sees pending migrations in botdb's up-to-date database (N=$n): $(<"$WORK/out")"
        cp "$WORK/empty.sqlite3" "$d"
        must "diesel migration run (N=$n, from empty)" run_diesel "$d" "$dir" run
        check_applied diesel "$d" "$n"
        rm -f "$d"
    fi
    if [[ -n $SQLITE3 ]]; then
        script "$n" "$dir"
        cp "$WORK/empty.sqlite3" "$s"
        must "sqlite3 on print-sql's script (N=$n, from empty)" "$SQLITE3" -batch -bail "$s" ".read \"$WORK/script$n.sql\""
        check_applied sqlite3 "$s" "$n"
        rm -f "$s"
    fi
    log "N=$n: setup checked${SQLITE3:+ (versions and what the migrations made counted with sqlite3)}"
}

# ---------------------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------------------

ms() { awk -v s="$1" 'BEGIN { printf "%.1f ms", s * 1000 }'; }
# ratio A B: A/B to two decimals, or n/a when B is 0 (a time too short to count).
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) printf "n/a"; else printf "%.2f", a / b }'; }
# times A B: the ratio with an x, as shown in the table.
times() { local r; r=$(ratio "$1" "$2"); [[ $r == n/a ]] && printf 'n/a' || printf '%sx' "$r"; }
# judge VALUE OP TARGET: PASS or FAIL (OP is <= or >=).
judge() {
    [[ $1 == n/a ]] && { echo "n/a"; return; }
    awk -v v="$1" -v op="$2" -v t="$3" \
        'BEGIN { ok = (op == "<=") ? (v <= t + 0) : (v >= t + 0); print ok ? "PASS" : "FAIL" }'
}

# row CHECK N BOTDB DIESEL RATIO TARGET RESULT: one table row (and a PASS/FAIL line).
ROWS=()
RESULTS=()
row() {
    ROWS+=("| $1 | $2 | $3 | $4 | $5 | $6 | $7 |")
    if [[ $7 == PASS || $7 == FAIL ]]; then RESULTS+=("$7 $1: $5 (target $6)"); fi
}

# compare KEY TITLE N OP TARGET: a., b. or c. from KEY's rounds; OP <= judges botdb/diesel,
# OP >= judges diesel/botdb.
compare() {
    local key=$1 title=$2 n=$3 op=$4 target=$5 b d r
    b=$(pooled "$key" botdb median)
    if [[ -z $DIESEL ]]; then
        row "$title" "$n" "$(ms "$b")" "–" "–" "$op $target" "no diesel"
        return
    fi
    d=$(pooled "$key" diesel median)
    if [[ $op == '<=' ]]; then
        r=$(ratio "$b" "$d"); row "$title" "$n" "$(ms "$b")" "$(ms "$d")" "botdb/diesel ${r}x" "$op $target" "$(judge "$r" "$op" "$target")"
    else
        r=$(ratio "$d" "$b"); row "$title" "$n" "$(ms "$b")" "$(ms "$d")" "diesel/botdb ${r}x" "$op $target" "$(judge "$r" "$op" "$target")"
    fi
}

# ---------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------

log "botdb: $BOTDB ($("$BOTDB" --version 2>/dev/null || echo 'version unknown'))"
log "diesel: ${DIESEL:-not installed}${DIESEL:+ ($("$DIESEL" --version 2>/dev/null | tr -s '[:space:]' ' ' || true))}"
log "hyperfine: $(hyperfine --version); runs per command: $RUNS (more at N=$SMALL, see --help) in $ROUNDS rounds; sizes: $SMALL, $LARGE; scratch: $WORK"

declare -A HIST=()
for n in "$SMALL" "$LARGE"; do
    generate "$n"; HIST[$n]=$DIR
    verify "$n" "$DIR"
done

DL=${HIST[$LARGE]}
UP=$WORK/up$LARGE.sqlite3

# a. status on the up-to-date database.
cmds=(botdb "$(q "$BOTDB" --database-url "sqlite://$UP" --migrations-dir "$DL" status)")
if [[ -n $DIESEL ]]; then cmds+=(diesel "$(q "$DIESEL" migration pending --database-url "$UP" --migration-dir "$DL")"); fi
rounds "status-$LARGE" "$RUNS" "$ROUNDS" "${cmds[@]}"

# b. no-op migrate on the same database.
cmds=(botdb "$(q "$BOTDB" --database-url "sqlite://$UP" --migrations-dir "$DL" migrate)")
if [[ -n $DIESEL ]]; then cmds+=(diesel "$(q "$DIESEL" migration run --database-url "$UP" --migration-dir "$DL")"); fi
rounds "noop-$LARGE" "$RUNS" "$ROUNDS" "${cmds[@]}"

# c. (and d.) applying everything to an empty database, at both sizes.
for n in "$SMALL" "$LARGE"; do
    db=$WORK/apply$n.sqlite3
    cmds=(botdb "$(q "$BOTDB" --database-url "sqlite://$db" --migrations-dir "${HIST[$n]}" migrate)")
    if [[ -n $DIESEL ]]; then cmds+=(diesel "$(q "$DIESEL" migration run --database-url "$db" --migration-dir "${HIST[$n]}")"); fi
    if [[ -n $SQLITE3 ]]; then cmds+=(sqlite3 "$(q "$SQLITE3" -batch -bail "$db" ".read \"$WORK/script$n.sql\"")"); fi
    runs=$((RUNS * LARGE / n))
    ((runs <= 10 * RUNS)) || runs=$((10 * RUNS))
    rounds "apply-$n" "$runs" "$ROUNDS" --prepare "$(q bash "$WORK/reset.sh" "$db" "$WORK/empty.sqlite3")" "${cmds[@]}"
done

compare "status-$LARGE" "a. status, up to date" "$LARGE" '<=' "$BENCH_TARGET_STATUS"
compare "noop-$LARGE" "b. no-op migrate, up to date" "$LARGE" '<=' "$BENCH_TARGET_NOOP"
compare "apply-$LARGE" "c. apply all from empty" "$LARGE" '>=' "$BENCH_TARGET_APPLY_SPEEDUP"

bs=$(pooled "apply-$SMALL" botdb user)
bl=$(pooled "apply-$LARGE" botdb user)
growth=$(ratio "$bl" "$bs")
dcol="–"
if [[ -n $DIESEL ]]; then
    ds=$(pooled "apply-$SMALL" diesel user)
    dl=$(pooled "apply-$LARGE" diesel user)
    dcol="$(ms "$ds") → $(ms "$dl") ($(times "$dl" "$ds"))"
fi
row "d. user CPU, apply from empty" "$SMALL → $LARGE" "$(ms "$bs") → $(ms "$bl")" "$dcol" \
    "botdb ${growth}x" "<= $BENCH_TARGET_CPU_GROWTH" "$(judge "$growth" '<=' "$BENCH_TARGET_CPU_GROWTH")"
if [[ -n $SQLITE3 ]]; then
    ss=$(pooled "apply-$SMALL" sqlite3 user)
    sl=$(pooled "apply-$LARGE" sqlite3 user)
    row "d. reference: sqlite3 on the same SQL, user CPU" "$SMALL → $LARGE" "–" "–" \
        "$(ms "$ss") → $(ms "$sl") ($(times "$sl" "$ss"))" "–" "reference"
fi

log ""
printf '%s\n' "${RESULTS[@]}" >&2
printf 'History: %s trivial migrations of kind `%s`.\n\n' "$SMALL and $LARGE" "$KIND"
printf '| check | N | botdb | diesel | ratio | target | result |\n'
printf '|---|---:|---:|---:|---:|---:|---|\n'
printf '%s\n' "${ROWS[@]}"
