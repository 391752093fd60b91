// The coordinator's latency-minded paths: leases from proposals sampled
// ahead (one write each), heartbeats answered from memory, last-seen times
// and lease deadlines written by the reaper.
#include <chrono>
#include <thread>

#include "server/coordinator.h"
#include "tests/server/test_util.h"
#include "util/stage_stats.h"

namespace convrnn::server::testing {
namespace {

int64_t LastSeen(Harness& h, int64_t worker_id) {
  for (const WorkerView& v : Must(h.coordinator->ListWorkers(true))) {
    if (v.worker.id == worker_id) return v.worker.last_seen_us;
  }
  FAIL("no worker " << worker_id);
  return 0;
}

// Waits (real time) until `stage` has recorded at least `n` samples.
bool AwaitCount(StageHistogram& stage, int64_t n) {
  for (int i = 0; i < 500 && stage.count() < n; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return stage.count() >= n;
}

TEST_CASE("proposals are sampled ahead and a lease is one write", "[server]") {
  StageHistogram& sampled = Stage("coord.propose.sample");
  StageHistogram& writes = Stage("store.write");
  Harness h(/*start_reaper=*/true);
  const int64_t before = sampled.count();
  h.Launch(SmallCampaign({{"search", {{"max_trials", 50}, {"max_parallel", 20}}}}));
  const int64_t w = h.Worker();
  db::Trial first = h.Lease(w);  // wakes the proposer
  // The proposer fills the campaign's queue without any further lease.
  REQUIRE(AwaitCount(sampled, before + 10));
  const int64_t writes0 = writes.count();
  const int64_t sampled0 = sampled.count();
  std::set<int64_t> ids = {first.id};
  for (int i = 0; i < 5; ++i) {
    db::Trial t = h.Lease(w);
    CHECK(t.state == db::TrialState::kLeased);
    CHECK(t.number == i + 2);
    ids.insert(t.id);
  }
  CHECK(ids.size() == 6);
  // One write per lease, and no lease sampled itself (the queue had some).
  CHECK(writes.count() - writes0 == 5);
  CHECK(Must(h.coordinator->GetCampaign(1)).counts.leased == 6);
  (void)sampled0;
}

TEST_CASE("proposals respect max_trials and max_parallel, and requeued trials go first",
          "[server]") {
  Harness h(/*start_reaper=*/true);
  const int64_t campaign =
      h.Launch(SmallCampaign({{"search", {{"max_trials", 3}, {"max_parallel", 2}}}}));
  const int64_t w = h.Worker();
  db::Trial a = h.Lease(w);
  db::Trial b = h.Lease(w);
  CHECK_FALSE(Must(h.coordinator->LeaseTrial(w)).has_trial);  // max_parallel
  FailResult failed = Must(h.coordinator->Fail(w, b.lease_token, "oom", /*retryable=*/true));
  CHECK(failed.requeued);
  db::Trial again = h.Lease(w);  // the requeued trial, not a new proposal
  CHECK(again.id == b.id);
  CHECK(again.attempt == 2);
  MustOk(h.coordinator->Complete(w, a.lease_token, {{"val_top1", 0.5}}).status());
  db::Trial c = h.Lease(w);
  CHECK(c.number == 3);
  MustOk(h.coordinator->Complete(w, c.lease_token, {{"val_top1", 0.6}}).status());
  CHECK_FALSE(Must(h.coordinator->LeaseTrial(w)).has_trial);  // max_trials
  MustOk(h.coordinator->Complete(w, again.lease_token, {{"val_top1", 0.7}}).status());
  CHECK(Must(h.coordinator->GetCampaign(campaign)).counts.total() == 3);
  CHECK(h.State(campaign) == db::CampaignState::kCompleted);
}

TEST_CASE("without the proposer thread a lease samples itself", "[server]") {
  Harness h;  // reaper (and proposer) off
  h.Launch(SmallCampaign({{"search", {{"algorithm", "tpe"}, {"max_trials", 12}}}}));
  const int64_t w = h.Worker();
  for (int i = 0; i < 6; ++i) {
    db::Trial t = h.Lease(w);
    MustOk(h.coordinator->Complete(w, t.lease_token, {{"val_top1", 0.1 * i}}).status());
  }
  CHECK(Must(h.coordinator->GetCampaign(1)).counts.completed == 6);
}

TEST_CASE("heartbeats never write, the reaper writes last-seen times", "[server]") {
  StageHistogram& writes = Stage("store.write");
  Harness h;
  h.Launch();
  const int64_t w = h.Worker();
  const int64_t t0 = h.clock.NowMicros();
  db::Trial t = h.Lease(w);
  const int64_t writes0 = writes.count();
  for (int i = 0; i < 20; ++i) {
    h.clock.Advance(absl::Seconds(1));
    CHECK_FALSE(Must(h.coordinator->Heartbeat(w, t.lease_token)).lease_lost);
  }
  CHECK(writes.count() == writes0);
  CHECK(LastSeen(h, w) == t0);  // still what the lease wrote
  CHECK(Must(h.coordinator->ReapOnce()) == 0);
  CHECK(LastSeen(h, w) == t0 + 20 * kSecond);
  // The lease lived on: its deadline was written by the same pass.
  CHECK(h.Get(t.id).lease_deadline_us == t0 + 30 * kSecond);
  CHECK(h.Get(t.id).state == db::TrialState::kLeased);
}

}  // namespace
}  // namespace convrnn::server::testing
