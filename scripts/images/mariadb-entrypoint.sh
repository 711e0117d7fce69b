#!/usr/bin/env bash
# Entrypoint of dbenv-test/mariadb:10.11 (built by scripts/images.sh). Honours the official
# mariadb image's interface, and the mysql image's names for the same settings:
#   MARIADB_ROOT_PASSWORD / MYSQL_ROOT_PASSWORD   password of root@localhost and root@%
#   MARIADB_ALLOW_EMPTY_ROOT_PASSWORD / MYSQL_ALLOW_EMPTY_PASSWORD   (or one of these)
#   MARIADB_RANDOM_ROOT_PASSWORD / MYSQL_RANDOM_ROOT_PASSWORD       (or one of these)
#   MARIADB_ROOT_HOST / MYSQL_ROOT_HOST           host of the remote root account (default %)
#   MARIADB_DATABASE / MYSQL_DATABASE             database created on first start
#   MARIADB_USER / MYSQL_USER + MARIADB_PASSWORD / MYSQL_PASSWORD
#                                                 user@% with ALL on that database
#   *_FILE variants of the passwords; /docker-entrypoint-initdb.d/*.sh, *.sql, *.sql.gz
# The data directory is /var/lib/mysql (a volume). On an empty one it runs mariadb-install-db
# and does the setup on a temporary server without networking (socket only), so the TCP port
# opens only once everything is ready; then mariadbd runs in the foreground as PID 1
# (SIGTERM, the stop signal, shuts it down cleanly).
set -Eeuo pipefail

DATADIR=/var/lib/mysql
SOCKET=/run/mysqld/mysqld.sock

