#!/usr/bin/env bash
# bench/migrate.sh — how long `botdb migrate` takes on an empty database, compared with
# feeding the same SQL to the database's own command-line client.
#
# What is measured, per backend (sqlite3 always; PostgreSQL and MySQL/MariaDB when their
# server answers):
#   botdb   `botdb --quiet --database-url URL migrate` on a fresh, empty database.
#   client  sqlite3 / psql / mariadb (or mysql) running a script generated once: the
#           session setup botdb's driver does (SQLite PRAGMAs, time zone, charset), then
#           `botdb print-sql --offline` for an empty database, i.e. the same SQL in the
#           same transactions as `botdb migrate` (one for the run on SQLite and PostgreSQL,
#           one per migration on MySQL), both bookkeeping tables included.
#           botdb's own extra work is charged to botdb: the migration lock, reading the
#           bookkeeping first, and on SQLite the backup it takes before changing the file.
# The server clients connect the way botdb does: plain TCP (psql with TLS and GSSAPI off, as
# botdb's PostgreSQL driver uses neither), and psql is the real binary, not Debian's Perl wrapper.
# Both sides are timed as whole processes (start-up, connect, migrate, exit), wall clock,
# in microseconds (bash's EPOCHREALTIME; `date +%s%N` on older bash). Every timed run gets
# its own empty database: a new temp file for SQLite, a CREATE DATABASE with a unique name
# on the servers; creating and dropping it is not timed. The two sides alternate which one
# goes first in each round. Before timing, each backend is checked once: both sides migrate
# a database and the resulting schemas (tables, columns, indexes, constraints, triggers)
# and recorded versions must be identical, or the script stops with the diff.
#
# Output: a markdown table on stdout with, per backend, the median of botdb, the median of
# the client, and the ratio botdb/client. Progress and errors go to stderr. A backend whose
# client is not installed or whose server does not answer is reported as skipped.
#
# Usage:
#   bench/migrate.sh [-n RUNS] [-b BACKENDS] [-k]
#     -n, --runs N          timed runs per side and backend (default 15, or $BENCH_RUNS)
#     -b, --backends LIST   comma-separated subset of sqlite,postgres,mysql (default: all)
#     -k, --keep            keep the generated client scripts (their folder is printed)
#     -h, --help            this help
#
# Environment:
#   BENCH_RUNS        default for --runs
#   BOTDB             botdb binary to use; otherwise target/release/botdb, built with
#                     `cargo build --release` if it does not exist (it is not rebuilt when
#                     stale: the schema check fails if its embedded migrations differ)
#   BENCH_PG_HOST, BENCH_PG_PORT, BENCH_PG_USER           default 127.0.0.1, 5432, postgres
#   BENCH_MYSQL_HOST, BENCH_MYSQL_PORT, BENCH_MYSQL_USER  default 127.0.0.1, 3306, root
#   BENCH_PSQL        psql to use (default: the real binary behind Debian's pg_wrapper)
#   (both servers are expected to accept these users without a password)
#
# Databases are named botdb_bench_<pid>_<random>_<n>, never a fixed shared name, and are
# dropped after each run and again by an EXIT trap on error or Ctrl-C, so the script can be
# rerun (or run twice at once) without leftovers. Nothing in the repository is written
# except target/ when the binary has to be built.

set -euo pipefail

# ---------------------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------------------

NAME=migrate.sh
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
MIGRATIONS=$ROOT/migrations

RUNS=${BENCH_RUNS:-15}
BACKENDS=sqlite,postgres,mysql
KEEP=0

PG_HOST=${BENCH_PG_HOST:-127.0.0.1}
PG_PORT=${BENCH_PG_PORT:-5432}
PG_USER=${BENCH_PG_USER:-postgres}
MY_HOST=${BENCH_MYSQL_HOST:-127.0.0.1}
MY_PORT=${BENCH_MYSQL_PORT:-3306}
MY_USER=${BENCH_MYSQL_USER:-root}

while (($#)); do
    case $1 in
        -n | --runs) RUNS=${2:?--runs needs a number}; shift 2 ;;
        --runs=*) RUNS=${1#*=}; shift ;;
        -b | --backends) BACKENDS=${2:?--backends needs a list}; shift 2 ;;
        --backends=*) BACKENDS=${1#*=}; shift ;;
        -k | --keep) KEEP=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) unknown_option "$1" ;;
    esac
