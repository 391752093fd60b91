#include "client/campaign_client.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "util/status_macros.h"

namespace convrnn::client {
namespace {

std::shared_ptr<grpc::ChannelCredentials> Credentials(const ConnectionOptions& options) {
  if (options.tls_ca_pem.empty()) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = options.tls_ca_pem;
  return grpc::SslCredentials(ssl);
}

// Follows page tokens; refuses a server that hands back a token twice rather
// than looping forever.
template <typename Fetch>
absl::Status ForEachPage(Fetch fetch) {
  std::string token;
  std::set<std::string> seen;
  while (true) {
    ASSIGN_OR_RETURN(std::string next, fetch(token));
    if (next.empty()) return absl::OkStatus();
    if (!seen.insert(next).second) {
      return absl::InternalError(absl::StrCat("server repeated page token '", next, "'"));
    }
    token = std::move(next);
  }
}

}  // namespace

CampaignClient::CampaignClient(ConnectionOptions options)
    : options_(std::move(options)),
      stub_(v1::CampaignService::NewStub(
          grpc::CreateChannel(options_.server, Credentials(options_)))) {}

void CampaignClient::Prepare(grpc::ClientContext* context, bool with_deadline) const {
  if (with_deadline) context->set_deadline(absl::ToChronoTime(absl::Now() + options_.rpc_timeout));
  if (!options_.token.empty()) context->AddMetadata("authorization", "Bearer " + options_.token);
}

absl::Status CampaignClient::Convert(const grpc::Status& status) const {
  if (status.ok()) return absl::OkStatus();
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return absl::UnavailableError(absl::StrCat("cannot reach convrnn-server at ", options_.server,
                                                 ": ", status.error_message()));
    case grpc::StatusCode::UNAUTHENTICATED:
      return absl::UnauthenticatedError(absl::StrCat(
          "convrnn-server at ", options_.server, " refused the token: ", status.error_message()));
    default:
      // absl and gRPC share the canonical code numbers.
      return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                          status.error_message());
  }
}

absl::StatusOr<v1::Campaign> CampaignClient::Launch(const std::string& campaign_json,
                                                    const std::string& request_id) {
  grpc::ClientContext context;
  Prepare(&context, true);
  v1::LaunchCampaignRequest request;
  request.set_campaign_json(campaign_json);
  request.set_request_id(request_id);
  v1::LaunchCampaignResponse response;
  RETURN_IF_ERROR(Convert(stub_->LaunchCampaign(&context, request, &response)));
  return response.campaign();
}

absl::StatusOr<std::vector<v1::Campaign>> CampaignClient::ListCampaigns() {
  std::vector<v1::Campaign> all;
  RETURN_IF_ERROR(ForEachPage([&](const std::string& token) -> absl::StatusOr<std::string> {
    grpc::ClientContext context;
    Prepare(&context, true);
    v1::ListCampaignsRequest request;
    request.set_page_size(options_.page_size);
    request.set_page_token(token);
    v1::ListCampaignsResponse response;
    RETURN_IF_ERROR(Convert(stub_->ListCampaigns(&context, request, &response)));
    for (auto& c : *response.mutable_campaigns()) all.push_back(std::move(c));
    return response.next_page_token();
  }));
  return all;
}

absl::StatusOr<v1::Campaign> CampaignClient::GetCampaign(int64_t campaign_id) {
  grpc::ClientContext context;
  Prepare(&context, true);
  v1::GetCampaignRequest request;
  request.set_campaign_id(campaign_id);
  v1::Campaign response;
  RETURN_IF_ERROR(Convert(stub_->GetCampaign(&context, request, &response)));
  return response;
}

