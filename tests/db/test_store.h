// Helpers for the store tests: a temporary directory per test, a store with a
// campaign and a worker, and unwrapping of StatusOr.
#ifndef CONVRNN_TESTS_DB_TEST_STORE_H_
#define CONVRNN_TESTS_DB_TEST_STORE_H_

#include <stdlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "db/store.h"
#include "tests/test_support.h"

namespace convrnn::db::testing {

using ::convrnn::testing::Must;
using ::convrnn::testing::MustOk;
using ::convrnn::testing::TempDir;

// Stand-in for the server's clock: tests pass explicit microseconds.
inline constexpr int64_t kT0 = 1'700'000'000'000'000;  // Some instant in 2023.
inline constexpr int64_t kSecond = 1'000'000;

// A store at dir/<name> with one RUNNING campaign and one worker.
struct Fixture {
  explicit Fixture(const TempDir& dir, int max_attempts = 3, Options options = Options()) {
    store = Must(Store::Open(dir.File("store.db"), options));
    campaign = Must(store->CreateCampaign({"demo", R"({"name":"demo"})", max_attempts}, kT0));
    Worker w;
    w.hostname = "host-a";
    w.pid = 100;
    w.device = "cpu";
    w.version = "test";
    worker = Must(store->RegisterWorker(w, kT0));
    w.hostname = "host-b";
    other_worker = Must(store->RegisterWorker(w, kT0));
  }

  Trial AddTrial(int64_t now_us = kT0) {
    return Must(store->InsertTrial(campaign.id, R"({"layers":[]})", R"({"lr":0.1})", now_us));
  }

  // Leases the next trial to `worker_id` for `lease_s` seconds from now_us.
  Trial Lease(int64_t worker_id, int64_t now_us, int64_t lease_s = 60) {
    std::optional<Trial> trial =
        Must(store->LeaseTrial({worker_id, campaign.id, now_us, now_us + lease_s * kSecond}));
    REQUIRE(trial.has_value());
    return *trial;
  }

  std::unique_ptr<Store> store;
  Campaign campaign;
  Worker worker;
  Worker other_worker;
};

}  // namespace convrnn::db::testing

#endif  // CONVRNN_TESTS_DB_TEST_STORE_H_
