#!/usr/bin/env bash
# PgBouncer (Debian's 1.18) in pool_mode = transaction on loopback, in front of the test
# PostgreSQL on 127.0.0.1:5432, for the tests of issue 12.
#
#   .ci/pgbouncer.sh start DIR [PORT]   starts it from DIR (a fresh temporary folder) on
#                                       127.0.0.1:PORT (default 6432), waits until it
#                                       answers, and prints
#                                       TEST_PGBOUNCER_URL=postgres://postgres@127.0.0.1:PORT/postgres?pgbouncer=true
#   .ci/pgbouncer.sh stop DIR           stops the pgbouncer started from DIR, by its pid
#
# The `*` databases entry serves any database name, so each test database created on the
# server is reached through the pooler by its name; `auth_user` lets pgbouncer look up any
# role the server has (auth_query), so the roles tests create log in through it too.
set -euo pipefail

cmd=${1:-}
dir=${2:-}
port=${3:-6432}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start DIR [PORT], or $0 stop DIR" >&2; exit 2; }

case "$cmd" in
start)
    [ -x /usr/sbin/pgbouncer ] || {
        echo "==> installing pgbouncer" >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null
    }
    chmod 755 "$dir"
    cat >"$dir/pgbouncer.ini" <<INI
[databases]
* = host=127.0.0.1 port=5432
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $dir/users.txt
auth_user = postgres
pool_mode = transaction
max_client_conn = 500
default_pool_size = 20
ignore_startup_parameters = extra_float_digits,options
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
    echo '"postgres" ""' >"$dir/users.txt"
    chown -R postgres "$dir"
    su postgres -s /bin/sh -c "/usr/sbin/pgbouncer -d -q '$dir/pgbouncer.ini'"
    for _ in $(seq 1 60); do
        if pg_isready -h 127.0.0.1 -p "$port" -q; then
            echo "TEST_PGBOUNCER_URL=postgres://postgres@127.0.0.1:$port/postgres?pgbouncer=true"
            exit 0
        fi
        sleep 1
    done
    echo "error: pgbouncer did not answer on 127.0.0.1:$port within 60 s; see $dir/pgbouncer.log" >&2
    exit 1
    ;;
stop)
    # pgbouncer runs as a daemon and writes its own pid: stop that pid and wait for it.
    [ -f "$dir/pgbouncer.pid" ] || exit 0
    pid=$(cat "$dir/pgbouncer.pid")
    kill "$pid" 2>/dev/null || exit 0
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || exit 0; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    ;;
*) echo "usage: $0 start DIR [PORT], or $0 stop DIR" >&2; exit 2 ;;
esac
