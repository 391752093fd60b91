// Wire messages as the JSON that `convrnn --json` prints, and state names.
//
// Hand-written rather than protobuf's JSON mapping because scripts want ids
// as numbers (proto3 JSON makes int64 strings), enum values as short
// lowercase names ("running"), and the embedded JSON documents (campaign,
// spec, params) as objects rather than strings.
//
// Thread-safety: pure functions.
#ifndef CONVRNN_CLIENT_PROTO_JSON_H_
#define CONVRNN_CLIENT_PROTO_JSON_H_

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "db/store.h"
#include "proto/convrnn.pb.h"
#include "util/status_macros.h"

namespace convrnn::client {

namespace v1 = ::convrnn::v1;

// The wire state as db::TrialState, the one table of trial state names;
// nullopt for UNSPECIFIED or a value this build does not know.
std::optional<db::TrialState> DbTrialState(v1::TrialState state);
// db::TrialStateName lower-cased: TRIAL_STATE_RUNNING -> "running";
// UNSPECIFIED -> "unspecified".
std::string TrialStateName(v1::TrialState state);
std::string CampaignStateName(v1::CampaignState state);
std::string EventTypeName(v1::EventType type);
// "running" / "RUNNING" / "TRIAL_STATE_RUNNING" -> RUNNING; "" or "any" ->
// UNSPECIFIED; anything else is InvalidArgument listing the choices.
absl::StatusOr<v1::TrialState> ParseTrialState(const std::string& name);

// A JSON-valued field parsed; text that is not JSON is kept as a string so
// nothing the server sent is lost.
nlohmann::json EmbeddedJson(const std::string& text);

nlohmann::json ToJson(const v1::TrialCounts& counts);
// `with_document` adds "campaign": the launched campaign JSON.
nlohmann::json ToJson(const v1::Campaign& campaign, bool with_document);
// Adds "epochs" when the trial carries per-epoch reports.
nlohmann::json ToJson(const v1::Trial& trial);
nlohmann::json ToJson(const v1::EpochMetrics& epoch);
nlohmann::json ToJson(const v1::CampaignEvent& event);
nlohmann::json ToJson(const v1::Worker& worker);

}  // namespace convrnn::client

#endif  // CONVRNN_CLIENT_PROTO_JSON_H_
