#!/usr/bin/env bash
# Install build dependencies (idempotent) and configure + build duel into build/.
# Env: BUILD_DIR (default build), BUILD_TYPE (default Release), JOBS (default 2),
#      DUEL_CMAKE_ARGS (extra cmake configure args, e.g. "-DDUEL_CUDA=OFF").
set -euo pipefail

APT_PACKAGES="cmake g++ make libeigen3-dev catch2 libboost-context-dev libstb-dev zlib1g-dev dataset-fashion-mnist python3-torch libtorch-dev libopenblas0-pthread python3-numpy"

cd "$(dirname "${BASH_SOURCE[0]}")/.."

BUILD_DIR="${BUILD_DIR:-build}"
BUILD_TYPE="${BUILD_TYPE:-Release}"
JOBS="${JOBS:-2}"

missing=()
for pkg in $APT_PACKAGES; do
  status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
  if [[ "$status" != "install ok installed" ]]; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]})); then
  echo "setup.sh: installing missing packages: ${missing[*]}"
  if [[ "$(id -u)" -eq 0 ]]; then
    SUDO=()
  elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
  else
    echo "setup.sh: not root and sudo unavailable; cannot install: ${missing[*]}" >&2
    exit 1
  fi
  "${SUDO[@]}" apt-get update
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${missing[@]}"
else
  echo "setup.sh: all apt packages present"
fi

# shellcheck disable=SC2086
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE="$BUILD_TYPE" ${DUEL_CMAKE_ARGS:-}
cmake --build "$BUILD_DIR" -j"$JOBS"
