// Suggestion latency of the search/ samplers with 100, 1,000 and 10,000
// finished trials on a ConvRNN-shaped conditional space: 6 layers x {cell
// type, kernel, decay}, all 15 descending feedback edges, learning rate.
// The same space and objective as bench/search/optuna_tpe.py.
//
//   build-search/bench/search/convrnn_search_bench [--samples N]
//   build-search/bench/search/convrnn_search_bench --quality 20
//     median over 20 seeds of the best objective after 25, 50, 100, 200
//     trials (optimum 3.8), for comparison with optuna_tpe.py --quality.
//
// For each history size the sampler first ingests the history (one-time,
// reported separately), then each timed call is one Suggest plus finishing
// that trial, so the history keeps growing as in a live campaign.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "search/sampler.h"

namespace convrnn::search {
namespace {

nlohmann::json BenchSpace() {
  nlohmann::json cell = {{"choice",
                          {{{"type", "feedforward"}},
                           {{"type", "time_decay"}, {"decay_init", {{"uniform", {-1.0, 1.0}}}}},
                           {{"type", "gru"}, {"recurrent_kernel", {{"choice", {1, 3, 5}}}}},
                           {{"type", "rgc"},
                            {"tau_kernel", {{"choice", {1, 3, 5, 7}}}},
                            {"tau_offset", {{"uniform", {0.0, 2.0}}}}}}}};
  nlohmann::json space = {{"time", {{"steps", 10}}},
                          {"layers", nlohmann::json::array()},
                          {"feedback", {{"candidates", "all_descending"}}},
                          {"train", {{"lr", {{"loguniform", {1e-4, 1.0}}}}}}};
  for (int l = 0; l < 6; ++l) {
    space["layers"].push_back(
        {{"channels", 8}, {"kernel", {{"choice", {1, 3, 5, 7}}}}, {"cell", cell}});
  }
  return space;
}

// Synthetic accuracy-like objective (same formula as optuna_tpe.py).
double Objective(const ArchSpec& spec) {
  double f = 0.0;
  for (const LayerSpec& layer : spec.layers) {
    f += layer.kernel == 5 ? 0.1 : 0.0;
    if (layer.cell.type == CellType::kRgc) f += 0.5 - 0.2 * std::abs(layer.cell.tau_offset - 0.9);
    if (layer.cell.type == CellType::kTimeDecay) f += 0.2 - 0.1 * std::abs(layer.cell.decay_init);
  }
  for (const FeedbackEdge& e : spec.feedback) f += e.from - e.to == 2 ? 0.05 : -0.02;
  const double x = std::log10(spec.train.lr) + 1.5;
  return f - 0.1 * x * x;
}

double Percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))];
}

// Median over `seeds` of the best value after each checkpoint.
void Quality(std::shared_ptr<const Space> space, int seeds) {
  const std::vector<int> checkpoints = {25, 50, 100, 200};
  std::printf("%-10s", "sampler");
  for (int c : checkpoints) std::printf(" %9s%d", "best@", c);
  std::printf("   (median of %d seeds, optimum 3.8)\n", seeds);
  for (const char* algorithm : {"random", "tpe", "evolution"}) {
    std::vector<std::vector<double>> best(checkpoints.size());
    for (int seed = 1; seed <= seeds; ++seed) {
      SamplerOptions options;
      options.seed = seed;
      auto sampler = *CreateSampler(algorithm, space, options);
      History history;
      double b = -1e9;
      for (int t = 0; t < checkpoints.back(); ++t) {
        absl::StatusOr<Suggestion> sg = sampler->Suggest(history);
        const double value = Objective(*ParseArchSpec(sg->spec));
        b = std::max(b, value);
        history.AddPending(t, sg->assignment);
        history.Finish(t, TrialState::kCompleted, {value});
        for (size_t c = 0; c < checkpoints.size(); ++c) {
          if (t + 1 == checkpoints[c]) best[c].push_back(b);
        }
      }
    }
    std::printf("%-10s", algorithm);
    for (auto& v : best) std::printf(" %10.3f", Percentile(v, 0.5));
    std::printf("\n");
  }
}

int Main(int argc, char** argv) {
  int samples = 200;
  int quality_seeds = 0;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--samples") == 0) samples = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--quality") == 0) quality_seeds = std::atoi(argv[i + 1]);
  }
  auto space = std::make_shared<const Space>(*Space::Parse(BenchSpace()));
  if (quality_seeds > 0) {
    Quality(space, quality_seeds);
    return 0;
  }
  std::printf("space: %zu parameters\n", space->params().size());
  std::printf("%-10s %8s %10s %10s %10s %12s\n", "sampler", "trials", "p50_ms", "p99_ms", "mean_ms",
              "ingest_ms");
  for (const char* algorithm : {"tpe", "evolution", "random"}) {
    for (int n : {100, 1000, 10000}) {
      History history;
      Rng rng(n);
      for (int t = 0; t < n; ++t) {
        Assignment a = space->Sample(rng);
        history.Finish(t, TrialState::kCompleted, {Objective(*space->ToSpec(a))}, a);
      }
      SamplerOptions options;
      options.seed = 1;
      auto sampler = *CreateSampler(algorithm, space, options);
      using Clock = std::chrono::steady_clock;
      auto t0 = Clock::now();
      if (!sampler->Suggest(history).ok()) return 1;  // ingests the whole history once
      const double ingest = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      std::vector<double> ms;
      for (int s = 0; s < samples; ++s) {
        auto start = Clock::now();
        absl::StatusOr<Suggestion> sg = sampler->Suggest(history);
        ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
        if (!sg.ok()) return 1;
        const int64_t id = n + s;
        history.AddPending(id, sg->assignment);
        history.Finish(id, TrialState::kCompleted, {Objective(*ParseArchSpec(sg->spec))});
      }
      double mean = 0;
      for (double x : ms) mean += x / ms.size();
      std::printf("%-10s %8d %10.3f %10.3f %10.3f %12.1f\n", algorithm, n, Percentile(ms, 0.5),
                  Percentile(ms, 0.99), mean, ingest);
    }
  }
  return 0;
}

}  // namespace
}  // namespace convrnn::search

int main(int argc, char** argv) { return convrnn::search::Main(argc, argv); }
