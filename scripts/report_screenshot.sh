#!/usr/bin/env bash
# Renders `duel report` of the committed run records (docs/runs/*) and takes a screenshot of the
# page with headless Chromium for docs/training.md: docs/images/report.png.
#
#   bash scripts/report_screenshot.sh          # needs build/duel (cmake --build build --target duel_cli)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/install_packages.sh
install_packages report_screenshot chromium fonts-dejavu-core
DUEL="${DUEL:-build/duel}"
PAGE=/tmp/duel-report.html
OUT=docs/images/report.png
"$DUEL" report docs/runs/* --out "$PAGE"
# the window is the screenshot: 1280 wide, tall enough for the table and the first runs
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,2000 \
  --screenshot="$OUT" "file://$PAGE" 2>/dev/null
echo "wrote $OUT ($(stat -c %s "$OUT") bytes) from $PAGE"
