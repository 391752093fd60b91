// "tpe": the Tree-structured Parzen Estimator (Bergstra et al. 2011), the
// algorithm Nayebi et al. searched ConvRNNs with (through HyperOpt).
//
// Finished trials are split by loss into a good set (the best
// ceil(gamma * n), at most max_good; completed trials rank before pruned
// ones) and a bad set (the rest, plus every pending trial as a "constant
// liar" so parallel workers are steered apart). Parameters are drawn in tree
// order, so a conditional parameter is only drawn when its branch was chosen.
// Two models of l(x) (good density) and g(x) (bad density):
// multivariate, the default (below), or independent
// (SamplerOptions::multivariate false; Optuna's and HyperOpt's default):
// each parameter is modelled only on the trials where it was active, and per
// parameter n_ei_candidates draws from l(x) are scored by l(x) / g(x) and
// the best is kept.
//   categorical: Optuna's kernel (each observation smoothed over all choices
//                by prior_weight / (N + 1)) plus a uniform prior component;
//   numeric:     adaptive Parzen estimators (search/parzen.h: Optuna/HyperOpt's
//                bandwidth rule, a broad prior centred on the range), in log
//                space for loguniform and in grid-index space for int; with
//                equal_kernel_heights each kernel enters at its peak height,
//                as Optuna 3.1 computes it.
// Bad observations weigh by Optuna's ramp (older ones less; see RampWeight).
// While a parameter has at most exact_bad_limit bad observations, g(x) is
// exact over them: O(n_ei * exact_bad_limit) per numeric parameter. Beyond,
// g(x) comes from per-slot (choice or bin) counts and sums of positions in
// trial order, kept incrementally, with the good set (at most max_good
// trials) and the newest 25 corrected per call; a numeric histogram of
// bad_bins bins is smoothed by a Gaussian of Optuna's minimum bandwidth
// range / min(100, 1 + n_bad) (at least one bin). Either way a suggestion
// costs at most O(params * (n_ei * exact_bad_limit + bad_bins * kernel
// width) + pending), independent of the number of finished trials. With
// several goals the good set is the best max_good trials by non-dominated
// rank, re-ranked when new results arrive (O(n * front size)).
//
// Multivariate (SamplerOptions::multivariate, the default; Optuna's
// multivariate=True, Falkner et al. 2018): a good trial's combination of
// values is kept together, which the independent model cannot do (in the
// ConvRNN benchmark the best region is a recurrent top cell *with* a high
// learning rate; docs/performance.md). l and g are each a mixture of one product kernel
// per trial (weights as above: 1 for good trials, the ramp for bad ones and
// liars) plus a prior component of weight prior_weight. Per parameter a
// trial's kernel is Optuna's categorical row or a truncated Gaussian (in the
// internal coordinates, with the univariate bandwidth rule over the
// estimator's trials, ParzenEstimator::Bandwidths); a parameter the trial
// did not have (another branch) and the prior component use the prior (a
// uniform choice, a Gaussian of the range's width at its centre). A
// candidate picks one component of l and draws every active parameter from
// it in tree order; the best of n_ei_candidates by l(x) / g(x) is proposed.
// Exact, with g over the newest exact_bad_limit bad trials: O(n_ei *
// (max_good + exact_bad_limit + pending) * params) per suggestion.
//
// Thread-safety: as Sampler.
#ifndef CONVRNN_SEARCH_TPE_SAMPLER_H_
#define CONVRNN_SEARCH_TPE_SAMPLER_H_

#include <utility>
#include <vector>

#include "search/sampler_base.h"

namespace convrnn::search {

class TpeSampler final : public SamplerBase {
 public:
  TpeSampler(std::shared_ptr<const Space> space, const SamplerOptions& options);

 protected:
  void Observe(const FinishedTrial& trial) override;
  void Reset() override;
  Assignment Propose(const History& history, Rng& rng) override;

 private:
  struct Observation {
    std::vector<double> losses;
    bool pruned = false;
    Assignment assignment;
  };
  // Sufficient statistics of one parameter over all observations.
  struct ParamStats {
    std::vector<double> counts;  // per choice (categorical) or per bin (numeric)
    // Per choice or bin, the sum of the observations' positions in active_
    // (so a weight linear in the position sums up per slot in O(1)).
    std::vector<double> position_sums;
  };
  // Internal (model) coordinates of a numeric parameter.
  struct Range {
    double lo = 0, hi = 0;
  };

  void AddToStats(const Assignment& a, double weight, std::vector<ParamStats>* stats) const;
  int Bin(int id, double u) const;
  // The histogram slot of internal value u: its choice, or its bin.
  int Slot(int id, double u) const;
  double ToInternal(int id, double v) const;
  double FromInternal(int id, double u) const;
  std::vector<size_t> GoodSet();
  double SampleNumeric(int id, const std::vector<double>& good, const std::vector<size_t>& good_obs,
                       const std::vector<char>& is_good, const std::vector<double>& liars,
                       Rng& rng);
  // The choice of categorical parameter `id` with the best l/g among
  // n_ei_candidates draws from l, Optuna's categorical kernel.
  int SampleCategorical(int id, const ParamStats& good_stats, const std::vector<size_t>& good_obs,
                        const std::vector<char>& is_good, const std::vector<double>& liars,
                        Rng& rng);
  // The bad observations of parameter `id` per slot (Slot), each with
  // its ramp weight (see RampWeight); O(bins + max_good + 25 + liars).
  std::vector<double> WeightedBadHistogram(int id, const std::vector<size_t>& good_obs,
                                           const std::vector<double>& liars) const;
  // The multivariate proposal: n_ei_candidates joint draws from l, the
  // best l(x) / g(x) kept.
  Assignment ProposeJoint(const History& history, const std::vector<size_t>& good,
                          const std::vector<char>& is_good, Rng& rng) const;

  std::vector<Range> ranges_;  // per parameter (numeric)
  std::vector<Observation> observations_;
  std::vector<ParamStats> stats_;
  // Per parameter: (observation index, internal value) of every
  // observation where it was active, in trial order (the exact g(x)).
  std::vector<std::vector<std::pair<size_t, double>>> active_;
  // Single goal: indices into observations_ sorted by (loss, index).
  std::vector<std::pair<double, size_t>> completed_by_loss_;
  std::vector<std::pair<double, size_t>> pruned_by_loss_;
  // Several goals: the good set, recomputed when observations change.
  std::vector<size_t> multi_good_;
  size_t multi_good_for_ = static_cast<size_t>(-1);
  size_t n_valid_ = 0;  // observations that are not failed
};

}  // namespace convrnn::search

#endif  // CONVRNN_SEARCH_TPE_SAMPLER_H_
