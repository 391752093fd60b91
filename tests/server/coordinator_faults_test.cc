// The coordinator over a store that fails on purpose (FaultyStore): each
// store failure is reported to the caller or retried, and never leaves the
// coordinator's memory out of step with the store.
#include <catch2/catch.hpp>
#include <memory>
#include <string>

#include "server/coordinator.h"
#include "tests/server/faulty_store.h"
#include "tests/server/test_util.h"

namespace convrnn::server::testing {
namespace {

using db::testing::FaultyStore;

const Metrics kFinal = {{"val_top1", 0.8}, {"params", 1000}, {"flops", 5000}};
const absl::Status kDiskGone = absl::UnavailableError("disk I/O error (injected)");

// A real store behind a FaultyStore, and a coordinator over the latter.
struct FaultHarness {
  FaultHarness() : real(Must(db::Store::Open(dir.File("server.db")))), store(real.get()) {
    Start();
  }
  void Start() {
    CoordinatorOptions options;
    options.start_reaper = false;
    coordinator = Must(Coordinator::Create(store, clock, options));
  }
  int64_t Worker() {
    db::Worker w;
    w.hostname = "host";
    w.device = "cpu";
    return Must(coordinator->RegisterWorker(w)).worker_id;
  }
  int64_t Launch(int max_trials) {
    return Must(coordinator->Launch(
                    SmallCampaign({{"search", {{"max_trials", max_trials}}}}).dump()))
        .campaign.id;
  }
  db::Trial Lease(int64_t worker) {
    LeaseGrant grant = Must(coordinator->LeaseTrial(worker));
    REQUIRE(grant.has_trial);
    return grant.trial;
  }
  // Launches a campaign of `max_trials`, registers a worker, leases a trial.
  struct Leased {
    int64_t campaign;
    int64_t worker;
    db::Trial trial;
  };
  Leased LaunchAndLease(int max_trials) {
    const int64_t campaign = Launch(max_trials);
    const int64_t worker = Worker();
    return {campaign, worker, Lease(worker)};
  }
  db::CampaignState StoredState(int64_t campaign) {
    return Must(real->GetCampaign(campaign)).state;
  }

