#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what the tests need, then runs them.
#   bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# The real sqlite3 client opens dbenv's files in the tests.
if ! command -v sqlite3 >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq sqlite3 >/dev/null
  else
    sudo apt-get update -qq && sudo apt-get install -y -qq sqlite3 >/dev/null
  fi
fi
cargo test --locked "$@"
