// The service end to end with real processes on 127.0.0.1: a campaign
// completes; a worker killed with SIGKILL mid-trial loses its lease and the
// trial is re-leased and completes; the server killed with SIGKILL mid-
// campaign and restarted finishes it with every trial accounted for once;
// bad input gets exit status 2.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <thread>
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/e2e/process.h"

namespace convrnn::e2e {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const std::string kBin = CONVRNN_BINARY_DIR;
const std::string kServer = kBin + "/server/convrnn-server";
const std::string kWorker = kBin + "/worker/convrnn-worker";
const std::string kClient = kBin + "/client/convrnn";

// A server on a free loopback port with its database in `dir`, plus helpers
// to run the client against it.
class Cluster {
 public:
  explicit Cluster(const std::string& name) : dir_(TempDir(name)), port_(FreePort()) { StartServer(); }

  void StartServer() {
    ++server_starts_;
    server_ = std::make_unique<Process>(
        std::vector<std::string>{kServer, "--db", dir_ + "/campaigns.db", "--listen", Address()},
        dir_ + "/server" + std::to_string(server_starts_));
    REQUIRE(WaitForPort(port_, 30s));
  }
  void KillServer() {
    server_->Signal(SIGKILL);
    REQUIRE(server_->Wait(10s).has_value());
  }

  Process& StartWorker(std::vector<std::string> extra) {
    std::vector<std::string> argv = {kWorker, "--server", Address(), "--threads", "1",
                                     "--checkpoint-root", dir_ + "/checkpoints"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    workers_.push_back(std::make_unique<Process>(
        argv, dir_ + "/worker" + std::to_string(workers_.size())));
    return *workers_.back();
  }

  RunResult Client(std::vector<std::string> args) {
    std::vector<std::string> argv = {kClient, "--server", Address()};
    argv.insert(argv.end(), args.begin(), args.end());
    return Run(argv, 60s, dir_ + "/client" + std::to_string(++client_calls_));
  }
  json ClientJson(std::vector<std::string> args) {
    args.insert(args.begin(), "--json");
    RunResult r = Client(args);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    return json::parse(r.out);
  }

  int64_t Launch(const json& campaign) {
    const std::string file = dir_ + "/campaign" + std::to_string(++launches_) + ".json";
    std::ofstream(file) << campaign.dump(2);
    return ClientJson({"launch", file}).at("id").get<int64_t>();
  }

  json Status(int64_t id) { return ClientJson({"status", std::to_string(id)}); }

  // Waits until the campaign is completed; returns its final status.
  json WaitCompleted(int64_t id, std::chrono::seconds timeout) {
    json status;
    bool done = WaitFor(
        [&] {
          RunResult r = Client({"--json", "status", std::to_string(id)});
          if (r.exit_code != 0) return false;  // the server may be restarting
          status = json::parse(r.out);
          return status.at("state") == "completed";
        },
        timeout);
    std::string logs = "last status: " + status.dump() + "\n";
    for (auto& w : workers_) logs += "worker log: " + w->Stderr().substr(0, 3000) + "\n";
    logs += "server log: " + server_->Stderr().substr(0, 3000);
    INFO(logs);
    REQUIRE(done);
    return status;
  }

  std::string Address() const { return "127.0.0.1:" + std::to_string(port_); }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  int port_;
  std::unique_ptr<Process> server_;
  std::vector<std::unique_ptr<Process>> workers_;
  int server_starts_ = 0, client_calls_ = 0, launches_ = 0;
};

// A small space: two layers, the second a choice of cells, optional feedback.
json TinyCampaign(int max_trials, int max_parallel, int epochs, int lease_seconds) {
  return json::parse(R"({
    "name": "e2e",
    "data": {"dataset": "fashion-mnist", "train_limit": 512, "val_limit": 256},
    "space": {
      "input": {"channels": 1, "height": 28, "width": 28},
      "num_classes": 10,
      "time": {"steps": 4},
      "layers": [
        {"channels": 8, "kernel": 5, "stride": 2, "pool": true, "cell": {"type": "feedforward"}},
        {"channels": 12, "kernel": 3, "pool": true,
         "cell": {"choice": [{"type": "feedforward"}, {"type": "gru"},
                             {"type": "rgc", "cell_channels": 6}]}}
      ],
      "feedback": [{"from": 1, "to": 0, "enabled": {"choice": [false, true]}}],
      "train": {"lr": {"loguniform": [0.02, 0.1]}, "batch_size": 64, "epochs": 1, "seed": 0}
    },
    "search": {"algorithm": "random", "seed": 1, "max_trials": 4, "max_parallel": 2},
    "objectives": [{"metric": "val_top1", "goal": "max"}],
    "trial": {"max_attempts": 3, "lease_seconds": 60}
  })")
      .patch(json::array({{{"op", "replace"}, {"path", "/search/max_trials"}, {"value", max_trials}},
                          {{"op", "replace"}, {"path", "/search/max_parallel"}, {"value", max_parallel}},
                          {{"op", "replace"}, {"path", "/space/train/epochs"}, {"value", epochs}},
                          {{"op", "replace"}, {"path", "/trial/lease_seconds"}, {"value", lease_seconds}}}));
}

json AllTrials(Cluster& cluster, int64_t id) {
  json trials = cluster.ClientJson({"trials", std::to_string(id)});
  if (trials.is_object() && trials.contains("trials")) return trials["trials"];
  return trials;
}

// How many trial_completed events each trial has, from the replayed history.
std::map<int64_t, int> CompletionsPerTrial(Cluster& cluster, int64_t id) {
  RunResult watch = cluster.Client({"--json", "watch", std::to_string(id)});
  REQUIRE(watch.exit_code == 0);
  std::map<int64_t, int> completions;
  std::istringstream lines(watch.out);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    json event = json::parse(line);
    if (event.value("type", "") == "trial_completed") ++completions[event.at("trial_id").get<int64_t>()];
  }
  return completions;
}

