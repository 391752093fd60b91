// The adaptive Parzen estimator of TPE (Bergstra et al. 2011) for one numeric
// parameter: a mixture of Gaussians truncated to [lo, hi], one per
// observation plus a broad prior component centred on the range.
//
// Bandwidths follow HyperOpt/Optuna: with the components sorted, each sigma
// is the larger gap to its neighbours (the outermost ones use their inner gap
// only, the range ends are not neighbours), clipped to
// [range / min(100, 1 + components), range]; the prior's sigma is the range.
//
// Thread-safety: immutable after Fit; const methods may be called concurrently.
#ifndef CONVRNN_SEARCH_PARZEN_H_
#define CONVRNN_SEARCH_PARZEN_H_

#include <vector>

#include "search/rng.h"

namespace convrnn::search {

// log of the normaliser of N(mu, sigma) truncated to [lo, hi]: its density
// at x is exp(-((x - mu) / sigma)^2 / 2 - LogTruncatedNormalNorm(...)).
double LogTruncatedNormalNorm(double mu, double sigma, double lo, double hi);
// A draw of N(mu, sigma) truncated to [lo, hi] (16 tries, then uniform).
double SampleTruncatedNormal(double mu, double sigma, double lo, double hi, Rng& rng);

class ParzenEstimator {
 public:
  struct Point {
    double value = 0;
    double weight = 1;
  };

  // How a component's weight enters the density.
  enum class Kernels {
    // weight * truncated N(x; mu, sigma): a proper density, each component
    // holding mass proportional to its weight.
    kEqualMass,
    // weight * sigma * truncated N(x; mu, sigma): each component's peak is
    // proportional to its weight whatever its bandwidth, so an isolated
    // observation (wide kernel) counts as much at its location as one in a
    // crowd. Not normalised (a constant factor cancels in TPE's l/g, a
    // varying one is the point). This is what Optuna's TPE computed up to
    // 3.4 (optuna issue 5109, "missing log(scale)"), and it searches better
    // on every benchmark of docs/performance.md "Search".
    kEqualHeight,
  };

  // REQUIRES: lo < hi, weights >= 0, prior_weight > 0. Points are copied and
  // sorted; their order does not matter.
  void Fit(double lo, double hi, std::vector<Point> points, double prior_weight,
           Kernels kernels = Kernels::kEqualMass);

  // log of the density at x in [lo, hi] (normalised for kEqualMass). Components farther than
  // 8 sigma from x are skipped (their share is below 1e-14 of their peak);
  // the prior component is never farther than 1 sigma, so this is finite.
  double LogPdf(double x) const;

  // A draw: a component by weight, then its truncated Gaussian.
  double Sample(Rng& rng) const;

  size_t size() const { return mus_.size(); }

  // The bandwidth Fit gives each of `values` (any order; returned in that
  // order) in an estimator over [lo, hi] with its prior component.
  static std::vector<double> Bandwidths(double lo, double hi, const std::vector<double>& values);

 private:
  double lo_ = 0, hi_ = 1;
  std::vector<double> mus_, sigmas_, weights_;
  std::vector<double> coef_;  // weight / (sigma sqrt(2 pi) truncation mass)
  double total_weight_ = 0;
};

}  // namespace convrnn::search

#endif  // CONVRNN_SEARCH_PARZEN_H_
