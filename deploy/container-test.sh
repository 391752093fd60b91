#!/bin/bash
# Containers, live, with Debian's podman (as root, --runtime runc; crun is
# refused here): the Debian 12 base image made with debootstrap from Debian's
# archive and tagged as the Dockerfile's base (debian:12), then
#   runtime BUILD_DIR  an image from the binaries already built in BUILD_DIR
#                      (deploy/Dockerfile.runtime; what CI runs), or
#   full BUILD_DIR     the full image (deploy/Dockerfile: compiles everything
#                      in the image; `make test-deploy`; BUILD_DIR unused),
#   cuda BUILD_DIR     the full image with VARIANT=cuda (`make test-deploy-cuda`;
#                      BUILD_DIR unused) on the CUDA bases of deploy/cuda-base.sh,
#                      made from the pip torch CONVRNN_TORCH (default: the one
#                      $PYTHON, python3, imports) and the toolkit CUDA_HOME
#                      (default /usr/local/cuda), unless CUDA_BUILD_BASE and
#                      CUDA_RUNTIME_BASE name existing images; it also checks
#                      that the worker links libtorch_cuda and says why when a
#                      GPU is asked for and none is there,
# and a small campaign with the server and a worker each in a container
# (cuda: the worker with --devices all, on the CPU without a GPU; a GPU is
# passed with CONVRNN_CONTAINER_GPU, e.g. "--device nvidia.com/gpu=all").
# The client that launches and watches the campaign runs from the image too.
# CONVRNN_REUSE_IMAGE=1 skips the build when the tag exists (a rerun of the
# campaign after a full build). CONVRNN_BUILD_CCACHE=DIR (full, cuda) mounts
# DIR as the build stage's ccache (podman build -v), so that a build rerun
# after a failure recompiles only what changed. Prints the image size and the campaign's
# time. Exit 3 (with the reason) when podman cannot run containers here.
set -euo pipefail
mode=${1:?runtime|full|cuda}
build=$(realpath "${2:?BUILD_DIR}")
repo=$(cd "$(dirname "$0")/.." && pwd)
work=${CONVRNN_CONTAINER_WORK:-/var/tmp/convrnn-containers}
tag=localhost/convrnn-search:test-$mode
mkdir -p "$work"
why() { echo "container-test: $*" >&2; exit 3; }
command -v podman >/dev/null || why "podman missing (make deps installs it)"
[ "$(id -u)" = 0 ] || why "needs root (rootful podman)"
# setrlimit of the default ulimits is refused in some sandboxes.
cat > "$work/containers.conf" <<CONF
[containers]
default_ulimits = []
[engine]
runtime = "runc"
CONF
export CONTAINERS_CONF="$work/containers.conf"
podman=(podman --runtime runc)
build_volumes=()
if [ -n "${CONVRNN_BUILD_CCACHE:-}" ]; then
  mkdir -p "$CONVRNN_BUILD_CCACHE"
  build_volumes=(-v "$(realpath "$CONVRNN_BUILD_CCACHE"):/root/.cache/ccache")
fi

if ! "${podman[@]}" image exists docker.io/library/debian:12; then
  [ -x /usr/sbin/debootstrap ] || why "debootstrap missing"
  rm -rf "$work/rootfs"
  /usr/sbin/debootstrap --variant=minbase bookworm "$work/rootfs" http://deb.debian.org/debian \
    > "$work/debootstrap.log" 2>&1 || why "debootstrap failed: $(tail -3 "$work/debootstrap.log")"
  # The host's Debian sources (with security updates), so the image gets the
  # library versions the binaries were built against.
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    rm -f "$work/rootfs/etc/apt/sources.list"
    cp /etc/apt/sources.list.d/debian.sources "$work/rootfs/etc/apt/sources.list.d/"
  fi
  tar -C "$work/rootfs" -c . | "${podman[@]}" import - docker.io/library/debian:12 >/dev/null
  rm -rf "$work/rootfs"
fi

