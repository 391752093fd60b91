#include "search/evolution_sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace convrnn::search {

void EvolutionSampler::Observe(const FinishedTrial& trial) {
  if (trial.state == TrialState::kFailed) return;
  population_.push_back({Losses(trial.values), trial.assignment});
  while (population_.size() > static_cast<size_t>(options_.population_size)) {
    population_.pop_front();  // ageing: the oldest dies, not the worst
  }
}

Assignment EvolutionSampler::Mutate(const Space& space, const Assignment& parent, Rng& rng) {
  const auto& params = space.params();
  std::vector<int> mutable_ids;
  for (size_t i = 0; i < params.size(); ++i) {
    if (IsAbsent(parent[i])) continue;
    const Param& p = params[i];
    const bool can_change =
        (p.categorical() || p.kind == Param::Kind::kInt) ? p.Cardinality() > 1 : p.hi > p.lo;
    if (can_change) mutable_ids.push_back(static_cast<int>(i));
  }
  Assignment child = parent;
  if (mutable_ids.empty()) return child;
  const int id = mutable_ids[rng.Below(mutable_ids.size())];
  const Param& p = params[id];
  if (p.categorical() || p.kind == Param::Kind::kInt) {
    // A different choice / grid point, uniformly among the others (an int
    // knob here is a kernel size or a width: a few values, no locality worth
    // keeping).
    const int n = p.Cardinality();
    const int current = p.categorical()
                            ? static_cast<int>(parent[id])
                            : static_cast<int>(std::llround((parent[id] - p.lo) / p.step));
    int k = static_cast<int>(rng.Below(n - 1));
    if (k >= current) ++k;
    child[id] = p.categorical() ? k : p.lo + k * p.step;
  } else if (rng.Uniform() < 0.5) {
    double v = parent[id];
    for (int attempt = 0; attempt < 8 && v == parent[id]; ++attempt) v = space.SampleParam(id, rng);
    child[id] = v;
  } else {
    // A local step: Gaussian with a tenth of the range (in log space for
    // loguniform), reflected into the range.
    const bool log = p.kind == Param::Kind::kLogUniform;
    const double lo = log ? std::log(p.lo) : p.lo, hi = log ? std::log(p.hi) : p.hi;
    double u = (log ? std::log(parent[id]) : parent[id]) + 0.1 * (hi - lo) * rng.Normal();
    if (u < lo) u = std::min(hi, 2 * lo - u);
    if (u > hi) u = std::max(lo, 2 * hi - u);
    child[id] = log ? std::clamp(std::exp(u), p.lo, p.hi) : u;
  }
  space.Repair(&child, rng);
  return child;
}

Assignment EvolutionSampler::Propose(const History& history, Rng& rng) {
  if (population_.size() < static_cast<size_t>(options_.population_size)) {
    return space_->Sample(rng);
  }
  // Tournament: sample without replacement (partial Fisher-Yates).
  std::vector<size_t> idx(population_.size());
  std::iota(idx.begin(), idx.end(), 0);
  const size_t s = static_cast<size_t>(options_.tournament_size);
  for (size_t i = 0; i < s; ++i) std::swap(idx[i], idx[i + rng.Below(idx.size() - i)]);
  idx.resize(s);
  size_t winner = idx[0];
  if (options_.goals.size() == 1) {
    for (size_t i : idx) {
      if (population_[i].losses[0] < population_[winner].losses[0]) winner = i;
    }
  } else {
    std::vector<std::vector<double>> points;
    for (size_t i : idx) points.push_back(population_[i].losses);
    const std::vector<Goal> goals(options_.goals.size(), Goal::kMinimize);
    const std::vector<size_t> front = ParetoFront(points, goals);
    winner = idx[front[rng.Below(front.size())]];
  }
  const Assignment& parent = population_[winner].assignment;
  Assignment child = Mutate(*space_, parent, rng);
  for (int attempt = 0; attempt < 8; ++attempt) {
    bool duplicate = false;
    for (const auto& [id, pending] : history.pending()) {
      if (pending.size() != child.size()) continue;
      bool same = true;
      for (size_t i = 0; i < child.size() && same; ++i) {
        same = (IsAbsent(child[i]) && IsAbsent(pending[i])) || child[i] == pending[i];
      }
      duplicate = duplicate || same;
    }
    if (!duplicate) break;
    child = Mutate(*space_, parent, rng);
  }
  return child;
}

}  // namespace convrnn::search
