#!/usr/bin/env bash
# The fixture library against #[sqlx::test], side by side in one run (issue 5):
#
#   bash benches/fixture.sh           # writes target/bench/fixture.md and prints it
#   ENGINES=pg bash benches/fixture.sh  # only PostgreSQL (sqlx's SQLite suite takes minutes)
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
# 1. set-up per test, to a ready pool with the data present: dbenv's TestDb::build() (mean of
#    200, back to back and with 20 ms of test work between builds, when copies made ahead
#    are ready) against #[sqlx::test]'s set-up steps (tests/setup_time.rs);
# 2. per test, both tools, from whole runs: (200 tests - 1 test) / 199 on one thread;
# 3. a suite of 200 tests end to end (the binaries, default threads), hyperfine.
set -euo pipefail
engines=${ENGINES:-sqlite pg}
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
  | grep -v '^SET \|^SELECT pg_catalog.set_config\|^\\' >fixtures/demo_pg.sql
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

echo "== 1. set-up per test" >&2
setup=$("$(bin setup_time)" --ignored --nocapture --test-threads=1 2>&1 | tee "$out/fixture-setup.log" | grep -o "SETUP.*" || { cat "$out/fixture-setup.log" >&2; exit 1; })
echo "$setup" >&2

# Timing: hyperfine; dbenv's runs are repeated (3 runs after a warm-up that also builds the
# template), sqlx's are run once (a run of its SQLite suite takes minutes).
runs() { case "$1" in dbenv_*) echo "-w 1 -r 3" ;; *) echo "-r 1" ;; esac; }
mean() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][int(sys.argv[2])]["mean"])' "$@"; }

echo "== 2. per test, from whole runs on one thread" >&2
declare -A per
suites=$(for e in $engines; do echo "dbenv_$e sqlx_$e"; done)
for s in $suites; do
  b=$(bin "$s")
  # shellcheck disable=SC2046
  hyperfine -N $(runs "$s") --export-json "$out/fixture-$s.json" \
    "$b --test-threads=1 --exact test_0" "$b --test-threads=1" >/dev/null 2>&1
  per[$s]=$(python3 -c 'import sys; print("%.2f" % ((float(sys.argv[2])-float(sys.argv[1]))/199*1000))' \
    "$(mean "$out/fixture-$s.json" 0)" "$(mean "$out/fixture-$s.json" 1)")
  echo "   $s: ${per[$s]} ms per test" >&2
done

echo "== 3. suites of 200, default threads (2 here)" >&2
declare -A suite
for s in $suites; do
  # shellcheck disable=SC2046
  hyperfine -N $(runs "$s") --export-json "$out/fixture-suite-$s.json" "$(bin "$s")" >/dev/null 2>&1
  suite[$s]=$(mean "$out/fixture-suite-$s.json" 0)
  echo "   $s: ${suite[$s]} s" >&2
done

{
  echo "### Per test (one thread; (200 tests - 1 test) / 199; set-up, body and teardown)"
  echo
  echo "| engine | dbenv | #[sqlx::test] | dbenv is faster by |"
  echo "|---|---|---|---|"
  for e in $engines; do
    python3 -c 'import sys; d,s=float(sys.argv[2]),float(sys.argv[3]); print("| %s | %.2f ms | %.2f ms | %.1fx |" % (sys.argv[1], d, s, s/d))' \
      "$e" "${per[dbenv_$e]}" "${per[sqlx_$e]}"
  done
  echo
  echo "### A suite of 200 tests end to end (the test binary, 2 threads)"
  echo
  echo "| engine | dbenv | #[sqlx::test] | dbenv is faster by |"
  echo "|---|---|---|---|"
  for e in $engines; do
    python3 -c 'import sys; d,s=float(sys.argv[2]),float(sys.argv[3]); print("| %s | %.2f s | %.2f s | %.1fx |" % (sys.argv[1], d, s, s/d))' \
      "$e" "${suite[dbenv_$e]}" "${suite[sqlx_$e]}"
  done
  echo
  echo "### Set-up per test (to a ready pool with the data present; one thread)"
  echo
  echo "| engine | dbenv, back to back | dbenv, 20 ms of test work between | #[sqlx::test] | dbenv is faster by |"
  echo "|---|---|---|---|---|"
  echo "$setup" | python3 -c '
import re, sys
rows = [dict(re.findall(r"(\w+)=(\S+)", l)) for l in sys.stdin]
def mean(**k):
    for r in rows:
        if all(r.get(a) == b for a, b in k.items()):
            return float(r["mean_ms"])
for engine, env in (("sqlite", "dev"), ("postgres", "test")):
    d0, d20 = mean(tool="dbenv", env=env, test_work_ms="0"), mean(tool="dbenv", env=env, test_work_ms="20")
    s = mean(tool="sqlx", engine=engine)
    if d0 is None or s is None:
        continue
    w = "%.2f ms" % d20 if d20 is not None else "-"
    print("| %s | %.2f ms | %s | %.2f ms | %.0fx |" % (engine, d0, w, s, s / d0))
'
  echo
  echo '```'
  echo "$setup"
  echo '```'
} | tee "$out/fixture.md"
