#!/usr/bin/env bash
# What a first touch of fresh memory costs on this machine: the price a process pays for every page
# of a model it has never held (a first round, a new receiver), in each way a tensor can get its
# pages (nvf_first_touch_bench: 4 KiB or 2 MiB pages, faulted one by one or populated first, and
# Tensor::uninitialized as nvflare allocates). Each way runs alone, then in two processes at once
# (both cores, as in a round), with a pause before each so earlier runs' freed memory settles.
#
# Usage: scripts/bench/first_touch.sh [--size-mib 1024] [--pause-s 3]
# Env: BUILD_DIR (default: <repo>/build); NVFLARE_HUGE_PAGES is passed on (the `tensor` way).
# Prints `name: value` lines:
#   first_touch_s_per_gib_<way>       one process alone: seconds per GiB written
#   first_touch_s_per_gib_<way>_x2    two processes at once: the slower one's seconds per GiB
#   first_touch_gib_per_s_<way>_x2    two processes at once: GiB per second, both together
#   first_touch_s_per_gib_touch_after_populate_4k
#                                     reading one byte per page after populating 4 KiB pages: the
#                                     part of a first touch the kernel's populate does not take
set -euo pipefail
shopt -s inherit_errexit
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

size_mib=1024
pause_s=3
while [[ $# -gt 0 ]]; do
  case "$1" in
    --size-mib) size_mib="$2"; shift 2 ;;
    --pause-s) pause_s="$2"; shift 2 ;;
    -h|--help) sed -n '2,17p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "first_touch.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done

bench_build nvf_first_touch_bench >/dev/null
probe="$build/lib/tensor/nvf_first_touch_bench"

echo "size_mib: $size_mib"
echo "transparent_hugepage: $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo unknown)"
for way in fault_4k populate_4k fault_2m populate_2m tensor; do
  sleep "$pause_s"
  "$probe" "$size_mib" "$way"
  sleep "$pause_s"
  a="$(mktemp)"; b="$(mktemp)"
  "$probe" "$size_mib" "$way" >"$a" & pa=$!
  "$probe" "$size_mib" "$way" >"$b" & pb=$!
  wait "$pa" "$pb"
  cat "$a" "$b" | awk -v w="$way" -v mib="$size_mib" '
    /^first_touch_s_per_gib_/ { if ($2 > worst) worst = $2 }
    END { printf "first_touch_s_per_gib_%s_x2: %.3f\n", w, worst
          printf "first_touch_gib_per_s_%s_x2: %.3f\n", w, 2 / worst }'
  rm -f "$a" "$b"
done
sleep "$pause_s"
"$probe" "$size_mib" touch_after_populate_4k
