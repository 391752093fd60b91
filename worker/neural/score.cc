#include "worker/neural/score.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"

namespace convrnn {
namespace {

double NanMedian(const torch::Tensor& values) {
  torch::Tensor v = values.to(torch::kFloat64).flatten();
  v = v.index_select(0, torch::isfinite(v).nonzero().squeeze(1));
  if (v.numel() == 0) return NAN;
  torch::Tensor sorted = std::get<0>(v.sort());
  const int64_t n = sorted.numel();
  double lo = sorted[(n - 1) / 2].item<double>(), hi = sorted[n / 2].item<double>();
  return 0.5 * (lo + hi);
}

nlohmann::json Number(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

nlohmann::json Numbers(const std::vector<double>& v) {
  nlohmann::json out = nlohmann::json::array();
  for (double x : v) out.push_back(Number(x));
  return out;
}

}  // namespace

torch::Tensor RepetitionMean(const torch::Tensor& responses) {
  torch::Tensor valid = torch::isfinite(responses);
  torch::Tensor sum = torch::where(valid, responses, torch::zeros_like(responses)).sum(0);
  torch::Tensor count = valid.sum(0);
  return torch::where(count > 0, sum / count.clamp_min(1), torch::full_like(sum, NAN));
}

torch::Tensor SplitHalfReliability(const torch::Tensor& responses, int splits, uint64_t seed) {
  const int64_t reps = responses.size(0), n = responses.size(1), s = responses.size(2),
                b = responses.size(3);
  torch::Tensor total = torch::zeros({s, b}, torch::kFloat64);
  torch::Tensor count = torch::zeros({s, b}, torch::kFloat64);
  torch::Generator gen = at::detail::createCPUGenerator(seed * 2654435761ULL + 17);
  for (int split = 0; split < splits; ++split) {
    // One random order of each image's repetitions, shared by sites and bins
    // (simultaneously recorded sites see the same trials).
    torch::Tensor keys = torch::rand({reps, n, 1}, gen, torch::kFloat64);
    for (int64_t bin = 0; bin < b; ++bin) {
      torch::Tensor x = responses.select(3, bin).to(torch::kFloat64);  // [R, N, S]
      torch::Tensor valid = torch::isfinite(x);
      torch::Tensor k = keys.expand({reps, n, s}) + valid.logical_not().to(torch::kFloat64) * 2;
      torch::Tensor rank =
          torch::argsort(torch::argsort(k, /*dim=*/0, /*descending=*/false), 0, false);
      torch::Tensor half =
          valid.sum(0, /*keepdim=*/true).to(torch::kFloat64).div(2, "floor");  // [1, N, S]
      torch::Tensor in_a = rank < half;
      torch::Tensor in_b = (rank >= half) & (rank < 2 * half);
      torch::Tensor xz = torch::where(valid, x, torch::zeros_like(x));
      torch::Tensor h = half.squeeze(0);
      torch::Tensor mean_a =
          torch::where(h > 0, (xz * in_a).sum(0) / h.clamp_min(1), torch::full_like(h, NAN));
      torch::Tensor mean_b =
          torch::where(h > 0, (xz * in_b).sum(0) / h.clamp_min(1), torch::full_like(h, NAN));
      torch::Tensor r = PearsonColumns(mean_a, mean_b);  // [S]
      torch::Tensor sb = 2 * r / (1 + r);
      torch::Tensor ok = torch::isfinite(sb);
      total.select(1, bin).add_(torch::where(ok, sb, torch::zeros_like(sb)));
      count.select(1, bin).add_(ok.to(torch::kFloat64));
    }
  }
  return torch::where(count > 0, total / count.clamp_min(1), torch::full_like(total, NAN));
}

ArchSpec SpecForBins(const ArchSpec& spec, int bins, int step_offset) {
  ArchSpec out = spec;
  out.time.steps = std::max(spec.time.steps, bins + step_offset);
  return out;
}

absl::StatusOr<NeuralScore> ScoreModel(ConvRnnImpl& model, const NeuralData& data,
                                       const NeuralScoreOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  if (options.folds < 2 || options.folds > data.images()) {
    return absl::InvalidArgumentError(absl::StrCat("folds must be in [2, images] = [2, ",
                                                   data.images(), "], got ", options.folds));
  }
  if (options.ceiling_splits < 1)
    return absl::InvalidArgumentError("ceiling_splits must be positive");
  if (options.fit.method == NeuralMethod::kPls && options.fit.pls_components < 1) {
    return absl::InvalidArgumentError("pls_components must be positive");
  }
  const int steps = model.spec().time.steps;
  const int64_t sites = data.sites(), bins = data.bins();
  NeuralScore score;
  score.bin_start_ms = data.bin_start_ms;
  bool any = false;
  for (int64_t b = 0; b < bins; ++b) {
    int t = static_cast<int>(b) + options.step_offset;
    bool ok = t >= 0 && t < steps;
    score.bin_steps.push_back(ok ? t : -1);
    any = any || ok;
  }
  if (!any) {
    return absl::InvalidArgumentError(absl::StrCat("no bin maps to a model step: ", bins,
                                                   " bins at offset ", options.step_offset,
                                                   ", the model runs ", steps, " steps"));
  }
  absl::StatusOr<std::vector<LayerFeatures>> features =
      ExtractFeatures(model, data.stimuli, options.features);
  if (!features.ok()) return features.status();

  torch::Tensor target = RepetitionMean(data.responses);  // [N, S, B]
  std::vector<int> fold = AssignFolds(data.images(), options.folds, options.seed);
  const int64_t num_layers = static_cast<int64_t>(features->size());
  score.r = torch::full({num_layers, sites, bins}, NAN, torch::kFloat64);
  for (int64_t li = 0; li < num_layers; ++li) {
    score.layers.push_back((*features)[li].layer);
    for (int64_t b = 0; b < bins; ++b) {
      if (score.bin_steps[b] < 0) continue;
      torch::Tensor x = (*features)[li].features[score.bin_steps[b]];
      torch::Tensor y = target.select(2, b);
      score.r[li].select(1, b).copy_(
          CrossValidatedCorrelation(x, y, fold, options.folds, options.fit));
    }
  }
  score.ceiling = SplitHalfReliability(data.responses, options.ceiling_splits, options.seed);
  torch::Tensor scored_bins = torch::tensor(score.bin_steps) >= 0;  // [B]
  torch::Tensor usable = score.ceiling >= options.min_ceiling;
  torch::Tensor sqrt_ceiling = score.ceiling.clamp_min(1e-12).sqrt();

  // Regions in order of first appearance.
  std::vector<std::string> names;
  std::map<std::string, std::vector<int64_t>> members;
  for (int64_t s = 0; s < sites; ++s) {
    const std::string& region = data.regions[s];
    if (members[region].empty()) names.push_back(region);
    members[region].push_back(s);
  }
  torch::Tensor best_r = torch::full({sites, bins}, NAN, torch::kFloat64);
  for (const std::string& name : names) {
    torch::Tensor idx = torch::tensor(members[name], torch::kInt64);
    RegionScore region;
    region.region = name;
    region.sites = static_cast<int>(members[name].size());
    double best = -INFINITY;
    for (int64_t li = 0; li < num_layers; ++li) {
      double m = NanMedian(score.r[li].index_select(0, idx));
      region.layer_median_r.push_back(m);
      if (std::isfinite(m) && m > best) {
        best = m;
        region.best_layer = score.layers[li];
        best_r.index_copy_(0, idx, score.r[li].index_select(0, idx));
      }
    }
    if (!std::isfinite(best)) best_r.index_copy_(0, idx, score.r[0].index_select(0, idx));
    torch::Tensor r = best_r.index_select(0, idx);
    torch::Tensor ceil = score.ceiling.index_select(0, idx);
    torch::Tensor norm =
        torch::where(usable.index_select(0, idx), r / sqrt_ceiling.index_select(0, idx),
                     torch::full_like(r, NAN));
    torch::Tensor ceil_scored =
        torch::where(scored_bins.unsqueeze(0), ceil, torch::full_like(ceil, NAN));
    region.median_r = NanMedian(r);
    region.median_normalized = NanMedian(norm);
    region.median_ceiling = NanMedian(ceil_scored);
    for (int64_t b = 0; b < bins; ++b) {
      region.bin_median_r.push_back(NanMedian(r.select(1, b)));
      region.bin_median_normalized.push_back(NanMedian(norm.select(1, b)));
      region.bin_median_ceiling.push_back(NanMedian(ceil.select(1, b)));
    }
    score.regions.push_back(std::move(region));
  }
  score.median_r = NanMedian(best_r);
  score.median_normalized =
      NanMedian(torch::where(usable, best_r / sqrt_ceiling, torch::full_like(best_r, NAN)));
  score.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return score;
}

nlohmann::json ToJson(const NeuralScore& score) {
  nlohmann::json regions = nlohmann::json::array();
  for (const RegionScore& r : score.regions) {
    regions.push_back({{"region", r.region},
                       {"sites", r.sites},
                       {"best_layer", r.best_layer},
                       {"median_r", Number(r.median_r)},
                       {"median_normalized", Number(r.median_normalized)},
                       {"median_ceiling", Number(r.median_ceiling)},
                       {"bin_median_r", Numbers(r.bin_median_r)},
                       {"bin_median_normalized", Numbers(r.bin_median_normalized)},
                       {"bin_median_ceiling", Numbers(r.bin_median_ceiling)},
                       {"layer_median_r", Numbers(r.layer_median_r)}});
  }
  return {{"layers", score.layers},
          {"bin_steps", score.bin_steps},
          {"bin_start_ms", score.bin_start_ms},
          {"median_r", Number(score.median_r)},
          {"median_normalized", Number(score.median_normalized)},
          {"regions", regions},
          {"seconds", score.seconds}};
}

}  // namespace convrnn