TEST_CASE("a campaign of tiny trials trains and completes", "[e2e]") {
  Cluster cluster("complete");
  json campaign = TinyCampaign(/*max_trials=*/4, /*max_parallel=*/2, /*epochs=*/2, 60);
  campaign["data"]["train_limit"] = 2048;  // enough real training to beat chance clearly
  int64_t id = cluster.Launch(campaign);
  cluster.StartWorker({});
  cluster.StartWorker({});
  json status = cluster.WaitCompleted(id, 300s);
  CHECK(status["counts"]["completed"] == 4);
  CHECK(status["counts"]["failed"] == 0);

  json best = cluster.ClientJson({"best", std::to_string(id), "--top", "2"});
  json ranked = best.is_object() && best.contains("trials") ? best["trials"] : best;
  REQUIRE(ranked.size() == 2);
  double top = ranked[0]["final_metrics"]["val_top1"].get<double>();
  CHECK(top > 0.3);  // real training: well above chance (0.1)
  CHECK(top >= ranked[1]["final_metrics"]["val_top1"].get<double>());

  const std::string trial = std::to_string(ranked[0]["id"].get<int64_t>());
  RunResult dot = cluster.Client({"show", trial, "--format", "dot"});
  CHECK(dot.exit_code == 0);
  CHECK(dot.out.find("digraph") != std::string::npos);
  RunResult csv = cluster.Client({"export", std::to_string(id), "--format", "csv"});
  CHECK(csv.exit_code == 0);
  CHECK(std::count(csv.out.begin(), csv.out.end(), '\n') == 5);  // header + 4 trials
  RunResult pareto = cluster.Client({"pareto", std::to_string(id)});
  CHECK(pareto.exit_code == 0);
}

TEST_CASE("a worker killed mid-trial: the trial is re-leased and completes", "[e2e]") {
  Cluster cluster("worker_kill");
  int64_t id = cluster.Launch(TinyCampaign(/*max_trials=*/2, /*max_parallel=*/1, /*epochs=*/6,
                                           /*lease_seconds=*/2));
  Process& doomed = cluster.StartWorker({"--simulate", "--simulate-epoch-ms", "400"});
  REQUIRE(WaitFor([&] { return cluster.Status(id)["counts"]["running"] == 1; }, 60s));
  doomed.Signal(SIGKILL);
  REQUIRE(doomed.Wait(10s).has_value());
  cluster.StartWorker({"--simulate", "--simulate-epoch-ms", "100"});
  json status = cluster.WaitCompleted(id, 120s);
  CHECK(status["counts"]["completed"] == 2);
  json trials = AllTrials(cluster, id);
  REQUIRE(trials.size() == 2);
  CHECK(trials[0]["attempt"] == 2);  // the killed worker's lease expired once
  CHECK(trials[1]["attempt"] == 1);
  for (auto [trial, count] : CompletionsPerTrial(cluster, id)) CHECK(count == 1);
}

TEST_CASE("the server killed mid-campaign and restarted finishes it", "[e2e]") {
  Cluster cluster("server_kill");
  int64_t id = cluster.Launch(TinyCampaign(/*max_trials=*/6, /*max_parallel=*/2, /*epochs=*/3,
                                           /*lease_seconds=*/30));
  cluster.StartWorker({"--simulate", "--simulate-epoch-ms", "300"});
  cluster.StartWorker({"--simulate", "--simulate-epoch-ms", "300"});
  REQUIRE(WaitFor([&] { return cluster.Status(id)["counts"]["completed"] >= 2; }, 60s));
  cluster.KillServer();
  std::this_thread::sleep_for(1500ms);  // workers find it gone and back off
  cluster.StartServer();
  json status = cluster.WaitCompleted(id, 180s);
  CHECK(status["counts"]["completed"] == 6);
  CHECK(status["counts"]["total"] == 6);
  json trials = AllTrials(cluster, id);
  REQUIRE(trials.size() == 6);
  for (size_t i = 0; i < trials.size(); ++i) CHECK(trials[i]["number"] == i + 1);
  std::map<int64_t, int> completions = CompletionsPerTrial(cluster, id);
  CHECK(completions.size() == 6);
  for (auto [trial, count] : completions) CHECK(count == 1);
}

TEST_CASE("bad campaigns and unknown ids exit with status 2", "[e2e]") {
  Cluster cluster("bad_input");
  std::ofstream(cluster.dir() + "/not_json.json") << "{\"name\": ";
  RunResult r = cluster.Client({"launch", cluster.dir() + "/not_json.json"});
  CHECK(r.exit_code == 2);
  CHECK_FALSE(r.err.empty());

  json bad = TinyCampaign(2, 1, 1, 60);
  bad["space"]["layers"][1]["kernel"] = 4;
  std::ofstream(cluster.dir() + "/bad.json") << bad.dump();
  r = cluster.Client({"launch", cluster.dir() + "/bad.json"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("layers[1].kernel") != std::string::npos);

  for (auto args : std::vector<std::vector<std::string>>{
           {"status", "999"}, {"show", "12345"}, {"trials", "999"}, {"stop", "999"}}) {
    r = cluster.Client(args);
    INFO(args[0] << ": " << r.err);
    CHECK(r.exit_code == 2);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') <= 1);
  }

  RunResult unreachable =
      Run({kClient, "--server", "127.0.0.1:" + std::to_string(FreePort()), "campaigns"}, 60s,
          cluster.dir() + "/unreachable");
  CHECK(unreachable.exit_code == 1);
}

}  // namespace
}  // namespace convrnn::e2e
