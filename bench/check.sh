#!/usr/bin/env bash
# bench/check.sh — what `botdb check` costs next to `botdb status` on an up-to-date SQLite
# database. check reads the history as status does, then the catalogue once (five queries
# over sqlite_master and the pragmas, for all tables at once) and compares it with the
# declared model; it builds no scratch database.
# The target is check <= status + one catalogue read.
#
# Timed with hyperfine (warm-up 3), whole processes, on one database migrated once. The
# "catalogue read" is measured as a third command: `sqlite3` running the pragma queries
# botdb's introspection issues, minus `sqlite3` running nothing (its start-up).
#
# Usage:
#   bench/check.sh [-n RUNS]        (default 40 runs per command)
#
# Environment:
#   BOTDB   botdb binary; otherwise target/release/botdb, built if it does not exist.
set -euo pipefail

runs=40
while [[ $# -gt 0 ]]; do
    case "$1" in
        -n|--runs) runs="$2"; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench/check.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

command -v hyperfine >/dev/null || { echo "bench/check.sh: hyperfine is not installed" >&2; exit 2; }
command -v sqlite3 >/dev/null || { echo "bench/check.sh: sqlite3 is not installed" >&2; exit 2; }

root="$(cd "$(dirname "$0")/.." && pwd)"
botdb="${BOTDB:-$root/target/release/botdb}"
if [[ ! -x "$botdb" ]]; then
    echo "building $botdb" >&2
    (cd "$root" && cargo build --release --quiet)
fi

dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
db="$dir/bench.sqlite3"
url="sqlite://$db"
"$botdb" --database-url "$url" migrate >/dev/null
"$botdb" --database-url "$url" check >/dev/null || {
    echo "bench/check.sh: check does not pass on a fresh database" >&2
    exit 1
}

catalogue="$dir/catalogue.sql"
# The five queries src/introspect/sqlite.rs runs, each over all tables at once.
tables="m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
cat >"$catalogue" <<SQL
SELECT m.name, m.sql FROM sqlite_master m WHERE $tables;
SELECT m.name, p.name, p.type, p."notnull" = 0, p.dflt_value, 0, p.pk, 0
  FROM sqlite_master m, pragma_table_info(m.name) p WHERE $tables ORDER BY m.name, p.cid;
SELECT m.name, CASE il.origin WHEN 'u' THEN '' ELSE il.name END, il."unique",
  (SELECT group_concat(name, ',') FROM (SELECT ii.name FROM pragma_index_info(il.name) ii ORDER BY ii.seqno))
  FROM sqlite_master m, pragma_index_list(m.name) il WHERE $tables AND il.origin <> 'pk';
SELECT table_name, '', group_concat("from", ','), "table", group_concat("to", ','), on_delete
  FROM (SELECT m.name AS table_name, f.* FROM sqlite_master m, pragma_foreign_key_list(m.name) f
        WHERE $tables ORDER BY m.name, f.id, f.seq) GROUP BY table_name, id;
SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger';
SQL

hyperfine --warmup 3 --runs "$runs" --export-markdown "$dir/result.md" --export-json "$dir/result.json" \
    -n status "$botdb --database-url $url status" \
    -n check "$botdb --database-url $url check" \
    -n "sqlite3 catalogue" "sqlite3 $db < $catalogue" \
    -n "sqlite3 start" "sqlite3 $db < /dev/null" >&2
cat "$dir/result.md"
# Medians, which the machine's other load disturbs less than the means above.
python3 - "$dir/result.json" <<'PY'
import json, sys
r = {x["command"]: x["median"] * 1000 for x in json.load(open(sys.argv[1]))["results"]}
read = max(r["sqlite3 catalogue"] - r["sqlite3 start"], 0.0)
print(f"\nmedians: status {r['status']:.1f} ms, check {r['check']:.1f} ms, "
      f"catalogue read {read:.1f} ms; check - status = {r['check'] - r['status']:.1f} ms")
PY
