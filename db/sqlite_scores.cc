// SqliteStore's scoring jobs (schema v3): queue, lease with fencing tokens
// from the trials' counter, complete / fail, expire. See db/store.h.
#include <nlohmann/json.hpp>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "db/lease_steps.h"
#include "db/queries.h"
#include "db/reads.h"
#include "db/sqlite_store.h"
#include "util/status_macros.h"

namespace convrnn::db {
namespace {

// Columns in the order of sql::kScoreColumns.
absl::StatusOr<Score> ReadScore(const Stmt& row) {
  Score s;
  s.id = row.Int64(0);
  s.trial_id = row.Int64(1);
  s.campaign_id = row.Int64(2);
  ASSIGN_OR_RETURN(s.state, ParseScoreState(row.Text(3)));
  s.attempt = static_cast<int>(row.Int64(4));
  s.neural_json = row.Text(5);
  s.worker_id = row.Int64(6);
  s.lease_token = row.Int64(7);
  s.lease_deadline_us = row.Int64(8);
  s.result_json = row.Text(9);
  s.error = row.Text(10);
  s.error_code = static_cast<int>(row.Int64(11));
  s.created_us = row.Int64(12);
  s.updated_us = row.Int64(13);
  return s;
}

absl::StatusOr<Score> GetScoreOn(Connection& conn, int64_t score_id) {
  ASSIGN_OR_RETURN(Stmt stmt, conn.Prepare(sql::kGetScore));
  stmt.Bind(1, score_id);
  ASSIGN_OR_RETURN(bool found, stmt.Step());
  if (!found) return absl::NotFoundError(absl::StrCat("score ", score_id, " not found"));
  return ReadScore(stmt);
}

absl::StatusOr<std::optional<Score>> ScoreByLease(Connection& conn, int64_t token) {
  ASSIGN_OR_RETURN(Stmt stmt, conn.Prepare(sql::kScoreByLease));
  stmt.Bind(1, token);
  ASSIGN_OR_RETURN(bool found, stmt.Step());
  if (!found) return std::optional<Score>();
  ASSIGN_OR_RETURN(Score score, ReadScore(stmt));
  return std::optional<Score>(std::move(score));
}

// The job whose live lease is `token`, or FAILED_PRECONDITION.
// Ends live score lease `score_id` (sql::kFinishScore): COMPLETED with
// `result_json`, or FAILED with `reason` and `error_code`.
absl::Status FinishScoreRow(Connection& conn, int64_t score_id, ScoreState state,
                            absl::string_view result_json, absl::string_view reason, int error_code,
                            int64_t now_us) {
  ASSIGN_OR_RETURN(Stmt stmt, conn.Prepare(sql::kFinishScore));
  stmt.Bind(1, score_id).Bind(2, ScoreStateName(state));
  if (state == ScoreState::kCompleted) {
    stmt.Bind(3, result_json).BindNull(4).BindNull(5);
  } else {
    stmt.BindNull(3).Bind(4, reason).Bind(5, int64_t{error_code});
  }
  return stmt.Bind(6, now_us).Run();
}

absl::StatusOr<Score> LiveScoreLease(Connection& conn, int64_t token) {
  ASSIGN_OR_RETURN(std::optional<Score> score, ScoreByLease(conn, token));
  if (!score.has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat("lease ", token, " holds no scoring job: it expired or never existed"));
  }
  if (score->state != ScoreState::kLeased) {
    return absl::FailedPreconditionError(absl::StrCat("lease ", token, " no longer holds score ",
                                                      score->id, ": it is ",
                                                      ScoreStateName(score->state)));
  }
  return *std::move(score);
}

}  // namespace

absl::StatusOr<Score> SqliteStore::CreateScore(int64_t trial_id, const std::string& neural_json,
                                               int64_t now_us) {
  return Write([&](Connection& conn) -> absl::StatusOr<Score> {
    ASSIGN_OR_RETURN(Trial trial, reads::GetTrial(conn, trial_id));
    if (trial.state != TrialState::kCompleted) {
      return absl::FailedPreconditionError(absl::StrCat("trial ", trial_id, " is ",
                                                        TrialStateName(trial.state),
                                                        "; only a COMPLETED trial can be scored"));
    }
    ASSIGN_OR_RETURN(Stmt stmt, conn.Prepare(sql::kInsertScore));
    RETURN_IF_ERROR(stmt.Bind(1, trial_id)
                        .Bind(2, trial.campaign_id)
                        .Bind(3, neural_json)
                        .Bind(4, now_us)
                        .Run());
    return GetScoreOn(conn, conn.last_insert_rowid());
  });
}

absl::StatusOr<Score> SqliteStore::GetScore(int64_t score_id) {
  return Read([&](Connection& conn) { return GetScoreOn(conn, score_id); });
}

absl::StatusOr<std::vector<Score>> SqliteStore::ListScores(int64_t trial_id) {
  return Read([&](Connection& conn) -> absl::StatusOr<std::vector<Score>> {
    ASSIGN_OR_RETURN(Stmt stmt, conn.Prepare(sql::kListScores));
    stmt.Bind(1, trial_id);
    return reads::ReadAll<Score>(stmt, ReadScore);
  });
}

