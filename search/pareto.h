// Multi-objective utilities: dominance, the Pareto front, non-dominated
// sorting, for any number of objectives each maximised or minimised.
//
// Equal points never dominate each other, so ties sit on the same front.
// Used by the client's `pareto` command and by the samplers' multi-objective
// mode (SamplerOptions::goals with more than one entry).
//
// Thread-safety: pure functions.
#ifndef CONVRNN_SEARCH_PARETO_H_
#define CONVRNN_SEARCH_PARETO_H_

#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace convrnn::search {

enum class Goal { kMaximize, kMinimize };

// "max" / "min" (the campaign's objectives[].goal).
absl::StatusOr<Goal> ParseGoal(absl::string_view text);

// Value to minimise: v for kMinimize, -v for kMaximize.
inline double AsLoss(double v, Goal goal) { return goal == Goal::kMaximize ? -v : v; }

// True when `a` is at least as good as `b` in every objective and strictly
// better in one. A NaN value is worse than any number.
// REQUIRES: a.size() == b.size() == goals.size().
bool Dominates(const std::vector<double>& a, const std::vector<double>& b,
               const std::vector<Goal>& goals);

// Indices of the non-dominated points, ascending.
std::vector<size_t> ParetoFront(const std::vector<std::vector<double>>& points,
                                const std::vector<Goal>& goals);

// Front number of every point: 0 for the Pareto front, 1 for the front of
// what remains, and so on. With `min_ranked` > 0 sorting stops once that many
// points are ranked, and the rest get rank -1 (samplers need only the best few).
std::vector<int> NonDominatedSort(const std::vector<std::vector<double>>& points,
                                  const std::vector<Goal>& goals, size_t min_ranked = 0);

}  // namespace convrnn::search

#endif  // CONVRNN_SEARCH_PARETO_H_
