#include "spec/param_budget.h"

#include <cmath>
#include <cstdlib>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>

#include "absl/strings/str_cat.h"
#include "spec/cost.h"
#include "util/json_object.h"

namespace convrnn {
namespace {

constexpr int kMaxWidth = 4096;  // arch_spec.cc's limit on channels
constexpr int kBisectionSteps = 60;

int Scale(int width, double m) {
  return static_cast<int>(std::max<long>(1, std::lround(m * width)));
}

// The spec at multiplier m, or nullopt when a width would exceed the limit.
std::optional<ArchSpec> Scaled(const ArchSpec& spec, double m) {
  ArchSpec out = spec;
  for (LayerSpec& layer : out.layers) {
    layer.channels = Scale(layer.channels, m);
    if (layer.channels > kMaxWidth) return std::nullopt;
    if (layer.cell.type == CellType::kRgc && layer.cell.cell_channels > 0) {
      layer.cell.cell_channels = Scale(layer.cell.cell_channels, m);
      if (layer.cell.cell_channels > kMaxWidth) return std::nullopt;
    }
  }
  return out;
}

int64_t Count(const std::optional<ArchSpec>& spec) {
  return spec.has_value() ? EstimateCost(*spec).params : std::numeric_limits<int64_t>::max();
}

}  // namespace

absl::StatusOr<BudgetMatch> MatchParams(const ArchSpec& spec, const ParamBudget& budget) {
  if (budget.params <= 0) return absl::InvalidArgumentError("budget.params: must be positive");
  // Smallest m with count >= target: count is non-decreasing in m.
  double lo = kMinMultiplier, hi = kMaxMultiplier;
  if (Count(Scaled(spec, lo)) >= budget.params) hi = lo;
  for (int i = 0; i < kBisectionSteps && hi > lo; ++i) {
    const double mid = std::sqrt(lo * hi);  // geometric: widths span decades
    if (Count(Scaled(spec, mid)) >= budget.params) {
      hi = mid;
    } else {
      lo = mid;
    }
  }
  BudgetMatch best;
  int64_t best_gap = std::numeric_limits<int64_t>::max();
  for (double m : {lo, hi}) {  // below first: it wins ties
    std::optional<ArchSpec> s = Scaled(spec, m);
    if (!s.has_value()) continue;
    const int64_t count = EstimateCost(*s).params;
    const int64_t gap = std::llabs(count - budget.params);
    if (gap < best_gap) {
      best_gap = gap;
      best = BudgetMatch{*std::move(s), m, count};
    }
  }
  const double allowed = budget.tolerance * static_cast<double>(budget.params);
  if (best_gap == std::numeric_limits<int64_t>::max() || static_cast<double>(best_gap) > allowed) {
    return absl::OutOfRangeError(
        absl::StrCat("cannot reach ", budget.params, " parameters within ", budget.tolerance * 100,
                     "% by scaling the widths (nearest: ",
                     best_gap == std::numeric_limits<int64_t>::max() ? std::string("none")
                                                                     : absl::StrCat(best.params),
                     " parameters)"));
  }
  if (absl::Status s = ValidateArchSpec(best.spec); !s.ok()) return s;
  return best;
}

absl::StatusOr<ParamBudget> ParseParamBudget(const nlohmann::json& json, const std::string& path) {
  JsonObject o(json, path);
  ParamBudget budget;
  if (o.ok() && !o.Has("params")) o.Fail("params", "is required");
  o.Int64("params", &budget.params, 1, int64_t{1} << 40);
  o.Double("tolerance", &budget.tolerance, 1e-6, 1.0);
  if (absl::Status s = o.Finish(); !s.ok()) return s;
  return budget;
}

}  // namespace convrnn
