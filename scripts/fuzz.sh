#!/usr/bin/env bash
# Fuzz every target for SECONDS each (default 120) and say how many executions ran:
#   bash scripts/fuzz.sh [SECONDS] [TARGET…]
# Needs cargo-fuzz (`cargo install cargo-fuzz`); runs on the stable toolchain through
# RUSTC_BOOTSTRAP=1 (cargo fuzz's -Zsanitizer flags), or on nightly when it is the default.
# The working corpus lives in fuzz/corpus/<target> (not committed), started from the
# regression inputs in fuzz/regressions/<target>. A crash is saved in fuzz/artifacts/: copy
# it into fuzz/regressions/<target>/ (tests/fuzz_regressions.rs replays it), then fix it.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${1:-120}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(config scenario generate)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
# The fuzz crate has its own target folder (sanitizer builds share nothing with the rest).
unset CARGO_TARGET_DIR
nice -n 15 cargo fuzz build -O >&2
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  cp -n "regressions/$t"/* "corpus/$t/" 2>/dev/null || true
  log=$(mktemp)
  start=$(date +%s)
  status=0
  nice -n 15 cargo fuzz run -O "$t" "corpus/$t" -- -max_total_time="$seconds" \
    -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 >"$log" 2>&1 || status=$?
  end=$(date +%s)
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo '?')
  # Coverage once the existing corpus was loaded: the difference is what this run found new.
  inited=$(grep 'INITED' "$log" | grep -o 'cov: [0-9]*' | grep -o '[0-9]*' || echo '?')
  echo "fuzz $t: $execs executions in $((end - start)) s, coverage $inited -> $cov edges, corpus $(ls "corpus/$t" | wc -l) inputs, exit $status"
  if [ "$status" -ne 0 ]; then
    tail -40 "$log" >&2
  fi
  rm -f "$log"
done
