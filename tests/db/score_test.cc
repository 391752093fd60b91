// Scoring jobs (schema v3): only completed trials are scored; leases are
// fenced by tokens that never collide with trial leases; a result is stored
// once; failures keep their reason and code; expired leases are retried up
// to kScoreMaxAttempts.
#include "tests/db/test_store.h"

namespace convrnn::db::testing {
namespace {

constexpr char kNeural[] = R"({"file":"/data/rec.h5","method":"pls"})";

// A trial completed by the fixture's worker.
Trial Completed(Fixture& f) {
  Trial t = f.AddTrial();
  Trial leased = f.Lease(f.worker.id, kT0);
  REQUIRE(leased.id == t.id);
  return Must(f.store->CompleteTrial(leased.lease_token, R"({"val_top1":0.5})", kT0 + kSecond));
}

TEST_CASE("only a completed trial can be scored", "[db]") {
  TempDir dir;
  Fixture f(dir);
  CHECK(f.store->CreateScore(999, kNeural, kT0).status().code() == absl::StatusCode::kNotFound);
  Trial done = Completed(f);
  Trial pending = f.AddTrial();
  absl::Status refused = f.store->CreateScore(pending.id, kNeural, kT0).status();
  CHECK(refused.code() == absl::StatusCode::kFailedPrecondition);
  CHECK(std::string(refused.message()).find("PENDING") != std::string::npos);

  Score score = Must(f.store->CreateScore(done.id, kNeural, kT0 + 2 * kSecond));
  CHECK(score.state == ScoreState::kPending);
  CHECK(score.trial_id == done.id);
  CHECK(score.campaign_id == f.campaign.id);
  CHECK(score.attempt == 1);
  CHECK(Must(f.store->ListScores(done.id)).size() == 1);
  CHECK(Must(f.store->ListScores(pending.id)).empty());
}

TEST_CASE("a scoring job is leased, fenced and completed once", "[db]") {
  TempDir dir;
  Fixture f(dir);
  Trial done = Completed(f);
  Score score = Must(f.store->CreateScore(done.id, kNeural, kT0));
  std::optional<Score> leased = Must(f.store->LeaseScore(f.worker.id, kT0, kT0 + 60 * kSecond));
  REQUIRE(leased.has_value());
  CHECK(leased->id == score.id);
  CHECK(leased->state == ScoreState::kLeased);
  CHECK(leased->worker_id == f.worker.id);
  CHECK(leased->lease_token > done.lease_token);  // one counter for both kinds of lease
  CHECK_FALSE(Must(f.store->LeaseScore(f.other_worker.id, kT0, kT0 + kSecond)).has_value());

  // A trial token does not reach the score, nor a score token a trial.
  CHECK(f.store->ExtendScoreLease(done.lease_token, kT0 + 90 * kSecond, kT0).status().code() ==
        absl::StatusCode::kFailedPrecondition);
  CHECK(f.store->ExtendLease(leased->lease_token, kT0 + 90 * kSecond, kT0).status().code() ==
        absl::StatusCode::kFailedPrecondition);
  CHECK(Must(f.store->ExtendScoreLease(leased->lease_token, kT0 + 90 * kSecond, kT0))
            .lease_deadline_us == kT0 + 90 * kSecond);

  CHECK(f.store->CompleteScore(leased->lease_token, "not json", kT0).status().code() ==
        absl::StatusCode::kInvalidArgument);
  Score completed = Must(f.store->CompleteScore(leased->lease_token, R"({"median_r":0.4})", kT0));
  CHECK(completed.state == ScoreState::kCompleted);
  CHECK(completed.result_json == R"({"median_r":0.4})");
  CHECK(completed.lease_deadline_us == 0);
  CHECK(f.store->CompleteScore(leased->lease_token, R"({})", kT0).status().code() ==
        absl::StatusCode::kAlreadyExists);
  CHECK(f.store->FailScore(leased->lease_token, "late", 13, kT0).status().code() ==
        absl::StatusCode::kFailedPrecondition);
  CHECK(Must(f.store->GetScore(score.id)).result_json == R"({"median_r":0.4})");
}

TEST_CASE("a failed scoring job keeps its reason and code", "[db]") {
  TempDir dir;
  Fixture f(dir);
  Score score = Must(f.store->CreateScore(Completed(f).id, kNeural, kT0));
  Score leased = *Must(f.store->LeaseScore(f.worker.id, kT0, kT0 + kSecond));
  Score failed =
      Must(f.store->FailScore(leased.lease_token, "/ckpt/trial-1/checkpoint.pt: no checkpoint",
                              static_cast<int>(absl::StatusCode::kNotFound), kT0));
  CHECK(failed.id == score.id);
  CHECK(failed.state == ScoreState::kFailed);
  CHECK(failed.error.find("no checkpoint") != std::string::npos);
  CHECK(failed.error_code == static_cast<int>(absl::StatusCode::kNotFound));
}

TEST_CASE("an expired score lease is retried, then fails", "[db]") {
  TempDir dir;
  Fixture f(dir);
  Score score = Must(f.store->CreateScore(Completed(f).id, kNeural, kT0));
  int64_t now = kT0;
  for (int attempt = 1; attempt <= kScoreMaxAttempts; ++attempt) {
    Score leased = *Must(f.store->LeaseScore(f.worker.id, now, now + 10 * kSecond));
    CHECK(leased.attempt == attempt);
    CHECK(Must(f.store->ExpireScoreLeases(now + 5 * kSecond)).empty());  // still alive
    std::vector<Score> expired = Must(f.store->ExpireScoreLeases(now + 11 * kSecond));
    REQUIRE(expired.size() == 1);
    if (attempt < kScoreMaxAttempts) {
      CHECK(expired[0].state == ScoreState::kPending);
      CHECK(expired[0].attempt == attempt + 1);
    } else {
      CHECK(expired[0].state == ScoreState::kFailed);
      CHECK(expired[0].error.find("expired") != std::string::npos);
    }
    now += 20 * kSecond;
  }
  CHECK(Must(f.store->GetScore(score.id)).state == ScoreState::kFailed);
  CHECK_FALSE(Must(f.store->LeaseScore(f.worker.id, now, now + kSecond)).has_value());
}

}  // namespace
}  // namespace convrnn::db::testing