absl::StatusOr<std::vector<v1::Trial>> CampaignClient::ListTrials(int64_t campaign_id,
                                                                  v1::TrialState state) {
  std::vector<v1::Trial> all;
  RETURN_IF_ERROR(ForEachPage([&](const std::string& token) -> absl::StatusOr<std::string> {
    grpc::ClientContext context;
    Prepare(&context, true);
    v1::ListTrialsRequest request;
    request.set_campaign_id(campaign_id);
    request.set_state(state);
    request.set_page_size(options_.page_size);
    request.set_page_token(token);
    v1::ListTrialsResponse response;
    RETURN_IF_ERROR(Convert(stub_->ListTrials(&context, request, &response)));
    for (auto& t : *response.mutable_trials()) all.push_back(std::move(t));
    return response.next_page_token();
  }));
  return all;
}

absl::StatusOr<v1::Trial> CampaignClient::GetTrial(int64_t trial_id) {
  grpc::ClientContext context;
  Prepare(&context, true);
  v1::GetTrialRequest request;
  request.set_trial_id(trial_id);
  v1::Trial response;
  RETURN_IF_ERROR(Convert(stub_->GetTrial(&context, request, &response)));
  return response;
}

absl::StatusOr<v1::Campaign> CampaignClient::StopCampaign(int64_t campaign_id) {
  grpc::ClientContext context;
  Prepare(&context, true);
  v1::StopCampaignRequest request;
  request.set_campaign_id(campaign_id);
  v1::Campaign response;
  RETURN_IF_ERROR(Convert(stub_->StopCampaign(&context, request, &response)));
  return response;
}

absl::StatusOr<v1::Campaign> CampaignClient::ResumeCampaign(int64_t campaign_id) {
  grpc::ClientContext context;
  Prepare(&context, true);
  v1::ResumeCampaignRequest request;
  request.set_campaign_id(campaign_id);
  v1::Campaign response;
  RETURN_IF_ERROR(Convert(stub_->ResumeCampaign(&context, request, &response)));
  return response;
}

absl::StatusOr<std::vector<v1::Trial>> CampaignClient::Enqueue(
    int64_t campaign_id, const std::vector<std::string>& specs) {
  grpc::ClientContext context;
  Prepare(&context, true);
  v1::EnqueueTrialsRequest request;
  request.set_campaign_id(campaign_id);
  for (const std::string& s : specs) request.add_spec_json(s);
  v1::EnqueueTrialsResponse response;
  RETURN_IF_ERROR(Convert(stub_->EnqueueTrials(&context, request, &response)));
  return std::vector<v1::Trial>(response.trials().begin(), response.trials().end());
}

absl::StatusOr<v1::Campaign> CampaignClient::Extend(int64_t campaign_id, int max_trials,
                                                    int max_parallel) {
  grpc::ClientContext context;
  Prepare(&context, true);
  v1::ExtendCampaignRequest request;
  request.set_campaign_id(campaign_id);
  request.set_max_trials(max_trials);
  request.set_max_parallel(max_parallel);
  v1::Campaign response;
  RETURN_IF_ERROR(Convert(stub_->ExtendCampaign(&context, request, &response)));
  return response;
}

absl::StatusOr<v1::BestResponse> CampaignClient::Best(const v1::BestRequest& request) {
  grpc::ClientContext context;
  Prepare(&context, true);
  v1::BestResponse response;
  RETURN_IF_ERROR(Convert(stub_->Best(&context, request, &response)));
  return response;
}

absl::StatusOr<v1::ParetoResponse> CampaignClient::Pareto(const v1::ParetoRequest& request) {
  grpc::ClientContext context;
  Prepare(&context, true);
  v1::ParetoResponse response;
  RETURN_IF_ERROR(Convert(stub_->Pareto(&context, request, &response)));
  return response;
}

absl::StatusOr<v1::ExportResponse> CampaignClient::Export(int64_t campaign_id,
                                                          const std::string& format) {
  grpc::ClientContext context;
  Prepare(&context, true);
  v1::ExportRequest request;
  request.set_campaign_id(campaign_id);
  request.set_format(format);
  v1::ExportResponse response;
  RETURN_IF_ERROR(Convert(stub_->Export(&context, request, &response)));
  return response;
}

