#!/usr/bin/env bash
# Backup time, dbenv against the engine's own tool, alternating run by run (on a shared,
# noisy machine hyperfine's back-to-back runs of one command catch different loads), with
# the CPU each side used: its own processes', and the database server's for MariaDB.
#
#   WORK=/tmp/bkp-bench ENGINES=sqlite bash benches/backup.sh   # builds the databases once
#   WORK=/tmp/bkp-bench RUNS=5 bash benches/backup-alternate.sh
#
# Needs the folder benches/backup.sh left with WORK set (databases seeded, my.cnf for
# MariaDB). Prints one line per run and the median ratio (native time / dbenv time).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${WORK:?set WORK to the folder benches/backup.sh kept}
runs=${RUNS:-5}
engines=${ENGINES:-sqlite mariadb}
dbenv="${CARGO_TARGET_DIR:-$root/target}/release/dbenv"
cd "$work"
now() { date +%s.%N; }
# Run "$@" with bash; print wall seconds and CPU seconds (user + sys of the command's tree).
timed() {
  local t0 t1
  t0=$(now)
  /usr/bin/time -f "%U %S" -o "$work/.cpu" bash -c "$1" >/dev/null
  t1=$(now)
  echo "$(echo "$t1 - $t0" | bc) $(awk '{print $1 + $2}' "$work/.cpu")"
}
server_cpu() { [ -n "${1:-}" ] && awk '{print ($14 + $15) / 100}' "/proc/$1/stat" || echo 0; }
median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
for engine in $engines; do
  case $engine in
  sqlite)
    native="rm -f copy.sqlite && sqlite3 .dbenv/lite.sqlite '.backup copy.sqlite'"
    ours="rm -rf backups/lite && $dbenv -q backup lite"
    pid=""
    ;;
  mariadb)
    "$dbenv" -q up maria >/dev/null
    native="mariadb-dump --defaults-extra-file=my.cnf --single-transaction --routines --triggers --events --hex-blob maria > maria.sql"
    ours="rm -rf backups/maria && $dbenv -q backup maria"
    pid=$(cat .dbenv/maria/server.pid)
    ;;
  esac
  : >"$work/.ratios"
  for i in $(seq "$runs"); do
    s0=$(server_cpu "$pid"); read -r nw nc < <(timed "$native"); s1=$(server_cpu "$pid")
    s2=$(server_cpu "$pid"); read -r dw dc < <(timed "$ours"); s3=$(server_cpu "$pid")
    ratio=$(echo "scale=3; $nw / $dw" | bc)
    echo "$ratio" >>"$work/.ratios"
    printf '%s run %d: native %.2f s (cpu %.2f + server %.2f) | dbenv %.2f s (cpu %.2f + server %.2f) | ratio %.2f | load %s\n' \
      "$engine" "$i" "$nw" "$nc" "$(echo "$s1 - $s0" | bc)" "$dw" "$dc" "$(echo "$s3 - $s2" | bc)" "$ratio" \
      "$(cut -d' ' -f1 /proc/loadavg)"
  done
  echo "$engine: median ratio (native time / dbenv time) over $runs runs: $(median <"$work/.ratios" | xargs printf "%.2f")"
done
