// Readers run while the writer writes: reads never fail, never wait for the
// write lock, and always see a consistent snapshot.
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "tests/db/test_store.h"

namespace convrnn::db::testing {
namespace {

TEST_CASE("concurrent readers see consistent snapshots while the writer writes", "[db]") {
  TempDir dir;
  Options options;
  options.sync_full = false;  // Many small commits; durability is tested elsewhere.
  options.read_connections = 3;
  Fixture f(dir, 3, options);
  constexpr int kTrials = 300;
  std::atomic<bool> done{false};
  std::atomic<int> writer_errors{0};

  std::thread writer([&] {
    for (int i = 0; i < kTrials; ++i) {
      const int64_t now = kT0 + i;
      bool ok = f.store->InsertTrial(f.campaign.id, "{}", "{}", now).ok();
      absl::StatusOr<std::optional<Trial>> t =
          f.store->LeaseTrial({f.worker.id, f.campaign.id, now, now + kSecond});
      ok = ok && t.ok() && t->has_value();
      if (ok && i % 2 == 0) {
        ok = f.store->CompleteTrial((*t)->lease_token, R"({"val_top1":0.5})", now).ok();
      }
      if (!ok) ++writer_errors;
    }
    done = true;
  });

  // Each reader checks: totals never go down; a trial counted is in exactly
  // one state (sum of states == total of an atomic snapshot); reads succeed.
  constexpr int kReaders = 4;  // More readers than connections: they queue.
  std::vector<int> read_errors(kReaders, 0), went_back(kReaders, 0), reads(kReaders, 0);
  std::vector<std::thread> readers;
  for (int r = 0; r < kReaders; ++r) {
    readers.emplace_back([&, r] {
      int64_t last_total = 0;
      while (!done) {
        absl::StatusOr<TrialCounts> counts = f.store->CountTrials(f.campaign.id);
        absl::StatusOr<std::vector<Event>> events = f.store->ListEvents(f.campaign.id, 0, 50);
        if (!counts.ok() || !events.ok()) {
          ++read_errors[r];
          continue;
        }
        if (counts->total() < last_total) ++went_back[r];
        last_total = counts->total();
        ++reads[r];
      }
    });
  }
  writer.join();
  for (std::thread& t : readers) t.join();
  CHECK(writer_errors == 0);
  for (int r = 0; r < kReaders; ++r) {
    INFO("reader " << r);
    CHECK(read_errors[r] == 0);
    CHECK(went_back[r] == 0);
    CHECK(reads[r] > 0);
  }
  TrialCounts final_counts = Must(f.store->CountTrials(f.campaign.id));
  CHECK(final_counts.total() == kTrials);
  CHECK(final_counts.completed == kTrials / 2);
  CHECK(final_counts.leased == kTrials / 2);
}

TEST_CASE("reads do not wait while another connection holds the write lock", "[db]") {
  TempDir dir;
  Options options;
  options.busy_timeout_ms = 200;
  Fixture f(dir, 3, options);
  f.AddTrial();
  // A second connection (think: an operator's sqlite3 shell) takes the write
  // lock and keeps it.
  sqlite3* other = nullptr;
  REQUIRE(sqlite3_open(dir.File("store.db").c_str(), &other) == SQLITE_OK);
  REQUIRE(sqlite3_exec(other, "BEGIN IMMEDIATE; UPDATE campaigns SET name = 'x';", nullptr, nullptr,
                       nullptr) == SQLITE_OK);

  auto start = std::chrono::steady_clock::now();
  TrialCounts counts = Must(f.store->CountTrials(f.campaign.id));
  auto read_time = std::chrono::steady_clock::now() - start;
  CHECK(counts.pending == 1);
  CHECK(Must(f.store->GetCampaign(f.campaign.id)).name == "demo");  // Uncommitted: unseen.
  CHECK(read_time < std::chrono::milliseconds(150));                // Did not sit in busy_timeout.

  // A write waits busy_timeout_ms, then fails as UNAVAILABLE naming the file.
  absl::Status write = f.store->InsertTrial(f.campaign.id, "{}", "{}", kT0).status();
  CHECK(write.code() == absl::StatusCode::kUnavailable);
  CHECK(std::string(write.message()).find("store.db") != std::string::npos);

  REQUIRE(sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(other);
  Must(f.store->InsertTrial(f.campaign.id, "{}", "{}", kT0));
  CHECK(Must(f.store->CountTrials(f.campaign.id)).pending == 2);
}

TEST_CASE("group commit: a failing call in a batch leaves the others committed", "[db]") {
  TempDir dir;
  Fixture f(dir);
  constexpr int kThreads = 8, kPerThread = 60;
  std::atomic<int> inserted{0}, refused{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const int64_t now = kT0 + t * kPerThread + i;
        if (f.store->InsertTrial(f.campaign.id, "{}", "{}", now).ok()) ++inserted;
        // A stale token: fails inside the shared transaction, changes nothing.
        absl::Status s = f.store->CompleteTrial(987654321, R"({"val_top1":1})", now).status();
        (s.code() == absl::StatusCode::kFailedPrecondition ? refused : other)++;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  CHECK(inserted == kThreads * kPerThread);
  CHECK(refused == kThreads * kPerThread);
  CHECK(other == 0);
  f.store.reset();  // every acknowledged call is in the file
  auto store = Must(Store::Open(dir.File("store.db")));
  std::vector<Trial> all = Must(store->ListTrials({f.campaign.id, std::nullopt, 0, 100000}));
  REQUIRE(all.size() == size_t{kThreads * kPerThread});
  for (size_t i = 0; i < all.size(); ++i) CHECK(all[i].number == static_cast<int64_t>(i) + 1);
  CHECK(Must(store->CountTrials(f.campaign.id)).completed == 0);
}

TEST_CASE("ExtendLease only raises a deadline", "[db]") {
  TempDir dir;
  Fixture f(dir);
  f.AddTrial();
  Trial t = f.Lease(f.worker.id, kT0, /*lease_s=*/10);
  CHECK(Must(f.store->ExtendLease(t.lease_token, kT0 + 30 * kSecond, kT0)).lease_deadline_us ==
        kT0 + 30 * kSecond);
  // A writer racing with an older deadline cannot shorten the lease.
  CHECK(Must(f.store->ExtendLease(t.lease_token, kT0 + 20 * kSecond, kT0)).lease_deadline_us ==
        kT0 + 30 * kSecond);
}

}  // namespace
}  // namespace convrnn::db::testing
