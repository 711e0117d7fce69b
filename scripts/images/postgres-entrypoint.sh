#!/usr/bin/env bash
# Entrypoint of dbenv-test/postgres:15 (built by scripts/images.sh). Honours the official
# postgres image's interface:
#   POSTGRES_PASSWORD      superuser password; required unless POSTGRES_HOST_AUTH_METHOD=trust
#   POSTGRES_USER          superuser name (default postgres)
#   POSTGRES_DB            database created on first start (default = POSTGRES_USER)
#   POSTGRES_INITDB_ARGS   extra initdb arguments; POSTGRES_INITDB_WALDIR: --waldir
#   POSTGRES_HOST_AUTH_METHOD  pg_hba method for host connections (default scram-sha-256)
#   PGDATA                 data directory (default /var/lib/postgresql/data, a volume)
#   *_FILE variants of the first four; /docker-entrypoint-initdb.d/*.sh, *.sql, *.sql.gz
# On an empty PGDATA it runs initdb, then finishes the setup on a temporary server that
# listens on the unix socket only, so the TCP port opens only once everything is ready.
# The server then runs in the foreground as PID 1, as user postgres; the image's stop
# signal is SIGINT (fast shutdown), as in the official image.
set -Eeuo pipefail

export PATH=/usr/lib/postgresql/15/bin:$PATH
export PGDATA=${PGDATA:-/var/lib/postgresql/data}

log() { printf '%s [entrypoint] %s\n' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# VAR_FILE: read VAR from a file (Docker secrets), as the official image does.
file_env() {
  local var=$1 fvar=${1}_FILE def=${2:-}
  if [ -n "${!var:-}" ] && [ -n "${!fvar:-}" ]; then die "both $var and $fvar are set (but are exclusive)"; fi
  local val=$def
  if [ -n "${!var:-}" ]; then val=${!var}; elif [ -n "${!fvar:-}" ]; then val=$(<"${!fvar}"); fi
  export "$var"="$val"
  unset "$fvar"
}

# psql on the temporary (socket-only) server, as the superuser.
psql_init() {
  PGPASSWORD=${POSTGRES_PASSWORD:-} psql -v ON_ERROR_STOP=1 --no-psqlrc --no-password \
    --username "$POSTGRES_USER" --dbname "${1:-$POSTGRES_DB}" "${@:2}"
}

init_database() {
  file_env POSTGRES_PASSWORD
  file_env POSTGRES_USER postgres
  file_env POSTGRES_DB "$POSTGRES_USER"
  file_env POSTGRES_INITDB_ARGS
  local auth=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
  if [ -z "$POSTGRES_PASSWORD" ] && [ "$auth" != trust ]; then
    cat >&2 <<'EOF'
Error: Database is uninitialized and superuser password is not specified.
       You must specify POSTGRES_PASSWORD to a non-empty value for the
       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".

       You may also use "POSTGRES_HOST_AUTH_METHOD=trust" to allow all
       connections without a password. This is *not* recommended.
EOF
    exit 1
  fi

  log "initialising $PGDATA (superuser $POSTGRES_USER, database $POSTGRES_DB)"
  local args=(--username="$POSTGRES_USER")
  [ -z "${POSTGRES_INITDB_WALDIR:-}" ] || args+=(--waldir="$POSTGRES_INITDB_WALDIR")
  # POSTGRES_INITDB_ARGS is split like a shell command line, as in the official image.
  if [ -n "$POSTGRES_PASSWORD" ]; then
    eval 'initdb "${args[@]}" --pwfile=<(printf "%s\n" "$POSTGRES_PASSWORD") '"$POSTGRES_INITDB_ARGS"
  else
    eval 'initdb "${args[@]}" '"$POSTGRES_INITDB_ARGS"
  fi >&2

  printf "\nlisten_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
  printf '\nhost all all all %s\n' "$auth" >>"$PGDATA/pg_hba.conf"

  # Temporary server: unix socket only, so no TCP client sees a half-initialised database.
  pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p ${PGPORT:-5432}" -w -t 60 start >&2 ||
    die "the temporary server did not start"
  if [ "$POSTGRES_DB" != postgres ]; then
    psql_init postgres --set db="$POSTGRES_DB" >/dev/null <<<'CREATE DATABASE :"db";'
  fi
  local f
  for f in /docker-entrypoint-initdb.d/*; do
    [ -e "$f" ] || continue
    case $f in
      *.sh) log "running $f"; if [ -x "$f" ]; then "$f"; else . "$f"; fi ;;
      *.sql) log "running $f"; psql_init "$POSTGRES_DB" -f "$f" >&2 ;;
      *.sql.gz) log "running $f"; gunzip -c "$f" | psql_init "$POSTGRES_DB" >&2 ;;
      *) log "ignoring $f" ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w -t 60 stop >&2 || die "the temporary server did not stop"
  log "initialisation complete; starting the server"
}

# `docker run IMAGE -c key=value` passes server options.
if [ "${1:0:1}" = - ]; then set -- postgres "$@"; fi

if [ "$1" = postgres ]; then
  if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA" /var/run/postgresql
    chmod 700 "$PGDATA" 2>/dev/null || :
    find "$PGDATA" \! -user postgres -exec chown postgres:postgres '{}' +
    chown postgres:postgres /var/run/postgresql
    chmod 3775 /var/run/postgresql
    # Again, as postgres (the server refuses to run as root).
    exec setpriv --reuid=postgres --regid=postgres --init-groups -- "${BASH_SOURCE[0]}" "$@"
  fi
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    init_database
  fi
  unset POSTGRES_PASSWORD PGPASSWORD
  exec "$@"
fi

exec "$@"
