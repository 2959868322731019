#!/usr/bin/env bash
# Build duel (via setup.sh) and run the toy training example.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD_DIR="${BUILD_DIR:-build}"

bash scripts/setup.sh
"$BUILD_DIR/examples/train_toy" "$@"
