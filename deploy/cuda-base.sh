#!/bin/bash
# The CUDA bases for deploy/Dockerfile's VARIANT=cuda from what a lab without
# Docker Hub has: a pip-installed CUDA torch (2.x) and a CUDA toolkit of the
# same major version, on top of the local Debian 12 image (debian:12; see
# deploy/container-test.sh for making it with debootstrap).
#   deploy/cuda-base.sh TORCH CUDA_HOME
# TORCH: the torch package folder (site-packages/torch) or its CMake prefix
# (python3 -c 'import torch; print(torch.utils.cmake_prefix_path)'); its
# CUDA libraries are the nvidia/*/lib folders of the same site-packages.
# CUDA_HOME: the toolkit (bin/nvcc, nvvm/, include/, lib/ or lib64/).
# Builds deploy/cuda-base/Dockerfile's two targets and prints their tags:
#   $CUDA_BUILD_BASE   (default localhost/convrnn-base:<torch>-build):
#     Debian 12 + the CUDA runtime libraries + nvcc, headers, static and
#     stub libraries in /usr/local/cuda + LibTorch in /opt/libtorch;
#   $CUDA_RUNTIME_BASE (default localhost/convrnn-base:<torch>-runtime):
#     Debian 12 + the CUDA runtime libraries only.
# <torch> is the torch version with '+' as '-' (2.11.0-cu130). Then:
#   podman build -f deploy/Dockerfile --build-arg VARIANT=cuda \
#     --build-arg BASE=$CUDA_BUILD_BASE --build-arg RUNTIME_BASE=$CUDA_RUNTIME_BASE \
#     --build-arg LIBTORCH=/opt/libtorch -t convrnn-search:0.1.0-cuda .
# Environment: PODMAN (default "podman --runtime runc"), CONVRNN_CONTAINER_WORK
# (staging folder, default /var/tmp/convrnn-containers), CUDA_BUILD_BASE,
# CUDA_RUNTIME_BASE. The staging folder is hard links where it can be (the
# same file system), so it costs no space; it is removed at the end.
set -euo pipefail
torch=$(realpath "${1:?TORCH: site-packages/torch or its cmake_prefix_path}")
cuda=$(realpath "${2:?CUDA_HOME: the CUDA toolkit}")
[ -d "$torch/Torch" ] && torch=$(realpath "$torch/../..")  # .../torch/share/cmake
repo=$(cd "$(dirname "$0")/.." && pwd)
work=${CONVRNN_CONTAINER_WORK:-/var/tmp/convrnn-containers}
read -r -a podman <<< "${PODMAN:-podman --runtime runc}"
# As deploy/container-test.sh: no default ulimits (setrlimit is refused in
# some sandboxes), runc.
if [ -z "${CONTAINERS_CONF:-}" ]; then
  mkdir -p "$work"
  [ -f "$work/containers.conf" ] ||
    printf '[containers]\ndefault_ulimits = []\n[engine]\nruntime = "runc"\n' > "$work/containers.conf"
  export CONTAINERS_CONF=$work/containers.conf
fi
die() { echo "cuda-base: $*" >&2; exit 1; }

[ -e "$torch/lib/libtorch_cuda.so" ] || die "$torch/lib/libtorch_cuda.so missing: not a CUDA torch"
[ -f "$torch/share/cmake/Torch/TorchConfig.cmake" ] || die "$torch/share/cmake/Torch missing"
[ -x "$cuda/bin/nvcc" ] || die "$cuda/bin/nvcc missing"
cuda_lib=$cuda/lib64
[ -d "$cuda_lib" ] || cuda_lib=$cuda/lib
version=$(sed -n "s/^__version__ = '\(.*\)'/\1/p" "$torch/version.py" | tr + -)
[ -n "$version" ] || die "no __version__ in $torch/version.py"
build_tag=${CUDA_BUILD_BASE:-localhost/convrnn-base:$version-build}
runtime_tag=${CUDA_RUNTIME_BASE:-localhost/convrnn-base:$version-runtime}
"${podman[@]}" image exists docker.io/library/debian:12 ||
  die "no debian:12 image (deploy/container-test.sh makes one with debootstrap)"

ctx=$work/cuda-base-context
rm -rf "$ctx"
mkdir -p "$ctx/runtime/lib" "$ctx/build/cuda/lib" "$ctx/build/libtorch/lib" "$ctx/build/libtorch/share"
trap 'rm -rf "$ctx"' EXIT
link() { cp -al "$@" 2>/dev/null || cp -a "$@"; }  # hard links, or copies across file systems

# runtime: every shared library of the pip CUDA wheels (no static archives).
shopt -s nullglob
for f in "$(dirname "$torch")"/nvidia/*/lib/*.so*; do link "$f" "$ctx/runtime/lib/"; done
compgen -G "$ctx/runtime/lib/libcudart.so.*" >/dev/null ||
  die "no libcudart in $(dirname "$torch")/nvidia/*/lib (pip's nvidia-* CUDA wheels)"

# build: the toolkit's compiler, headers and whatever of its lib/ the runtime
# libraries do not already provide (static and stub libraries, CMake files,
# the unversioned .so links CMake's FindCUDAToolkit looks for).
link "$cuda/bin" "$cuda/nvvm" "$cuda/include" "$ctx/build/cuda/"
[ -d "$cuda/targets" ] && link "$cuda/targets" "$ctx/build/cuda/"
for f in "$cuda_lib"/*; do
  [ -e "$ctx/runtime/lib/$(basename "$f")" ] || link "$f" "$ctx/build/cuda/lib/"
done
# LibTorch as the libtorch zip lays it out, less the Python bindings.
for f in "$torch"/lib/*.so*; do
  case $(basename "$f") in libtorch_python.so) continue ;; esac
  link "$f" "$ctx/build/libtorch/lib/"
done
link "$torch/include" "$ctx/build/libtorch/"
link "$torch/share/cmake" "$ctx/build/libtorch/share/"
du -sh "$ctx/runtime" "$ctx/build/cuda" "$ctx/build/libtorch" >&2

"${podman[@]}" build --network host -f "$repo/deploy/cuda-base/Dockerfile" --target runtime \
  -t "$runtime_tag" "$ctx" >&2
"${podman[@]}" build --network host -f "$repo/deploy/cuda-base/Dockerfile" --target build \
  -t "$build_tag" "$ctx" >&2
echo "CUDA_BUILD_BASE=$build_tag"
echo "CUDA_RUNTIME_BASE=$runtime_tag"
