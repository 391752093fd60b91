// Capped exponential backoff with jitter, for retrying calls to a server
// that is down or overloaded (gRPC's connection-backoff recipe).
//
// Pure arithmetic: the caller sleeps through its injected Clock, so tests
// step a FakeClock instead of waiting.
//
// Thread-safety: a Backoff is used by one thread at a time.
#ifndef CONVRNN_WORKER_SERVICE_RPC_RETRY_H_
#define CONVRNN_WORKER_SERVICE_RPC_RETRY_H_

#include <cstdint>
#include <random>

#include "absl/time/time.h"

namespace convrnn {

struct BackoffOptions {
  // Delay before the first retry.
  absl::Duration initial = absl::Milliseconds(100);
  // Delays never exceed this.
  absl::Duration max = absl::Seconds(5);
  // Each delay is the previous one times this, up to `max`.
  double multiplier = 2.0;
  // Each delay is drawn uniformly from [d * (1 - jitter), d]: workers that
  // lost the server together do not come back in lockstep. In [0, 1].
  double jitter = 0.3;
};

class Backoff {
 public:
  // `seed` decorrelates processes (use the pid).
  explicit Backoff(BackoffOptions options, uint64_t seed = 0);
  // The delay before the next attempt; grows until `max`.
  absl::Duration Next();
  // After a success: the next delay is `initial` again.
  void Reset();
  // Failures since the last Reset().
  int attempts() const { return attempts_; }

 private:
  BackoffOptions options_;
  std::mt19937_64 rng_;
  absl::Duration current_;
  int attempts_ = 0;
};

}  // namespace convrnn

#endif  // CONVRNN_WORKER_SERVICE_RPC_RETRY_H_
