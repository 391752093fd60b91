// Time, injected (leveldb's Env::NowMicros, abseil's Clock): leases,
// heartbeats, timeouts, retries and every wait with a deadline read a
// Clock&, so tests advance a FakeClock instead of sleeping.
//
// Thread-safety: every method of both clocks is safe to call concurrently.
#ifndef CONVRNN_UTIL_CLOCK_H_
#define CONVRNN_UTIL_CLOCK_H_

#include <atomic>
#include <cstdint>
#include <map>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace convrnn {

class Clock {
 public:
  virtual ~Clock() = default;
  // Microseconds since the Unix epoch.
  virtual int64_t NowMicros() = 0;
  // Blocks until NowMicros() >= deadline or `cancel` (may be null) is notified.
  // Returns true when the deadline was reached, false when cancelled.
  virtual bool SleepUntil(int64_t deadline_us, absl::Notification* cancel) = 0;
  // Blocks until `condition` holds or NowMicros() >= deadline_us, like
  // absl::Mutex::AwaitWithDeadline: `mu` is released while waiting and held
  // again on return. Returns whether the condition holds.
  // REQUIRES: `mu` held by the caller; `condition` reads only state under `mu`.
  virtual bool AwaitWithDeadline(absl::Mutex& mu, const absl::Condition& condition,
                                 int64_t deadline_us) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) = 0;
  // AwaitWithDeadline(mu, condition, NowMicros() + timeout).
  bool AwaitWithTimeout(absl::Mutex& mu, const absl::Condition& condition, absl::Duration timeout)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  // The wall clock of this machine; never deleted.
  static Clock* Real();
};

// A clock that moves only when told. Sleepers and waiters wake when
// Advance() passes their deadline (or, for waiters, when their condition
// comes true, as with absl::Mutex).
class FakeClock : public Clock {
 public:
  explicit FakeClock(int64_t start_us = 1'700'000'000'000'000) : now_us_(start_us) {}
  int64_t NowMicros() override;
  bool SleepUntil(int64_t deadline_us, absl::Notification* cancel) override;
  bool AwaitWithDeadline(absl::Mutex& mu, const absl::Condition& condition, int64_t deadline_us)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) override;
  void Advance(absl::Duration d);
  void AdvanceMicros(int64_t us);
  // Blocks (in real time, up to `timeout`) until at least `n` threads sleep
  // or wait on this clock, so a test advances it only once they are there.
  bool WaitForBlocked(int n, absl::Duration timeout = absl::Seconds(30));

 private:
  void Block(absl::Mutex* mu, int delta);

  // Read without a lock inside waiters' conditions (evaluated under their mutex).
  std::atomic<int64_t> now_us_;
  absl::Mutex mu_;
  int blocked_ ABSL_GUARDED_BY(mu_) = 0;
  // Mutexes of waiters in AwaitWithDeadline, with how many wait on each.
  std::map<absl::Mutex*, int> waiting_on_ ABSL_GUARDED_BY(mu_);
};

}  // namespace convrnn

#endif  // CONVRNN_UTIL_CLOCK_H_
