#!/bin/sh
# (Re)creates .gpu-carry/: everything tools/gpu/check.sh needs on a bare GPU
# machine besides what it has (Python torch 2.x, CMake, Ninja, nvcc, g++).
# Sources and headers only, no Debian .so files: the machine's glibc is
# unknown, so check.sh compiles what needs compiling there.
#
#   src/abseil-20220623.1.tar.gz  Debian's abseil (bookworm, with its patches),
#                                 built in the project by add_subdirectory
#   src/zlib-1.2.13.tar.bz2       zlib sources (the orig tarball), built there
#   prefix/include, prefix/{lib,share}/cmake
#                                 header-only packages as Debian ships them,
#                                 CMake configs included: nlohmann-json3-dev,
#                                 catch2 (v2), libcli11-dev; stb_image.h and
#                                 stb_image_write.h (data_test writes PNGs) from
#                                 libstb-dev (check.sh compiles their implementations)
#   fashion-mnist/*.gz            the four IDX files (30 MB) of
#                                 /usr/share/datasets/fashion-mnist
#   MANIFEST                      versions and sha256 of all of the above
#
# Versions are pinned to what deps/debian-packages.txt installs here, so the
# GPU build uses the same third-party code as the local one. Debian's archive
# is read through a private apt state under $APT_DIR (default
# /tmp/convrnn-gpu-apt); the system's apt configuration is not touched.
# Needs: apt-get, dpkg-source, dpkg-deb, network access to deb.debian.org.
#
#   tools/gpu/fetch_deps.sh            (about 10 s, 37 MB)
set -eu
cd "$(dirname "$0")/../.."
CARRY=.gpu-carry
APT_DIR=${APT_DIR:-/tmp/convrnn-gpu-apt}
FASHION=${FASHION:-/usr/share/datasets/fashion-mnist}

ABSL_VERSION=20220623.1-1+deb12u2
ZLIB_VERSION=1:1.2.13.dfsg-1
JSON_VERSION=3.11.2-2
CATCH2_VERSION=2.13.10-1
CLI11_VERSION=2.1.2+ds-1
STB_VERSION=0.0~git20220908.8b5f1f3+ds-1

mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial"
key=/usr/share/keyrings/debian-archive-keyring.gpg
cat > "$APT_DIR/sources.list" <<EOF
deb [signed-by=$key] http://deb.debian.org/debian bookworm main
deb-src [signed-by=$key] http://deb.debian.org/debian bookworm main
deb [signed-by=$key] http://deb.debian.org/debian-security bookworm-security main
deb-src [signed-by=$key] http://deb.debian.org/debian-security bookworm-security main
EOF
apt() {
  apt-get -q -o Dir::Etc::SourceList="$APT_DIR/sources.list" -o Dir::Etc::SourceParts=/dev/null \
    -o Dir::State::Lists="$APT_DIR/lists" -o Dir::Cache="$APT_DIR/cache" \
    -o Debug::NoLocking=1 -o APT::Sandbox::User=root "$@"
}
apt update >/dev/null

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(
  cd "$work"
  apt source --download-only "abseil=$ABSL_VERSION" "zlib=$ZLIB_VERSION" >/dev/null
  apt download "nlohmann-json3-dev=$JSON_VERSION" "catch2=$CATCH2_VERSION" \
    "libcli11-dev=$CLI11_VERSION" "libstb-dev=$STB_VERSION" >/dev/null
  dpkg-source --no-check -x abseil_*.dsc absl >/dev/null
  for d in *.deb; do dpkg-deb -x "$d" debs; done
)

rm -rf "$CARRY"
mkdir -p "$CARRY/src" "$CARRY/prefix/include/stb" "$CARRY/prefix/lib/cmake" \
  "$CARRY/prefix/share/cmake" "$CARRY/fashion-mnist"
# Abseil without its tests and CI files: only what the library build reads.
tar -C "$work" --exclude='absl/debian' --exclude='absl/ci' --exclude='absl/.github' \
  --transform 's,^absl,abseil-20220623.1,' -czf "$CARRY/src/abseil-20220623.1.tar.gz" absl
cp "$work"/zlib_*.orig.tar.bz2 "$CARRY/src/zlib-1.2.13.tar.bz2"
debs=$work/debs/usr
cp -r "$debs/include/nlohmann" "$debs/include/catch2" "$debs/include/CLI" "$CARRY/prefix/include/"
cp "$debs/include/stb/stb_image.h" "$debs/include/stb/stb_image_write.h" "$CARRY/prefix/include/stb/"
cp -r "$debs/share/cmake/nlohmann_json" "$debs/share/cmake/CLI11" "$CARRY/prefix/share/cmake/"
# Catch2's exported targets name libCatch2WithMain.a (never linked here: the
# suites share tests/catch_main.cc); the file must exist for the import.
cp -r "$debs/lib/cmake/Catch2" "$CARRY/prefix/lib/cmake/"
cp "$debs/lib/libCatch2WithMain.a" "$CARRY/prefix/lib/"
for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz \
         t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz; do
  cp "$FASHION/$f" "$CARRY/fashion-mnist/"
done

{
  echo "# .gpu-carry, made by tools/gpu/fetch_deps.sh $(date -u +%FT%TZ)"
  echo "abseil $ABSL_VERSION (Debian source, patches applied)"
  echo "zlib $ZLIB_VERSION (orig tarball)"
  echo "nlohmann-json3-dev $JSON_VERSION, catch2 $CATCH2_VERSION, libcli11-dev $CLI11_VERSION, libstb-dev $STB_VERSION"
  (cd "$CARRY" && find src prefix fashion-mnist -type f | sort | xargs sha256sum)
} > "$CARRY/MANIFEST"
du -sh "$CARRY"
