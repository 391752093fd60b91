// A Gaussian process over a campaign's parameters, for the "gp" sampler
// (gp_sampler.h): a Matern-5/2 kernel with one length scale per parameter
// (ARD), its hyperparameters fitted by maximum a posteriori, exact inference
// by Cholesky. No LibTorch, no LAPACK: n is at most a few hundred points.
//
// Inputs are per-parameter features, the same length for every point:
//   numeric:     its position in [0, 1] (log scale for loguniform, grid
//                index for int);
//   categorical: its choice index;
//   either:      NaN where the parameter is inactive (another branch).
// Per parameter p the squared distance d_p(a, b) is (a - b)^2 for numeric
// features and [a != b] for categorical ones; 0 when both are inactive, 1
// when one is. Then r^2 = sum_p rho_p d_p and
//   k(a, b) = s2 * (1 + sqrt5 r + 5/3 r^2) exp(-sqrt5 r),
// with observation noise n2 on the diagonal. The prior mean is a constant
// m0, plus b for a low-fidelity point (a trial stopped early: its value is
// its last report, lower than its full run would give, by about the same
// amount everywhere), so stopped trials inform the model of the full runs
// without pulling it down. Targets are standardised inside (mean 0,
// standard deviation 1); Predict answers in the caller's units, for a full
// run.
//
// Fit maximises log p(y | theta) + log p(theta) over theta = (log rho_p,
// log s2, log n2, m0, b) with Adam from a fixed start (the prior's mode),
// so the same data give the same model bit for bit (the sampler's
// determinism). Priors: log rho_p ~ N(log(2 / P), 1.5^2) for P parameters
// (length scales that grow with the dimension, so that random points are
// neither all alike nor all unrelated; a small rho switches a parameter
// off), log s2 ~ N(0, 1), log n2 ~ N(log 0.05, 1.5^2) with n2 >= 1e-4 (a
// noisy trainer: a seed changes the accuracy), m0 ~ N(0, 1), b ~ N(0, 2^2).
// Cost: O(iterations * (n^3 + n^2 P)); Predict O(n P + n^2).
//
// Thread-safety: immutable after Fit except AddPoint; one thread at a time.
#ifndef CONVRNN_SEARCH_GAUSSIAN_PROCESS_H_
#define CONVRNN_SEARCH_GAUSSIAN_PROCESS_H_

#include <cstddef>
#include <utility>
#include <vector>

namespace convrnn::search {

class GaussianProcess {
 public:
  // `categorical[p]`: whether feature p is a choice index.
  explicit GaussianProcess(std::vector<bool> categorical) : categorical_(std::move(categorical)) {}

  // Fits hyperparameters and the posterior to points x (each
  // categorical.size() features) with targets y; low[i]: point i is low
  // fidelity. REQUIRES: x, y and low the same size >= 1, every y finite.
  void Fit(const std::vector<std::vector<double>>& x, const std::vector<double>& y,
           const std::vector<bool>& low, int iterations = 150);
  // Adds a point with the given target to the posterior, keeping the
  // hyperparameters (a pending trial at its predicted mean: the "kriging
  // believer", so the next proposal moves away from it).
  // It counts as a full run.
  void AddPoint(const std::vector<double>& x, double y);
  // Posterior mean and variance of the latent function at x (noise-free),
  // in the units of y.
  void Predict(const std::vector<double>& x, double* mean, double* variance) const;

  // Fitted hyperparameters (for tests and diagnostics).
  const std::vector<double>& inverse_squared_lengths() const { return rho_; }
  double signal_variance() const { return s2_; }
  double noise_variance() const { return n2_; }
  // b in the caller's units: how much lower a low-fidelity point's target is.
  double low_fidelity_offset() const { return b_ * y_scale_; }
  size_t size() const { return x_.size(); }

  // The per-parameter squared distances d_p(a, b).
  void Distances(const std::vector<double>& a, const std::vector<double>& b, double* d) const;

 private:
  // Log posterior of theta and its gradient, over the current x_ / z_.
  double LogPosterior(const std::vector<double>& theta, std::vector<double>* grad) const;
  double RhoPriorMean() const;
  // Rebuilds the Cholesky factor and alpha from x_, z_ and the hyperparameters.
  void Factor();

  std::vector<bool> categorical_;
  std::vector<std::vector<double>> x_;
  std::vector<double> z_;    // standardised targets
  std::vector<double> low_;  // 1 for a low-fidelity point, else 0
  std::vector<double> d_;    // n * n * P pairwise distances of x_ (Fit only)
  double y_mean_ = 0, y_scale_ = 1;
  std::vector<double> rho_;
  double s2_ = 1, n2_ = 0.05, m0_ = 0, b_ = 0;
  std::vector<double> chol_;   // lower triangle, n * n row-major
  std::vector<double> alpha_;  // K^-1 (z - m0 - b low)
};

}  // namespace convrnn::search

#endif  // CONVRNN_SEARCH_GAUSSIAN_PROCESS_H_
