#include "search/tpe_sampler.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
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
  std::vector<char> is_good(observations_.size(), 0);
  for (size_t g : good) is_good[g] = 1;
  if (options_.multivariate) return ProposeJoint(history, good, is_good, rng);

  // Good-set statistics; pending trials join the bad set as constant liars.
  std::vector<ParamStats> good_stats(params.size());
  for (size_t i = 0; i < params.size(); ++i)
    good_stats[i].counts.assign(stats_[i].counts.size(), 0);
  for (size_t g : good) AddToStats(observations_[g].assignment, 1.0, &good_stats);
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

Assignment TpeSampler::ProposeJoint(const History& history, const std::vector<size_t>& good,
                                    const std::vector<char>& is_good, Rng& rng) const {
  const auto& params = space_->params();
  const size_t n_params = params.size();
  const double pw = options_.prior_weight;
  auto numeric = [&](size_t i) {
    return !params[i].categorical() && ranges_[i].hi > ranges_[i].lo;
  };

  // One mixture of product kernels, stored per parameter over the members
  // ([param * n + member], so the density is one pass per parameter):
  // each member's value (internal coordinates, or the choice index; -1 for
  // a choice it lacks), whether it lacks the parameter (it then contributes
  // the prior), and for numbers its kernel's 1 / sigma and log normaliser.
  // For choices, per parameter, the log row weights of the member's own
  // choice and of any other (Optuna's categorical kernel).
  struct Mixture {
    size_t n = 0;
    std::vector<double> log_weights;  // per member
    std::vector<double> value, absent, inv_sigma, log_norm;
    std::vector<double> log_hit, log_miss;  // per parameter
    double log_total = 0;                   // log(sum of weights + prior_weight)
  };
  auto build = [&](const std::vector<const Assignment*>& members,
                   const std::vector<double>& weights) {
    Mixture m;
    m.n = members.size();
    m.value.assign(m.n * n_params, -1.0);
    m.absent.assign(m.n * n_params, 1.0);
    m.inv_sigma.assign(m.n * n_params, 0.0);
    m.log_norm.assign(m.n * n_params, 0.0);
    m.log_hit.assign(n_params, 0.0);
    m.log_miss.assign(n_params, 0.0);
    double total = pw;
    for (size_t k = 0; k < m.n; ++k) {
      m.log_weights.push_back(std::log(std::max(weights[k], 1e-300)));
      total += weights[k];
    }
    m.log_total = std::log(total);
    std::vector<double> values;
    std::vector<size_t> who;
    for (size_t i = 0; i < n_params; ++i) {
      values.clear();
      who.clear();
      const size_t col = i * m.n;
      for (size_t k = 0; k < m.n; ++k) {
        const double v = (*members[k])[i];
        if (IsAbsent(v)) continue;
        who.push_back(k);
        values.push_back(params[i].categorical() ? v : ToInternal(static_cast<int>(i), v));
        m.value[col + k] = values.back();
        m.absent[col + k] = 0.0;
      }
      if (params[i].categorical()) {
        const double n = params[i].Cardinality();
        const double e = pw / (static_cast<double>(who.size()) + 1.0);
        m.log_hit[i] = std::log((1.0 + e) / (1.0 + n * e));
        m.log_miss[i] = std::log(e / (1.0 + n * e));
        continue;
      }
      if (!numeric(i)) continue;
      const Range& r = ranges_[i];
      const std::vector<double> sigmas = ParzenEstimator::Bandwidths(r.lo, r.hi, values);
      for (size_t j = 0; j < who.size(); ++j) {
        m.inv_sigma[col + who[j]] = 1.0 / sigmas[j];
        m.log_norm[col + who[j]] = LogTruncatedNormalNorm(values[j], sigmas[j], r.lo, r.hi);
      }
    }
    return m;
  };

  std::vector<const Assignment*> members;
  std::vector<double> weights;
  for (size_t k : good) members.push_back(&observations_[k].assignment);
  const Mixture l = build(members, std::vector<double>(members.size(), 1.0));
  // The bad set: the newest exact_bad_limit trials not in the good set, then
  // the pending ones as liars, with Optuna's ramp over all of them.
  members.clear();
  const size_t limit = static_cast<size_t>(std::max(1, options_.exact_bad_limit));
  for (size_t k = observations_.size(); k-- > 0 && members.size() < limit;) {
    if (!is_good[k]) members.push_back(&observations_[k].assignment);
  }
  std::reverse(members.begin(), members.end());
  if (options_.constant_liar) {
    for (const auto& [trial, assignment] : history.pending()) {
      if (assignment.size() == n_params) members.push_back(&assignment);
    }
  }
  for (size_t k = 0; k < members.size(); ++k) weights.push_back(RampWeight(k, members.size()));
  const Mixture g = build(members, weights);

  // The prior per parameter: a uniform choice; a Gaussian of the range's
  // width at its centre, truncated to the range.
  std::vector<double> prior_log_norm(n_params, 0.0);
  for (size_t i = 0; i < n_params; ++i) {
    if (params[i].categorical()) {
      prior_log_norm[i] = std::log(static_cast<double>(params[i].Cardinality()));
    } else if (numeric(i)) {
      const Range& r = ranges_[i];
      prior_log_norm[i] = LogTruncatedNormalNorm(0.5 * (r.lo + r.hi), r.hi - r.lo, r.lo, r.hi);
    }
  }
  auto log_prior = [&](size_t i, double u) {
    if (!numeric(i)) return -prior_log_norm[i];
    const Range& r = ranges_[i];
    const double d = (u - 0.5 * (r.lo + r.hi)) / (r.hi - r.lo);
    return -0.5 * d * d - prior_log_norm[i];
  };

  // log of a mixture's density at x (internal coordinates), over x's
  // active parameters; a member lacking one uses the prior for it.
  std::vector<size_t> active;
  std::vector<double> x_prior(n_params, 0.0), terms;
  auto log_density = [&](const Mixture& m, const std::vector<double>& x) {
    terms.assign(m.log_weights.begin(), m.log_weights.end());
    double prior = std::log(pw);
    for (size_t i : active) {
      const double xp = x_prior[i];
      prior += xp;
      const size_t col = i * m.n;
      const double* value = &m.value[col];
      const double* absent = &m.absent[col];
      if (params[i].categorical()) {
        const double hit = m.log_hit[i] - m.log_miss[i], miss = m.log_miss[i];
        for (size_t k = 0; k < m.n; ++k) {
          terms[k] += absent[k] * (xp - miss) + miss + (value[k] == x[i] ? hit : 0.0);
        }
      } else if (numeric(i)) {
        const double* inv_sigma = &m.inv_sigma[col];
        const double* log_norm = &m.log_norm[col];
        for (size_t k = 0; k < m.n; ++k) {
          const double d = (x[i] - value[k]) * inv_sigma[k];
          terms[k] += absent[k] * xp - 0.5 * d * d - log_norm[k];
        }
      }
    }
    terms.push_back(prior);
    const double top = *std::max_element(terms.begin(), terms.end());
    double sum = 0;
    for (double t : terms) sum += std::exp(t - top);
    return top + std::log(sum) - m.log_total;
  };

  Assignment best;
  double best_score = -std::numeric_limits<double>::infinity();
  for (int c = 0; c < options_.n_ei_candidates; ++c) {
    // A component of l: a good trial (each weight 1) or the prior (-1).
    const double pick = rng.Uniform() * (static_cast<double>(l.n) + pw);
    const std::ptrdiff_t member =
        pick < static_cast<double>(l.n) ? static_cast<std::ptrdiff_t>(pick) : -1;
    Assignment a(n_params, kAbsent);
    std::vector<double> x(n_params, kAbsent);
    active.clear();
    for (size_t i = 0; i < n_params; ++i) {
      const int id = static_cast<int>(i);
      if (!space_->IsActive(a, id)) continue;
      active.push_back(i);
      const Param& p = params[i];
      const size_t at = i * l.n + static_cast<size_t>(std::max<std::ptrdiff_t>(member, 0));
      const double own = member < 0 || l.absent[at] != 0.0 ? kAbsent : l.value[at];
      if (p.categorical()) {
        const int n = p.Cardinality();
        int k;
        if (IsAbsent(own)) {
          k = static_cast<int>(rng.Below(static_cast<uint64_t>(n)));
        } else if (n == 1 || rng.Uniform() < std::exp(l.log_hit[i])) {
          k = static_cast<int>(own);  // the member's row: (1 + e) / (1 + n e)
        } else {
          k = static_cast<int>(rng.Below(static_cast<uint64_t>(n - 1)));  // another, e each
          if (k >= static_cast<int>(own)) ++k;
        }
        a[i] = x[i] = k;
      } else {
        const Range& r = ranges_[i];
        double u = r.lo;
        if (numeric(i)) {
          u = IsAbsent(own)
                  ? SampleTruncatedNormal(0.5 * (r.lo + r.hi), r.hi - r.lo, r.lo, r.hi, rng)
                  : SampleTruncatedNormal(own, 1.0 / l.inv_sigma[at], r.lo, r.hi, rng);
        }
        a[i] = FromInternal(id, u);
        x[i] = ToInternal(id, a[i]);  // an int lands on its grid point
      }
      x_prior[i] = log_prior(i, x[i]);
    }
    const double score = log_density(l, x) - log_density(g, x);
    if (c == 0 || score > best_score) {  // the first stands even if no score is a number
      best_score = score;
      best = std::move(a);
    }
  }
  return best;
}

}  // namespace convrnn::search
