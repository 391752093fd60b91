// CPU allocation from sample cgroup v1/v2 trees, the real affinity mask (as
// taskset sets it) and SLURM_CPUS_PER_TASK.
#include "util/cpu_allocation.h"

#include <sched.h>
#include <stdlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>

#include "tests/test_support.h"

namespace convrnn {
namespace {

using testing::TempDir;

void Write(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path) << text;
}

TEST_CASE("cgroup v2: the tightest cpu.max of the cgroup and its ancestors", "[util]") {
  TempDir dir;
  CgroupPaths paths{dir / "cg", dir / "self"};
  Write(dir / "self", "0::/system.slice/slurmstepd.scope/job_7\n");
  Write(dir / "cg/cpu.max", "max 100000\n");
  Write(dir / "cg/system.slice/slurmstepd.scope/job_7/cpu.max", "250000 100000\n");
  REQUIRE(CgroupCpuQuota(paths) == Approx(2.5));
  Write(dir / "cg/system.slice/cpu.max", "150000 100000\n");
  REQUIRE(CgroupCpuQuota(paths) == Approx(1.5));
}

TEST_CASE("cgroup v2: no limit, unreadable or malformed files mean no quota", "[util]") {
  TempDir dir;
  CgroupPaths paths{dir / "cg", dir / "self"};
  REQUIRE_FALSE(CgroupCpuQuota(paths).has_value());  // no /proc/self/cgroup
  Write(dir / "self", "0::/a\n");
  REQUIRE_FALSE(CgroupCpuQuota(paths).has_value());  // no cpu.max anywhere
  Write(dir / "cg/a/cpu.max", "max 100000\n");
  REQUIRE_FALSE(CgroupCpuQuota(paths).has_value());
  Write(dir / "cg/a/cpu.max", "lots\n");
  REQUIRE_FALSE(CgroupCpuQuota(paths).has_value());
}

TEST_CASE("cgroup v2 in a container: the namespace root holds the limit", "[util]") {
  TempDir dir;
  CgroupPaths paths{dir / "cg", dir / "self"};
  // Kubernetes: the path names the pod's cgroup, the mount is the container's.
  Write(dir / "self", "0::/kubepods/burstable/pod1/ctr\n");
  Write(dir / "cg/cpu.max", "200000 100000\n");
  REQUIRE(CgroupCpuQuota(paths) == Approx(2.0));
}

TEST_CASE("cgroup v1: cpu.cfs_quota_us over cpu.cfs_period_us", "[util]") {
  TempDir dir;
  CgroupPaths paths{dir / "cg", dir / "self"};
  Write(dir / "self",
        "12:memory:/slurm/uid_0/job_5\n4:cpu,cpuacct:/slurm/uid_0/job_5\n1:name=systemd:/x\n");
  Write(dir / "cg/cpu,cpuacct/cpu.cfs_quota_us", "-1\n");
  Write(dir / "cg/cpu,cpuacct/cpu.cfs_period_us", "100000\n");
  REQUIRE_FALSE(CgroupCpuQuota(paths).has_value());
  Write(dir / "cg/cpu,cpuacct/slurm/uid_0/job_5/cpu.cfs_quota_us", "300000\n");
  Write(dir / "cg/cpu,cpuacct/slurm/uid_0/job_5/cpu.cfs_period_us", "100000\n");
  REQUIRE(CgroupCpuQuota(paths) == Approx(3.0));
}

// Restores the calling thread's affinity mask and SLURM_CPUS_PER_TASK.
struct SavedAllocation {
  SavedAllocation() {
    REQUIRE(sched_getaffinity(0, sizeof(mask), &mask) == 0);
    unsetenv("SLURM_CPUS_PER_TASK");
  }
  ~SavedAllocation() {
    sched_setaffinity(0, sizeof(mask), &mask);
    unsetenv("SLURM_CPUS_PER_TASK");
  }
  cpu_set_t mask;
};

TEST_CASE("The allocation follows the affinity mask, quota and Slurm", "[util]") {
  SavedAllocation saved;
  TempDir dir;
  CgroupPaths paths{dir / "cg", dir / "self"};
  const int all = CPU_COUNT(&saved.mask);
  REQUIRE(CurrentCpuAllocation(paths).cpus == all);

  // What `taskset -c <first cpu>` does.
  cpu_set_t one;
  CPU_ZERO(&one);
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &saved.mask)) {
      CPU_SET(cpu, &one);
      break;
    }
  }
  REQUIRE(sched_setaffinity(0, sizeof(one), &one) == 0);
  CpuAllocation pinned = CurrentCpuAllocation(paths);
  REQUIRE(pinned.affinity_cpus == 1);
  REQUIRE(pinned.cpus == 1);
  REQUIRE(sched_setaffinity(0, sizeof(saved.mask), &saved.mask) == 0);

  // A fractional quota rounds up: 0.5 CPU still runs one thread.
  Write(dir / "self", "0::/\n");
  Write(dir / "cg/cpu.max", "50000 100000\n");
  CpuAllocation quota = CurrentCpuAllocation(paths);
  REQUIRE(quota.cpus == 1);
  REQUIRE(quota.Explain() == "affinity " + std::to_string(all) + ", cgroup quota 0.5 -> 1");

  Write(dir / "cg/cpu.max", "max 100000\n");
  setenv("SLURM_CPUS_PER_TASK", "1", 1);
  REQUIRE(CurrentCpuAllocation(paths).cpus == 1);
  setenv("SLURM_CPUS_PER_TASK", "1000", 1);
  REQUIRE(CurrentCpuAllocation(paths).cpus == all);
}

}  // namespace
}  // namespace convrnn
