#include "search/parzen.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

namespace convrnn::search {
namespace {

using Kernels = ParzenEstimator::Kernels;

// Trapezoid integral of exp(LogPdf) over [lo, hi].
double Integral(const ParzenEstimator& p, double lo, double hi) {
  constexpr int kSteps = 20000;
  const double h = (hi - lo) / kSteps;
  double s = 0.5 * (std::exp(p.LogPdf(lo)) + std::exp(p.LogPdf(hi)));
  for (int i = 1; i < kSteps; ++i) s += std::exp(p.LogPdf(lo + i * h));
  return s * h;
}

TEST_CASE("Parzen estimator with equal-mass kernels is a density on its range", "[search]") {
  ParzenEstimator p;
  p.Fit(-2.0, 3.0, {{-1.9, 1.0}, {0.1, 2.0}, {0.15, 1.0}, {2.9, 0.5}}, 1.0, Kernels::kEqualMass);
  CHECK(p.size() == 5);  // four observations and the prior
  CHECK(Integral(p, -2.0, 3.0) == Approx(1.0).epsilon(1e-4));
}

TEST_CASE("Parzen bandwidths: neighbour gaps, inner gap at the ends, clipped", "[search]") {
  // On [0, 1] with observations 0.1 and 0.9 and the prior at 0.5: three
  // components, minimum sigma 1 / min(100, 1 + 3) = 0.25. The outermost
  // observations take their inner gap (0.4), not the distance to the range
  // end; the prior's sigma is the range. With a single observation at 0.1 the
  // prior (0.5) is its only neighbour.
  const double kPi = 3.141592653589793;
  auto peak = [&](double sigma, double mu) {  // truncated N(mu; mu, sigma) on [0, 1]
    const double mass = 0.5 * (std::erfc(-(1 - mu) / (sigma * std::sqrt(2.0))) -
                               std::erfc(mu / (sigma * std::sqrt(2.0))));
    return 1.0 / (sigma * std::sqrt(2 * kPi) * mass);
  };
  ParzenEstimator p;
  p.Fit(0.0, 1.0, {{0.1, 1.0}, {0.9, 1.0}}, 1.0, Kernels::kEqualMass);
  // At x = 0.1: all three components contribute; recompute by hand.
  auto normal = [&](double x, double mu, double sigma) {
    const double d = (x - mu) / sigma;
    return std::exp(-0.5 * d * d) * peak(sigma, mu);
  };
  const double expected =
      (normal(0.1, 0.1, 0.4) + normal(0.1, 0.9, 0.4) + normal(0.1, 0.5, 1.0)) / 3.0;
  CHECK(std::exp(p.LogPdf(0.1)) == Approx(expected).epsilon(1e-9));

  // Crowded observations: sigmas clip at range / min(100, 1 + 301) = 0.01,
  // except the last of the crowd, whose larger gap is to the prior at 0.5.
  std::vector<ParzenEstimator::Point> crowd;
  for (int i = 0; i < 300; ++i) crowd.push_back({0.3 + 1e-6 * i, 1.0});
  ParzenEstimator q;
  q.Fit(0.0, 1.0, crowd, 1.0, Kernels::kEqualMass);
  double by_hand = normal(0.3, 0.5, 1.0) + normal(0.3, 0.3 + 299e-6, 0.5 - (0.3 + 299e-6));
  for (int i = 0; i < 299; ++i) by_hand += normal(0.3, 0.3 + 1e-6 * i, 0.01);
  CHECK(std::exp(q.LogPdf(0.3)) == Approx(by_hand / 301.0).epsilon(1e-9));
  CHECK(q.LogPdf(0.5) < q.LogPdf(0.3) - 5.0);

  // Bandwidths gives the same sigmas, in the order the values came.
  CHECK(ParzenEstimator::Bandwidths(0.0, 1.0, {0.9, 0.1}) == std::vector<double>{0.4, 0.4});
  CHECK(ParzenEstimator::Bandwidths(0.0, 1.0, {0.1}) == std::vector<double>{0.4});
  std::vector<double> crowd_values;
  for (const auto& c : crowd) crowd_values.push_back(c.value);
  std::reverse(crowd_values.begin(), crowd_values.end());
  const std::vector<double> sigmas = ParzenEstimator::Bandwidths(0.0, 1.0, crowd_values);
  CHECK(sigmas.front() == Approx(0.5 - (0.3 + 299e-6)));  // the last of the crowd
  for (size_t i = 1; i < sigmas.size(); ++i) CHECK(sigmas[i] == Approx(0.01));
}

TEST_CASE("equal-height kernels give an isolated observation the peak of a crowded one",
          "[search]") {
  // A crowd of 10 points near 0.2 (narrow kernels) and one point at 0.9 (wide
  // kernel). With equal mass the crowd's points are far taller than the
  // lone point; with equal height each observation peaks at its weight.
  std::vector<ParzenEstimator::Point> pts;
  for (int i = 0; i < 10; ++i) pts.push_back({0.2 + 0.002 * i, 1.0});
  pts.push_back({0.9, 1.0});
  ParzenEstimator mass, height;
  mass.Fit(0.0, 1.0, pts, 1.0, Kernels::kEqualMass);
  height.Fit(0.0, 1.0, pts, 1.0, Kernels::kEqualHeight);
  // Density ratio lone / crowd-centre, per unit of observations there.
  const double mass_ratio = std::exp(mass.LogPdf(0.9) - mass.LogPdf(0.209));
  const double height_ratio = std::exp(height.LogPdf(0.9) - height.LogPdf(0.209));
  CHECK(height_ratio > 4.0 * mass_ratio);
}

TEST_CASE("Parzen draws stay in range and follow the weights", "[search]") {
  ParzenEstimator p;
  p.Fit(0.0, 10.0, {{1.0, 100.0}, {9.0, 1.0}}, 0.01, Kernels::kEqualMass);
  Rng rng(7);
  int near_one = 0;
  for (int i = 0; i < 2000; ++i) {
    const double x = p.Sample(rng);
    REQUIRE(x >= 0.0);
    REQUIRE(x <= 10.0);
    if (x < 5.0) ++near_one;
  }
  // The component at 1 holds ~99% of the weight; its sigma (8) is wide, so
  // the part of it above 5 is what keeps the share below 1.
  CHECK(near_one > 1400);
}

}  // namespace
}  // namespace convrnn::search
