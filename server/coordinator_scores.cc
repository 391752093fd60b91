// The coordinator's neural-predictivity scoring jobs (`convrnn score`):
// queued for a completed trial, leased to a worker that can score (before
// any training: a user waits on them), kept alive by heartbeats that write
// the store (scoring is rare; no in-memory deadline), completed or failed
// once, expired by the reaper (ReapOnce calls ExpireScoreLeases).
#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/coordinator.h"
#include "server/coordinator_runtime.h"
#include "spec/neural_spec.h"
#include "util/status_macros.h"

namespace convrnn::server {

absl::StatusOr<db::Score> Coordinator::ScoreTrial(int64_t trial_id,
                                                  const std::string& neural_json) {
  ASSIGN_OR_RETURN(NeuralSpec spec, ParseNeuralSpecText(neural_json, "neural"));
  ASSIGN_OR_RETURN(db::Score score,
                   store_.CreateScore(trial_id, ToJson(spec).dump(), clock_.NowMicros()));
  NotifyEvents();
  return score;
}

absl::StatusOr<db::Score> Coordinator::GetScore(int64_t score_id) {
  return store_.GetScore(score_id);
}

absl::StatusOr<std::optional<LeaseGrant>> Coordinator::TryLeaseScore(int64_t worker_id,
                                                                     int64_t now_us) {
  const int64_t lease_us = absl::ToInt64Microseconds(options_.score_lease);
  ASSIGN_OR_RETURN(std::optional<db::Score> leased,
                   store_.LeaseScore(worker_id, now_us, now_us + lease_us));
  if (!leased.has_value()) return std::optional<LeaseGrant>();
  db::Score& score = *leased;
  LeaseGrant grant;
  absl::StatusOr<db::Trial> trial = store_.GetTrial(score.trial_id);
  absl::StatusOr<std::shared_ptr<CampaignRuntime>> rt =
      trial.ok() ? Runtime(score.campaign_id) : trial.status();
  if (!rt.ok()) {
    // Nothing a worker could do with it: fail the job, not the lease call.
    (void)store_.FailScore(score.lease_token,
                           absl::StrCat("cannot read its trial: ", rt.status().message()),
                           static_cast<int>(rt.status().code()), now_us);
    return std::optional<LeaseGrant>();
  }
  grant.has_trial = true;
  grant.trial = *std::move(trial);
  grant.data_json = (*rt)->config.data_json;
  grant.neural_json = score.neural_json;
  grant.heartbeat_interval_ms = std::min(absl::ToInt64Milliseconds(options_.heartbeat_interval),
                                         absl::ToInt64Milliseconds(options_.score_lease) / 3);
  grant.score = std::move(score);
  return std::optional<LeaseGrant>(std::move(grant));
}

HeartbeatResult Coordinator::ScoreHeartbeat(int64_t worker_id, int64_t lease_token) {
  HeartbeatResult result;
  const int64_t now = clock_.NowMicros();
  const int64_t deadline = now + absl::ToInt64Microseconds(options_.score_lease);
  absl::StatusOr<db::Score> score = store_.ExtendScoreLease(lease_token, deadline, now);
  if (!score.ok() || score->worker_id != worker_id) {
    result.lease_lost = true;
  } else {
    result.lease_deadline_us = score->lease_deadline_us;
  }
  MaybeTouchWorker(worker_id, now);
  return result;
}

absl::StatusOr<bool> Coordinator::CompleteScore(int64_t worker_id, int64_t lease_token,
                                                const std::string& result_json) {
  const int64_t now = clock_.NowMicros();
  absl::StatusOr<db::Score> score = store_.CompleteScore(lease_token, result_json, now);
  if (score.status().code() == absl::StatusCode::kAlreadyExists) return true;
  RETURN_IF_ERROR(score.status());
  NotifyEvents();
  MaybeTouchWorker(worker_id, now);
  return false;
}

absl::Status Coordinator::FailScore(int64_t worker_id, int64_t lease_token,
                                    const std::string& reason, int code) {
  const int64_t now = clock_.NowMicros();
  if (code <= 0 || code > static_cast<int>(absl::StatusCode::kUnauthenticated)) {
    code = static_cast<int>(absl::StatusCode::kUnknown);
  }
  RETURN_IF_ERROR(
      store_.FailScore(lease_token, reason.empty() ? "failed (no reason given)" : reason, code, now)
          .status());
  NotifyEvents();
  MaybeTouchWorker(worker_id, now);
  return absl::OkStatus();
}

}  // namespace convrnn::server
