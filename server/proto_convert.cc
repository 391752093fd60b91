#include "server/proto_convert.h"

#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace convrnn::server {

using nlohmann::json;

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

v1::TrialState ToProto(db::TrialState state) {
  switch (state) {
    case db::TrialState::kPending:
      return v1::TRIAL_STATE_PENDING;
    case db::TrialState::kLeased:
      return v1::TRIAL_STATE_LEASED;
    case db::TrialState::kRunning:
      return v1::TRIAL_STATE_RUNNING;
    case db::TrialState::kCompleted:
      return v1::TRIAL_STATE_COMPLETED;
    case db::TrialState::kFailed:
      return v1::TRIAL_STATE_FAILED;
    case db::TrialState::kPruned:
      return v1::TRIAL_STATE_PRUNED;
  }
  return v1::TRIAL_STATE_UNSPECIFIED;
}

v1::CampaignState ToProto(db::CampaignState state) {
  switch (state) {
    case db::CampaignState::kRunning:
      return v1::CAMPAIGN_STATE_RUNNING;
    case db::CampaignState::kStopped:
      return v1::CAMPAIGN_STATE_STOPPED;
    case db::CampaignState::kCompleted:
      return v1::CAMPAIGN_STATE_COMPLETED;
    case db::CampaignState::kFailed:
      return v1::CAMPAIGN_STATE_FAILED;
  }
  return v1::CAMPAIGN_STATE_UNSPECIFIED;
}

std::optional<db::TrialState> FromProto(v1::TrialState state) {
  switch (state) {
    case v1::TRIAL_STATE_PENDING:
      return db::TrialState::kPending;
    case v1::TRIAL_STATE_LEASED:
      return db::TrialState::kLeased;
    case v1::TRIAL_STATE_RUNNING:
      return db::TrialState::kRunning;
    case v1::TRIAL_STATE_COMPLETED:
      return db::TrialState::kCompleted;
    case v1::TRIAL_STATE_FAILED:
      return db::TrialState::kFailed;
    case v1::TRIAL_STATE_PRUNED:
      return db::TrialState::kPruned;
    default:
      return std::nullopt;
  }
}

namespace {

void PutMetrics(const Metrics& metrics, google::protobuf::Map<std::string, double>* out) {
  for (const auto& [name, value] : metrics) (*out)[name] = value;
}

void PutMetricsJson(const json& metrics, google::protobuf::Map<std::string, double>* out) {
  if (!metrics.is_object()) return;
  for (auto it = metrics.begin(); it != metrics.end(); ++it) {
    if (it->is_number()) (*out)[it.key()] = it->get<double>();
  }
}

}  // namespace

void ToProto(const CampaignView& view, v1::Campaign* out) {
  const db::Campaign& c = view.campaign;
  out->set_id(c.id);
  out->set_name(c.name);
  out->set_state(ToProto(c.state));
  out->set_campaign_json(c.config_json);
  out->set_created_unix_us(c.created_us);
  out->set_updated_unix_us(c.updated_us);
  v1::TrialCounts* counts = out->mutable_counts();
  counts->set_pending(view.counts.pending);
  counts->set_leased(view.counts.leased);
  counts->set_running(view.counts.running);
  counts->set_completed(view.counts.completed);
  counts->set_failed(view.counts.failed);
  counts->set_pruned(view.counts.pruned);
  counts->set_total(view.counts.total());
}

void ToProto(const db::Trial& t, v1::Trial* out) {
  out->set_id(t.id);
  out->set_campaign_id(t.campaign_id);
  out->set_number(t.number);
  out->set_state(ToProto(t.state));
  out->set_attempt(t.attempt);
  out->set_worker_id(t.worker_id);
  out->set_lease_deadline_unix_us(t.lease_deadline_us);
  out->set_spec_json(t.spec_json);
  out->set_params_json(t.params_json);
  if (t.state == db::TrialState::kCompleted) {
    PutMetrics(ParseMetricsJson(t.metrics_json), out->mutable_final_metrics());
  }
  if (t.state == db::TrialState::kFailed || t.state == db::TrialState::kPruned) {
    out->set_failure_reason(t.failure_reason);
  }
  out->set_created_unix_us(t.created_us);
  out->set_updated_unix_us(t.updated_us);
}

void ToProto(const db::EpochReport& e, v1::EpochMetrics* out) {
  out->set_epoch(e.epoch);
  out->set_attempt(e.attempt);
  PutMetrics(ParseMetricsJson(e.metrics_json), out->mutable_metrics());
  out->set_reported_unix_us(e.reported_us);
}

void ToProto(const WorkerView& view, v1::Worker* out) {
  const db::Worker& w = view.worker;
  out->set_id(w.id);
  out->set_hostname(w.hostname);
  out->set_pid(w.pid);
  out->set_device(w.device);
  out->set_version(w.version);
  out->set_registered_unix_us(w.registered_us);
  out->set_last_seen_unix_us(w.last_seen_us);
  out->set_current_trial_id(w.current_trial_id);
  out->set_presumed_dead(view.presumed_dead);
}

