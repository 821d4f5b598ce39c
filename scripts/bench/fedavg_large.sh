#!/usr/bin/env bash
# FedAvg of a large model in the simulator: round time and peak memory of the simulator process
# (server and client jobs) and of the trainers, against memcpy of the bytes a round moves.
#
# The job comes from jobs/templates/fedavg_pt (`nvflare job create`): the persistor loads a
# safetensors checkpoint of --size-mib MiB (128 float32 tensors, written by nvf_bench_download)
# and every client runs `nvflare train --add 1` (it sends back a diff of +1). Trainers run through
# a wrapper that execs `/usr/bin/time -f %M` so each trainer's peak RSS (its VmHWM, from wait4) is
# recorded; the simulator's peak is its VmHWM, polled from /proc. Baselines come from the same job run
# with a tiny model (128 tensors of 256 floats, one round): the simulator's and the largest
# trainer's peak RSS there.
#
# Usage: scripts/bench/fedavg_large.sh [--size-mib 1024] [--clients 4] [--rounds 2]
#                                      [--threads N (default: clients)] [--timeout-s 1800]
#                                      [--transfer FULL|DIFF (default: the template's, DIFF)]
# Env: BUILD_DIR (default: <repo>/build); KEEP=1 keeps the work folder (printed on stderr).
# Prints `name: value` lines, among them:
#   round_seconds             mean round time (server log: FedAvg start → "round i/N" lines)
#   last_round_seconds        the last round alone (the first round also touches the sums'
#                             memory and the trainers' for the first time)
#   each_round_seconds        every round's seconds, comma-separated
#   job_seconds               the large job's simulator run, from its start to its exit
#   simulator_rss_over_model  (simulator peak RSS − baseline) / model bytes
#   trainer_rss_over_model    (largest trainer peak RSS − trainer baseline) / model bytes
#   round_vs_memcpy_ratio     round_seconds / (2 × clients × model bytes / memcpy bytes per s),
#                             memcpy measured by nvf_accumulate_bench in this run
#   minor_faults_per_model_page_<role>
#                             minor page faults in the last round / the model's 4 KiB pages, for
#                             the simulator (server and client jobs) and the largest trainer
#                             (scripts/bench/procwatch.py samples /proc/PID/stat every 20 ms)
#   cpu_seconds_last_round_<role>  user + system CPU seconds of the role's processes in the last
#                             round, and their sum (_total)
set -euo pipefail
shopt -s inherit_errexit
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

size_mib=1024
clients=4
rounds=2
threads=""
transfer=""
timeout_s=1800
while [[ $# -gt 0 ]]; do
  case "$1" in
    --size-mib) size_mib="$2"; shift 2 ;;
    --clients) clients="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --transfer) transfer="$2"; shift 2 ;;
    --timeout-s) timeout_s="$2"; shift 2 ;;
    -h|--help) sed -n '2,23p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "fedavg_large.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
threads="${threads:-$clients}"
[[ -x /usr/bin/time ]] || { echo "fedavg_large.sh: needs /usr/bin/time (Debian package 'time')" >&2; exit 1; }

bench_build nvflare nvf_bench_download nvf_accumulate_bench >/dev/null
nvflare="$build/apps/nvflare/nvflare"
bench="$build/lib/cellnet/nvf_bench_download"
acc="$build/lib/tensor/nvf_accumulate_bench"
for b in "$nvflare" "$bench" "$acc"; do
  [[ -x "$b" ]] || { echo "fedavg_large.sh: $b was not built (is NVF_BUILD_TESTS on?)" >&2; exit 1; }
done

work="$(mktemp -d "${TMPDIR:-/tmp}/nvf-bench-fedavg.XXXXXX")"
trap 'rm -rf "$work"' EXIT
[[ -n "${KEEP:-}" ]] && { trap - EXIT; echo "fedavg_large.sh: keeping $work" >&2; }

