#!/bin/bash
# One-shot check of the LibTorch core on a bare GPU machine: builds util,
# worker's spec / data / model / trainer, their test suites and the training
# bench against the machine's LibTorch 2.x (the CMake package of its Python
# torch, CUDA on), then runs, in order of value:
#   1. the hidden [.gpu] Catch2 test (bf16 autocast + channels-last training)
#      and whether CTest registered it as gpu_training;
#   2. bench/train_throughput.cc on cuda:0 beside the PyTorch reference
#      (bench/reference/convrnn_ref.py) on the same GPU, interleaved, fp32 and
#      bf16 + channels-last, for a C++ / PyTorch ratio;
#   3. the CPU suites under LibTorch 2.x (model + cells, data, train) and the
#      bit-exactness check of the reference against the C++ model.
# With FULL=1 (tools/gpu/run_all.sh sets it when the service's own
# dependencies - gRPC, protobuf, SQLite, HDF5, spdlog, httplib,
# prometheus-cpp, yaml-cpp - are found) it configures the whole project
# instead of the LibTorch core, builds every target, and adds:
#   4. the full CTest suite (the [.gpu] tests ran in 1.);
#   5. a real Fashion-MNIST campaign: convrnn-server, `convrnn-worker
#      --devices all`, the convrnn client;
#   6. the slots benchmark: a small-model campaign's finished trials per
#      hour with `--devices cuda:0xN`, N in $SLOTS.
# Every step has a timeout, logs to $OUT/<step>.log and goes on after a
# failure; $OUT/summary.tsv (step, status, seconds) grows as steps end and
# $OUT/SUMMARY.md gathers it at the end. The whole run stays within $BUDGET
# seconds (default 420): later steps are skipped when time runs out.
#
# Third-party code comes from .gpu-carry/ (tools/gpu/fetch_deps.sh): abseil
# and zlib are compiled here from source, stb_image's implementation too;
# nlohmann-json, Catch2 v2 and CLI11 are header-only. Nothing is installed.
# Fashion-MNIST (for the train and data suites, and the [.gpu] test) is linked
# to /usr/share/datasets/fashion-mnist from the carry when that is missing and
# writable; otherwise those tests report the missing files.
#
# The lead's device call (tools `run`; carry one path, 37 MB of 64 MiB):
#   command:   bash tools/gpu/check.sh
#   carry:     [".gpu-carry"]
#   timeout_s: 480
# Expected: 5-7 minutes of script on 16 cores (configure ~0.5, build ~2-3,
# [.gpu] test ~0.5, bench ~1.5, CPU suites ~1), plus the machine's start.
#
# Locally (no CUDA: the CUDA steps are skipped and a short CPU bench runs):
#   tools/gpu/fetch_deps.sh
#   OUT=/tmp/gpucheck-out BUILD=/tmp/gpu-build JOBS=2 NICE="nice -n 19" \
#     BUDGET=5400 SCALE=10 tools/gpu/check.sh
#   (tools/gpu/hide_system_deps.sh runs it with Debian's copies of the
#   carried packages hidden, to prove the carry complete.)
#
# REUSE_BUILD=DIR skips the third-party build and configure and builds in
# an already configured build folder (the local dry run of run_all.sh).
#
# Environment: OUT (default /tmp/gpucheck-out), BUILD (/tmp/convrnn-gpu-build),
# FULL (0), SLOTS ("1 2 4 8"), CAMPAIGN_SECONDS (60), CAMPAIGN_TRAIN_LIMIT
# (0: all), CAMPAIGN_EPOCHS (2), SLOT_SECONDS (20), SLOT_TRAIN_LIMIT (6000),
# CARRY (.gpu-carry), JOBS (nproc), NICE (empty), BUDGET (420), PYTHON
# (first of python3, python, /usr/bin/python3 that imports torch), BENCH_CELLS
# ("feedforward rgc lstm"), BENCH_BATCHES ("64 256"), SCALE (1: multiplies the
# build's and the CPU suites' timeouts, for slow local machines).
set -u
set -a  # steps run their functions in child shells (bash -c): export every variable
START=$(date +%s)
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUT:-/tmp/gpucheck-out}
BUILD=${BUILD:-/tmp/convrnn-gpu-build}
CARRY=${CARRY:-$ROOT/.gpu-carry}
JOBS=${JOBS:-$(nproc)}
NICE=${NICE:-}
BUDGET=${BUDGET:-420}
BENCH_CELLS=${BENCH_CELLS:-"feedforward rgc lstm"}
BENCH_BATCHES=${BENCH_BATCHES:-"64 256"}
COMPILE_BATCHES=${COMPILE_BATCHES:-${BENCH_BATCHES##* }}  # torch.compile: the largest only
SCALE=${SCALE:-1}
DEPS=$BUILD/deps
B=${REUSE_BUILD:-$BUILD/build}
FULL=${FULL:-0}
SLOTS=${SLOTS:-"1 2 4 8"}
mkdir -p "$OUT" "$DEPS/prefix/include" "$DEPS/prefix/lib" "$B"
SUMMARY=$OUT/summary.tsv
printf 'step\tstatus\tseconds\n' > "$SUMMARY"

left() { echo $((BUDGET - ($(date +%s) - START))); }
note() { echo "[$(($(date +%s) - START))s] $*" | tee -a "$OUT/progress.log"; }

# step NAME SECONDS MIN_SECONDS CMD...: runs CMD with a timeout of SECONDS,
# cut to the budget left (less a 10 s reserve for the summary); skipped when
# fewer than MIN_SECONDS remain. Output goes to $OUT/NAME.log.
step() {
  local name=$1 want=$2 need=$3
  shift 3
  local avail=$(($(left) - 10))
  local t=$((want < avail ? want : avail))
  if [ "$t" -lt "$need" ]; then
    printf '%s\tSKIPPED (budget: %ss left)\t0\n' "$name" "$avail" >> "$SUMMARY"
    note "$name: skipped, ${avail}s left"
    return 99
  fi
  note "$name: start (timeout ${t}s)"
  local s=$(date +%s)
  { echo "# $*"; echo "# timeout ${t}s"; } > "$OUT/$name.log"
  # timeout kills the whole process group (ninja and its compilers included).
  timeout -k 10 "$t" bash -c '"$@"' "$name" "$@" >> "$OUT/$name.log" 2>&1
  local rc=$?
  local d=$(($(date +%s) - s)) status
  case $rc in
    0) status=ok ;;
    124 | 137) status="TIMEOUT after ${t}s" ;;
    *) status="FAILED rc=$rc" ;;
  esac
  printf '%s\t%s\t%s\n' "$name" "$status" "$d" >> "$SUMMARY"
  note "$name: $status (${d}s)"
  return $rc
}

