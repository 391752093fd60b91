#include "search/parzen.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace convrnn::search {
namespace {

constexpr double kSqrt2 = 1.4142135623730951;
constexpr double kSqrt2Pi = 2.5066282746310002;

double NormalCdf(double z) { return 0.5 * std::erfc(-z / kSqrt2); }

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
  const double min_sigma = range / std::min(100.0, 1.0 + static_cast<double>(m));
  for (size_t i = 0; i < m; ++i) {
    const double mu = points[i].value;
    mus_[i] = mu;
    double sigma;
    if (points[i].weight < 0) {
      sigma = range;
      weights_[i] = -points[i].weight;
    } else {
      weights_[i] = points[i].weight;
      const double left = i > 0 ? mu - points[i - 1].value : mu - lo;
      const double right = i + 1 < m ? points[i + 1].value - mu : hi - mu;
      if (m >= 2 && i == 0) {
        sigma = right;
      } else if (m >= 2 && i + 1 == m) {
        sigma = left;
      } else {
        sigma = std::max(left, right);
      }
      sigma = std::clamp(sigma, min_sigma, range);
    }
    sigmas_[i] = sigma;
  }
  total_weight_ = std::accumulate(weights_.begin(), weights_.end(), 0.0);
  for (size_t i = 0; i < m; ++i) {
    const double z =
        NormalCdf((hi - mus_[i]) / sigmas_[i]) - NormalCdf((lo - mus_[i]) / sigmas_[i]);
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
  for (int attempt = 0; attempt < 16; ++attempt) {
    const double draw = mus_[j] + sigmas_[j] * rng.Normal();
    if (draw >= lo_ && draw <= hi_) return draw;
  }
  return rng.Uniform(lo_, hi_);
}

}  // namespace convrnn::search
