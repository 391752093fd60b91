// Samplers propose the next architecture of a campaign.
//
// The coordinator keeps one History per campaign and one Sampler made by
// CreateSampler. To start a trial it calls Suggest(history), records the
// suggestion with history.AddPending(id, ...), and when the trial ends calls
// history.Finish(id, ...). Samplers:
//   "random"     independent draws from the space;
//   "tpe"        Tree-structured Parzen Estimator (tpe_sampler.h);
//   "gp"         Gaussian-process Bayesian optimisation, one objective
//                (gp_sampler.h);
//   "evolution"  regularized evolution, Real et al. 2019 (evolution_sampler.h);
//   "grid"       every combination in a fixed order (grid_sampler.h).
// Every suggestion is a concrete spec validated by ParseArchSpec; a draw that
// fails validation is redrawn, and after SamplerOptions::max_redraws an error
// is returned instead of an invalid spec.
//
// Determinism: the suggestion is a function of (seed, space, the finished
// trials in order, the pending trial ids and assignments). A restarted
// coordinator that rebuilds its History gets the same suggestions; parallel
// workers get different ones because each pending trial changes the input.
//
// A Sampler remembers how many finished trials it has read, so it must be
// given the same History on every call; after rebuilding a History (a
// restart) create a fresh Sampler. A History that shrank is re-read whole.
//
// Cost: a Sampler reads only the trials finished since its last call (it
// keeps its statistics incrementally), plus the pending ones; a suggestion's
// cost does not grow with the number of finished trials (tpe_sampler.h says
// how). Multi-objective histories (goals.size() > 1) re-rank on new results.
//
// Thread-safety: a Sampler and its History are used by one thread at a time
// (the coordinator serialises a campaign's calls).
#ifndef CONVRNN_SEARCH_SAMPLER_H_
#define CONVRNN_SEARCH_SAMPLER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "search/pareto.h"
#include "search/space.h"

namespace convrnn::search {

enum class TrialState {
  kCompleted,  // ran its full budget; values are final
  kPruned,     // stopped early; values are its last report (lower fidelity)
  kFailed,     // no usable value; samplers ignore it except as "not pending"
};

struct FinishedTrial {
  int64_t id = 0;
  TrialState state = TrialState::kCompleted;
  Assignment assignment;
  std::vector<double> values;  // one per SamplerOptions::goals entry
};

// Trials of one campaign as a sampler sees them. `finished` only grows.
class History {
 public:
  // A trial that was suggested and is running (or queued).
  // REQUIRES: `id` is neither pending nor finished.
  void AddPending(int64_t id, Assignment assignment);
  // Ends a pending trial, or records one directly (rebuilding after a
  // restart). Values are ignored for kFailed.
  void Finish(int64_t id, TrialState state, std::vector<double> values);
  void Finish(int64_t id, TrialState state, std::vector<double> values, Assignment assignment);
  // A pending trial gets a new id (a proposal made ahead under a provisional
  // id, once stored). No-op when `from` is not pending.
  void RenamePending(int64_t from, int64_t to);
  // Forgets a pending trial that will never run (a proposal not used).
  void DropPending(int64_t id) { pending_.erase(id); }

  const std::vector<FinishedTrial>& finished() const { return finished_; }
  const std::map<int64_t, Assignment>& pending() const { return pending_; }

 private:
  std::vector<FinishedTrial> finished_;
  std::map<int64_t, Assignment> pending_;
};

struct SamplerOptions {
  // Seed of every random draw; same seed and history, same suggestion.
  uint64_t seed = 0;
  // One goal per objective value in FinishedTrial::values. With more than one,
  // "tpe" models the trials on the best Pareto fronts as good and "evolution"
  // runs its tournaments by Pareto rank: both propose toward the front.
  std::vector<Goal> goals = {Goal::kMaximize};
  // Draws that fail ParseArchSpec are redrawn up to this many times.
  int max_redraws = 64;
  // Applied to every valid proposal: the spec to run, or an error that makes
  // the sampler redraw (a parameter budget the candidate cannot reach,
  // spec/param_budget.h). The assignment stays the one proposed. Default
  // (null): the spec as proposed.
  std::function<absl::StatusOr<nlohmann::json>(const ArchSpec&)> adjust;

