#include "server/call_pool.h"

#include <utility>

#include "absl/time/clock.h"
#include "util/stage_stats.h"

namespace convrnn::server {

CallPool::CallPool(int threads) {
  threads_.reserve(threads);
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Loop(); });
}

CallPool::~CallPool() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& t : threads_) t.join();
}

namespace {
int64_t NowMicros() { return absl::GetCurrentTimeNanos() / 1000; }
}  // namespace

void CallPool::Run(std::function<void()> task) {
  const int64_t now_us = NowMicros();
  absl::MutexLock lock(&mu_);
  queue_.push_back({std::move(task), now_us});
}

void CallPool::Loop() {
  static StageHistogram& wait_stage = Stage("rpc.pool.wait");
  while (true) {
    Task task;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &CallPool::HasWork));
      // Drain before stopping: every queued call is answered.
      if (queue_.empty()) return;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    wait_stage.Record(NowMicros() - task.queued_us);
    task.run();
  }
}

}  // namespace convrnn::server