absl::Status CampaignClient::ExportTrials(
    int64_t campaign_id, const std::string& format,
    const std::function<absl::Status(const v1::ExportChunk&)>& on_chunk) {
  grpc::ClientContext context;
  Prepare(&context, /*with_deadline=*/false);
  v1::ExportRequest request;
  request.set_campaign_id(campaign_id);
  request.set_format(format);
  std::unique_ptr<grpc::ClientReader<v1::ExportChunk>> reader =
      stub_->ExportTrials(&context, request);
  v1::ExportChunk chunk;
  absl::Status consumer;
  while (reader->Read(&chunk)) {
    consumer = on_chunk(chunk);
    if (!consumer.ok()) {
      context.TryCancel();
      break;
    }
  }
  grpc::Status status = reader->Finish();
  RETURN_IF_ERROR(consumer);
  return Convert(status);
}

absl::StatusOr<v1::ImportanceResponse> CampaignClient::Importance(int64_t campaign_id,
                                                                  const std::string& metric) {
  grpc::ClientContext context;
  Prepare(&context, /*with_deadline=*/false);
  context.set_deadline(
      absl::ToChronoTime(absl::Now() + std::max(options_.rpc_timeout, absl::Minutes(2))));
  v1::ImportanceRequest request;
  request.set_campaign_id(campaign_id);
  request.set_metric(metric);
  v1::ImportanceResponse response;
  RETURN_IF_ERROR(Convert(stub_->ParamImportances(&context, request, &response)));
  return response;
}

absl::StatusOr<std::vector<v1::Worker>> CampaignClient::ListWorkers(bool include_dead) {
  grpc::ClientContext context;
  Prepare(&context, true);
  v1::ListWorkersRequest request;
  request.set_include_dead(include_dead);
  v1::ListWorkersResponse response;
  RETURN_IF_ERROR(Convert(stub_->ListWorkers(&context, request, &response)));
  return std::vector<v1::Worker>(response.workers().begin(), response.workers().end());
}

absl::StatusOr<v1::NeuralScore> CampaignClient::ScoreTrial(int64_t trial_id,
                                                           const std::string& neural_json) {
  grpc::ClientContext context;
  Prepare(&context, true);
  v1::ScoreTrialRequest request;
  request.set_trial_id(trial_id);
  request.set_neural_json(neural_json);
  v1::NeuralScore response;
  RETURN_IF_ERROR(Convert(stub_->ScoreTrial(&context, request, &response)));
  return response;
}

absl::StatusOr<v1::NeuralScore> CampaignClient::GetScore(int64_t score_id) {
  grpc::ClientContext context;
  Prepare(&context, true);
  v1::GetScoreRequest request;
  request.set_score_id(score_id);
  v1::NeuralScore response;
  RETURN_IF_ERROR(Convert(stub_->GetScore(&context, request, &response)));
  return response;
}

absl::Status CampaignClient::Watch(int64_t campaign_id, int64_t after_event_id,
                                   const std::function<bool(const v1::CampaignEvent&)>& on_event) {
  grpc::ClientContext context;
  Prepare(&context, /*with_deadline=*/false);
  v1::WatchCampaignRequest request;
  request.set_campaign_id(campaign_id);
  request.set_after_event_id(after_event_id);
  std::unique_ptr<grpc::ClientReader<v1::CampaignEvent>> reader =
      stub_->WatchCampaign(&context, request);
  v1::CampaignEvent event;
  bool cancelled = false;
  while (reader->Read(&event)) {
    if (!on_event(event)) {
      cancelled = true;
      context.TryCancel();
      break;
    }
  }
  grpc::Status status = reader->Finish();
  if (cancelled) return absl::OkStatus();
  return Convert(status);
}

}  // namespace convrnn::client
