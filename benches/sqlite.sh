#!/usr/bin/env bash
# Side-by-side benchmarks of the SQLite development loop (issue: dev loop on SQLite).
#
#   bash benches/sqlite.sh            # writes target/bench/*.md and prints them
#
# Needs: sqlite3 and hyperfine (Debian packages; installed here when missing).
# 1. seeding throughput: dbenv generating + writing seeds/load.toml vs `sqlite3 .import`
#    of CSV files holding the very same rows into the same migrated schema (CSV made
#    beforehand; only the import is timed);
# 2. reset from a warm template vs the same reset with templates disabled;
# 3. reset --scenario demo, and a cold `up dev` (no template yet).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
need() { command -v "$1" >/dev/null || { apt-get update -qq && apt-get install -y -qq "$2" >/dev/null; }; }
need sqlite3 sqlite3
need hyperfine hyperfine
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
dbenv="$root/target/release/dbenv"
out="$root/target/bench"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
cp -r "$root/migrations" "$root/seeds" "$root/dbenv.toml" "$work/"
cd "$work"
tables="organisations users memberships projects tasks comments labels task_labels"

# The same rows as CSV, and an empty migrated database to import them into.
"$dbenv" -q reset --scenario load --no-template >/dev/null
rows=$(for t in $tables; do sqlite3 .dbenv/dev.sqlite "SELECT count(*) FROM $t"; done | paste -sd+ | bc)
for t in $tables; do sqlite3 -header -csv .dbenv/dev.sqlite "SELECT * FROM $t" >"$t.csv"; done
"$dbenv" -q reset --scenario empty --no-template >/dev/null
cp .dbenv/dev.sqlite empty.sqlite
imports=""
for t in $tables; do imports+=" '.import --csv --skip 1 $t.csv $t'"; done
echo "load scenario: $rows rows"

hyperfine --warmup 1 --runs 5 --export-markdown "$out/seed.md" \
  -n "dbenv reset --scenario load --no-template (generate + write $rows rows)" \
  "$dbenv -q reset --scenario load --no-template" \
  -n "sqlite3 .import of the same rows from CSV" \
  --prepare "cp empty.sqlite import.sqlite" \
  "sqlite3 import.sqlite $imports"

"$dbenv" -q reset --scenario load >/dev/null # warm the template
hyperfine --warmup 1 --runs 5 --export-markdown "$out/reset.md" \
  -n "dbenv reset --scenario load (warm template)" "$dbenv -q reset --scenario load" \
  -n "dbenv reset --scenario load --no-template" "$dbenv -q reset --scenario load --no-template"

"$dbenv" -q reset --scenario demo >/dev/null
hyperfine --warmup 3 --runs 30 --export-markdown "$out/demo.md" \
  -n "dbenv reset --scenario demo (warm template)" "$dbenv -q reset --scenario demo" \
  -n "dbenv up dev, cold (no template, no database)" --prepare "rm -rf .dbenv" "$dbenv -q up dev"

cat "$out/seed.md" "$out/reset.md" "$out/demo.md"
