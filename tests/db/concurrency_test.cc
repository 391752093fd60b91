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

}  // namespace
}  // namespace convrnn::db::testing
