#!/usr/bin/env bash
# Installs what is missing, builds the nvflare binary and runs the main example.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake --preset default
cmake --build --preset default --target nvflare
NVFLARE="$PWD/build/apps/nvflare/nvflare"
"$NVFLARE" --version

work=$(mktemp -d "${TMPDIR:-/tmp}/nvflare-quickstart.XXXXXX")
echo
echo "== nvflare job list_templates"
"$NVFLARE" job list_templates
echo
echo "== nvflare job create -j $work/hello-numpy -w fedavg_np -f config_fed_server.conf num_rounds=3"
"$NVFLARE" job create -j "$work/hello-numpy" -w fedavg_np -f config_fed_server.conf num_rounds=3
echo
echo "== nvflare job validate -j $work/hello-numpy"
"$NVFLARE" job validate -j "$work/hello-numpy"
echo
echo "Quickstart done. The job folder is $work/hello-numpy"
