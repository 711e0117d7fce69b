#!/usr/bin/env bash
# Builds the container images the integration tests use in place of the official ones
# (postgres, mariadb/mysql), without any registry: Debian bookworm is debootstrapped once,
# the server package is installed into a copy with apt-get, and the tree is loaded into
# Docker. The images honour the official images' interface (POSTGRES_*, MARIADB_*/MYSQL_*
# variables, data volume, port); tests name them like any custom `image`.
#
#   bash scripts/images.sh            # builds what is missing or out of date; prints the tags
#   bash scripts/images.sh --force    # rebuilds both images (the Debian base is kept)
#
# Builds need root (debootstrap, chroot, mount); when the images are up to date, only Docker
# access is needed and a run takes about a second. The Debian base is cached in
# ${DBENV_IMAGE_CACHE:-/var/cache/dbenv-images}; delete that folder to start from scratch.
# Each image carries the label dbenv.image.recipe = sha256 of this script and its entrypoint,
# so editing either rebuilds it on the next run.
#
# The images are written with `docker load` (a one-layer image archive built here) rather
# than `docker import`: import refuses STOPSIGNAL, and postgres needs STOPSIGNAL SIGINT
# (fast shutdown), as in the official image, for `docker stop` to be quick and clean.
set -euo pipefail

script=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
here=$(dirname "$script")
cache=${DBENV_IMAGE_CACHE:-/var/cache/dbenv-images}
suite=bookworm
mirror=http://deb.debian.org/debian
security_mirror=http://deb.debian.org/debian-security
force=0

# Messages go to fd 8, the original stderr, even from a trap that fires while a command's
# output is redirected to a log file.
exec 8>&2
log() { printf 'images.sh: %s\n' "$*" >&8; }
die() { log "error: $*"; exit 1; }

for arg in "$@"; do
  case $arg in
    --force) force=1 ;;
    -h | --help) sed -n '2,19p' "$script" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$arg' (usage: images.sh [--force])" ;;
  esac
done

# name | tag | entrypoint file
images=(
  "postgres|dbenv-test/postgres:15|$here/images/postgres-entrypoint.sh"
  "mariadb|dbenv-test/mariadb:10.11|$here/images/mariadb-entrypoint.sh"
)

command -v docker >/dev/null || die "docker is not installed"
docker version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
  die "Docker is not reachable (is the daemon running, and may this user use it?): $(docker version 2>&1 | tail -n 1)"

recipe_of() { cat "$script" "$1" | sha256sum | cut -d' ' -f1; }
label_of() { docker image inspect --format '{{ index .Config.Labels "dbenv.image.recipe" }}' "$1" 2>/dev/null || true; }

print_tags() { local entry; for entry in "${images[@]}"; do IFS='|' read -r _ tag _ <<<"$entry"; echo "$tag"; done; }
find_stale() {
  local entry name tag file
  stale=()
  for entry in "${images[@]}"; do
    IFS='|' read -r name tag file <<<"$entry"
    [ -f "$file" ] || die "missing $file"
    if [ "$force" = 1 ] || [ "$(label_of "$tag")" != "$(recipe_of "$file")" ]; then
      stale+=("$entry")
    fi
  done
}

find_stale
if [ "${#stale[@]}" = 0 ]; then
  log "images up to date"
  print_tags
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null; then
    log "building needs root (debootstrap, chroot): re-running with sudo"
    args=(); [ "$force" = 1 ] && args=(--force)
    exec sudo DBENV_IMAGE_CACHE="$cache" bash "$script" "${args[@]}"
  fi
  die "building the images needs root (debootstrap, chroot, mount); run this script as root"
fi

mkdir -p "$cache"
exec 9>"$cache/lock"
if ! flock -n 9; then
  log "waiting for another images.sh run (lock $cache/lock)"
  flock 9
  find_stale  # the other run may have built them
  [ "${#stale[@]}" != 0 ] || { log "images up to date"; print_tags; exit 0; }
fi

