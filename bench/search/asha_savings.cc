// Compute saved by early stopping on a synthetic learning-curve model.
//
//   build-search/bench/search/convrnn_asha_bench [--trials 200] [--workers 8] [--seeds 20]
//
// Each trial has a final accuracy a ~ U(0.60, 0.92) and a learning speed
// tau ~ U(1, 6) epochs: acc(e) = a - (a - 0.1) * exp(-e / tau) + N(0, 0.005),
// over a 27-epoch budget. Slow learners can end best, which is what makes
// early stopping risky. `workers` run trials side by side one epoch per
// round, report each epoch to the stopper, and take the next trial when
// theirs stops or finishes. Reported: epochs spent relative to running every
// trial to the budget, and how far the best fully trained trial falls short
// of the best trial overall.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "search/early_stopping.h"
#include "search/rng.h"

namespace convrnn::search {
namespace {

constexpr int kBudget = 27;

struct Curve {
  double final_acc, tau;
  double At(int epoch, Rng& rng) const {
    return final_acc - (final_acc - 0.1) * std::exp(-epoch / tau) + 0.005 * rng.Normal();
  }
};

struct Outcome {
  double epoch_fraction;  // epochs spent / (trials * budget)
  double regret;          // best final accuracy overall - best among fully trained
};

Outcome Simulate(EarlyStopper* stopper, int trials, int workers, uint64_t seed) {
  Rng rng(seed);
  std::vector<Curve> curves(trials);
  double best_overall = 0;
  for (Curve& c : curves) {
    c = {rng.Uniform(0.60, 0.92), rng.Uniform(1.0, 6.0)};
    best_overall = std::max(best_overall, c.final_acc);
  }
  std::vector<int> trial(workers, -1), epoch(workers, 0);
  int next = 0, spent = 0, done = 0;
  double best_trained = 0;
  while (done < trials) {
    for (int w = 0; w < workers; ++w) {
      if (trial[w] < 0) {
        if (next >= trials) continue;
        trial[w] = next++;
        epoch[w] = 0;
      }
      ++epoch[w];
      ++spent;
      const Curve& c = curves[trial[w]];
      const double acc = c.At(epoch[w], rng);
      const bool stop =
          stopper != nullptr && stopper->Decide(trial[w], epoch[w], acc) == Decision::kStop;
      if (epoch[w] == kBudget) best_trained = std::max(best_trained, c.final_acc);
      if (stop || epoch[w] == kBudget) {
        trial[w] = -1;
        ++done;
      }
    }
  }
  return {static_cast<double>(spent) / (trials * kBudget), best_overall - best_trained};
}

int Main(int argc, char** argv) {
  int trials = 200, workers = 8, seeds = 20;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--trials") == 0) trials = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--workers") == 0) workers = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--seeds") == 0) seeds = std::atoi(argv[i + 1]);
  }
  struct Rule {
    const char* name;
    EarlyStoppingOptions options;
  };
  EarlyStoppingOptions asha3, asha2, median;
  asha3.max_resource = asha2.max_resource = kBudget;
  asha2.reduction_factor = 2;
  median.rule = EarlyStoppingOptions::Rule::kMedian;
  median.warmup_epochs = 3;
  std::printf("%d trials, %d workers, %d-epoch budget, %d seeds (medians)\n", trials, workers,
              kBudget, seeds);
  std::printf("%-22s %14s %18s\n", "rule", "epochs_spent", "regret_best_acc");
  for (const Rule& rule : {Rule{"none (full budget)", {}}, Rule{"asha eta=3 min=1", asha3},
                           Rule{"asha eta=2 min=1", asha2}, Rule{"median warmup=3", median}}) {
    std::vector<double> fraction, regret;
    for (int seed = 1; seed <= seeds; ++seed) {
      std::unique_ptr<EarlyStopper> stopper;
      if (std::strcmp(rule.name, "none (full budget)") != 0) {
        stopper = *CreateEarlyStopper(rule.options);
      }
      const Outcome o = Simulate(stopper.get(), trials, workers, seed);
      fraction.push_back(o.epoch_fraction);
      regret.push_back(o.regret);
    }
    std::sort(fraction.begin(), fraction.end());
    std::sort(regret.begin(), regret.end());
    std::printf("%-22s %13.1f%% %18.4f\n", rule.name, 100 * fraction[seeds / 2], regret[seeds / 2]);
  }
  return 0;
}

}  // namespace
}  // namespace convrnn::search

int main(int argc, char** argv) { return convrnn::search::Main(argc, argv); }
