// Deleting a directory tree without std::filesystem::remove_all.
//
// PyTorch's pip wheels (LibTorch 2.x as GPU machines have it) export their
// own copy of libstdc++'s std::filesystem from libtorch_cpu.so and
// libtorch.so (142 symbols in torch 2.11), and a program linking LibTorch
// binds std::filesystem::remove_all to that copy. Measured on the GPU check
// machine (tools/gpu/fs_probe.sh): our tests then crashed with SIGSEGV in
// remove_all at the end of every test that cleaned a temporary directory.
// RemoveTree walks the tree with POSIX nftw instead, so code that links
// LibTorch (the worker, its tests) never calls into that copy.
//
// Thread-safety: safe to call concurrently on disjoint trees.
#ifndef CONVRNN_UTIL_REMOVE_TREE_H_
#define CONVRNN_UTIL_REMOVE_TREE_H_

#include <string>

#include "absl/status/status.h"

namespace convrnn {

// Removes `path` and, if it is a directory, everything below it. Symbolic
// links are removed, never followed. A missing path is OK. On failure the
// rest is still attempted; the first error names the entry it concerns.
absl::Status RemoveTree(const std::string& path);

}  // namespace convrnn

#endif  // CONVRNN_UTIL_REMOVE_TREE_H_
