#!/bin/bash
# Everything issue 16 asks of one GPU session, in one run of about ten
# minutes on a 16-core H200 machine; writes $OUT/SUMMARY.md.
#
# It is tools/gpu/check.sh with the whole project: when the service's own
# dependencies are found (on the machine, or in .gpu-carry/service/
# root.tar.xz, extracted Debian packages made by `SERVICE=1
# tools/gpu/fetch_deps.sh`, unpacked into $BUILD/service-root), FULL=1 builds every target against the
# machine's LibTorch and adds the full CTest suite, a real Fashion-MNIST
# campaign with `convrnn-worker --devices all` and the slots benchmark
# (`--devices cuda:0xN`). Without them it runs the LibTorch core only (the
# [.gpu] tests, the benchmarks, the CPU suites) and says what was missing.
#
# The lead's device call:
#   command:   bash tools/gpu/run_all.sh
#   carry:     [".gpu-carry"]
#   timeout_s: 600
#
# The local dry run (no GPU; every step with tiny sizes, in the existing
# Debian-LibTorch build folder, about 10 minutes on the shared 2 cores):
#   DRY_RUN=1 tools/gpu/run_all.sh
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CARRY=${CARRY:-$ROOT/.gpu-carry}
export OUT=${OUT:-/tmp/gpucheck-out}
mkdir -p "$OUT"

BUILD=${BUILD:-/tmp/convrnn-gpu-build}
SYSROOT=$BUILD/service-root
if [ -f "$CARRY/service/root.tar.xz" ] && [ ! -d "$SYSROOT/usr" ]; then
  mkdir -p "$SYSROOT" && tar -C "$SYSROOT" -xJf "$CARRY/service/root.tar.xz"
fi
if [ -d "$SYSROOT/usr" ]; then
  # Extracted Debian packages: headers, libraries, CMake and pkg-config files, protoc.
  lib=$SYSROOT/usr/lib/x86_64-linux-gnu
  export PKG_CONFIG_SYSROOT_DIR=$SYSROOT
  export PKG_CONFIG_LIBDIR=$lib/pkgconfig:$SYSROOT/usr/share/pkgconfig
  export LD_LIBRARY_PATH=$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  export PATH=$SYSROOT/usr/bin:$PATH
  export CMAKE_PREFIX_PATH=$SYSROOT/usr${CMAKE_PREFIX_PATH:+;$CMAKE_PREFIX_PATH}
  export OPENSSL_ROOT_DIR=$SYSROOT/usr
fi
export BUILD

missing=""
for pc in grpc++ protobuf sqlite3 hdf5 spdlog cpp-httplib yaml-cpp; do
  pkg-config --exists "$pc" 2>/dev/null || missing="$missing $pc"
done
for tool in protoc grpc_cpp_plugin; do
  command -v "$tool" > /dev/null 2>&1 || missing="$missing $tool"
done
if [ -z "$missing" ]; then
  export FULL=${FULL:-1}
else
  export FULL=0
  echo "service dependencies missing:$missing: the LibTorch core only" | tee "$OUT/service_missing.txt"
fi

if [ -n "${DRY_RUN:-}" ]; then
  # Tiny sizes, the Debian-LibTorch build folder, CPU devices.
  export REUSE_BUILD=${REUSE_BUILD:-$ROOT/build} JOBS=${JOBS:-2} NICE=${NICE:-"nice -n 19"}
  export BUDGET=${BUDGET:-3600} SCALE=${SCALE:-4} SLOTS=${SLOTS:-"1 2"}
  export CAMPAIGN_SECONDS=${CAMPAIGN_SECONDS:-40} CAMPAIGN_TRAIN_LIMIT=${CAMPAIGN_TRAIN_LIMIT:-512}
  export CAMPAIGN_EPOCHS=${CAMPAIGN_EPOCHS:-1} SLOT_SECONDS=${SLOT_SECONDS:-25}
  export SLOT_TRAIN_LIMIT=${SLOT_TRAIN_LIMIT:-256} BENCH_CELLS=${BENCH_CELLS:-feedforward}
  export BENCH_BATCHES=${BENCH_BATCHES:-16} CTEST_REGEX=${CTEST_REGEX:-'cuda_graphs|canonical JSON|Device batches'}
  export REST_TARGETS=${REST_TARGETS:-"convrnn_model_test convrnn_data_test convrnn_util_test convrnn_spec_test convrnn_export_reference convrnn-server convrnn-worker convrnn"}
else
  export BUDGET=${BUDGET:-570}
fi
exec "$ROOT/tools/gpu/check.sh"
