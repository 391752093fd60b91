// Suggestion latency of the search/ samplers with 100, 1,000 and 10,000
// finished trials on a ConvRNN-shaped conditional space: 6 layers x {cell
// type, kernel, decay}, all 15 descending feedback edges, learning rate.
// The same space and objective as bench/search/optuna_tpe.py.
//
//   build-search/bench/search/convrnn_search_bench [--samples N]
//   build-search/bench/search/convrnn_search_bench --quality 20 [--function F]
//     median over 20 seeds of the best objective after 25, 50, 100, 200
//     trials, for comparison with optuna_tpe.py --quality. F is a
//     comma-separated list of: convrnn (the space below, maximise, optimum
//     3.8; the default), branin (minimise, optimum 0.397887), hartmann6
//     (minimise, optimum -3.32237), all. Branin and Hartmann-6 are plain
//     uniform parameters: RGC knobs of a small spec, read back from the
//     suggestion's assignment by name (Branin's x1 in [-5, 10], x2 in
//     [0, 15] as affine maps of tau_offset, gate_offset in [-5, 5]).
//     --dump FILE appends every seed's bests as JSON lines for
//     bench/search/compare_quality.py. --samplers LIST (default
//     random,tpe,evolution; also gp) and --checkpoints LIST (default
//     25,50,100,200) choose what runs.
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
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
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

// A quality objective on a space, evaluated on a suggestion.
struct QualityFunction {
  std::string name;
  nlohmann::json space;
  Goal goal = Goal::kMaximize;
  double optimum = 0.0;
  std::function<double(const Space&, const Suggestion&)> eval;
};

// The value of the parameter named `name` in a suggestion.
double Value(const Space& space, const Suggestion& sg, const std::string& name) {
  const int id = space.Find(name);
  if (id < 0) {
    std::fprintf(stderr, "no parameter %s\n", name.c_str());
    std::exit(1);
  }
  return sg.assignment[id];
}

constexpr double kPi = 3.141592653589793;

double Branin(double x1, double x2) {
  const double a = x2 - 5.1 / (4 * kPi * kPi) * x1 * x1 + 5 / kPi * x1 - 6;
  return a * a + 10 * (1 - 1 / (8 * kPi)) * std::cos(x1) + 10;
}

double Hartmann6(const double x[6]) {
  static constexpr double kAlpha[4] = {1.0, 1.2, 3.0, 3.2};
  static constexpr double kA[4][6] = {{10, 3, 17, 3.5, 1.7, 8},
                                      {0.05, 10, 17, 0.1, 8, 14},
                                      {3, 3.5, 1.7, 10, 17, 8},
                                      {17, 8, 0.05, 10, 0.1, 14}};
  static constexpr double kP[4][6] = {{0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886},
                                      {0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991},
                                      {0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650},
                                      {0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381}};
  double f = 0.0;
  for (int i = 0; i < 4; ++i) {
    double e = 0.0;
    for (int j = 0; j < 6; ++j) e += kA[i][j] * (x[j] - kP[i][j]) * (x[j] - kP[i][j]);
    f -= kAlpha[i] * std::exp(-e);
  }
  return f;
}

