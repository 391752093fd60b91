#!/bin/sh
# Runs a command (default: tools/gpu/check.sh) with Debian's copies of what
# .gpu-carry/ provides hidden, to prove the carry complete: abseil, zlib,
# nlohmann-json, Catch2, CLI11 and stb headers and CMake packages, and the
# Fashion-MNIST files. Only LibTorch and the compiler stay the system's.
# The hiding lives in a private mount namespace (unshare -m): other
# processes on the machine see nothing. Needs root.
#
#   OUT=/tmp/gpucheck-out BUILD=/tmp/gpu-build JOBS=2 NICE="nice -n 19" BUDGET=5400 SCALE=10 \
#     tools/gpu/hide_system_deps.sh
set -eu
cd "$(dirname "$0")/../.."
[ $# -gt 0 ] || set -- tools/gpu/check.sh
exec unshare -m sh -c '
  set -e
  mount --make-rprivate /
  lib=/usr/lib/x86_64-linux-gnu
  for d in /usr/include/absl /usr/include/nlohmann /usr/include/catch2 /usr/include/CLI \
           /usr/include/stb $lib/cmake/absl /usr/share/cmake/nlohmann_json /usr/share/cmake/CLI11 \
           /usr/lib/cmake/Catch2 /usr/share/datasets; do
    if [ -d "$d" ]; then mount -t tmpfs hidden "$d"; echo "hidden: $d"; fi
  done
  # libz.so and libstb.so are symlinks to the runtime libraries (LibTorch
  # loads libz.so.1): not hidden. check.sh links the archives it builds by
  # full path, so nothing asks for -lz or -lstb.
  for f in /usr/include/zlib.h /usr/include/zconf.h $lib/libz.a $lib/libstb.a; do
    if [ -f "$f" ] && [ ! -L "$f" ]; then mount --bind /dev/null "$f"; echo "hidden: $f"; fi
  done
  exec "$@"
' hide "$@"
