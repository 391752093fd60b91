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
  clock.AdvanceMicros(4000);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
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

}  // namespace
}  // namespace convrnn
