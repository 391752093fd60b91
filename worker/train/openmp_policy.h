// How the worker's intra-op threads wait between parallel regions.
//
// LibTorch's intra-op threads are an OpenMP team (libgomp). Under libgomp's
// default policy a team thread that runs out of work spins (GOMP_SPINCOUNT,
// about 300,000 iterations) before it sleeps. A ConvRNN training step runs
// thousands of small parallel regions, so with two or more threads the team
// spins between every pair of them: on a host whose cores are shared (other
// workers, builds) spinning threads take CPU the busy thread needs and a
// descheduled team member stalls every barrier. On the busy 2-core
// development VM a step at --threads 2 ran 4-9x slower than with passive
// waiting (docs/performance.md, "Training throughput (CPU)"). At one thread
// there is no team and nothing to change.
//
// libgomp reads OMP_WAIT_POLICY once, when the process loads it, so the only
// way to change it from inside is to run the program again with it set.
//
// Thread-safety: call first thing in main(), before any other thread exists.
#ifndef CONVRNN_WORKER_TRAIN_OPENMP_POLICY_H_
#define CONVRNN_WORKER_TRAIN_OPENMP_POLICY_H_

#include <unistd.h>

#include <cstdlib>

namespace convrnn {

// Unless OMP_WAIT_POLICY is already set (an explicit choice, kept), sets it
// to PASSIVE and re-executes this program (/proc/self/exe) with the same
// `argv`. Returns only when nothing needed doing or the re-exec failed (the
// program then runs on under the default policy).
inline void UsePassiveOpenMpWait(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  if (setenv("OMP_WAIT_POLICY", "PASSIVE", /*overwrite=*/0) != 0) return;
  execv("/proc/self/exe", argv);
  // Only reached when exec failed: run on; child processes still inherit PASSIVE.
}

}  // namespace convrnn

#endif  // CONVRNN_WORKER_TRAIN_OPENMP_POLICY_H_
