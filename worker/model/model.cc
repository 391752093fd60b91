#include "worker/model/model.h"

#include <torch/torch.h>

#include <string>

namespace convrnn {

namespace F = torch::nn::functional;

ConvRnnImpl::ConvRnnImpl(const ArchSpec& spec) : spec_(spec), geometry_(ComputeGeometry(spec)) {
  const int num_layers = static_cast<int>(spec.layers.size());
  layers.resize(num_layers);
  for (int l = 0; l < num_layers; ++l) {
    const LayerSpec& ls = spec.layers[l];
    const LayerGeometry& g = geometry_[l];
    Layer& layer = layers[l];
    const std::string prefix = "layer" + std::to_string(l) + "_";
    layer.conv = register_module(
        prefix + "conv",
        torch::nn::Conv2d(torch::nn::Conv2dOptions(g.in_channels, g.out_channels, ls.kernel)
                              .stride(ls.stride)
                              .padding(ls.kernel / 2)));
    layer.cell =
        register_module(prefix + "cell", MakeCell(ls.cell, g.out_channels, g.cell_channels));
    int64_t source_channels = 0;
    for (const FeedbackEdge& e : spec.feedback) {
      if (e.to != l) continue;
      layer.sources.push_back(e.from);
      source_channels += geometry_[e.from].out_channels;
    }
    if (!layer.sources.empty()) {
      int64_t entry_channels = g.out_channels;
      if (ls.cell.feedback_entry == FeedbackEntry::kInput) entry_channels = g.in_channels;
      if (ls.cell.feedback_entry == FeedbackEntry::kCell) entry_channels = g.cell_channels;
      layer.feedback = register_module(
          prefix + "feedback",
          torch::nn::Conv2d(
              torch::nn::Conv2dOptions(source_channels, entry_channels, 1).bias(false)));
    }
  }
  readout = register_module("readout",
                            torch::nn::Linear(geometry_.back().out_channels, spec.num_classes));
}

int64_t ConvRnnImpl::ParameterCount() const {
  int64_t count = 0;
  for (const torch::Tensor& p : parameters()) count += p.numel();
  return count;
}

torch::Tensor ConvRnnImpl::Feedback(int l, const std::vector<torch::Tensor>& prev) {
  Layer& layer = layers[l];
  if (layer.sources.empty()) return {};
  const LayerGeometry& g = geometry_[l];
  const bool at_input = spec_.layers[l].cell.feedback_entry == FeedbackEntry::kInput;
  const int64_t height = at_input ? g.in_height : g.out_height;
  const int64_t width = at_input ? g.in_width : g.out_width;

  std::vector<torch::Tensor> parts;
  bool any = false;
  for (int j : layer.sources) {
    const LayerGeometry& gj = geometry_[j];
    if (prev[j].defined()) {
      any = true;
      torch::Tensor s = prev[j];
      if (gj.out_height != height || gj.out_width != width) {
        s = F::interpolate(s, F::InterpolateFuncOptions()
                                  .size(std::vector<int64_t>{height, width})
                                  .mode(torch::kBilinear)
                                  .align_corners(false));
      }
      parts.push_back(s);
    } else {
      parts.push_back({});  // filled with zeros below once the batch shape is known
    }
  }
  if (!any) return {};
  torch::Tensor like;
  for (const torch::Tensor& p : parts) {
    if (p.defined()) like = p;
  }
  for (size_t k = 0; k < parts.size(); ++k) {
    if (!parts[k].defined()) {
      parts[k] = torch::zeros(
          {like.size(0), geometry_[layer.sources[k]].out_channels, height, width}, like.options());
    }
  }
  torch::Tensor x = parts.size() == 1 ? parts[0] : torch::cat(parts, /*dim=*/1);
  return layer.feedback->forward(x);
}

UnrollResult ConvRnnImpl::Unroll(const torch::Tensor& images, const UnrollOptions& options) {
  const int num_layers = static_cast<int>(layers.size());
  const int steps = spec_.time.steps;
  const int64_t batch = images.size(0);

  // Outputs and states of the previous step; undefined = zero (not computed yet).
  std::vector<torch::Tensor> prev_out(num_layers);
  std::vector<CellState> prev_state(num_layers);
  std::vector<torch::Tensor> readout_features;
  readout_features.reserve(steps);
  UnrollResult result;
  torch::Tensor zero_features;

  for (int t = 0; t < steps; ++t) {
    // The readout at step t sees the last layer's output of step t-1.
    const torch::Tensor& last = prev_out[num_layers - 1];
    if (last.defined()) {
      readout_features.push_back(last.mean({2, 3}));
    } else {
      if (!zero_features.defined()) {
        zero_features = torch::zeros({batch, geometry_.back().out_channels}, images.options());
      }
      readout_features.push_back(zero_features);
    }

    std::vector<torch::Tensor> out(num_layers);
    std::vector<CellState> state(num_layers);
    const bool image_on = t < spec_.time.image_off;
    for (int l = 0; l <= std::min(t, num_layers - 1); ++l) {
      Layer& layer = layers[l];
      const LayerSpec& ls = spec_.layers[l];
      const FeedbackEntry entry = ls.cell.feedback_entry;
      torch::Tensor fb = Feedback(l, prev_out);

      torch::Tensor input = l == 0 ? (image_on ? images : torch::Tensor()) : prev_out[l - 1];
      if (entry == FeedbackEntry::kInput) input = AddMaybe(input, fb);
      torch::Tensor u;
      if (input.defined()) {
        u = layer.conv->forward(input);
        if (ls.pool) u = F::max_pool2d(u, F::MaxPool2dFuncOptions(2));
      } else {
        // Blank input: the conv of zeros is its bias (and pooling keeps it).
        const LayerGeometry& g = geometry_[l];
        u = layer.conv->bias.view({1, -1, 1, 1})
                .expand({batch, g.out_channels, g.out_height, g.out_width});
      }
      CellInput cell_in;
      cell_in.u = u;
      if (entry == FeedbackEntry::kCell) cell_in.cell_feedback = fb;
      if (entry == FeedbackEntry::kOutput) cell_in.out_feedback = fb;
      state[l] = layer.cell->Step(cell_in, prev_state[l]);
      out[l] = state[l].y;
    }
    if (options.record_layers) {
      std::vector<torch::Tensor> recorded(num_layers);
      for (int l = 0; l < num_layers; ++l) {
        const LayerGeometry& g = geometry_[l];
        recorded[l] = out[l].defined()
                          ? out[l]
                          : torch::zeros({batch, g.out_channels, g.out_height, g.out_width},
                                         images.options());
      }
      result.outputs.push_back(std::move(recorded));
    }
    prev_out = std::move(out);
    prev_state = std::move(state);
  }
  // One linear over every step at once: [T, B, C] -> [T, B, K].
  result.logits = readout->forward(torch::stack(readout_features, /*dim=*/0));
  return result;
}

torch::Tensor ConvRnnImpl::forward(const torch::Tensor& images) { return Unroll(images).logits; }

torch::Tensor UnrolledLoss(const torch::Tensor& logits, const torch::Tensor& labels,
                           const TimeSpec& time) {
  const int64_t steps = logits.size(0);
  if (time.loss_from_step < 0) return F::cross_entropy(logits[steps - 1], labels);
  const int64_t from = time.loss_from_step;
  torch::Tensor tail = logits.narrow(0, from, steps - from);  // [S, B, K]
  const int64_t span = tail.size(0);
  return F::cross_entropy(tail.reshape({span * logits.size(1), logits.size(2)}),
                          labels.repeat({span}));
}

}  // namespace convrnn
