#include "search/importance.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "search/rng.h"

namespace convrnn::search {
namespace {

bool Varies(const Param& p) { return p.categorical() ? p.labels.size() > 1 : p.hi > p.lo; }

// The encoding of the parameters that can matter: one feature each.
struct Encoding {
  std::vector<int> param;  // feature -> parameter id
  std::vector<Feature> features;
  std::vector<std::vector<double>> rows;
};

// Numeric values on [0, 1], choices by index. An inactive value is drawn from
// the parameter's prior (see importance.h), from `seed` and the trial's index.
Encoding Encode(const Space& space, const std::vector<const Assignment*>& trials, uint64_t seed) {
  Encoding e;
  const std::vector<Param>& params = space.params();
  for (size_t id = 0; id < params.size(); ++id) {
    const Param& p = params[id];
    const bool active = std::any_of(trials.begin(), trials.end(),
                                    [&](const Assignment* a) { return !IsAbsent((*a)[id]); });
    if (!active || !Varies(p)) continue;
    Feature f;
    f.categorical = p.categorical();
    if (f.categorical) f.weights.assign(p.labels.size(), 1.0 / p.labels.size());
    e.param.push_back(static_cast<int>(id));
    e.features.push_back(std::move(f));
  }
  for (size_t i = 0; i < trials.size(); ++i) {
    Rng rng(MixSeed(seed, i));
    std::vector<double> row;
    for (size_t j = 0; j < e.param.size(); ++j) {
      const Param& p = params[e.param[j]];
      const double v = (*trials[i])[e.param[j]];
      if (p.categorical()) {
        row.push_back(IsAbsent(v) ? static_cast<double>(rng.Below(p.labels.size())) : v);
      } else {
        row.push_back(IsAbsent(v) ? rng.Uniform()
                                  : std::clamp((v - p.lo) / (p.hi - p.lo), 0.0, 1.0));
      }
    }
    e.rows.push_back(std::move(row));
  }
  return e;
}

}  // namespace

absl::StatusOr<std::vector<ParamImportance>> ParamImportances(
    const Space& space, const std::vector<Assignment>& assignments, const std::vector<double>& y,
    const ImportanceOptions& options) {
  if (assignments.size() != y.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("importance: ", assignments.size(), " assignments but ", y.size(), " values"));
  }
  std::vector<const Assignment*> trials;
  std::vector<double> target;
  for (size_t i = 0; i < y.size(); ++i) {
    if (!std::isfinite(y[i])) continue;
    if (absl::Status s = space.Check(assignments[i]); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("importance: trial ", i, ": ", s.message()));
    }
    trials.push_back(&assignments[i]);
    target.push_back(y[i]);
  }
  if (trials.size() < 2) {
    return absl::FailedPreconditionError(absl::StrCat(
        "importance needs at least 2 finished trials with a value, have ", trials.size()));
  }
  const std::vector<Param>& params = space.params();
  std::vector<ParamImportance> out(params.size());
  for (size_t id = 0; id < params.size(); ++id) {
    out[id].name = params[id].name;
    for (const Assignment* a : trials) out[id].active_trials += IsAbsent((*a)[id]) ? 0 : 1;
  }
  const Encoding e = Encode(space, trials, options.forest.seed);
  if (!e.features.empty()) {
    const std::vector<Tree> forest = FitForest(e.features, e.rows, target, options.forest);
    std::vector<std::vector<double>> shares(e.features.size());
    for (const Tree& tree : forest) {
      const TreeVariance v = DecomposeVariance(tree, e.features);
      if (v.total <= 0.0) continue;
      for (size_t j = 0; j < e.features.size(); ++j) {
        shares[j].push_back(std::max(0.0, v.marginal[j]) / v.total);
      }
    }
    double sum = 0.0;
    for (size_t j = 0; j < e.features.size(); ++j) {
      if (shares[j].empty()) continue;  // every tree was constant
      double mean = 0.0, sq = 0.0;
      for (double s : shares[j]) mean += s;
      mean /= shares[j].size();
      for (double s : shares[j]) sq += (s - mean) * (s - mean);
      out[e.param[j]].importance = mean;
      out[e.param[j]].stddev = std::sqrt(sq / shares[j].size());
      sum += mean;
    }
    if (sum > 0.0) {
      for (ParamImportance& p : out) p.importance /= sum;
    }
  }
  std::sort(out.begin(), out.end(), [](const ParamImportance& a, const ParamImportance& b) {
    if (a.importance != b.importance) return a.importance > b.importance;
    return a.name < b.name;
  });
  return out;
}

}  // namespace convrnn::search
