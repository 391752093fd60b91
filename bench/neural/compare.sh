#!/bin/bash
# Before/after comparison of the neural benchmark on a shared machine: runs
# BEFORE and AFTER builds back to back on the same recordings, ROUNDS times
# per method, so that each pair sees about the same load; compare the ratio
# within a pair, not times across pairs.
# Usage: bench/neural/compare.sh BEFORE_BUILD AFTER_BUILD [THREADS] [ROUNDS]
# NEURAL_BENCH_H5=FILE reuses (or keeps) the recordings as in run.sh.
set -euo pipefail
before=$1
after=$2
threads=${3:-2}
rounds=${4:-1}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
. "$here/recordings.sh"
data=$(neural_recordings "$after" "$threads" "$work")
for round in $(seq "$rounds"); do
  for method in ${METHODS:-pls ridge}; do
    for build in "$before" "$after"; do
      load=$(cut -d' ' -f1 /proc/loadavg)
      /usr/bin/time -f "%e %M" -o "$work/time" "$build/worker/convrnn-worker" \
        --spec "$here/teacher.json" --neural "$data" --neural-method "$method" \
        --threads "$threads" > "$work/out.json" 2> /dev/null
      read -r wall rss < "$work/time"
      python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(f'round {sys.argv[2]} {sys.argv[3]:5} {sys.argv[4]}: wall {sys.argv[5]} s, peak RSS {int(sys.argv[6])/1048576:.2f} GiB, median_r {r[\"median_r\"]:.6f}, median_normalized {r[\"median_normalized\"]:.6f}, best layers {[g[\"best_layer\"] for g in r[\"regions\"]]}, load before {sys.argv[7]}')" \
        "$work/out.json" "$round" "$method" "$build" "$wall" "$rss" "$load"
    done
  done
done
