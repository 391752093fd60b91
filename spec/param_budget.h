// Parameter budgets: scale a spec's channel widths so that its parameter
// count lands within a tolerance of a target, the way Nayebi et al. compared
// local cells at matched parameter counts.
//
// The rule (one multiplier, documented so runs can be reproduced by hand):
//   every layer's `channels` and every rgc's explicit `cell_channels` become
//   max(1, lround(m * width)) for one multiplier m > 0; input, kernels,
//   time, feedback edges and training are untouched. The count comes from
//   EstimateCost (spec/cost.h); no model is built.
//   m is found by bisection on [kMinMultiplier, kMaxMultiplier] for the
//   smallest m whose count is >= the target; that spec and the largest
//   spec below the target are both candidates, and the one closer to the
//   target wins (the smaller on a tie). It must lie within
//   tolerance * target of the target, else the spec cannot reach the budget
//   (OUT_OF_RANGE: a spec whose fixed parts alone exceed the target, or
//   whose width steps are coarser than the tolerance, or that would need
//   more than 4096 channels in a layer).
//
// Thread-safety: pure functions.
#ifndef CONVRNN_SPEC_PARAM_BUDGET_H_
#define CONVRNN_SPEC_PARAM_BUDGET_H_

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "spec/arch_spec.h"

namespace convrnn {

struct ParamBudget {
  int64_t params = 0;       // the target parameter count; REQUIRES > 0
  double tolerance = 0.03;  // relative: |count - params| <= tolerance * params
};

inline constexpr double kMinMultiplier = 1.0 / 256;
inline constexpr double kMaxMultiplier = 256.0;

struct BudgetMatch {
  ArchSpec spec;          // the scaled spec (validated)
  double multiplier = 1;  // m of the rule above
  int64_t params = 0;     // its parameter count
};

// The spec scaled to the budget. REQUIRES: `spec` passed ValidateArchSpec.
// Errors: OUT_OF_RANGE when no multiplier reaches the budget (the message
// names the nearest count found).
absl::StatusOr<BudgetMatch> MatchParams(const ArchSpec& spec, const ParamBudget& budget);

// {"params": N, "tolerance": t}; errors name the key path under `path`.
absl::StatusOr<ParamBudget> ParseParamBudget(const nlohmann::json& json, const std::string& path);

}  // namespace convrnn

#endif  // CONVRNN_SPEC_PARAM_BUDGET_H_