# Runs job $1; prints "simulator_peak_bytes largest_trainer_peak_bytes". The simulator's own peak
# is its VmHWM, polled from /proc every 20 ms while it runs (a high-water mark, so a late sample
# still holds the peak; `time` would report the largest of the simulator and its trainers).
run_job() {
  local job="$1"
  "$here/procwatch.py" sample "$job.watch" &
  local watcher=$! t0
  t0="$(date +%s.%N)"
  "$nvflare" simulator "$job" -w "$job.ws" -n "$clients" -t "$threads" >"$job.out" 2>"$job.err" &
  local pid=$! hwm=0 v deadline=$((SECONDS + timeout_s))
  while kill -0 "$pid" 2>/dev/null; do
    v="$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$pid/status" 2>/dev/null || true)"
    [[ -n "$v" ]] && ((v > hwm)) && hwm=$v
    if ((SECONDS >= deadline)); then
      kill "$pid" 2>/dev/null || true
      echo "fedavg_large.sh: the simulator did not finish within $timeout_s s" >&2
    fi
    sleep 0.02
  done
  local rc=0
  wait "$pid" || rc=$?
  local t1
  t1="$(date +%s.%N)"
  kill -TERM "$watcher" 2>/dev/null || true
  wait "$watcher" || true
  if ((rc != 0)); then
    echo "fedavg_large.sh: the simulator failed on $(basename "$job"):" >&2
    tail -n 20 "$job.out" "$job.err" >&2
    return 1
  fi
  local trainer
  trainer="$(cat "$job.rss"/trainer.* | sort -n | tail -n 1)"
  [[ -n "$trainer" && "$hwm" -gt 0 ]] || { echo "fedavg_large.sh: no RSS recorded" >&2; return 1; }
  echo "$((hwm * 1024)) $((trainer * 1024)) $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')"
}

model_bytes=$((size_mib * 1048576))
echo "size_mib: $size_mib"
echo "tensors: 128"
echo "clients: $clients"
echo "rounds: $rounds"
echo "threads: $threads"
echo "params_transfer_type: ${transfer:-template}"
echo "model_bytes: $model_bytes"

# Baselines: the same job with a tiny model.
"$bench" safetensors --out "$work/tiny.safetensors" --size-bytes $((128 * 256 * 4)) >/dev/null
bench_make_job "$work/tiny" "$work/tiny.safetensors" 1 "$clients" "$transfer"
read -r sim_base trainer_base _ <<<"$(run_job "$work/tiny")"

"$bench" safetensors --out "$work/model.safetensors" --size-mib "$size_mib" >/dev/null
bench_make_job "$work/large" "$work/model.safetensors" "$rounds" "$clients" "$transfer"
read -r sim_peak trainer_peak job_seconds <<<"$(run_job "$work/large")"

# Round times from the server log.
rounds_line="$(bench_round_times "$work/large.ws/server/log.txt" "$rounds")" || {
  echo "fedavg_large.sh: cannot find $rounds rounds in the server log" >&2
  exit 1
}
read -r round_seconds last_round_seconds each_round_seconds <<<"$rounds_line"
memcpy_gib="$("$acc" 256 3 | awk '$1 == "memcpy_gib_per_s:" { print $2 }')"

awk -v rs="$round_seconds" -v lrs="$last_round_seconds" -v each="$each_round_seconds" -v js="$job_seconds" -v m="$model_bytes" -v c="$clients" -v mg="$memcpy_gib" \
    -v sp="$sim_peak" -v sb="$sim_base" -v tp="$trainer_peak" -v tb="$trainer_base" 'BEGIN {
  printf "baseline_rss_mib: %.1f\n", sb / 1048576
  printf "trainer_baseline_rss_mib: %.1f\n", tb / 1048576
  printf "simulator_peak_rss_mib: %.1f\n", sp / 1048576
  printf "trainer_peak_rss_mib: %.1f\n", tp / 1048576
  printf "round_seconds: %.3f\n", rs
  printf "last_round_seconds: %.3f\n", lrs
  printf "each_round_seconds: %s\n", each
  printf "job_seconds: %.3f\n", js
  printf "memcpy_gib_per_s: %.2f\n", mg
  printf "simulator_rss_over_model: %.2f\n", (sp - sb) / m
  printf "trainer_rss_over_model: %.2f\n", (tp - tb) / m
  printf "round_vs_memcpy_ratio: %.1f\n", rs / (2 * c * m / (mg * 1073741824))
}'
"$here/procwatch.py" faults "$work/large.watch" "$work/large.ws/server/log.txt" "$rounds" "$model_bytes"