start=$(date +%s)
if [ "${CONVRNN_REUSE_IMAGE:-0}" = 1 ] && "${podman[@]}" image exists "$tag"; then
  echo "container-test: reusing the image $tag (CONVRNN_REUSE_IMAGE=1)"
elif [ "$mode" = full ]; then
  "${podman[@]}" build --network host ${build_volumes[@]+"${build_volumes[@]}"} \
    -f "$repo/deploy/Dockerfile" -t "$tag" "$repo"
elif [ "$mode" = cuda ]; then
  if [ -z "${CUDA_BUILD_BASE:-}" ] || [ -z "${CUDA_RUNTIME_BASE:-}" ]; then
    torch=${CONVRNN_TORCH:-$("${PYTHON:-python3}" -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')} ||
      why "no pip torch (set CONVRNN_TORCH to a CUDA torch's folder, or PYTHON)"
    bases=$("$repo/deploy/cuda-base.sh" "$torch" "${CUDA_HOME:-/usr/local/cuda}")
    eval "$bases"
  fi
  echo "container-test: CUDA bases $CUDA_BUILD_BASE ($("${podman[@]}" image inspect "$CUDA_BUILD_BASE" --format '{{.Size}}') bytes)," \
    "$CUDA_RUNTIME_BASE ($("${podman[@]}" image inspect "$CUDA_RUNTIME_BASE" --format '{{.Size}}') bytes)"
  start=$(date +%s)
  "${podman[@]}" build --network host ${build_volumes[@]+"${build_volumes[@]}"} \
    -f "$repo/deploy/Dockerfile" --build-arg VARIANT=cuda \
    --build-arg BASE="$CUDA_BUILD_BASE" --build-arg RUNTIME_BASE="$CUDA_RUNTIME_BASE" \
    --build-arg LIBTORCH=/opt/libtorch -t "$tag" "$repo"
else
  ctx="$work/context"
  rm -rf "$ctx" && mkdir -p "$ctx/bin"
  cp "$build/server/convrnn-server" "$build/worker/convrnn-worker" "$build/client/convrnn" "$ctx/bin/"
  "$repo/deploy/runtime-packages.sh" "$ctx"/bin/* > "$ctx/runtime-packages.txt"
  "${podman[@]}" build --network host -f "$repo/deploy/Dockerfile.runtime" -t "$tag" "$ctx"
fi
echo "container-test: image $tag built in $(( $(date +%s) - start )) s, $("${podman[@]}" image inspect "$tag" --format '{{.Size}}') bytes"

# Small means no build tools: none of them may be in the runtime image.
tools=$("${podman[@]}" run --rm --entrypoint sh "$tag" -c \
  'for t in gcc g++ cc c++ cmake protoc make nvcc ptxas; do command -v $t; done
   ls -d /usr/local/cuda/bin /usr/local/cuda/include 2>/dev/null; true')
[ -z "$tools" ] || { echo "container-test: the runtime image carries build tools: $tools" >&2; exit 1; }
echo "container-test: no compilers or build tools in the image; user $("${podman[@]}" run --rm --entrypoint id "$tag" -u):$("${podman[@]}" run --rm --entrypoint id "$tag" -g)"

worker_devices=cpu
if [ "$mode" = cuda ]; then
  # The worker and LibTorch's CUDA libraries resolve in the image, libtorch_cuda included.
  libs=$("${podman[@]}" run --rm --entrypoint sh "$tag" -c \
    'ldd /opt/convrnn/bin/convrnn-worker /opt/convrnn/lib/libtorch_cuda.so')
  if grep -q 'not found' <<< "$libs" || ! grep -q 'libtorch_cuda.so => /opt/convrnn/lib/' <<< "$libs"; then
    echo "$libs" | grep -E 'not found|torch_cuda' >&2
    echo "container-test: convrnn-worker does not load libtorch_cuda and its libraries" >&2; exit 1
  fi
  echo "container-test: convrnn-worker links $(grep -oE 'lib(torch_cuda|cudart|cudnn|cublas)\.so[.0-9]* => [^ ]+' <<< "$libs" | sort -u | tr '\n' ' ')"
  worker_devices=all
  if [ -z "${CONVRNN_CONTAINER_GPU:-}" ]; then
    # No GPU given to the container: naming one fails at once, and says why.
    set +e
    refusal=$("${podman[@]}" run --rm --network host --entrypoint convrnn-worker "$tag" \
      --server 127.0.0.1:1 --devices cuda:0 2>&1)
    rc=$?
    set -e
    if [ "$rc" != 2 ] || ! grep -q 'cuda:0 not present.*libcuda.so.1' <<< "$refusal"; then
      echo "container-test: --devices cuda:0 without a GPU: exit $rc, '$refusal'" >&2; exit 1
    fi
    echo "container-test: --devices cuda:0 without a GPU refused (exit 2): $refusal"
  fi
fi

# A campaign: server and worker containers on the host network, loopback only.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
name=convrnn-test-$$
trap '"${podman[@]}" rm -f "$name-server" "$name-worker" >/dev/null 2>&1 || true' EXIT
"${podman[@]}" run -d --name "$name-server" --network host "$tag" \
  --db /data/convrnn.db --listen "127.0.0.1:$port" >/dev/null
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.3; done
read -r -a gpu <<< "${CONVRNN_CONTAINER_GPU:-}"
"${podman[@]}" run -d --name "$name-worker" --network host ${gpu[@]+"${gpu[@]}"} \
  --entrypoint convrnn-worker "$tag" \
  --server "127.0.0.1:$port" --devices "$worker_devices" --threads 1 --checkpoint-root /checkpoints >/dev/null
cat > "$work/campaign.json" <<'JSON'
{"name": "containers", "data": {"dataset": "fashion-mnist", "train_limit": 256, "val_limit": 128},
 "space": {"input": {"channels": 1, "height": 28, "width": 28}, "num_classes": 10, "time": {"steps": 3},
   "layers": [{"channels": 8, "kernel": 5, "stride": 2, "pool": true,
               "cell": {"choice": [{"type": "feedforward"}, {"type": "gru"}]}}],
   "train": {"lr": {"loguniform": [0.02, 0.1]}, "batch_size": 64, "epochs": 1, "seed": 0}},
 "search": {"algorithm": "random", "seed": 1, "max_trials": 2, "max_parallel": 1},
 "objectives": [{"metric": "val_top1", "goal": "max"}]}
JSON
# The client from the image itself: a full test needs nothing built on the host.
client() { "${podman[@]}" run --rm --network host --entrypoint convrnn -v "$work:$work:ro" "$tag" "$@"; }
start=$(date +%s)
id=$(client --server "127.0.0.1:$port" --json launch "$work/campaign.json" |
     python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
for _ in $(seq 1 600); do
  state=$(client --server "127.0.0.1:$port" --json status "$id" |
          python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')
  [ "$state" = completed ] && break
  sleep 1
done
"${podman[@]}" logs "$name-worker" 2>&1 | tail -5
[ "$state" = completed ] || { "${podman[@]}" logs "$name-server" 2>&1 | tail -20; echo "container-test: campaign $state" >&2; exit 1; }
echo "container-test: campaign of 2 trials completed in containers in $(( $(date +%s) - start )) s"
if [ "$mode" = cuda ]; then
  # --devices all: on a GPU the trials ran on it; without one the worker said so.
  fallback=$("${podman[@]}" logs "$name-worker" 2>&1 | grep -- '--devices all: no CUDA device' || true)
  if [ -n "${CONVRNN_CONTAINER_GPU:-}" ]; then
    [ -z "$fallback" ] || { echo "container-test: the GPU was given but: $fallback" >&2; exit 1; }
    echo "container-test: the worker trained on the GPU (--devices all)"
  else
    [ -n "$fallback" ] || { echo "container-test: --devices all without a GPU ran on the CPU without a warning" >&2; exit 1; }
    echo "container-test: without a GPU, --devices all warned: $fallback"
  fi
fi