void ToProto(const db::Score& s, v1::NeuralScore* out) {
  out->set_id(s.id);
  out->set_trial_id(s.trial_id);
  switch (s.state) {
    case db::ScoreState::kPending:
      out->set_state(v1::SCORE_STATE_PENDING);
      break;
    case db::ScoreState::kLeased:
      out->set_state(v1::SCORE_STATE_LEASED);
      break;
    case db::ScoreState::kCompleted:
      out->set_state(v1::SCORE_STATE_COMPLETED);
      out->set_result_json(s.result_json);
      break;
    case db::ScoreState::kFailed:
      out->set_state(v1::SCORE_STATE_FAILED);
      out->set_error(s.error);
      out->set_error_code(s.error_code);
      break;
  }
  out->set_neural_json(s.neural_json);
  out->set_worker_id(s.worker_id);
  out->set_attempt(s.attempt);
  out->set_created_unix_us(s.created_us);
  out->set_updated_unix_us(s.updated_us);
}

void ToProto(const db::Event& e, v1::CampaignEvent* out) {
  out->set_id(e.id);
  out->set_campaign_id(e.campaign_id);
  out->set_trial_id(e.trial_id);
  out->set_time_unix_us(e.time_us);
  json payload = json::parse(e.payload_json.empty() ? "{}" : e.payload_json, nullptr, false);
  if (!payload.is_object()) payload = json::object();
  const std::string state = payload.contains("state") && payload["state"].is_string()
                                ? payload["state"].get<std::string>()
                                : "";
  if (e.type == db::kEventCampaignState) {
    out->set_type(v1::EVENT_TYPE_CAMPAIGN_STATE);
    absl::StatusOr<db::CampaignState> s = db::ParseCampaignState(state);
    if (s.ok()) out->set_campaign_state(ToProto(*s));
    out->set_message(state);
    return;
  }
  static const std::map<std::string, v1::EventType, std::less<>>* const kTypes =
      new std::map<std::string, v1::EventType, std::less<>>{
          {std::string(db::kEventTrialCreated), v1::EVENT_TYPE_TRIAL_CREATED},
          {std::string(db::kEventTrialLeased), v1::EVENT_TYPE_TRIAL_LEASED},
          {std::string(db::kEventTrialRunning), v1::EVENT_TYPE_TRIAL_RUNNING},
          {std::string(db::kEventTrialProgress), v1::EVENT_TYPE_TRIAL_PROGRESS},
          {std::string(db::kEventTrialCompleted), v1::EVENT_TYPE_TRIAL_COMPLETED},
          {std::string(db::kEventTrialFailed), v1::EVENT_TYPE_TRIAL_FAILED},
          {std::string(db::kEventTrialRequeued), v1::EVENT_TYPE_TRIAL_REQUEUED},
          {std::string(db::kEventTrialPruned), v1::EVENT_TYPE_TRIAL_PRUNED}};
  auto type = kTypes->find(e.type);
  out->set_type(type == kTypes->end() ? v1::EVENT_TYPE_UNSPECIFIED : type->second);
  absl::StatusOr<db::TrialState> s = db::ParseTrialState(state);
  if (s.ok()) out->set_trial_state(ToProto(*s));
  if (payload.contains("attempt") && payload["attempt"].is_number_integer()) {
    out->set_attempt(payload["attempt"].get<int32_t>());
  }
  if (payload.contains("epoch") && payload["epoch"].is_number_integer()) {
    out->set_epoch(payload["epoch"].get<int32_t>());
  }
  if (payload.contains("metrics")) PutMetricsJson(payload["metrics"], out->mutable_metrics());
  if (payload.contains("reason") && payload["reason"].is_string()) {
    out->set_message(payload["reason"].get<std::string>());
  } else if (payload.contains("worker_id") && payload["worker_id"].is_number_integer()) {
    out->set_message(absl::StrCat("worker ", payload["worker_id"].get<int64_t>()));
  } else if (payload.contains("number") && payload["number"].is_number_integer()) {
    out->set_message(absl::StrCat("trial #", payload["number"].get<int64_t>()));
  }
}

Metrics FromProto(const google::protobuf::Map<std::string, double>& metrics) {
  return Metrics(metrics.begin(), metrics.end());
}

std::string EncodePageToken(int64_t position) {
  return position == 0 ? std::string() : absl::StrCat(position);
}

absl::StatusOr<int64_t> DecodePageToken(const std::string& token) {
  if (token.empty()) return 0;
  int64_t position = 0;
  if (!absl::SimpleAtoi(token, &position) || position <= 0) {
    return absl::InvalidArgumentError(
        "page_token: not a token this server issued (pass next_page_token back unchanged)");
  }
  return position;
}

}  // namespace convrnn::server
