#!/usr/bin/env bash
# The fixture library against #[sqlx::test], side by side in one run (issue 5):
#
#   bash benches/fixture.sh           # writes target/bench/fixture.md and prints it
#
# The project in benches/fixture/ has the example schema plus 27 migrations (30 files) and
# the demo scenario. sqlx's tests get the same data from fixture SQL dumped here from a
# database dbenv built (sqlite3 .dump / pg_dump --inserts), so both start from equal rows.
# On PostgreSQL each tool uses the server its users would: sqlx the server of DATABASE_URL
# (a native one, `dbenv up server`), dbenv the throwaway native server it starts for the test
# run (env `test`); both PostgreSQL 15 with fsync off. The start of dbenv's server is part of
# the suite's time.
#
# Figures:
# 1. set-up per test, dbenv alone: TestDb::build() to a ready pool, mean of 200, back to
#    back and with 20 ms of test work between builds (when copies made ahead are ready);
# 2. per test, both tools, from whole runs: (200 tests - 1 test) / 199 on one thread;
# 3. a suite of 200 tests end to end (the binaries, default threads), hyperfine.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bench="$root/benches/fixture"
command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine >/dev/null; }
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
dbenv="$root/target/release/dbenv"
out="$root/target/bench"
mkdir -p "$out"
cd "$bench"
cleanup() { "$dbenv" -q down server --purge >/dev/null 2>&1 || true; }
trap cleanup EXIT

echo "== fixture SQL for sqlx, dumped from dbenv's demo databases" >&2
mkdir -p fixtures
"$dbenv" -q reset dev --scenario demo >/dev/null
sqlite3 .dbenv/dev.sqlite ".dump --data-only" | grep -v '_sqlx_migrations' >fixtures/demo_sqlite.sql
"$dbenv" -q reset pgdemo --scenario demo >/dev/null
pg_dump --data-only --inserts --exclude-table=_sqlx_migrations -d "$("$dbenv" url pgdemo)" \
  | grep -v '^SET \|^SELECT pg_catalog.set_config' >fixtures/demo_pg.sql
"$dbenv" -q down pgdemo --purge >/dev/null
echo "   $(grep -c '^INSERT' fixtures/demo_sqlite.sql) rows (SQLite), $(grep -c '^INSERT' fixtures/demo_pg.sql) rows (PostgreSQL)" >&2

"$dbenv" -q up server >/dev/null
export DATABASE_URL
DATABASE_URL=$("$dbenv" url server)
# Durability off, as on dbenv's throwaway test servers: the same footing for both tools.
psql -q "${DATABASE_URL%/server}/postgres" -c "ALTER SYSTEM SET fsync = off" \
  -c "ALTER SYSTEM SET synchronous_commit = off" -c "ALTER SYSTEM SET full_page_writes = off" \
  -c "SELECT pg_reload_conf()" >/dev/null

echo "== building the four suites (release)" >&2
export CARGO_TARGET_DIR="$root/target/fixture-bench"
bins=$(cargo test --release --no-run --message-format=json 2>/dev/null \
  | python3 -c 'import json,sys
for l in sys.stdin:
    m=json.loads(l)
    if m.get("reason")=="compiler-artifact" and m.get("executable") and "test" in m["target"]["kind"]:
        print(m["target"]["name"], m["executable"])')
bin() { echo "$bins" | awk -v n="$1" '$1==n {print $2}'; }

echo "== 1. dbenv set-up alone" >&2
setup=$("$(bin setup_time)" --ignored --nocapture --test-threads=1 2>&1 | tee "$out/fixture-setup.log" | grep -o "SETUP.*" || { cat "$out/fixture-setup.log" >&2; exit 1; })
echo "$setup" >&2

per_test() { # suite -> ms per test on one thread, from 200 tests minus 1 test
  local b; b=$(bin "$1")
  hyperfine -N -w 1 -r 3 --export-json "$out/fixture-$1.json" \
    "$b --test-threads=1 --exact test_0" "$b --test-threads=1" >/dev/null
  python3 -c 'import json,sys
r=json.load(open(sys.argv[1]))["results"]
print("%.2f" % ((r[1]["mean"]-r[0]["mean"])/199*1000))' "$out/fixture-$1.json"
}
echo "== 2. per test, from whole runs on one thread" >&2
declare -A per
for s in dbenv_sqlite sqlx_sqlite dbenv_pg sqlx_pg; do per[$s]=$(per_test "$s"); echo "   $s: ${per[$s]} ms" >&2; done

echo "== 3. suites of 200, default threads" >&2
hyperfine -N -w 1 -r 5 --export-markdown "$out/fixture-suite-sqlite.md" \
  -n dbenv "$(bin dbenv_sqlite)" -n "sqlx::test" "$(bin sqlx_sqlite)" >&2
hyperfine -N -w 1 -r 5 --export-markdown "$out/fixture-suite-pg.md" \
  -n dbenv "$(bin dbenv_pg)" -n "sqlx::test" "$(bin sqlx_pg)" >&2

{
  echo "### Per test (one thread; (200 tests - 1 test) / 199, test body and teardown included)"
  echo
  echo "| engine | dbenv | #[sqlx::test] | ratio |"
  echo "|---|---|---|---|"
  for e in sqlite pg; do
    python3 -c 'import sys; d,s=float(sys.argv[2]),float(sys.argv[3]); print("| %s | %.2f ms | %.2f ms | %.1fx |" % (sys.argv[1], d, s, s/d))' \
      "$e" "${per[dbenv_$e]}" "${per[sqlx_$e]}"
  done
  echo
  echo "### dbenv set-up alone (TestDb::build to a ready pool, 200 builds)"
  echo
  echo '```'
  echo "$setup"
  echo '```'
  echo
  echo "### A suite of 200 tests, SQLite"
  echo
  cat "$out/fixture-suite-sqlite.md"
  echo
  echo "### A suite of 200 tests, PostgreSQL"
  echo
  cat "$out/fixture-suite-pg.md"
} | tee "$out/fixture.md"
