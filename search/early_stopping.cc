#include "search/early_stopping.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "util/json_object.h"
#include "util/status_macros.h"

namespace convrnn::search {
namespace {

// Inserts into a sorted vector.
void InsertSorted(std::vector<double>* v, double x) {
  v->insert(std::upper_bound(v->begin(), v->end(), x), x);
}

class AshaStopper final : public EarlyStopper {
 public:
  explicit AshaStopper(const EarlyStoppingOptions& o) : options_(o) {
    for (int64_t r = o.min_resource; o.max_resource == 0 || r < o.max_resource;
         r *= o.reduction_factor) {
      rung_epochs_.push_back(static_cast<int>(r));
      if (r > (int64_t{1} << 30) / o.reduction_factor) break;
    }
    rungs_.resize(rung_epochs_.size());
  }

  Decision Decide(int64_t trial_id, int epoch, double value) override {
    auto it = std::find(rung_epochs_.begin(), rung_epochs_.end(), epoch);
    if (std::isnan(value)) return Decision::kStop;
    if (it == rung_epochs_.end()) return Decision::kContinue;
    const int rung = static_cast<int>(it - rung_epochs_.begin());
    auto [seen, inserted] = decided_.try_emplace({trial_id, rung}, Decision::kContinue);
    if (!inserted) return seen->second;
    std::vector<double>& values = rungs_[rung];
    const double loss = AsLoss(value, options_.goal);
    InsertSorted(&values, loss);
    const size_t top = std::max<size_t>(1, values.size() / options_.reduction_factor);
    seen->second = loss <= values[top - 1] ? Decision::kContinue : Decision::kStop;
    return seen->second;
  }

 private:
  EarlyStoppingOptions options_;
  std::vector<int> rung_epochs_;
  std::vector<std::vector<double>> rungs_;  // sorted losses per rung
  std::map<std::pair<int64_t, int>, Decision> decided_;
};

class MedianStopper final : public EarlyStopper {
 public:
  explicit MedianStopper(const EarlyStoppingOptions& o) : options_(o) {}

  Decision Decide(int64_t trial_id, int epoch, double value) override {
    if (std::isnan(value)) return Decision::kStop;
    auto [seen, inserted] = decided_.try_emplace({trial_id, epoch}, Decision::kContinue);
    if (!inserted) return seen->second;
    auto [best_it, first] = best_.try_emplace(trial_id, AsLoss(value, options_.goal));
    double& best = best_it->second;
    best = std::min(best, AsLoss(value, options_.goal));
    std::vector<double>& others = by_epoch_[epoch];
    if (epoch > options_.warmup_epochs &&
        others.size() >= static_cast<size_t>(options_.min_trials)) {
      const size_t n = others.size();
      const double median = n % 2 ? others[n / 2] : 0.5 * (others[n / 2 - 1] + others[n / 2]);
      if (best > median) seen->second = Decision::kStop;
    }
    InsertSorted(&others, best);
    return seen->second;
  }

 private:
  EarlyStoppingOptions options_;
  std::map<int64_t, double> best_;               // best loss so far per trial
  std::map<int, std::vector<double>> by_epoch_;  // sorted best-so-far losses per epoch
  std::map<std::pair<int64_t, int>, Decision> decided_;
};

}  // namespace

absl::StatusOr<EarlyStoppingOptions> ParseEarlyStopping(const nlohmann::json& json,
                                                        const std::string& path, Goal goal) {
  EarlyStoppingOptions options;
  options.goal = goal;
  JsonObject o(json, path);
  std::string rule;
  o.Enum("rule", &rule, {"asha", "median"});
  if (o.ok() && rule.empty()) o.Fail("rule", "is required");
  if (rule == "asha") {
    options.rule = EarlyStoppingOptions::Rule::kAsha;
    o.Int("min_resource", &options.min_resource, 1, 100000);
    o.Int("reduction_factor", &options.reduction_factor, 2, 100);
    o.Int("max_resource", &options.max_resource, 0, 100000);
    if (o.ok() && options.max_resource != 0 && options.max_resource <= options.min_resource) {
      o.Fail("max_resource", "must exceed min_resource (or be 0: the trial's own budget)");
    }
  } else if (rule == "median") {
    options.rule = EarlyStoppingOptions::Rule::kMedian;
    o.Int("warmup_epochs", &options.warmup_epochs, 0, 100000);
    o.Int("min_trials", &options.min_trials, 1, 100000);
  }
  RETURN_IF_ERROR(o.Finish());
  return options;
}

absl::StatusOr<std::unique_ptr<EarlyStopper>> CreateEarlyStopper(
    const EarlyStoppingOptions& options) {
  if (options.rule == EarlyStoppingOptions::Rule::kMedian) {
    if (options.warmup_epochs < 0 || options.min_trials < 1) {
      return absl::InvalidArgumentError("median rule needs warmup_epochs >= 0, min_trials >= 1");
    }
    return std::make_unique<MedianStopper>(options);
  }
  if (options.min_resource < 1 || options.reduction_factor < 2 || options.max_resource < 0 ||
      (options.max_resource != 0 && options.max_resource <= options.min_resource)) {
    return absl::InvalidArgumentError(
        "asha needs min_resource >= 1, reduction_factor >= 2, max_resource 0 or > min_resource");
  }
  return std::make_unique<AshaStopper>(options);
}

}  // namespace convrnn::search
