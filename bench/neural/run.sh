#!/bin/bash
# Neural-predictivity benchmark (docs/performance.md, "Neural predictivity"):
# one model scored against 3,200 stimuli x 256 sites x 26 bins x 4 repetitions
# of synthetic recordings. Usage: bench/neural/run.sh [BUILD_DIR] [THREADS]
# Environment: METHODS (default "pls ridge"); NEURAL_BENCH_H5=FILE keeps the
# recordings in FILE and reuses them on later runs (making them takes
# minutes).
set -euo pipefail
build=${1:-build}
threads=${2:-2}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
. "$here/recordings.sh"
data=$(neural_recordings "$build" "$threads" "$work")
ls -l "$data" >&2
for method in ${METHODS:-pls ridge}; do
  /usr/bin/time -f "$method: wall %e s, peak RSS %M KiB" \
    "$build/worker/convrnn-worker" --spec "$here/teacher.json" --neural "$data" \
    --neural-method "$method" --threads "$threads" > "$work/$method.json"
  python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(sys.argv[2], 'median_r', round(r['median_r'],3), 'median_normalized', round(r['median_normalized'],3), 'scoring s', round(r['seconds'],1), [(g['region'], g['best_layer']) for g in r['regions']])" "$work/$method.json" "$method"
done
