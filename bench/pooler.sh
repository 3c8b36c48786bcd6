#!/usr/bin/env bash
# PgBouncer (transaction mode, ?pgbouncer=true) against a direct connection, as ratios:
# `migrate` of a fresh database, and `status` (the read path: bookkeeping queries, each in
# its own transaction behind the pooler), and the bot's query loop through the library's
# pool (examples/bot_loop.rs: 16 tasks × 625 lookups, an insert every 25th). Needs the
# servers .ci/run starts:
#   DIRECT=postgres://postgres@127.0.0.1:5432 POOLED=postgres://postgres@127.0.0.1:6432 bench/pooler.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
direct=${DIRECT:-postgres://postgres@127.0.0.1:5432}
pooled=${POOLED:-postgres://postgres@127.0.0.1:6432}
# BIN=target/debug/botdb LOOP=target/debug/examples/bot_loop skip the release build.
bin=${BIN:-target/release/botdb}
loop=${LOOP:-target/release/examples/bot_loop}
[ -n "${BIN:-}" ] || cargo build --release --quiet
[ -n "${LOOP:-}" ] || cargo build --release --quiet --example bot_loop
ms() { local s; s=$(date +%s%N); "$@" >/dev/null; echo $(( ($(date +%s%N) - s) / 1000000 )); }
total() { # URL_BASE QUERY: migrate, status ×10, the bot's loop, on $runs fresh databases; prints ms per phase
    local base=$1 query=$2 m=0 st=0 bl=0
    for i in $(seq 1 "$runs"); do
        local name="botdb_bench_pooler_$$_${i}_$RANDOM"
        psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $name"
        m=$((m + $(ms "$bin" --database-url "$base/$name$query" migrate)))
        for _ in $(seq 1 10); do st=$((st + $(ms "$bin" --database-url "$base/$name$query" status))); done
        bl=$((bl + $("$loop" "$base/$name$query")))
        psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE $name WITH (FORCE)"
    done
    echo "$m $st $bl"
}
read -r dm ds dl < <(total "$direct" "")
read -r pm ps pl < <(total "$pooled" "?pgbouncer=true")
printf 'migrate: direct %d ms, pooled %d ms, ratio %.2f\n' "$((dm / runs))" "$((pm / runs))" "$(echo "$pm / $dm" | bc -l)"
printf 'status:  direct %d ms, pooled %d ms, ratio %.2f\n' "$((ds / runs / 10))" "$((ps / runs / 10))" "$(echo "$ps / $ds" | bc -l)"
printf 'bot loop (10,000 queries, 16 tasks): direct %d ms, pooled %d ms, ratio %.2f\n' "$((dl / runs))" "$((pl / runs))" "$(echo "$pl / $dl" | bc -l)"
