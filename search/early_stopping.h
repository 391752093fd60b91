// Early stopping: after each epoch a running trial reports, the coordinator
// asks whether it should continue.
//
//   "asha"    Asynchronous Successive Halving (Li et al. 2020). Rungs sit at
//             epochs min_resource * reduction_factor^k below max_resource. A
//             trial reaching a rung continues iff its value is within the best
//             max(1, floor(n / reduction_factor)) of the n values recorded at
//             that rung so far (itself included); otherwise it stops. Early
//             arrivals are judged against fewer peers, as in the paper.
//             Epochs between rungs always continue.
//   "median"  the median stopping rule (Golovin et al. 2017): after
//             warmup_epochs, a trial stops when its best value so far is
//             strictly worse than the median of the best-so-far values other
//             trials had at the same epoch, given at least min_trials of them.
//
// Epochs count from 1 (the report after the first epoch is epoch 1). A
// repeated report of the same (trial, rung/epoch) — a retried trial resumed
// from a checkpoint — returns the first answer and records nothing new. A NaN
// value stops the trial.
//
// Cost: O(log n) search plus an O(n) insertion into one sorted vector per
// report, n being the reports at that rung/epoch.
//
// Thread-safety: none; the coordinator serialises calls per campaign.
#ifndef CONVRNN_SEARCH_EARLY_STOPPING_H_
#define CONVRNN_SEARCH_EARLY_STOPPING_H_

#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "search/pareto.h"

namespace convrnn::search {

enum class Decision { kContinue, kStop };

struct EarlyStoppingOptions {
  enum class Rule { kAsha, kMedian };
  Rule rule = Rule::kAsha;
  // Whether larger reported values are better (val_top1) or smaller (loss).
  Goal goal = Goal::kMaximize;

  // --- asha ---
  // First rung, in epochs (>= 1).
  int min_resource = 1;
  // Keep the best 1/reduction_factor at each rung (>= 2). 4, as Optuna's
  // successive halving and Ray Tune's ASHA: on the campaign benchmark's
  // surrogate it reaches every target with fewer epochs than 2 or 3, for our
  // TPE and Optuna's alike (docs/performance.md, "Defaults: ...").
  int reduction_factor = 4;
  // The trial's full budget in epochs; no rung at or beyond it. 0: unbounded.
  int max_resource = 0;

  // --- median ---
  // Epochs 1..warmup_epochs always continue.
  int warmup_epochs = 1;
  // Other trials needed at an epoch before the rule can stop anyone.
  int min_trials = 5;
};

// Reads a campaign's `search.early_stopping` object, e.g.
// {"rule": "asha", "reduction_factor": 4, "min_resource": 1, "max_resource": 9}
// or {"rule": "median", "warmup_epochs": 1, "min_trials": 5}; errors name
// `path` and the key. `goal` comes from the campaign's first objective.
absl::StatusOr<EarlyStoppingOptions> ParseEarlyStopping(const nlohmann::json& json,
                                                        const std::string& path, Goal goal);

class EarlyStopper {
 public:
  virtual ~EarlyStopper() = default;
  // Records `value` of `trial_id` after `epoch` and says whether to go on.
  virtual Decision Decide(int64_t trial_id, int epoch, double value) = 0;
};

absl::StatusOr<std::unique_ptr<EarlyStopper>> CreateEarlyStopper(
    const EarlyStoppingOptions& options);

}  // namespace convrnn::search

#endif  // CONVRNN_SEARCH_EARLY_STOPPING_H_
