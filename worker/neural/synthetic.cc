#include "worker/neural/synthetic.h"

#include <torch/torch.h>

#include <cmath>

#include "absl/strings/str_cat.h"
#include "util/status_macros.h"

namespace convrnn {

absl::StatusOr<NeuralData> MakeSyntheticNeuralData(ConvRnnImpl& teacher,
                                                   const torch::Tensor& stimuli,
                                                   const SyntheticOptions& options) {
  const int num_layers = static_cast<int>(teacher.spec().layers.size());
  const int k = static_cast<int>(options.regions.size());
  const int steps = teacher.spec().time.steps;
  if (k == 0 || options.sites_per_region < 1 || options.repetitions < 2 || options.noise_sd < 0 ||
      options.missing < 0 || options.missing >= 1) {
    return absl::InvalidArgumentError(
        "synthetic data needs regions, sites_per_region >= 1, repetitions >= 2, noise_sd >= 0, "
        "missing in [0, 1)");
  }
  std::vector<int> layers = options.region_layers;
  if (layers.empty()) {
    for (int i = 0; i < k; ++i)
      layers.push_back((i + 1) * num_layers / k + ((i + 1) * num_layers % k ? 1 : 0) - 1);
  }
  if (static_cast<int>(layers.size()) != k) {
    return absl::InvalidArgumentError(
        absl::StrCat(k, " regions but ", layers.size(), " region layers"));
  }
  const int bins = options.bins > 0 ? options.bins : steps - options.step_offset;
  if (bins < 1 || options.step_offset < 0 || options.step_offset + bins > steps) {
    return absl::InvalidArgumentError(absl::StrCat("bins at offset ", options.step_offset,
                                                   " must fit the teacher's ", steps, " steps"));
  }
  FeatureOptions fo = options.features;
  fo.layers = layers;
  fo.seed = options.seed;
  ASSIGN_OR_RETURN(std::vector<LayerFeatures> features, ExtractFeatures(teacher, stimuli, fo));

  torch::Generator gen = at::detail::createCPUGenerator(options.seed * 6364136223846793005ULL +
                                                        1442695040888963407ULL);
  const int64_t n = stimuli.size(0);
  const int64_t sites = static_cast<int64_t>(k) * options.sites_per_region;
  torch::Tensor signal = torch::zeros({n, sites, bins}, torch::kFloat64);
  torch::Tensor reliability = torch::zeros({sites, bins}, torch::kFloat64);
  const double true_rel = 1.0 / (1.0 + options.noise_sd * options.noise_sd / options.repetitions);
  NeuralData data;
  for (int i = 0; i < k; ++i) {
    torch::Tensor f = features[i].features.to(torch::kFloat64);  // [T, N, F]
    // z-score each feature over steps and images, so no channel dominates.
    torch::Tensor flat = f.reshape({-1, f.size(2)});
    f = (f - flat.mean(0)) / flat.std(0).clamp_min(1e-8);
    torch::Tensor w = torch::randn({f.size(2), options.sites_per_region}, gen, torch::kFloat64);
    for (int b = 0; b < bins; ++b) {
      torch::Tensor y = f[b + options.step_offset].mm(w);  // [N, sites_per_region]
      y = y - y.mean(0);
      torch::Tensor sd = y.std(0);
      torch::Tensor has_signal = sd > 1e-6 * std::sqrt(static_cast<double>(f.size(2)));
      y = torch::where(has_signal, y / sd.clamp_min(1e-300), torch::zeros_like(y));
      const int64_t first = static_cast<int64_t>(i) * options.sites_per_region;
      signal.slice(1, first, first + options.sites_per_region).select(2, b).copy_(y);
      reliability.slice(0, first, first + options.sites_per_region)
          .select(1, b)
          .copy_(has_signal.to(torch::kFloat64) * true_rel);
    }
    for (int s = 0; s < options.sites_per_region; ++s) data.regions.push_back(options.regions[i]);
  }
  torch::Tensor noise =
      torch::randn({options.repetitions, n, sites, bins}, gen, torch::kFloat64) * options.noise_sd;
  torch::Tensor responses = signal.unsqueeze(0) + noise;
  if (options.missing > 0) {
    torch::Tensor drop =
        torch::rand({options.repetitions, n, sites, bins}, gen, torch::kFloat64) < options.missing;
    responses = torch::where(drop, torch::full_like(responses, NAN), responses);
  }
  data.stimuli = stimuli.to(torch::kFloat32);
  data.responses = responses.to(torch::kFloat32);
  data.true_reliability = reliability.to(torch::kFloat32);
  for (int b = 0; b < bins; ++b) data.bin_start_ms.push_back(options.bin_start_ms + 10.0 * b);
  return data;
}

}  // namespace convrnn