absl::StatusOr<std::optional<Score>> SqliteStore::LeaseScore(int64_t worker_id, int64_t now_us,
                                                             int64_t deadline_us) {
  if (deadline_us <= now_us) return absl::InvalidArgumentError("lease deadline must be after now");
  return Write([&](Connection& conn) -> absl::StatusOr<std::optional<Score>> {
    ASSIGN_OR_RETURN(Stmt next, conn.Prepare(sql::kNextPendingScore));
    ASSIGN_OR_RETURN(bool found, next.Step());
    if (!found) return std::optional<Score>();
    const int64_t score_id = next.Int64(0);
    RETURN_IF_ERROR(steps::TouchWorker(conn, worker_id, now_us));
    ASSIGN_OR_RETURN(const int64_t token, steps::NextLeaseToken(conn));
    ASSIGN_OR_RETURN(Stmt lease, conn.Prepare(sql::kLeaseScore));
    RETURN_IF_ERROR(lease.Bind(1, score_id)
                        .Bind(2, worker_id)
                        .Bind(3, token)
                        .Bind(4, deadline_us)
                        .Bind(5, now_us)
                        .Run());
    if (conn.changes() == 0) return std::optional<Score>();
    ASSIGN_OR_RETURN(Score score, GetScoreOn(conn, score_id));
    return std::optional<Score>(std::move(score));
  });
}

absl::StatusOr<Score> SqliteStore::ExtendScoreLease(int64_t lease_token, int64_t deadline_us,
                                                    int64_t now_us) {
  return Write([&](Connection& conn) -> absl::StatusOr<Score> {
    ASSIGN_OR_RETURN(Score score, LiveScoreLease(conn, lease_token));
    ASSIGN_OR_RETURN(Stmt stmt, conn.Prepare(sql::kSetScoreDeadline));
    RETURN_IF_ERROR(stmt.Bind(1, score.id).Bind(2, deadline_us).Bind(3, now_us).Run());
    score.lease_deadline_us = std::max(score.lease_deadline_us, deadline_us);
    score.updated_us = now_us;
    return score;
  });
}

absl::StatusOr<Score> SqliteStore::CompleteScore(int64_t lease_token,
                                                 const std::string& result_json, int64_t now_us) {
  nlohmann::json result = nlohmann::json::parse(result_json, nullptr, false);
  if (result.is_discarded() || !result.is_object()) {
    return absl::InvalidArgumentError("result_json: must be a JSON object");
  }
  return Write([&](Connection& conn) -> absl::StatusOr<Score> {
    ASSIGN_OR_RETURN(std::optional<Score> held, ScoreByLease(conn, lease_token));
    if (held.has_value() && held->state == ScoreState::kCompleted) {
      return absl::AlreadyExistsError(
          absl::StrCat("score ", held->id, " was already completed by lease ", lease_token));
    }
    ASSIGN_OR_RETURN(Score score, LiveScoreLease(conn, lease_token));
    RETURN_IF_ERROR(FinishScoreRow(conn, score.id, ScoreState::kCompleted, result.dump(),
                                   /*reason=*/"", /*error_code=*/0, now_us));
    return GetScoreOn(conn, score.id);
  });
}

absl::StatusOr<Score> SqliteStore::FailScore(int64_t lease_token, absl::string_view reason,
                                             int error_code, int64_t now_us) {
  return Write([&](Connection& conn) -> absl::StatusOr<Score> {
    ASSIGN_OR_RETURN(Score score, LiveScoreLease(conn, lease_token));
    RETURN_IF_ERROR(FinishScoreRow(conn, score.id, ScoreState::kFailed, /*result_json=*/"",
                                   reason.empty() ? absl::string_view("failed") : reason,
                                   error_code, now_us));
    return GetScoreOn(conn, score.id);
  });
}

absl::StatusOr<std::vector<Score>> SqliteStore::ExpireScoreLeases(int64_t now_us) {
  return Write([&](Connection& conn) -> absl::StatusOr<std::vector<Score>> {
    ASSIGN_OR_RETURN(const std::vector<int64_t> expired,
                     reads::ExpiredIds(conn, sql::kExpiredScoreLeases, now_us));
    std::vector<Score> changed;
    for (int64_t id : expired) {
      ASSIGN_OR_RETURN(Score score, GetScoreOn(conn, id));
      if (score.attempt < kScoreMaxAttempts) {
        ASSIGN_OR_RETURN(Stmt stmt, conn.Prepare(sql::kRequeueScore));
        RETURN_IF_ERROR(stmt.Bind(1, id).Bind(2, now_us).Run());
      } else {
        RETURN_IF_ERROR(
            FinishScoreRow(conn, id, ScoreState::kFailed, /*result_json=*/"",
                           absl::StrCat("lease ", score.lease_token, " expired (attempt ",
                                        score.attempt, " of ", kScoreMaxAttempts, ")"),
                           static_cast<int>(absl::StatusCode::kDeadlineExceeded), now_us));
      }
      ASSIGN_OR_RETURN(Score after, GetScoreOn(conn, id));
      changed.push_back(std::move(after));
    }
    return changed;
  });
}

}  // namespace convrnn::db