  TempDir dir;
  FakeClock clock;
  std::unique_ptr<db::Store> real;
  FaultyStore store;
  std::unique_ptr<Coordinator> coordinator;
};

TEST_CASE("a launch the store refuses leaves no campaign behind", "[server]") {
  FaultHarness h;
  h.store.FailBefore("CreateCampaign", kDiskGone);
  auto refused = h.coordinator->Launch(SmallCampaign().dump());
  CHECK(refused.status() == kDiskGone);
  CHECK(Must(h.real->ListCampaigns(0, 10)).empty());
  CHECK_FALSE(Must(h.coordinator->LeaseTrial(h.Worker())).has_trial);
  // The next launch is the first campaign.
  CHECK(h.Launch(2) == 1);
}

TEST_CASE("a stored launch answers with its campaign even if a later read would fail", "[server]") {
  FaultHarness h;
  // Any read after the write fails: the launch must not report an error for
  // a campaign that is stored and will run (the client would launch twice).
  for (const char* read : {"CountTrials", "GetCampaign", "ListTrials"}) {
    h.store.FailBefore(read, kDiskGone);
  }
  CampaignView view = Must(h.coordinator->Launch(SmallCampaign().dump()));
  CHECK(view.campaign.state == db::CampaignState::kRunning);
  CHECK(view.counts.total() == 0);
  CHECK(h.store.calls("CreateCampaign") == 1);
  // Its search was built before the write: it proposes trials at once.
  h.store.Clear();
  CHECK(h.Lease(h.Worker()).campaign_id == view.campaign.id);
}

TEST_CASE("a completion the store refuses is written by the next lease request", "[server]") {
  FaultHarness h;
  const auto [campaign, w, t] = h.LaunchAndLease(1);
  // The trial completes; writing the campaign's COMPLETED state fails.
  h.store.FailBefore("SetCampaignState", kDiskGone);
  CHECK_FALSE(Must(h.coordinator->Complete(w, t.lease_token, kFinal)));
  CHECK(h.store.calls("SetCampaignState") == 1);
  CHECK(h.StoredState(campaign) == db::CampaignState::kRunning);
  // Nothing left to lease; the request retries the completion.
  CHECK_FALSE(Must(h.coordinator->LeaseTrial(w)).has_trial);
  CHECK(h.StoredState(campaign) == db::CampaignState::kCompleted);
  CHECK(Must(h.coordinator->GetCampaign(campaign)).campaign.state == db::CampaignState::kCompleted);
}

TEST_CASE("a refused completion is retried after a coordinator restart too", "[server]") {
  FaultHarness h;
  const auto [campaign, w, t] = h.LaunchAndLease(1);
  h.store.FailBefore("SetCampaignState", kDiskGone);
  Must(h.coordinator->Complete(w, t.lease_token, kFinal));
  h.coordinator.reset();
  h.Start();
  CHECK_FALSE(Must(h.coordinator->LeaseTrial(w)).has_trial);
  CHECK(h.StoredState(campaign) == db::CampaignState::kCompleted);
}

TEST_CASE("a completion written but unanswered is finished once when the worker retries",
          "[server]") {
  FaultHarness h;
  const auto [campaign, w, t] = h.LaunchAndLease(1);
  h.store.FailAfter("CompleteTrial", kDiskGone);
  CHECK(h.coordinator->Complete(w, t.lease_token, kFinal).status() == kDiskGone);
  CHECK(Must(h.real->GetTrial(t.id)).state == db::TrialState::kCompleted);
  // The worker retries: already completed, and now finished in memory, so
  // the campaign ends.
  CHECK(Must(h.coordinator->Complete(w, t.lease_token, kFinal)));
  CHECK(h.StoredState(campaign) == db::CampaignState::kCompleted);
  CHECK(Must(h.coordinator->Complete(w, t.lease_token, kFinal)));  // idempotent
  CHECK(Must(h.coordinator->GetCampaign(campaign)).counts.completed == 1);
}

TEST_CASE("a refused lease or insert hands out nothing and spends no budget", "[server]") {
  FaultHarness h;
  h.Launch(1);
  const int64_t w = h.Worker();
  const std::string method = GENERATE(as<std::string>{}, "LeaseTrial", "InsertTrial");
  h.store.FailBefore(method, kDiskGone);
  CHECK(h.coordinator->LeaseTrial(w).status() == kDiskGone);
  // The one trial of the budget is still there to lease.
  db::Trial t = h.Lease(w);
  CHECK(t.number == 1);
}

TEST_CASE("refused progress, completion and failure keep the lease for a retry", "[server]") {
  FaultHarness h;
  const auto [campaign, w, t] = h.LaunchAndLease(2);
  h.store.FailBefore("RecordEpoch", kDiskGone);
  CHECK(h.coordinator->ReportProgress(w, t.lease_token, 1, {{"val_top1", 0.5}}).status() ==
        kDiskGone);
  Must(h.coordinator->ReportProgress(w, t.lease_token, 1, {{"val_top1", 0.5}}));
  h.store.FailBefore("FailTrial", kDiskGone);
  CHECK(h.coordinator->Fail(w, t.lease_token, "oom", true).status() == kDiskGone);
  h.store.FailBefore("CompleteTrial", kDiskGone);
  CHECK(h.coordinator->Complete(w, t.lease_token, kFinal).status() == kDiskGone);
  CHECK(Must(h.real->GetTrial(t.id)).state == db::TrialState::kRunning);
  CHECK_FALSE(Must(h.coordinator->Complete(w, t.lease_token, kFinal)));
  CHECK(Must(h.real->GetTrial(t.id)).state == db::TrialState::kCompleted);
}

TEST_CASE("a refused heartbeat is an error, not a lost lease", "[server]") {
  FaultHarness h;
  const auto [campaign, w, t] = h.LaunchAndLease(1);
  // Overdue in memory (not reaped yet): the heartbeat must extend the lease
  // in the store (an earlier heartbeat only moves it in memory).
  h.clock.Advance(absl::Seconds(11));
  h.store.FailBefore("ExtendLease", kDiskGone);
  CHECK(h.coordinator->Heartbeat(w, t.lease_token).status() == kDiskGone);
  CHECK_FALSE(Must(h.coordinator->Heartbeat(w, t.lease_token)).lease_lost);
  h.clock.Advance(absl::Seconds(9));  // past the first deadline, within the extended one
  CHECK(Must(h.coordinator->ReapOnce()) == 0);
  CHECK(Must(h.real->GetTrial(t.id)).state == db::TrialState::kLeased);
}

TEST_CASE("a refused deadline flush fails the reap and expires nothing", "[server]") {
  FaultHarness h;
  h.Launch(1);
  const int64_t w = h.Worker();
  const int64_t t0 = h.clock.NowMicros();
  db::Trial t = h.Lease(w);  // stored deadline t0 + 10 s
  h.clock.Advance(absl::Seconds(8));
  CHECK_FALSE(Must(h.coordinator->Heartbeat(w, t.lease_token)).lease_lost);  // t0 + 18 s in memory
  h.store.FailBefore("ExtendLease", kDiskGone);
  CHECK(h.coordinator->ReapOnce().status() == kDiskGone);
  CHECK(Must(h.real->GetTrial(t.id)).lease_deadline_us == t0 + 10 * kSecond);
  // Past the stored deadline: the next pass writes the in-memory one first.
  h.clock.Advance(absl::Seconds(3));
  CHECK(Must(h.coordinator->ReapOnce()) == 0);
  CHECK(Must(h.real->GetTrial(t.id)).lease_deadline_us == t0 + 18 * kSecond);
  CHECK(Must(h.real->GetTrial(t.id)).state == db::TrialState::kLeased);
}

TEST_CASE("a refused expiry is retried by the next reap", "[server]") {
  FaultHarness h;
  const auto [campaign, w, t] = h.LaunchAndLease(1);
  h.clock.Advance(absl::Seconds(11));  // past the 10 s lease
  h.store.FailBefore("ExpireLeases", kDiskGone);
  CHECK(h.coordinator->ReapOnce().status() == kDiskGone);
  CHECK(Must(h.real->GetTrial(t.id)).state == db::TrialState::kLeased);
  CHECK(Must(h.coordinator->ReapOnce()) == 1);
  CHECK(Must(h.real->GetTrial(t.id)).state == db::TrialState::kPending);
}

TEST_CASE("a refused stop or resume leaves the campaign as it was", "[server]") {
  FaultHarness h;
  const int64_t campaign = h.Launch(2);
  const int64_t w = h.Worker();
  h.store.FailBefore("SetCampaignState", kDiskGone);
  CHECK(h.coordinator->Stop(campaign).status() == kDiskGone);
  CHECK(h.StoredState(campaign) == db::CampaignState::kRunning);
  h.Lease(w);  // still running in memory too
  Must(h.coordinator->Stop(campaign));
  h.store.FailBefore("SetCampaignState", kDiskGone);
  CHECK(h.coordinator->Resume(campaign).status() == kDiskGone);
  CHECK(h.StoredState(campaign) == db::CampaignState::kStopped);
  CHECK_FALSE(Must(h.coordinator->LeaseTrial(w)).has_trial);
}

TEST_CASE("a store unreadable at start-up keeps the coordinator from starting", "[server]") {
  FaultHarness h;
  h.Launch(1);
  h.coordinator.reset();
  const std::string method =
      GENERATE(as<std::string>{}, "ListWorkers", "ListCampaigns", "CountTrials", "ListTrials");
  h.store.FailBefore(method, kDiskGone);
  CoordinatorOptions options;
  options.start_reaper = false;
  CHECK(Coordinator::Create(h.store, h.clock, options).status() == kDiskGone);
}

}  // namespace
}  // namespace convrnn::server::testing
