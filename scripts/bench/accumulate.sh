#!/usr/bin/env bash
# Weighted-accumulate throughput (acc += w*x over float32) against memcpy of the same bytes.
# Usage: scripts/bench/accumulate.sh [MiB=256] [iterations=5]
# Env: BUILD_DIR (default: <repo>/build). Builds nvf_accumulate_bench when it is missing or stale.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${BUILD_DIR:-$repo/build}"
if [[ ! -f "$build/build.ninja" && ! -f "$build/Makefile" ]]; then
  (cd "$repo" && cmake --preset default)
fi
build_cmd=(cmake --build "$build" --target nvf_accumulate_bench)
if command -v flock >/dev/null; then
  # Other builds may share the machine; serialize with them.
  flock /tmp/nvf-build.lock "${build_cmd[@]}"
else
  "${build_cmd[@]}"
fi
bench="$(find "$build" -type f -name nvf_accumulate_bench -perm -u+x | head -n 1)"
if [[ -z "$bench" ]]; then
  echo "accumulate.sh: nvf_accumulate_bench was not built (is NVF_BUILD_TESTS on?)" >&2
  exit 1
fi
exec "$bench" "${1:-256}" "${2:-5}"
