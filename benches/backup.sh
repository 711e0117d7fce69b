#!/usr/bin/env bash
# Backups side by side with each engine's own tool, on the same database, in one run.
#
#   bash benches/backup.sh                   # SQLite, PostgreSQL and MariaDB
#   ENGINES="sqlite postgres" SCALE=8 bash benches/backup.sh
#   RESTORE="sqlite" bash benches/backup.sh  # restore timings for these engines only
#   WORK=/tmp/bkp-bench ENGINES=sqlite bash benches/backup.sh  # keep the databases in WORK
#
# With WORK set, the folder is kept (servers stopped, not purged) and a database already
# built there at the same SCALE is reused by the next run instead of being seeded again.
#
# The database: seeds/load.toml scaled SCALE times (organisations and users; every child
# table follows through its `per` rules). SCALE=8 gives about 9 million rows.
# 1. backup time: `dbenv backup` (dump + zstd + SHA-256 + manifest) vs `sqlite3 .backup`,
#    `pg_dump -Fc` (its default compression) and `mariadb-dump --single-transaction`; plus
#    the zstd CLI on the same bytes (`zstd -1 -T0` of the SQLite file, `mariadb-dump | zstd`):
#    the floor of any zstd-compressed backup on this machine, to tell dbenv's overhead from
#    compression's own cost;
# 2. stored size: dbenv's zstd vs pg_dump -Fc's default compression (and the raw dumps);
# 3. restore time: `dbenv backup restore` (checksum, decompress, restore into a new database,
#    swap) vs a file copy, `pg_restore` into an empty database, `mariadb < dump.sql`.
# Needs: hyperfine, sqlite3, the PostgreSQL and MariaDB servers and clients (scripts/test.sh
# installs them). Writes target/bench/backup-*.md and prints them.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
engines=${ENGINES:-sqlite postgres mariadb}
scale=${SCALE:-8}
runs=${RUNS:-3}
restore=${RESTORE:-$engines}
wants_restore() { case " $restore " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
for t in hyperfine zstd; do
  command -v $t >/dev/null || { apt-get update -qq && apt-get install -y -qq $t >/dev/null; }
done
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
dbenv="${CARGO_TARGET_DIR:-$root/target}/release/dbenv"
out="$root/target/bench"
keep=${WORK:+yes}
work=${WORK:-$(mktemp -d /tmp/dbenv-bench-backup.XXXXXX)}
mkdir -p "$work"
chmod 755 "$work" # native servers run as an unprivileged user when we are root
cleanup() {
  if [ -n "$keep" ]; then
    cd "$work" && for e in pg maria; do "$dbenv" -q down "$e" >/dev/null 2>&1 || true; done
    return
  fi
  cd "$work" && for e in pg maria; do "$dbenv" -q down "$e" --purge >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
# Seed env $1 with the big scenario, unless WORK already holds it at this scale.
seed() {
  if [ -n "$keep" ] && [ "$(cat ".seeded-$1" 2>/dev/null)" = "$scale" ]; then return; fi
  "$dbenv" -q reset "$1" --scenario big --no-template >/dev/null
  echo "$scale" >".seeded-$1"
}
trap cleanup EXIT
mkdir -p "$out"
rm -f "$out"/backup-*.md "$out"/restore-*.md
rm -rf "$work/migrations" "$work/seeds"
cp -r "$root/migrations" "$root/seeds" "$work/"
cd "$work"
cat >seeds/big.toml <<TOML
description = "seeds/load.toml x $scale"
extends = "load"
[tables.organisations]
rows = $((2000 * scale))
[tables.users]
rows = $((60000 * scale))
TOML
cat >dbenv.toml <<'TOML'
[project]
default_env = "lite"

[env.lite]
engine = "sqlite"
[env.lite.backup]
dir = "backups/lite"

# The same database, backed up without compression: the pipeline's own cost.
[env.lite-raw]
engine = "sqlite"
path = ".dbenv/lite.sqlite"
[env.lite-raw.backup]
dir = "backups/lite-raw"
compression = "none"

[env.pg]
engine = "postgres"
provider = "native"
[env.pg.backup]
dir = "backups/pg"

[env.maria]
engine = "mariadb"
provider = "native"
[env.maria.backup]
dir = "backups/maria"
TOML
size() { du -b "$1" | cut -f1; }
mib() { echo "$(( $1 / 1048576 )) MiB"; }
sizes="$out/backup-sizes.md"
echo "| engine | database | dbenv stored (zstd) | native tool's file |" >"$sizes"
echo "|---|---:|---:|---:|" >>"$sizes"

for engine in $engines; do
  case $engine in
  sqlite)
    seed lite
    db=.dbenv/lite.sqlite
    echo "SQLite database: $(mib "$(size $db)")"
    hyperfine --runs "$runs" --export-markdown "$out/backup-sqlite.md" \
      -n "SQLite: dbenv backup (file under a read transaction + zstd + SHA-256)" \
      --prepare "rm -rf backups/lite" "$dbenv -q backup lite" \
      -n "SQLite: dbenv backup, compression = none (SHA-256 only)" \
      --prepare "rm -rf backups/lite-raw" "$dbenv -q backup lite-raw" \
      -n "SQLite: sqlite3 .backup" --prepare "rm -f copy.sqlite" "sqlite3 $db '.backup copy.sqlite'" \
      -n "SQLite: zstd -1 -T0 of the file alone (the floor of any zstd backup here)" \
      --prepare "rm -f floor.zst" "zstd -q -1 -T0 $db -o floor.zst"
    rm -rf backups/lite
    id=$("$dbenv" -q backup lite)
    stored=$(size backups/lite/"$id".sqlite.zst)
    echo "| SQLite | $(mib "$(size $db)") | $(mib "$stored") | $(mib "$(size copy.sqlite)") (.backup copy, uncompressed) |" >>"$sizes"
    wants_restore sqlite && \
    hyperfine --runs "$runs" --export-markdown "$out/restore-sqlite.md" \
      -n "SQLite: dbenv backup restore (checksum + zstd -d + fsync + quick_check + rename)" \
      "$dbenv -q backup restore $id --env lite" \
      -n "SQLite: cp of the .backup copy, then sync it" "cp copy.sqlite restored.sqlite && sync restored.sqlite"
    rm -f copy.sqlite restored.sqlite floor.zst
    ;;
  postgres)
    "$dbenv" -q up pg --scenario empty >/dev/null
    seed pg
    url=$("$dbenv" url pg)
    bytes=$(psql -qtA "$url" -c "SELECT pg_database_size(current_database())")
    echo "PostgreSQL database: $(mib "$bytes")"
    hyperfine --runs "$runs" --export-markdown "$out/backup-pg.md" \
      -n "PostgreSQL: dbenv backup (pg_dump -Fc -Z0 + zstd + SHA-256)" \
      --prepare "rm -rf backups/pg" "$dbenv -q backup pg" \
      -n "PostgreSQL: pg_dump -Fc (default compression)" --prepare "rm -f pg.dump" \
      "pg_dump -Fc -f pg.dump '$url'"
    rm -rf backups/pg
    id=$("$dbenv" -q backup pg)
    pg_dump -Fc -Z0 -f raw.dump "$url"
    echo "| PostgreSQL | $(mib "$bytes") | $(mib "$(size backups/pg/"$id".pgdump.zst)") | $(mib "$(size pg.dump)") (pg_dump -Fc); $(mib "$(size raw.dump)") uncompressed |" >>"$sizes"
    rm -f raw.dump
    admin=${url%/*}/postgres
    wants_restore postgres && \
    hyperfine --runs "$runs" --export-markdown "$out/restore-pg.md" \
      -n "PostgreSQL: dbenv backup restore (checksum + zstd -d + pg_restore into a new database + swap)" \
      "$dbenv -q backup restore $id --env pg" \
      -n "PostgreSQL: pg_restore --single-transaction --no-owner into an empty database" \
      --prepare "psql -q '$admin' -c 'DROP DATABASE IF EXISTS bench_restore' -c 'CREATE DATABASE bench_restore'" \
      "pg_restore --single-transaction --no-owner -d '${url%/*}/bench_restore' pg.dump"
    rm -f pg.dump
    ;;
  mariadb)
    "$dbenv" -q up maria --scenario empty >/dev/null
    seed maria
    url=$("$dbenv" url maria)
    # mysql://root:PASSWORD@127.0.0.1:PORT/maria, into an option file for the client tools.
    rest=${url#mysql://}; creds=${rest%%@*}; hostport=${rest#*@}; hostport=${hostport%%/*}
    printf '[client]\nuser=%s\npassword=%s\nhost=%s\nport=%s\nprotocol=tcp\n' \
      "${creds%%:*}" "${creds#*:}" "${hostport%%:*}" "${hostport##*:}" >my.cnf
    chmod 600 my.cnf
    bytes=$(mariadb --defaults-extra-file=my.cnf -N -e "SELECT SUM(data_length + index_length) FROM information_schema.tables WHERE table_schema = 'maria'")
    echo "MariaDB database: $(mib "$bytes")"
    dump="mariadb-dump --defaults-extra-file=my.cnf --single-transaction --routines --triggers --events --hex-blob maria"
    hyperfine --runs "$runs" --export-markdown "$out/backup-maria.md" \
      -n "MariaDB: dbenv backup (mariadb-dump + zstd + SHA-256)" \
      --prepare "rm -rf backups/maria" "$dbenv -q backup maria" \
      -n "MariaDB: mariadb-dump --single-transaction > file" "$dump > maria.sql" \
      -n "MariaDB: mariadb-dump --single-transaction | zstd -1 -T0 > file (no checksum)" \
      "$dump | zstd -q -1 -T0 > floor.zst"
    rm -rf backups/maria
    id=$("$dbenv" -q backup maria)
    echo "| MariaDB | $(mib "$bytes") | $(mib "$(size backups/maria/"$id".sql.zst)") | $(mib "$(size maria.sql)") (SQL, uncompressed) |" >>"$sizes"
    wants_restore mariadb && \
    hyperfine --runs "$runs" --export-markdown "$out/restore-maria.md" \
      -n "MariaDB: dbenv backup restore (checksum + zstd -d + mariadb into a new database + swap)" \
      "$dbenv -q backup restore $id --env maria" \
      -n "MariaDB: mariadb < dump.sql into an empty database" \
      --prepare "mariadb --defaults-extra-file=my.cnf -e 'DROP DATABASE IF EXISTS bench_restore; CREATE DATABASE bench_restore'" \
      "mariadb --defaults-extra-file=my.cnf bench_restore < maria.sql"
    rm -f maria.sql floor.zst
    ;;
  esac
done
for f in "$out"/backup-*.md "$out"/restore-*.md; do if [ -f "$f" ]; then cat "$f"; fi; done
