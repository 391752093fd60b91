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
  bool AwaitWithDeadline(absl::Mutex& mu, const absl::Condition& condition, int64_t deadline_us)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) override {
    return mu.AwaitWithDeadline(condition, absl::FromUnixMicros(deadline_us));
  }
};

}  // namespace

Clock* Clock::Real() {
  static Clock* clock = new RealClock();
  return clock;
}

bool Clock::AwaitWithTimeout(absl::Mutex& mu, const absl::Condition& condition,
                             absl::Duration timeout) {
  return AwaitWithDeadline(mu, condition, NowMicros() + absl::ToInt64Microseconds(timeout));
}

int64_t FakeClock::NowMicros() { return now_us_.load(); }

namespace {
struct Deadline {
  const std::atomic<int64_t>* now_us;
  int64_t deadline_us;
  const absl::Condition* condition;  // null: the deadline alone
};
bool DeadlineReached(Deadline* d) { return d->now_us->load() >= d->deadline_us; }
bool ConditionOrDeadline(Deadline* d) { return d->condition->Eval() || DeadlineReached(d); }
}  // namespace

void FakeClock::Block(absl::Mutex* mu, int delta) {
  absl::MutexLock lock(&mu_);
  blocked_ += delta;
  if ((waiting_on_[mu] += delta) == 0) waiting_on_.erase(mu);
}

bool FakeClock::SleepUntil(int64_t deadline_us, absl::Notification* cancel) {
  absl::MutexLock lock(&mu_);
  ++blocked_;
  Deadline wait{&now_us_, deadline_us, nullptr};
  bool reached = true;
  while (!DeadlineReached(&wait)) {
    if (cancel != nullptr && cancel->HasBeenNotified()) {
      reached = false;
      break;
    }
    // Wake now and then to notice cancellation: a Notification cannot signal this mutex.
    mu_.AwaitWithTimeout(absl::Condition(&DeadlineReached, &wait), absl::Milliseconds(10));
  }
  --blocked_;
  return reached;
}

bool FakeClock::AwaitWithDeadline(absl::Mutex& mu, const absl::Condition& condition,
                                  int64_t deadline_us) {
  Deadline wait{&now_us_, deadline_us, &condition};
  Block(&mu, +1);
  mu.Await(absl::Condition(&ConditionOrDeadline, &wait));
  Block(&mu, -1);
  return condition.Eval();
}

void FakeClock::Advance(absl::Duration d) { AdvanceMicros(absl::ToInt64Microseconds(d)); }

void FakeClock::AdvanceMicros(int64_t us) {
  absl::MutexLock lock(&mu_);
  now_us_ += us;
  // A waiter's condition is evaluated when its mutex is released: take and
  // release each one. TryLock, because a waiter registers with its own mutex
  // held (lock order: waiter's mutex, then mu_); when the mutex is busy, its
  // holder's release evaluates the condition anyway.
  for (const auto& [waiter_mu, count] : waiting_on_) {
    if (waiter_mu->TryLock()) waiter_mu->Unlock();
  }
}

bool FakeClock::WaitForBlocked(int n, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return blocked_ >= n; };
  return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
}

}  // namespace convrnn
