#!/usr/bin/env bash
# Installs what is missing, builds nvflare and its LibTorch trainer, and runs the main job:
# federated training of a PyTorch SimpleNetwork on two simulated sites (jobs/hello-pt).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake --preset default
cmake --build --preset default --target nvflare nvflare-train
NVFLARE="$PWD/build/apps/nvflare/nvflare"
"$NVFLARE" --version

work=$(mktemp -d "${TMPDIR:-/tmp}/nvflare-quickstart.XXXXXX")
echo
echo "== nvflare simulator jobs/hello-pt -w $work/ws -n 2 -t 2"
"$NVFLARE" simulator jobs/hello-pt -w "$work/ws" -n 2 -t 2
echo
echo "Quickstart done. The global model is in $work/ws/server/simulate_job/app_server/"
