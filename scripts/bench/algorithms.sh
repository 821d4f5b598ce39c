#!/usr/bin/env bash
# How well the training algorithms learn: FedAvg, FedProx, FedOpt and SCAFFOLD, each a recipe run
# in the simulator with the built-in LibTorch trainer (`nvflare train`, hello-pt's SimpleNetwork)
# on its synthetic CIFAR-shaped data, where each site has its own class balance and noise (site k
# sees a skewed label mix: non-IID). Same sites, seeds and rounds for every algorithm.
#
#   <algorithm>_round_<r>_accuracy   the sites' mean accuracy of the global model they received in
#                                    round r (the "accuracy" of the round line; round 1 = initial)
#   <algorithm>_final_accuracy       the last round's
#   <algorithm>_seconds              wall time of the run
#
# Usage: scripts/bench/algorithms.sh [--rounds 8] [--clients 4] [--epochs 1] [--algorithms "fedavg fedprox fedopt scaffold"]
# Env: BUILD_DIR (default: <repo>/build).
set -euo pipefail
shopt -s inherit_errexit
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

rounds=8
clients=4
epochs=1
algorithms="fedavg fedprox fedopt scaffold"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --clients) clients="$2"; shift 2 ;;
    --epochs) epochs="$2"; shift 2 ;;
    --algorithms) algorithms="$2"; shift 2 ;;
    -h|--help) sed -n '2,15p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "algorithms.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done

bench_build nvflare nvflare-train >/dev/null
nvflare="$build/apps/nvflare/nvflare"
work="$(mktemp -d "${TMPDIR:-/tmp}/nvf-bench-algorithms.XXXXXX")"
trap 'rm -rf "$work"' EXIT

for algo in $algorithms; do
  extra=""
  case "$algo" in
    fedavg|scaffold) ;;
    fedprox) extra='fedprox_mu = 0.01' ;;
    fedopt) extra=$'[optimizer_args]\npath = "torch.optim.SGD"\nargs = { lr = 1.0, momentum = 0.6 }' ;;
    *) echo "algorithms.sh: unknown algorithm '$algo'" >&2; exit 2 ;;
  esac
  printf 'recipe = "%s"\nname = "bench-%s"\nmin_clients = %s\nnum_rounds = %s\nmodel = "simple_network"\ntrain_args = "--epochs %s --lr 0.01 --seed 1"\nparams_transfer_type = "DIFF"\n%s\n' \
    "$algo" "$algo" "$clients" "$rounds" "$epochs" "$extra" >"$work/$algo.toml"
  start=$(date +%s.%N)
  if ! "$nvflare" recipe run "$work/$algo.toml" -w "$work/ws-$algo" -n "$clients" -t 2 >"$work/$algo.out" 2>&1; then
    echo "algorithms.sh: $algo failed:" >&2
    tail -n 20 "$work/$algo.out" >&2
    exit 1
  fi
  end=$(date +%s.%N)
  python3 - "$work/$algo.out" "$algo" "$start" "$end" <<'EOF'
import re, sys
path, algo, start, end = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
acc = [float(m.group(2)) for m in re.finditer(r"(?m)^round (\d+)/\d+: .*?accuracy ([0-9.]+)", open(path).read())]
for i, a in enumerate(acc, 1):
    print(f"{algo}_round_{i}_accuracy: {a:.4f}")
print(f"{algo}_final_accuracy: {acc[-1]:.4f}" if acc else f"{algo}_final_accuracy: nan")
print(f"{algo}_seconds: {end - start:.1f}")
EOF
done
