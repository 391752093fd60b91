#include "worker/neural/features.h"

#include <torch/torch.h>

#include "absl/strings/str_cat.h"

namespace convrnn {
namespace {

namespace F = torch::nn::functional;

torch::Tensor PrepareStimuli(const torch::Tensor& stimuli, const InputSpec& input,
                             std::vector<float> mean, std::vector<float> stddev) {
  torch::Tensor x = stimuli.to(torch::kFloat32);
  if (x.size(1) != input.channels) {
    x = input.channels == 1 ? x.mean(1, /*keepdim=*/true)
                            : x.mean(1, true).expand({-1, input.channels, -1, -1});
  }
  if (x.size(2) != input.height || x.size(3) != input.width) {
    x = F::interpolate(x, F::InterpolateFuncOptions()
                              .size(std::vector<int64_t>{input.height, input.width})
                              .mode(torch::kBilinear)
                              .align_corners(false));
  }
  torch::Tensor m, s;
  if (mean.empty()) {
    m = x.mean({0, 2, 3});
    s = x.std({0, 2, 3}).clamp_min(1e-6);
  } else {
    m = torch::tensor(mean);
    s = torch::tensor(stddev);
  }
  return ((x - m.view({1, -1, 1, 1})) / s.view({1, -1, 1, 1})).contiguous();
}

}  // namespace

absl::StatusOr<std::vector<LayerFeatures>> ExtractFeatures(ConvRnnImpl& model,
                                                           const torch::Tensor& stimuli,
                                                           const FeatureOptions& options) {
  const ArchSpec& spec = model.spec();
  const int num_layers = static_cast<int>(spec.layers.size());
  std::vector<int> layers = options.layers;
  if (layers.empty()) {
    for (int l = 0; l < num_layers; ++l) layers.push_back(l);
  }
  for (int l : layers) {
    if (l < 0 || l >= num_layers) {
      return absl::InvalidArgumentError(absl::StrCat("layer ", l, " out of range: the model has ",
                                                     num_layers, " layers (0..", num_layers - 1,
                                                     ")"));
    }
  }
  if (options.mean.size() != options.stddev.size() ||
      (!options.mean.empty() && static_cast<int>(options.mean.size()) != spec.input.channels)) {
    return absl::InvalidArgumentError(
        absl::StrCat("normalisation needs ", spec.input.channels, " means and deviations, got ",
                     options.mean.size(), " and ", options.stddev.size()));
  }
  if (stimuli.dim() != 4 || stimuli.size(0) == 0) {
    return absl::InvalidArgumentError("stimuli must be a non-empty N x C x H x W tensor");
  }
  if (options.pool < 1 || options.batch_size < 1) {
    return absl::InvalidArgumentError("pool and batch_size must be positive");
  }
  torch::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  torch::Tensor x = PrepareStimuli(stimuli, spec.input, options.mean, options.stddev);
  const int64_t n = x.size(0);
  const int steps = spec.time.steps;
  const std::vector<LayerGeometry>& geometry = model.geometry();

  std::vector<LayerFeatures> out;
  std::vector<torch::Tensor> projection;
  for (size_t i = 0; i < layers.size(); ++i) {
    const int l = layers[i];
    int64_t pooled = static_cast<int64_t>(geometry[l].out_channels) * options.pool * options.pool;
    int64_t width = pooled;
    torch::Tensor p;
    if (options.max_features > 0 && pooled > options.max_features) {
      width = options.max_features;
      torch::Generator gen =
          at::detail::createCPUGenerator(options.seed * 1000003ULL + 7919ULL * (l + 1));
      p = torch::randn({pooled, width}, gen, torch::kFloat32) /
          std::sqrt(static_cast<double>(width));
    }
    projection.push_back(p);
    out.push_back({l, torch::empty({steps, n, width}, torch::kFloat32)});
  }
  for (int64_t begin = 0; begin < n; begin += options.batch_size) {
    const int64_t end = std::min<int64_t>(n, begin + options.batch_size);
    UnrollOptions unroll;
    unroll.record_layers = true;
    UnrollResult result = model.Unroll(x.slice(0, begin, end), unroll);
    for (size_t i = 0; i < layers.size(); ++i) {
      for (int t = 0; t < steps; ++t) {
        torch::Tensor y =
            F::adaptive_avg_pool2d(result.outputs[t][layers[i]],
                                   F::AdaptiveAvgPool2dFuncOptions({options.pool, options.pool}))
                .flatten(1);
        if (projection[i].defined()) y = y.mm(projection[i]);
        out[i].features[t].slice(0, begin, end).copy_(y);
      }
    }
  }
  if (was_training) model.train();
  return out;
}

}  // namespace convrnn
