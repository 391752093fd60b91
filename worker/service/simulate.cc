#include "worker/service/simulate.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "spec/arch_spec.h"
#include "spec/cost.h"
#include "util/mix.h"
#include "util/status_macros.h"

namespace convrnn {

uint64_t SpecHash(absl::string_view spec_json) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : spec_json) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

namespace {

// A uniform number in [0, 1) from bits `shift`.. of a mixed hash.
double Unit(uint64_t h, int salt) {
  const uint64_t x = Scramble(h + kSplitMixGamma * static_cast<uint64_t>(salt + 1));
  return static_cast<double>(x >> 11) / static_cast<double>(1ull << 53);
}

class SimulatedExecutor final : public TrialExecutor {
 public:
  explicit SimulatedExecutor(SimulateOptions options) : options_(std::move(options)) {}

  absl::StatusOr<TrialOutcome> Run(const TrialTask& task, const TrialHooks& hooks) override {
    ASSIGN_OR_RETURN(ArchSpec spec, ParseArchSpecText(task.spec_json));
    const int epochs = options_.epochs > 0 ? options_.epochs : std::max(1, spec.train.epochs);
    const uint64_t hash = SpecHash(task.spec_json);
    Clock* clock = options_.clock;
    const int64_t start = clock->NowMicros();
    const int64_t period = absl::ToInt64Microseconds(options_.epoch_time);
    TrialOutcome outcome;
    std::map<std::string, double> last;
    int done = 0;
    for (int epoch = 1; epoch <= epochs; ++epoch) {
      if (!clock->SleepUntil(start + period * epoch, hooks.cancelled) ||
          (hooks.cancel != nullptr && hooks.cancel->load())) {
        return absl::CancelledError(absl::StrCat("simulated training cancelled at epoch ", epoch));
      }
      last = SimulatedEpochMetrics(hash, epoch);
      done = epoch;
      if (hooks.on_epoch && !hooks.on_epoch(EpochReport{epoch, last})) {
        outcome.stopped_early = true;
        break;
      }
    }
    CostEstimate cost = EstimateCost(spec);
    outcome.final_metrics = {{"val_top1", last["val_top1"]},
                             {"train_loss", last["train_loss"]},
                             {"params", static_cast<double>(cost.params)},
                             {"flops", static_cast<double>(cost.flops_per_image)},
                             {"epochs", static_cast<double>(done)},
                             {"wall_s", (clock->NowMicros() - start) / 1e6},
                             {"simulated", 1.0}};
    return outcome;
  }

 private:
  SimulateOptions options_;
};

}  // namespace

std::map<std::string, double> SimulatedEpochMetrics(uint64_t spec_hash, int epoch) {
  const double plateau = 0.55 + 0.38 * Unit(spec_hash, 0);
  const double rate = 0.3 + 1.2 * Unit(spec_hash, 1);
  const double progress = 1.0 - std::exp(-rate * epoch);
  const double noise = 0.01 * (Unit(spec_hash, 100 + epoch) - 0.5);
  return {{"val_top1", std::clamp(0.1 + (plateau - 0.1) * progress + noise, 0.0, 1.0)},
          {"train_loss", 0.25 + 2.05 * std::exp(-rate * epoch)},
          {"wall_s", 1.0},
          {"images_per_s", 1000.0 + 4000.0 * Unit(spec_hash, 2)}};
}

std::unique_ptr<TrialExecutor> NewSimulatedExecutor(SimulateOptions options) {
  return std::make_unique<SimulatedExecutor>(std::move(options));
}

}  // namespace convrnn
