#include "util/clock.h"

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"

namespace convrnn {

namespace {

class RealClock : public Clock {
 public:
  int64_t NowMicros() override { return absl::ToUnixMicros(absl::Now()); }
  bool SleepUntil(int64_t deadline_us, absl::Notification* cancel) override {
    absl::Time deadline = absl::FromUnixMicros(deadline_us);
    if (cancel == nullptr) {
      absl::SleepFor(deadline - absl::Now());
      return true;
    }
    return !cancel->WaitForNotificationWithDeadline(deadline);
  }
};

}  // namespace

Clock* Clock::Real() {
  static Clock* clock = new RealClock();
  return clock;
}

int64_t FakeClock::NowMicros() {
  absl::MutexLock lock(&mu_);
  return now_us_;
}

namespace {
struct Wait {
  const int64_t* now_us;
  int64_t deadline_us;
};
bool DeadlineReached(Wait* w) { return *w->now_us >= w->deadline_us; }
}  // namespace

bool FakeClock::SleepUntil(int64_t deadline_us, absl::Notification* cancel) {
  absl::MutexLock lock(&mu_);
  Wait wait{&now_us_, deadline_us};
  while (!DeadlineReached(&wait)) {
    if (cancel != nullptr && cancel->HasBeenNotified()) return false;
    // Wake now and then to notice cancellation: a Notification cannot signal this mutex.
    mu_.AwaitWithTimeout(absl::Condition(&DeadlineReached, &wait), absl::Milliseconds(10));
  }
  return true;
}

void FakeClock::Advance(absl::Duration d) { AdvanceMicros(absl::ToInt64Microseconds(d)); }

void FakeClock::AdvanceMicros(int64_t us) {
  absl::MutexLock lock(&mu_);
  now_us_ += us;
}

}  // namespace convrnn
