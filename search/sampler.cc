#include "search/sampler.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "search/evolution_sampler.h"
#include "search/gp_sampler.h"
#include "search/grid_sampler.h"
#include "search/sampler_base.h"
#include "search/tpe_sampler.h"
#include "util/status_macros.h"

namespace convrnn::search {

void History::AddPending(int64_t id, Assignment assignment) {
  pending_[id] = std::move(assignment);
}

void History::Finish(int64_t id, TrialState state, std::vector<double> values) {
  auto it = pending_.find(id);
  Assignment assignment;
  if (it != pending_.end()) {
    assignment = std::move(it->second);
    pending_.erase(it);
  }
  finished_.push_back({id, state, std::move(assignment), std::move(values)});
}

void History::Finish(int64_t id, TrialState state, std::vector<double> values,
                     Assignment assignment) {
  pending_.erase(id);
  finished_.push_back({id, state, std::move(assignment), std::move(values)});
}

void History::RenamePending(int64_t from, int64_t to) {
  auto it = pending_.find(from);
  if (it == pending_.end()) return;
  Assignment assignment = std::move(it->second);
  pending_.erase(it);
  pending_[to] = std::move(assignment);
}

std::vector<double> SamplerBase::Losses(const std::vector<double>& values) const {
  std::vector<double> losses(options_.goals.size(), std::numeric_limits<double>::infinity());
  for (size_t i = 0; i < losses.size() && i < values.size(); ++i) {
    if (!std::isnan(values[i])) losses[i] = AsLoss(values[i], options_.goals[i]);
  }
  return losses;
}

absl::Status SamplerBase::Sync(const History& history) {
  const auto& finished = history.finished();
  if (finished.size() < observed_) {  // a different (rebuilt) history
    Reset();
    observed_ = 0;
  }
  for (; observed_ < finished.size(); ++observed_) {
    const FinishedTrial& t = finished[observed_];
    if (t.state != TrialState::kFailed) {
      if (absl::Status s = space_->Check(t.assignment); !s.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("trial ", t.id, ": assignment does not fit the space: ", s.message()));
      }
      if (t.values.size() != options_.goals.size()) {
        return absl::InvalidArgumentError(absl::StrCat("trial ", t.id, ": has ", t.values.size(),
                                                       " values for ", options_.goals.size(),
                                                       " goals"));
      }
    }
    Observe(t);
  }
  return absl::OkStatus();
}

absl::StatusOr<Suggestion> SamplerBase::Suggest(const History& history) {
  RETURN_IF_ERROR(Sync(history));
  uint64_t seed = MixSeed(options_.seed, history.finished().size());
  for (const auto& [id, assignment] : history.pending()) seed = MixSeed(seed, id);
  Rng rng(seed);
  absl::Status last;
  std::vector<std::string> rejected;
  for (int attempt = 0; attempt <= options_.max_redraws; ++attempt) {
    attempt_ = attempt;
    Assignment a = Propose(history, rng);
    absl::StatusOr<ArchSpec> spec = space_->ToSpec(a);
    if (!spec.ok()) {
      last = spec.status();
      continue;
    }
    if (!options_.adjust) return Suggestion{std::move(a), ToJson(*spec), {}};
    absl::StatusOr<nlohmann::json> adjusted = options_.adjust(*spec);
    if (adjusted.ok()) return Suggestion{std::move(a), *std::move(adjusted), std::move(rejected)};
    last = adjusted.status();
    rejected.push_back(std::string(last.message()));
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "no valid architecture after ", options_.max_redraws + 1, " draws; last: ", last.message()));
}

absl::StatusOr<std::unique_ptr<Sampler>> CreateSampler(absl::string_view algorithm,
                                                       std::shared_ptr<const Space> space,
                                                       const SamplerOptions& options) {
  if (space == nullptr) return absl::InvalidArgumentError("sampler needs a space");
  if (options.goals.empty()) return absl::InvalidArgumentError("sampler needs at least one goal");
  if (algorithm == "random") return std::make_unique<RandomSampler>(std::move(space), options);
  if (algorithm == "tpe") {
    if (options.gamma <= 0 || options.gamma > 1 || options.max_good < 1 ||
        options.n_ei_candidates < 1 || options.bad_bins < 4 || options.prior_weight <= 0) {
      return absl::InvalidArgumentError(
          "tpe needs 0 < gamma <= 1, max_good >= 1, n_ei_candidates >= 1, bad_bins >= 4, "
          "prior_weight > 0");
    }
    return std::make_unique<TpeSampler>(std::move(space), options);
  }
  if (algorithm == "gp") {
    if (options.goals.size() != 1) {
      return absl::InvalidArgumentError(
          "gp optimises one objective; a campaign with several needs tpe, evolution or random");
    }
    if (options.gp_candidates < 1 || options.gp_max_points < 2) {
      return absl::InvalidArgumentError("gp needs gp_candidates >= 1 and gp_max_points >= 2");
    }
    return std::make_unique<GpSampler>(std::move(space), options);
  }
  if (algorithm == "evolution") {
    if (options.population_size < 2 || options.tournament_size < 1 ||
        options.tournament_size > options.population_size) {
      return absl::InvalidArgumentError(
          "evolution needs population_size >= 2 and 1 <= tournament_size <= population_size");
    }
    return std::make_unique<EvolutionSampler>(std::move(space), options);
  }
  if (algorithm == "grid") {
    ASSIGN_OR_RETURN(std::vector<Assignment> grid, GridCombinations(*space, kMaxGridSize));
    if (options.repeats < 1) return absl::InvalidArgumentError("grid needs repeats >= 1");
    return std::make_unique<GridSampler>(std::move(space), std::move(grid), options);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("search.algorithm: must be one of random, tpe, gp, evolution, grid (got \"",
                   std::string(algorithm), "\")"));
}

}  // namespace convrnn::search