# ---------------------------------------------------------------- diagnostics
PY=""
for p in ${PYTHON:-} python3 python /usr/bin/python3; do
  if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import torch' >/dev/null 2>&1; then PY=$p; break; fi
done
diagnostics() {
  set -x
  date -u; uname -a; cat /etc/os-release; ldd --version | head -1; id
  nproc; free -g; df -h "$BUILD" "$OUT" /tmp; cat /proc/loadavg
  nvidia-smi
  nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap,clocks.max.sm --format=csv
  command -v nvcc && nvcc --version
  ls -d /usr/local/cuda* 2>/dev/null
  c++ --version; g++ --version; gcc --version; cc --version
  cmake --version; ninja --version; command -v ccache
  echo "python: $PY"; [ -n "$PY" ] && "$PY" --version
  [ -n "$PY" ] && "$PY" -m pip list 2>/dev/null | grep -iE 'torch|nvidia|cmake|ninja|numpy' 
  ls "$CARRY" && head -5 "$CARRY/MANIFEST"
  set +x
}
export -f left note diagnostics
step diagnostics 30 5 diagnostics

# Everything the build and the runs need to know about the Python torch, in
# one interpreter start (CUDA initialisation takes seconds).
TORCH_ENV=$OUT/torch_env.sh
probe_torch() {
  "$PY" - "$TORCH_ENV" <<'EOF'
import glob, os, sys
import torch
lines = {}
lines["TORCH_VERSION"] = torch.__version__
lines["TORCH_PREFIX"] = torch.utils.cmake_prefix_path
lines["TORCH_ABI"] = str(int(torch._C._GLIBCXX_USE_CXX11_ABI))
lines["TORCH_CUDA_BUILD"] = torch.version.cuda or ""
lines["TORCH_CUDA"] = "1" if torch.cuda.is_available() else "0"
lines["TORCH_CUDNN"] = str(torch.backends.cudnn.version() or "") if torch.version.cuda else ""
if torch.cuda.is_available():
    cap = torch.cuda.get_device_capability(0)
    lines["GPU_NAME"] = torch.cuda.get_device_name(0)
    lines["GPU_ARCH"] = f"{cap[0]}.{cap[1]}"
    lines["GPU_SM"] = f"{cap[0]}{cap[1]}"
site = os.path.dirname(os.path.dirname(torch.__file__))
nv = sorted(glob.glob(os.path.join(site, "nvidia", "*", "lib")))
lines["NVIDIA_LIBS"] = ":".join(nv)
cudnn_inc = os.path.join(site, "nvidia", "cudnn", "include")
cudnn_lib = sorted(glob.glob(os.path.join(site, "nvidia", "cudnn", "lib", "libcudnn.so*")))
if os.path.isdir(cudnn_inc) and cudnn_lib:
    lines["CUDNN_INC"] = cudnn_inc
    lines["CUDNN_LIB"] = cudnn_lib[0]
with open(sys.argv[1], "w") as f:
    for k, v in lines.items():
        f.write(f"{k}='{v}'\n")
        print(f"{k}={v}")
print("torch.__config__.show():")
print(torch.__config__.show())
EOF
}
export -f probe_torch
if [ -n "$PY" ]; then
  step torch_probe 60 10 probe_torch
  [ -f "$TORCH_ENV" ] && . "$TORCH_ENV"
else
  printf 'torch_probe\tFAILED: no python with torch\t0\n' >> "$SUMMARY"
fi
if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
  PATH=/usr/local/cuda/bin:$PATH
