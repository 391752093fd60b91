#include "client/proto_json.h"

#include <algorithm>
#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "util/status_macros.h"

namespace convrnn::client {
namespace {

using nlohmann::json;

// Strips the enum's prefix and lowercases: ("TRIAL_STATE_", "TRIAL_STATE_RUNNING") -> "running".
std::string ShortName(const std::string& full, const std::string& prefix) {
  std::string name = absl::StartsWith(full, prefix) ? full.substr(prefix.size()) : full;
  if (name.empty()) return "unknown";
  return absl::AsciiStrToLower(name);
}

json MetricsJson(const google::protobuf::Map<std::string, double>& metrics) {
  json out = json::object();  // nlohmann sorts keys, so output is stable
  for (const auto& [name, value] : metrics) out[name] = value;
  return out;
}

}  // namespace

// The wire enum lists db::TrialState's states in order after UNSPECIFIED.
static_assert(v1::TRIAL_STATE_PENDING == 1 + static_cast<int>(db::TrialState::kPending) &&
              v1::TRIAL_STATE_LEASED == 1 + static_cast<int>(db::TrialState::kLeased) &&
              v1::TRIAL_STATE_RUNNING == 1 + static_cast<int>(db::TrialState::kRunning) &&
              v1::TRIAL_STATE_COMPLETED == 1 + static_cast<int>(db::TrialState::kCompleted) &&
              v1::TRIAL_STATE_FAILED == 1 + static_cast<int>(db::TrialState::kFailed) &&
              v1::TRIAL_STATE_PRUNED == 1 + static_cast<int>(db::TrialState::kPruned));

std::optional<db::TrialState> DbTrialState(v1::TrialState state) {
  if (state < v1::TRIAL_STATE_PENDING || state > v1::TRIAL_STATE_PRUNED) return std::nullopt;
  return static_cast<db::TrialState>(state - 1);
}

std::string TrialStateName(v1::TrialState state) {
  if (state == v1::TRIAL_STATE_UNSPECIFIED) return "unspecified";
  const std::optional<db::TrialState> known = DbTrialState(state);
  if (!known.has_value()) return "unknown";
  return absl::AsciiStrToLower(db::TrialStateName(*known));
}

std::string CampaignStateName(v1::CampaignState state) {
  return ShortName(v1::CampaignState_Name(state), "CAMPAIGN_STATE_");
}

std::string EventTypeName(v1::EventType type) {
  return ShortName(v1::EventType_Name(type), "EVENT_TYPE_");
}

absl::StatusOr<v1::TrialState> ParseTrialState(const std::string& name) {
  const std::string upper = absl::AsciiStrToUpper(name);
  if (upper.empty() || upper == "ANY" || upper == "ALL") return v1::TRIAL_STATE_UNSPECIFIED;
  absl::string_view bare = upper;
  absl::ConsumePrefix(&bare, "TRIAL_STATE_");
  if (absl::StatusOr<db::TrialState> state = db::ParseTrialState(bare); state.ok()) {
    return static_cast<v1::TrialState>(static_cast<int>(*state) + 1);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--state: unknown trial state '", name,
                   "' (one of pending, leased, running, completed, failed, pruned)"));
}

json EmbeddedJson(const std::string& text) {
  if (text.empty()) return nullptr;
  json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return text;
  return parsed;
}

json ToJson(const v1::TrialCounts& c) {
  return {{"pending", c.pending()},     {"leased", c.leased()}, {"running", c.running()},
          {"completed", c.completed()}, {"failed", c.failed()}, {"pruned", c.pruned()},
          {"total", c.total()}};
}

json ToJson(const v1::Campaign& c, bool with_document) {
  json out = {{"id", c.id()},
              {"name", c.name()},
              {"state", CampaignStateName(c.state())},
              {"counts", ToJson(c.counts())},
              {"created_unix_us", c.created_unix_us()},
              {"updated_unix_us", c.updated_unix_us()}};
  if (with_document) out["campaign"] = EmbeddedJson(c.campaign_json());
  return out;
}

json ToJson(const v1::EpochMetrics& e) {
  return {{"epoch", e.epoch()},
          {"attempt", e.attempt()},
          {"metrics", MetricsJson(e.metrics())},
          {"reported_unix_us", e.reported_unix_us()}};
}

json ToJson(const v1::Trial& t) {
  json out = {{"id", t.id()},
              {"campaign_id", t.campaign_id()},
              {"number", t.number()},
              {"state", TrialStateName(t.state())},
              {"attempt", t.attempt()},
              {"worker_id", t.worker_id()},
              {"lease_deadline_unix_us", t.lease_deadline_unix_us()},
              {"final_metrics", MetricsJson(t.final_metrics())},
              {"failure_reason", t.failure_reason()},
              {"params", EmbeddedJson(t.params_json())},
              {"spec", EmbeddedJson(t.spec_json())},
              {"created_unix_us", t.created_unix_us()},
              {"updated_unix_us", t.updated_unix_us()}};
  if (t.epochs_size() > 0) {
    json epochs = json::array();
    for (const auto& e : t.epochs()) epochs.push_back(ToJson(e));
    out["epochs"] = std::move(epochs);
  }
  return out;
}

json ToJson(const v1::CampaignEvent& e) {
  json out = {{"id", e.id()},
              {"campaign_id", e.campaign_id()},
              {"type", EventTypeName(e.type())},
              {"time_unix_us", e.time_unix_us()}};
  if (e.trial_id() != 0) {
    out["trial_id"] = e.trial_id();
    out["attempt"] = e.attempt();
  }
  if (e.trial_state() != v1::TRIAL_STATE_UNSPECIFIED)
    out["trial_state"] = TrialStateName(e.trial_state());
  if (e.campaign_state() != v1::CAMPAIGN_STATE_UNSPECIFIED) {
    out["campaign_state"] = CampaignStateName(e.campaign_state());
  }
  if (e.epoch() != 0) out["epoch"] = e.epoch();
  if (!e.metrics().empty()) out["metrics"] = MetricsJson(e.metrics());
  if (!e.message().empty()) out["message"] = e.message();
  return out;
}

json ToJson(const v1::Worker& w) {
  return {{"id", w.id()},
          {"hostname", w.hostname()},
          {"pid", w.pid()},
          {"device", w.device()},
          {"version", w.version()},
          {"registered_unix_us", w.registered_unix_us()},
          {"last_seen_unix_us", w.last_seen_unix_us()},
          {"current_trial_id", w.current_trial_id()},
          {"presumed_dead", w.presumed_dead()}};
}

}  // namespace convrnn::client
