#include "db/store.h"

#include <array>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "db/sqlite_store.h"

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

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const std::string& path,
                                                   const Options& options) {
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path, options);
  if (!store.ok()) return store.status();
  return std::unique_ptr<Store>(std::move(*store));
}

}  // namespace convrnn::db
