#!/usr/bin/env bash
# FedAvg of a large model on a POC system — each role its own process, over mTLS (gRPC, or TLS
# sockets with --scheme tcp): round time, the peak memory of every role against the model size,
# and the CPU each role spends in the last round.
#
# A POC workspace on free ports (`poc prepare -i`), `poc start`, then the fedavg_pt job of
# fedavg_large.sh (a --size-mib safetensors checkpoint of 128 float32 tensors; every client runs
# `nvflare train --add 1`) submitted with `job submit --wait`. A sampler reads every process's
# VmHWM from /proc every 20 ms and keeps each role's largest: the server parent (`nvflare server`),
# the server job (`_server_job`), client parents (`nvflare client`) and client jobs (`_client_job`);
# trainers record their own peak through /usr/bin/time. Baselines: the same run with a tiny model
# (128 tensors of 256 floats, one round).
#
# Usage: scripts/bench/poc_large.sh [--size-mib 1024] [--clients 4] [--rounds 2] [--scheme grpc|tcp]
#                                   [--transfer FULL|DIFF] [--timeout-s 1800]
# (--transfer: the executors' params_transfer_type; default the template's, DIFF.)
# Env: BUILD_DIR (default: <repo>/build); KEEP=1 leaves the folder and the POC system running
# (stderr prints the `poc stop` command that ends it).
# Prints `name: value` lines, among them (each `(peak − baseline) / model bytes`):
#   round_seconds                 mean round time (server job log: FedAvg start → "round i/N")
#   last_round_seconds            the last round alone
#   each_round_seconds            every round's seconds, comma-separated
#   server_job_rss_over_model     target ≤ 2.5 whatever the client count
#   client_job_rss_over_model     the largest client job; target ≤ 0.2 (it only forwards)
#   server_parent_rss_over_model  target ≤ 0.2 (it only forwards)
#   client_parent_rss_over_model  the largest client parent (forwards)
#   trainer_rss_over_model        the largest trainer; target ≤ 2.5
#   minor_faults_per_model_page_<role>
#                                 minor page faults of the role's busiest process in the last round
#                                 / the model's 4 KiB pages (scripts/bench/procwatch.py)
#   cpu_seconds_last_round_<role> user + system CPU seconds of all the role's processes in the
#                                 last round, and their sum (_total)
set -euo pipefail
shopt -s inherit_errexit
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

size_mib=1024
clients=4
rounds=2
scheme=grpc
transfer=""
timeout_s=1800
while [[ $# -gt 0 ]]; do
  case "$1" in
    --size-mib) size_mib="$2"; shift 2 ;;
    --clients) clients="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --scheme) scheme="$2"; shift 2 ;;
    --transfer) transfer="$2"; shift 2 ;;
    --timeout-s) timeout_s="$2"; shift 2 ;;
    -h|--help) sed -n '2,34p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "poc_large.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
[[ -x /usr/bin/time ]] || { echo "poc_large.sh: needs /usr/bin/time (Debian package 'time')" >&2; exit 1; }

bench_build nvflare nvf_bench_download >/dev/null
nvflare="$build/apps/nvflare/nvflare"
bench="$build/lib/cellnet/nvf_bench_download"

bench_start_poc nvf-bench-poc "$clients" "$scheme"

# Runs job $1 while sampling every nvflare process's VmHWM; prints the peaks in bytes of
# "server_parent server_job client_parent client_job trainer".
run_job() {
  local job="$1"
  "$here/procwatch.py" sample "$job.watch" &
  local sampler=$!
  if ! timeout "$timeout_s" "$nvflare" job submit -j "$job" --wait >"$job.out" 2>&1; then
    kill "$sampler" 2>/dev/null || true
    echo "poc_large.sh: the job $(basename "$job") did not complete:" >&2
    tail -n 20 "$job.out" >&2
    return 1
  fi
  kill -TERM "$sampler"
  wait "$sampler" || true
  # Every role's peak is its largest VmHWM seen (the trainers' too: a trainer that the job's end
  # stops may not get to write what /usr/bin/time measured).
  awk '{ p[$1] = $2 } END { printf "%d %d %d %d %d\n", p["server_parent"], p["server_job"], p["client_parent"],
                            p["client_job"], p["trainer"] }' "$job.watch.peaks"
}

model_bytes=$((size_mib * 1048576))
echo "size_mib: $size_mib"
echo "tensors: 128"
echo "clients: $clients"
echo "rounds: $rounds"
echo "scheme: $scheme"
echo "transfer: ${transfer:-DIFF}"
echo "model_bytes: $model_bytes"

"$bench" safetensors --out "$work/tiny.safetensors" --size-bytes $((128 * 256 * 4)) >/dev/null
bench_make_job "$work/tiny" "$work/tiny.safetensors" 1 "$clients"
read -r sp_b sj_b cp_b cj_b tr_b <<<"$(run_job "$work/tiny")"

"$bench" safetensors --out "$work/model.safetensors" --size-mib "$size_mib" >/dev/null
bench_make_job "$work/large" "$work/model.safetensors" "$rounds" "$clients" "$transfer"
read -r sp_p sj_p cp_p cj_p tr_p <<<"$(run_job "$work/large")"

# Round times from the large job's server log (downloaded with the job).
id="$(awk '/Submitted job: / { print $3; exit }' "$work/large.out")"
"$nvflare" admin -c "download_job $id $work/dl" >/dev/null
rounds_line="$(bench_round_times "$work/dl/$id/workspace/log.txt" "$rounds")" || {
  echo "poc_large.sh: cannot find $rounds rounds in the server job's log" >&2
  exit 1
}
read -r round_seconds last_round_seconds each_round_seconds <<<"$rounds_line"

awk -v rs="$round_seconds" -v lrs="$last_round_seconds" -v each="$each_round_seconds" -v m="$model_bytes" \
    -v spp="$sp_p" -v spb="$sp_b" -v sjp="$sj_p" -v sjb="$sj_b" -v cpp="$cp_p" -v cpb="$cp_b" \
    -v cjp="$cj_p" -v cjb="$cj_b" -v trp="$tr_p" -v trb="$tr_b" 'BEGIN {
  printf "server_parent_peak_rss_mib: %.1f\n", spp / 1048576
  printf "server_job_peak_rss_mib: %.1f\n", sjp / 1048576
  printf "client_parent_peak_rss_mib: %.1f\n", cpp / 1048576
  printf "client_job_peak_rss_mib: %.1f\n", cjp / 1048576
  printf "trainer_peak_rss_mib: %.1f\n", trp / 1048576
  printf "round_seconds: %.3f\n", rs
  printf "last_round_seconds: %.3f\n", lrs
  printf "each_round_seconds: %s\n", each
  printf "server_job_rss_over_model: %.2f\n", (sjp - sjb) / m
  printf "client_job_rss_over_model: %.2f\n", (cjp - cjb) / m
  printf "server_parent_rss_over_model: %.2f\n", (spp - spb) / m
  printf "client_parent_rss_over_model: %.2f\n", (cpp - cpb) / m
  printf "trainer_rss_over_model: %.2f\n", (trp - trb) / m
}'
"$here/procwatch.py" faults "$work/large.watch" "$work/dl/$id/workspace/log.txt" "$rounds" "$model_bytes"
