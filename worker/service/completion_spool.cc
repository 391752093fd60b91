#include "worker/service/completion_spool.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "util/posix_fs.h"

namespace convrnn {
namespace {

constexpr char kPrefix[] = "complete-";
constexpr char kSuffix[] = ".pb";

// mkdir -p; an existing folder is fine.
absl::Status MakeDirs(const std::string& dir) {
  for (size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos != dir.size() && dir[pos] != '/') continue;
    const std::string prefix = dir.substr(0, pos);
    if (mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) {
      return absl::InternalError(absl::StrCat("cannot create ", prefix, ": ", strerror(errno)));
    }
  }
  return absl::OkStatus();
}

absl::Status WriteAll(int fd, const std::string& bytes, const std::string& path) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::InternalError(absl::StrCat("write ", path, ": ", strerror(errno)));
    done += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0)
    return absl::InternalError(absl::StrCat("fsync ", path, ": ", strerror(errno)));
  return absl::OkStatus();
}

}  // namespace

std::string CompletionSpool::PathOf(int64_t lease_id) const {
  return absl::StrCat(dir_, "/", kPrefix, lease_id, kSuffix);
}

absl::Status CompletionSpool::Save(const v1::CompleteTrialRequest& request) const {
  if (!enabled()) return absl::OkStatus();
  if (absl::Status s = MakeDirs(dir_); !s.ok()) return s;
  const std::string path = PathOf(request.lease_id());
  const std::string tmp = absl::StrCat(path, ".tmp.", getpid());
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return absl::InternalError(absl::StrCat("open ", tmp, ": ", strerror(errno)));
  absl::Status written = WriteAll(fd, request.SerializeAsString(), tmp);
  close(fd);
  if (written.ok() && rename(tmp.c_str(), path.c_str()) != 0) {
    written = absl::InternalError(absl::StrCat("rename ", tmp, ": ", strerror(errno)));
  }
  if (!written.ok()) {
    unlink(tmp.c_str());
    return written;
  }
  // The rename itself survives a power cut once the folder is synced.
  const int dir_fd = open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    fsync(dir_fd);
    close(dir_fd);
  }
  return absl::OkStatus();
}

void CompletionSpool::Remove(int64_t lease_id) const {
  if (enabled()) unlink(PathOf(lease_id).c_str());
}

std::vector<v1::CompleteTrialRequest> CompletionSpool::Load() const {
  std::vector<v1::CompleteTrialRequest> out;
  if (!enabled()) return out;
  absl::StatusOr<std::vector<DirEntry>> entries = ListDirectory(dir_);
  if (!entries.ok()) return out;  // nothing spooled yet
  for (const DirEntry& e : *entries) {
    int64_t lease_id = 0;
    if (!e.is_regular_file || !absl::StartsWith(e.name, kPrefix) ||
        !absl::EndsWith(e.name, kSuffix) ||
        !absl::SimpleAtoi(e.name.substr(sizeof(kPrefix) - 1,
                                        e.name.size() - sizeof(kPrefix) - sizeof(kSuffix) + 2),
                          &lease_id)) {
      continue;  // temporaries of a crashed Save and foreign files
    }
    std::ifstream in(absl::StrCat(dir_, "/", e.name), std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    v1::CompleteTrialRequest request;
    if (!in || !request.ParseFromString(bytes.str()) || request.lease_id() != lease_id) {
      Remove(lease_id);
      continue;
    }
    out.push_back(std::move(request));
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.lease_id() < b.lease_id(); });
  return out;
}

std::string DefaultSpoolDir(const std::string& server) {
  std::string base;
  if (const char* state = std::getenv("XDG_STATE_HOME"); state != nullptr && *state != '\0') {
    base = state;
  } else if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    base = absl::StrCat(home, "/.local/state");
  } else {
    return "";
  }
  std::string name = server;
  for (char& c : name) {
    if (c == ':' || c == '/') c = '_';
  }
  return absl::StrCat(base, "/convrnn-worker/spool/", name);
}

}  // namespace convrnn
