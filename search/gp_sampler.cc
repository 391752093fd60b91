#include "search/gp_sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

namespace convrnn::search {
namespace {

constexpr size_t kLocalStarts = 8;
constexpr int kLocalRounds = 10;
constexpr double kSteps[] = {-0.2, -0.05, 0.05, 0.2};

// log(phi(z) + z Phi(z)), the expected improvement of a unit normal beyond z,
// without underflow far in the left tail (the Mills-ratio series there).
double LogH(double z) {
  constexpr double kLogSqrt2Pi = 0.9189385332046727;
  const double log_phi = -0.5 * z * z - kLogSqrt2Pi;
  if (z > -5) {
    const double cdf = 0.5 * std::erfc(-z / std::sqrt(2.0));
    return std::log(std::exp(log_phi) + z * cdf);
  }
  const double t2 = z * z;
  return log_phi + std::log(1 / t2 - 3 / (t2 * t2) + 15 / (t2 * t2 * t2));
}

double Quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(pos);
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (pos - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

// An assignment as a set key: NaN (absent) does not compare, so it becomes
// a value no parameter holds.
std::vector<double> Key(const Assignment& a) {
  std::vector<double> k = a;
  for (double& v : k) {
    if (IsAbsent(v)) v = -std::numeric_limits<double>::infinity();
  }
  return k;
}

}  // namespace

GpSampler::GpSampler(std::shared_ptr<const Space> space, const SamplerOptions& options)
    : SamplerBase(std::move(space), options) {}

void GpSampler::Reset() {
  points_.clear();
  candidates_.clear();
}

void GpSampler::Observe(const FinishedTrial& trial) {
  if (trial.state == TrialState::kFailed) return;
  Point p;
  p.assignment = trial.assignment;
  p.features = Features(trial.assignment);
  p.loss = Losses(trial.values)[0];
  p.pruned = trial.state == TrialState::kPruned;
  points_.push_back(std::move(p));
}

std::vector<double> GpSampler::Features(const Assignment& a) const {
  const std::vector<Param>& params = space_->params();
  std::vector<double> f(params.size(), kAbsent);
  for (size_t i = 0; i < params.size(); ++i) {
    const Param& p = params[i];
    if (IsAbsent(a[i])) continue;
    if (p.categorical()) {
      f[i] = a[i];
    } else if (p.hi <= p.lo) {
      f[i] = 0.5;
    } else if (p.kind == Param::Kind::kLogUniform) {
      f[i] = std::log(a[i] / p.lo) / std::log(p.hi / p.lo);
    } else {
      f[i] = (a[i] - p.lo) / (p.hi - p.lo);
    }
  }
  return f;
}

double GpSampler::FromUnit(int id, double u) const {
  const Param& p = space_->params()[id];
  u = std::clamp(u, 0.0, 1.0);
  if (p.kind == Param::Kind::kLogUniform)
    return std::clamp(p.lo * std::pow(p.hi / p.lo, u), p.lo, p.hi);
  const double v = p.lo + u * (p.hi - p.lo);
  if (p.kind == Param::Kind::kInt) {
    const double k = std::round((v - p.lo) / p.step);
    return std::clamp(p.lo + k * p.step, p.lo, p.lo + (p.Cardinality() - 1) * p.step);
  }
  return std::clamp(v, p.lo, p.hi);
}

GaussianProcess GpSampler::FitModel(const History& history, std::vector<size_t>* chosen_out) const {
  std::vector<bool> categorical;
  for (const Param& p : space_->params()) categorical.push_back(p.categorical());
  GaussianProcess model(std::move(categorical));

  // Diverged runs and NaN values at the upper fence of the finite losses.
  std::vector<double> finite;
  for (const Point& p : points_) {
    if (std::isfinite(p.loss)) finite.push_back(p.loss);
  }
  const double q25 = Quantile(finite, 0.25), q75 = Quantile(finite, 0.75);
  const double fence = q75 + 1.5 * (q75 - q25);

  // At most gp_max_points: the best half by loss, then the newest.
  std::vector<size_t> chosen(points_.size());
  for (size_t i = 0; i < chosen.size(); ++i) chosen[i] = i;
  const size_t cap = static_cast<size_t>(options_.gp_max_points);
  if (chosen.size() > cap) {
    std::vector<size_t> by_loss = chosen;
    std::stable_sort(by_loss.begin(), by_loss.end(),
                     [&](size_t a, size_t b) { return points_[a].loss < points_[b].loss; });
    std::vector<char> keep(points_.size(), 0);
    size_t kept = 0;
    for (size_t i = 0; i < cap / 2; ++i, ++kept) keep[by_loss[i]] = 1;
    for (size_t i = points_.size(); i-- > 0 && kept < cap;) {
      if (!keep[i]) {
        keep[i] = 1;
        ++kept;
      }
    }
    chosen.clear();
    for (size_t i = 0; i < points_.size(); ++i) {
      if (keep[i]) chosen.push_back(i);
    }
  }
  std::vector<std::vector<double>> x;
  std::vector<double> y;
  std::vector<bool> low;
  for (size_t i : chosen) {
    x.push_back(points_[i].features);
    y.push_back(std::min(points_[i].loss, fence));
    low.push_back(points_[i].pruned);
  }
  model.Fit(x, y, low);
  *chosen_out = chosen;
  for (const auto& [id, assignment] : history.pending()) {
    std::vector<double> f = Features(assignment);
    double mean = 0, variance = 0;
    model.Predict(f, &mean, &variance);
    model.AddPoint(f, mean);
  }
  return model;
}

double GpSampler::LogEi(const GaussianProcess& model, double incumbent, const Assignment& a) const {
  double mean = 0, variance = 0;
  model.Predict(Features(a), &mean, &variance);
  const double sd = std::sqrt(variance);
  return std::log(sd) + LogH((incumbent - mean) / sd);
}

Assignment GpSampler::Propose(const History& history, Rng& rng) {
  bool any_finite = false;
  for (const Point& p : points_) any_finite = any_finite || std::isfinite(p.loss);
  if (static_cast<int>(points_.size()) < options_.n_startup_trials || !any_finite) {
    return space_->Sample(rng);
  }
  if (attempt() > 0) {  // the previous candidate failed validation: the next one
    if (static_cast<size_t>(attempt()) < candidates_.size()) return candidates_[attempt()].second;
    return space_->Sample(rng);
  }

  std::vector<size_t> modelled;
  const GaussianProcess model = FitModel(history, &modelled);
  double incumbent = std::numeric_limits<double>::infinity();
  for (size_t i : modelled) {
    double mean = 0, variance = 0;
    model.Predict(points_[i].features, &mean, &variance);
    incumbent = std::min(incumbent, mean);
  }

  // Random candidates and the trials themselves; the best start local searches.
  std::vector<std::pair<double, Assignment>> pool;
  for (int i = 0; i < options_.gp_candidates; ++i) {
    Assignment a = space_->Sample(rng);
    const double v = LogEi(model, incumbent, a);
    pool.emplace_back(v, std::move(a));
  }
  for (size_t i : modelled) {
    pool.emplace_back(LogEi(model, incumbent, points_[i].assignment), points_[i].assignment);
  }
  auto better = [](const std::pair<double, Assignment>& a, const std::pair<double, Assignment>& b) {
    return a.first > b.first;
  };
  std::stable_sort(pool.begin(), pool.end(), better);

  const std::vector<Param>& params = space_->params();
  // Only valid specs start or continue a local search: a maximum of the
  // acquisition the trainer refuses (nesterov with momentum 0) is no proposal.
  auto valid = [&](const Assignment& a) { return space_->ToSpec(a).ok(); };
  std::vector<std::pair<double, Assignment>> starts;
  for (size_t i = 0; i < pool.size() && starts.size() < kLocalStarts; ++i) {
    if (valid(pool[i].second)) starts.push_back(pool[i]);
  }
  for (const auto& [start_v, start] : starts) {
    Assignment current = start;
    double current_v = start_v;
    for (int round = 0; round < kLocalRounds; ++round) {
      Assignment best_neighbour;
      double best_v = current_v;
      auto consider = [&](Assignment a) {
        const double v = LogEi(model, incumbent, a);
        if (v > best_v && valid(a)) {
          best_v = v;
          best_neighbour = a;
        }
        pool.emplace_back(v, std::move(a));
      };
      const std::vector<double> unit = Features(current);
      for (size_t i = 0; i < params.size(); ++i) {
        if (IsAbsent(current[i])) continue;
        const Param& p = params[i];
        if (p.categorical()) {
          for (int c = 0; c < p.Cardinality(); ++c) {
            if (c == static_cast<int>(current[i])) continue;
            Assignment a = current;
            a[i] = c;
            space_->Repair(&a, rng);
            consider(std::move(a));
          }
          continue;
        }
        const double u = unit[i];
        std::set<double> values;
        for (double step : kSteps) values.insert(FromUnit(static_cast<int>(i), u + step));
        values.insert(p.lo);
        values.insert(FromUnit(static_cast<int>(i), 1.0));
        for (double v : values) {
          if (v == current[i]) continue;
          Assignment a = current;
          a[i] = v;
          consider(std::move(a));
        }
      }
      if (best_neighbour.empty()) break;
      current = std::move(best_neighbour);
      current_v = best_v;
    }
  }

  // Best first, without repeats and without what was already run or is
  // running (the trainer is deterministic: a repeated spec teaches nothing).
  std::stable_sort(pool.begin(), pool.end(), better);
  candidates_.clear();
  std::set<std::vector<double>> seen;
  for (const Point& p : points_) seen.insert(Key(p.assignment));
  for (const auto& [id, pending] : history.pending()) seen.insert(Key(pending));
  for (auto& c : pool) {
    if (candidates_.size() > static_cast<size_t>(options_.max_redraws)) break;
    if (seen.insert(Key(c.second)).second && valid(c.second)) candidates_.push_back(std::move(c));
  }
  if (candidates_.empty()) return space_->Sample(rng);
  return candidates_[0].second;
}

}  // namespace convrnn::search
