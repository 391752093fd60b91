#!/bin/bash
# Neural-predictivity benchmark (docs/performance.md, "Neural predictivity"):
# one model scored against 3,200 stimuli x 256 sites x 26 bins x 4 repetitions
# of synthetic recordings. Usage: bench/neural/run.sh [BUILD_DIR] [THREADS]
set -euo pipefail
build=${1:-build}
threads=${2:-2}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$build/worker/convrnn-neural-synth" --spec "$here/teacher.json" --out "$work/bench.h5" \
  --images 3200 --sites-per-region 128 --reps 4 --noise 1.0 --bins 26 --seed 1 --threads "$threads"
ls -l "$work/bench.h5" >&2
for method in pls ridge; do
  /usr/bin/time -f "$method: wall %e s, peak RSS %M KiB" \
    "$build/worker/convrnn-worker" --spec "$here/teacher.json" --neural "$work/bench.h5" \
    --neural-method "$method" --threads "$threads" > "$work/$method.json"
  python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(sys.argv[2], 'median_r', round(r['median_r'],3), 'median_normalized', round(r['median_normalized'],3), 'scoring s', round(r['seconds'],1), [(g['region'], g['best_layer']) for g in r['regions']])" "$work/$method.json" "$method"
done
