#!/bin/sh
# Build `dbenv-test/tiny:1`, a ~2 MB image for the container provider's tests, without any
# registry: a static busybox, imported with `docker import`.
#
# The image listens on TCP port 5432 (busybox httpd), stops at once on SIGTERM/SIGINT, and
# runs `busybox ARGS…` instead when given a command (e.g. `false` to exit with status 1).
#
# The static busybox comes from $BUSYBOX, else a static `busybox` on PATH, else the Debian
# package `busybox-static` fetched with `apt-get download`. Does nothing when the tag exists.
set -eu

TAG="${1:-dbenv-test/tiny:1}"

if docker image inspect "$TAG" >/dev/null 2>&1; then
    exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT INT TERM

is_static() {
    [ -x "$1" ] && ! ldd "$1" >/dev/null 2>&1
}

bb="${BUSYBOX:-}"
if [ -z "$bb" ] && command -v busybox >/dev/null 2>&1 && is_static "$(command -v busybox)"; then
    bb="$(command -v busybox)"
fi
if [ -z "$bb" ]; then
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "tiny-image.sh: no static busybox found: set BUSYBOX=/path/to/static/busybox" >&2
        exit 1
    fi
    (cd "$work" && apt-get download busybox-static >apt.log 2>&1) || {
        cat "$work/apt.log" >&2
        echo "tiny-image.sh: \`apt-get download busybox-static\` failed: set BUSYBOX=/path/to/static/busybox" >&2
        exit 1
    }
    dpkg-deb -x "$work"/busybox-static_*.deb "$work/deb"
    bb="$work/deb/bin/busybox"
fi

mkdir -p "$work/root/bin" "$work/root/data" "$work/root/www" "$work/root/tmp"
cp "$bb" "$work/root/bin/busybox"
cat >"$work/root/entry" <<'SCRIPT'
#!/bin/busybox sh
if [ "$#" -gt 0 ]; then exec /bin/busybox "$@"; fi
/bin/busybox httpd -f -p 5432 -h /www &
trap 'kill $! 2>/dev/null; exit 0' TERM INT
echo "tiny: listening on 5432"
wait
SCRIPT
chmod 755 "$work/root/entry"
ln -s busybox "$work/root/bin/sh"

tar -C "$work/root" -c . | docker import \
    --change 'ENTRYPOINT ["/entry"]' \
    --change 'EXPOSE 5432' \
    - "$TAG" >/dev/null
echo "built $TAG"
