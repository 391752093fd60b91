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
#   service/root.tar.xz           only with SERVICE=1: what the whole service
#                                 needs besides LibTorch (gRPC, protobuf and
#                                 protoc, abseil, SQLite, HDF5, spdlog, httplib,
#                                 prometheus-cpp, yaml-cpp, OpenSSL and their
#                                 runtime libraries): Debian packages extracted
#                                 into one tree, docs and static archives
#                                 dropped, absolute links made relative. Debian
#                                 12's libraries need glibc >= 2.36 (the H200
#                                 machine has Ubuntu 24.04, glibc 2.39).
#                                 tools/gpu/run_all.sh unpacks it and builds
#                                 every target against it.
#
# Versions are pinned to what deps/debian-packages.txt installs here, so the
# GPU build uses the same third-party code as the local one. Debian's archive
# is read through a private apt state under $APT_DIR (default
# /tmp/convrnn-gpu-apt); the system's apt configuration is not touched.
# Needs: apt-get, dpkg-source, dpkg-deb, network access to deb.debian.org.
#
#   tools/gpu/fetch_deps.sh            (about 10 s, 37 MB)
#   SERVICE=1 tools/gpu/fetch_deps.sh  (about 30 s more, about 15 MB more)
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

if [ -n "${SERVICE:-}" ]; then
  # The -dev packages the CMake files ask for, and the runtime closure of
  # the libraries the server, worker and client link (ldd of a local build,
  # LibTorch's own dependencies left out). zlib1g-dev for zlib.pc only (the
  # machine has libz.so.1: LibTorch needs it).
  SERVICE_PACKAGES="libgrpc++-dev libgrpc-dev libgrpc++1.51 libgrpc29 libprotobuf-dev libprotobuf32
    protobuf-compiler libprotoc32 protobuf-compiler-grpc libabsl-dev libabsl20220623 libre2-dev libre2-9
    libc-ares-dev libc-ares2 libssl-dev libssl3 libsqlite3-dev libsqlite3-0 libhdf5-dev libhdf5-103-1
    libhdf5-hl-100 libhdf5-cpp-103-1 libsz2 libaec0 libaec-dev libcurl4 libspdlog-dev libspdlog1.10
    libfmt-dev libfmt9 libcpp-httplib-dev libcpp-httplib0.11 libbrotli1 libbrotli-dev prometheus-cpp-dev
    libprometheus-cpp-core1.0 libprometheus-cpp-pull1.0 libprometheus-cpp-push1.0
    libcurl4-openssl-dev libyaml-cpp-dev libyaml-cpp0.7 libnghttp2-14
    libidn2-0 librtmp1 libssh2-1 libpsl5 libgssapi-krb5-2 libkrb5-3 libk5crypto3 libkrb5support0
    libldap-2.5-0 libsasl2-2 libzstd1 libunistring2 libgnutls30 libhogweed6 libnettle8 libgmp10
    libp11-kit0 libtasn1-6 libffi8 libstb0 zlib1g-dev"
  mkdir -p "$work/service-debs" "$work/service-root"
  # The archive's current versions (bookworm and its security updates):
  # one consistent set, whatever this machine has installed.
  (cd "$work/service-debs" && apt download $SERVICE_PACKAGES >/dev/null)
  for d in "$work"/service-debs/*.deb; do dpkg-deb -x "$d" "$work/service-root"; done
  root=$work/service-root
  rm -rf "$root/usr/share/doc" "$root/usr/share/man" "$root/usr/share/lintian" "$root/etc"
  # Static archives are not linked (the .so are), except where an exported
  # CMake target names one (gRPC's).
  find "$root" -name '*.a' ! -path '*grpc*' ! -name 'libupb*' ! -name 'libaddress_sorting*' -delete
  # Absolute links (libfoo.so -> /lib/x86_64-linux-gnu/libfoo.so.1) point
  # outside the tree once unpacked elsewhere: make them relative.
  find "$root" -type l | while read -r l; do
    t=$(readlink "$l")
    case $t in /*) ln -sfn "$(realpath -m --relative-to="$(dirname "$l")" "$root$t")" "$l" ;; esac
  done
  # hdf5.pc is an alternatives link that dpkg would make; the serial build.
  ln -sfn hdf5-serial.pc "$root/usr/lib/x86_64-linux-gnu/pkgconfig/hdf5.pc"
  # Debian 12 ships some libraries under /lib (no merged /usr): one tree.
  if [ -d "$root/lib/x86_64-linux-gnu" ]; then
    mkdir -p "$root/usr/lib/x86_64-linux-gnu"
    cp -a "$root/lib/x86_64-linux-gnu/." "$root/usr/lib/x86_64-linux-gnu/"
    rm -rf "$root/lib"
  fi
  mkdir -p "$CARRY/service"
  tar -C "$root" -cJf "$CARRY/service/root.tar.xz" .
  (cd "$work/service-debs" && ls *.deb) > "$CARRY/service/PACKAGES"
fi

{
  echo "# .gpu-carry, made by tools/gpu/fetch_deps.sh $(date -u +%FT%TZ)"
  echo "abseil $ABSL_VERSION (Debian source, patches applied)"
  echo "zlib $ZLIB_VERSION (orig tarball)"
  echo "nlohmann-json3-dev $JSON_VERSION, catch2 $CATCH2_VERSION, libcli11-dev $CLI11_VERSION, libstb-dev $STB_VERSION"
  [ -f "$CARRY/service/PACKAGES" ] && { echo "service packages:"; cat "$CARRY/service/PACKAGES"; }
  (cd "$CARRY" && find src prefix fashion-mnist service -type f 2>/dev/null | sort | xargs sha256sum)
} > "$CARRY/MANIFEST"
du -sh "$CARRY"
