// The store's latency-minded write path: a lease that inserts its own trial
// in one transaction, batched deadline and last-seen writes, and group
// commit on the writer thread (db/sqlite_store.h).
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "tests/db/test_store.h"
#include "util/stage_stats.h"

namespace convrnn::db::testing {
namespace {

LeaseRequest Request(const Fixture& f, int64_t worker_id, int64_t now_us) {
  return {worker_id, f.campaign.id, now_us, now_us + 60 * kSecond};
}

int64_t LastSeen(Store& store, int64_t worker_id) {
  for (const Worker& w : Must(store.ListWorkers(0))) {
    if (w.id == worker_id) return w.last_seen_us;
  }
  FAIL("no worker " << worker_id);
  return 0;
}

TEST_CASE("LeaseOrInsertTrial leases a PENDING trial first, else inserts the proposal", "[db]") {
  TempDir dir;
  Fixture f(dir);
  const TrialProposal proposal{R"({"layers":[1]})", R"({"lr":0.2})"};

  LeaseOutcome made = Must(f.store->LeaseOrInsertTrial(Request(f, f.worker.id, kT0), proposal));
  REQUIRE(made.trial.has_value());
  CHECK(made.inserted);
  CHECK(made.trial->number == 1);
  CHECK(made.trial->spec_json == proposal.spec_json);
  CHECK(made.trial->state == TrialState::kLeased);
  CHECK(made.trial->worker_id == f.worker.id);
  CHECK(made.trial->lease_token != 0);

  // A requeued (or enqueued) trial goes first; the proposal is not stored.
  Trial pending = f.AddTrial(kT0 + 1);
  LeaseOutcome taken =
      Must(f.store->LeaseOrInsertTrial(Request(f, f.other_worker.id, kT0 + 2), proposal));
  REQUIRE(taken.trial.has_value());
  CHECK_FALSE(taken.inserted);
  CHECK(taken.trial->id == pending.id);
  CHECK(Must(f.store->CountTrials(f.campaign.id)).total() == 2);

  // Its events: created then leased, as with InsertTrial + LeaseTrial.
  std::vector<Event> events = Must(f.store->ListEvents(f.campaign.id, 0, 100));
  std::vector<std::string> types;
  for (const Event& e : events) {
    if (e.trial_id == made.trial->id) types.push_back(e.type);
  }
  CHECK(types ==
        std::vector<std::string>{std::string(kEventTrialCreated), std::string(kEventTrialLeased)});
}

TEST_CASE("LeaseOrInsertTrial is one transaction: a failure leaves nothing behind", "[db]") {
  TempDir dir;
  Fixture f(dir);
  const TrialProposal proposal{R"({"layers":[1]})", "{}"};
  // Unknown worker: refused before anything is inserted.
  CHECK(f.store->LeaseOrInsertTrial(Request(f, 9999, kT0 + 5), proposal).status().code() ==
        absl::StatusCode::kNotFound);
  // Unknown campaign: the worker's last-seen write is rolled back with it.
  LeaseRequest bad = Request(f, f.worker.id, kT0 + 7);
  bad.campaign_id = 9999;
  CHECK(f.store->LeaseOrInsertTrial(bad, proposal).status().code() == absl::StatusCode::kNotFound);
  CHECK(LastSeen(*f.store, f.worker.id) == kT0);
  CHECK(Must(f.store->CountTrials(f.campaign.id)).total() == 0);
  LeaseRequest with_trial = Request(f, f.worker.id, kT0);
  with_trial.trial_id = 1;
  CHECK(f.store->LeaseOrInsertTrial(with_trial, proposal).status().code() ==
        absl::StatusCode::kInvalidArgument);
}

TEST_CASE("ExtendLeases raises live deadlines in one call and names the lost leases", "[db]") {
  TempDir dir;
  Fixture f(dir);
  f.AddTrial();
  f.AddTrial();
  Trial a = f.Lease(f.worker.id, kT0, 10);
  Trial b = f.Lease(f.other_worker.id, kT0, 10);
  MustOk(f.store->CompleteTrial(b.lease_token, R"({"val_top1":0.5})", kT0 + kSecond).status());
  std::vector<int64_t> lost = Must(f.store->ExtendLeases(
      {{a.lease_token, kT0 + 40 * kSecond}, {b.lease_token, kT0 + 40 * kSecond}, {777, kT0}},
      kT0 + 2 * kSecond));
  CHECK(lost == std::vector<int64_t>{b.lease_token, 777});
  CHECK(Must(f.store->GetTrial(a.id)).lease_deadline_us == kT0 + 40 * kSecond);
  // Never lowered.
  MustOk(f.store->ExtendLeases({{a.lease_token, kT0 + 20 * kSecond}}, kT0 + 3 * kSecond).status());
  CHECK(Must(f.store->GetTrial(a.id)).lease_deadline_us == kT0 + 40 * kSecond);
}

TEST_CASE("TouchWorkers records last-seen times and skips unknown workers", "[db]") {
  TempDir dir;
  Fixture f(dir);
  MustOk(f.store->TouchWorkers(
      {{f.worker.id, kT0 + 5 * kSecond}, {4242, kT0}, {f.other_worker.id, kT0 + 6 * kSecond}}));
  CHECK(LastSeen(*f.store, f.worker.id) == kT0 + 5 * kSecond);
  CHECK(LastSeen(*f.store, f.other_worker.id) == kT0 + 6 * kSecond);
  MustOk(f.store->TouchWorkers({}));
}

TEST_CASE("concurrent writes share commits and each is acknowledged only when stored", "[db]") {
  TempDir dir;
  Fixture f(dir);  // sync_full: every batch is fsynced before its calls return
  StageHistogram& batches = Stage("store.write.batch_calls");
  StageHistogram& fsyncs = Stage("store.write.fsync");
  const int64_t batches0 = batches.count(), fsyncs0 = fsyncs.count();
  constexpr int kThreads = 16, kPerThread = 25;
  std::vector<std::thread> threads;
  std::vector<std::vector<int64_t>> ids(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        absl::StatusOr<Trial> trial = f.store->InsertTrial(f.campaign.id, "{}", "{}", kT0 + i);
        if (trial.ok()) ids[t].push_back(trial->id);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  int64_t stored = 0;
  for (const auto& v : ids) stored += static_cast<int64_t>(v.size());
  CHECK(stored == kThreads * kPerThread);
  // Every acknowledged trial is there, each number once.
  CHECK(Must(f.store->CountTrials(f.campaign.id)).total() == kThreads * kPerThread);
  const int64_t commits = batches.count() - batches0;
  CHECK(commits >= 1);
  CHECK(commits <= kThreads * kPerThread);
  // One fsync per committed batch at most (a group fsync may cover several).
  CHECK(fsyncs.count() - fsyncs0 >= 1);
  CHECK(fsyncs.count() - fsyncs0 <= commits);
}

TEST_CASE("a write whose commit cannot be fsynced is not acknowledged", "[db]") {
  TempDir dir;
  const std::string path = dir.File("store.db");
  std::unique_ptr<Store> store = Must(Store::Open(path));
  // The WAL's name is gone (an operator's rm, a broken volume): SQLite
  // still appends to the file it holds open, but nothing can fsync it.
  REQUIRE(std::filesystem::remove(path + "-wal"));
  absl::StatusOr<Campaign> made = store->CreateCampaign({"demo", "{}", 1}, kT0);
  REQUIRE_FALSE(made.ok());
  CHECK(made.status().code() == absl::StatusCode::kUnavailable);
  CHECK_THAT(std::string(made.status().message()),
             Catch::Matchers::Contains("store.db-wal") && Catch::Matchers::Contains("fsync"));
}

TEST_CASE("with sync off nothing waits for an fsync", "[db]") {
  TempDir dir;
  Options options;
  options.sync_full = false;
  StageHistogram& fsyncs = Stage("store.write.fsync");
  const int64_t before = fsyncs.count();
  Fixture f(dir, 3, options);
  f.AddTrial();
  CHECK(fsyncs.count() == before);
}

}  // namespace
}  // namespace convrnn::db::testing
