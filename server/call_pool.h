// CallPool: a fixed set of threads that run RPC bodies which block (a write
// waits until its batch is durable), fed from gRPC callback handlers.
//
// Why: with gRPC's synchronous API every call in flight holds a thread of
// its own, and a worker call that writes holds it until its group commit is
// fsynced. When a thousand workers finish their epochs in the same second,
// gRPC creates a thread per waiting call (over a thousand) and destroys
// them again after the wave; on a small machine the scheduler's churn, not
// the store, sets the tail latency. Here a wave costs queue entries: at most
// `threads` bodies wait on the store at once (enough to fill a group commit
// batch), the rest wait in FIFO order, and no thread is created per call.
//
// Thread-safety: Run() may be called from any thread. The destructor runs
// everything already queued, then joins the threads.
#ifndef CONVRNN_SERVER_CALL_POOL_H_
#define CONVRNN_SERVER_CALL_POOL_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace convrnn::server {

class CallPool {
 public:
  // REQUIRES: threads >= 1.
  explicit CallPool(int threads);
  ~CallPool();
  CallPool(const CallPool&) = delete;
  CallPool& operator=(const CallPool&) = delete;

  // Queues `task`; the first free thread runs it, in arrival order.
  void Run(std::function<void()> task);

 private:
  void Loop();
  bool HasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !queue_.empty() || stopping_; }

  struct Task {
    std::function<void()> run;
    int64_t queued_us;  // when Run() queued it (the wait is timed: rpc.pool.wait)
  };

  absl::Mutex mu_;
  std::deque<Task> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace convrnn::server

#endif  // CONVRNN_SERVER_CALL_POOL_H_
