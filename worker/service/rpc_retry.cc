#include "worker/service/rpc_retry.h"

#include <algorithm>

namespace convrnn {

Backoff::Backoff(BackoffOptions options, uint64_t seed)
    : options_(options), rng_(seed), current_(options.initial) {}

absl::Duration Backoff::Next() {
  absl::Duration base = std::min(current_, options_.max);
  current_ = std::min(options_.max, current_ * options_.multiplier);
  ++attempts_;
  double jitter = std::clamp(options_.jitter, 0.0, 1.0);
  std::uniform_real_distribution<double> factor(1.0 - jitter, 1.0);
  return base * factor(rng_);
}

void Backoff::Reset() {
  current_ = options_.initial;
  attempts_ = 0;
}

}  // namespace convrnn
