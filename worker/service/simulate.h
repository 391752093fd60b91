// Simulated training (`convrnn-worker --server ... --simulate`): no LibTorch,
// no data. Each trial "trains" for a set number of epochs at a set pace and
// reports a synthetic learning curve that depends only on the spec text, so
// load tests and end-to-end tests exercise the coordinator exactly as real
// workers do (lease, heartbeat, per-epoch reports, STOP, completion) at a
// fraction of the cost.
//
// Thread-safety: SimulatedEpochMetrics is a pure function; an executor runs
// one trial at a time.
#ifndef CONVRNN_WORKER_SERVICE_SIMULATE_H_
#define CONVRNN_WORKER_SERVICE_SIMULATE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "util/clock.h"
#include "worker/service/service_loop.h"

namespace convrnn {

struct SimulateOptions {
  // Simulated duration of one epoch.
  absl::Duration epoch_time = absl::Seconds(1);
  // Epochs per trial; 0: the spec's train.epochs.
  int epochs = 0;
  // Paces the epochs; never null.
  Clock* clock = Clock::Real();
};

// FNV-1a of the spec text: the seed of its synthetic curve.
uint64_t SpecHash(absl::string_view spec_json);

// Metrics of epoch `epoch` (from 1) of the trial whose spec hashes to
// `spec_hash`: val_top1 rises towards a spec-specific plateau in (0.55, 0.93)
// at a spec-specific rate; train_loss falls likewise; wall_s and
// images_per_s are nominal.
std::map<std::string, double> SimulatedEpochMetrics(uint64_t spec_hash, int epoch);

// An executor that parses the spec (a bad spec fails as it would in
// training: INVALID_ARGUMENT), then reports the synthetic curve, waiting
// `epoch_time` per epoch. Final metrics carry the spec's true parameter count
// and FLOPs estimate.
std::unique_ptr<TrialExecutor> NewSimulatedExecutor(SimulateOptions options);

}  // namespace convrnn

#endif  // CONVRNN_WORKER_SERVICE_SIMULATE_H_
