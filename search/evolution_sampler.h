// "evolution": regularized (ageing) evolution, Real et al. 2019.
//
// The population is the population_size most recently finished trials
// (completed or pruned; failed ones never join): when a new trial finishes,
// the oldest member leaves, whatever its fitness. Until the population is
// full, suggestions are random draws. Then each suggestion samples
// tournament_size members uniformly without replacement, takes the best (with
// several goals: a random member of the tournament's Pareto front) and
// mutates exactly one active parameter: one cell knob, one cell type (the
// new type's knobs are drawn fresh, the old type's vanish), one feedback edge
// or one training hyperparameter (a real one half the time by a local
// Gaussian step of a tenth of its range, else redrawn). A child equal to a pending trial is
// mutated again, so parallel workers get different children.
//
// Cost per suggestion: O(tournament_size + params + pending), independent
// of the number of finished trials.
//
// Thread-safety: as Sampler.
#ifndef CONVRNN_SEARCH_EVOLUTION_SAMPLER_H_
#define CONVRNN_SEARCH_EVOLUTION_SAMPLER_H_

#include <deque>
#include <vector>

#include "search/sampler_base.h"

namespace convrnn::search {

class EvolutionSampler final : public SamplerBase {
 public:
  using SamplerBase::SamplerBase;

  // Changes exactly one mutable active parameter of `parent` (a parameter
  // with more than one possible value), then redraws the branches that change
  // makes active. Returns `parent` unchanged when nothing is mutable.
  static Assignment Mutate(const Space& space, const Assignment& parent, Rng& rng);

 protected:
  void Observe(const FinishedTrial& trial) override;
  void Reset() override { population_.clear(); }
  Assignment Propose(const History& history, Rng& rng) override;

 private:
  struct Member {
    std::vector<double> losses;
    Assignment assignment;
  };
  std::deque<Member> population_;  // oldest first
};

}  // namespace convrnn::search

#endif  // CONVRNN_SEARCH_EVOLUTION_SAMPLER_H_