fi
TORCH_VERSION=${TORCH_VERSION:-unknown}
TORCH_ABI=${TORCH_ABI:-1}
TORCH_CUDA=${TORCH_CUDA:-0}
CUDA_ON=0
if [ -n "${TORCH_CUDA_BUILD:-}" ] && command -v nvcc >/dev/null 2>&1; then CUDA_ON=1; fi
note "torch $TORCH_VERSION, CUDA build '${TORCH_CUDA_BUILD:-}', GPU usable: $TORCH_CUDA, CXX11 ABI $TORCH_ABI"

# Binaries find libtorch by RUNPATH; pip's CUDA libraries (cuDNN, cuBLAS...)
# normally through libtorch's own RUNPATH, this is a fallback.
if [ -n "${NVIDIA_LIBS:-}" ]; then export LD_LIBRARY_PATH="$NVIDIA_LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; fi

# ------------------------------------------------------- third-party sources
CC_BIN=$(command -v cc || command -v gcc || true)
build_deps() {
  set -ex
  test -d "$CARRY/src"
  rm -rf "$DEPS/src" && mkdir -p "$DEPS/src"
  tar -C "$DEPS/src" -xzf "$CARRY/src/abseil-20220623.1.tar.gz"
  tar -C "$DEPS/src" -xjf "$CARRY/src/zlib-1.2.13.tar.bz2"
  cd "$DEPS/src"/zlib-*/
  local objs=""
  for f in adler32 compress crc32 deflate gzclose gzlib gzread gzwrite infback inffast inflate \
           inftrees trees uncompr zutil; do
    $NICE "$CC_BIN" -O2 -fPIC -D_LARGEFILE64_SOURCE=1 -DHAVE_HIDDEN -c "$f.c" -o "$f.o" &
    objs="$objs $f.o"
  done
  wait
  rm -f "$DEPS/prefix/lib/libz.a"
  ar rcs "$DEPS/prefix/lib/libz.a" $objs
  cp zlib.h zconf.h "$DEPS/prefix/include/"
  cd "$DEPS"
  # Debian's libstb holds every stb implementation; the code uses these two.
  printf '#define STB_IMAGE_IMPLEMENTATION\n#include <stb/stb_image.h>\n' > stb_image.c
  printf '#define STB_IMAGE_WRITE_IMPLEMENTATION\n#include <stb/stb_image_write.h>\n' > stb_image_write.c
  $NICE "$CC_BIN" -O2 -fPIC -I"$CARRY/prefix/include" -c stb_image.c -o stb_image.o
  $NICE "$CC_BIN" -O2 -fPIC -I"$CARRY/prefix/include" -c stb_image_write.c -o stb_image_write.o
  rm -f "$DEPS/prefix/lib/libstb.a"
  ar rcs "$DEPS/prefix/lib/libstb.a" stb_image.o stb_image_write.o
  ls -l "$DEPS/prefix/lib"
}
export -f build_deps
[ -z "${REUSE_BUILD:-}" ] && step deps 90 10 build_deps

# ------------------------------------------------------------------ configure
CXX_FLAGS="-D_GLIBCXX_USE_CXX11_ABI=$TORCH_ABI -isystem $DEPS/prefix/include -isystem $CARRY/prefix/include"
PREFIXES="$CARRY/prefix"
TORCH_ROOT_ARGS=()
if [ -n "${TORCH_PREFIX:-}" ] && [ -f "$TORCH_PREFIX/Torch/TorchConfig.cmake" ]; then
  PREFIXES="$TORCH_PREFIX;$PREFIXES"
  # The torch folder itself (TORCH_PREFIX is its share/cmake): beside a
  # system LibTorch (Debian's) Torch's package would otherwise take that
  # one's library, and CMakeLists.txt refuses the mix.
  TORCH_ROOT_ARGS=(-DTorch_ROOT="$(dirname "$(dirname "$TORCH_PREFIX")")")
fi
# The whole project links gRPC, which links the abseil it was built with:
# then that abseil, not the carried sources.
if [ "$FULL" = 1 ]; then
  SCOPE_ARGS=(-DCONVRNN_TORCH_ONLY=OFF -DCONVRNN_ABSL_SOURCE_DIR=)
else
  SCOPE_ARGS=(-DCONVRNN_TORCH_ONLY=ON -DCONVRNN_ABSL_SOURCE_DIR="$DEPS/src/abseil-20220623.1")
fi
BASE_ARGS=(-S "$ROOT" -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${SCOPE_ARGS[@]}"
  -DCMAKE_PREFIX_PATH="$PREFIXES" -DCMAKE_CXX_FLAGS="$CXX_FLAGS"
  ${TORCH_ROOT_ARGS[@]+"${TORCH_ROOT_ARGS[@]}"}
  -DZLIB_INCLUDE_DIR="$DEPS/prefix/include" -DZLIB_LIBRARY="$DEPS/prefix/lib/libz.a"
  -DSTB_LIBRARY="$DEPS/prefix/lib/libstb.a"
  # CMake 4 refuses projects asking for policies older than 3.5 (the carried
  # packages' configs are fine; this is in case); older CMake ignores it.
  -DCMAKE_POLICY_VERSION_MINIMUM=3.5
  # libtorch_cuda exports nothing the binaries call: keep it linked, or CUDA
  # reads as unavailable.
  -DCMAKE_EXE_LINKER_FLAGS="-Wl,--no-as-needed")