  // --- grid ---
  // Each combination runs with seeds train.seed + 0 .. repeats - 1.
  int repeats = 1;

  // --- tpe and gp ---
  // Trials sampled at random before the model is used. 5 (Optuna's default
  // is 10): with the joint model, better after 25 trials on all three
  // synthetic objectives and level after 50-200, and fewer epochs to every
  // target of the campaign benchmark's surrogate (docs/performance.md,
  // "Defaults: 5 start-up trials, ASHA reduction factor 4").
  int n_startup_trials = 5;
  // Candidates drawn from l(x) per parameter; the best l(x)/g(x) wins.
  int n_ei_candidates = 24;
  // The good set is the best ceil(gamma * n) trials, at most max_good.
  double gamma = 0.1;
  int max_good = 25;
  // Weight of the flat prior component in both estimators.
  double prior_weight = 1.0;
  // Bins of the histogram that holds the bad set of each numeric parameter
  // (what keeps the cost flat in the number of trials).
  int bad_bins = 64;
  // While a numeric parameter has at most this many bad observations, g(x)
  // is the exact Parzen estimator over them (Optuna's, with its weights that
  // fade old trials); beyond, the histogram above keeps the cost flat.
  int exact_bad_limit = 1000;
  // Trials still running count as bad observations at the values they were
  // given (a "constant liar"), so parallel workers spread out; false: the
  // model ignores them until they finish (Optuna's default).
  bool constant_liar = true;
  // Numeric estimators weight kernels by peak height, not mass
  // (ParzenEstimator::Kernels::kEqualHeight); false gives proper densities.
  bool equal_kernel_heights = true;
  // Model the parameters jointly (tpe_sampler.h, "Multivariate"): l and g
  // are mixtures of product kernels, one per trial, so a proposal keeps the
  // combinations the good trials had (a recurrent top cell *with* a high
  // learning rate), not only each parameter's good values. Better on the
  // campaign benchmark and on the ConvRNN-like and Hartmann-6 objectives,
  // a little worse on Branin at 25 trials (docs/performance.md); false: the
  // independent model.
  bool multivariate = true;

  // --- gp ---
  // Random assignments scored by expected improvement before the local
  // search (gp_sampler.h).
  int gp_candidates = 1000;
  // Trials the Gaussian process is fitted to: the best half by loss and the
  // newest rest (its cost is cubic in this).
  int gp_max_points = 200;

  // --- evolution ---
  // The population is the population_size most recently finished trials
  // (ageing: the oldest leaves first); random draws until it is full.
  int population_size = 50;
  // Members sampled per tournament; the best is mutated.
  int tournament_size = 10;
};

struct Suggestion {
  Assignment assignment;
  nlohmann::json spec;  // canonical spec (ToJson of the validated ArchSpec)
  // Why `adjust` refused the proposals redrawn before this one (oldest first).
  std::vector<std::string> rejected;
};

class Sampler {
 public:
  virtual ~Sampler() = default;
  // The next trial to run. Errors: InvalidArgument when the history's
  // assignments or values do not fit the space and goals; FailedPrecondition
  // when no valid spec was found within max_redraws.
  virtual absl::StatusOr<Suggestion> Suggest(const History& history) = 0;
};

// `algorithm`: "random", "tpe", "gp", "evolution" or "grid". REQUIRES: space != nullptr.
absl::StatusOr<std::unique_ptr<Sampler>> CreateSampler(absl::string_view algorithm,
                                                       std::shared_ptr<const Space> space,
                                                       const SamplerOptions& options);

}  // namespace convrnn::search

#endif  // CONVRNN_SEARCH_SAMPLER_H_
