#include "worker/service/device_memory.h"

#include <dlfcn.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace convrnn {
namespace {

// Reads a small text file whole; empty when it cannot be read.
std::string Slurp(const char* path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The cgroup v2 room (memory.max - memory.current) or -1 when unlimited or unknown.
int64_t CgroupRoom() {
  std::string max = std::string(absl::StripAsciiWhitespace(Slurp("/sys/fs/cgroup/memory.max")));
  std::string used =
      std::string(absl::StripAsciiWhitespace(Slurp("/sys/fs/cgroup/memory.current")));
  int64_t limit = 0, current = 0;
  if (!absl::SimpleAtoi(max, &limit) || !absl::SimpleAtoi(used, &current)) return -1;
  return std::max<int64_t>(0, limit - current);
}

absl::StatusOr<int64_t> CpuFree() {
  const std::string meminfo = Slurp("/proc/meminfo");
  if (meminfo.empty()) return absl::UnavailableError("cannot read /proc/meminfo");
  absl::StatusOr<int64_t> available = ParseMemAvailable(meminfo);
  if (!available.ok()) return absl::UnavailableError(available.status().message());
  const int64_t room = CgroupRoom();
  return room >= 0 ? std::min(*available, room) : *available;
}

absl::StatusOr<int64_t> CudaFree(int index) {
  // The CUDA runtime's C API, found in the libraries LibTorch loaded.
  using SetDevice = int (*)(int);
  using MemGetInfo = int (*)(size_t*, size_t*);
  auto set_device = reinterpret_cast<SetDevice>(dlsym(RTLD_DEFAULT, "cudaSetDevice"));
  auto mem_get_info = reinterpret_cast<MemGetInfo>(dlsym(RTLD_DEFAULT, "cudaMemGetInfo"));
  if (set_device == nullptr || mem_get_info == nullptr) {
    return absl::UnavailableError("no CUDA runtime in this process (cudaMemGetInfo not found)");
  }
  size_t free = 0, total = 0;
  if (int err = set_device(index); err != 0) {
    return absl::UnavailableError(absl::StrCat("cudaSetDevice(", index, ") failed: error ", err));
  }
  if (int err = mem_get_info(&free, &total); err != 0) {
    return absl::UnavailableError(absl::StrCat("cudaMemGetInfo failed: error ", err));
  }
  return static_cast<int64_t>(free);
}

}  // namespace

absl::StatusOr<int64_t> ParseMemAvailable(absl::string_view meminfo) {
  for (absl::string_view line : absl::StrSplit(meminfo, '\n')) {
    if (!absl::ConsumePrefix(&line, "MemAvailable:")) continue;
    line = absl::StripAsciiWhitespace(line);
    const bool kb = absl::ConsumeSuffix(&line, "kB");
    int64_t value = 0;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &value) || value < 0) break;
    return kb ? value * 1024 : value;
  }
  return absl::InvalidArgumentError("no MemAvailable line in /proc/meminfo");
}

absl::StatusOr<int64_t> FreeMemoryBytes(const std::string& device) {
  if (device == "cpu") return CpuFree();
  absl::string_view rest = device;
  int index = 0;
  if (absl::ConsumePrefix(&rest, "cuda:") && absl::SimpleAtoi(rest, &index) && index >= 0) {
    return CudaFree(index);
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown device '", device, "'"));
}

}  // namespace convrnn
