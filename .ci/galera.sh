#!/usr/bin/env bash
# A throw-away 3-node MariaDB Galera cluster on loopback, for the tests of issue 13.
#
#   .ci/galera.sh start DIR   starts it in DIR (a fresh temporary folder), waits until all
#                             three nodes are Synced in a cluster of 3, and prints
#                             TEST_GALERA_URLS=mysql://root@127.0.0.1:3311/mysql,…
#   .ci/galera.sh stop DIR    stops the nodes started in DIR, by their pids
#   .ci/galera.sh rejoin DIR N   starts node N of DIR again (after a test killed it) and
#                             waits until it is Synced in a cluster of 3
#
# Ports: SQL 3311-3313, group communication 4571-4573, IST 5571-5573, SST 6571-6573
# (override the base with GALERA_PORT_BASE, default 3310). The shared MariaDB on 3306 is
# never touched.
set -euo pipefail

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR, or $0 rejoin DIR NODE" >&2; exit 2; }
base=${GALERA_PORT_BASE:-3310}
provider=/usr/lib/galera/libgalera_smm.so

node_port() { echo $((base + $1)); }
log() { printf '==> galera: %s\n' "$*" >&2; }
client() { mariadb --no-defaults -u root -h 127.0.0.1 -P "$(node_port "$1")" -N -B "${@:2}"; }

write_config() {
    local n=$1 d="$dir/n$1"
    local gcomm="gcomm://127.0.0.1:$((base + 1261)),127.0.0.1:$((base + 1262)),127.0.0.1:$((base + 1263))"
    cat >"$d/my.cnf" <<CNF
[mysqld]
datadir=$d/data
socket=$d/mysqld.sock
pid-file=$d/mysqld.pid
log-error=$d/error.log
port=$(node_port "$n")
bind-address=127.0.0.1
skip-name-resolve
user=mysql
innodb_buffer_pool_size=32M
innodb_log_file_size=16M
key_buffer_size=1M
performance_schema=OFF
max_connections=300
binlog_format=ROW
default_storage_engine=InnoDB
innodb_autoinc_lock_mode=2
innodb_flush_log_at_trx_commit=2
wsrep_on=ON
wsrep_provider=$provider
wsrep_cluster_name=botdb_test_$base
wsrep_cluster_address=$gcomm
wsrep_node_name=n$n
wsrep_node_address=127.0.0.1:$((base + 1260 + n))
wsrep_provider_options="gmcast.listen_addr=tcp://127.0.0.1:$((base + 1260 + n));ist.recv_addr=127.0.0.1:$((base + 2260 + n));gcache.size=16M;evs.suspect_timeout=PT3S;evs.inactive_timeout=PT6S;evs.install_timeout=PT6S"
wsrep_sst_method=rsync
wsrep_sst_receive_address=127.0.0.1:$((base + 3260 + n))
CNF
}

start_node() {
    local n=$1; shift
    mariadbd --defaults-file="$dir/n$n/my.cnf" "$@" >>"$dir/n$n/stdout.log" 2>&1 &
    echo $! >"$dir/n$n/pid"
}

state() { client "$1" -e "SELECT CONCAT(IF(@@wsrep_on, 'ON', 'OFF'), ' ', (SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='WSREP_CLUSTER_SIZE'), ' ', (SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='WSREP_LOCAL_STATE_COMMENT'))" 2>/dev/null || true; }

wait_synced() {
    local n=$1 want=$2 deadline=$((SECONDS + 90))
    while [ $SECONDS -lt $deadline ]; do
        if [ "$(state "$n")" = "ON $want Synced" ]; then return 0; fi
        if ! kill -0 "$(cat "$dir/n$n/pid")" 2>/dev/null; then
            echo "error: galera node $n (port $(node_port "$n")) exited; see $dir/n$n/error.log" >&2
            tail -n 20 "$dir/n$n/error.log" >&2 || true
            return 1
        fi
        sleep 0.5
    done
    echo "error: galera node $n is not Synced in a cluster of $want after 90 s: $(state "$n"); see $dir/n$n/error.log" >&2
    return 1
}

case $cmd in
start)
    [ -e "$provider" ] || { echo "error: $provider missing: apt-get install galera-4" >&2; exit 1; }
    command -v rsync >/dev/null || { echo "error: rsync missing (the SST method): apt-get install rsync" >&2; exit 1; }
    # The nodes run as mysql: rsync's SST daemon, started by a node running as root,
    # would drop to nobody and could not write the joiner's datadir.
    mkdir -p "$dir/n1"
    chmod 755 "$dir"
    chown mysql: "$dir/n1"
    t0=$SECONDS
    mariadb-install-db --no-defaults --user=mysql --datadir="$dir/n1/data" --skip-test-db \
        --auth-root-authentication-method=normal >"$dir/install.log" 2>&1 \
        || { cat "$dir/install.log" >&2; exit 1; }
    for n in 1 2 3; do
        mkdir -p "$dir/n$n"
        chown mysql: "$dir/n$n"
        [ "$n" = 1 ] || cp -a "$dir/n1/data" "$dir/n$n/data"
        write_config "$n"
    done
    log "bootstrapping node 1 on port $(node_port 1)"
    start_node 1 --wsrep-new-cluster
    wait_synced 1 1
    # TCP logins as root from 127.0.0.1, with an empty password, as on the shared server.
    client 1 -e "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'; GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;" 2>/dev/null \
        || mariadb --no-defaults -u root -S "$dir/n1/mysqld.sock" -e "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'; GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;"
    for n in 2 3; do
        log "starting node $n on port $(node_port "$n")"
        start_node "$n"
        wait_synced "$n" "$n"
    done
    wait_synced 1 3
    log "3 nodes Synced in $((SECONDS - t0)) s"
    echo "TEST_GALERA_URLS=mysql://root@127.0.0.1:$(node_port 1)/mysql,mysql://root@127.0.0.1:$(node_port 2)/mysql,mysql://root@127.0.0.1:$(node_port 3)/mysql"
    ;;
rejoin)
    n=${3:-}
    case $n in 1|2|3) ;; *) echo "usage: $0 rejoin DIR 1|2|3" >&2; exit 2 ;; esac
    if kill -0 "$(cat "$dir/n$n/pid")" 2>/dev/null; then
        echo "error: galera node $n is still running" >&2; exit 1
    fi
    log "node $n rejoins on port $(node_port "$n")"
    t0=$SECONDS
    start_node "$n"
    wait_synced "$n" 3
    log "node $n Synced again in $((SECONDS - t0)) s"
    ;;
stop)
    for n in 3 2 1; do
        f="$dir/n$n/pid"
        [ -f "$f" ] || continue
        pid=$(cat "$f")
        kill "$pid" 2>/dev/null || continue
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    done
    ;;
*) echo "usage: $0 start|stop|rejoin DIR [N]" >&2; exit 2 ;;
esac
