#!/usr/bin/env bash
# PgBouncer (transaction mode, ?pgbouncer=true) against a direct connection, as ratios:
# `migrate` of a fresh database, and `status` (the read path: bookkeeping queries, each in
# its own transaction behind the pooler). Needs the servers .ci/run starts:
#   DIRECT=postgres://postgres@127.0.0.1:5432 POOLED=postgres://postgres@127.0.0.1:6432 bench/pooler.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
direct=${DIRECT:-postgres://postgres@127.0.0.1:5432}
pooled=${POOLED:-postgres://postgres@127.0.0.1:6432}
# BIN=target/debug/botdb skips the release build.
bin=${BIN:-target/release/botdb}
[ -n "${BIN:-}" ] || cargo build --release --quiet
ms() { local s; s=$(date +%s%N); "$@" >/dev/null; echo $(( ($(date +%s%N) - s) / 1000000 )); }
total() { # URL_BASE QUERY: migrate then status ×10, on $runs fresh databases; prints ms per phase
    local base=$1 query=$2 m=0 st=0
    for i in $(seq 1 "$runs"); do
        local name="botdb_bench_pooler_$$_${i}_$RANDOM"
        psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $name"
        m=$((m + $(ms "$bin" --database-url "$base/$name$query" migrate)))
        for _ in $(seq 1 10); do st=$((st + $(ms "$bin" --database-url "$base/$name$query" status))); done
        psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE $name WITH (FORCE)"
    done
    echo "$m $st"
}
read -r dm ds < <(total "$direct" "")
read -r pm ps < <(total "$pooled" "?pgbouncer=true")
printf 'migrate: direct %d ms, pooled %d ms, ratio %.2f\n' "$((dm / runs))" "$((pm / runs))" "$(echo "$pm / $dm" | bc -l)"
printf 'status:  direct %d ms, pooled %d ms, ratio %.2f\n' "$((ds / runs / 10))" "$((ps / runs / 10))" "$(echo "$ps / $ds" | bc -l)"