CUDA_ARGS=()
if [ "$CUDA_ON" = 1 ]; then
  export TORCH_CUDA_ARCH_LIST=${GPU_ARCH:-9.0}  # no GPU probing by Caffe2's CMake
  CUDA_ARGS=(-DCMAKE_CUDA_COMPILER="$(command -v nvcc)" -DCMAKE_CUDA_ARCHITECTURES="${GPU_SM:-90}"
    -DCMAKE_CUDA_FLAGS=-allow-unsupported-compiler)
  if [ -n "${CUDNN_INC:-}" ]; then
    # pip's cuDNN ships only libcudnn.so.N, which Caffe2's FindCUDNN does not look for.
    CUDA_ARGS+=(-DCUDNN_INCLUDE_PATH="$CUDNN_INC" -DCUDNN_LIBRARY_PATH="$CUDNN_LIB")
  fi
fi
configured=0
if [ -n "${REUSE_BUILD:-}" ]; then
  configured=1
  printf 'configure\tREUSED %s\t0\n' "$B" >> "$SUMMARY"
else
step configure 150 20 cmake "${BASE_ARGS[@]}" ${CUDA_ARGS[@]+"${CUDA_ARGS[@]}"}
rc=$?
if [ "$rc" = 0 ]; then
  configured=1
elif [ "$rc" != 99 ]; then
  cp "$B/CMakeFiles/CMakeConfigureLog.yaml" "$B/CMakeFiles/CMakeError.log" "$OUT/" 2>/dev/null
  # Second try: a fresh cache and only the essentials (the hints above may be what failed).
  rm -rf "$B/CMakeCache.txt" "$B/CMakeFiles"
  step configure_retry 120 20 cmake "${BASE_ARGS[@]}" && configured=1
fi
fi
if [ "$configured" = 1 ]; then
  grep -E '^(CMAKE_CXX_COMPILER|CMAKE_CUDA_COMPILER|Torch_DIR|Caffe2_DIR|CUDNN_|CAFFE2_USE|CUDAToolkit_|absl_|nlohmann_json_DIR|Catch2_DIR|CLI11_DIR|ZLIB_|STB_)' \
    "$B/CMakeCache.txt" > "$OUT/cmake_cache_excerpt.txt" 2>/dev/null
fi

# ---------------------------------------------------------------------- build
# Two ninja runs (-k 0: a file that fails to compile leaves the others to
# build). First what the GPU steps need (the libraries, the train suite, the
# bench); then the other suites, in the background while the [.gpu] test runs
# and finished before the bench, so that the bench has the machine to itself.
# .ninja_log gives every file's compile time.
FIRST="convrnn_train_test convrnn_train_bench"
REST="convrnn_model_test convrnn_data_test convrnn_export_reference convrnn_util_test"
[ "$FULL" = 1 ] && REST=all
REST=${REST_TARGETS:-$REST}  # the local dry run names fewer than all
bin() { [ "$configured" = 1 ] && find "$B" -type f -name "$1" -perm -u+x 2>/dev/null | head -1; }
rest_pid=""
if [ "$configured" = 1 ]; then
  step build $((240 * SCALE)) 30 $NICE ninja -C "$B" -k 0 -j "$JOBS" $FIRST
  rest_timeout=150
  [ "$FULL" = 1 ] && rest_timeout=360
  step build_rest $((rest_timeout * SCALE)) 30 $NICE ninja -C "$B" -k 0 -j "$JOBS" $REST &
  rest_pid=$!
fi
TRAIN_TEST=$(bin convrnn_train_test)
BENCH=$(bin convrnn_train_bench)
note "built TRAIN_TEST: ${TRAIN_TEST:-MISSING}; BENCH: ${BENCH:-MISSING}"

# ---------------------------------------------------------------------- data
FASHION=/usr/share/datasets/fashion-mnist
if [ ! -f "$FASHION/train-images-idx3-ubyte.gz" ] && [ -d "$CARRY/fashion-mnist" ]; then
  { mkdir -p "$(dirname "$FASHION")" && rm -rf "$FASHION" && ln -s "$CARRY/fashion-mnist" "$FASHION"; } 2>/dev/null ||
    { command -v sudo >/dev/null && sudo -n sh -c "mkdir -p '$(dirname "$FASHION")' && ln -sfn '$CARRY/fashion-mnist' '$FASHION'"; } 2>/dev/null
fi
if [ -f "$FASHION/train-images-idx3-ubyte.gz" ]; then note "fashion-mnist: $FASHION ok"
else note "fashion-mnist: MISSING at $FASHION (the data, train and [.gpu] tests will fail)"; fi

# ------------------------------------------------------------ 1. [.gpu] test
if [ -n "$TRAIN_TEST" ]; then
  (cd "$B" && ctest -N -R '^gpu_') > "$OUT/ctest_gpu_registration.log" 2>&1
  if [ "$TORCH_CUDA" = 1 ]; then
    # bf16 + channels-last training, and CUDA graphs against eager training.
    step gpu_test 180 20 "$TRAIN_TEST" "[.gpu]" --durations yes
  else
    printf 'gpu_test\tSKIPPED (no usable CUDA GPU)\t0\n' >> "$SUMMARY"
  fi
