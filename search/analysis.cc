#include "search/analysis.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace convrnn::search {
namespace {

bool IsFeedbackEdge(const Param& p) {
  return p.categorical() && absl::StartsWith(p.name, "feedback[") &&
         absl::EndsWith(p.name, ".enabled");
}

double MedianNumeric(const Param& p, std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  double m = values[n / 2];
  if (n % 2 == 0) {
    const double a = values[n / 2 - 1], b = values[n / 2];
    m = p.kind == Param::Kind::kLogUniform ? std::sqrt(a * b) : (a + b) / 2;
  }
  if (p.kind == Param::Kind::kInt) {  // the nearest grid point, halves down
    const double steps = std::ceil((m - p.lo) / p.step - 0.5);
    m = std::clamp(p.lo + steps * p.step, p.lo, p.hi);
  }
  return m;
}

// The mode of a categorical among `top` (those where it is active).
int ModeChoice(const Param& p, int id, const std::vector<RankedAssignment>& top, Goal goal) {
  const int n = p.Cardinality();
  std::vector<int64_t> count(n, 0);
  std::vector<double> sum(n, 0);
  int64_t active = 0;
  for (const RankedAssignment& t : top) {
    const double v = t.assignment[id];
    if (IsAbsent(v)) continue;
    ++active;
    ++count[static_cast<int>(v)];
    sum[static_cast<int>(v)] += t.value;
  }
  if (IsFeedbackEdge(p) && p.labels.size() == 2) {
    const int on = p.labels[1] == "true" ? 1 : 0;
    return 2 * count[on] >= active ? on : 1 - on;
  }
  int best = 0;
  for (int k = 1; k < n; ++k) {
    if (count[k] > count[best]) {
      best = k;
    } else if (count[k] == count[best] && count[k] > 0 &&
               AsLoss(sum[k] / count[k], goal) < AsLoss(sum[best] / count[best], goal)) {
      best = k;
    }
  }
  return best;
}

double LogChoose(int64_t n, int64_t k) {
  return std::lgamma(n + 1.0) - std::lgamma(k + 1.0) - std::lgamma(n - k + 1.0);
}

}  // namespace

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

absl::StatusOr<Assignment> MedianAssignment(const Space& space,
                                            const std::vector<RankedAssignment>& top, Goal goal) {
  if (top.empty()) return absl::InvalidArgumentError("the median of no trials");
  for (const RankedAssignment& t : top) {
    if (absl::Status s = space.Check(t.assignment); !s.ok()) return s;
  }
  const std::vector<Param>& params = space.params();
  Assignment median(params.size(), kAbsent);
  for (size_t i = 0; i < params.size(); ++i) {
    const int id = static_cast<int>(i);
    if (!space.IsActive(median, id)) continue;
    const Param& p = params[i];
    std::vector<double> values;
    for (const RankedAssignment& t : top) {
      if (!IsAbsent(t.assignment[i])) values.push_back(t.assignment[i]);
    }
    if (values.empty()) {
      // No top trial reached this branch (its parent's mode came from trials
      // where a grandparent differed): take the first value of its range.
      median[i] = p.lo;
      if (p.categorical()) median[i] = 0;
      continue;
    }
    median[i] = p.categorical() ? ModeChoice(p, id, top, goal) : MedianNumeric(p, values);
  }
  if (absl::Status s = space.Check(median); !s.ok()) return s;
  return median;
}

double HypergeometricUpperTail(int64_t k, int64_t N, int64_t K, int64_t n) {
  const int64_t lo = std::max<int64_t>(0, n - (N - K)), hi = std::min(n, K);
  if (k <= lo) return 1.0;
  if (k > hi) return 0.0;
  const double total = LogChoose(N, n);
  double p = 0;
  for (int64_t x = k; x <= hi; ++x) {
    p += std::exp(LogChoose(K, x) + LogChoose(N - K, n - x) - total);
  }
  return std::min(1.0, p);
}

std::vector<EnrichmentRow> Enrichment(const std::vector<ArchSpec>& ranked, int64_t top_k) {
  std::map<std::string, std::pair<int64_t, int64_t>> counts;  // feature -> (top, all)
  for (size_t r = 0; r < ranked.size(); ++r) {
    const ArchSpec& spec = ranked[r];
    std::set<std::string> features;
    for (const FeedbackEdge& e : spec.feedback) {
      features.insert(absl::StrCat("feedback ", e.from, "->", e.to));
    }
    for (size_t l = 0; l < spec.layers.size(); ++l) {
      features.insert(
          absl::StrCat("layers[", l, "].cell.type=", CellTypeName(spec.layers[l].cell.type)));
    }
    for (const std::string& f : features) {
      auto& c = counts[f];
      ++c.second;
      if (static_cast<int64_t>(r) < top_k) ++c.first;
    }
  }
  std::vector<EnrichmentRow> rows;
  const int64_t all = static_cast<int64_t>(ranked.size());
  for (const auto& [feature, c] : counts) {
    EnrichmentRow row{feature, c.first, top_k, c.second, all, 1.0};
    row.p_value = HypergeometricUpperTail(c.first, all, c.second, top_k);
    rows.push_back(std::move(row));
  }
  std::stable_sort(rows.begin(), rows.end(), [](const EnrichmentRow& a, const EnrichmentRow& b) {
    return a.p_value < b.p_value;
  });
  return rows;
}

std::vector<GroupRow> CompareGroups(const std::vector<GroupedTrial>& trials, Goal goal) {
  std::map<std::string, std::vector<const GroupedTrial*>> groups;
  for (const GroupedTrial& t : trials) groups[t.group].push_back(&t);
  std::vector<GroupRow> rows;
  for (const auto& [name, members] : groups) {
    GroupRow row;
    row.group = name;
    row.count = static_cast<int64_t>(members.size());
    std::vector<double> values, params;
    for (const GroupedTrial* t : members) {
      values.push_back(t->value);
      params.push_back(t->params);
    }
    row.best = goal == Goal::kMaximize ? *std::max_element(values.begin(), values.end())
                                       : *std::min_element(values.begin(), values.end());
    row.median = Median(values);
    if (values.size() > 1) {
      double mean = 0, ss = 0;
      for (double v : values) mean += v / values.size();
      for (double v : values) ss += (v - mean) * (v - mean);
      row.spread = std::sqrt(ss / (values.size() - 1));
    }
    row.params_median = Median(params);
    row.params_min = *std::min_element(params.begin(), params.end());
    row.params_max = *std::max_element(params.begin(), params.end());
    rows.push_back(std::move(row));
  }
  std::stable_sort(rows.begin(), rows.end(), [goal](const GroupRow& a, const GroupRow& b) {
    return AsLoss(a.median, goal) < AsLoss(b.median, goal);
  });
  return rows;
}

std::string CellTypesKey(const ArchSpec& spec) {
  std::vector<std::string> types;
  for (const LayerSpec& l : spec.layers) types.emplace_back(CellTypeName(l.cell.type));
  return absl::StrJoin(types, "/");
}

}  // namespace convrnn::search
