// How many CPUs this process was actually given: the CPU affinity mask
// (taskset, Slurm's task/affinity, Kubernetes' static CPU manager), the
// cgroup CPU quota (v2 `cpu.max`, v1 `cpu.cfs_quota_us / cpu.cfs_period_us`;
// Kubernetes limits, Docker/podman --cpus, Slurm's task/cgroup) and
// SLURM_CPUS_PER_TASK, rather than the host's core count
// (std::thread::hardware_concurrency), which oversubscribes shared nodes.
// The worker's default thread count (DefaultThreads) comes from here.
//
// Thread-safety: pure functions of the files and environment they read.
#ifndef CONVRNN_UTIL_CPU_ALLOCATION_H_
#define CONVRNN_UTIL_CPU_ALLOCATION_H_

#include <optional>
#include <string>

namespace convrnn {

struct CpuAllocation {
  int affinity_cpus = 0;               // CPUs in the affinity mask (>= 1)
  std::optional<double> cgroup_quota;  // CPUs' worth of quota; none: unlimited
  std::optional<int> slurm_cpus_per_task;
  // min(affinity, ceil(quota), slurm), at least 1.
  int cpus = 1;
  // e.g. "affinity 8, cgroup quota 2.5, SLURM_CPUS_PER_TASK 4 -> 3"
  std::string Explain() const;
};

// Where the cgroup files are; tests point these at sample trees.
struct CgroupPaths {
  // Mount point of the cgroup hierarchy (v2 unified, or the parent of the v1
  // controller mounts). Default: /sys/fs/cgroup.
  std::string root = "/sys/fs/cgroup";
  // The process's membership file. Default: /proc/self/cgroup.
  std::string self_cgroup = "/proc/self/cgroup";
};

// The CPU quota of the process's cgroup and its ancestors (the tightest one),
// in CPUs; nullopt when there is none or the files are unreadable.
std::optional<double> CgroupCpuQuota(const CgroupPaths& paths = {});

// The allocation of this process now (affinity, cgroup, SLURM_CPUS_PER_TASK).
CpuAllocation CurrentCpuAllocation(const CgroupPaths& paths = {});

}  // namespace convrnn

#endif  // CONVRNN_UTIL_CPU_ALLOCATION_H_