fi

if [ -n "$rest_pid" ]; then
  note "waiting for build_rest"
  wait "$rest_pid"
  cp "$B/.ninja_log" "$OUT/ninja_log.txt" 2>/dev/null
  # The slowest compiles, for budgeting the next run.
  awk 'NR > 1 { printf "%6.1f s  %s\n", ($2 - $1) / 1000, $4 }' "$B/.ninja_log" 2>/dev/null |
    sort -rn | head -25 > "$OUT/slowest_compiles.txt"
  cat "$OUT/build.log" "$OUT/build_rest.log" 2>/dev/null | grep -E -A3 'error:|^FAILED:' |
    head -80 > "$OUT/build_errors.txt"
fi
MODEL_TEST=$(bin convrnn_model_test)
DATA_TEST=$(bin convrnn_data_test)
EXPORTER=$(bin convrnn_export_reference)
UTIL_TEST=$(bin convrnn_util_test)
for t in MODEL_TEST DATA_TEST EXPORTER UTIL_TEST; do
  note "built $t: ${!t:-MISSING}"
done

# -------------------------------------------------- 2. bench: C++ vs PyTorch
SPEC=$ROOT/bench/train_spec.json
BENCH_OUT=$OUT/bench.jsonl
: > "$BENCH_OUT"
# Variants of one (cell, batch), one process each, back to back:
#   c++ eager + host loader (the trainer before issue 16), c++ eager + device
#   data, c++ CUDA graphs + device data, PyTorch eager, and (a separate step,
#   compiling takes long) torch.compile(mode="reduce-overhead").
bench_variants() {  # DEVICE CELL BATCH WARMUP STEPS
  local device=$1 cell=$2 batch=$3 warmup=$4 steps=$5
  local common=(--spec "$SPEC" --cell "$cell" --batch "$batch" --threads 4 --device "$device"
    --warmup "$warmup" --steps "$steps")
  local tag="$device $cell b$batch"
  run_side "$tag c++ eager host" 60 "$BENCH" "${common[@]}" --cuda-graphs off --device-data off
  run_side "$tag c++ eager device" 60 "$BENCH" "${common[@]}" --cuda-graphs off --device-data on
  run_side "$tag c++ graphs device" 60 "$BENCH" "${common[@]}" --cuda-graphs auto --device-data on
  run_side "$tag pytorch" 60 "$PY" "$ROOT/bench/reference/convrnn_ref.py" bench "${common[@]}"
}
run_side() {  # TAG TIMEOUT CMD...: one process, its JSON line into bench.jsonl
  local tag=$1 limit=$2
  shift 2
  if [ "$(left)" -lt 40 ]; then echo "skip $tag: budget"; return; fi
  echo "== $tag: $*"
  local tmp=$OUT/.bench_line rc
  timeout -k 5 "$limit" "$@" > "$tmp"
  rc=$?
  echo "rc=$rc $(cat "$tmp")"
  grep '^{' "$tmp" >> "$BENCH_OUT"
  rm -f "$tmp"
}
gpu_bench() {
  export OMP_WAIT_POLICY=PASSIVE
  local batch cell
  for batch in $BENCH_BATCHES; do
    for cell in $BENCH_CELLS; do
      # Epochs of 10 steps on the C++ side (each ends in a loss read-back);
      # the graph is captured in the first (warm-up) epoch.
      bench_variants cuda:0 "$cell" "$batch" 10 60
    done
  done
}
compile_bench() {  # DEVICE WARMUP STEPS TIMEOUT BATCHES: torch.compile(mode="reduce-overhead")
  export OMP_WAIT_POLICY=PASSIVE
  local device=$1 warmup=$2 steps=$3 limit=$4 batches=$5 batch cell
  for batch in $batches; do
    for cell in $BENCH_CELLS; do
      run_side "$device $cell b$batch pytorch compile" "$limit" "$PY" \
        "$ROOT/bench/reference/convrnn_ref.py" bench --spec "$SPEC" --cell "$cell" \
        --batch "$batch" --threads 4 --device "$device" --warmup "$warmup" --steps "$steps" \
        --compile reduce-overhead
    done
  done
}
cpu_bench() {  # local stand-in: every variant once, tiny, proves each side runs
  export OMP_WAIT_POLICY=PASSIVE
  bench_variants cpu feedforward 16 4 4
}
bench_table() {
  "$PY" - "$BENCH_OUT" <<'EOF'
import json, sys
cols = ["c++ eager host", "c++ eager device", "c++ graphs device", "pytorch", "pytorch compile"]
rows = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["impl"] == "c++":
        name = "c++ %s %s" % ("graphs" if r.get("cuda_graphs") else "eager",
                              "device" if r.get("device_data") else "host")
    else:
        name = "pytorch compile" if r["impl"] == "pytorch-compile" else "pytorch"
    rows.setdefault((r.get("device", "cpu"), r["batch"], r["cell"]), {})[name] = r
def ips(r, name):
    return r[name]["images_per_sec"] if name in r else None
print("Training images/s on one device, same torch, fp32, the network of bench/train_spec.json")
print("with every cell replaced by the one named. c++ graphs = train.cuda_graphs replay;")
print("device = batches gathered on the training device; host = the loader thread.\n")
print("| device | batch | cell | " + " | ".join(cols) + " | graphs / eager host | graphs / compile |")
print("| --- | ---: | --- | " + " | ".join("---:" for _ in cols) + " | ---: | ---: |")
for (dev, batch, cell), r in sorted(rows.items()):
    cells = [f"{ips(r, c):,.0f}" if ips(r, c) else "-" for c in cols]
    g, e, c = ips(r, "c++ graphs device"), ips(r, "c++ eager host"), ips(r, "pytorch compile")
    ratio1 = f"{g / e:.2f}" if g and e else "-"
    ratio2 = f"{g / c:.2f}" if g and c else "-"
    print(f"| {dev} | {batch} | {cell} | " + " | ".join(cells) + f" | {ratio1} | {ratio2} |")
# A "graphs" run that fell back is listed as "eager device" twice; say why.
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["impl"] == "c++" and r.get("eager_reason") and "cuda_graphs is off" not in r["eager_reason"]:
        print(f"\n{r['device']} {r['cell']} b{r['batch']}: eager because {r['eager_reason']}")
EOF
}
export -f bench_variants run_side gpu_bench compile_bench cpu_bench
if [ -z "${SKIP_BENCH:-}" ] && [ -n "$BENCH" ] && [ -n "$PY" ]; then
  if [ "$TORCH_CUDA" = 1 ]; then
    step bench_gpu 200 50 gpu_bench
  else
    step bench_cpu $((60 * SCALE)) 30 cpu_bench
  fi
  [ -s "$BENCH_OUT" ] && bench_table > "$OUT/bench_table.md" 2>&1
