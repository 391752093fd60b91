#include "spec/cost.h"

#include <algorithm>
#include <vector>

namespace convrnn {
namespace {

struct Cost {
  int64_t params = 0;
  int64_t flops = 0;  // per application
};

// A "same" k x k convolution over an H x W map.
Cost Conv(int64_t in, int64_t out, int64_t k, int64_t hw, bool bias = true, int64_t groups = 1) {
  Cost c;
  c.params = in / groups * out * k * k + (bias ? out : 0);
  c.flops = 2 * (in / groups) * k * k * out * hw;
  return c;
}

// SpatialConv: full, or depthwise k x k then pointwise 1 x 1.
Cost SpatialConvCost(int64_t in, int64_t out, int64_t k, bool separable, int64_t hw) {
  if (!separable || k == 1) return Conv(in, out, k, hw);
  Cost depthwise = Conv(in, in, k, hw, /*bias=*/false, /*groups=*/in);
  Cost pointwise = Conv(in, out, 1, hw);
  return {depthwise.params + pointwise.params, depthwise.flops + pointwise.flops};
}

// The cell of one layer: its parameters, and the FLOPs of its first step
// (zero state: recurrent convs skipped) and of every later step.
struct CellCost {
  int64_t params = 0;
  int64_t first_step_flops = 0;
  int64_t step_flops = 0;
};

CellCost CellCostOf(const CellSpec& s, int64_t ch, int64_t cell_ch, int64_t hw) {
  CellCost cost;
  const int64_t k = s.recurrent_kernel;
  auto gated = [&](int64_t gates) {
    Cost full = Conv(2 * ch, gates * ch, k, hw);
    cost.params = full.params;
    cost.first_step_flops = Conv(ch, gates * ch, k, hw).flops;
    cost.step_flops = full.flops;
  };
  switch (s.type) {
    case CellType::kFeedforward:
      break;
    case CellType::kTimeDecay:
      cost.params = 1;
      break;
    case CellType::kSimpleRnn: {
      Cost w = Conv(ch, ch, k, hw, /*bias=*/false);
      cost.params = w.params;
      cost.step_flops = w.flops;
      break;
    }
    case CellType::kGru: {
      gated(2);
      Cost cand = Conv(ch, ch, k, hw, /*bias=*/false);
      cost.params += cand.params;
      cost.step_flops += cand.flops;
      break;
    }
    case CellType::kLstm:
    case CellType::kIntersection:
      gated(4);
      break;
    case CellType::kUgrnn:
      gated(2);
      break;
    case CellType::kRgc: {
      Cost ic = SpatialConvCost(ch, cell_ch, s.ic_kernel, s.ic_separable, hw);
      Cost io = SpatialConvCost(ch, ch, s.io_kernel, s.io_separable, hw);
      Cost cc = SpatialConvCost(cell_ch, cell_ch, s.tau_kernel, s.tau_separable, hw);
      Cost hh = SpatialConvCost(ch, ch, s.tau_kernel, s.tau_separable, hw);
      Cost hc = SpatialConvCost(ch, cell_ch, s.gate_kernel, s.gate_separable, hw);
      Cost chc = SpatialConvCost(cell_ch, ch, s.gate_kernel, s.gate_separable, hw);
      cost.params = ic.params + io.params + cc.params + hh.params + hc.params + chc.params;
      cost.first_step_flops = ic.flops + io.flops;
      cost.step_flops = cost.first_step_flops + cc.flops + hh.flops + hc.flops + chc.flops;
      if (s.cell_to_out) {
        Cost p = Conv(cell_ch, ch, 1, hw, /*bias=*/false);
        cost.params += p.params;
        cost.first_step_flops += p.flops;
        cost.step_flops += p.flops;
      }
      if (s.layer_norm) cost.params += 2 * (cell_ch + ch);
      break;
    }
  }
  return cost;
}

}  // namespace

CostEstimate EstimateCost(const ArchSpec& spec) {
  CostEstimate total;
  const std::vector<LayerGeometry> geometry = ComputeGeometry(spec);
  const int num_layers = static_cast<int>(spec.layers.size());
  const int steps = spec.time.steps;
  for (int l = 0; l < num_layers; ++l) {
    const LayerSpec& ls = spec.layers[l];
    const LayerGeometry& g = geometry[l];
    const int64_t out_hw = int64_t{g.out_height} * g.out_width;

    // Feedback: active from one step after its earliest source first computes.
    int first_source = num_layers;
    int64_t source_channels = 0;
    for (const FeedbackEdge& e : spec.feedback) {
      if (e.to != l) continue;
      first_source = std::min(first_source, e.from);
      source_channels += geometry[e.from].out_channels;
    }
    const bool has_feedback = source_channels > 0;
    const bool at_input = ls.cell.feedback_entry == FeedbackEntry::kInput;
    int64_t feedback_steps = 0;
    if (has_feedback) {
      int64_t entry_channels = at_input                                         ? g.in_channels
                               : ls.cell.feedback_entry == FeedbackEntry::kCell ? g.cell_channels
                                                                                : g.out_channels;
      int64_t entry_hw = at_input ? int64_t{g.in_height} * g.in_width : out_hw;
      Cost fb = Conv(source_channels, entry_channels, 1, entry_hw, /*bias=*/false);
      feedback_steps = std::max(0, steps - std::max(l, first_source + 1));
      total.params += fb.params;
      total.flops_per_image += feedback_steps * fb.flops;
    }

    // Feedforward conv: every computed step with a non-blank input.
    Cost conv =
        Conv(g.in_channels, g.out_channels, ls.kernel, int64_t{g.conv_height} * g.conv_width);
    int64_t conv_steps = steps - l;
    if (l == 0) {
      conv_steps = spec.time.image_off;
      if (at_input && has_feedback) {
        // Blank steps still run the conv once feedback enters at the input.
        conv_steps += std::max(0, steps - std::max(spec.time.image_off, first_source + 1));
      }
    }
    total.params += conv.params;
    total.flops_per_image += conv_steps * conv.flops;

    CellCost cell = CellCostOf(ls.cell, g.out_channels, g.cell_channels, out_hw);
    total.params += cell.params;
    total.flops_per_image += cell.first_step_flops + (steps - l - 1) * cell.step_flops;
  }
  const int64_t last_channels = geometry.back().out_channels;
  total.params += last_channels * spec.num_classes + spec.num_classes;
  total.flops_per_image += int64_t{steps} * 2 * last_channels * spec.num_classes;
  return total;
}

}  // namespace convrnn
