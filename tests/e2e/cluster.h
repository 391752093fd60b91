// The e2e suites' cluster: a real convrnn-server on a free loopback port
// with its database in a fresh directory, workers started against it, and
// the `convrnn` client run as a process (plain or --json).
//
// Thread-safety: one Cluster per test.
#ifndef CONVRNN_TESTS_E2E_CLUSTER_H_
#define CONVRNN_TESTS_E2E_CLUSTER_H_

#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/e2e/process.h"

namespace convrnn::e2e {

using nlohmann::json;
using namespace std::chrono_literals;

inline const std::string kBin = CONVRNN_BINARY_DIR;
inline const std::string kServer = kBin + "/server/convrnn-server";
inline const std::string kWorker = kBin + "/worker/convrnn-worker";
inline const std::string kClient = kBin + "/client/convrnn";

// A server on a free loopback port with its database in `dir`, plus helpers
// to run the client against it.
class Cluster {
 public:
  // `server_args` are added to the server's command line, `client_args` to
  // every client call's (e.g. --token-file).
  explicit Cluster(const std::string& name, std::vector<std::string> server_args = {},
                   std::vector<std::string> client_args = {})
      : dir_(TempDir(name)),
        port_(FreePort()),
        server_args_(std::move(server_args)),
        client_args_(std::move(client_args)) {
    StartServer();
  }

  void StartServer() {
    ++server_starts_;
    std::vector<std::string> argv = {kServer, "--db", dir_ + "/campaigns.db", "--listen",
                                     Address()};
    argv.insert(argv.end(), server_args_.begin(), server_args_.end());
    server_ = std::make_unique<Process>(argv, dir_ + "/server" + std::to_string(server_starts_));
    REQUIRE(WaitForPort(port_, 30s));
  }
  void KillServer() {
    server_->Signal(SIGKILL);
    REQUIRE(server_->Wait(10s).has_value());
  }

  Process& StartWorker(std::vector<std::string> extra) {
    std::vector<std::string> argv = {kWorker,
                                     "--server",
                                     Address(),
                                     "--threads",
                                     "1",
                                     "--checkpoint-root",
                                     dir_ + "/checkpoints",
                                     "--spool-dir",
                                     dir_ + "/spool"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    workers_.push_back(
        std::make_unique<Process>(argv, dir_ + "/worker" + std::to_string(workers_.size())));
    return *workers_.back();
  }

  RunResult Client(std::vector<std::string> args) {
    std::vector<std::string> argv = {kClient, "--server", Address()};
    argv.insert(argv.end(), client_args_.begin(), client_args_.end());
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
  std::vector<std::string> server_args_, client_args_;
  std::unique_ptr<Process> server_;
  std::vector<std::unique_ptr<Process>> workers_;
  int server_starts_ = 0, client_calls_ = 0, launches_ = 0;
};

// A small space: two layers, the second a choice of cells, optional feedback.
inline json TinyCampaign(int max_trials, int max_parallel, int epochs, int lease_seconds) {
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
      .patch(json::array(
          {{{"op", "replace"}, {"path", "/search/max_trials"}, {"value", max_trials}},
           {{"op", "replace"}, {"path", "/search/max_parallel"}, {"value", max_parallel}},
           {{"op", "replace"}, {"path", "/space/train/epochs"}, {"value", epochs}},
           {{"op", "replace"}, {"path", "/trial/lease_seconds"}, {"value", lease_seconds}}}));
}

}  // namespace convrnn::e2e

#endif  // CONVRNN_TESTS_E2E_CLUSTER_H_