fi

# ------------------------------------- 3. CPU suites under LibTorch 2.x
# The three suites side by side, the cores split between them.
cpu_suites() {
  local threads=$(( $(nproc) / 3 > 0 ? $(nproc) / 3 : 1 ))
  export OMP_NUM_THREADS=$threads
  local pids=()
  local name binary
  for name in model data train; do
    case $name in model) binary=$MODEL_TEST ;; data) binary=$DATA_TEST ;; train) binary=$TRAIN_TEST ;; esac
    [ -n "$binary" ] || { echo "$name: not built"; continue; }
    "$binary" --durations yes > "$OUT/${name}_test.log" 2>&1 &
    pids+=($!)
  done
  [ -n "$UTIL_TEST" ] && "$UTIL_TEST" > "$OUT/util_test.log" 2>&1
  local rc=0 p
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  for name in model data train util; do  # Catch2's verdict lines
    echo "$name: $(grep -E '^(All tests passed|test cases:)' "$OUT/${name}_test.log" 2>/dev/null | tail -1)"
  done
  return $rc
}
export -f cpu_suites
if [ "$FULL" = 1 ]; then
  printf 'cpu_suites\tSKIPPED (the full CTest run below has them)\t0\n' >> "$SUMMARY"
else
  step cpu_suites $((200 * SCALE)) 30 cpu_suites
fi

if [ -n "$EXPORTER" ] && [ -n "$PY" ]; then
  step reference_check 60 15 "$PY" "$ROOT/bench/reference/convrnn_ref.py" check \
    --exporter "$EXPORTER" --work "$B/reference_check"
fi

# ------------------------------------------- 4-6. the whole service (FULL=1)
SERVER=$(bin convrnn-server)
WORKER=$(bin convrnn-worker)
CLIENT=$(bin convrnn)
if [ "$TORCH_CUDA" = 1 ]; then DEVICES=all; SLOT_DEVICE=cuda:0; else DEVICES=cpu; SLOT_DEVICE=cpu; fi
# CAMPAIGN_TRAIN_LIMIT (0: all 54,000 images) and the rest size the runs.
CAMPAIGN_SECONDS=${CAMPAIGN_SECONDS:-60}
CAMPAIGN_TRAIN_LIMIT=${CAMPAIGN_TRAIN_LIMIT:-0}
CAMPAIGN_EPOCHS=${CAMPAIGN_EPOCHS:-2}
SLOT_SECONDS=${SLOT_SECONDS:-20}
SLOT_TRAIN_LIMIT=${SLOT_TRAIN_LIMIT:-6000}

