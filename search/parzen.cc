#include "search/parzen.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace convrnn::search {
namespace {

constexpr double kSqrt2 = 1.4142135623730951;
constexpr double kSqrt2Pi = 2.5066282746310002;

double NormalCdf(double z) { return 0.5 * std::erfc(-z / kSqrt2); }

// The mass of N(mu, sigma) on [lo, hi].
double TruncatedNormalMass(double mu, double sigma, double lo, double hi) {
  return NormalCdf((hi - mu) / sigma) - NormalCdf((lo - mu) / sigma);
}

// The bandwidth of the observation at position i of `sorted` (ascending,
// the prior's centre among them): the larger gap to its neighbours (the
// outermost ones use their inner gap only, the range ends are not
// neighbours), clipped to [range / min(100, 1 + m), range].
double GapSigma(const std::vector<double>& sorted, size_t i, double lo, double hi) {
  const size_t m = sorted.size();
  const double range = hi - lo;
  const double min_sigma = range / std::min(100.0, 1.0 + static_cast<double>(m));
  const double mu = sorted[i];
  const double left = i > 0 ? mu - sorted[i - 1] : mu - lo;
  const double right = i + 1 < m ? sorted[i + 1] - mu : hi - mu;
  double sigma;
  if (m >= 2 && i == 0) {
    sigma = right;
  } else if (m >= 2 && i + 1 == m) {
    sigma = left;
  } else {
    sigma = std::max(left, right);
  }
  return std::clamp(sigma, min_sigma, range);
}

}  // namespace

void ParzenEstimator::Fit(double lo, double hi, std::vector<Point> points, double prior_weight,
                          Kernels kernels) {
  lo_ = lo;
  hi_ = hi;
  const double range = hi - lo;
  const double prior_mu = 0.5 * (lo + hi);
  // The prior takes part in the neighbour gaps like any observation; it is
  // marked by a negative weight until the sigmas are set.
  points.push_back({prior_mu, -prior_weight});
  std::stable_sort(points.begin(), points.end(),
                   [](const Point& a, const Point& b) { return a.value < b.value; });
  const size_t m = points.size();
  mus_.resize(m);
  sigmas_.resize(m);
  weights_.resize(m);
  coef_.resize(m);
  for (size_t i = 0; i < m; ++i) mus_[i] = points[i].value;
  for (size_t i = 0; i < m; ++i) {
    const bool prior = points[i].weight < 0;
    weights_[i] = prior ? -points[i].weight : points[i].weight;
    sigmas_[i] = prior ? range : GapSigma(mus_, i, lo, hi);
  }
  total_weight_ = std::accumulate(weights_.begin(), weights_.end(), 0.0);
  for (size_t i = 0; i < m; ++i) {
    const double z = TruncatedNormalMass(mus_[i], sigmas_[i], lo, hi);
    const double scale = kernels == Kernels::kEqualHeight ? 1.0 : sigmas_[i];
    coef_[i] = weights_[i] / (total_weight_ * scale * kSqrt2Pi * std::max(z, 1e-300));
  }
}

double ParzenEstimator::LogPdf(double x) const {
  double s = 0.0;
  for (size_t i = 0; i < mus_.size(); ++i) {
    const double d = (x - mus_[i]) / sigmas_[i];
    if (d > 8.0 || d < -8.0) continue;
    s += coef_[i] * std::exp(-0.5 * d * d);
  }
  return std::log(std::max(s, 1e-300));
}

double ParzenEstimator::Sample(Rng& rng) const {
  double pick = rng.Uniform() * total_weight_;
  size_t j = 0;
  while (j + 1 < mus_.size() && pick >= weights_[j]) pick -= weights_[j++];
  return SampleTruncatedNormal(mus_[j], sigmas_[j], lo_, hi_, rng);
}

std::vector<double> ParzenEstimator::Bandwidths(double lo, double hi,
                                                const std::vector<double>& values) {
  // Positions into `values` in Fit's order, the prior's centre (last) among them.
  std::vector<double> all = values;
  all.push_back(0.5 * (lo + hi));
  std::vector<size_t> order(all.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return all[a] < all[b]; });
  std::vector<double> sorted(all.size());
  for (size_t i = 0; i < order.size(); ++i) sorted[i] = all[order[i]];
  std::vector<double> sigmas(values.size());
  for (size_t i = 0; i < order.size(); ++i) {
    if (order[i] < values.size()) sigmas[order[i]] = GapSigma(sorted, i, lo, hi);
  }
  return sigmas;
}

double LogTruncatedNormalNorm(double mu, double sigma, double lo, double hi) {
  return std::log(sigma * kSqrt2Pi * std::max(TruncatedNormalMass(mu, sigma, lo, hi), 1e-300));
}

double SampleTruncatedNormal(double mu, double sigma, double lo, double hi, Rng& rng) {
  for (int attempt = 0; attempt < 16; ++attempt) {
    const double draw = mu + sigma * rng.Normal();
    if (draw >= lo && draw <= hi) return draw;
  }
  return rng.Uniform(lo, hi);
}

}  // namespace convrnn::search