done

positive_runs
IFS=, read -r -a SELECTED <<<"$BACKENDS"
for b in "${SELECTED[@]}"; do
    [[ $b == sqlite || $b == postgres || $b == mysql ]] || die "unknown backend '$b' (sqlite, postgres, mysql)"
done

# ---------------------------------------------------------------------------------------
# Scratch space and cleanup
# ---------------------------------------------------------------------------------------

WORK=$(mktemp -d "${TMPDIR:-/tmp}/botdb-bench.XXXXXX")
TAG="botdb_bench_$$_${RANDOM}${RANDOM}"   # prefix of every database this run creates
SEQ=0                                      # counter making each database name unique
declare -A LIVE=()                         # "backend:name" of databases not dropped yet

cleanup() {
    local rc=$? key
    set +e
    trap - EXIT INT TERM
    for key in "${!LIVE[@]}"; do
        drop_db "${key%%:*}" "${key#*:}" force
    done
    if ((KEEP)); then
        rm -f "$WORK"/*.sqlite3 "$WORK"/*.sqlite3-journal
        log "generated client scripts kept in $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------------------

# stamp: sets NOW to the wall clock in microseconds, without forking when bash can.
if [[ -n ${EPOCHREALTIME:-} ]]; then
    stamp() { NOW=${EPOCHREALTIME//[!0-9]/}; NOW=$((10#$NOW)); }
else
    stamp() { NOW=$(($(date +%s%N) / 1000)); }
fi

# timed CMD...: runs CMD (stdout discarded, stderr kept for the error message) and sets
# ELAPSED to its wall-clock time in microseconds; stops the script if CMD fails.
timed() {
    local start
    stamp; start=$NOW
    if ! "$@" >/dev/null 2>"$WORK/stderr"; then
        log "command failed: $*"
        sed 's/^/    /' "$WORK/stderr" >&2
        exit 1
    fi
    stamp; ELAPSED=$((NOW - start))
}

# median_ms N...: the median of microsecond values, printed in milliseconds.
median_ms() {
    printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 }
        END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.2f", m / 1000 }'
}

# ---------------------------------------------------------------------------------------
# The botdb binary
# ---------------------------------------------------------------------------------------

find_botdb

run_botdb() { env -u RUST_LOG -u DATABASE_URL -u DB_URL "$BOTDB" --quiet --database-url "$1" migrate; }

# ---------------------------------------------------------------------------------------
# Backends: each has  <b>_check (sets SKIP on failure), <b>_create (sets DB and URL),
# <b>_drop NAME [force], <b>_client NAME, <b>_schema NAME, <b>_versions NAME
# ---------------------------------------------------------------------------------------

# SQLite ---------------------------------------------------------------------------------

sqlite_check() {
    command -v sqlite3 >/dev/null || { SKIP="sqlite3 not installed"; return 1; }
}
sqlite_create() { DB=$WORK/${TAG}_$SEQ.sqlite3; URL=sqlite://$DB; }
sqlite_drop() { rm -f "$1" "$1-journal" "$1-wal" "$1-shm"; }
sqlite_client() { sqlite3 -batch -bail "$1" <"$WORK/sqlite.sql"; }
sqlite_query() { sqlite3 -batch -bail -noheader -list "$1" "$2"; }
sqlite_versions() { sqlite_query "$1" 'SELECT version FROM __diesel_schema_migrations ORDER BY version'; }
sqlite_schema() {
    sqlite_query "$1" "
        SELECT 'table ' || name FROM sqlite_master WHERE type = 'table'
        UNION ALL
        SELECT 'column ' || m.name || '.' || p.name || ' ' || p.type || ' notnull=' || p.\"notnull\"
               || ' default=' || coalesce(p.dflt_value, 'NULL') || ' pk=' || p.pk
        FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = 'table'
        UNION ALL
        SELECT 'index ' || m.name || ' ' || i.name || ' unique=' || i.\"unique\" || ' origin=' || i.origin
               || ' col' || c.seqno || '=' || coalesce(c.name, '?')
        FROM sqlite_master m, pragma_index_list(m.name) i, pragma_index_info(i.name) c WHERE m.type = 'table'
        UNION ALL
        SELECT 'fk ' || m.name || '.' || f.\"from\" || ' -> ' || f.\"table\" || '.' || f.\"to\"
               || ' on_delete=' || f.on_delete || ' on_update=' || f.on_update
        FROM sqlite_master m, pragma_foreign_key_list(m.name) f WHERE m.type = 'table'
        UNION ALL
        SELECT 'trigger ' || name || ' on ' || tbl_name || ': ' || replace(sql, char(10), ' ')
        FROM sqlite_master WHERE type = 'trigger'
        ORDER BY 1"
}
sqlite_preamble() {
    # What botdb does on every SQLite connection (src/db.rs).
    printf '%s\n' 'PRAGMA foreign_keys = ON;' 'PRAGMA busy_timeout = 5000;'
}

# PostgreSQL -----------------------------------------------------------------------------

# On Debian/Ubuntu /usr/bin/psql is pg_wrapper, a Perl script that adds ~30 ms to every call
# before exec'ing the real psql; call the real one so the client is not charged for Perl.
PSQL=${BENCH_PSQL:-$(command -v psql || true)}
if [[ -z ${BENCH_PSQL:-} && -n $PSQL ]] && [[ $(head -c 2 "$PSQL") == '#!' ]]; then
    real=$(printf '%s\n' /usr/lib/postgresql/*/bin/psql | sort -V | tail -n 1)
    if [[ -x $real ]]; then PSQL=$real; fi
