// A coordinator restart (new Store and Coordinator over the same file) loses
// nothing: numbering, leases, the sampler's history and early stopping carry on.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "server/coordinator.h"
#include "tests/server/test_util.h"

namespace convrnn::server::testing {
namespace {

const Metrics kFinal = {{"val_top1", 0.8}, {"params", 1000}, {"flops", 5000}};

TEST_CASE("after a restart numbering and live leases continue", "[server]") {
  Harness h;
  const int64_t campaign = h.Launch(SmallCampaign({{"search", {{"max_parallel", 3}}}}));
  const int64_t w1 = h.Worker("a"), w2 = h.Worker("b");
  db::Trial t1 = h.Lease(w1);
  db::Trial t2 = h.Lease(w2);
  Must(h.coordinator->Complete(w1, t1.lease_token, kFinal));
  h.clock.Advance(absl::Seconds(9));  // t2's lease has 1 s left

  h.Restart();
  // The grace period: t2's lease may not expire for restart_grace (30 s).
  h.clock.Advance(absl::Seconds(20));
  CHECK(Must(h.coordinator->ReapOnce()) == 0);
  HeartbeatResult beat = Must(h.coordinator->Heartbeat(w2, t2.lease_token));
  CHECK_FALSE(beat.lease_lost);
  ProgressResult p =
      Must(h.coordinator->ReportProgress(w2, t2.lease_token, 1, {{"val_top1", 0.5}}));
  CHECK_FALSE(p.stop);
  CHECK(Must(h.coordinator->LeaseTrial(w1)).trial.number == 3);
  CHECK_FALSE(Must(h.coordinator->Complete(w2, t2.lease_token, kFinal)));
  CampaignView view = Must(h.coordinator->GetCampaign(campaign));
  CHECK(view.counts.completed == 2);
  CHECK(view.counts.leased == 1);
  CHECK(view.campaign.state == db::CampaignState::kRunning);
}

TEST_CASE("after a kill -9 the grace period covers deadlines kept only in memory", "[server]") {
  Harness h;
  h.Launch(SmallCampaign({{"search", {{"max_parallel", 1}}}}));  // lease_seconds 10
  const int64_t w = h.Worker();
  const int64_t t0 = h.clock.NowMicros();
  db::Trial t = h.Lease(w);
  h.clock.Advance(absl::Seconds(3));
  CHECK(Must(h.coordinator->Heartbeat(w, t.lease_token)).lease_deadline_us == t0 + 13 * kSecond);
  CHECK(h.Get(t.id).lease_deadline_us == t0 + 10 * kSecond);  // memory only

  // kill -9: nothing in memory is written (the coordinator is leaked, its
  // destructor never runs); the store is reopened over the same file.
  (void)h.coordinator.release();
  h.store.reset();
  h.clock.Advance(absl::Seconds(5));  // restarts at t0 + 8 s
  h.Open();
  // Past both the stored (t0 + 10 s) and the lost in-memory (t0 + 13 s)
  // deadline, within restart_grace (30 s from the restart): not reaped.
  h.clock.Advance(absl::Seconds(20));  // t0 + 28 s
  CHECK(Must(h.coordinator->ReapOnce()) == 0);
  CHECK(h.Get(t.id).state == db::TrialState::kLeased);
  HeartbeatResult beat = Must(h.coordinator->Heartbeat(w, t.lease_token));
  CHECK_FALSE(beat.lease_lost);
  CHECK_FALSE(Must(h.coordinator->Complete(w, t.lease_token, kFinal)));
  CHECK(h.Get(t.id).state == db::TrialState::kCompleted);
}

TEST_CASE("after a kill -9 a lease whose worker is gone expires after the grace", "[server]") {
  Harness h;
  h.Launch(SmallCampaign({{"search", {{"max_parallel", 1}}}}));
  const int64_t w = h.Worker();
  db::Trial t = h.Lease(w);
  h.clock.Advance(absl::Seconds(3));
  CHECK_FALSE(Must(h.coordinator->Heartbeat(w, t.lease_token)).lease_lost);
  (void)h.coordinator.release();
  h.store.reset();
  h.Open();
  h.clock.Advance(absl::Seconds(31));  // restart_grace is 30 s
  CHECK(Must(h.coordinator->ReapOnce()) == 1);
  db::Trial requeued = h.Get(t.id);
  CHECK(requeued.state == db::TrialState::kPending);
  CHECK(requeued.attempt == 2);
}

TEST_CASE("a restart does not change the sampler's suggestions", "[server]") {
  // Same seed, same sequence of events; one run restarts in the middle.
  auto run = [](bool restart) {
    Harness h;
    h.Launch(SmallCampaign({{"search", {{"max_trials", 6}, {"max_parallel", 2}}}}));
    const int64_t w1 = h.Worker("a"), w2 = h.Worker("b");
    std::vector<std::string> specs;
    for (int round = 0; round < 3; ++round) {
      db::Trial a = h.Lease(w1);
      db::Trial b = h.Lease(w2);
      specs.push_back(a.spec_json);
      specs.push_back(b.spec_json);
      Must(h.coordinator->Complete(w1, a.lease_token, {{"val_top1", 0.1 * round}}));
      if (restart && round == 1) h.Restart();
      Must(h.coordinator->Complete(w2, b.lease_token, {{"val_top1", 0.2 * round}}));
    }
    return specs;
  };
  const std::vector<std::string> straight = run(false);
  const std::vector<std::string> restarted = run(true);
  CHECK(straight.size() == 6);
  CHECK(straight == restarted);
  // Not trivially equal: the sampler proposed different architectures.
  CHECK(straight[0] != straight[1]);
}

TEST_CASE("a stopped campaign stays stopped across a restart", "[server]") {
  Harness h;
  const int64_t campaign = h.Launch();
  const int64_t w = h.Worker();
  db::Trial t = h.Lease(w);
  Must(h.coordinator->Stop(campaign));
  h.Restart();
  CHECK(h.State(campaign) == db::CampaignState::kStopped);
  // The lease is still known after the restart and is handed back at once.
  CHECK(Must(h.coordinator->Heartbeat(w, t.lease_token)).lease_lost);
  CHECK_FALSE(Must(h.coordinator->LeaseTrial(w)).has_trial);
  Must(h.coordinator->Resume(campaign));
  db::Trial again = h.Lease(w);
  CHECK(again.id == t.id);
}

TEST_CASE("early stopping remembers its rungs across a restart", "[server]") {
  Harness h;
  h.Launch(SmallCampaign(
      {{"search",
        {{"max_parallel", 3},
         {"early_stopping", {{"rule", "asha"}, {"reduction_factor", 2}, {"min_resource", 1}}}}}}));
  const int64_t w1 = h.Worker("a"), w2 = h.Worker("b");
  db::Trial a = h.Lease(w1), b = h.Lease(w2);
  CHECK_FALSE(Must(h.coordinator->ReportProgress(w1, a.lease_token, 1, {{"val_top1", 0.9}})).stop);
  h.Restart();
  // Without a's recorded 0.9 at rung 1, b would be the best of one and go on.
  CHECK(Must(h.coordinator->ReportProgress(w2, b.lease_token, 1, {{"val_top1", 0.5}})).stop);
}

}  // namespace
}  // namespace convrnn::server::testing