std::vector<QualityFunction> QualityFunctions() {
  std::vector<QualityFunction> out;
  out.push_back(
      {"convrnn", BenchSpace(), Goal::kMaximize, 3.8,
       [](const Space&, const Suggestion& sg) { return Objective(*ParseArchSpec(sg.spec)); }});
  out.push_back({"branin",
                 nlohmann::json::parse(R"({"time": {"steps": 3}, "layers": [{"channels": 4,
                     "cell": {"type": "rgc", "tau_offset": {"uniform": [-5, 5]},
                              "gate_offset": {"uniform": [-5, 5]}}}]})"),
                 Goal::kMinimize, 0.397887, [](const Space& space, const Suggestion& sg) {
                   const double x1 = 1.5 * Value(space, sg, "layers[0].cell.tau_offset") + 2.5;
                   const double x2 = 1.5 * Value(space, sg, "layers[0].cell.gate_offset") + 7.5;
                   return Branin(x1, x2);
                 }});
  nlohmann::json h6 = {{"time", {{"steps", 4}}}, {"layers", nlohmann::json::array()}};
  for (int l = 0; l < 3; ++l) {
    h6["layers"].push_back({{"channels", 4},
                            {"cell",
                             {{"type", "rgc"},
                              {"tau_offset", {{"uniform", {0.0, 1.0}}}},
                              {"gate_offset", {{"uniform", {0.0, 1.0}}}}}}});
  }
  out.push_back(
      {"hartmann6", h6, Goal::kMinimize, -3.32237, [](const Space& space, const Suggestion& sg) {
         double x[6];
         for (int l = 0; l < 3; ++l) {
           const std::string p = "layers[" + std::to_string(l) + "].cell.";
           x[2 * l] = Value(space, sg, p + "tau_offset");
           x[2 * l + 1] = Value(space, sg, p + "gate_offset");
         }
         return Hartmann6(x);
       }});
  return out;
}

double Percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))];
}

// Median over `seeds` of the best value after each checkpoint.
// With `dump`, appends one JSON line per sampler with every seed's best at
// each checkpoint (bench/search/compare_quality.py reads them).
void Quality(const QualityFunction& fn, int seeds, const SamplerOptions& base,
             const std::vector<std::string>& samplers, const std::vector<int>& checkpoints,
             std::FILE* dump) {
  auto space = std::make_shared<const Space>(*Space::Parse(fn.space));
  const double sign = fn.goal == Goal::kMaximize ? 1.0 : -1.0;
  std::printf("%s: %s, optimum %g, %zu parameters\n", fn.name.c_str(),
              fn.goal == Goal::kMaximize ? "maximize" : "minimize", fn.optimum,
              space->params().size());
  std::printf("%-10s", "sampler");
  for (int c : checkpoints) std::printf(" %9s%d", "best@", c);
  std::printf("   (median of %d seeds)\n", seeds);
  for (const std::string& name : samplers) {
    const char* algorithm = name.c_str();
    std::vector<std::vector<double>> best(checkpoints.size());
    for (int seed = 1; seed <= seeds; ++seed) {
      SamplerOptions options = base;
      options.seed = seed;
      options.goals = {fn.goal};
      auto sampler = *CreateSampler(algorithm, space, options);
      History history;
      double b = -1e300;  // best of sign * value
      for (int t = 0; t < checkpoints.back(); ++t) {
        absl::StatusOr<Suggestion> sg = sampler->Suggest(history);
        if (!sg.ok()) {
          std::fprintf(stderr, "%s\n", sg.status().ToString().c_str());
          std::exit(1);
        }
        const double value = fn.eval(*space, *sg);
        b = std::max(b, sign * value);
        history.AddPending(t, sg->assignment);
        history.Finish(t, TrialState::kCompleted, {value});
        for (size_t c = 0; c < checkpoints.size(); ++c) {
          if (t + 1 == checkpoints[c]) best[c].push_back(sign * b);
        }
      }
    }
    std::printf("%-10s", algorithm);
    for (auto& v : best) std::printf(" %10.4f", Percentile(v, 0.5));
    std::printf("\n");
    std::fflush(stdout);
    if (dump != nullptr) {
      const nlohmann::json line = {{"function", fn.name},
                                   {"sampler", algorithm},
                                   {"impl", "ours"},
                                   {"checkpoints", checkpoints},
                                   {"best", best}};
      std::fprintf(dump, "%s\n", line.dump().c_str());
      std::fflush(dump);
    }
  }
}