fi
# botdb's driver (tokio-postgres with NoTls) talks plain TCP; libpq would try GSSAPI and TLS first.
pg() {
    PGCONNECT_TIMEOUT=5 PGSSLMODE=disable PGGSSENCMODE=disable \
        "$PSQL" -X -q -v ON_ERROR_STOP=1 -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" "$@"
}
postgres_check() {
    [[ -n $PSQL ]] || { SKIP="psql not installed"; return 1; }
    pg -d postgres -Atc 'SELECT 1' >/dev/null 2>&1 \
        || { SKIP="server unreachable at $PG_HOST:$PG_PORT (user $PG_USER)"; return 1; }
}
postgres_create() {
    DB=${TAG}_$SEQ
    LIVE[postgres:$DB]=1   # registered first, so an interrupted CREATE is still cleaned up
    pg -d postgres -c "CREATE DATABASE \"$DB\"" >/dev/null
    URL=postgres://$PG_USER@$PG_HOST:$PG_PORT/$DB
}
postgres_drop() {
    if [[ ${2:-} == force ]]; then   # from the trap: a killed botdb may still be connected
        pg -d postgres -c "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" >/dev/null 2>&1 \
            || pg -d postgres -c "DROP DATABASE IF EXISTS \"$1\"" >/dev/null
    else
        pg -d postgres -c "DROP DATABASE IF EXISTS \"$1\"" >/dev/null
    fi
}
postgres_client() { pg -d "$1" -f "$WORK/postgres.sql"; }
postgres_versions() { pg -d "$1" -Atc 'SELECT version FROM __diesel_schema_migrations ORDER BY version'; }
postgres_schema() {
    pg -d "$1" -At -c "
        SELECT 'table ' || table_name FROM information_schema.tables WHERE table_schema = 'public'
        UNION ALL
        SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' null=' || is_nullable
               || ' default=' || coalesce(column_default, 'NULL')
        FROM information_schema.columns WHERE table_schema = 'public'
        UNION ALL
        SELECT 'sequence ' || sequence_name FROM information_schema.sequences WHERE sequence_schema = 'public'
        UNION ALL
        SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public'
        UNION ALL
        SELECT 'constraint ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
        FROM pg_constraint WHERE connamespace = 'public'::regnamespace
        UNION ALL
        SELECT 'trigger ' || pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal
        UNION ALL
        SELECT 'function ' || proname || ' md5=' || md5(pg_get_functiondef(oid))
        FROM pg_proc WHERE pronamespace = 'public'::regnamespace
        ORDER BY 1"
}
postgres_preamble() {
    # What diesel-async's PostgreSQL connection does on connect.
    printf '%s\n' "SET TIME ZONE 'UTC';" "SET CLIENT_ENCODING TO 'UTF8';"
}

# MySQL / MariaDB ------------------------------------------------------------------------

