#!/usr/bin/env bash
# Install build dependencies (idempotent) and configure + build duel into build/.
# Env: BUILD_DIR (default build), BUILD_TYPE (default Release), JOBS (default 2),
#      DUEL_CMAKE_ARGS (extra cmake configure args, e.g. "-DDUEL_CUDA=OFF").
set -euo pipefail

APT_PACKAGES="cmake g++ make libeigen3-dev catch2 libboost-context-dev libstb-dev zlib1g-dev dataset-fashion-mnist python3-torch libtorch-dev libopenblas0-pthread python3-numpy openmpi-bin libopenmpi-dev bible-kjv"

cd "$(dirname "${BASH_SOURCE[0]}")/.."

BUILD_DIR="${BUILD_DIR:-build}"
BUILD_TYPE="${BUILD_TYPE:-Release}"
JOBS="${JOBS:-2}"

source scripts/install_packages.sh
# shellcheck disable=SC2086
install_packages setup.sh $APT_PACKAGES

# shellcheck disable=SC2086
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE="$BUILD_TYPE" ${DUEL_CMAKE_ARGS:-}
cmake --build "$BUILD_DIR" -j"$JOBS"
