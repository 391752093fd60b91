// The service end to end with real processes on 127.0.0.1: a campaign
// completes; a worker killed with SIGKILL mid-trial loses its lease and the
// trial is re-leased and completes; the server killed with SIGKILL mid-
// campaign and restarted finishes it with every trial accounted for once;
// bad input gets exit status 2.
#include <signal.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>

#include "tests/e2e/cluster.h"
#include "tests/e2e/process.h"

namespace convrnn::e2e {
namespace {

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
    if (event.value("type", "") == "trial_completed")
      ++completions[event.at("trial_id").get<int64_t>()];
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
