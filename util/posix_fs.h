// Deleting a directory tree and listing a directory without
// std::filesystem's out-of-line functions.
//
// PyTorch's pip wheels (LibTorch 2.x as GPU machines have it) export their
// own copy of libstdc++'s std::filesystem from libtorch_cpu.so and
// libtorch.so (142 symbols in torch 2.11), and a program linking LibTorch
// binds std::filesystem::remove_all to that copy. Measured on the GPU check
// machine (tools/gpu/fs_probe.sh): our tests then crashed with SIGSEGV in
// remove_all at the end of every test that cleaned a temporary directory.
// RemoveTree walks the tree with POSIX nftw and ListDirectory reads with
// opendir/readdir instead, so code that links LibTorch (the worker, its
// tests) never iterates directories through that copy. (Simple calls such as
// exists, rename or create_directories ran fine there; remove_all, which
// iterates directories, is what crashed.)
//
// Thread-safety: safe to call concurrently on disjoint trees.
#ifndef CONVRNN_UTIL_POSIX_FS_H_
#define CONVRNN_UTIL_POSIX_FS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace convrnn {

// Removes `path` and, if it is a directory, everything below it. Symbolic
// links are removed, never followed. A missing path is OK. On failure the
// rest is still attempted; the first error names the entry it concerns.
absl::Status RemoveTree(const std::string& path);

struct DirEntry {
  std::string name;              // file name, no directory part
  bool is_directory = false;     // following symbolic links, as stat(2)
  bool is_regular_file = false;  // likewise
};

// The entries of directory `path` except "." and "..", sorted by name.
// NOT_FOUND naming the path when it cannot be opened (missing, not a
// directory, no permission); an entry that vanishes meanwhile is skipped.
absl::StatusOr<std::vector<DirEntry>> ListDirectory(const std::string& path);

}  // namespace convrnn

#endif  // CONVRNN_UTIL_POSIX_FS_H_