log() { printf '%s [entrypoint] %s\n' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# MARIADB_X, else MYSQL_X, else MARIADB_X_FILE / MYSQL_X_FILE, else the default.
env_var() {
  local name=$1 def=${2:-} v
  for v in "MARIADB_$name" "MYSQL_$name"; do
    if [ -n "${!v:-}" ]; then printf '%s' "${!v}"; return; fi
  done
  for v in "MARIADB_${name}_FILE" "MYSQL_${name}_FILE"; do
    if [ -n "${!v:-}" ]; then cat "${!v}"; return; fi
  done
  printf '%s' "$def"
}

# SQL string and identifier literals.
sql_string() { local s=${1//\\/\\\\}; s=${s//\'/\\\'}; printf "'%s'" "$s"; }
sql_ident() { printf '`%s`' "${1//\`/\`\`}"; }

init_database() {
  local root_password root_host database user password empty random
  root_password=$(env_var ROOT_PASSWORD)
  root_host=$(env_var ROOT_HOST %)
  database=$(env_var DATABASE)
  user=$(env_var USER)
  password=$(env_var PASSWORD)
  empty=$(env_var ALLOW_EMPTY_ROOT_PASSWORD)
  [ -n "$empty" ] || empty=${MYSQL_ALLOW_EMPTY_PASSWORD:-}
  random=$(env_var RANDOM_ROOT_PASSWORD)
  if [ -z "$root_password" ] && [ -z "$empty" ] && [ -z "$random" ]; then
    die "Database is uninitialized and password option is not specified
	You need to specify one of MARIADB_ROOT_PASSWORD, MARIADB_ALLOW_EMPTY_ROOT_PASSWORD and MARIADB_RANDOM_ROOT_PASSWORD"
  fi
  if [ -z "$root_password" ] && [ -n "$random" ]; then
    root_password=$(tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32 || true)
    log "GENERATED ROOT PASSWORD: $root_password"
  fi
  if [ -n "$user" ] && [ "$user" = root ]; then
    die "MARIADB_USER=root: use MARIADB_ROOT_PASSWORD for the root account"
  fi
  if [ -n "$user" ] && [ -z "$password" ]; then
    die "MARIADB_USER is set but MARIADB_PASSWORD is not"
  fi

  log "initialising $DATADIR"
  mariadb-install-db --user=mysql --datadir="$DATADIR" --rpm --auth-root-authentication-method=normal \
    --skip-test-db --skip-name-resolve --skip-log-bin --default-time-zone=SYSTEM \
    --loose-innodb_buffer_pool_load_at_startup=0 --loose-innodb_buffer_pool_dump_at_shutdown=0 \
    >/dev/null 2>"$DATADIR/.install-db.log" || { cat "$DATADIR/.install-db.log" >&2; die "mariadb-install-db failed"; }
  rm -f "$DATADIR/.install-db.log"

  # Temporary server: no networking, so no TCP client sees a half-initialised server.
  log "starting a temporary server (socket only)"
  mariadbd --user=mysql --datadir="$DATADIR" --skip-networking --socket="$SOCKET" --skip-log-bin \
    --default-time-zone=SYSTEM --loose-innodb_buffer_pool_load_at_startup=0 \
    --loose-innodb_buffer_pool_dump_at_shutdown=0 &
  local pid=$! i
  for i in $(seq 1 120); do
    if mariadb --no-defaults --protocol=socket --socket="$SOCKET" -uroot -e 'SELECT 1' >/dev/null 2>&1; then
      break
    fi
    kill -0 "$pid" 2>/dev/null || die "the temporary server exited during start-up"
    [ "$i" != 120 ] || die "the temporary server did not come up within 60 s"
    sleep 0.5
  done

  local sql="SET @@SESSION.SQL_LOG_BIN=0;
DROP USER IF EXISTS root@'127.0.0.1', root@'::1';
EXECUTE IMMEDIATE CONCAT('DROP USER IF EXISTS root@\\'', @@hostname, '\\'');
ALTER USER root@localhost IDENTIFIED BY $(sql_string "$root_password");"
  if [ "$root_host" != localhost ]; then
    sql+="
CREATE USER root@$(sql_string "$root_host") IDENTIFIED BY $(sql_string "$root_password");
GRANT ALL ON *.* TO root@$(sql_string "$root_host") WITH GRANT OPTION;
GRANT PROXY ON ''@'%' TO root@$(sql_string "$root_host") WITH GRANT OPTION;"
  fi
  if [ -n "$database" ]; then
    sql+="
CREATE DATABASE IF NOT EXISTS $(sql_ident "$database");"
  fi
  if [ -n "$user" ]; then
    sql+="
CREATE USER $(sql_string "$user")@'%' IDENTIFIED BY $(sql_string "$password");"
    [ -z "$database" ] || sql+="
GRANT ALL ON $(sql_ident "$database").* TO $(sql_string "$user")@'%';"
  fi
  mariadb --no-defaults --protocol=socket --socket="$SOCKET" -uroot --database=mysql <<<"$sql" ||
    die "setting up users and database failed"

  local f cnf
  cnf=$(mktemp)
  printf '[client]\nuser=root\npassword="%s"\nsocket=%s\nprotocol=socket\n' \
    "$(printf '%s' "$root_password" | sed 's/\\/\\\\/g; s/"/\\"/g')" "$SOCKET" >"$cnf"
  mariadb_init() { mariadb --defaults-extra-file="$cnf" ${database:+--database="$database"} "$@"; }
  for f in /docker-entrypoint-initdb.d/*; do
    [ -e "$f" ] || continue
    case $f in
      *.sh) log "running $f"; if [ -x "$f" ]; then "$f"; else . "$f"; fi ;;
      *.sql) log "running $f"; mariadb_init <"$f" ;;
      *.sql.gz) log "running $f"; gunzip -c "$f" | mariadb_init ;;
      *) log "ignoring $f" ;;
    esac
  done
  rm -f "$cnf"

  kill -TERM "$pid"
  wait "$pid" || die "the temporary server did not shut down cleanly"
  log "initialisation complete; starting the server"
}

# `docker run IMAGE --option` passes server options.
if [ "${1:0:1}" = - ]; then set -- mariadbd "$@"; fi

if [ "$1" = mariadbd ] || [ "$1" = mysqld ]; then
  shift
  if [ "$(id -u)" = 0 ]; then
    mkdir -p "$DATADIR" /run/mysqld
    find "$DATADIR" /run/mysqld \! -user mysql -exec chown mysql:mysql '{}' +
  fi
  if [ ! -d "$DATADIR/mysql" ]; then
    init_database
  fi
  exec mariadbd --user=mysql --bind-address=0.0.0.0 --port=3306 "$@"
fi

exec "$@"
