#include "db/store.h"

#include <array>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "db/sqlite_store.h"
#include "util/status_macros.h"

namespace convrnn::db {
namespace {

constexpr std::array<std::pair<TrialState, absl::string_view>, 6> kTrialStates = {{
    {TrialState::kPending, "PENDING"},
    {TrialState::kLeased, "LEASED"},
    {TrialState::kRunning, "RUNNING"},
    {TrialState::kCompleted, "COMPLETED"},
    {TrialState::kFailed, "FAILED"},
    {TrialState::kPruned, "PRUNED"},
}};

constexpr std::array<std::pair<CampaignState, absl::string_view>, 4> kCampaignStates = {{
    {CampaignState::kRunning, "RUNNING"},
    {CampaignState::kStopped, "STOPPED"},
    {CampaignState::kCompleted, "COMPLETED"},
    {CampaignState::kFailed, "FAILED"},
}};

constexpr std::array<std::pair<ScoreState, absl::string_view>, 4> kScoreStates = {{
    {ScoreState::kPending, "PENDING"},
    {ScoreState::kLeased, "LEASED"},
    {ScoreState::kCompleted, "COMPLETED"},
    {ScoreState::kFailed, "FAILED"},
}};

}  // namespace

absl::string_view ScoreStateName(ScoreState state) {
  for (const auto& [value, name] : kScoreStates) {
    if (value == state) return name;
  }
  return "UNKNOWN";
}

absl::StatusOr<ScoreState> ParseScoreState(absl::string_view name) {
  for (const auto& [value, known] : kScoreStates) {
    if (known == name) return value;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown score state \"", name, "\"; expected PENDING, LEASED, COMPLETED or FAILED"));
}

absl::string_view TrialStateName(TrialState state) {
  for (const auto& [value, name] : kTrialStates) {
    if (value == state) return name;
  }
  return "UNKNOWN";
}

absl::string_view CampaignStateName(CampaignState state) {
  for (const auto& [value, name] : kCampaignStates) {
    if (value == state) return name;
  }
  return "UNKNOWN";
}

absl::StatusOr<TrialState> ParseTrialState(absl::string_view name) {
  for (const auto& [value, known] : kTrialStates) {
    if (known == name) return value;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown trial state \"", name,
                   "\"; expected PENDING, LEASED, RUNNING, COMPLETED, FAILED "
                   "or PRUNED"));
}

absl::StatusOr<CampaignState> ParseCampaignState(absl::string_view name) {
  for (const auto& [value, known] : kCampaignStates) {
    if (known == name) return value;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown campaign state \"", name, "\"; expected RUNNING, STOPPED, COMPLETED or FAILED"));
}

absl::StatusOr<LeaseOutcome> Store::LeaseOrInsertTrial(const LeaseRequest& request,
                                                       const TrialProposal& proposal) {
  LeaseOutcome outcome;
  ASSIGN_OR_RETURN(std::optional<Trial> pending, LeaseTrial(request));
  if (pending.has_value()) {
    outcome.trial = std::move(pending);
    return outcome;
  }
  ASSIGN_OR_RETURN(Trial inserted, InsertTrial(request.campaign_id, proposal.spec_json,
                                               proposal.params_json, request.now_us));
  LeaseRequest mine = request;
  mine.trial_id = inserted.id;
  ASSIGN_OR_RETURN(std::optional<Trial> leased, LeaseTrial(mine));
  outcome.trial = std::move(leased);
  outcome.inserted = outcome.trial.has_value();
  return outcome;
}

absl::StatusOr<std::vector<int64_t>> Store::ExtendLeases(
    const std::vector<std::pair<int64_t, int64_t>>& deadlines, int64_t now_us) {
  std::vector<int64_t> lost;
  for (const auto& [token, deadline] : deadlines) {
    absl::StatusOr<Trial> trial = ExtendLease(token, deadline, now_us);
    if (trial.ok()) continue;
    if (trial.status().code() != absl::StatusCode::kFailedPrecondition) return trial.status();
    lost.push_back(token);
  }
  return lost;
}

absl::Status Store::TouchWorkers(const std::vector<std::pair<int64_t, int64_t>>& seen) {
  for (const auto& [worker_id, time_us] : seen) {
    absl::Status s = TouchWorker(worker_id, time_us);
    if (!s.ok() && s.code() != absl::StatusCode::kNotFound) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const std::string& path,
                                                   const Options& options) {
  ASSIGN_OR_RETURN(std::unique_ptr<SqliteStore> store, SqliteStore::Open(path, options));
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace convrnn::db
