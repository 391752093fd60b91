// "gp": Bayesian optimisation with a Gaussian process (search/gaussian_process.h)
// and expected improvement, for one objective.
//
// Where TPE learns a region from density ratios, which flatten as its own
// proposals fill it, a GP models the trend itself: in the campaign
// benchmark the accuracy rises with the learning rate up to its range's top,
// and a GP proposes the edge once the data say so (docs/performance.md).
//
// Model: every finished trial that is not failed, its loss as the target
// (values beyond the upper Tukey fence q75 + 1.5 IQR, diverged runs, are
// clipped to it; a NaN value counts as the fence). A trial stopped early is a
// low-fidelity point: the model learns one offset between stopped and full
// runs and predicts full runs. At most gp_max_points trials: the best half
// by loss and the newest rest. Trials still running are added at their
// predicted mean (the "kriging believer"), so parallel workers spread out.
//
// Proposal: the first n_startup_trials (shared with tpe) are random. Then
// the log expected improvement over the best predicted mean among the
// trials is maximised over gp_candidates random assignments plus the
// trials, then by best-improvement local search from the 8 best of them:
// every other choice of each active categorical parameter (a branch that
// appears gets its parameters drawn at random), each numeric one moved by
// +-0.05 and +-0.2 of its range and set to either end. A proposal that
// fails validation is replaced by the next best candidate not yet proposed.
//
// Cost per suggestion: the fit, O(150 (n^3 + n^2 P)) for n points and P
// parameters (about 0.1 s at n = 100, P = 20), plus O((gp_candidates +
// local steps) n^2). The coordinator serialises a campaign's calls; a trial
// trains for minutes.
//
// Thread-safety: as Sampler.
#ifndef CONVRNN_SEARCH_GP_SAMPLER_H_
#define CONVRNN_SEARCH_GP_SAMPLER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "search/gaussian_process.h"
#include "search/sampler_base.h"

namespace convrnn::search {

class GpSampler final : public SamplerBase {
 public:
  GpSampler(std::shared_ptr<const Space> space, const SamplerOptions& options);

 protected:
  void Observe(const FinishedTrial& trial) override;
  void Reset() override;
  Assignment Propose(const History& history, Rng& rng) override;

 private:
  struct Point {
    Assignment assignment;
    std::vector<double> features;
    double loss = 0;  // +inf for a NaN value
    bool pruned = false;
  };
  // The model's features of an assignment (gaussian_process.h).
  std::vector<double> Features(const Assignment& a) const;
  // The model over the finished trials and the pending ones; `chosen`: the
  // indices into points_ it was fitted to.
  GaussianProcess FitModel(const History& history, std::vector<size_t>* chosen) const;
  // Log expected improvement below `incumbent` at assignment a.
  double LogEi(const GaussianProcess& model, double incumbent, const Assignment& a) const;
  // The numeric value at position u in [0, 1] of parameter `id`'s range.
  double FromUnit(int id, double u) const;

  std::vector<Point> points_;
  // The last call's candidates, best first, and which were proposed: a
  // redraw (same history) takes the next one without refitting.
  uint64_t candidates_key_ = 0;
  std::vector<std::pair<double, Assignment>> candidates_;
  size_t next_candidate_ = 0;
};

}  // namespace convrnn::search

#endif  // CONVRNN_SEARCH_GP_SAMPLER_H_
