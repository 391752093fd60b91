// Simulated time for tests of code that waits on a Clock: a ClockDriver
// advances a FakeClock by a step whenever a thread waits on it, until
// destroyed. Code whose every wait goes through the clock then runs as if
// time passed while it waited; the test itself never sleeps.
//
// Simulated time runs ahead while the code under test does real work (an RPC,
// a file write): give timeouts that would end a run early room to spare.
//
// Thread-safety: one driver thread per instance; the clock is thread-safe.
#ifndef CONVRNN_TESTS_CLOCK_DRIVER_H_
#define CONVRNN_TESTS_CLOCK_DRIVER_H_

#include <atomic>
#include <thread>

#include "absl/time/time.h"
#include "util/clock.h"

namespace convrnn::testing {

class ClockDriver {
 public:
  ClockDriver(FakeClock* clock, absl::Duration step)
      : thread_([this, clock, step] {
          while (!stop_) {
            if (clock->WaitForBlocked(1, absl::Milliseconds(5))) clock->Advance(step);
          }
        }) {}
  ~ClockDriver() {
    stop_ = true;
    thread_.join();
  }
  ClockDriver(const ClockDriver&) = delete;
  ClockDriver& operator=(const ClockDriver&) = delete;

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace convrnn::testing

#endif  // CONVRNN_TESTS_CLOCK_DRIVER_H_
