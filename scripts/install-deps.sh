#!/usr/bin/env bash
# Installs the Debian 12 packages nvflare needs to build and test, only when some are missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config ccache git
  libcli11-dev libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libssl-dev openssl libarchive-dev libtorch-dev libtomlplusplus-dev libyaml-cpp-dev
  nlohmann-json3-dev libspdlog-dev libgtest-dev libgmock-dev libedit-dev zlib1g-dev
  python3-torch python3-numpy python3-dev pybind11-dev python3-protobuf unzip zip
  slurm-wlm munge  # tests/slurm: a one-node Slurm cluster for the batch files of scripts/slurm/
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
