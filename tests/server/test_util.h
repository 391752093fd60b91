// Helpers for the server tests: a temporary directory, StatusOr unwrapping,
// a small campaign, and a coordinator over a real store on a fake clock.
#ifndef CONVRNN_TESTS_SERVER_TEST_UTIL_H_
#define CONVRNN_TESTS_SERVER_TEST_UTIL_H_

#include <stdlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "db/store.h"
#include "server/coordinator.h"
#include "tests/test_support.h"
#include "util/clock.h"

namespace convrnn::server::testing {

using ::convrnn::testing::Must;
using ::convrnn::testing::MustOk;
using ::convrnn::testing::TempDir;

// A small valid campaign: two layers, a choice of cell in the second, a
// searched learning rate. `patch` is merged over it (JSON merge patch).
inline nlohmann::json SmallCampaign(const nlohmann::json& patch = nlohmann::json::object()) {
  nlohmann::json campaign = R"({
    "name": "small",
    "data": {"dataset": "fashion-mnist", "train_limit": 100, "val_limit": 50},
    "space": {
      "input": {"channels": 1, "height": 28, "width": 28},
      "num_classes": 10,
      "time": {"steps": 4, "image_off": 4, "loss": "last"},
      "layers": [
        {"channels": 8, "kernel": 3, "stride": 2, "cell": {"type": "feedforward"}},
        {"channels": 8, "kernel": 3, "pool": true,
         "cell": {"choice": [{"type": "feedforward"}, {"type": "gru"},
                             {"type": "rgc", "tau_kernel": {"choice": [1, 3]}}]}}
      ],
      "feedback": {"candidates": "all_descending"},
      "train": {"lr": {"loguniform": [0.01, 0.1]}, "batch_size": 32, "epochs": 3}
    },
    "search": {"algorithm": "random", "seed": 7, "max_trials": 4, "max_parallel": 2},
    "objectives": [{"metric": "val_top1", "goal": "max"}, {"metric": "params", "goal": "min"}],
    "trial": {"max_attempts": 2, "lease_seconds": 10}
  })"_json;
  campaign.merge_patch(patch);
  return campaign;
}

// A spec inside SmallCampaign's space: a gru in layer 1, no feedback.
inline nlohmann::json GruSpec(double lr) {
  nlohmann::json spec = SmallCampaign()["space"];
  spec["layers"][1]["cell"] = {{"type", "gru"}};
  spec["feedback"] = nlohmann::json::array();
  spec["train"]["lr"] = lr;
  return spec;
}

inline constexpr int64_t kSecond = 1'000'000;

// A store in a temp dir and a coordinator on a fake clock, reaper off
// (tests call ReapOnce) unless asked.
struct Harness {
  explicit Harness(bool start_reaper = false) : reaper_on(start_reaper) { Open(); }
  ~Harness() { Close(); }

  void Open() {
    store = Must(db::Store::Open(dir.File("server.db")));
    CoordinatorOptions options;
    options.start_reaper = reaper_on;
    options.reap_interval = absl::Seconds(1);
    options.restart_grace_leases = restart_grace_leases;
    coordinator = Must(Coordinator::Create(*store, clock, options));
  }
  // A coordinator restart: everything in memory is dropped.
  void Close() {
    coordinator.reset();
    store.reset();
  }
  // SmallCampaign's lease is 10 s: a grace of 30 s from a restart.
  double restart_grace_leases = 3.0;
  void Restart() {
    Close();
    Open();
  }

  int64_t Worker(const std::string& host = "host") {
    db::Worker w;
    w.hostname = host;
    w.pid = 1;
    w.device = "cpu";
    w.version = "test";
    return Must(coordinator->RegisterWorker(w)).worker_id;
  }
  int64_t Launch(const nlohmann::json& campaign = SmallCampaign()) {
    return Must(coordinator->Launch(campaign.dump())).campaign.id;
  }
  // Leases a trial, failing the test when none is given.
  db::Trial Lease(int64_t worker_id) {
    LeaseGrant grant = Must(coordinator->LeaseTrial(worker_id));
    REQUIRE(grant.has_trial);
    return grant.trial;
  }
  db::Trial Get(int64_t trial_id) { return Must(coordinator->GetTrial(trial_id)).trial; }
  db::CampaignState State(int64_t campaign_id) {
    return Must(coordinator->GetCampaign(campaign_id)).campaign.state;
  }

  bool reaper_on;
  TempDir dir;
  FakeClock clock;
  std::unique_ptr<db::Store> store;
  std::unique_ptr<Coordinator> coordinator;
};

}  // namespace convrnn::server::testing

#endif  // CONVRNN_TESTS_SERVER_TEST_UTIL_H_
