#!/usr/bin/env bash
# Installs what is missing, builds everything (ccache when present) and runs every test with ctest.
# Usage: scripts/test.sh [ctest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
start=$(date +%s)
cmake --preset default
cmake --build --preset default
built=$(date +%s)
echo "test.sh: build took $((built - start)) s"
ctest --preset default -j2 --timeout 600 "$@"
echo "test.sh: build + tests took $(( $(date +%s) - start )) s"
