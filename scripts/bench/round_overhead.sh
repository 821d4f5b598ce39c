#!/usr/bin/env bash
# Fixed per-round cost and start-up latency: jobs/hello-numpy (a one-tensor model; `nvflare train
# --add 1` trainers) in the simulator with 2 clients training at once and 20 rounds.
#
#   tiny_round_ms           mean round time over rounds 2..N: ("round N/N" − "round 1/N") / (N − 1),
#                           from the server log's timestamps (ms resolution)
#   start_to_first_task_ms  from launching the simulator (epoch ms taken just before exec) to the
#                           first line a trainer prints after it received, downloaded and trained
#                           its first task ("[trainer site-k …] … round 0: added 1 …" in the site
#                           logs, timestamped by the client job when the line arrives): an upper
#                           bound of the time the first task takes to reach a trainer
#
# Usage: scripts/bench/round_overhead.sh [--rounds 20] [--clients 2] [--timeout-s 300]
# Env: BUILD_DIR (default: <repo>/build).
set -euo pipefail
shopt -s inherit_errexit
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

rounds=20
clients=2
timeout_s=300
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --clients) clients="$2"; shift 2 ;;
    --timeout-s) timeout_s="$2"; shift 2 ;;
    -h|--help) sed -n '2,15p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "round_overhead.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
((rounds >= 2)) || { echo "round_overhead.sh: --rounds must be at least 2" >&2; exit 2; }

bench_build nvflare >/dev/null
nvflare="$build/apps/nvflare/nvflare"
[[ -x "$nvflare" ]] || { echo "round_overhead.sh: $nvflare was not built" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/nvf-bench-rounds.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cp -r "$repo/jobs/hello-numpy" "$work/job"
python3 - "$work/job/app/config/config_fed_server.json" "$rounds" "$clients" <<'EOF'
import json, sys
path, rounds, clients = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
c = json.load(open(path))
c["num_rounds"] = rounds
c["min_clients"] = clients
json.dump(c, open(path, "w"), indent=4)
EOF

launched_ms="$(date +%s%3N)"
if ! timeout "$timeout_s" "$nvflare" simulator "$work/job" -w "$work/ws" -n "$clients" -t "$clients" \
    >"$work/sim.out" 2>"$work/sim.err"; then
  echo "round_overhead.sh: the simulator failed:" >&2
  tail -n 20 "$work/sim.out" "$work/sim.err" >&2
  exit 1
fi

python3 - "$work/ws" "$rounds" "$clients" "$launched_ms" <<'EOF'
import datetime, glob, re, sys
ws, rounds, clients, launched_ms = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])

def stamp_ms(line):
    # "YYYY-MM-DD HH:MM:SS,mmm - ..." in local time
    t = datetime.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
    return t.timestamp() * 1000.0

ends = {}
for line in open(f"{ws}/server/log.txt", errors="replace"):
    m = re.search(r" - round (\d+)/(\d+):", line)
    if m:
        ends[int(m.group(1))] = stamp_ms(line)
if 1 not in ends or rounds not in ends:
    sys.exit(f"round_overhead.sh: rounds 1 and {rounds} not both in the server log")

first = None
for path in glob.glob(f"{ws}/site-*/log.txt"):
    for line in open(path, errors="replace"):
        if re.search(r"\[trainer .*\] .*round 0: added", line):
            t = stamp_ms(line)
            first = t if first is None else min(first, t)
            break
if first is None:
    sys.exit("round_overhead.sh: no trainer reported its first task in the site logs")

print(f"rounds: {rounds}")
print(f"clients: {clients}")
print(f"tiny_round_ms: {(ends[rounds] - ends[1]) / (rounds - 1):.1f}")
print(f"start_to_first_task_ms: {first - launched_ms:.0f}")
EOF
