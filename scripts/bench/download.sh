#!/usr/bin/env bash
# Pull-based download throughput and memory, against a raw TCP copy of the same bytes, in one run.
# Sender and receivers are separate processes on 127.0.0.1 (OS-chosen ports): a sender Cell holds
# a model of --size-mib MiB (128 float32 tensors) in a download transaction; --receivers receiver
# Cells pull it at the same moment (download_tensors: each ends up holding the model, until the
# sender stops once all are done). The socket baseline moves the same bytes to the same number of
# clients over plain TCP (4 MiB writes/reads); they too hold the bytes until every client has them.
#
# Usage: scripts/bench/download.sh [--size-mib 1024] [--receivers 1] [--repeat 1]
#                                  [--schemes "grpc tcp"] [--timeout-s 600]
# Env: BUILD_DIR (default: <repo>/build). Builds nvf_bench_download (with the gRPC driver when the
# build has it; when the gRPC driver does not build, a second build without it under
# ${TMPDIR:-/tmp}/nvf-bench-nogrpc measures tcp only and grpc is reported unavailable).
#
# Prints `name: value` lines. Throughput is aggregate: receivers × bytes / (last end − first start).
#   download_vs_socket_ratio[_tcp]: download throughput / socket throughput (socket clients hold
#                                   the bytes; *_reuse_*: against clients reusing a 4 MiB buffer)
#   receiver_rss_over_model[_tcp]:  max over receivers of (peak RSS − baseline RSS) / model bytes
#   sender_rss_over_model[_tcp]:    (peak RSS − baseline RSS) / model bytes of the sender
# Unsuffixed lines are the gRPC driver's, `_tcp` lines the cellnet TcpDriver's. Baselines are each
# process's RSS after its cell started and before any model exists. With --repeat N each transport
# runs N times and the fastest run counts (RSS ratios: the largest seen).
set -euo pipefail
shopt -s inherit_errexit
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

size_mib=1024
receivers=1
repeat=1
schemes=""
timeout_s=600
while [[ $# -gt 0 ]]; do
  case "$1" in
    --size-mib) size_mib="$2"; shift 2 ;;
    --receivers) receivers="$2"; shift 2 ;;
    --repeat) repeat="$2"; shift 2 ;;
    --schemes) schemes="$2"; shift 2 ;;
    --timeout-s) timeout_s="$2"; shift 2 ;;
    -h|--help) sed -n '2,22p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "download.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done


grpc_reason=""
if ! bench_build nvf_bench_download >/dev/null 2>"${TMPDIR:-/tmp}/nvf-bench-download-build.log"; then
  # Most likely the gRPC driver does not compile (yet): measure tcp with a build without it.
  grpc_reason="the gRPC driver does not build (see ${TMPDIR:-/tmp}/nvf-bench-download-build.log)"
  build="${TMPDIR:-/tmp}/nvf-bench-nogrpc"
  if [[ ! -f "$build/build.ninja" ]]; then
    cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DNVF_WITH_GRPC=OFF -DNVF_WITH_TORCH=OFF -DNVF_BUILD_TESTS=ON >/dev/null
  fi
  bench_build nvf_bench_download >/dev/null
fi
bench="$build/lib/cellnet/nvf_bench_download"
[[ -x "$bench" ]] || { echo "download.sh: $bench was not built (is NVF_BUILD_TESTS on?)" >&2; exit 1; }

available="$("$bench" schemes | awk '/^schemes:/{ $1=""; print }')"
if [[ -z "$schemes" ]]; then
  schemes="$available"
