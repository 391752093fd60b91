// Leases with explicit time: fencing tokens, expiry and re-queueing, the
// attempt limit, and exactly-once completion under a race.
#include <atomic>
#include <thread>
#include <vector>

#include "absl/strings/string_view.h"
#include "tests/db/test_store.h"

namespace convrnn::db::testing {
namespace {

int CountEvents(Store& store, int64_t campaign_id, int64_t trial_id, absl::string_view type) {
  int n = 0;
  for (const Event& e : Must(store.ListEvents(campaign_id, 0, 100000))) {
    if (e.trial_id == trial_id && e.type == type) ++n;
  }
  return n;
}

TEST_CASE("a lease hands out the oldest pending trial with a fresh token", "[db]") {
  TempDir dir;
  Fixture f(dir);
  Trial first = f.AddTrial();
  f.AddTrial();
  Trial leased = f.Lease(f.worker.id, kT0 + kSecond);
  CHECK(leased.id == first.id);
  CHECK(leased.state == TrialState::kLeased);
  CHECK(leased.attempt == 1);
  CHECK(leased.worker_id == f.worker.id);
  CHECK(leased.lease_token > 0);
  CHECK(leased.lease_deadline_us == kT0 + 61 * kSecond);

  Trial second = f.Lease(f.other_worker.id, kT0 + kSecond);
  CHECK(second.number == 2);
  CHECK(second.lease_token > leased.lease_token);
  // Nothing left.
  CHECK_FALSE(Must(f.store->LeaseTrial({f.worker.id, 0, kT0 + 2 * kSecond, kT0 + kSecond * 9}))
                  .has_value());
}

TEST_CASE("heartbeats extend a live lease and keep it from expiring", "[db]") {
  TempDir dir;
  Fixture f(dir);
  f.AddTrial();
  Trial t = f.Lease(f.worker.id, kT0, /*lease_s=*/10);
  Trial extended = Must(f.store->ExtendLease(t.lease_token, kT0 + 30 * kSecond, kT0 + 9 * kSecond));
  CHECK(extended.lease_deadline_us == kT0 + 30 * kSecond);
  CHECK(Must(f.store->ExpireLeases(kT0 + 20 * kSecond)).empty());
  CHECK(Must(f.store->GetTrial(t.id)).state == TrialState::kLeased);
}

TEST_CASE("a stale fencing token is refused and changes nothing", "[db]") {
  TempDir dir;
  Fixture f(dir);
  f.AddTrial();
  Trial a = f.Lease(f.worker.id, kT0, /*lease_s=*/10);
  // Worker A goes quiet; its lease is reaped and the trial re-leased to B.
  std::vector<Trial> expired = Must(f.store->ExpireLeases(kT0 + 11 * kSecond));
  REQUIRE(expired.size() == 1);
  CHECK(expired[0].state == TrialState::kPending);
  CHECK(expired[0].attempt == 2);
  Trial b = f.Lease(f.other_worker.id, kT0 + 12 * kSecond);
  REQUIRE(b.id == a.id);
  CHECK(b.attempt == 2);
  CHECK(b.lease_token != a.lease_token);

  const int64_t now = kT0 + 13 * kSecond;
  absl::Status s = f.store->ExtendLease(a.lease_token, now + 60 * kSecond, now).status();
  CHECK(s.code() == absl::StatusCode::kFailedPrecondition);
  s = f.store->RecordEpoch(a.lease_token, 1, R"({"val_top1":0.5})", 0, now).status();
  CHECK(s.code() == absl::StatusCode::kFailedPrecondition);
  s = f.store->CompleteTrial(a.lease_token, R"({"val_top1":0.9})", now).status();
  CHECK(s.code() == absl::StatusCode::kFailedPrecondition);
  CHECK(std::string(s.message()).find("lease") != std::string::npos);
  s = f.store->FailTrial(a.lease_token, "boom", false, now).status();
  CHECK(s.code() == absl::StatusCode::kFailedPrecondition);
  CHECK(f.store->MarkRunning(a.lease_token, now).code() == absl::StatusCode::kFailedPrecondition);

  Trial after = Must(f.store->GetTrial(a.id));
  CHECK(after.state == TrialState::kLeased);
  CHECK(after.lease_token == b.lease_token);
  CHECK(after.worker_id == f.other_worker.id);
  CHECK(Must(f.store->ListEpochs(a.id)).empty());

  // B's token works.
  Must(f.store->RecordEpoch(b.lease_token, 1, R"({"val_top1":0.5})", now + 60 * kSecond, now));
  Trial done =
      Must(f.store->CompleteTrial(b.lease_token, R"({"val_top1":0.8,"params":1000})", now));
  CHECK(done.state == TrialState::kCompleted);
  CHECK(done.lease_deadline_us == 0);
}

TEST_CASE("expiry re-queues with attempt+1 until max_attempts, then fails", "[db]") {
  TempDir dir;
  Fixture f(dir, /*max_attempts=*/3);
  Trial t = f.AddTrial();
  int64_t now = kT0;
  for (int attempt = 1; attempt <= 3; ++attempt) {
    Trial leased = f.Lease(f.worker.id, now, /*lease_s=*/10);
    CHECK(leased.attempt == attempt);
    // Exactly at the deadline the lease still holds.
    CHECK(Must(f.store->ExpireLeases(leased.lease_deadline_us)).empty());
    std::vector<Trial> expired = Must(f.store->ExpireLeases(leased.lease_deadline_us + 1));
    REQUIRE(expired.size() == 1);
    CHECK(expired[0].id == t.id);
    if (attempt < 3) {
      CHECK(expired[0].state == TrialState::kPending);
      CHECK(expired[0].attempt == attempt + 1);
      CHECK(expired[0].lease_token == 0);
    } else {
      CHECK(expired[0].state == TrialState::kFailed);
      CHECK(expired[0].attempt == 3);
      CHECK(expired[0].failure_reason.find("attempt 3 of 3") != std::string::npos);
    }
    now = leased.lease_deadline_us + 2;
  }
  CHECK_FALSE(Must(f.store->LeaseTrial({f.worker.id, 0, now, now + kSecond})).has_value());
  CHECK(CountEvents(*f.store, f.campaign.id, t.id, kEventTrialRequeued) == 2);
  CHECK(CountEvents(*f.store, f.campaign.id, t.id, kEventTrialFailed) == 1);
  TrialCounts counts = Must(f.store->CountTrials(f.campaign.id));
  CHECK(counts.failed == 1);
  CHECK(counts.total() == 1);
}

TEST_CASE("a retryable failure re-queues, a non-retryable one fails at once", "[db]") {
  TempDir dir;
  Fixture f(dir, /*max_attempts=*/2);
  Trial oom = f.AddTrial();
  Trial nan = f.AddTrial();
  Trial a = f.Lease(f.worker.id, kT0);
  Trial b = f.Lease(f.worker.id, kT0);
  REQUIRE(a.id == oom.id);
  Trial requeued = Must(f.store->FailTrial(a.lease_token, "CUDA out of memory", true, kT0 + 1));
  CHECK(requeued.state == TrialState::kPending);
  CHECK(requeued.attempt == 2);
  Trial failed = Must(f.store->FailTrial(b.lease_token, "loss became NaN at epoch 3", false, kT0));
  CHECK(failed.id == nan.id);
  CHECK(failed.state == TrialState::kFailed);
  CHECK(failed.failure_reason == "loss became NaN at epoch 3");
  // The second attempt of the first trial uses up max_attempts = 2.
  Trial again = f.Lease(f.worker.id, kT0 + 2);
  CHECK(again.attempt == 2);
  Trial final_fail =
      Must(f.store->FailTrial(again.lease_token, "CUDA out of memory", true, kT0 + 3));
  CHECK(final_fail.state == TrialState::kFailed);
}

TEST_CASE("pruning ends a lease, a later completion is refused", "[db]") {
  TempDir dir;
  Fixture f(dir);
  f.AddTrial();
  Trial t = f.Lease(f.worker.id, kT0);
  Must(f.store->RecordEpoch(t.lease_token, 1, R"({"val_top1":0.1})", 0, kT0 + 1));
  CHECK(Must(f.store->GetTrial(t.id)).state == TrialState::kRunning);
  Trial pruned = Must(f.store->PruneTrial(t.lease_token, "asha rung 1", kT0 + 2));
  CHECK(pruned.state == TrialState::kPruned);
  CHECK(f.store->CompleteTrial(t.lease_token, R"({"val_top1":0.2})", kT0 + 3).status().code() ==
        absl::StatusCode::kFailedPrecondition);
}

TEST_CASE("completing twice with the same token reports ALREADY_EXISTS", "[db]") {
  TempDir dir;
  Fixture f(dir);
  f.AddTrial();
  Trial t = f.Lease(f.worker.id, kT0);
  Must(f.store->CompleteTrial(t.lease_token, R"({"val_top1":0.7})", kT0 + 1));
  absl::Status again =
      f.store->CompleteTrial(t.lease_token, R"({"val_top1":0.1})", kT0 + 2).status();
  CHECK(again.code() == absl::StatusCode::kAlreadyExists);
  CHECK(Must(f.store->GetTrial(t.id)).metrics_json == R"({"val_top1":0.7})");
}

TEST_CASE("completion is exactly once under a race of two threads", "[db]") {
  TempDir dir;
  Options options;
  options.sync_full = false;  // Many small commits; durability is tested elsewhere.
  Fixture f(dir, 3, options);
  constexpr int kTrials = 60;
  int both_ok = 0, none_ok = 0;
  for (int i = 0; i < kTrials; ++i) {
    f.AddTrial();  // One pending trial at a time, so B can only take A's.
    const int64_t now = kT0 + i * 100 * kSecond;
    Trial a = f.Lease(f.worker.id, now, /*lease_s=*/10);
    const int64_t late = a.lease_deadline_us + 1;
    // Worker A completes just as its lease runs out; meanwhile the reaper
    // expires it and worker B takes the trial over and completes it too.
    std::atomic<int> ready{0};
    absl::Status a_status, b_status;
    std::thread worker_a([&] {
      ++ready;
      while (ready < 2) {
      }
      a_status = f.store->CompleteTrial(a.lease_token, R"({"val_top1":0.1})", late).status();
    });
    std::thread reaper_then_b([&] {
      ++ready;
      while (ready < 2) {
      }
      absl::StatusOr<std::vector<Trial>> expired = f.store->ExpireLeases(late);
      absl::StatusOr<std::optional<Trial>> b =
          f.store->LeaseTrial({f.other_worker.id, f.campaign.id, late, late + 10 * kSecond});
      if (!expired.ok() || !b.ok()) {
        b_status = absl::InternalError("reaper failed");
      } else if (!b->has_value() || (*b)->id != a.id) {
        b_status = absl::FailedPreconditionError("trial already completed by A");
      } else {
        b_status = f.store->CompleteTrial((*b)->lease_token, R"({"val_top1":0.2})", late).status();
      }
    });
    worker_a.join();
    reaper_then_b.join();
    INFO("A: " << a_status.ToString() << " B: " << b_status.ToString());
    CHECK(a_status.code() != absl::StatusCode::kInternal);
    CHECK(b_status.code() != absl::StatusCode::kInternal);
    if (a_status.ok() && b_status.ok()) ++both_ok;
    if (!a_status.ok() && !b_status.ok()) ++none_ok;
    Trial final_trial = Must(f.store->GetTrial(a.id));
    CHECK(final_trial.state == TrialState::kCompleted);
    CHECK(CountEvents(*f.store, f.campaign.id, a.id, kEventTrialCompleted) == 1);
  }
  CHECK(both_ok == 0);
  CHECK(none_ok == 0);
  CHECK(Must(f.store->CountTrials(f.campaign.id)).completed == kTrials);
}

TEST_CASE("two threads completing with the same token: one wins", "[db]") {
  TempDir dir;
  Options options;
  options.sync_full = false;
  Fixture f(dir, 3, options);
  for (int i = 0; i < 40; ++i) {
    f.AddTrial();
    Trial t = f.Lease(f.worker.id, kT0);
    absl::Status s1, s2;
    std::atomic<int> ready{0};
    auto complete = [&](absl::Status* out, const char* metrics) {
      ++ready;
      while (ready < 2) {
      }
      *out = f.store->CompleteTrial(t.lease_token, metrics, kT0 + 1).status();
    };
    std::thread t1(complete, &s1, R"({"val_top1":0.1})");
    std::thread t2(complete, &s2, R"({"val_top1":0.2})");
    t1.join();
    t2.join();
    CHECK(s1.ok() != s2.ok());
    CHECK((s1.code() == absl::StatusCode::kAlreadyExists ||
           s2.code() == absl::StatusCode::kAlreadyExists));
    CHECK(CountEvents(*f.store, f.campaign.id, t.id, kEventTrialCompleted) == 1);
  }
}

TEST_CASE("leases come only from running campaigns", "[db]") {
  TempDir dir;
  Fixture f(dir);
  f.AddTrial();
  MustOk(f.store->SetCampaignState(f.campaign.id, CampaignState::kStopped, kT0 + 1));
  CHECK_FALSE(Must(f.store->LeaseTrial({f.worker.id, 0, kT0 + 2, kT0 + kSecond})).has_value());
  CHECK_FALSE(
      Must(f.store->LeaseTrial({f.worker.id, f.campaign.id, kT0 + 2, kT0 + kSecond})).has_value());
  MustOk(f.store->SetCampaignState(f.campaign.id, CampaignState::kRunning, kT0 + 3));
  CHECK(Must(f.store->LeaseTrial({f.worker.id, 0, kT0 + 4, kT0 + kSecond})).has_value());
}

TEST_CASE("a restart grace period raises every live deadline", "[db]") {
  TempDir dir;
  Fixture f(dir);
  f.AddTrial();
  f.AddTrial();
  Trial t = f.Lease(f.worker.id, kT0, /*lease_s=*/10);
  CHECK(Must(f.store->ExtendAllLeases(kT0 + 100 * kSecond, kT0 + 50 * kSecond)) == 1);
  CHECK(Must(f.store->ExpireLeases(kT0 + 60 * kSecond)).empty());
  CHECK(Must(f.store->GetTrial(t.id)).lease_deadline_us == kT0 + 100 * kSecond);
}

TEST_CASE("releasing a lease re-queues the trial without spending an attempt", "[db]") {
  TempDir dir;
  Fixture f(dir, /*max_attempts=*/1);
  f.AddTrial();
  Trial t = f.Lease(f.worker.id, kT0);
  Trial released = Must(f.store->ReleaseLease(t.lease_token, "campaign stopped", kT0 + 1));
  CHECK(released.state == TrialState::kPending);
  CHECK(released.attempt == 1);
  CHECK(released.failure_reason == "campaign stopped");
  // The old token is fenced off; the trial can be leased again at the same attempt.
  CHECK(f.store->RecordEpoch(t.lease_token, 1, R"({"val_top1":0.1})", 0, kT0 + 2).status().code() ==
        absl::StatusCode::kFailedPrecondition);
  Trial again = f.Lease(f.other_worker.id, kT0 + 3);
  CHECK(again.id == t.id);
  CHECK(again.attempt == 1);
  std::vector<Event> events = Must(f.store->ListEvents(f.campaign.id, 0, 100));
  bool requeued = false;
  for (const Event& e : events) requeued |= e.type == kEventTrialRequeued;
  CHECK(requeued);
}

}  // namespace
}  // namespace convrnn::db::testing
