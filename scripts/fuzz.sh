#!/usr/bin/env bash
# Builds the libFuzzer targets (the fuzz preset: clang, ASan + UBSan, in build-fuzz/) and runs each
# for SECONDS (default 60) on its seed corpus fuzz/corpus/<target>/. New inputs go to a scratch
# corpus, not into the repository. A crash, leak, UB or timeout stops with the target's report and
# the input saved under build-fuzz/crashes/ (add it to the seeds and a regression test).
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
# Env: NVF_FUZZ_SEED=N fixes libFuzzer's random seed: the same binary and corpus then try the
# same inputs in the same order, so a shorter run tries a prefix of a longer one (CI uses it: its
# pass replays what a longer run with that seed already found clean).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
shift || true
[[ "$seconds" =~ ^[0-9]+$ ]] || { echo "fuzz.sh: SECONDS must be a whole number, got '$seconds'" >&2; exit 2; }

scripts/install-deps.sh
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz --target fuzzers

targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  for dir in fuzz/corpus/*/; do targets+=("$(basename "$dir")"); done
fi
scratch="$(mktemp -d "${TMPDIR:-/tmp}/nvf-fuzz.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
mkdir -p build-fuzz/crashes
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:detect_container_overflow=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
failed=0
for t in "${targets[@]}"; do
  bin="build-fuzz/fuzz/$t"
  [[ -x "$bin" ]] || { echo "fuzz.sh: no fuzz target '$t'" >&2; exit 2; }
  mkdir -p "$scratch/$t"
  start=$(date +%s)
  seed=()
  [[ -n "${NVF_FUZZ_SEED:-}" ]] && seed=(-seed="$NVF_FUZZ_SEED")
  if "$bin" "${seed[@]}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix="build-fuzz/crashes/$t-" "$scratch/$t" "fuzz/corpus/$t" >"$scratch/$t.log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$scratch/$t.log" | grep -o '[0-9]*$' || echo "?")
    echo "fuzz.sh: $t: clean, $runs runs in $(( $(date +%s) - start )) s"
  else
    echo "fuzz.sh: $t FAILED:" >&2
    grep -v '^#' "$scratch/$t.log" | tail -n 40 >&2
    failed=1
  fi
done
exit "$failed"
