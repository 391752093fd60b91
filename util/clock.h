// Time, injected (leveldb's Env::NowMicros, abseil's Clock): leases,
// heartbeats, timeouts and retries read a Clock&, so tests advance a
// FakeClock instead of sleeping.
//
// Thread-safety: every method of both clocks is safe to call concurrently.
#ifndef CONVRNN_UTIL_CLOCK_H_
#define CONVRNN_UTIL_CLOCK_H_

#include <cstdint>

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

  // The wall clock of this machine; never deleted.
  static Clock* Real();
};

// A clock that moves only when told. Sleepers wake when Advance() passes
// their deadline.
class FakeClock : public Clock {
 public:
  explicit FakeClock(int64_t start_us = 1'700'000'000'000'000) : now_us_(start_us) {}
  int64_t NowMicros() override;
  bool SleepUntil(int64_t deadline_us, absl::Notification* cancel) override;
  void Advance(absl::Duration d);
  void AdvanceMicros(int64_t us);

 private:
  absl::Mutex mu_;
  int64_t now_us_ ABSL_GUARDED_BY(mu_);
};

}  // namespace convrnn

#endif  // CONVRNN_UTIL_CLOCK_H_
