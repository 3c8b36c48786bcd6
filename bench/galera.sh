#!/usr/bin/env bash
# bench/galera.sh — botdb on a 3-node MariaDB Galera cluster against a single MariaDB.
#
# What is measured (wall clock, microseconds, whole processes):
#   single    `botdb --quiet migrate` on a fresh database of the single MariaDB
#             ($SINGLE_URL, default mysql://root@127.0.0.1:3306/mysql): GET_LOCK.
#   cluster   the same on a fresh database of the cluster, through node 1: botdb sees a
#             Galera node and takes its lock row (a certified write), and every DDL runs
#             in total order on all three nodes.
#   ratio     median cluster / median single.
#   visible   after `botdb migrate` on node 1 returns, how long node 2 takes until its
#             `botdb status --check` exits 0 (every migration visible there), polled by a
#             second process started right away; this is Galera's apply lag plus one
#             botdb start-up per poll.
# Every run gets its own database (CREATE DATABASE with a unique name, not timed).
#
# Usage: bench/galera.sh [-n RUNS]        (default 9, or $BENCH_RUNS)
# Environment: TEST_GALERA_URLS (the nodes, comma-separated; without it a cluster is
# started with .ci/galera.sh in a temporary folder and stopped at the end), SINGLE_URL,
# BOTDB (binary; default target/release/botdb, built if missing).
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${BENCH_RUNS:-9}
case ${1:-} in
-n | --runs) runs=$2 ;;
-h | --help) sed -n '2,22p' "$0"; exit 0 ;;
"") ;;
*) echo "usage: $0 [-n RUNS]" >&2; exit 2 ;;
esac
single=${SINGLE_URL:-mysql://root@127.0.0.1:3306/mysql}
botdb=${BOTDB:-target/release/botdb}
[ -x "$botdb" ] || cargo build --release >&2

if [ -z "${TEST_GALERA_URLS:-}" ]; then
    dir=$(mktemp -d)
    trap '.ci/galera.sh stop "$dir"; rm -rf "$dir"' EXIT
    export "$(.ci/galera.sh start "$dir")"
fi
IFS=, read -r node1 node2 _ <<<"$TEST_GALERA_URLS"

now() { local t=${EPOCHREALTIME/./}; echo "${t:-$(($(date +%s%N) / 1000))}"; }
# URL with its database replaced.
with_db() { echo "${1%/*}/$2"; }
sql() { # URL SQL
    local rest=${1#mysql://} ; local userhost=${rest%%/*}
    local user=${userhost%@*} hostport=${userhost#*@}
    mariadb --no-defaults -u "$user" -h "${hostport%:*}" -P "${hostport##*:}" -N -B -e "$2"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

measure() { # SERVER_URL → microseconds of one migrate on a fresh database
    local name="bench_g_$$_$RANDOM$RANDOM"
    sql "$1" "CREATE DATABASE $name"
    # A new database reaches the other nodes a moment later; not part of the migrate.
    sleep 0.3
    local t0 t1
    t0=$(now)
    "$botdb" --quiet --database-url "$(with_db "$1" "$name")" migrate >/dev/null
    t1=$(now)
    sql "$1" "DROP DATABASE $name"
    echo $((t1 - t0))
}

visible() { # → microseconds from node 1's migrate returning to node 2 seeing it all
    local name="bench_g_$$_$RANDOM$RANDOM"
    sql "$node1" "CREATE DATABASE $name"
    sleep 0.3
    "$botdb" --quiet --database-url "$(with_db "$node1" "$name")" migrate >/dev/null
    local t0 t1 polls=1
    t0=$(now)
    until "$botdb" --quiet --database-url "$(with_db "$node2" "$name")" status --check >/dev/null 2>&1; do
        polls=$((polls + 1))
    done
    t1=$(now)
    sql "$node1" "DROP DATABASE $name"
    echo "$((t1 - t0)) $polls"
}

single_times=() cluster_times=() visible_times=()
for i in $(seq 1 "$runs"); do
    printf 'run %d/%d\n' "$i" "$runs" >&2
    if [ $((i % 2)) = 0 ]; then
        single_times+=("$(measure "$single")"); cluster_times+=("$(measure "$node1")")
    else
        cluster_times+=("$(measure "$node1")"); single_times+=("$(measure "$single")")
    fi
    visible_times+=("$(visible)")
done
s=$(printf '%s\n' "${single_times[@]}" | median)
c=$(printf '%s\n' "${cluster_times[@]}" | median)
v=$(printf '%s\n' "${visible_times[@]}" | cut -d' ' -f1 | median)
p=$(printf '%s\n' "${visible_times[@]}" | cut -d' ' -f2 | sort -n | tail -1)
echo "| | median |"
echo "|---|---|"
printf '| migrate, single MariaDB | %d ms |\n' $((s / 1000))
printf '| migrate, 3-node Galera (node 1) | %d ms |\n' $((c / 1000))
awk -v c="$c" -v s="$s" 'BEGIN { printf "| ratio cluster/single | %.2f |\n", c / s }'
printf '| node 2 sees every migration after | %d ms (at most %d botdb status --check polls) |\n' $((v / 1000)) "$p"
