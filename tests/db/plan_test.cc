// Hot queries stay indexed with 10,000 stored trials: checked on the query
// plans (EXPLAIN QUERY PLAN), not on timings, so the test is stable on a busy
// machine and fails the day someone drops or bypasses an index.
#include <regex>

#include "db/sqlite_store.h"
#include "tests/db/test_store.h"

namespace convrnn::db::testing {
namespace {

TEST_CASE("hot queries use indexes with ten thousand stored trials", "[db]") {
  TempDir dir;
  Options options;
  options.sync_full = false;
  auto store = Must(SqliteStore::Open(dir.File("big.db"), options));
  Worker w;
  w.hostname = "h";
  Worker worker = Must(store->RegisterWorker(w, kT0));
  // Three campaigns; most trials finished, a few pending: the shape of a
  // long-running coordinator, where scanning every trial would hurt.
  std::vector<Campaign> campaigns;
  for (int c = 0; c < 3; ++c) {
    campaigns.push_back(Must(store->CreateCampaign({"c", "{}", 3}, kT0)));
  }
  constexpr int kTrials = 10'000;
  for (int i = 0; i < kTrials; ++i) {
    const Campaign& c = campaigns[i % 3];
    Must(store->InsertTrial(c.id, R"({"layers":[]})", "{}", kT0 + i));
    if (i < kTrials - 30) {
      std::optional<Trial> t = Must(store->LeaseTrial({worker.id, c.id, kT0 + i, kT0 + i + 1}));
      REQUIRE(t.has_value());
      Must(store->CompleteTrial(t->lease_token, R"({"val_top1":0.5})", kT0 + i));
    }
  }
  TrialCounts counts = Must(store->CountTrials(campaigns[0].id));
  CHECK(counts.total() == (kTrials + 2) / 3);
  CHECK(counts.pending == 10);

  // A full scan of `trials` (aliased t) shows as "SCAN trials" or "SCAN t"
  // without a covering index; a SEARCH or an index scan of a small table is fine.
  const std::regex full_scan(R"((^|; )SCAN (trials|t)( |;|$)(?!USING))");
  auto plans = Must(store->ExplainHotQueries());
  REQUIRE(plans.size() >= 10);
  for (const auto& [name, plan] : plans) {
    INFO(name << ": " << plan);
    CHECK_FALSE(std::regex_search(plan, full_scan));
    CHECK((plan.find("USING INDEX") != std::string::npos ||
           plan.find("USING COVERING INDEX") != std::string::npos ||
           plan.find("USING INTEGER PRIMARY KEY") != std::string::npos ||
           plan.find("USING PRIMARY KEY") != std::string::npos));
  }
  auto plan_of = [&](const std::string& name) {
    for (const auto& [n, p] : plans) {
      if (n == name) return p;
    }
    return std::string();
  };
  // Counts come from the trigger-maintained table, by its primary key.
  CHECK(plan_of("count_trials").find("trial_counts USING PRIMARY KEY") != std::string::npos);
  CHECK(plan_of("expired_leases").find("trials_by_deadline") != std::string::npos);
  CHECK(plan_of("trial_by_lease").find("trials_by_lease") != std::string::npos);

  // And the operations behind them still behave at this size.
  std::optional<Trial> t =
      Must(store->LeaseTrial({worker.id, 0, kT0 + kTrials, kT0 + kTrials + 5}));
  REQUIRE(t.has_value());
  CHECK(Must(store->ExpireLeases(kT0 + kTrials + 10)).size() == 1);
}

}  // namespace
}  // namespace convrnn::db::testing
