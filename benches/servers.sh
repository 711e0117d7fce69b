#!/usr/bin/env bash
# Side-by-side benchmarks of the development loop on PostgreSQL and MariaDB.
#
#   bash benches/servers.sh           # writes target/bench/server-*.md and prints them
#
# Needs: hyperfine, psql, the mariadb client, PostgreSQL and MariaDB server packages
# (installed by scripts/test.sh), and Docker with the images of scripts/images.sh for the
# container figures.
# 1. seeding throughput of seeds/load.toml: `dbenv seed` (generate + write) into an empty
#    migrated database vs loading the very same rows, exported beforehand, with the
#    engine's bulk tool: `psql \copy` (PostgreSQL), `LOAD DATA LOCAL INFILE` (MariaDB);
# 2. reset from the template vs the same reset without templates, for demo and load;
# 3. `up` to ready: a stopped native server and a stopped container, with a seeded
#    database (ready = `up` returned: server answers, migrations checked, data present).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine >/dev/null; }
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
dbenv="$root/target/release/dbenv"
out="$root/target/bench"
work=$(mktemp -d /tmp/dbenv-bench.XXXXXX)
chmod 755 "$work" # native servers run as an unprivileged user when we are root
cleanup() {
  cd "$work" && for e in pg maria pg-docker; do "$dbenv" -q down "$e" --purge >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$out"
cp -r "$root/migrations" "$root/seeds" "$work/"
cd "$work"
cat >dbenv.toml <<'TOML'
[project]
default_env = "pg"

[env.pg]
engine = "postgres"
provider = "native"

[env.pg-ref]
engine = "postgres"
url = "${PG_URL}"
database = "reference"

[env.maria]
engine = "mariadb"
provider = "native"

[env.maria-ref]
engine = "mariadb"
url = "${MARIA_URL}"
database = "reference"

[env.pg-docker]
engine = "postgres"
image = "dbenv-test/postgres:15"
pull = "never"
TOML
tables="organisations users memberships projects tasks comments labels task_labels"

# --- PostgreSQL -----------------------------------------------------------------------
"$dbenv" -q up pg --scenario empty >/dev/null
pg_url=$("$dbenv" url pg)
export PG_URL=$pg_url
"$dbenv" -q reset pg --scenario load --no-template >/dev/null
rows=$(for t in $tables; do psql -qtA "$pg_url" -c "SELECT count(*) FROM $t"; done | paste -sd+ | bc)
for t in $tables; do psql -q "$pg_url" -c "\\copy $t TO '$work/$t.pg.csv' CSV"; done
: >copy.sql
for t in $tables; do echo "\\copy $t FROM '$work/$t.pg.csv' CSV" >>copy.sql; done
ref_url=$("$dbenv" url pg-ref)
echo "load scenario: $rows rows"

hyperfine --runs 5 --export-markdown "$out/server-seed-pg.md" \
  -n "PostgreSQL: dbenv seed --scenario load (generate + COPY $rows rows)" \
  --prepare "$dbenv -q reset pg --scenario empty" "$dbenv -q seed pg --scenario load" \
  -n "PostgreSQL: dbenv reset --scenario load --no-template (new database: migrate + generate + COPY, keys checked once)" \
  --prepare "true" "$dbenv -q reset pg --scenario load --no-template" \
  -n "PostgreSQL: psql \\copy of the same rows from CSV (one transaction)" \
  --prepare "$dbenv -q reset pg-ref --scenario empty" "psql -q -1 -f copy.sql '$ref_url'"

"$dbenv" -q reset pg --scenario demo >/dev/null
"$dbenv" -q reset pg --scenario load >/dev/null
hyperfine --warmup 2 --runs 20 --export-markdown "$out/server-reset-pg-demo.md" \
  -n "PostgreSQL: dbenv reset --scenario demo (template)" "$dbenv -q reset pg --scenario demo" \
  -n "PostgreSQL: dbenv reset --scenario demo --no-template" "$dbenv -q reset pg --scenario demo --no-template"
hyperfine --warmup 1 --runs 5 --export-markdown "$out/server-reset-pg-load.md" \
  -n "PostgreSQL: dbenv reset --scenario load (template)" "$dbenv -q reset pg --scenario load" \
  -n "PostgreSQL: dbenv reset --scenario load --no-template" "$dbenv -q reset pg --scenario load --no-template"

# --- MariaDB --------------------------------------------------------------------------
"$dbenv" -q up maria --scenario empty >/dev/null
maria_url=$("$dbenv" url maria)
export MARIA_URL=$maria_url
# mysql://user:password@host:port/db → client options (password through the environment).
read -r m_user m_pass m_host m_port m_db < <(python3 -c 'import sys,urllib.parse as u; p=u.urlparse(sys.argv[1]); print(u.unquote(p.username), u.unquote(p.password), p.hostname, p.port, p.path[1:])' "$maria_url")
mdb() { MYSQL_PWD="$m_pass" mariadb --local-infile=1 -u"$m_user" -h"$m_host" -P"$m_port" "$@"; }
"$dbenv" -q reset maria --scenario load --no-template >/dev/null
# The client's batch output escapes tabs, newlines and backslashes exactly as LOAD DATA
# reads them; only NULL needs rewriting to \N. (INTO OUTFILE is off: secure_file_priv.)
mkdir -p "$work/maria-out"
for t in $tables; do
  mdb -B -N "$m_db" -e "SELECT * FROM $t" |
    awk -F'\t' -v OFS='\t' '{ for (i = 1; i <= NF; i++) if ($i == "NULL") $i = "\\N"; print }' >"$work/maria-out/$t.tsv"
done
load="SET foreign_key_checks = 1; START TRANSACTION;"
for t in $tables; do load+=" LOAD DATA LOCAL INFILE '$work/maria-out/$t.tsv' INTO TABLE $t;"; done
load+=" COMMIT;"
echo "$load" >load.sql

hyperfine --runs 5 --export-markdown "$out/server-seed-maria.md" \
  -n "MariaDB: dbenv seed --scenario load (generate + insert $rows rows)" \
  --prepare "$dbenv -q reset maria --scenario empty" "$dbenv -q seed maria --scenario load" \
  -n "MariaDB: dbenv reset --scenario load --no-template (new database: migrate + generate + insert, keys checked once)" \
  --prepare "true" "$dbenv -q reset maria --scenario load --no-template" \
  -n "MariaDB: LOAD DATA LOCAL INFILE of the same rows (one transaction)" \
  --prepare "$dbenv -q reset maria-ref --scenario empty" \
  "MYSQL_PWD='$m_pass' mariadb --local-infile=1 -u'$m_user' -h'$m_host' -P'$m_port' reference <load.sql"

"$dbenv" -q reset maria --scenario demo >/dev/null
"$dbenv" -q reset maria --scenario load >/dev/null
hyperfine --warmup 1 --runs 10 --export-markdown "$out/server-reset-maria-demo.md" \
  -n "MariaDB: dbenv reset --scenario demo (template)" "$dbenv -q reset maria --scenario demo" \
  -n "MariaDB: dbenv reset --scenario demo --no-template" "$dbenv -q reset maria --scenario demo --no-template"
hyperfine --runs 3 --export-markdown "$out/server-reset-maria-load.md" \
  -n "MariaDB: dbenv reset --scenario load (template)" "$dbenv -q reset maria --scenario load" \
  -n "MariaDB: dbenv reset --scenario load --no-template" "$dbenv -q reset maria --scenario load --no-template"

# --- up to ready ----------------------------------------------------------------------
"$dbenv" -q reset pg --scenario demo >/dev/null
"$dbenv" -q reset maria --scenario demo >/dev/null
files=("$out/server-up-native.md")
hyperfine --runs 5 --export-markdown "$out/server-up-native.md" \
  -n "PostgreSQL native: dbenv up (server stopped, seeded database)" \
  --prepare "$dbenv -q down pg" "$dbenv -q up pg" \
  -n "MariaDB native: dbenv up (server stopped, seeded database)" \
  --prepare "$dbenv -q down maria" "$dbenv -q up maria"
if docker image inspect dbenv-test/postgres:15 >/dev/null 2>&1; then
  "$dbenv" -q up pg-docker --scenario demo >/dev/null
  hyperfine --runs 5 --export-markdown "$out/server-up-container.md" \
    -n "PostgreSQL container: dbenv up (container stopped, seeded database)" \
    --prepare "$dbenv -q down pg-docker" "$dbenv -q up pg-docker" \
    -n "PostgreSQL container: dbenv up (running; database dropped, template warm)" \
    --prepare "psql -q \"\$($dbenv url pg-docker | sed 's#/pg_docker\$#/postgres#')\" -c 'DROP DATABASE IF EXISTS pg_docker WITH (FORCE)'" \
    "$dbenv -q up pg-docker --scenario demo"
  files+=("$out/server-up-container.md")
fi

cat "$out"/server-seed-*.md "$out"/server-reset-*.md "${files[@]}"