# Everything created during the run is removed on exit, mounts first (also on failure).
work=$(mktemp -d "$cache/work.XXXXXX")
mounts_under() { awk -v p="$1/" 'index($2, p) == 1 { print $2 }' /proc/self/mounts | sort -r; }
unmount_under() {
  local m
  # Deepest first; /proc/self/mounts escapes spaces as \040, which the cache path should not have.
  for m in $(mounts_under "$1"); do
    umount "$m" 2>/dev/null || umount -l "$m" || log "warning: could not unmount $m"
  done
  # Never go on (and delete files) while a host file system is still mounted in the tree.
  [ -z "$(mounts_under "$1")" ] || { log "error: still mounted under $1: $(mounts_under "$1" | xargs)"; return 1; }
}
cleanup() {
  local rc=$?
  if unmount_under "$work"; then rm -rf "$work"; else log "left $work in place (mounts remain)"; fi
  [ "$rc" = 0 ] || log "stopped (exit $rc); images already built are kept, the one in progress was not tagged"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------------
# The Debian base, built once: debootstrap minbase plus apt/dpkg settings that keep images small.
base_key=$(printf '%s\n' "$suite" "$mirror" minbase v2 | sha256sum | cut -c1-12)
base_tar=$cache/base-$suite-minbase-$base_key.tar

build_base() {
  if ! command -v debootstrap >/dev/null; then
    log "installing debootstrap"
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2 ||
      die "could not install debootstrap"
  fi
  local dir=$work/base
  log "debootstrap --variant=minbase $suite from $mirror (once; cached in $base_tar)"
  debootstrap --variant=minbase "$suite" "$dir" "$mirror" >"$work/debootstrap.log" 2>&1 || {
    tail -n 30 "$work/debootstrap.log" >&2
    [ -f "$dir/debootstrap/debootstrap.log" ] && tail -n 30 "$dir/debootstrap/debootstrap.log" >&2
    die "debootstrap failed (log above)"
  }
  unmount_under "$dir" || exit 1
  cat >"$dir/etc/apt/sources.list" <<EOF
deb $mirror $suite main
deb $mirror $suite-updates main
deb $security_mirror $suite-security main
EOF
  cat >"$dir/etc/dpkg/dpkg.cfg.d/90-dbenv-slim" <<'EOF'
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-exclude=/usr/share/lintian/*
path-exclude=/usr/share/linda/*
path-exclude=/usr/share/groff/*
EOF
  cat >"$dir/etc/apt/apt.conf.d/90-dbenv-slim" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
EOF
  rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/archives/*.deb "$dir"/var/cache/apt/*.bin
  # Services must not start inside the chroot.
  printf '#!/bin/sh\nexit 101\n' >"$dir/usr/sbin/policy-rc.d"
  chmod 755 "$dir/usr/sbin/policy-rc.d"
  tar -C "$dir" --numeric-owner -cf "$base_tar.tmp" .
  mv "$base_tar.tmp" "$base_tar"
  rm -rf "$dir"
}

# ---------------------------------------------------------------------------------------------
# Per image: install into a copy of the base, clean, write a one-layer image archive, load it.
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 "$@"; }
apt_install() {
  in_root apt-get install -y -q -o Dpkg::Use-Pty=0 -o Dpkg::Options::=--force-confdef \
    -o Dpkg::Options::=--force-confold --no-install-recommends "$@" >>"$work/apt.log" 2>&1 || {
    tail -n 40 "$work/apt.log" >&2
    die "apt-get install $* failed (log above)"
  }
}

install_postgres() {
  apt_install postgresql-common
  # No cluster at install time: the entrypoint runs initdb into $PGDATA on first start.
  sed -ri 's/^#?\s*create_main_cluster\s*=.*/create_main_cluster = false/' \
    "$root/etc/postgresql-common/createcluster.conf"
  apt_install postgresql-15
  [ -x "$root/usr/lib/postgresql/15/bin/postgres" ] || die "postgresql-15 did not install its server"
  # No JIT: LLVM is 130 MB of the image, and without llvmjit.so the server simply does not
  # JIT-compile (jit = on then has no effect). dpkg then lists postgresql-15 with an unmet
  # dependency, so `apt-get install` inside the image would first need `apt-get -f install`.
  rm -rf "$root"/usr/lib/postgresql/15/lib/llvmjit* "$root"/usr/lib/postgresql/15/lib/bitcode
  in_root dpkg --remove --force-depends libllvm14 libz3-4 >>"$work/apt.log" 2>&1
  install -d -o 0 -g 0 -m 1777 "$root/var/lib/postgresql/data"
  chroot "$root" install -d -o postgres -g postgres -m 3777 /var/run/postgresql
}

install_mariadb() {
  apt_install mariadb-server
  [ -x "$root/usr/sbin/mariadbd" ] || die "mariadb-server did not install mariadbd"
  # The package initialises /var/lib/mysql; the entrypoint does it on first start instead.
  rm -rf "$root/var/lib/mysql"
  chroot "$root" install -d -o mysql -g mysql -m 755 /var/lib/mysql /run/mysqld
  cat >"$root/etc/mysql/mariadb.conf.d/90-dbenv-container.cnf" <<'EOF'
# Container settings, as in the official image: no DNS lookups of clients; no binary log,
# so Debian's expire_logs_days (which warns without one) is reset.
[mariadbd]
host-cache-size = 0
skip-name-resolve
expire_logs_days = 0
EOF
}

clean_root() {
  in_root apt-get clean
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/debconf/*-old \
    "$root"/var/lib/dpkg/*-old "$root"/usr/share/man/* "$root"/usr/share/info/* \
    "$root"/usr/share/locale/* "$root"/usr/share/lintian "$root"/usr/share/linda \
    "$root"/usr/share/groff "$root"/tmp/* "$root"/var/tmp/* "$root"/root/.cache
  find "$root/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
  find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
  find "$root/var/log" -type f -exec truncate -s 0 {} +
  find "$root" -xdev -name __pycache__ -type d -prune -exec rm -rf {} +
  # Docker provides these at run time.
  rm -rf "${root:?}"/dev/* "${root:?}"/proc/* "${root:?}"/sys/*
  : >"$root/etc/resolv.conf"
  : >"$root/etc/hostname"
}

# json_array a b c -> ["a","b","c"] (values here never contain quotes or backslashes)
json_array() { local out="" v; for v in "$@"; do out+="${out:+,}\"$v\""; done; printf '[%s]' "$out"; }

build_image() {
  local name=$1 tag=$2 file=$3 recipe start
  recipe=$(recipe_of "$file")
  start=$SECONDS
  log "building $tag (recipe ${recipe:0:12})"
  root=$work/$name/rootfs
  mkdir -p "$root"
  tar -C "$root" -xf "$base_tar"
  mount -t proc proc "$root/proc"
  mount --bind /dev "$root/dev"
  mount --bind /dev/pts "$root/dev/pts"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  : >"$work/apt.log"
  in_root apt-get update -q >>"$work/apt.log" 2>&1 || { tail -n 20 "$work/apt.log" >&2; die "apt-get update failed"; }
  "install_$name"
  unmount_under "$root" || exit 1
  clean_root
  install -m 755 "$file" "$root/usr/local/bin/docker-entrypoint.sh"

  # Image config: what the official image declares, plus the recipe label.
  local env cmd ports volume stopsignal
  case $name in
    postgres)
      env=(PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
        LANG=C.UTF-8 PG_MAJOR=15 PGDATA=/var/lib/postgresql/data)
      cmd=(postgres) ports='"5432/tcp":{}' volume=/var/lib/postgresql/data stopsignal=SIGINT ;;
    mariadb)
      env=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8)
      cmd=(mariadbd) ports='"3306/tcp":{}' volume=/var/lib/mysql stopsignal=SIGTERM ;;
  esac
  local dir=$work/$name/archive created diff_id config_id
  mkdir -p "$dir"
  tar -C "$root" --numeric-owner -cf "$dir/layer.tar" .
  diff_id=$(sha256sum "$dir/layer.tar" | cut -d' ' -f1)
  created=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  cat >"$dir/config.json" <<EOF
{"architecture":"amd64","os":"linux","created":"$created",
 "config":{"Env":$(json_array "${env[@]}"),"Entrypoint":["/usr/local/bin/docker-entrypoint.sh"],
  "Cmd":$(json_array "${cmd[@]}"),"ExposedPorts":{$ports},"Volumes":{"$volume":{}},
  "StopSignal":"$stopsignal","Labels":{"dbenv.image.recipe":"$recipe"}},
 "rootfs":{"type":"layers","diff_ids":["sha256:$diff_id"]},
 "history":[{"created":"$created","created_by":"dbenv scripts/images.sh ($suite, $name)"}]}
EOF
  config_id=$(sha256sum "$dir/config.json" | cut -d' ' -f1)
  mv "$dir/config.json" "$dir/$config_id.json"
  printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["layer.tar"]}]\n' "$config_id" "$tag" >"$dir/manifest.json"
  rm -rf "$root"
  local old
  old=$(docker image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)
  tar -C "$dir" -c manifest.json "$config_id.json" layer.tar | docker load -q >&2
  # The replaced image, if no container uses it any more.
  [ -z "$old" ] || [ "$old" = "sha256:$config_id" ] || docker rmi "$old" >/dev/null 2>&1 || true
  rm -rf "${work:?}/$name"
  [ "$(label_of "$tag")" = "$recipe" ] || die "$tag was not loaded with the expected recipe label"
  log "built $tag in $((SECONDS - start)) s ($(docker image inspect --format '{{.Size}}' "$tag" | awk '{ printf "%.0f MB", $1 / 1e6 }'))"
}

[ -f "$base_tar" ] || build_base
for entry in "${stale[@]}"; do
  IFS='|' read -r name tag file <<<"$entry"
  build_image "$name" "$tag" "$file"
done
print_tags