MYSQL_CLIENT=$(command -v mariadb || command -v mysql || true)
my() { "$MYSQL_CLIENT" --connect-timeout=5 --batch --skip-column-names -h "$MY_HOST" -P "$MY_PORT" -u "$MY_USER" "$@"; }
mysql_check() {
    [[ -n $MYSQL_CLIENT ]] || { SKIP="neither mariadb nor mysql client installed"; return 1; }
    my -e 'SELECT 1' >/dev/null 2>&1 \
        || { SKIP="server unreachable at $MY_HOST:$MY_PORT (user $MY_USER)"; return 1; }
}
mysql_create() {
    DB=${TAG}_$SEQ
    LIVE[mysql:$DB]=1
    my -e "CREATE DATABASE \`$DB\`"
    URL=mysql://$MY_USER@$MY_HOST:$MY_PORT/$DB
}
mysql_drop() { my -e "DROP DATABASE IF EXISTS \`$1\`"; }
mysql_client() { my "$1" <"$WORK/mysql.sql"; }
mysql_versions() { my "$1" -e 'SELECT version FROM __diesel_schema_migrations ORDER BY version'; }
mysql_schema() {
    my "$1" -e "
        SELECT CONCAT('table ', table_name) AS line FROM information_schema.tables
        WHERE table_schema = DATABASE()
        UNION ALL
        SELECT CONCAT('column ', table_name, '.', column_name, ' ', column_type, ' null=', is_nullable,
                      ' default=', COALESCE(column_default, 'NULL'), ' extra=', extra)
        FROM information_schema.columns WHERE table_schema = DATABASE()
        UNION ALL
        SELECT CONCAT('index ', table_name, ' ', index_name, ' unique=', 1 - non_unique,
                      ' col', seq_in_index, '=', column_name)
        FROM information_schema.statistics WHERE table_schema = DATABASE()
        UNION ALL
        SELECT CONCAT('fk ', k.table_name, ' ', k.constraint_name, ' ', k.column_name, ' -> ',
                      k.referenced_table_name, '.', k.referenced_column_name,
                      ' on_delete=', r.delete_rule, ' on_update=', r.update_rule)
        FROM information_schema.key_column_usage k
        JOIN information_schema.referential_constraints r
          ON r.constraint_schema = k.constraint_schema AND r.constraint_name = k.constraint_name
        WHERE k.table_schema = DATABASE()
        UNION ALL
        SELECT CONCAT('trigger ', trigger_name, ' ', action_timing, ' ', event_manipulation, ' ',
                      event_object_table, ' md5=', MD5(action_statement))
        FROM information_schema.triggers WHERE trigger_schema = DATABASE()
        ORDER BY 1"
}
mysql_preamble() {
    # What diesel-async's MySQL connection does on connect.
    printf '%s\n' "SET time_zone = '+00:00';" "SET character_set_client = 'utf8mb4';" \
        "SET character_set_connection = 'utf8mb4';" "SET character_set_results = 'utf8mb4';"
}

# Shared ---------------------------------------------------------------------------------

# create_db BACKEND: a fresh empty database; sets DB (name or path) and URL (for botdb).
create_db() { SEQ=$((SEQ + 1)); "$1_create"; }

# drop_db BACKEND NAME [force]
drop_db() { "$1_drop" "$2" "${3:-}"; unset "LIVE[$1:$2]"; }

