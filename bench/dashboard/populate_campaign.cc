// Fills a coordinator database with one finished campaign of N trials, run
// in process on a fake clock (three epochs each, a synthetic curve, ASHA
// pruning), so the dashboard can be measured on a 10,000-trial campaign
// without running 10,000 trainings:
//   populate_campaign --db runs/dash10k.db --trials 10000
// Then: convrnn-server --db runs/dash10k.db --http 127.0.0.1:8080.
#include <CLI/CLI.hpp>
#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>

#include "server/coordinator.h"
#include "util/clock.h"

namespace {

using nlohmann::json;

json Campaign(int trials) {
  return {
      {"name", "dashboard-" + std::to_string(trials)},
      {"space",
       {{"input", {{"channels", 1}, {"height", 28}, {"width", 28}}},
        {"num_classes", 10},
        {"time", {{"steps", 6}}},
        {"layers",
         {{{"channels", 16}, {"kernel", 3}, {"cell", {{"type", "feedforward"}}}},
          {{"channels", 32},
           {"kernel", 3},
           {"pool", true},
           {"cell",
            {{"choice",
              {{{"type", "feedforward"}},
               {{"type", "gru"}},
               {{"type", "rgc"}, {"tau_kernel", {{"choice", {1, 3, 5}}}}}}}}}},
          {{"channels", {{"int", {32, 96}}, {"step", 32}}},
           {"kernel", 3},
           {"pool", true},
           {"cell", {{"choice", {{{"type", "lstm"}}, {{"type", "time_decay"}}}}}}}}},
        {"feedback", {{"candidates", "all_descending"}}},
        {"train", {{"lr", {{"loguniform", {0.001, 0.3}}}}, {"epochs", 3}}}}},
      {"search",
       {{"algorithm", "random"},
        {"max_trials", trials},
        {"max_parallel", 8},
        {"early_stopping",
         {{"rule", "asha"}, {"reduction_factor", 3}, {"min_resource", 1}, {"max_resource", 3}}}}},
      {"objectives",
       {{{"metric", "val_top1"}, {"goal", "max"}}, {{"metric", "params"}, {"goal", "min"}}}}};
}

// A curve that rises toward a plateau set by the learning rate and the cell.
double Top1(const json& params, int epoch) {
  const double lr = params.value("train.lr", 0.01);
  const double plateau = 0.9 - 0.15 * std::pow(std::log10(lr / 0.03), 2) -
                         (params.value("layers[1].cell.type", "") == "rgc" ? 0.0 : 0.04);
  return plateau * (1 - std::exp(-1.2 * epoch));
}

}  // namespace

int main(int argc, char** argv) {
  std::string db_path;
  int trials = 10000;
  CLI::App app{"populate_campaign: one finished campaign for dashboard measurements"};
  app.add_option("--db", db_path, "SQLite file (created)")->required();
  app.add_option("--trials", trials, "Trials in the campaign");
  CLI11_PARSE(app, argc, argv);

  convrnn::FakeClock clock;
  convrnn::db::Options store_options;
  store_options.sync_full = false;
  auto store = convrnn::db::Store::Open(db_path, store_options);
  if (!store.ok()) return std::cerr << store.status() << "\n", 1;
  convrnn::server::CoordinatorOptions options;
  options.start_reaper = false;
  auto c = convrnn::server::Coordinator::Create(**store, clock, options);
  if (!c.ok()) return std::cerr << c.status() << "\n", 1;
  auto launched = (*c)->Launch(Campaign(trials).dump());
  if (!launched.ok()) return std::cerr << launched.status() << "\n", 1;
  convrnn::db::Worker w;
  w.hostname = "populate";
  w.device = "cpu";
  const int64_t worker = (*(*c)->RegisterWorker(w)).worker_id;
  for (int i = 0; i < trials; ++i) {
    auto grant = (*c)->LeaseTrial(worker);
    if (!grant.ok() || !grant->has_trial) return std::cerr << "no trial to lease\n", 1;
    const json params = json::parse(grant->trial.params_json);
    bool stopped = false;
    for (int epoch = 1; epoch <= 3 && !stopped; ++epoch) {
      clock.Advance(absl::Seconds(20));
      auto r =
          (*c)->ReportProgress(worker, grant->trial.lease_token, epoch,
                               {{"val_top1", Top1(params, epoch)}, {"train_loss", 2.0 / epoch}});
      if (!r.ok()) return std::cerr << r.status() << "\n", 1;
      stopped = r->stop;
    }
    if (!stopped) {
      auto done = (*c)->Complete(worker, grant->trial.lease_token, {{"val_top1", Top1(params, 3)}});
      if (!done.ok()) return std::cerr << done.status() << "\n", 1;
    }
  }
  std::cout << json{{"campaign_id", launched->campaign.id}, {"trials", trials}}.dump() << "\n";
  return 0;
}
