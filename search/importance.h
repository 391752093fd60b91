// Parameter importance of a campaign: which searched parameters explain the
// objective. fANOVA (Hutter, Hoos & Leyton-Brown, ICML 2014), as Optuna's
// default FanovaImportanceEvaluator computes it: fit a random forest
// (random_forest.h) that predicts the objective from the parameters, then for
// each tree take the share of its prediction's variance (over the whole
// space) that the parameter's marginal explains alone; the importance is the
// mean share over the trees, normalised so that all importances sum to 1.
//
// Encoding: numeric parameters on [0, 1], log-uniform ones too (as Optuna
// does: the measure is uniform in the raw value, so a learning rate on
// [1e-4, 1] matters mostly through its top decade); categorical ones by
// choice, each choice weighted equally.
//
// Conditional parameters (a knob that exists only in one branch of a choice,
// a feedback edge's knobs) are inactive in part of the trials, where the
// objective does not depend on them. So an inactive value is drawn from the
// parameter's prior (uniform on its range or its choices): the objective is
// then a function on the whole product space, and "is this branch taken" is
// credited to the parent choice alone instead of to each of its knobs (which
// a fixed out-of-range imputation would do). A knob that matters in its
// branch keeps its share through the trials where it is active. Parameters
// never active, or with a single value, get importance 0.
//
// Cost: O(trees * n log n * params * depth) to fit; about a second for 1,000
// trials of 50 parameters with the default 64 trees.
//
// Thread-safety: pure function.
#ifndef CONVRNN_SEARCH_IMPORTANCE_H_
#define CONVRNN_SEARCH_IMPORTANCE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "search/random_forest.h"
#include "search/space.h"

namespace convrnn::search {

struct ImportanceOptions {
  // The forest; defaults are Optuna's (64 trees, depth 64, seed 0).
  ForestOptions forest;
};

struct ParamImportance {
  std::string name;         // Space parameter name ("layers[1].cell.type")
  double importance = 0.0;  // share in [0, 1]; all of them sum to 1 (or all 0)
  double stddev = 0.0;      // spread of the (unnormalised) share over the trees
  int active_trials = 0;    // trials in which the parameter was active
};

// Importances of every parameter of `space`, most important first (ties by
// name), from `assignments` and their objective values `y` (a trial whose
// value is not finite is left out). Errors: InvalidArgument when an
// assignment does not fit the space or the sizes differ; FailedPrecondition
// with fewer than 2 usable trials.
absl::StatusOr<std::vector<ParamImportance>> ParamImportances(
    const Space& space, const std::vector<Assignment>& assignments, const std::vector<double>& y,
    const ImportanceOptions& options = {});

}  // namespace convrnn::search

#endif  // CONVRNN_SEARCH_IMPORTANCE_H_