int Main(int argc, char** argv) {
  int samples = 200;
  int quality_seeds = 0;
  std::string functions = "convrnn";
  std::string dump_path;
  std::vector<std::string> samplers;  // default: random, tpe, evolution
  std::vector<int> checkpoints = {25, 50, 100, 200};
  SamplerOptions base;  // --tpe-* override the TPE defaults (for tuning runs)
  for (int i = 1; i + 1 < argc; ++i) {
    const char* v = argv[i + 1];
    if (std::strcmp(argv[i], "--samples") == 0) samples = std::atoi(v);
    if (std::strcmp(argv[i], "--quality") == 0) quality_seeds = std::atoi(v);
    if (std::strcmp(argv[i], "--function") == 0) functions = v;
    if (std::strcmp(argv[i], "--dump") == 0) dump_path = v;
    if (std::strcmp(argv[i], "--samplers") == 0) samplers = absl::StrSplit(v, ',');
    if (std::strcmp(argv[i], "--checkpoints") == 0) {
      checkpoints.clear();
      for (absl::string_view c : absl::StrSplit(v, ','))
        checkpoints.push_back(std::atoi(std::string(c).c_str()));
    }
    if (std::strcmp(argv[i], "--tpe-startup") == 0) base.n_startup_trials = std::atoi(v);
    if (std::strcmp(argv[i], "--tpe-candidates") == 0) base.n_ei_candidates = std::atoi(v);
    if (std::strcmp(argv[i], "--tpe-gamma") == 0) base.gamma = std::atof(v);
    if (std::strcmp(argv[i], "--tpe-max-good") == 0) base.max_good = std::atoi(v);
    if (std::strcmp(argv[i], "--tpe-prior-weight") == 0) base.prior_weight = std::atof(v);
    if (std::strcmp(argv[i], "--tpe-bad-bins") == 0) base.bad_bins = std::atoi(v);
    if (std::strcmp(argv[i], "--tpe-exact-limit") == 0) base.exact_bad_limit = std::atoi(v);
    if (std::strcmp(argv[i], "--tpe-multivariate") == 0) base.multivariate = std::atoi(v) != 0;
    if (std::strcmp(argv[i], "--tpe-equal-mass") == 0)
      base.equal_kernel_heights = std::atoi(v) == 0;
  }
  if (quality_seeds > 0) {
    if (functions == "all") functions = "convrnn,branin,hartmann6";
    const std::vector<QualityFunction> all = QualityFunctions();
    std::FILE* dump = nullptr;
    if (!dump_path.empty() && (dump = std::fopen(dump_path.c_str(), "a")) == nullptr) {
      std::fprintf(stderr, "cannot open --dump %s\n", dump_path.c_str());
      return 2;
    }
    size_t start = 0;
    while (start <= functions.size()) {
      size_t end = functions.find(',', start);
      if (end == std::string::npos) end = functions.size();
      const std::string name = functions.substr(start, end - start);
      auto it = std::find_if(all.begin(), all.end(),
                             [&](const QualityFunction& f) { return f.name == name; });
      if (it == all.end()) {
        std::fprintf(stderr, "unknown --function %s\n", name.c_str());
        return 2;
      }
      Quality(*it, quality_seeds, base,
              samplers.empty() ? std::vector<std::string>{"random", "tpe", "evolution"} : samplers,
              checkpoints, dump);
      start = end + 1;
    }
    if (dump != nullptr) std::fclose(dump);
    return 0;
  }
  auto space = std::make_shared<const Space>(*Space::Parse(BenchSpace()));
  std::printf("space: %zu parameters\n", space->params().size());
  std::printf("%-10s %8s %10s %10s %10s %12s\n", "sampler", "trials", "p50_ms", "p99_ms", "mean_ms",
              "ingest_ms");
  if (samplers.empty()) samplers = {"tpe", "evolution", "random"};
  for (const std::string& name : samplers) {
    const char* algorithm = name.c_str();
    for (int n : {100, 1000, 10000}) {
      History history;
      Rng rng(n);
      for (int t = 0; t < n; ++t) {
        Assignment a = space->Sample(rng);
        history.Finish(t, TrialState::kCompleted, {Objective(*space->ToSpec(a))}, a);
      }
      SamplerOptions options = base;
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
