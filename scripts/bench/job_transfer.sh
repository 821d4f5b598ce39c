#!/usr/bin/env bash
# A large job on its way to the sites: the memory each process needs to carry it and the time from
# submit to RUNNING.
#
# A POC system of --clients clients on free ports (`poc prepare -i`, `poc start`); jobs/hello-numpy
# with a --size-mib file of random bytes in app/custom (a pretrained checkpoint shipped with the
# job) is submitted with `nvflare job submit --wait`. scripts/bench/procwatch.py samples every
# process's VmHWM every 20 ms: the submitting process (`nvflare job submit`), the server parent,
# the client parents. Baselines: the same job without the file.
#
# Usage: scripts/bench/job_transfer.sh [--size-mib 512] [--clients 2] [--timeout-s 600]
# Env: BUILD_DIR (default: <repo>/build).
# Prints `name: value` lines:
#   <role>_rss_over_job_size    (peak RSS − baseline) / the file's bytes, for submitter,
#                               server_parent, client_parent (the largest); target ≤ 0.1
#   submit_to_running_seconds   from launching `job submit` to the server parent's "server job
#                               started" line; target ≤ 10
#   submit_seconds              from launching `job submit --wait` to its exit (the job done)
#   stored_seconds              from launching `job submit` to the server's "job J: deploying"
#   deploy_seconds              from "job J: deploying" to "server job started" (both phases only
#                               from builds that log "deploying")
set -euo pipefail
shopt -s inherit_errexit
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

size_mib=512
clients=2
timeout_s=600
while [[ $# -gt 0 ]]; do
  case "$1" in
    --size-mib) size_mib="$2"; shift 2 ;;
    --clients) clients="$2"; shift 2 ;;
    --timeout-s) timeout_s="$2"; shift 2 ;;
    -h|--help) sed -n '2,21p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "job_transfer.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done

bench_build nvflare >/dev/null
nvflare="$build/apps/nvflare/nvflare"

bench_start_poc nvf-bench-job "$clients"

# submit JOB: prints "peaks-file start-epoch end-epoch" after `job submit --wait` ends.
submit() {
  local job="$1"
  "$here/procwatch.py" sample "$job.watch" &
  local sampler=$! t0 t1
  t0="$(date +%s.%N)"
  if ! timeout "$timeout_s" "$nvflare" job submit -j "$job" --wait >"$job.out" 2>&1; then
    kill "$sampler" 2>/dev/null || true
    echo "job_transfer.sh: the job $(basename "$job") did not complete:" >&2
    tail -n 20 "$job.out" >&2
    return 1
  fi
  t1="$(date +%s.%N)"
  kill -TERM "$sampler"
  wait "$sampler" || true
  echo "$job.watch.peaks $t0 $t1"
}
peak() { awk -v r="$2" '$1 == r { print $2 }' "$1"; }

cp -r "$repo/jobs/hello-numpy" "$work/small"
out="$(submit "$work/small")"
read -r small_peaks _ _ <<<"$out"

cp -r "$repo/jobs/hello-numpy" "$work/large"
mkdir -p "$work/large/app/custom"
head -c $((size_mib * 1048576)) /dev/urandom >"$work/large/app/custom/checkpoint.bin"
out="$(submit "$work/large")"
read -r large_peaks t0 t1 <<<"$out"

id="$(awk '/Submitted job: / { print $3; exit }' "$work/large.out")"
server_log="$(grep -l "job $id: server job started" -r "$NVFLARE_POC_WORKSPACE" --include=log.txt | head -n 1)"
[[ -n "$server_log" ]] || { echo "job_transfer.sh: no 'server job started' line for $id" >&2; exit 1; }
# The epoch seconds of the first line of the server log holding TEXT ("" when there is none).
log_epoch() {
  local at
  at="$(awk -v t="$1" 'index($0, t) { print substr($0, 1, 23); exit }' "$server_log")"
  [[ -n "$at" ]] && date -d "${at/,/.}" +%s.%N
  return 0
}
running_epoch="$(log_epoch "job $id: server job started")"
deploying_epoch="$(log_epoch "job $id: deploying")"

job_bytes=$((size_mib * 1048576))
echo "size_mib: $size_mib"
echo "clients: $clients"
for role in submitter server_parent client_parent; do
  awk -v r="$role" -v p="$(peak "$large_peaks" "$role")" -v b="$(peak "$small_peaks" "$role")" -v j="$job_bytes" \
    'BEGIN { printf "%s_peak_rss_mib: %.1f\n%s_rss_over_job_size: %.3f\n", r, p / 1048576, r, (p - b) / j }'
done
awk -v a="$t0" -v b="$running_epoch" -v c="$t1" 'BEGIN {
  printf "submit_to_running_seconds: %.2f\nsubmit_seconds: %.2f\n", b - a, c - a }'
if [[ -n "$deploying_epoch" ]]; then
  awk -v a="$t0" -v d="$deploying_epoch" -v b="$running_epoch" 'BEGIN {
    printf "stored_seconds: %.2f\ndeploy_seconds: %.2f\n", d - a, b - d }'
fi
