#include "search/parzen.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <numeric>
#include <utility>

namespace convrnn::search {
namespace {

constexpr double kSqrt2 = 1.4142135623730951;
constexpr double kSqrt2Pi = 2.5066282746310002;

double NormalCdf(double z) { return 0.5 * std::erfc(-z / kSqrt2); }

// The bandwidth of the observation at position i of `sorted` (m values,
// ascending, the prior's centre among them): the larger gap to its
// neighbours (the outermost ones use their inner gap only, the range ends
// are not neighbours), clipped to [range / min(100, 1 + m), range].
template <typename Value>
double GapSigma(const std::vector<Value>& sorted, size_t i, double lo, double hi,
                double (*value)(const Value&)) {
  const size_t m = sorted.size();
  const double range = hi - lo;
  const double min_sigma = range / std::min(100.0, 1.0 + static_cast<double>(m));
  const double mu = value(sorted[i]);
  const double left = i > 0 ? mu - value(sorted[i - 1]) : mu - lo;
  const double right = i + 1 < m ? value(sorted[i + 1]) - mu : hi - mu;
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
  for (size_t i = 0; i < m; ++i) {
    mus_[i] = points[i].value;
    if (points[i].weight < 0) {
      sigmas_[i] = range;
      weights_[i] = -points[i].weight;
    } else {
      weights_[i] = points[i].weight;
      sigmas_[i] = GapSigma<Point>(points, i, lo, hi, [](const Point& p) { return p.value; });
    }
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

std::vector<double> ParzenEstimator::Bandwidths(double lo, double hi,
                                                const std::vector<double>& values) {
  // (value, index in `values`), the prior's centre marked by index -1, in
  // Fit's order.
  std::vector<std::pair<double, std::ptrdiff_t>> sorted;
  sorted.reserve(values.size() + 1);
  for (size_t i = 0; i < values.size(); ++i)
    sorted.push_back({values[i], static_cast<std::ptrdiff_t>(i)});
  sorted.push_back({0.5 * (lo + hi), -1});
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<double> sigmas(values.size());
  using Entry = std::pair<double, std::ptrdiff_t>;
  for (size_t i = 0; i < sorted.size(); ++i) {
    if (sorted[i].second < 0) continue;
    sigmas[static_cast<size_t>(sorted[i].second)] =
        GapSigma<Entry>(sorted, i, lo, hi, [](const Entry& e) { return e.first; });
  }
  return sigmas;
}

}  // namespace convrnn::search
