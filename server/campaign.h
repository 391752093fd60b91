// A search campaign as the coordinator runs it: the campaign JSON of
// DESIGN.md §7, parsed and validated once at launch (and again when a
// restarted coordinator reloads it from the store).
//
//   {"name": "...",
//    "data": <data spec>,                        default {} (fashion-mnist)
//    "space": <architecture spec with distributions>,
//    "budget": null | {"params": N, "tolerance": 0.03},
//                                    every candidate's widths scaled to N
//                                    parameters (spec/param_budget.h); a
//                                    candidate that cannot reach it is redrawn
//    "search": {"algorithm": "random"|"tpe"|"gp"|"evolution"|"grid",
//                                                           default "random"
//               "seed": 0,                                  default 0
//               "max_trials": N,     required (grid: default grid size x repeats)
//               "max_parallel": P,                          default max_trials
//               "repeats": k,        grid only: seeds per combination, default 1
//               "warm_start": [campaign ids],               default []
//               "tpe": {...}, "gp": {"n_startup_trials", "candidates",
//                                    "max_points"}  the sampler's knobs
//               "early_stopping": null | {"rule": "asha"|"median", ...}},
//    "objectives": [{"metric": "val_top1", "goal": "max"}, ...],
//                                                default [val_top1:max]
//    "neural": null | <neural section, spec/neural_spec.h>,
//    "trial": {"max_attempts": 3, "lease_seconds": 60}}
//
// An objective "neural_predictivity" or "neural_predictivity.<REGION>" needs
// the "neural" section: workers then score every trial after training and
// report those metrics with its final metrics (docs/neural-data.md).
//
// Grid: the space may hold only choices and int ranges, its combinations
// times repeats must fit max_trials, and every combination must be valid
// (and reach the budget); search/grid_sampler.h gives the order. Warm start:
// the completed trials of the named campaigns join the sampler's history
// when their space is the same (the coordinator checks; grid refuses it).
//
// Every error is INVALID_ARGUMENT naming the key path
// ("search.max_parallel: must be an integer in [1, 100000]"); unknown keys
// are refused. The space is parsed by search/space.h, which also probes it,
// so a space that cannot produce a valid spec is refused here, at launch.
//
// Thread-safety: a CampaignConfig is immutable after parsing; share it const.
#ifndef CONVRNN_SERVER_CAMPAIGN_H_
#define CONVRNN_SERVER_CAMPAIGN_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "search/early_stopping.h"
#include "search/pareto.h"
#include "search/sampler.h"
#include "search/space.h"
#include "spec/data_spec.h"
#include "spec/neural_spec.h"
#include "spec/param_budget.h"

namespace convrnn::server {

struct Objective {
  std::string metric;  // a final-metric name of [A-Za-z0-9_]
  search::Goal goal = search::Goal::kMaximize;
};

struct CampaignConfig {
  std::string name;
  DataSpec data;
  // Canonical ToJson(data): what LeaseTrialResponse.data_json carries.
  std::string data_json;
  std::shared_ptr<const search::Space> space;
  std::string algorithm = "random";
  uint64_t seed = 0;
  int max_trials = 0;
  int max_parallel = 0;
  std::optional<search::EarlyStoppingOptions> early_stopping;
  std::optional<ParamBudget> budget;
  int repeats = 1;                  // grid only
  std::vector<int64_t> warm_start;  // campaign ids
  // search.tpe: the TPE sampler's knobs (tpe only; n_startup_trials,
  // constant_liar, equal_kernel_heights, multivariate, gamma, max_good,
  // n_ei_candidates, prior_weight), and search.gp's (gp only:
  // n_startup_trials, candidates -> gp_candidates, max_points ->
  // gp_max_points), the defaults where the campaign says nothing. Its other fields (seed, goals,
  // ...) are not read from here: SamplerOptionsFor sets them from the rest of the campaign.
  search::SamplerOptions tpe;
  // At least one; the first drives early stopping and Best's default.
  std::vector<Objective> objectives;
  int max_attempts = 3;
  int lease_seconds = 60;
  // The "neural" section, with the regions the objectives name added; and
  // its canonical JSON (LeaseTrialResponse.neural_json), empty without one.
  std::optional<NeuralSpec> neural;
  std::string neural_json;
};

// Upper bounds of the numeric fields (the range is named in the errors).
inline constexpr int kMaxTrialsLimit = 1'000'000;
// Campaign names are shown in tables and on terminals: 1-200 bytes.
inline constexpr size_t kMaxNameLength = 200;
inline constexpr int kMaxAttemptsLimit = 100;
inline constexpr int kMaxLeaseSeconds = 7 * 24 * 3600;

absl::StatusOr<CampaignConfig> ParseCampaign(const nlohmann::json& json);
// Parses the text first; malformed JSON is INVALID_ARGUMENT too.
absl::StatusOr<CampaignConfig> ParseCampaignText(absl::string_view text);

// The sampler's adjust hook for the campaign's budget (null without one):
// the spec scaled to the budget, OUT_OF_RANGE when it cannot reach it.
std::function<absl::StatusOr<nlohmann::json>(const ArchSpec&)> BudgetAdjuster(
    const std::optional<ParamBudget>& budget);

// The sampler's options for the campaign: its seed, grid repeats, search.tpe
// knobs, goals and budget.
search::SamplerOptions SamplerOptionsFor(const CampaignConfig& config);

// The campaign's search, as the coordinator runs it: its sampler (algorithm,
// seed, TPE knobs, goals, budget) and, when configured, its early stopper.
struct CampaignSearch {
  std::unique_ptr<search::Sampler> sampler;
  std::unique_ptr<search::EarlyStopper> stopper;
};
absl::StatusOr<CampaignSearch> NewCampaignSearch(const CampaignConfig& config);

// A final-metric name: 1-64 of [A-Za-z0-9_.] ("val_top1",
// "neural_predictivity.IT").
bool IsMetricName(absl::string_view name);

// "val_top1:max".
std::string ObjectiveName(const Objective& objective);

}  // namespace convrnn::server

#endif  // CONVRNN_SERVER_CAMPAIGN_H_
