#!/usr/bin/env bash
# Weighted-accumulate throughput (acc += w*x over float32) against memcpy of the same bytes.
# Usage: scripts/bench/accumulate.sh [MiB=256] [iterations=5]
# Env: BUILD_DIR (default: <repo>/build). Builds nvf_accumulate_bench when it is missing or stale.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
bench_build nvf_accumulate_bench
bench="$(find "$build" -type f -name nvf_accumulate_bench -perm -u+x | head -n 1)"
if [[ -z "$bench" ]]; then
  echo "accumulate.sh: nvf_accumulate_bench was not built (is NVF_BUILD_TESTS on?)" >&2
  exit 1
fi
exec "$bench" "${1:-256}" "${2:-5}"
