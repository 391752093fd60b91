#include "search/tpe_sampler.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>

#include "search/parzen.h"

namespace convrnn::search {
namespace {

// Optuna's default_weights: with n bad observations in trial order, the newest
// kFlat weigh 1 and the older ones ramp linearly from 1/n up to 1, so old
// regions of a long search stop dominating g(x).
constexpr size_t kFlat = 25;
double RampWeight(size_t i, size_t n) {
  if (n <= kFlat || i + kFlat >= n) return 1.0;
  const size_t ramp = n - kFlat;
  if (ramp == 1) return 1.0 / static_cast<double>(n);
  const double lo = 1.0 / static_cast<double>(n);
  return lo + (1.0 - lo) * static_cast<double>(i) / static_cast<double>(ramp - 1);
}

}  // namespace

TpeSampler::TpeSampler(std::shared_ptr<const Space> space, const SamplerOptions& options)
    : SamplerBase(std::move(space), options) {
  const auto& params = space_->params();
  ranges_.resize(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    const Param& p = params[i];
    switch (p.kind) {
      case Param::Kind::kCategorical:
        break;
      case Param::Kind::kInt:
        ranges_[i] = {-0.5, p.Cardinality() - 0.5};
        break;
      case Param::Kind::kUniform:
        ranges_[i] = {p.lo, p.hi};
        break;
      case Param::Kind::kLogUniform:
        ranges_[i] = {std::log(p.lo), std::log(p.hi)};
        break;
    }
  }
  Reset();
}

void TpeSampler::Reset() {
  observations_.clear();
  completed_by_loss_.clear();
  pruned_by_loss_.clear();
  multi_good_.clear();
  multi_good_for_ = static_cast<size_t>(-1);
  n_valid_ = 0;
  const auto& params = space_->params();
  stats_.assign(params.size(), ParamStats{});
  active_.assign(params.size(), {});
  for (size_t i = 0; i < params.size(); ++i) {
    stats_[i].counts.assign(params[i].categorical() ? params[i].Cardinality() : options_.bad_bins,
                            0.0);
    stats_[i].position_sums.assign(stats_[i].counts.size(), 0.0);
  }
}

double TpeSampler::ToInternal(int id, double v) const {
  const Param& p = space_->params()[id];
  if (p.kind == Param::Kind::kInt) return (v - p.lo) / p.step;
  if (p.kind == Param::Kind::kLogUniform) return std::log(v);
  return v;
}

double TpeSampler::FromInternal(int id, double u) const {
  const Param& p = space_->params()[id];
  if (p.kind == Param::Kind::kInt) {
    const double k = std::clamp(std::round(u), 0.0, static_cast<double>(p.Cardinality() - 1));
    return p.lo + k * p.step;
  }
  const double v = p.kind == Param::Kind::kLogUniform ? std::exp(u) : u;
  return std::clamp(v, p.lo, p.hi);
}

int TpeSampler::Slot(int id, double u) const {
  if (space_->params()[id].categorical()) return static_cast<int>(u);
  return Bin(id, u);
}

int TpeSampler::Bin(int id, double u) const {
  const Range& r = ranges_[id];
  if (r.hi <= r.lo) return 0;
  const int b = static_cast<int>((u - r.lo) / (r.hi - r.lo) * options_.bad_bins);
  return std::clamp(b, 0, options_.bad_bins - 1);
}

void TpeSampler::AddToStats(const Assignment& a, double weight,
                            std::vector<ParamStats>* stats) const {
  const auto& params = space_->params();
  for (size_t i = 0; i < params.size(); ++i) {
    if (IsAbsent(a[i])) continue;
    ParamStats& s = (*stats)[i];
    if (params[i].categorical()) {
      s.counts[static_cast<int>(a[i])] += weight;
      continue;
    }
    const double u = ToInternal(static_cast<int>(i), a[i]);
    s.counts[Bin(static_cast<int>(i), u)] += weight;
  }
}

void TpeSampler::Observe(const FinishedTrial& trial) {
  if (trial.state == TrialState::kFailed) return;
  const size_t index = observations_.size();
  observations_.push_back(
      {Losses(trial.values), trial.state == TrialState::kPruned, trial.assignment});
  ++n_valid_;
  AddToStats(trial.assignment, 1.0, &stats_);
  const auto& params = space_->params();
  for (size_t i = 0; i < params.size(); ++i) {
    if (IsAbsent(trial.assignment[i])) continue;
    const double u = ToInternal(static_cast<int>(i), trial.assignment[i]);
    stats_[i].position_sums[Slot(static_cast<int>(i), u)] += static_cast<double>(active_[i].size());
    active_[i].push_back({index, u});
  }
  auto& ranked = trial.state == TrialState::kPruned ? pruned_by_loss_ : completed_by_loss_;
  const std::pair<double, size_t> key{observations_.back().losses[0], index};
  ranked.insert(std::upper_bound(ranked.begin(), ranked.end(), key), key);
}

std::vector<size_t> TpeSampler::GoodSet() {
  const size_t n_good = std::min<size_t>(
      static_cast<size_t>(std::ceil(options_.gamma * static_cast<double>(n_valid_))),
      static_cast<size_t>(options_.max_good));
  if (options_.goals.size() == 1) {
    std::vector<size_t> good;
    for (const auto* ranked : {&completed_by_loss_, &pruned_by_loss_}) {
      for (size_t i = 0; i < ranked->size() && good.size() < n_good; ++i) {
        good.push_back((*ranked)[i].second);
      }
    }
    return good;
  }
  if (multi_good_for_ != observations_.size()) {
    // Completed trials by Pareto rank, pruned ones after them.
    multi_good_.clear();
    for (bool pruned : {false, true}) {
      std::vector<size_t> ids;
      std::vector<std::vector<double>> points;
      for (size_t i = 0; i < observations_.size(); ++i) {
        if (observations_[i].pruned != pruned) continue;
        ids.push_back(i);
        points.push_back(observations_[i].losses);
      }
      const std::vector<Goal> goals(options_.goals.size(), Goal::kMinimize);
      const std::vector<int> rank = NonDominatedSort(points, goals, n_good);
      std::vector<size_t> order;
      for (size_t k = 0; k < ids.size(); ++k) {
        if (rank[k] >= 0) order.push_back(k);
      }
      std::stable_sort(order.begin(), order.end(),
                       [&](size_t a, size_t b) { return rank[a] < rank[b]; });
      for (size_t k : order) {
        if (multi_good_.size() < n_good) multi_good_.push_back(ids[k]);
      }
    }
    multi_good_for_ = observations_.size();
  }
  return multi_good_;
}

std::vector<double> TpeSampler::WeightedBadHistogram(int id, const std::vector<size_t>& good_obs,
                                                     const std::vector<double>& liars) const {
  // RampWeight(k, n) over all n active observations is lo + c * k below the
  // newest kFlat and 1 for them: summed per slot from the counts and
  // position sums, then the newest kFlat corrected to 1 and the good set
  // taken out.
  // (Positions count the good trials too, which Optuna's do not: at most
  // max_good places of a ramp over more than exact_bad_limit.)
  const ParamStats& s = stats_[id];
  const auto& active = active_[id];
  const size_t n = active.size();
  std::vector<double> mass(s.counts.size());
  const size_t ramp = n > kFlat ? n - kFlat : 0;
  const double lo = n > 0 ? 1.0 / static_cast<double>(n) : 1.0;
  const double c = ramp > 1 ? (1.0 - lo) / static_cast<double>(ramp - 1) : 0.0;
  if (ramp == 0) {
    mass = s.counts;
  } else {
    for (size_t b = 0; b < mass.size(); ++b) mass[b] = lo * s.counts[b] + c * s.position_sums[b];
    for (size_t k = ramp; k < n; ++k) mass[Slot(id, active[k].second)] += 1.0 - (lo + c * k);
  }
  for (size_t g : good_obs) {
    const auto it = std::lower_bound(active.begin(), active.end(), std::make_pair(g, -HUGE_VAL));
    if (it == active.end() || it->first != g) continue;  // inactive in that trial
    mass[Slot(id, it->second)] -= RampWeight(static_cast<size_t>(it - active.begin()), n);
  }
  for (double u : liars) mass[Slot(id, u)] += 1.0;
  for (double& m : mass) m = std::max(m, 0.0);
  return mass;
}

namespace {

// `counts` convolved with a Gaussian of `sigma_bins` bins (cut at 3 sigma),
// each bin's mass kept (the kernel renormalised at the edges).
std::vector<double> SmoothHistogram(const std::vector<double>& counts, double sigma_bins) {
  const int bins = static_cast<int>(counts.size());
  const int width = std::min(bins - 1, static_cast<int>(std::ceil(3.0 * sigma_bins)));
  std::vector<double> kernel(width + 1);
  for (int d = 0; d <= width; ++d) {
    kernel[d] = std::exp(-0.5 * (d / sigma_bins) * (d / sigma_bins));
  }
  std::vector<double> smooth(bins, 0.0);
  for (int k = 0; k < bins; ++k) {
    if (counts[k] <= 0) continue;
    const int lo = std::max(0, k - width), hi = std::min(bins - 1, k + width);
    double norm = 0.0;
    for (int b = lo; b <= hi; ++b) norm += kernel[std::abs(b - k)];
    const double scale = counts[k] / norm;
    for (int b = lo; b <= hi; ++b) smooth[b] += scale * kernel[std::abs(b - k)];
  }
  return smooth;
}

}  // namespace

double TpeSampler::SampleNumeric(int id, const std::vector<double>& good,
                                 const std::vector<size_t>& good_obs,
                                 const std::vector<char>& is_good, const std::vector<double>& liars,
                                 Rng& rng) {
  const Range r = ranges_[id];
  const double range = r.hi - r.lo;
  if (range <= 0) return FromInternal(id, r.lo);

  // l(x): the adaptive Parzen estimator of the good values.
  std::vector<ParzenEstimator::Point> points;
  points.reserve(good.size());
  for (double v : good) points.push_back({v, 1.0});
  ParzenEstimator l;
  const auto kernels = options_.equal_kernel_heights ? ParzenEstimator::Kernels::kEqualHeight
                                                     : ParzenEstimator::Kernels::kEqualMass;
  l.Fit(r.lo, r.hi, std::move(points), options_.prior_weight, kernels);

  // g(x): exact while the bad set is small, the histogram beyond.
  std::function<double(double)> log_g;
  ParzenEstimator g_exact;
  std::vector<double> smooth;
  const size_t n_bad_exact = active_[id].size() - good.size() + liars.size();
  if (n_bad_exact <= static_cast<size_t>(std::max(0, options_.exact_bad_limit))) {
    // Bad observations in trial order (pending liars are the newest), with
    // Optuna's ramp weights.
    points.clear();
    points.reserve(n_bad_exact);
    size_t k = 0;
    for (const auto& [obs, u] : active_[id]) {
      if (is_good[obs]) continue;
      points.push_back({u, RampWeight(k++, n_bad_exact)});
    }
    for (double u : liars) points.push_back({u, RampWeight(k++, n_bad_exact)});
    g_exact.Fit(r.lo, r.hi, std::move(points), options_.prior_weight, kernels);
    log_g = [&](double x) { return g_exact.LogPdf(x); };
  } else {
    // The bad histogram (ramp-weighted) smoothed with a Gaussian kernel, plus
    // a flat prior.
    const std::vector<double> counts = WeightedBadHistogram(id, good_obs, liars);
    const int bins = options_.bad_bins;
    const double bin_width = range / bins;
    double n_bad = 0.0;
    for (double c : counts) n_bad += c;
    // Optuna's minimum bandwidth ("magic clip"): about the spacing of the bad
    // points, so g keeps the detail that makes l/g informative.
    const double bad_sigma = std::clamp(range / std::min(100.0, 1.0 + n_bad), bin_width, range);
    const double sb = bad_sigma / bin_width;
    smooth = SmoothHistogram(counts, sb);
    // The same units as the exact estimator: with equal-height kernels each
    // bad kernel (sigma bad_sigma) and the prior (sigma range) enter at
    // their heights, i.e. their densities times their sigmas. The prior is
    // a Gaussian at the centre truncated to the range, as in l(x).
    const bool height = options_.equal_kernel_heights;
    const double bad_scale = height ? bad_sigma : 1.0;
    const double mid = 0.5 * (r.lo + r.hi);
    const double prior_mass = std::erf(0.5 / std::sqrt(2.0));  // Phi(1/2) - Phi(-1/2)
    const double prior_peak = options_.prior_weight * (height ? range : 1.0) /
                              (range * std::sqrt(2.0 * M_PI) * prior_mass);
    log_g = [&, bin_width, bad_scale, mid, prior_peak, n_bad](double x) {
      const double d = (x - mid) / range;
      const double prior = prior_peak * std::exp(-0.5 * d * d);
      return std::log((smooth[Bin(id, x)] / bin_width * bad_scale + prior) /
                      (n_bad + options_.prior_weight));
    };
  }

  const bool integral = space_->params()[id].kind == Param::Kind::kInt;
  double best_u = 0.5 * (r.lo + r.hi), best_score = -std::numeric_limits<double>::infinity();
  for (int c = 0; c < options_.n_ei_candidates; ++c) {
    double u = l.Sample(rng);
    if (integral) u = std::clamp(std::round(u), r.lo + 0.5, r.hi - 0.5);
    const double score = l.LogPdf(u) - log_g(u);
    if (score > best_score) {
      best_score = score;
      best_u = u;
    }
  }
  return FromInternal(id, best_u);
}

int TpeSampler::SampleCategorical(int id, const ParamStats& good_stats,
                                  const std::vector<size_t>& good_obs,
                                  const std::vector<char>& is_good,
                                  const std::vector<double>& liars, Rng& rng) {
  const Param& p = space_->params()[id];
  // The bad observations per choice with Optuna's ramp weights: exact
  // while few, from the incremental sums beyond (as for numbers).
  double n_good = 0.0;
  for (double c : good_stats.counts) n_good += c;
  const size_t n_bad_obs = active_[id].size() - static_cast<size_t>(n_good) + liars.size();
  std::vector<double> bad(p.Cardinality(), 0.0);
  if (n_bad_obs <= static_cast<size_t>(std::max(0, options_.exact_bad_limit))) {
    size_t k = 0;
    for (const auto& [obs, v] : active_[id]) {
      if (!is_good[obs]) bad[static_cast<int>(v)] += RampWeight(k++, n_bad_obs);
    }
    for (double v : liars) bad[static_cast<int>(v)] += RampWeight(k++, n_bad_obs);
  } else {
    bad = WeightedBadHistogram(id, good_obs, liars);
  }
  // Optuna's categorical kernel: each of the N observations puts 1 on
  // its choice plus e = prior_weight / (N + 1) on every choice (rows
  // normalised), and a prior component with weight prior_weight puts
  // 1 / n on each. So no choice ever becomes impossible, yet large bad
  // sets stay close to their empirical frequencies.
  const int n = p.Cardinality();
  const double pw = options_.prior_weight;
  // With weights w_i the observations' rows add up to
  // (weighted count + sum(w) e) / (1 + n e); e uses the number of rows.
  auto mass = [&](const std::vector<double>& counts, double weight_sum, double rows, int k) {
    const double e = pw / (rows + 1.0);
    return (std::max(counts[k], 0.0) + weight_sum * e) / (1.0 + n * e) + pw / n;
  };
  double bad_weight = 0.0;
  for (double w : bad) bad_weight += w;
  std::vector<double> l(n);
  double l_total = 0.0;
  for (int k = 0; k < n; ++k) l_total += l[k] = mass(good_stats.counts, n_good, n_good, k);
  int best = 0;
  double best_score = -std::numeric_limits<double>::infinity();
  for (int c = 0; c < options_.n_ei_candidates; ++c) {
    double pick = rng.Uniform() * l_total;
    int k = 0;
    while (k + 1 < n && pick >= l[k]) pick -= l[k++];
    // Normalisers of l and g do not depend on k.
    const double score =
        std::log(l[k]) - std::log(mass(bad, bad_weight, static_cast<double>(n_bad_obs), k));
    if (score > best_score) {
      best_score = score;
      best = k;
    }
  }
  return best;
}

Assignment TpeSampler::Propose(const History& history, Rng& rng) {
  if (n_valid_ < static_cast<size_t>(std::max(0, options_.n_startup_trials))) {
    return space_->Sample(rng);
  }
  const auto& params = space_->params();
  const std::vector<size_t> good = GoodSet();

  // Good-set statistics; pending trials join the bad set as constant liars.
  std::vector<ParamStats> good_stats(params.size());
  for (size_t i = 0; i < params.size(); ++i)
    good_stats[i].counts.assign(stats_[i].counts.size(), 0);
  for (size_t g : good) AddToStats(observations_[g].assignment, 1.0, &good_stats);
  std::vector<char> is_good(observations_.size(), 0);
  for (size_t g : good) is_good[g] = 1;
  std::vector<double> liar_values;

  Assignment a(params.size(), kAbsent);
  std::vector<double> good_values;
  for (size_t i = 0; i < params.size(); ++i) {
    const int id = static_cast<int>(i);
    if (!space_->IsActive(a, id)) continue;
    const Param& p = params[i];
    liar_values.clear();
    for (const auto& [trial, assignment] : history.pending()) {
      if (options_.constant_liar && assignment.size() == params.size() &&
          !IsAbsent(assignment[i])) {
        liar_values.push_back(ToInternal(id, assignment[i]));
      }
    }
    if (p.categorical()) {
      a[i] = SampleCategorical(id, good_stats[i], good, is_good, liar_values, rng);
      continue;
    }
    good_values.clear();
    for (size_t g : good) {
      const double v = observations_[g].assignment[i];
      if (!IsAbsent(v)) good_values.push_back(ToInternal(id, v));
    }
    a[i] = SampleNumeric(id, good_values, good, is_good, liar_values, rng);
  }
  return a;
}

}  // namespace convrnn::search
