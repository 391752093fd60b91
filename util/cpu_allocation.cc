#include "util/cpu_allocation.h"

#include <sched.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "util/file.h"

namespace convrnn {
namespace {

std::optional<std::string> ReadSmallFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return std::nullopt;
  return *std::move(text);
}

// The directory `path` and each of its ancestors up to `mount`, innermost first.
std::vector<std::string> SelfAndAncestors(const std::string& mount, std::string path) {
  std::vector<std::string> dirs;
  while (!path.empty() && path != "/") {
    dirs.push_back(mount + path);
    path = path.substr(0, path.rfind('/'));
  }
  dirs.push_back(mount);
  return dirs;
}

// v2 `cpu.max`: "max 100000" (no limit) or "QUOTA PERIOD".
std::optional<double> ParseCpuMax(const std::string& text) {
  std::vector<absl::string_view> fields =
      absl::StrSplit(absl::StripAsciiWhitespace(text), ' ', absl::SkipEmpty());
  double quota = 0, period = 0;
  if (fields.size() != 2 || fields[0] == "max") return std::nullopt;
  if (!absl::SimpleAtod(fields[0], &quota) || !absl::SimpleAtod(fields[1], &period)) {
    return std::nullopt;
  }
  if (quota <= 0 || period <= 0) return std::nullopt;
  return quota / period;
}

// v1 `cpu.cfs_quota_us` ("-1": no limit) over `cpu.cfs_period_us`.
std::optional<double> ReadCfsQuota(const std::string& dir) {
  std::optional<std::string> quota_text = ReadSmallFile(dir + "/cpu.cfs_quota_us");
  std::optional<std::string> period_text = ReadSmallFile(dir + "/cpu.cfs_period_us");
  double quota = 0, period = 0;
  if (!quota_text || !period_text ||
      !absl::SimpleAtod(absl::StripAsciiWhitespace(*quota_text), &quota) ||
      !absl::SimpleAtod(absl::StripAsciiWhitespace(*period_text), &period) || quota <= 0 ||
      period <= 0) {
    return std::nullopt;
  }
  return quota / period;
}

void KeepTightest(std::optional<double> candidate, std::optional<double>* tightest) {
  if (candidate && (!*tightest || *candidate < **tightest)) *tightest = candidate;
}

}  // namespace

std::optional<double> CgroupCpuQuota(const CgroupPaths& paths) {
  std::optional<std::string> membership = ReadSmallFile(paths.self_cgroup);
  if (!membership) return std::nullopt;
  std::optional<double> tightest;
  for (absl::string_view line : absl::StrSplit(*membership, '\n', absl::SkipEmpty())) {
    // "ID:CONTROLLERS:PATH"; v2 is "0::PATH".
    std::vector<std::string> parts = absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (parts.size() != 3) continue;
    const std::string& path = parts[2];
    if (parts[1].empty()) {
      // Inside a cgroup namespace (containers) the path may not exist below
      // the mount, whose root is then the process's own cgroup.
      for (const std::string& dir : SelfAndAncestors(paths.root, path)) {
        std::optional<std::string> max = ReadSmallFile(dir + "/cpu.max");
        if (max) KeepTightest(ParseCpuMax(*max), &tightest);
      }
      continue;
    }
    const std::vector<absl::string_view> controllers = absl::StrSplit(parts[1], ',');
    if (std::find(controllers.begin(), controllers.end(), "cpu") == controllers.end()) continue;
    for (const std::string& mount : {paths.root + "/" + parts[1], paths.root + "/cpu"}) {
      for (const std::string& dir : SelfAndAncestors(mount, path)) {
        KeepTightest(ReadCfsQuota(dir), &tightest);
      }
    }
  }
  return tightest;
}

CpuAllocation CurrentCpuAllocation(const CgroupPaths& paths) {
  CpuAllocation allocation;
  cpu_set_t set;
  CPU_ZERO(&set);
  allocation.affinity_cpus =
      sched_getaffinity(0, sizeof(set), &set) == 0 ? std::max(1, CPU_COUNT(&set)) : 1;
  allocation.cgroup_quota = CgroupCpuQuota(paths);
  int slurm = 0;
  const char* slurm_env = std::getenv("SLURM_CPUS_PER_TASK");
  if (slurm_env != nullptr && absl::SimpleAtoi(slurm_env, &slurm) && slurm > 0) {
    allocation.slurm_cpus_per_task = slurm;
  }
  int cpus = allocation.affinity_cpus;
  if (allocation.cgroup_quota) {
    cpus = std::min(cpus, static_cast<int>(std::ceil(*allocation.cgroup_quota - 1e-9)));
  }
  if (allocation.slurm_cpus_per_task) cpus = std::min(cpus, *allocation.slurm_cpus_per_task);
  allocation.cpus = std::max(1, cpus);
  return allocation;
}

std::string CpuAllocation::Explain() const {
  std::string out = absl::StrCat("affinity ", affinity_cpus);
  if (cgroup_quota) absl::StrAppend(&out, ", cgroup quota ", *cgroup_quota);
  if (slurm_cpus_per_task) absl::StrAppend(&out, ", SLURM_CPUS_PER_TASK ", *slurm_cpus_per_task);
  absl::StrAppend(&out, " -> ", cpus);
  return out;
}

}  // namespace convrnn
