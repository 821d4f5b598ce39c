#!/usr/bin/env bash
# Installs what is missing, builds everything (ccache when present) and runs every test with ctest.
# Usage: scripts/test.sh [--preset default|asan|tsan] [ctest args...]
#   --preset asan   ASan + UBSan build in build-asan/ (no LibTorch); e.g. `-L unit` for the unit tests
#   --preset tsan   TSan build in build-tsan/ (no LibTorch)
set -euo pipefail
cd "$(dirname "$0")/.."

preset=default
if [[ "${1:-}" == "--preset" ]]; then
  preset="${2:?--preset needs a name: default, asan or tsan}"
  shift 2
fi
case "$preset" in
  default|asan|tsan) ;;
  *) echo "test.sh: unknown preset '$preset': use default, asan or tsan" >&2; exit 2 ;;
esac

scripts/install-deps.sh
start=$(date +%s)
cmake --preset "$preset"
cmake --build --preset "$preset"
built=$(date +%s)
echo "test.sh: $preset build took $((built - start)) s"
ctest --preset "$preset" -j2 --timeout 600 "$@"
echo "test.sh: $preset build + tests took $(( $(date +%s) - start )) s"
