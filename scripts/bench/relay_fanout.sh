#!/usr/bin/env bash
# FedAvg of a large model through relays on a POC system: how many model copies the server sends
# per round, the relays' memory, and the round time with and without relays.
#
# Two POC systems, one after the other, each running the fedavg_pt job of fedavg_large.sh (a
# --size-mib safetensors model of 128 float32 tensors; every client runs `nvflare train --add 1`):
#   1. a server, --relays relays, --clients-per-relay clients behind each relay;
#   2. the same clients connected straight to the server.
# The server's bytes sent are what the server job's download service served (its log's last
# "download service: served N chunks, B bytes"): every model byte a client or relay pulled from
# it; the server parent forwards exactly these. A sampler (procwatch.py) keeps each relay's peak
# VmHWM; its baseline is its VmHWM before the job.
#
# Usage: scripts/bench/relay_fanout.sh [--size-mib 256] [--relays 2] [--clients-per-relay 4]
#                                      [--rounds 2] [--timeout-s 1800]
# Env: BUILD_DIR (default: <repo>/build).
# Prints `name: value` lines, among them:
#   server_bytes_sent_over_model_per_round  with relays; target ≤ relays + 0.1
#   server_bytes_sent_over_model_per_round_without_relays
#   relay_rss_over_model          the largest relay's (peak − baseline) / model bytes; target ≤ 0.3
#   relay_cache_fetched_over_model_per_round  what the relays fetched for their children
#   round_seconds                 with relays (server job log: FedAvg start → "round N/N", mean)
#   round_seconds_without_relays
set -euo pipefail
shopt -s inherit_errexit
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

size_mib=256
relays=2
per_relay=4
rounds=2
timeout_s=1800
while [[ $# -gt 0 ]]; do
  case "$1" in
    --size-mib) size_mib="$2"; shift 2 ;;
    --relays) relays="$2"; shift 2 ;;
    --clients-per-relay) per_relay="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --timeout-s) timeout_s="$2"; shift 2 ;;
    -h|--help) sed -n '2,24p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "relay_fanout.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
[[ -x /usr/bin/time ]] || { echo "relay_fanout.sh: needs /usr/bin/time (Debian package 'time')" >&2; exit 1; }

bench_build nvflare nvf_bench_download >/dev/null
nvflare="$build/apps/nvflare/nvflare"
bench="$build/lib/cellnet/nvf_bench_download"
clients=$((relays * per_relay))
model_bytes=$((size_mib * 1048576))

work="$(mktemp -d "${TMPDIR:-/tmp}/nvf-bench-relay.XXXXXX")"
export HOME="$work/home"
mkdir -p "$HOME"
trap 'for ws in "$work"/poc-*; do NVFLARE_POC_WORKSPACE="$ws" "$nvflare" poc stop >/dev/null 2>&1 || true; done; rm -rf "$work"' EXIT
[[ -n "${KEEP:-}" ]] && trap - EXIT

"$bench" safetensors --out "$work/model.safetensors" --size-mib "$size_mib" >/dev/null

# start_poc NAME RELAYS: a POC system in $work/poc-NAME of $clients clients, behind RELAYS relays
# (0: straight to the server), on free ports; sets NVFLARE_POC_WORKSPACE.
start_poc() {
  export NVFLARE_POC_WORKSPACE="$work/poc-$1"
  python3 - "$work/project-$1.yml" "$2" "$clients" <<'PY'
import socket, sys
out, relays, clients = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
socks = []
def free():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s); return s.getsockname()[1]
lines = ["api_version: 3", "name: example_project", "participants:",
         f"  - {{name: server, type: server, org: nvidia, fed_learn_port: {free()}, admin_port: {free()}, default_host: localhost}}"]
for r in range(1, relays + 1):
    lines.append(f"  - {{name: relay-{r}, type: relay, org: nvidia, listening_host: {{default_host: localhost, port: {free()}}}}}")
per = clients // relays if relays else clients
for c in range(1, clients + 1):
    parent = f", connect_to: {{name: relay-{(c - 1) // per + 1}}}" if relays else ""
    lines.append(f"  - {{name: site-{c}, type: client, org: nvidia{parent}}}")
