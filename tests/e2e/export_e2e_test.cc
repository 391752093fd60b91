// Export and importance end to end: a campaign run by simulated workers
// (convrnn_load_driver),
// then `convrnn export` as CSV / JSON (learning curves and timestamps),
// `--format optuna` read back by Optuna 3.1 (Debian's python3-optuna) with
// its plots, and `convrnn importance`.
#include <algorithm>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "tests/e2e/cluster.h"
#include "tests/e2e/process.h"

namespace convrnn::e2e {
namespace {

const std::string kLoadDriver = kBin + "/bench/load/convrnn_load_driver";

// 24 trials, early stopping so some are pruned, three epochs each, simulated.
int64_t SimulatedCampaign(Cluster& cluster) {
  json campaign = TinyCampaign(/*max_trials=*/24, /*max_parallel=*/4, /*epochs=*/3, 60);
  campaign["name"] = "export-e2e";
  campaign["search"]["early_stopping"] = {
      {"rule", "asha"}, {"reduction_factor", 2}, {"min_resource", 1}, {"max_resource", 3}};
  const int64_t id = cluster.Launch(campaign);
  Process workers(
      {kLoadDriver, "--server", cluster.Address(), "--workers", "2", "--think-ms", "5", "--epochs",
       "3", "--heartbeats-per-epoch", "0", "--warmup-s", "0", "--duration-s", "120"},
      cluster.dir() + "/load-driver");
  cluster.WaitCompleted(id, 120s);
  return id;
}

TEST_CASE("export: JSON and CSV carry learning curves and timestamps, and Optuna reads the study",
          "[e2e]") {
  Cluster cluster("export");
  const int64_t id = SimulatedCampaign(cluster);
  const std::string sid = std::to_string(id);

  RunResult exported = cluster.Client({"export", sid, "--format", "json"});
  REQUIRE(exported.exit_code == 0);
  const json trials = json::parse(exported.out);
  REQUIRE(trials.size() == 24);
  int completed = 0, pruned = 0;
  for (const json& t : trials) {
    CHECK(t["created_unix_us"].get<int64_t>() > 0);
    CHECK(t["updated_unix_us"] >= t["created_unix_us"]);
    REQUIRE(!t["epochs"].empty());
    CHECK(t["epochs"][0]["metrics"].contains("val_top1"));
    if (t["state"] == "COMPLETED") {
      ++completed;
      CHECK(t["epochs"].size() == 3);
    }
    if (t["state"] == "PRUNED") {
      ++pruned;
      CHECK(t["epochs"].size() < 3);  // cut short
    }
  }
  CHECK(completed + pruned == 24);
  CHECK(pruned > 0);

  RunResult csv = cluster.Client({"export", sid, "--format", "csv"});
  REQUIRE(csv.exit_code == 0);
  CHECK(std::count(csv.out.begin(), csv.out.end(), '\n') == 25);
  CHECK(csv.out.find(",epochs_json\r\n") != std::string::npos);

  const std::string storage = "sqlite:///" + cluster.dir() + "/study.db";
  json written = cluster.ClientJson({"export", sid, "--format", "optuna", "--storage", storage});
  CHECK(written["trials"] == 24);
  // A second export into the same file is refused (bad input), not mixed in.
  RunResult again = cluster.Client({"export", sid, "--format", "optuna", "--storage", storage});
  CHECK(again.exit_code == 2);

  RunResult check = Run({"/usr/bin/python3", CONVRNN_SOURCE_DIR "/tests/e2e/optuna_study_check.py",
                         storage, "export-e2e"},
                        120s, cluster.dir() + "/optuna-check");
  INFO(check.err);
  REQUIRE(check.exit_code == 0);
  const json study = json::parse(check.out);
  CHECK(study["optuna"] == "3.1.0");
  CHECK(study["trials"] == 24);
  CHECK(study["states"]["COMPLETE"] == completed);
  CHECK(study["states"]["PRUNED"] == pruned);
  CHECK(study["directions"] == json::array({"MAXIMIZE"}));
  CHECK(study["history_points"].get<int>() >= completed);
  CHECK(study["curves"] == 24);  // one learning curve per trial
  CHECK(!study["importance_params"].empty());
  CHECK(study["best_params"].contains("train.lr"));
  std::vector<double> values;
  double best = 0;
  for (const json& t : trials) {
    if (t["state"] != "COMPLETED") continue;
    values.push_back(t["final_metrics"]["val_top1"].get<double>());
    best = std::max(best, values.back());
  }
  std::sort(values.begin(), values.end());
  CHECK(study["complete_values"].get<std::vector<double>>() == values);
  CHECK(study["best_value"].get<double>() == best);
  CHECK(study["trial_attrs"] ==
        json::array({"convrnn_attempt", "convrnn_spec", "convrnn_state", "convrnn_trial_id"}));
}

TEST_CASE("importance: the table and --json of a finished campaign", "[e2e]") {
  Cluster cluster("importance");
  const int64_t id = SimulatedCampaign(cluster);
  json r = cluster.ClientJson({"importance", std::to_string(id)});
  CHECK(r["metric"] == "val_top1");
  CHECK(r["trials"].get<int>() >= 2);
  std::set<std::string> names;
  double sum = 0;
  for (const json& p : r["params"]) {
    names.insert(p["name"].get<std::string>());
    sum += p["importance"].get<double>();
  }
  CHECK(names ==
        std::set<std::string>{"layers[1].cell.type", "feedback[1->0].enabled", "train.lr"});
  CHECK(sum == Approx(1.0));
  RunResult table = cluster.Client({"importance", std::to_string(id)});
  CHECK(table.exit_code == 0);
  CHECK(table.out.find("train.lr") != std::string::npos);
  CHECK(cluster.Client({"importance", "999"}).exit_code == 2);
}

}  // namespace
}  // namespace convrnn::e2e
