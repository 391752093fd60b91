// Coordinator work per trial (lease, one progress report, complete) on one
// campaign as its stored trials grow from 0 to --trials, in process (no
// gRPC, no network): shows that no per-trial path reads every trial.
//
//   convrnn_trial_overhead_bench --trials 10000 [--sync full|normal]
//
// Prints, for windows of 200 trials ending at 200, 1,000, 5,000 and 10,000
// stored trials, the median and p99 microseconds of one whole trial cycle,
// and of Best (top 10) and GetCampaign (counts) at that size.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "db/store.h"
#include "server/coordinator.h"
#include "util/clock.h"
#include "util/posix_fs.h"

namespace {

using SteadyClock = std::chrono::steady_clock;

double Micros(SteadyClock::time_point since) {
  return std::chrono::duration<double, std::micro>(SteadyClock::now() - since).count();
}

double Percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(q * (v.size() - 1))];
}

std::string Campaign(int max_trials) {
  nlohmann::json c = nlohmann::json::parse(R"({
    "name": "overhead",
    "data": {"dataset": "fashion-mnist"},
    "space": {
      "input": {"channels": 1, "height": 28, "width": 28}, "num_classes": 10,
      "time": {"steps": 5},
      "layers": [
        {"channels": 16, "kernel": 3, "pool": true, "cell": {"type": "feedforward"}},
        {"channels": {"choice": [16, 32]}, "kernel": 3, "pool": true,
         "cell": {"choice": [{"type": "lstm"}, {"type": "rgc", "tau_kernel": {"choice": [3, 5]}}]}},
        {"channels": 32, "kernel": 3, "pool": true, "cell": {"type": "gru"}}
      ],
      "feedback": {"candidates": "all_descending"},
      "train": {"lr": {"loguniform": [0.01, 0.1]}, "epochs": 1}
    },
    "search": {"algorithm": "tpe", "seed": 0, "max_trials": 1, "max_parallel": 1},
    "objectives": [{"metric": "val_top1", "goal": "max"}],
    "trial": {"max_attempts": 3, "lease_seconds": 60}
  })");
  c["search"]["max_trials"] = max_trials;
  return c.dump();
}

#define CHECK_OK(expr)                                                         \
  do {                                                                         \
    const auto& _s = (expr);                                                   \
    if (!_s.ok()) {                                                            \
      std::fprintf(stderr, "%s: %s\n", #expr, _s.status().ToString().c_str()); \
      return 1;                                                                \
    }                                                                          \
  } while (0)

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Coordinator overhead per trial as stored trials grow"};
  int trials = 10000;
  std::string sync = "normal";
  std::string dir = (std::filesystem::temp_directory_path() / "convrnn_trial_overhead").string();
  app.add_option("--trials", trials, "Trials to run through the coordinator");
  app.add_option("--sync", sync, "SQLite synchronous mode: full or normal")
      ->check(CLI::IsMember({"full", "normal"}));
  app.add_option("--dir", dir, "Scratch directory (emptied)");
  CLI11_PARSE(app, argc, argv);

  if (absl::Status s = convrnn::RemoveTree(dir); !s.ok()) {
    std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
    return 1;
  }
  std::filesystem::create_directories(dir);
  convrnn::db::Options store_options;
  store_options.sync_full = sync == "full";
  auto store = convrnn::db::Store::Open(dir + "/bench.db", store_options);
  CHECK_OK(store);
  convrnn::server::CoordinatorOptions options;
  options.start_reaper = false;
  auto coordinator =
      convrnn::server::Coordinator::Create(**store, *convrnn::Clock::Real(), options);
  CHECK_OK(coordinator);
  convrnn::server::Coordinator& c = **coordinator;
  auto campaign = c.Launch(Campaign(trials));
  CHECK_OK(campaign);
  const int64_t campaign_id = campaign->campaign.id;
  convrnn::db::Worker w;
  w.hostname = "bench";
  w.device = "cpu";
  auto reg = c.RegisterWorker(w);
  CHECK_OK(reg);

  const std::vector<int> marks = {200, 1000, 5000, 10000, 20000, 50000};
  const int window = 200;
  std::vector<double> cycle;
  std::printf("%10s %12s %12s %14s %16s\n", "trials", "cycle p50", "cycle p99", "Best(top10)",
              "GetCampaign");
  for (int i = 1; i <= trials; ++i) {
    auto start = SteadyClock::now();
    auto lease = c.LeaseTrial(reg->worker_id);
    CHECK_OK(lease);
    if (!lease->has_trial) {
      std::fprintf(stderr, "no trial to lease at %d\n", i);
      return 1;
    }
    const int64_t token = lease->trial.lease_token;
    const double value = 0.5 + 0.4 * ((i * 7919) % 1000) / 1000.0;
    CHECK_OK(
        c.ReportProgress(reg->worker_id, token, 1, {{"val_top1", value}, {"train_loss", 1.0}}));
    CHECK_OK(
        c.Complete(reg->worker_id, token, {{"val_top1", value}, {"params", 1e5}, {"flops", 1e7}}));
    cycle.push_back(Micros(start));
    if (std::find(marks.begin(), marks.end(), i) != marks.end() || i == trials) {
      std::vector<double> last(cycle.end() - std::min<size_t>(window, cycle.size()), cycle.end());
      auto q = SteadyClock::now();
      CHECK_OK(c.Best(campaign_id, 10, "val_top1", ""));
      double best_us = Micros(q);
      q = SteadyClock::now();
      CHECK_OK(c.GetCampaign(campaign_id));
      double get_us = Micros(q);
      std::printf("%10d %10.0f us %10.0f us %11.0f us %13.0f us\n", i, Percentile(last, 0.5),
                  Percentile(last, 0.99), best_us, get_us);
      std::fflush(stdout);
    }
  }
  return 0;
}
