#include "worker/neural/score.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "util/status_macros.h"

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

namespace {

absl::Status CheckScoreOptions(const NeuralData& data, const NeuralScoreOptions& options) {
  if (options.folds < 2 || options.folds > data.images()) {
    return absl::InvalidArgumentError(absl::StrCat("folds must be in [2, images] = [2, ",
                                                   data.images(), "], got ", options.folds));
  }
  if (options.ceiling_splits < 1) {
    return absl::InvalidArgumentError("ceiling_splits must be positive");
  }
  if (options.fit.method == NeuralMethod::kPls && options.fit.pls_components < 1) {
    return absl::InvalidArgumentError("pls_components must be positive");
  }
  return absl::OkStatus();
}

// score->bin_steps: the model step predicting each bin (-1: none).
// INVALID_ARGUMENT when no bin maps to a step of the model.
absl::Status MapBinsToSteps(int steps, const NeuralData& data, const NeuralScoreOptions& options,
                            NeuralScore* score) {
  bool any = false;
  for (int64_t b = 0; b < data.bins(); ++b) {
    int t = static_cast<int>(b) + options.step_offset;
    bool ok = t >= 0 && t < steps;
    score->bin_steps.push_back(ok ? t : -1);
    any = any || ok;
  }
  if (!any) {
    return absl::InvalidArgumentError(absl::StrCat("no bin maps to a model step: ", data.bins(),
                                                   " bins at offset ", options.step_offset,
                                                   ", the model runs ", steps, " steps"));
  }
  return absl::OkStatus();
}

// score->layers and score->r: each layer's cross-validated correlation with
// every site in every scored bin.
void CorrelateLayers(const std::vector<LayerFeatures>& features, const NeuralData& data,
                     const NeuralScoreOptions& options, NeuralScore* score) {
  torch::Tensor target = RepetitionMean(data.responses);  // [N, S, B]
  std::vector<int> fold = AssignFolds(data.images(), options.folds, options.seed);
  const int64_t num_layers = static_cast<int64_t>(features.size());
  score->r = torch::full({num_layers, data.sites(), data.bins()}, NAN, torch::kFloat64);
  for (int64_t li = 0; li < num_layers; ++li) {
    score->layers.push_back(features[li].layer);
    for (int64_t b = 0; b < data.bins(); ++b) {
      if (score->bin_steps[b] < 0) continue;
      torch::Tensor x = features[li].features[score->bin_steps[b]];
      torch::Tensor y = target.select(2, b);
      score->r[li].select(1, b).copy_(
          CrossValidatedCorrelation(x, y, fold, options.folds, options.fit));
    }
  }
}

// Site indices of each region, regions in order of first appearance.
std::vector<std::pair<std::string, std::vector<int64_t>>> SitesByRegion(const NeuralData& data) {
  std::vector<std::pair<std::string, std::vector<int64_t>>> out;
  std::map<std::string, size_t> index;
  for (int64_t s = 0; s < data.sites(); ++s) {
    auto [it, added] = index.emplace(data.regions[s], out.size());
    if (added) out.push_back({data.regions[s], {}});
    out[it->second].second.push_back(s);
  }
  return out;
}

// Per-site-and-bin inputs of the regions' medians.
struct SiteBins {
  torch::Tensor scored_bins;   // [B] bool
  torch::Tensor usable;        // [S, B] bool: ceiling >= min_ceiling
  torch::Tensor sqrt_ceiling;  // [S, B]
};

// One region's medians; copies the region's rows of its best layer into *best_r.
RegionScore ScoreRegion(const std::string& name, const std::vector<int64_t>& sites,
                        const NeuralScore& score, const SiteBins& sb, torch::Tensor* best_r) {
  torch::Tensor idx = torch::tensor(sites, torch::kInt64);
  RegionScore region;
  region.region = name;
  region.sites = static_cast<int>(sites.size());
  double best = -INFINITY;
  for (int64_t li = 0; li < static_cast<int64_t>(score.layers.size()); ++li) {
    double m = NanMedian(score.r[li].index_select(0, idx));
    region.layer_median_r.push_back(m);
    if (std::isfinite(m) && m > best) {
      best = m;
      region.best_layer = score.layers[li];
      best_r->index_copy_(0, idx, score.r[li].index_select(0, idx));
    }
  }
  if (!std::isfinite(best)) best_r->index_copy_(0, idx, score.r[0].index_select(0, idx));
  torch::Tensor r = best_r->index_select(0, idx);
  torch::Tensor ceil = score.ceiling.index_select(0, idx);
  torch::Tensor norm =
      torch::where(sb.usable.index_select(0, idx), r / sb.sqrt_ceiling.index_select(0, idx),
                   torch::full_like(r, NAN));
  torch::Tensor ceil_scored =
      torch::where(sb.scored_bins.unsqueeze(0), ceil, torch::full_like(ceil, NAN));
  region.median_r = NanMedian(r);
  region.median_normalized = NanMedian(norm);
  region.median_ceiling = NanMedian(ceil_scored);
  for (int64_t b = 0; b < r.size(1); ++b) {
    region.bin_median_r.push_back(NanMedian(r.select(1, b)));
    region.bin_median_normalized.push_back(NanMedian(norm.select(1, b)));
    region.bin_median_ceiling.push_back(NanMedian(ceil.select(1, b)));
  }
  return region;
}

}  // namespace

absl::StatusOr<NeuralScore> ScoreModel(ConvRnnImpl& model, const NeuralData& data,
                                       const NeuralScoreOptions& options) {
  const int64_t start_us = options.clock->NowMicros();
  RETURN_IF_ERROR(CheckScoreOptions(data, options));
  NeuralScore score;
  score.bin_start_ms = data.bin_start_ms;
  RETURN_IF_ERROR(MapBinsToSteps(model.spec().time.steps, data, options, &score));
  ASSIGN_OR_RETURN(const std::vector<LayerFeatures> features,
                   ExtractFeatures(model, data.stimuli, options.features));
  CorrelateLayers(features, data, options, &score);
  score.ceiling = SplitHalfReliability(data.responses, options.ceiling_splits, options.seed);
  SiteBins sb;
  sb.scored_bins = torch::tensor(score.bin_steps) >= 0;
  sb.usable = score.ceiling >= options.min_ceiling;
  sb.sqrt_ceiling = score.ceiling.clamp_min(1e-12).sqrt();
  torch::Tensor best_r = torch::full({data.sites(), data.bins()}, NAN, torch::kFloat64);
  for (const auto& [name, sites] : SitesByRegion(data)) {
    score.regions.push_back(ScoreRegion(name, sites, score, sb, &best_r));
  }
  score.median_r = NanMedian(best_r);
  score.median_normalized =
      NanMedian(torch::where(sb.usable, best_r / sb.sqrt_ceiling, torch::full_like(best_r, NAN)));
  score.seconds = (options.clock->NowMicros() - start_us) / 1e6;
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
