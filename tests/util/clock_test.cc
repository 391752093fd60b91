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

TEST_CASE("a condition wait ends at the fake deadline, and only there", "[util]") {
  FakeClock clock(0);
  absl::Mutex mu;
  bool ready = false;
  std::atomic<int> result{-1};
  std::thread waiter([&] {
    absl::MutexLock lock(&mu);
    result = clock.AwaitWithDeadline(mu, absl::Condition(&ready), 1000) ? 1 : 0;
  });
  REQUIRE(clock.WaitForBlocked(1));
  clock.AdvanceMicros(999);
  CHECK(clock.WaitForBlocked(1));
  CHECK(result.load() == -1);
  clock.AdvanceMicros(1);
  waiter.join();
  CHECK(result.load() == 0);
}

TEST_CASE("a condition wait ends when its condition comes true", "[util]") {
  FakeClock clock(0);
  absl::Mutex mu;
  bool ready = false;
  std::atomic<int> result{-1};
  std::thread waiter([&] {
    absl::MutexLock lock(&mu);
    result = clock.AwaitWithTimeout(mu, absl::Condition(&ready), absl::Hours(1)) ? 1 : 0;
  });
  REQUIRE(clock.WaitForBlocked(1));
  {
    absl::MutexLock lock(&mu);
    ready = true;
  }
  waiter.join();
  CHECK(result.load() == 1);
  CHECK(clock.NowMicros() == 0);

  // The real clock: a past deadline returns at once with the condition's value.
  absl::MutexLock lock(&mu);
  CHECK(Clock::Real()->AwaitWithDeadline(mu, absl::Condition(&ready), 0));
  ready = false;
  CHECK_FALSE(Clock::Real()->AwaitWithTimeout(mu, absl::Condition(&ready), absl::Milliseconds(1)));
}

}  // namespace
}  // namespace convrnn
