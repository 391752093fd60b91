# Sourced by run.sh and compare.sh: the benchmark's synthetic recordings
# (3,200 stimuli x 256 sites x 26 bins x 4 repetitions from teacher.json).
# neural_recordings BUILD THREADS WORKDIR prints the HDF5 path: NEURAL_BENCH_H5
# when set (made there once, reused after), else a file in WORKDIR.
neural_recordings() {
  local build=$1 threads=$2 work=$3
  local here data
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  data=${NEURAL_BENCH_H5:-$work/bench.h5}
  if [ ! -f "$data" ]; then
    "$build/worker/convrnn-neural-synth" --spec "$here/teacher.json" --out "$data" \
      --images 3200 --sites-per-region 128 --reps 4 --noise 1.0 --bins 26 --seed 1 \
      --threads "$threads" >&2
  fi
  echo "$data"
}
