#include "util/clock.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

namespace convrnn {
namespace {

TEST_CASE("a fake clock wakes sleepers only when advanced", "[util]") {
  FakeClock clock(1000);
  std::atomic<bool> woke{false};
  std::thread sleeper([&] {
    CHECK(clock.SleepUntil(6000, nullptr));
    woke = true;
  });
  REQUIRE(clock.WaitForBlocked(1));
  clock.AdvanceMicros(4000);
  CHECK(clock.WaitForBlocked(1));  // still asleep: 5000 < 6000
  CHECK_FALSE(woke.load());
  clock.AdvanceMicros(1000);
  sleeper.join();
  CHECK(woke.load());
  CHECK(clock.NowMicros() == 6000);
}

TEST_CASE("a sleep is cancelled by its notification", "[util]") {
  FakeClock fake;
  absl::Notification cancel;
  std::thread sleeper([&] { CHECK_FALSE(fake.SleepUntil(fake.NowMicros() + 1'000'000, &cancel)); });
  cancel.Notify();
  sleeper.join();

  absl::Notification real_cancel;
  Clock* real = Clock::Real();
  int64_t start = real->NowMicros();
  std::thread real_sleeper(
      [&] { CHECK_FALSE(real->SleepUntil(start + 60'000'000, &real_cancel)); });
  real_cancel.Notify();
  real_sleeper.join();
  CHECK(real->NowMicros() - start < 10'000'000);
  CHECK(real->SleepUntil(real->NowMicros() + 1000, nullptr));
}

// A thread waiting on `clock` until `ready` (under `mu`) or `deadline_us`;
// `result` is -1 while it waits, then 1 (ready) or 0 (deadline).
struct Waiter {
  Waiter(FakeClock& clock, int64_t deadline_us)
      : thread([this, &clock, deadline_us] {
          absl::MutexLock lock(&mu);
          result = clock.AwaitWithDeadline(mu, absl::Condition(&ready), deadline_us) ? 1 : 0;
        }) {}
  ~Waiter() {
    if (thread.joinable()) thread.join();
  }

  absl::Mutex mu;
  bool ready ABSL_GUARDED_BY(mu) = false;
  std::atomic<int> result{-1};
  std::thread thread;  // last: starts once the rest is built
};

TEST_CASE("a condition wait ends at the fake deadline, and only there", "[util]") {
  FakeClock clock(0);
  Waiter waiter(clock, 1000);
  REQUIRE(clock.WaitForBlocked(1));
  clock.AdvanceMicros(999);
  CHECK(clock.WaitForBlocked(1));
  CHECK(waiter.result.load() == -1);
  clock.AdvanceMicros(1);
  waiter.thread.join();
  CHECK(waiter.result.load() == 0);
}

TEST_CASE("a condition wait ends when its condition comes true", "[util]") {
  FakeClock clock(0);
  Waiter waiter(clock, int64_t{3600} * 1'000'000);
  REQUIRE(clock.WaitForBlocked(1));
  {
    absl::MutexLock lock(&waiter.mu);
    waiter.ready = true;
  }
  waiter.thread.join();
  CHECK(waiter.result.load() == 1);
  CHECK(clock.NowMicros() == 0);
  absl::MutexLock lock(&waiter.mu);  // a condition already true returns at once
  CHECK(clock.AwaitWithTimeout(waiter.mu, absl::Condition(&waiter.ready), absl::Hours(1)));
}

TEST_CASE("the real clock's condition wait honours its deadline", "[util]") {
  absl::Mutex mu;
  bool ready = true;
  // The real clock: a past deadline returns at once with the condition's value.
  absl::MutexLock lock(&mu);
  CHECK(Clock::Real()->AwaitWithDeadline(mu, absl::Condition(&ready), 0));
  ready = false;
  CHECK_FALSE(Clock::Real()->AwaitWithTimeout(mu, absl::Condition(&ready), absl::Milliseconds(1)));
}

}  // namespace
}  // namespace convrnn
