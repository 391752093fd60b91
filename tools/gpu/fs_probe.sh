#!/bin/bash
# Does the machine's LibTorch export std::filesystem symbols that a program
# linking it would bind to instead of libstdc++'s? Lists them, then runs
# remove_all on a populated directory with and without LibTorch linked.
set -u
PY=${PY:-python3}
lib=$($PY -c 'import torch, os; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
for so in "$lib"/libtorch_cpu.so "$lib"/libc10.so "$lib"/libtorch.so; do
  [ -f "$so" ] || continue
  echo "== $so: exported std::filesystem symbols"
  nm -D --defined-only "$so" | c++filt | grep -c 'std::filesystem' || true
  nm -D --defined-only "$so" | c++filt | grep 'std::filesystem.*remove_all\|std::filesystem::__cxx11::path::_M_split' | head -5
done
work=$(mktemp -d)
cat > "$work/rm.cc" <<'C'
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdlib.h>
int main() {
  char p[] = "/tmp/fsprobeXXXXXX";
  if (!mkdtemp(p)) return 3;
  std::filesystem::create_directories(std::filesystem::path(p) / "sub");
  std::ofstream(std::filesystem::path(p) / "a.bin") << "x";
  std::ofstream(std::filesystem::path(p) / "sub" / "b.bin") << "y";
  std::error_code ec;
  const auto n = std::filesystem::remove_all(p, ec);
  std::printf("removed %ju entries, error '%s'\n", static_cast<uintmax_t>(n), ec.message().c_str());
  return 0;
}
C
g++ -std=c++17 -O2 "$work/rm.cc" -o "$work/plain" && "$work/plain"; echo "plain rc=$?"
g++ -std=c++17 -O2 "$work/rm.cc" -o "$work/linked" -Wl,--no-as-needed -L"$lib" -ltorch_cpu -lc10 -Wl,-rpath,"$lib" && "$work/linked"; echo "linked to libtorch rc=$?"
LD_DEBUG=bindings "$work/linked" 2>&1 | grep -i 'remove_all' | head -5