lines.append("  - {name: admin@nvidia.com, type: admin, org: nvidia, role: project_admin}")
lines += ["builders:", "  - path: nvflare.lighter.impl.workspace.WorkspaceBuilder",
          "  - path: nvflare.lighter.impl.static_file.StaticFileBuilder", "    args: {config_folder: config, scheme: grpc}",
          "  - path: nvflare.lighter.impl.cert.CertBuilder", "  - path: nvflare.lighter.impl.signature.SignatureBuilder"]
open(out, "w").write("\n".join(lines) + "\n")
PY
  "$nvflare" poc prepare -i "$work/project-$1.yml" >/dev/null
  "$nvflare" poc start -ex admin@nvidia.com >/dev/null
}

# run NAME: submits the large job to the running POC; prints "round_seconds bytes_sent".
run() {
  local job="$work/job-$1"
  bench_make_job "$job" "$work/model.safetensors" "$rounds" "$clients"
  if ! timeout "$timeout_s" "$nvflare" job submit -j "$job" --wait >"$job.out" 2>&1; then
    echo "relay_fanout.sh: the job ($1) did not complete:" >&2
    tail -n 20 "$job.out" >&2
    return 1
  fi
  local id
  id="$(awk '/Submitted job: / { print $3; exit }' "$job.out")"
  "$nvflare" admin -c "download_job $id $work/dl-$1" >/dev/null
  local rs
  rs="$(bench_round_times "$work/dl-$1/$id/workspace/log.txt" "$rounds" | awk '{ print $1 }')" || {
    echo "relay_fanout.sh: cannot find $rounds rounds in the server job's log ($1)" >&2
    return 1
  }
  local served
  served="$(grep -o 'download service: served [0-9]* chunks, [0-9]* bytes' "$work/dl-$1/$id/workspace/log.txt" |
            tail -n 1 | awk '{ print $6 }')"
  [[ -n "$served" ]] || { echo "relay_fanout.sh: no download service line in the server job's log ($1)" >&2; return 1; }
  echo "$rs $served"
}

echo "size_mib: $size_mib"
echo "relays: $relays"
echo "clients_per_relay: $per_relay"
echo "rounds: $rounds"
echo "model_bytes: $model_bytes"

start_poc relays "$relays"
relay_pids=()
for r in $(seq 1 "$relays"); do relay_pids+=("$(cat "$NVFLARE_POC_WORKSPACE/example_project/prod_00/relay-$r/pid.fl")"); done
relay_base=0
for p in "${relay_pids[@]}"; do
  hwm="$(awk '/VmHWM/ { print $2 * 1024 }' "/proc/$p/status")"
  ((hwm > relay_base)) && relay_base="$hwm"
done
"$here/procwatch.py" sample "$work/relays.watch" &
sampler=$!
read -r rs_relays sent_relays <<<"$(run relays)"
kill -TERM "$sampler"
wait "$sampler" || true
relay_peak="$(awk '$1 == "relay" { print $2 }' "$work/relays.watch.peaks")"
fetched=0
for r in $(seq 1 "$relays"); do
  f="$( (grep -o '(fetched [0-9]* bytes in all)' "$NVFLARE_POC_WORKSPACE/example_project/prod_00/relay-$r/log.txt" || true) | tail -n 1 | awk '{ print $2 }')"
  fetched=$((fetched + ${f:-0}))
done
"$nvflare" poc stop >/dev/null

start_poc direct 0
read -r rs_direct sent_direct <<<"$(run direct)"
"$nvflare" poc stop >/dev/null

awk -v m="$model_bytes" -v n="$rounds" -v sr="$sent_relays" -v sd="$sent_direct" -v rp="$relay_peak" \
    -v rb="$relay_base" -v rsr="$rs_relays" -v rsd="$rs_direct" -v f="$fetched" 'BEGIN {
  printf "relay_peak_rss_mib: %.1f\n", rp / 1048576
  printf "server_bytes_sent_over_model_per_round: %.2f\n", sr / m / n
  printf "server_bytes_sent_over_model_per_round_without_relays: %.2f\n", sd / m / n
  printf "relay_cache_fetched_over_model_per_round: %.2f\n", f / m / n
  printf "relay_rss_over_model: %.2f\n", (rp - rb) / m
  printf "round_seconds: %.3f\n", rsr
  printf "round_seconds_without_relays: %.3f\n", rsd
}'