# migration_dirs BACKEND: the migration folders, oldest first (diesel sorts by version).
migration_dirs() {
    local dir
    for dir in "$MIGRATIONS/$1"/*/; do
        [[ -f $dir/up.sql ]] && printf '%s\n' "${dir%/}"
    done | LC_ALL=C sort
}
# version_of FOLDER: diesel's version, the part before the first '_' without dashes.
version_of() { local name=${1##*/}; name=${name%%_*}; printf '%s\n' "${name//-/}"; }
# generate_script BACKEND: the client-side equivalent of `botdb migrate`, on stdout: the
# session setup botdb's driver does, then `botdb print-sql`'s script for an empty database,
# which is exactly the SQL and the transactions migrate runs (bookkeeping included).
generate_script() {
    local b=$1
    "${b}_preamble"
    env -u RUST_LOG -u DATABASE_URL -u DB_URL "$BOTDB" --quiet --migrations-dir "$MIGRATIONS" \
        print-sql --offline --dialect "$b"
}
# verify BACKEND: migrate one database with botdb and one with the client script, and
# stop the script unless both hold the same schema and the expected versions.
verify() {
    local b=$1 botdb_db client_db expected side tables
    create_db "$b"; botdb_db=$DB
    timed run_botdb "$URL"
    create_db "$b"; client_db=$DB
    timed "${b}_client" "$client_db"

    "${b}_schema" "$botdb_db" >"$WORK/$b.botdb.schema"
    "${b}_schema" "$client_db" >"$WORK/$b.client.schema"
    "${b}_versions" "$botdb_db" >"$WORK/$b.botdb.versions"
    "${b}_versions" "$client_db" >"$WORK/$b.client.versions"
    drop_db "$b" "$botdb_db"
    drop_db "$b" "$client_db"

    if ! diff -u "$WORK/$b.botdb.schema" "$WORK/$b.client.schema" >"$WORK/$b.diff"; then
        log "$b: botdb and the client script leave different schemas (- botdb, + client):"
        cat "$WORK/$b.diff" >&2
        die "$b: schema mismatch; is $BOTDB built from the current migrations/?"
    fi
    expected=$(migration_dirs "$b" | while IFS= read -r d; do version_of "$d"; done)
    for side in botdb client; do
        if [[ $(<"$WORK/$b.$side.versions") != "$expected" ]]; then
            log "$b: $side recorded these versions:"; sed 's/^/    /' "$WORK/$b.$side.versions" >&2
            log "expected (from migrations/$b):"; printf '%s\n' "$expected" | sed 's/^/    /' >&2
            die "$b: recorded versions differ; is $BOTDB built from the current migrations/?"
        fi
    done
    tables=$(grep -c '^table ' "$WORK/$b.botdb.schema" || true)
    ((tables > 1)) || die "$b: the migrated database has no tables besides the bookkeeping one"
    log "$b: schemas match ($tables tables, $(grep -c '' "$WORK/$b.botdb.schema") schema lines, $(wc -l <"$WORK/$b.botdb.versions") versions)"
}

# bench BACKEND: RUNS timed runs per side; appends a row to ROWS.
bench() {
    local b=$1 i side order
    local -a botdb_us=() client_us=()
    for ((i = 1; i <= RUNS; i++)); do
        if ((i % 2)); then order="botdb client"; else order="client botdb"; fi
        for side in $order; do
            create_db "$b"
            if [[ $side == botdb ]]; then
                timed run_botdb "$URL"; botdb_us+=("$ELAPSED")
            else
                timed "${b}_client" "$DB"; client_us+=("$ELAPSED")
            fi
            drop_db "$b" "$DB"
        done
        if [[ -t 2 ]]; then printf '\r%s: run %d/%d' "$b" "$i" "$RUNS" >&2; fi
    done
    if [[ -t 2 ]]; then printf '\n' >&2; fi
    log "$b: $RUNS runs per side done"
    local mb mc ratio
    mb=$(median_ms "${botdb_us[@]}")
    mc=$(median_ms "${client_us[@]}")
    ratio=$(awk -v a="$mb" -v c="$mc" 'BEGIN { printf "%.2f", a / c }')
    ROWS+=("| $b | $RUNS | $mb | $mc | ${ratio}x |")
}

# ---------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------

log "botdb: $BOTDB"
log "clients: $(command -v sqlite3 || echo 'no sqlite3'), ${PSQL:-no psql}, ${MYSQL_CLIENT:-no mariadb/mysql}"
log "runs per side: $RUNS; scratch: $WORK"
ROWS=()
for b in "${SELECTED[@]}"; do
    [[ -d $MIGRATIONS/$b ]] || die "no migrations folder $MIGRATIONS/$b"
    [[ -n $(migration_dirs "$b") ]] || die "no migrations in $MIGRATIONS/$b"
    SKIP=
    if ! "${b}_check"; then
        log "$b: skipped ($SKIP)"
        ROWS+=("| $b | – | skipped: $SKIP | – | – |")
        continue
    fi
    generate_script "$b" >"$WORK/$b.sql"
    verify "$b"
    bench "$b"
done

printf '| backend | runs | botdb median (ms) | client median (ms) | botdb/client |\n'
printf '|---|---:|---:|---:|---:|\n'
printf '%s\n' "${ROWS[@]}"
