#!/bin/sh
# Training throughput of the C++ trainer against the PyTorch reference, one
# interleaved run: for every thread count, batch size and cell type, the C++
# bench and the Python reference run back to back (alternating which goes
# first), each in a fresh process, on the same spec and synthetic data.
# Prints the JSON lines as they come, then the table of docs/performance.md.
#
#   bench/run_train_bench.sh [BUILD_DIR]      (default build-bench)
#   env: CELLS, BATCHES, THREADS, SPEC, OUT (JSON lines file),
#        OMP_WAIT_POLICY (default PASSIVE, as convrnn-worker sets for itself;
#        both sides run under the same value)
set -eu
cd "$(dirname "$0")/.."
BUILD=${1:-build-bench}
CELLS=${CELLS:-"feedforward time_decay simple_rnn gru lstm ugrnn intersection rgc"}
BATCHES=${BATCHES:-"64 256"}
THREADS=${THREADS:-"1 2"}
SPEC=${SPEC:-bench/train_spec.json}
OUT=${OUT:-$BUILD/train_bench.jsonl}
PY=/usr/bin/python3
OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
export OMP_WAIT_POLICY
CPP=$BUILD/bench/convrnn_train_bench

[ -x "$CPP" ] || { echo "build it first: ninja -C $BUILD convrnn_train_bench" >&2; exit 2; }
echo "# $(date -u +%FT%TZ) $(nproc) cores, OMP_WAIT_POLICY=$OMP_WAIT_POLICY, load: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
: > "$OUT"
i=0
for threads in $THREADS; do
  for batch in $BATCHES; do
    # Fewer steps at the large batch: each step already runs seconds.
    if [ "$batch" -ge 256 ]; then warmup=1; steps=3; else warmup=2; steps=4; fi
    for cell in $CELLS; do
      cpp="$CPP --spec $SPEC --cell $cell --batch $batch --threads $threads --warmup $warmup --steps $steps"
      py="$PY bench/reference/convrnn_ref.py bench --spec $SPEC --cell $cell --batch $batch --threads $threads --warmup $warmup --steps $steps"
      if [ $((i % 2)) -eq 0 ]; then first=$cpp; second=$py; else first=$py; second=$cpp; fi
      $first | tee -a "$OUT"
      $second | tee -a "$OUT"
      i=$((i + 1))
    done
  done
done
echo "# done $(date -u +%FT%TZ), load: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
$PY bench/train_table.py "$OUT"
