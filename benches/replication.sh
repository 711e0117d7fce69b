#!/usr/bin/env bash
# `dbenv check replication` latency, one PostgreSQL primary and one streaming standby, side
# by side with reference tools doing the same job:
#   - check_postgres --action=hot_standby_delay, the usual Nagios check for this (Debian
#     package check-postgres, which installs check_postgres.pl as `check_postgres`);
#   - two psql calls: pg_stat_replication on the primary, pg_last_wal_replay_lsn() on the
#     standby (the least a script can do).
# dbenv runs twice: with its defaults, and with heartbeat = true (a write on the primary,
# read back on the standby).
#
#   bash benches/replication.sh            # RUNS=50 by default
#
# Needs: hyperfine, PostgreSQL server and client binaries (scripts/test.sh installs them);
# check-postgres is installed when missing (skipped if it cannot be). Writes
# target/bench/replication.md and prints it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-50}
command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine >/dev/null; }
command -v check_postgres >/dev/null || apt-get install -y -qq check-postgres >/dev/null 2>&1 || true
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
dbenv="${CARGO_TARGET_DIR:-$root/target}/release/dbenv"
out="$root/target/bench"
mkdir -p "$out"
work=$(mktemp -d /tmp/dbenv-bench-repl.XXXXXX)
chmod 755 "$work"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$work"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
p1=$(free_port)
p2=$(free_port)
cleanup() {
  for d in replica primary; do as_pg "$bin/pg_ctl" -D "$work/$d" -m fast -w stop >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT
export PGPASSWORD=bench-only-pw
echo "$PGPASSWORD" >"$work/pw"
start() { # folder port
  as_pg "$bin/pg_ctl" -D "$work/$1" -l "$work/$1.log" -w -s \
    -o "-p $2 -c listen_addresses=127.0.0.1 -k $work" start
}
as_pg "$bin/initdb" -D "$work/primary" -U postgres --pwfile="$work/pw" --auth=scram-sha-256 \
  -E UTF8 --locale=C >/dev/null
start primary "$p1"
"$bin/createdb" -h 127.0.0.1 -p "$p1" -U postgres app
as_pg env PGPASSWORD="$PGPASSWORD" "$bin/pg_basebackup" -h 127.0.0.1 -p "$p1" -U postgres \
  -D "$work/replica" -R -X stream --checkpoint=fast
start replica "$p2"

mkdir -p "$work/project"
cp -r "$root/migrations" "$work/project/"
cd "$work/project"
cat >dbenv.toml <<TOML
[env.bench]
engine = "postgres"
url = "postgres://postgres:\${PGPASSWORD}@127.0.0.1:$p1/app"
replicas = ["postgres://postgres:\${PGPASSWORD}@127.0.0.1:$p2/app"]

[env.bench-hb]
engine = "postgres"
url = "postgres://postgres:\${PGPASSWORD}@127.0.0.1:$p1/app"
replicas = ["postgres://postgres:\${PGPASSWORD}@127.0.0.1:$p2/app"]
[env.bench-hb.replication]
heartbeat = true
TOML
"$dbenv" -q migrate bench >/dev/null
sleep 1
"$dbenv" check replication bench-hb
"$dbenv" check replication bench

cmds=(
  -n "dbenv check replication" "$dbenv check replication bench"
  -n "dbenv check replication (heartbeat)" "$dbenv check replication bench-hb"
  -n "psql x2 (pg_stat_replication + pg_last_wal_replay_lsn)"
  "$bin/psql -h 127.0.0.1 -p $p1 -U postgres -d app -Atc 'select * from pg_stat_replication' >/dev/null && $bin/psql -h 127.0.0.1 -p $p2 -U postgres -d app -Atc 'select pg_last_wal_replay_lsn()' >/dev/null"
)
if command -v check_postgres >/dev/null; then
  check_postgres --action=hot_standby_delay --dbhost=127.0.0.1,127.0.0.1 --dbport="$p1,$p2" \
    --dbuser=postgres --dbname=app --warning='1048576 and 10s' --critical='16777216 and 60s' || true
  cmds+=(-n "check_postgres --action=hot_standby_delay"
    "check_postgres --action=hot_standby_delay --dbhost=127.0.0.1,127.0.0.1 --dbport=$p1,$p2 --dbuser=postgres --dbname=app --warning='1048576 and 10s' --critical='16777216 and 60s'")
fi
hyperfine --warmup 5 --runs "$runs" -i --export-markdown "$out/replication.md" "${cmds[@]}"
cat "$out/replication.md"
