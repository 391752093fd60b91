#!/bin/sh
# Prints the Debian packages that provide the shared libraries the given
# binaries load (ldd + dpkg -S), one per line: what a runtime image must
# install instead of the build's -dev packages and compilers. Libraries
# outside the package database (e.g. a LibTorch unpacked under /opt) are
# skipped; copy those with the binaries.
#   deploy/runtime-packages.sh build/server/convrnn-server build/worker/convrnn-worker
set -eu
# The libraries each binary links directly (its DT_NEEDED entries, where ldd
# finds them); apt brings in what those depend on.
for binary in "$@"; do
  needed=$(objdump -p "$binary" | awk '/NEEDED/ {print $2}')
  ldd "$binary" | awk -v needed="$needed" '
    BEGIN { n = split(needed, list, "\n"); for (i = 1; i <= n; i++) want[list[i]] = 1 }
    $2 == "=>" && ($1 in want) && $3 ~ /^\// {print $3}'
done | sort -u | while read -r lib; do
  # Debian 12 is usrmerged: a library may be registered under /lib or /usr/lib.
  real=$(readlink -f "$lib")
  printf '%s\n' "$lib" "$real" "/usr$lib" "/usr$real" "${real#/usr}"
done | sort -u | xargs dpkg -S 2>/dev/null | cut -d: -f1 | tr ',' '\n' | tr -d ' ' | sort -u
