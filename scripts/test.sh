#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what the tests need, then runs them.
#   bash scripts/test.sh [cargo test arguments]
# Needs: the Rust toolchain, Debian/Ubuntu packages (installed here when missing) and a
# running Docker engine for the container tests (their images are built locally, once).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# sqlite3: the real client opens dbenv's files. postgresql, mariadb-server: the native
# provider's servers. Their clients (psql, mariadb) are used by the benchmarks too.
missing=()
# python3 with venv: moto's S3 server for the S3 backup test (installed below).
command -v moto_server >/dev/null || python3 -c 'import venv, ensurepip' 2>/dev/null \
  || missing+=(python3 python3-venv)
command -v sqlite3 >/dev/null || missing+=(sqlite3)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || missing+=(mariadb-server)
command -v mariadb >/dev/null || missing+=(mariadb-client)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}" >&2
  as_root apt-get update -qq
  # The packages' own services are not wanted: dbenv starts its servers itself.
  as_root env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The S3 backup tests run against moto's S3 server, from PyPI, in a venv of its own.
if ! command -v moto_server >/dev/null; then
  venv=${TMPDIR:-/tmp}/dbenv-moto-venv
  if [ ! -x "$venv/bin/moto_server" ]; then
    echo "installing moto[server] into $venv" >&2
    python3 -m venv "$venv" && "$venv/bin/pip" install -q 'moto[server]' >&2 \
      || echo "could not install moto: the S3 backup test will be skipped" >&2
  fi
  export PATH="$venv/bin:$PATH"
fi

# Container tests use images built here from Debian's packages (no registry needed).
if docker info >/dev/null 2>&1; then
  bash scripts/images.sh >&2
elif [ "${DBENV_TEST_REQUIRE:-}" = all ]; then
  echo "Docker is not reachable and DBENV_TEST_REQUIRE=all: start dockerd" >&2
  exit 1
fi

# Containers of test projects whose folder is gone (a test run that was killed).
if docker info >/dev/null 2>&1; then
  for id in $(docker ps -aq --filter label=dbenv.project.path); do
    path=$(docker inspect --format '{{ index .Config.Labels "dbenv.project.path" }}' "$id")
    case "$path" in
      /tmp/dbenv-it-*) [ -d "$path" ] || docker rm -f -v "$id" >/dev/null ;;
    esac
  done
fi

# The engine tests share one native server per engine under $TMPDIR/dbenv-test-servers/
# (started on first use); stop them when the tests end.
stop_test_servers() {
  local dir=${TMPDIR:-/tmp}/dbenv-test-servers
  if [ -f "$dir/postgres/data/postmaster.pid" ]; then
    kill -INT "$(head -1 "$dir/postgres/data/postmaster.pid")" 2>/dev/null || true
  fi
  if [ -f "$dir/mariadb/server.pid" ]; then
    kill -TERM "$(cat "$dir/mariadb/server.pid")" 2>/dev/null || true
  fi
}
trap stop_test_servers EXIT

cargo test --locked --workspace "$@"

# With arguments, that was a selection: stop here.
[ $# -eq 0 ] || exit 0

# The fixture library under nextest too: one process per test, one server for all of them.
if command -v cargo-nextest >/dev/null; then
  cargo nextest run --locked --test fixture_macro --no-fail-fast
elif [ "${DBENV_TEST_REQUIRE:-}" = all ]; then
  echo "cargo-nextest is missing and DBENV_TEST_REQUIRE=all: cargo install cargo-nextest --locked" >&2
  exit 1
fi

# Every test run of the fixture library must have torn itself down: no run folder, no
# server, no container left (their reapers finish within seconds of the run's end).
runs=${TMPDIR:-/tmp}/dbenv-tests
for _ in $(seq 100); do
  left=$(find "$runs" /dev/shm/dbenv-tests -mindepth 1 -maxdepth 1 -type d 2>/dev/null || true)
  containers=$(docker ps -aq --filter label=dbenv.test.run 2>/dev/null || true)
  [ -z "$left$containers" ] && break
  sleep 0.2
done
if [ -n "$left$containers" ]; then
  echo "test runs left things behind:" >&2
  echo "$left" "$containers" >&2
  exit 1
fi
echo "fixture library: nothing left behind by the test runs" >&2