fi
if [[ " $available " != *" grpc "* && -z "$grpc_reason" ]]; then
  grpc_reason="this build has no gRPC driver (NVF_WITH_GRPC=OFF)"
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/nvf-bench-download.XXXXXX")"
pids=()
cleanup() {
  for p in "${pids[@]:-}"; do
    [[ -n "$p" ]] && kill "$p" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
# The run functions run in subshells ($(...)): on failure they end the processes they started.
kill_started() {
  for p in "${pids[@]:-}"; do
    [[ -n "$p" ]] && kill "$p" 2>/dev/null || true
  done
}

val() { awk -v k="$1:" '$1 == k { print $2; exit }' "$2"; }

# Waits until file $1 has a "ready:" line or process $2 exits; fails after $3 seconds.
wait_ready() {
  local deadline=$((SECONDS + $3))
  until grep -q '^ready:' "$1" 2>/dev/null; do
    if ! kill -0 "$2" 2>/dev/null; then
      echo "download.sh: process $2 exited before it was ready:" >&2
      cat "${1%.out}.err" >&2 || true
      return 1
    fi
    ((SECONDS < deadline)) || { echo "download.sh: timed out waiting for $1" >&2; return 1; }
    sleep 0.05
  done
}

# Aggregate bytes/s over the given client outputs: n × bytes / (max end − min start).
aggregate() {
  awk '$1=="start_ns:"{ if (min=="" || $2<min) min=$2 }
       $1=="end_ns:"{ if ($2>max) max=$2 }
       $1=="bytes:"{ total+=$2 }
       END { printf "%.6f\n", total / ((max - min) / 1e9) }' "$@"
}

start_at() { echo $(( $(date +%s%3N) + 1500 )); }

# One socket run ($2 = 1: clients read into one reused 4 MiB buffer): prints bytes/s.
socket_run() {
  trap kill_started EXIT
  local d="$work/socket.$1.$2"
  mkdir -p "$d"
  timeout "$timeout_s" "$bench" socket-server --size-mib "$size_mib" --clients "$receivers" \
    --timeout-s "$timeout_s" >"$d/server.out" 2>"$d/server.err" &
  local sp=$!
  pids+=("$sp")
  wait_ready "$d/server.out" "$sp" 60
  local port t cps=()
  port="$(val port "$d/server.out")"
  t="$(start_at)"
  for ((i = 1; i <= receivers; i++)); do
    timeout "$timeout_s" "$bench" socket-client --port "$port" --size-mib "$size_mib" \
      --start-at-ms "$t" --reuse "$2" >"$d/client$i.out" 2>"$d/client$i.err" &
    cps+=($!)
    pids+=($!)
  done
  for p in "${cps[@]}"; do
    wait "$p" || { echo "download.sh: socket client failed:" >&2; cat "$d"/client*.err >&2; return 1; }
  done
  wait "$sp" || { echo "download.sh: socket server failed:" >&2; cat "$d/server.err" >&2; return 1; }
  aggregate "$d"/client*.out
}

# One download run over $1: prints "bytes_per_s receiver_ratio sender_ratio sender_baseline".
download_run() {
  trap kill_started EXIT
  local scheme="$1" d="$work/$1.$2"
  mkdir -p "$d"
  timeout "$((timeout_s + 30))" "$bench" sender --scheme "$scheme" --size-mib "$size_mib" \
    --receivers "$receivers" --timeout-s "$timeout_s" >"$d/sender.out" 2>"$d/sender.err" &
  local sp=$!
  pids+=("$sp")
  wait_ready "$d/sender.out" "$sp" 120
  local url ref t rps=()
  url="$(val url "$d/sender.out")"
  ref="$(val ref "$d/sender.out")"
  t="$(start_at)"
  for ((i = 1; i <= receivers; i++)); do
    timeout "$((timeout_s + 30))" "$bench" receiver --url "$url" --source server --ref "$ref" \
      --name "site-$i" --start-at-ms "$t" --timeout-s "$timeout_s" \
      >"$d/receiver$i.out" 2>"$d/receiver$i.err" &
    rps+=($!)
    pids+=($!)
  done
  for p in "${rps[@]}"; do
    wait "$p" || { echo "download.sh: $scheme receiver failed:" >&2; cat "$d"/receiver*.err >&2; return 1; }
  done
  wait "$sp" || { echo "download.sh: $scheme sender failed:" >&2; cat "$d/sender.err" >&2; return 1; }
  local model rx
  model="$(val model_bytes "$d/sender.out")"
  rx="$(for f in "$d"/receiver*.out; do
          awk -v m="$model" '$1=="baseline_rss_bytes:"{b=$2} $1=="peak_rss_bytes:"{p=$2}
                             END { printf "%.4f\n", (p - b) / m }' "$f"
        done | sort -g | tail -n 1)"
  echo "$(aggregate "$d"/receiver*.out) $rx $(awk -v m="$model" \
    '$1=="baseline_rss_bytes:"{b=$2} $1=="peak_rss_bytes:"{p=$2}
     END { printf "%.4f %d\n", (p - b) / m, b }' "$d/sender.out")"
}

echo "size_mib: $size_mib"
echo "tensors: 128"
echo "receivers: $receivers"
echo "model_bytes: $((size_mib * 1048576))"

socket_best=0 reuse_best=0
for ((r = 1; r <= repeat; r++)); do
  s="$(socket_run "$r" 0)"
  socket_best="$(awk -v a="$s" -v b="$socket_best" 'BEGIN { print (a > b) ? a : b }')"
  s="$(socket_run "$r" 1)"
  reuse_best="$(awk -v a="$s" -v b="$reuse_best" 'BEGIN { print (a > b) ? a : b }')"
done
# The ratios compare with socket_gib_per_s: the client holds all the bytes, as a receiver does.
# socket_reuse_gib_per_s (one 4 MiB buffer overwritten) is the socket's best case, for reference.
awk -v s="$socket_best" -v r="$reuse_best" 'BEGIN {
  printf "socket_gib_per_s: %.3f\n", s / 1073741824
  printf "socket_reuse_gib_per_s: %.3f\n", r / 1073741824
}'

printed_baseline=0
for scheme in $schemes; do
  best=0 rx_max=0 tx_max=0
  for ((r = 1; r <= repeat; r++)); do
    out="$(download_run "$scheme" "$r")"
    read -r bps rx tx base <<<"$out"
    best="$(awk -v a="$bps" -v b="$best" 'BEGIN { print (a > b) ? a : b }')"
    rx_max="$(awk -v a="$rx" -v b="$rx_max" 'BEGIN { print (a > b) ? a : b }')"
    tx_max="$(awk -v a="$tx" -v b="$tx_max" 'BEGIN { print (a > b) ? a : b }')"
    if ((printed_baseline == 0)); then
      awk -v b="$base" 'BEGIN { printf "baseline_rss_mib: %.1f\n", b / 1048576 }'
      printed_baseline=1
    fi
  done
  suffix=""
  [[ "$scheme" == "grpc" ]] || suffix="_$scheme"
  awk -v s="$socket_best" -v r="$reuse_best" -v b="$best" -v rx="$rx_max" -v tx="$tx_max" -v x="$suffix" 'BEGIN {
    printf "download_gib_per_s%s: %.3f\n", x, b / 1073741824
    printf "download_vs_socket_ratio%s: %.2f\n", x, b / s
    printf "download_vs_socket_reuse_ratio%s: %.2f\n", x, b / r
    printf "receiver_rss_over_model%s: %.2f\n", x, rx
    printf "sender_rss_over_model%s: %.2f\n", x, tx
  }'
done
if [[ -n "$grpc_reason" ]]; then
  echo "grpc: unavailable ($grpc_reason)"
fi
