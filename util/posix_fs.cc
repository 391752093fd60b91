#include "util/posix_fs.h"

#include <dirent.h>
#include <ftw.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"

namespace convrnn {
namespace {

// nftw's callback takes no user pointer; the first error of the walk in
// progress on this thread lives here.
thread_local absl::Status* walk_error = nullptr;

int RemoveEntry(const char* path, const struct stat*, int type, struct FTW*) {
  if (type == FTW_DNR && walk_error->ok()) {
    *walk_error = absl::PermissionDeniedError(absl::StrCat("cannot read directory ", path));
  }
  if (std::remove(path) != 0 && errno != ENOENT && walk_error->ok()) {
    *walk_error =
        absl::InternalError(absl::StrCat("cannot remove ", path, ": ", std::strerror(errno)));
  }
  return 0;  // keep going
}

}  // namespace

absl::Status RemoveTree(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return absl::InternalError(absl::StrCat("cannot stat ", path, ": ", std::strerror(errno)));
  }
  absl::Status error;
  absl::Status* outer = walk_error;
  walk_error = &error;
  const int rc = nftw(path.c_str(), RemoveEntry, 16, FTW_DEPTH | FTW_PHYS);
  walk_error = outer;
  if (rc != 0 && error.ok()) {
    error = absl::InternalError(absl::StrCat("cannot walk ", path, ": ", std::strerror(errno)));
  }
  return error;
}

absl::StatusOr<std::vector<DirEntry>> ListDirectory(const std::string& path) {
  std::unique_ptr<DIR, int (*)(DIR*)> dir(opendir(path.c_str()), closedir);
  if (dir == nullptr) {
    return absl::NotFoundError(absl::StrCat(path, ": ", std::strerror(errno)));
  }
  std::vector<DirEntry> entries;
  while (true) {
    errno = 0;
    const dirent* e = readdir(dir.get());
    if (e == nullptr) {
      if (errno != 0) return absl::InternalError(absl::StrCat(path, ": ", std::strerror(errno)));
      break;
    }
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st;
    if (stat((path + "/" + name).c_str(), &st) != 0) continue;  // gone, or a dangling link
    entries.push_back({name, S_ISDIR(st.st_mode), S_ISREG(st.st_mode)});
  }
  std::sort(entries.begin(), entries.end(),
            [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; });
  return entries;
}

}  // namespace convrnn
