// The coordinator on a fake clock with a real store: leases, the reaper,
// fencing, exactly-once completion, budgets, stop/resume, early stopping,
// queries and the event feed.
#include "server/coordinator.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <set>
#include <thread>
#include <vector>

#include "tests/server/test_util.h"

namespace convrnn::server::testing {
namespace {

using nlohmann::json;

const Metrics kFinal = {{"val_top1", 0.8}, {"params", 1000}, {"flops", 5000}};

TEST_CASE("an expired lease is re-queued by the reaper, then fails at max_attempts", "[server]") {
  Harness h;
  const int64_t campaign = h.Launch(SmallCampaign({{"search", {{"max_parallel", 1}}}}));
  const int64_t w1 = h.Worker("a"), w2 = h.Worker("b");
  db::Trial first = h.Lease(w1);
  CHECK(first.number == 1);
  CHECK(first.attempt == 1);
  CHECK(first.lease_deadline_us == h.clock.NowMicros() + 10 * kSecond);

  // Nobody else asks; only the reaper notices the lease ran out.
  h.clock.Advance(absl::Seconds(11));
  CHECK(Must(h.coordinator->ReapOnce()) == 1);
  db::Trial requeued = h.Get(first.id);
  CHECK(requeued.state == db::TrialState::kPending);
  CHECK(requeued.attempt == 2);

  // The worker whose lease was taken away is refused.
  absl::Status stale =
      h.coordinator->ReportProgress(w1, first.lease_token, 1, {{"val_top1", 0.5}}).status();
  CHECK(stale.code() == absl::StatusCode::kFailedPrecondition);
  CHECK(h.coordinator->Complete(w1, first.lease_token, kFinal).status().code() ==
        absl::StatusCode::kFailedPrecondition);
  CHECK(h.coordinator->Fail(w1, first.lease_token, "oom", true).status().code() ==
        absl::StatusCode::kFailedPrecondition);
  CHECK(Must(h.coordinator->Heartbeat(w1, first.lease_token)).lease_lost);

  db::Trial second = h.Lease(w2);
  CHECK(second.id == first.id);
  CHECK(second.attempt == 2);
  CHECK(second.lease_token != first.lease_token);

  // Heartbeats keep it alive past the original deadline...
  h.clock.Advance(absl::Seconds(8));
  HeartbeatResult beat = Must(h.coordinator->Heartbeat(w2, second.lease_token));
  CHECK_FALSE(beat.lease_lost);
  CHECK(beat.lease_deadline_us == h.clock.NowMicros() + 10 * kSecond);
  h.clock.Advance(absl::Seconds(8));
  CHECK(Must(h.coordinator->ReapOnce()) == 0);
  // ...until they stop: the second expiry uses up max_attempts = 2.
  h.clock.Advance(absl::Seconds(11));
  CHECK(Must(h.coordinator->ReapOnce()) == 1);
  db::Trial failed = h.Get(first.id);
  CHECK(failed.state == db::TrialState::kFailed);
  CHECK(failed.attempt == 2);
  CHECK(Must(h.coordinator->GetCampaign(campaign)).counts.failed == 1);

  // The failed trial freed its slot: the next lease proposes trial 2.
  CHECK(h.Lease(w1).number == 2);
}

TEST_CASE("a lease kept alive by heartbeats in memory only is not reaped", "[server]") {
  Harness h;
  h.Launch(SmallCampaign({{"search", {{"max_parallel", 1}}}}));  // lease_seconds 10
  const int64_t w = h.Worker();
  const int64_t t0 = h.clock.NowMicros();
  db::Trial t = h.Lease(w);
  CHECK(t.lease_deadline_us == t0 + 10 * kSecond);

  // 3 s later: the deadline moves to t0 + 13 s in memory; the store still
  // says t0 + 10 s (less than lease_seconds / 2 behind: no write).
  h.clock.Advance(absl::Seconds(3));
  HeartbeatResult beat = Must(h.coordinator->Heartbeat(w, t.lease_token));
  CHECK_FALSE(beat.lease_lost);
  CHECK(beat.lease_deadline_us == t0 + 13 * kSecond);
  CHECK(h.Get(t.id).lease_deadline_us == t0 + 10 * kSecond);

  // Past the stored deadline, before the in-memory one: the reaper writes
  // the in-memory deadline instead of expiring the lease.
  h.clock.Advance(absl::Seconds(8));  // t0 + 11 s
  CHECK(Must(h.coordinator->ReapOnce()) == 0);
  db::Trial alive = h.Get(t.id);
  CHECK(alive.state == db::TrialState::kLeased);
  CHECK(alive.lease_deadline_us == t0 + 13 * kSecond);

  // A heartbeat never writes (it is answered from memory); the reaper's
  // next pass writes a deadline more than half a lease ahead of the store.
  h.clock.Advance(absl::Seconds(1));  // t0 + 12 s: deadline t0 + 22 s, 9 s ahead
  CHECK_FALSE(Must(h.coordinator->Heartbeat(w, t.lease_token)).lease_lost);
  CHECK(h.Get(t.id).lease_deadline_us == t0 + 13 * kSecond);
  CHECK(Must(h.coordinator->ReapOnce()) == 0);
  CHECK(h.Get(t.id).lease_deadline_us == t0 + 22 * kSecond);

  // Once the worker goes quiet the lease expires at its in-memory deadline.
  h.clock.Advance(absl::Seconds(11));  // t0 + 23 s
  CHECK(Must(h.coordinator->ReapOnce()) == 1);
  CHECK(h.Get(t.id).state == db::TrialState::kPending);
  CHECK(Must(h.coordinator->Heartbeat(w, t.lease_token)).lease_lost);
}

TEST_CASE("a heartbeat on a lease overdue in memory asks the store", "[server]") {
  Harness h;
  h.Launch(SmallCampaign({{"search", {{"max_parallel", 1}}}}));
  const int64_t w = h.Worker();
  db::Trial t = h.Lease(w);
  // Overdue but not reaped yet: the store still holds the lease, so the
  // heartbeat extends it (as when every heartbeat was a write).
  h.clock.Advance(absl::Seconds(11));
  HeartbeatResult beat = Must(h.coordinator->Heartbeat(w, t.lease_token));
  CHECK_FALSE(beat.lease_lost);
  CHECK(h.Get(t.id).lease_deadline_us == beat.lease_deadline_us);
  CHECK(Must(h.coordinator->ReapOnce()) == 0);
  // Reaped first: the heartbeat is told the lease is lost.
  h.clock.Advance(absl::Seconds(11));
  CHECK(Must(h.coordinator->ReapOnce()) == 1);
  CHECK(Must(h.coordinator->Heartbeat(w, t.lease_token)).lease_lost);
}

TEST_CASE("the reaper thread expires leases on its own", "[server]") {
  Harness h(/*start_reaper=*/true);
  h.Launch();
  const int64_t w = h.Worker();
  db::Trial t = h.Lease(w);
  // Once the reaper sleeps on the fake clock (else it would compute its next
  // wake-up after the advance and sleep past it).
  REQUIRE(h.clock.WaitForBlocked(1));
  h.clock.Advance(absl::Seconds(12));
  // Give its thread real time to run.
  db::Trial now = t;
  for (int i = 0; i < 500 && now.state != db::TrialState::kPending; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    now = h.Get(t.id);
  }
  CHECK(now.state == db::TrialState::kPending);
  CHECK(now.attempt == 2);
}

TEST_CASE("a retryable failure re-queues, a non-retryable one fails at once", "[server]") {
  Harness h;
  h.Launch(SmallCampaign({{"search", {{"max_parallel", 1}}}}));
  const int64_t w = h.Worker();
  db::Trial t = h.Lease(w);
  FailResult oom = Must(h.coordinator->Fail(w, t.lease_token, "CUDA out of memory", true));
  CHECK(oom.requeued);
  CHECK(oom.attempt == 2);
  db::Trial again = h.Lease(w);
  CHECK(again.id == t.id);
  FailResult nan = Must(h.coordinator->Fail(w, again.lease_token, "loss became NaN", false));
  CHECK_FALSE(nan.requeued);
  db::Trial failed = h.Get(t.id);
  CHECK(failed.state == db::TrialState::kFailed);
  CHECK(failed.failure_reason == "loss became NaN");
}

TEST_CASE("a lease is fenced to its worker", "[server]") {
  Harness h;
  h.Launch();
  const int64_t w1 = h.Worker("a"), w2 = h.Worker("b");
  db::Trial t = h.Lease(w1);
  CHECK(h.coordinator->ReportProgress(w2, t.lease_token, 1, {{"val_top1", 0.1}}).status().code() ==
        absl::StatusCode::kFailedPrecondition);
  CHECK(h.coordinator->Complete(w2, t.lease_token, kFinal).status().code() ==
        absl::StatusCode::kFailedPrecondition);
  CHECK(h.Get(t.id).state == db::TrialState::kLeased);
  CHECK(h.coordinator->LeaseTrial(12345).status().code() == absl::StatusCode::kNotFound);
}

TEST_CASE("completion is exactly once under a race of two threads", "[server]") {
  Harness h;
  h.Launch(SmallCampaign({{"search", {{"max_parallel", 1}}}}));
  const int64_t w1 = h.Worker("a"), w2 = h.Worker("b");

  SECTION("the same lease completing twice (a retried call)") {
    db::Trial t = h.Lease(w1);
    std::atomic<int> fresh{0}, already{0}, errors{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 2; ++i) {
      threads.emplace_back([&] {
        absl::StatusOr<bool> r = h.coordinator->Complete(w1, t.lease_token, kFinal);
        if (!r.ok()) {
          ++errors;
        } else if (*r) {
          ++already;
        } else {
          ++fresh;
        }
      });
    }
    for (std::thread& th : threads) th.join();
    CHECK(fresh == 1);
    CHECK(already == 1);
    CHECK(errors == 0);
  }

  SECTION("a stale worker and the new lease holder") {
    db::Trial old_lease = h.Lease(w1);
    h.clock.Advance(absl::Seconds(11));
    REQUIRE(Must(h.coordinator->ReapOnce()) == 1);
    db::Trial new_lease = h.Lease(w2);
    REQUIRE(new_lease.id == old_lease.id);
    std::atomic<int> ok{0}, refused{0};
    std::thread a([&] {
      absl::StatusOr<bool> r = h.coordinator->Complete(w1, old_lease.lease_token, kFinal);
      (r.ok() ? ok : refused)++;
    });
    std::thread b([&] {
      absl::StatusOr<bool> r = h.coordinator->Complete(w2, new_lease.lease_token, kFinal);
      (r.ok() ? ok : refused)++;
    });
    a.join();
    b.join();
    CHECK(ok == 1);
    CHECK(refused == 1);
    db::Trial done = h.Get(old_lease.id);
    CHECK(done.state == db::TrialState::kCompleted);
    CHECK(done.lease_token == new_lease.lease_token);
  }
  std::vector<db::Event> events = Must(h.store->ListEvents(1, 0, 1000));
  int completed_events = 0;
  for (const db::Event& e : events) completed_events += e.type == db::kEventTrialCompleted;
  CHECK(completed_events == 1);
}

TEST_CASE("max_parallel bounds the trials in flight", "[server]") {
  Harness h;
  const int64_t campaign = h.Launch(SmallCampaign({{"search", {{"max_parallel", 2}}}}));
  std::vector<int64_t> workers;
  for (int i = 0; i < 4; ++i) workers.push_back(h.Worker());
  std::vector<db::Trial> leased;
  for (int64_t w : workers) {
    LeaseGrant g = Must(h.coordinator->LeaseTrial(w));
    if (g.has_trial) {
      leased.push_back(g.trial);
    } else {
      CHECK(g.retry_after_ms > 0);
    }
  }
  REQUIRE(leased.size() == 2);
  CHECK(Must(h.coordinator->GetCampaign(campaign)).counts.total() == 2);
  // Finishing one makes room for exactly one more.
  CHECK_FALSE(Must(h.coordinator->Complete(leased[0].worker_id, leased[0].lease_token, kFinal)));
  CHECK(Must(h.coordinator->LeaseTrial(workers[2])).has_trial);
  CHECK_FALSE(Must(h.coordinator->LeaseTrial(workers[3])).has_trial);
}

TEST_CASE("a campaign completes when its max_trials have finished", "[server]") {
  Harness h;
  const int64_t campaign = h.Launch(SmallCampaign({{"search", {{"max_trials", 3}}}}));
  const int64_t w1 = h.Worker("a"), w2 = h.Worker("b");
  db::Trial t1 = h.Lease(w1), t2 = h.Lease(w2);
  CHECK_FALSE(Must(h.coordinator->Complete(w1, t1.lease_token, kFinal)));
  CHECK(h.State(campaign) == db::CampaignState::kRunning);
  db::Trial t3 = h.Lease(w1);
  CHECK(t3.number == 3);
  // The budget is spent: no fourth trial, though a slot is free.
  CHECK_FALSE(Must(h.coordinator->Complete(w2, t2.lease_token, kFinal)));
  CHECK_FALSE(Must(h.coordinator->LeaseTrial(w2)).has_trial);
  CHECK(h.State(campaign) == db::CampaignState::kRunning);  // t3 still in flight
  CHECK_FALSE(Must(h.coordinator->Fail(w1, t3.lease_token, "loss became NaN", false)).requeued);
  CampaignView view = Must(h.coordinator->GetCampaign(campaign));
  CHECK(view.campaign.state == db::CampaignState::kCompleted);
  CHECK(view.counts.completed == 2);
  CHECK(view.counts.failed == 1);
  CHECK(view.counts.total() == 3);
}

TEST_CASE("params and flops are estimated when the worker leaves them out", "[server]") {
  Harness h;
  h.Launch();
  const int64_t w = h.Worker();
  db::Trial t = h.Lease(w);
  CHECK_FALSE(Must(h.coordinator->Complete(w, t.lease_token, {{"val_top1", 0.7}})));
  db::Trial done = h.Get(t.id);
  json metrics = json::parse(done.metrics_json);
  CHECK(metrics["val_top1"] == 0.7);
  CHECK(metrics["params"].get<double>() > 0);
  CHECK(metrics["flops"].get<double>() > 0);
}

TEST_CASE("stop hands trials in flight back, resume continues them", "[server]") {
  Harness h;
  const int64_t campaign = h.Launch();
  const int64_t w1 = h.Worker("a"), w2 = h.Worker("b");
  db::Trial a = h.Lease(w1);
  db::Trial b = h.Lease(w2);
  CampaignView stopped = Must(h.coordinator->Stop(campaign));
  CHECK(stopped.campaign.state == db::CampaignState::kStopped);
  CHECK(Must(h.coordinator->Stop(campaign)).campaign.state == db::CampaignState::kStopped);

  ProgressResult p = Must(h.coordinator->ReportProgress(w1, a.lease_token, 1, {{"val_top1", 0.3}}));
  CHECK(p.stop);
  CHECK(p.reason == "campaign stopped");
  CHECK(Must(h.coordinator->Heartbeat(w2, b.lease_token)).lease_lost);
  for (int64_t id : {a.id, b.id}) {
    db::Trial t = h.Get(id);
    CHECK(t.state == db::TrialState::kPending);
    CHECK(t.attempt == 1);  // a stop spends no attempt
  }
  CHECK_FALSE(Must(h.coordinator->LeaseTrial(w1)).has_trial);

  CHECK(Must(h.coordinator->Resume(campaign)).campaign.state == db::CampaignState::kRunning);
  db::Trial again = h.Lease(w1);
  CHECK(again.id == a.id);
  CHECK(again.attempt == 1);
  CHECK(h.Lease(w2).id == b.id);
}

TEST_CASE("an ended campaign cannot be stopped or resumed", "[server]") {
  Harness h;
  const int64_t campaign = h.Launch(SmallCampaign({{"search", {{"max_trials", 1}}}}));
  const int64_t w = h.Worker();
  db::Trial t = h.Lease(w);
  Must(h.coordinator->Complete(w, t.lease_token, kFinal));
  REQUIRE(h.State(campaign) == db::CampaignState::kCompleted);
  CHECK(h.coordinator->Stop(campaign).status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(h.coordinator->Resume(campaign).status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(h.coordinator->Stop(999).status().code() == absl::StatusCode::kNotFound);
}

TEST_CASE("ASHA prunes a trial behind its rung and answers STOP", "[server]") {
  Harness h;
  h.Launch(SmallCampaign(
      {{"search",
        {{"max_parallel", 3},
         {"early_stopping", {{"rule", "asha"}, {"reduction_factor", 2}, {"min_resource", 1}}}}}}));
  const int64_t w1 = h.Worker("a"), w2 = h.Worker("b"), w3 = h.Worker("c");
  db::Trial a = h.Lease(w1), b = h.Lease(w2), c = h.Lease(w3);
  // Rung at epoch 1 keeps the best max(1, floor(n / 2)) of the n seen so far.
  CHECK_FALSE(Must(h.coordinator->ReportProgress(w1, a.lease_token, 1, {{"val_top1", 0.6}})).stop);
  ProgressResult pb =
      Must(h.coordinator->ReportProgress(w2, b.lease_token, 1, {{"val_top1", 0.4}}));
  CHECK(pb.stop);
  CHECK(pb.reason == "pruned by asha at epoch 1");
  CHECK_FALSE(Must(h.coordinator->ReportProgress(w3, c.lease_token, 1, {{"val_top1", 0.7}})).stop);
  // The next rung is at epoch 2: a arrives first and goes on, c is behind it.
  ProgressResult pa =
      Must(h.coordinator->ReportProgress(w1, a.lease_token, 2, {{"val_top1", 0.65}}));
  CHECK_FALSE(pa.stop);
  CHECK(Must(h.coordinator->ReportProgress(w3, c.lease_token, 2, {{"val_top1", 0.5}})).stop);

  db::Trial pruned = h.Get(b.id);
  CHECK(pruned.state == db::TrialState::kPruned);
  CHECK(pruned.failure_reason == "pruned by asha at epoch 1");
  // The pruned trial's lease is over.
  CHECK(h.coordinator->Complete(w2, b.lease_token, kFinal).status().code() ==
        absl::StatusCode::kFailedPrecondition);
  CHECK(h.Get(c.id).state == db::TrialState::kPruned);
  CHECK(h.Get(a.id).state == db::TrialState::kRunning);
}

TEST_CASE("best, pareto and export read the completed trials", "[server]") {
  Harness h;
  const int64_t campaign = h.Launch(SmallCampaign({{"search", {{"max_parallel", 4}}}}));
  const int64_t w = h.Worker();
  const std::vector<Metrics> finals = {{{"val_top1", 0.70}, {"params", 500}, {"flops", 1}},
                                       {{"val_top1", 0.80}, {"params", 900}, {"flops", 1}},
                                       {{"val_top1", 0.60}, {"params", 950}, {"flops", 1}},
                                       {{"val_top1", 0.75}, {"params", 400}, {"flops", 1}}};
  std::vector<db::Trial> trials;
  for (const Metrics& m : finals) {
    db::Trial t = h.Lease(w);
    Must(h.coordinator->Complete(w, t.lease_token, m));
    trials.push_back(t);
  }
  RankedTrials best = Must(h.coordinator->Best(campaign, 2, "", ""));
  CHECK(best.metric == "val_top1");
  CHECK(best.maximize);
  REQUIRE(best.trials.size() == 2);
  CHECK(best.trials[0].id == trials[1].id);
  CHECK(best.trials[1].id == trials[3].id);
  RankedTrials smallest = Must(h.coordinator->Best(campaign, 1, "params", ""));
  CHECK_FALSE(smallest.maximize);  // params is a "min" objective
  CHECK(smallest.trials.at(0).id == trials[3].id);
  CHECK(h.coordinator->Best(campaign, 1, "val top1", "").status().code() ==
        absl::StatusCode::kInvalidArgument);

  // Front of (val_top1 max, params min): 0.80/900 and 0.75/400; 0.70/500 is
  // dominated by 0.75/400, 0.60/950 by everything.
  ParetoFrontResult front = Must(h.coordinator->Pareto(campaign, {}));
  REQUIRE(front.trials.size() == 2);
  CHECK(front.trials[0].id == trials[1].id);
  CHECK(front.trials[1].id == trials[3].id);
  CHECK(h.coordinator->Pareto(campaign, {"val_top1"}).status().code() ==
        absl::StatusCode::kInvalidArgument);

  ExportedDocument csv = Must(h.coordinator->Export(campaign, "csv"));
  CHECK(csv.content_type == "text/csv");
  CHECK_THAT(csv.content, Catch::StartsWith("trial_id,number,state,attempt,worker_id,"));
  CHECK_THAT(csv.content, Catch::Contains("metric:val_top1"));
  CHECK_THAT(csv.content, Catch::Contains("param:train.lr"));
  ExportedDocument doc = Must(h.coordinator->Export(campaign, "json"));
  json exported = json::parse(doc.content);
  REQUIRE(exported.size() == 4);
  CHECK(exported[1]["final_metrics"]["val_top1"] == 0.8);
  CHECK(exported[1]["state"] == "COMPLETED");
  CHECK(h.coordinator->Export(campaign, "xml").status().code() ==
        absl::StatusCode::kInvalidArgument);
}

TEST_CASE("workers not heard from for a while are presumed dead", "[server]") {
  Harness h;
  h.Launch();
  const int64_t quiet = h.Worker("quiet");
  h.clock.Advance(absl::Minutes(2));
  const int64_t busy = h.Worker("busy");
  h.clock.Advance(absl::Minutes(2));
  CHECK(Must(h.coordinator->LeaseTrial(busy)).has_trial);
  std::vector<WorkerView> alive = Must(h.coordinator->ListWorkers(false));
  REQUIRE(alive.size() == 1);
  CHECK(alive[0].worker.id == busy);
  CHECK(alive[0].worker.current_trial_id != 0);
  std::vector<WorkerView> all = Must(h.coordinator->ListWorkers(true));
  REQUIRE(all.size() == 2);
  CHECK(all[0].worker.id == quiet);
  CHECK(all[0].presumed_dead);
  CHECK_FALSE(all[1].presumed_dead);
}

TEST_CASE("watchers are woken by new events and the feed ends with the campaign", "[server]") {
  Harness h;
  const int64_t campaign = h.Launch(SmallCampaign({{"search", {{"max_trials", 1}}}}));
  const int64_t w = h.Worker();
  EventBatch first = Must(h.coordinator->ReadEvents(campaign, 0, 100));
  REQUIRE_FALSE(first.events.empty());
  CHECK(first.events[0].type == db::kEventCampaignState);
  CHECK_FALSE(first.finished);
  const int64_t after = first.events.back().id;
  CHECK(Must(h.coordinator->ReadEvents(campaign, after, 100)).events.empty());

  const int64_t seq = h.coordinator->event_sequence();
  std::atomic<bool> woke{false};
  std::thread watcher([&] {
    h.coordinator->AwaitEvents(seq, absl::Seconds(30));
    woke = true;
  });
  REQUIRE(h.clock.WaitForBlocked(1));  // the watcher waits on the (fake) clock
  CHECK_FALSE(woke);
  db::Trial t = h.Lease(w);
  watcher.join();  // woken by the lease, long before its 30 s backstop
  CHECK(woke);

  Must(h.coordinator->Complete(w, t.lease_token, kFinal));
  EventBatch rest = Must(h.coordinator->ReadEvents(campaign, after, 100));
  std::vector<std::string> types;
  for (const db::Event& e : rest.events) types.push_back(e.type);
  CHECK(types == std::vector<std::string>{"trial_created", "trial_leased", "trial_completed",
                                          "campaign_state"});
  CHECK_FALSE(rest.finished);  // events were still delivered in this batch
  EventBatch end = Must(h.coordinator->ReadEvents(campaign, rest.events.back().id, 100));
  CHECK(end.events.empty());
  CHECK(end.finished);
  CHECK(h.coordinator->ReadEvents(999, 0, 10).status().code() == absl::StatusCode::kNotFound);
}

TEST_CASE("a bad campaign is refused with INVALID_ARGUMENT", "[server]") {
  Harness h;
  absl::StatusOr<CampaignView> bad =
      h.coordinator->Launch(SmallCampaign({{"trial", {{"lease_seconds", -1}}}}).dump());
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(bad.status().message()), Catch::StartsWith("trial.lease_seconds"));
  CHECK(Must(h.coordinator->ListCampaigns(0, 0)).campaigns.empty());
}

}  // namespace
}  // namespace convrnn::server::testing

namespace convrnn::server::testing {
namespace {

TEST_CASE("many workers racing through a campaign account for every trial once", "[server]") {
  Harness h(/*start_reaper=*/true);
  const int64_t campaign =
      h.Launch(SmallCampaign({{"search", {{"max_trials", 24}, {"max_parallel", 6}}}}));
  constexpr int kWorkers = 8;
  std::atomic<int> completions{0}, errors{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kWorkers; ++i) {
    threads.emplace_back([&, i] {
      db::Worker w;
      w.hostname = "w" + std::to_string(i);
      absl::StatusOr<Registration> reg = h.coordinator->RegisterWorker(w);
      if (!reg.ok()) {
        ++errors;
        return;
      }
      for (int round = 0; round < 200; ++round) {
        absl::StatusOr<LeaseGrant> grant = h.coordinator->LeaseTrial(reg->worker_id);
        if (!grant.ok()) {
          ++errors;
          return;
        }
        if (!grant->has_trial) {
          if (h.coordinator->GetCampaign(campaign)->campaign.state != db::CampaignState::kRunning) {
            return;
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(2));
          continue;
        }
        const int64_t token = grant->trial.lease_token;
        if (!h.coordinator->ReportProgress(reg->worker_id, token, 1, {{"val_top1", 0.1}}).ok() ||
            !h.coordinator->Heartbeat(reg->worker_id, token).ok()) {
          ++errors;
          return;
        }
        // Every third first attempt fails in a way worth retrying.
        if (grant->trial.attempt == 1 && grant->trial.number % 3 == 0) {
          if (!h.coordinator->Fail(reg->worker_id, token, "flaky", true).ok()) ++errors;
          continue;
        }
        absl::StatusOr<bool> done = h.coordinator->Complete(
            reg->worker_id, token, {{"val_top1", 0.01 * grant->trial.number}});
        if (!done.ok() || *done) {
          ++errors;
          return;
        }
        ++completions;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  CHECK(errors == 0);
  CampaignView view = Must(h.coordinator->GetCampaign(campaign));
  CHECK(view.campaign.state == db::CampaignState::kCompleted);
  CHECK(view.counts.total() == 24);
  CHECK(view.counts.completed == 24);
  CHECK(completions == 24);
  // Trial numbers are 1..24 without gaps or repeats.
  TrialPage page = Must(h.coordinator->ListTrials(campaign, std::nullopt, 0, 100));
  REQUIRE(page.trials.size() == 24);
  for (size_t i = 0; i < page.trials.size(); ++i) {
    CHECK(page.trials[i].number == static_cast<int64_t>(i + 1));
    CHECK(page.trials[i].attempt == (page.trials[i].number % 3 == 0 ? 2 : 1));
  }
}

}  // namespace
}  // namespace convrnn::server::testing