# make_campaign FILE NAME TRAIN_LIMIT EPOCHS MAX_TRIALS MAX_PARALLEL SMALL
make_campaign() {
  "$PY" - "$@" <<'EOF'
import json, sys
out, name, limit, epochs, max_trials, parallel, small = sys.argv[1:8]
data = {"dataset": "fashion-mnist", "val_fraction": 0.1, "split_seed": 0, "val_limit": 2000}
if int(limit) > 0:
    data["train_limit"] = int(limit)
if small == "1":  # a small model: a launch-bound step, the case for several slots per GPU
    layers = [
        {"channels": 16, "kernel": 5, "stride": 2, "pool": False, "cell": {"type": "feedforward"}},
        {"channels": {"choice": [16, 24]}, "kernel": 3, "pool": True,
         "cell": {"choice": [{"type": "feedforward"}, {"type": "lstm"}, {"type": "gru"}]}}]
    batch = 128
else:
    layers = [
        {"channels": 32, "kernel": 5, "stride": 1, "pool": True, "cell": {"type": "feedforward"}},
        {"channels": {"choice": [32, 64]}, "kernel": 3, "pool": True,
         "cell": {"choice": [{"type": "feedforward"}, {"type": "lstm"},
                             {"type": "rgc", "cell_channels": {"choice": [16, 32]},
                              "tau_kernel": {"choice": [3, 5]}, "gate_kernel": {"choice": [3, 5]}}]}},
        {"channels": 64, "kernel": 3, "pool": True,
         "cell": {"choice": [{"type": "feedforward"}, {"type": "gru"}, {"type": "rgc"}]}}]
    batch = 256
space = {"input": {"channels": 1, "height": 28, "width": 28}, "num_classes": 10,
         "time": {"steps": 5 if small == "1" else 6, "loss": "last"}, "layers": layers,
         "train": {"optimizer": "sgd", "lr": {"loguniform": [0.02, 0.2]}, "momentum": 0.9,
                   "nesterov": True, "weight_decay": 5e-4, "batch_size": batch,
                   "epochs": int(epochs), "schedule": "cosine", "clip_grad_norm": 1.0, "seed": 0}}
if small != "1":
    space["feedback"] = {"candidates": "all_descending"}
json.dump({"name": name, "data": data, "space": space,
           "search": {"algorithm": "random", "seed": 0, "max_trials": int(max_trials),
                      "max_parallel": int(parallel)},
           "objectives": [{"metric": "val_top1", "goal": "max"}, {"metric": "params", "goal": "min"}],
           "trial": {"max_attempts": 2, "lease_seconds": 120}}, open(out, "w"), indent=1)
EOF
}
# completed_trials ADDRESS ID: the campaign's completed trials (client JSON).
completed_trials() {
  "$CLIENT" --server "$1" --json status "$2" | "$PY" -c '
import json, sys
def find(j):
    if isinstance(j, dict):
        if "completed" in j and not isinstance(j["completed"], (dict, list)):
            return int(j["completed"])
        for v in j.values():
            r = find(v)
            if r is not None:
                return r
    if isinstance(j, list):
        for v in j:
            r = find(v)
            if r is not None:
                return r
    return None
print(find(json.load(sys.stdin)) or 0)'
}
# run_campaign TAG PORT FILE SECONDS WORKER_ARGS...: server + one worker
# command + the campaign for SECONDS (or until it ends); prints
# "completed N seconds S" and the client's view into $OUT/TAG.*.
run_campaign() {
  local tag=$1 port=$2 file=$3 seconds=$4
  shift 4
  local dir=$OUT/$tag address=127.0.0.1:$port
  rm -rf "$dir" && mkdir -p "$dir"
  "$SERVER" --db "$dir/campaigns.db" --listen "$address" 2> "$dir/server.log" &
  local server_pid=$!
  for _ in $(seq 1 100); do "$CLIENT" --server "$address" campaigns > /dev/null 2>&1 && break; sleep 0.2; done
  "$WORKER" --server "$address" --checkpoint-root "$dir/checkpoints" "$@" 2> "$dir/worker.log" &
  local worker_pid=$!
  local id
  id=$("$CLIENT" --server "$address" --json launch "$file" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  local start=$(date +%s) done=0 n=0
  while [ $(($(date +%s) - start)) -lt "$seconds" ]; do
    sleep 2
    "$CLIENT" --server "$address" --json status "$id" > "$dir/status.json" 2>/dev/null
    grep -qE '"(state|status)": *"(COMPLETED|FINISHED|DONE)"' "$dir/status.json" && { done=1; break; }
  done
  local elapsed=$(($(date +%s) - start))
  n=$(completed_trials "$address" "$id")
  "$CLIENT" --server "$address" status "$id" > "$dir/status.txt" 2>&1
  "$CLIENT" --server "$address" best "$id" --top 5 > "$dir/best.txt" 2>&1
  "$CLIENT" --server "$address" workers > "$dir/workers.txt" 2>&1
  kill -TERM "$worker_pid" 2> /dev/null; wait "$worker_pid" 2> /dev/null
  kill -TERM "$server_pid" 2> /dev/null; wait "$server_pid" 2> /dev/null
  echo "$tag: completed $n seconds $elapsed finished $done"
  printf '%s\t%s\t%s\n' "$tag" "$n" "$elapsed" >> "$OUT/campaigns.tsv"
}
campaign() {
  make_campaign "$OUT/campaign.json" fashion-mnist-gpu "$CAMPAIGN_TRAIN_LIMIT" "$CAMPAIGN_EPOCHS" 64 4 0
  run_campaign campaign 50661 "$OUT/campaign.json" "$CAMPAIGN_SECONDS" --devices "$DEVICES"
  cat "$OUT/campaign/best.txt"
}
slots_bench() {
  local n
  for n in $SLOTS; do
    make_campaign "$OUT/slots$n.json" "slots-$n" "$SLOT_TRAIN_LIMIT" 1 1000 "$n" 1
    run_campaign "slots$n" $((50670 + n)) "$OUT/slots$n.json" "$SLOT_SECONDS" \
      --devices "${SLOT_DEVICE}x$n" --threads 1
  done
}
export -f make_campaign completed_trials run_campaign campaign slots_bench
: > "$OUT/campaigns.tsv"
if [ "$FULL" = 1 ]; then
  if [ -n "$SERVER" ] && [ -n "$WORKER" ] && [ -n "$CLIENT" ]; then
    step campaign $((CAMPAIGN_SECONDS + 60)) 40 campaign
    step slots_bench $(( (SLOT_SECONDS + 20) * $(echo $SLOTS | wc -w) + 30 )) 60 slots_bench
  else
    printf 'campaign\tSKIPPED (server, worker or client not built)\t0\n' >> "$SUMMARY"
  fi
fi
# torch.compile(mode="reduce-overhead") after the GPU steps that matter
# most: compiling an unrolled network takes a minute or more per shape.
if [ -z "${SKIP_BENCH:-}" ] && [ -n "$PY" ] &&
  "$PY" -c 'import torch, sys; sys.exit(0 if hasattr(torch, "compile") else 1)' 2>/dev/null; then
  if [ "$TORCH_CUDA" = 1 ]; then
    step bench_compile 330 60 compile_bench cuda:0 10 60 110 "$COMPILE_BATCHES"
  else
    step bench_compile $((120 * SCALE)) 30 compile_bench cpu 2 2 $((100 * SCALE)) "$COMPILE_BATCHES"
  fi
  [ -s "$BENCH_OUT" ] && bench_table > "$OUT/bench_table.md" 2>&1
else
  printf 'bench_compile\tSKIPPED (no torch.compile: torch 1.x, or SKIP_BENCH)\t0\n' >> "$SUMMARY"
fi
# Last: every suite but the [.gpu] ones (step 1 ran them), side by side.
# CTEST_REGEX limits it (the local dry run: a few cases, not the whole).
if [ "$FULL" = 1 ] && [ "$configured" = 1 ]; then
  step ctest_full $((240 * SCALE)) 60 bash -c "cd '$B' && ctest -j '$JOBS' --timeout $((200 * SCALE)) -E '^gpu_' ${CTEST_REGEX:+-R '$CTEST_REGEX'} --output-on-failure"
fi
slots_table() {
  "$PY" - "$OUT/campaigns.tsv" "$SLOT_SECONDS" <<'EOF'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
slots = [(int(t[5:]), int(n), int(s)) for t, n, s in rows if t.startswith("slots")]
if slots:
    print("Small-model campaign (Fashion-MNIST subset, 1 epoch per trial), one device,")
    print("trial slots = worker processes on it; finished trials in the window, per hour:\n")
    print("| slots | finished | seconds | trials / hour | vs 1 slot |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    base = None
    for n, done, secs in sorted(slots):
        rate = done * 3600.0 / max(secs, 1)
        base = base if base is not None else rate
        rel = f"{rate / base:.2f}" if base else "-"
        print(f"| {n} | {done} | {secs} | {rate:,.0f} | {rel} |")
for t, n, s in rows:
    if t == "campaign":
        print(f"\nFashion-MNIST campaign with --devices all: {n} trials completed in {s} s")
EOF
}

# -------------------------------------------------------------------- summary
{
  echo "# GPU check, $(date -u +%FT%TZ), $(($(date +%s) - START)) s of $BUDGET"
  echo
  echo "torch $TORCH_VERSION (CUDA ${TORCH_CUDA_BUILD:-none}, cuDNN ${TORCH_CUDNN:-none}, CXX11 ABI $TORCH_ABI), GPU: ${GPU_NAME:-none}"
  echo
  echo '```'
  column -t -s "$(printf '\t')" "$SUMMARY" 2>/dev/null || cat "$SUMMARY"
  echo '```'
  echo
  for t in gpu_training gpu_cuda_graphs; do
    echo "$t registered in CTest: $(grep -q "$t" "$OUT/ctest_gpu_registration.log" 2>/dev/null && echo yes || echo no)"
  done
  for f in gpu_test model_test data_test train_test util_test reference_check; do
    [ -f "$OUT/$f.log" ] && echo "$f: $(grep -E '^(All tests passed|test cases:)|cases match' "$OUT/$f.log" | tail -1)"
  done
  [ -f "$OUT/ctest_full.log" ] && echo "ctest_full: $(grep -E 'tests passed|tests failed' "$OUT/ctest_full.log" | tail -1)"
  [ -f "$OUT/ctest_full.log" ] && grep -E '^\s+[0-9]+ - .*\((Failed|Timeout|SEGFAULT|Subprocess)' "$OUT/ctest_full.log" | head -20
  [ -f "$OUT/bench_table.md" ] && { echo; cat "$OUT/bench_table.md"; }
  [ -s "$OUT/campaigns.tsv" ] && { echo; slots_table; }
  [ -f "$OUT/campaign/best.txt" ] && { echo; echo '```'; cat "$OUT/campaign/best.txt"; echo '```'; }
  [ -s "$OUT/build_errors.txt" ] && { echo; echo "first build errors:"; head -20 "$OUT/build_errors.txt"; }
} > "$OUT/SUMMARY.md" 2>&1
cat "$OUT/SUMMARY.md"
exit 0
