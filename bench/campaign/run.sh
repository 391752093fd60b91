#!/usr/bin/env bash
# The product-level search benchmark (bench/campaign/run.py) end to end:
# a virtual environment with the anchors (requirements.txt, from PyPI; never
# a product dependency), every run, then the report.
#
#   bench/campaign/run.sh [BUILD_DIR] [OUT]      (make bench-campaign)
#
# Environment: SEEDS (default 0-9), TRIALS (64), TOOLS (ours,optuna,hyperopt),
# CAMPAIGN (bench/campaign/campaign.json), REPORT_TRIALS (12,24,64).
# On this 2-core machine the default takes about 80 minutes; runs already in
# OUT are kept, so an interrupted benchmark picks up where it stopped.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
out=${2:-$build/bench-campaign}
venv=$build/bench-campaign-venv
if [ ! -x "$venv/bin/python" ] || ! cmp -s bench/campaign/requirements.txt "$venv/requirements.txt"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r bench/campaign/requirements.txt
  cp bench/campaign/requirements.txt "$venv/requirements.txt"
fi
for exe in server/convrnn-server worker/convrnn-worker client/convrnn; do
  [ -x "$build/$exe" ] || { echo "$build/$exe missing: build first (make build)" >&2; exit 1; }
done
"$venv/bin/python" bench/campaign/run.py --build "$build" --out "$out" \
  --seeds "${SEEDS:-0-9}" --trials "${TRIALS:-64}" --tools "${TOOLS:-ours,optuna,hyperopt}" \
  --campaign "${CAMPAIGN:-bench/campaign/campaign.json}"
python3 bench/campaign/report.py "$out" --trials "${REPORT_TRIALS:-12,24,64}" | tee "$out/report.md"
