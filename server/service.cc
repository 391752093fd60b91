#include "server/service.h"

#include "server/export_stream.h"
#include "server/proto_convert.h"
#include "server/secret.h"
#include "util/status_macros.h"

namespace convrnn::server {
namespace {

#define CHECK_AUTH(context)                               \
  do {                                                    \
    grpc::Status convrnn_auth_ = auth_.Check(*(context)); \
    if (!convrnn_auth_.ok()) return convrnn_auth_;        \
  } while (false)

}  // namespace

grpc::Status TokenAuth::Check(const grpc::ServerContextBase& context) const {
  if (token_.empty()) return grpc::Status::OK;
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "missing `authorization: Bearer <token>` metadata");
  }
  // Two headers are ambiguous (a proxy may check one and we the other): refused.
  if (metadata.count("authorization") > 1) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "more than one `authorization` metadata entry");
  }
  const std::string given(it->second.data(), it->second.size());
  if (!SameSecret(given, "Bearer " + token_)) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "wrong bearer token");
  }
  return grpc::Status::OK;
}

// --- CampaignService ---------------------------------------------------------

grpc::Status CampaignServiceImpl::LaunchCampaign(grpc::ServerContext* context,
                                                 const v1::LaunchCampaignRequest* request,
                                                 v1::LaunchCampaignResponse* response) {
  CHECK_AUTH(context);
  absl::StatusOr<CampaignView> view =
      coordinator_.Launch(request->campaign_json(), request->request_id());
  RETURN_IF_ERROR_AS(view.status(), ToGrpcStatus);
  ToProto(*view, response->mutable_campaign());
  return grpc::Status::OK;
}

grpc::Status CampaignServiceImpl::ListCampaigns(grpc::ServerContext* context,
                                                const v1::ListCampaignsRequest* request,
                                                v1::ListCampaignsResponse* response) {
  CHECK_AUTH(context);
  if (request->page_size() < 0) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "page_size: must not be negative");
  }
  absl::StatusOr<int64_t> before = DecodePageToken(request->page_token());
  RETURN_IF_ERROR_AS(before.status(), ToGrpcStatus);
  absl::StatusOr<CampaignPage> page = coordinator_.ListCampaigns(*before, request->page_size());
  RETURN_IF_ERROR_AS(page.status(), ToGrpcStatus);
  // Without their documents: a page of large campaigns must stay far below
  // the client's 4 MB receive limit (GetCampaign carries the document).
  for (const CampaignView& view : page->campaigns) {
    v1::Campaign* c = response->add_campaigns();
    ToProto(view, c);
    c->clear_campaign_json();
  }
  response->set_next_page_token(EncodePageToken(page->next_before_id));
  return grpc::Status::OK;
}

grpc::Status CampaignServiceImpl::GetCampaign(grpc::ServerContext* context,
                                              const v1::GetCampaignRequest* request,
                                              v1::Campaign* response) {
  CHECK_AUTH(context);
  absl::StatusOr<CampaignView> view = coordinator_.GetCampaign(request->campaign_id());
  RETURN_IF_ERROR_AS(view.status(), ToGrpcStatus);
  ToProto(*view, response);
  return grpc::Status::OK;
}

grpc::Status CampaignServiceImpl::ListTrials(grpc::ServerContext* context,
                                             const v1::ListTrialsRequest* request,
                                             v1::ListTrialsResponse* response) {
  CHECK_AUTH(context);
  if (request->page_size() < 0) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "page_size: must not be negative");
  }
  absl::StatusOr<int64_t> after = DecodePageToken(request->page_token());
  RETURN_IF_ERROR_AS(after.status(), ToGrpcStatus);
  absl::StatusOr<TrialPage> page = coordinator_.ListTrials(
      request->campaign_id(), FromProto(request->state()), *after, request->page_size());
  RETURN_IF_ERROR_AS(page.status(), ToGrpcStatus);
  for (const db::Trial& trial : page->trials) ToProto(trial, response->add_trials());
  response->set_next_page_token(EncodePageToken(page->next_after_number));
  return grpc::Status::OK;
}

grpc::Status CampaignServiceImpl::GetTrial(grpc::ServerContext* context,
                                           const v1::GetTrialRequest* request,
                                           v1::Trial* response) {
  CHECK_AUTH(context);
  absl::StatusOr<TrialDetail> detail = coordinator_.GetTrial(request->trial_id());
  RETURN_IF_ERROR_AS(detail.status(), ToGrpcStatus);
  ToProto(detail->trial, response);
  for (const db::EpochReport& e : detail->epochs) ToProto(e, response->add_epochs());
  for (const db::Score& s : detail->scores) ToProto(s, response->add_neural_scores());
  return grpc::Status::OK;
}

namespace {
// Finishes at once with `status` (a refused watch).
class FailedWatch final : public grpc::ServerWriteReactor<v1::CampaignEvent> {
 public:
  explicit FailedWatch(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};
}  // namespace

grpc::ServerWriteReactor<v1::CampaignEvent>* CampaignServiceImpl::WatchCampaign(
    grpc::CallbackServerContext* context, const v1::WatchCampaignRequest* request) {
  if (grpc::Status auth = auth_.Check(*context); !auth.ok()) return new FailedWatch(auth);
  return watch_hub_.Start(*request);
}

grpc::Status CampaignServiceImpl::StopCampaign(grpc::ServerContext* context,
                                               const v1::StopCampaignRequest* request,
                                               v1::Campaign* response) {
  CHECK_AUTH(context);
  absl::StatusOr<CampaignView> view = coordinator_.Stop(request->campaign_id());
  RETURN_IF_ERROR_AS(view.status(), ToGrpcStatus);
  ToProto(*view, response);
  return grpc::Status::OK;
}

grpc::Status CampaignServiceImpl::EnqueueTrials(grpc::ServerContext* context,
                                                const v1::EnqueueTrialsRequest* request,
                                                v1::EnqueueTrialsResponse* response) {
  CHECK_AUTH(context);
  std::vector<std::string> specs(request->spec_json().begin(), request->spec_json().end());
  absl::StatusOr<std::vector<db::Trial>> trials =
      coordinator_.Enqueue(request->campaign_id(), specs);
  RETURN_IF_ERROR_AS(trials.status(), ToGrpcStatus);
  for (const db::Trial& t : *trials) ToProto(t, response->add_trials());
  return grpc::Status::OK;
}

grpc::Status CampaignServiceImpl::ExtendCampaign(grpc::ServerContext* context,
                                                 const v1::ExtendCampaignRequest* request,
                                                 v1::Campaign* response) {
  CHECK_AUTH(context);
  absl::StatusOr<CampaignView> view =
      coordinator_.Extend(request->campaign_id(), request->max_trials(), request->max_parallel());
  RETURN_IF_ERROR_AS(view.status(), ToGrpcStatus);
  ToProto(*view, response);
  return grpc::Status::OK;
}

grpc::Status CampaignServiceImpl::ResumeCampaign(grpc::ServerContext* context,
                                                 const v1::ResumeCampaignRequest* request,
                                                 v1::Campaign* response) {
  CHECK_AUTH(context);
  absl::StatusOr<CampaignView> view = coordinator_.Resume(request->campaign_id());
  RETURN_IF_ERROR_AS(view.status(), ToGrpcStatus);
  ToProto(*view, response);
  return grpc::Status::OK;
}

grpc::Status CampaignServiceImpl::Best(grpc::ServerContext* context, const v1::BestRequest* request,
                                       v1::BestResponse* response) {
  CHECK_AUTH(context);
  absl::StatusOr<RankedTrials> ranked = coordinator_.Best(request->campaign_id(), request->top_k(),
                                                          request->metric(), request->goal());
  RETURN_IF_ERROR_AS(ranked.status(), ToGrpcStatus);
  response->set_metric(ranked->metric);
  response->set_goal(ranked->maximize ? "max" : "min");
  for (const db::Trial& trial : ranked->trials) ToProto(trial, response->add_trials());
  return grpc::Status::OK;
}

grpc::Status CampaignServiceImpl::Pareto(grpc::ServerContext* context,
                                         const v1::ParetoRequest* request,
                                         v1::ParetoResponse* response) {
  CHECK_AUTH(context);
  std::vector<std::string> objectives(request->objectives().begin(), request->objectives().end());
  absl::StatusOr<ParetoFrontResult> front = coordinator_.Pareto(request->campaign_id(), objectives);
  RETURN_IF_ERROR_AS(front.status(), ToGrpcStatus);
  for (const Objective& o : front->objectives) response->add_objectives(ObjectiveName(o));
  for (const db::Trial& trial : front->trials) ToProto(trial, response->add_trials());
  return grpc::Status::OK;
}

grpc::Status CampaignServiceImpl::Export(grpc::ServerContext* context,
                                         const v1::ExportRequest* request,
                                         v1::ExportResponse* response) {
  CHECK_AUTH(context);
  absl::StatusOr<ExportedDocument> doc =
      coordinator_.Export(request->campaign_id(), request->format());
  RETURN_IF_ERROR_AS(doc.status(), ToGrpcStatus);
  response->set_content_type(doc->content_type);
  response->set_content(std::move(doc->content));
  return grpc::Status::OK;
}

namespace {
class FailedExport final : public grpc::ServerWriteReactor<v1::ExportChunk> {
 public:
  explicit FailedExport(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};
}  // namespace

grpc::ServerWriteReactor<v1::ExportChunk>* CampaignServiceImpl::ExportTrials(
    grpc::CallbackServerContext* context, const v1::ExportRequest* request) {
  if (grpc::Status auth = auth_.Check(*context); !auth.ok()) return new FailedExport(auth);
  return StartExportStream(coordinator_, *request);
}

grpc::Status CampaignServiceImpl::ParamImportances(grpc::ServerContext* context,
                                                   const v1::ImportanceRequest* request,
                                                   v1::ImportanceResponse* response) {
  CHECK_AUTH(context);
  absl::StatusOr<ImportanceResult> result =
      coordinator_.Importance(request->campaign_id(), request->metric());
  RETURN_IF_ERROR_AS(result.status(), ToGrpcStatus);
  response->set_metric(result->metric);
  response->set_trials(result->trials);
  for (const search::ParamImportance& p : result->params) {
    v1::ParamImportance* out = response->add_params();
    out->set_name(p.name);
    out->set_importance(p.importance);
    out->set_stddev(p.stddev);
    out->set_active_trials(p.active_trials);
  }
  return grpc::Status::OK;
}

grpc::Status CampaignServiceImpl::ListWorkers(grpc::ServerContext* context,
                                              const v1::ListWorkersRequest* request,
                                              v1::ListWorkersResponse* response) {
  CHECK_AUTH(context);
  absl::StatusOr<std::vector<WorkerView>> workers =
      coordinator_.ListWorkers(request->include_dead());
  RETURN_IF_ERROR_AS(workers.status(), ToGrpcStatus);
  for (const WorkerView& w : *workers) ToProto(w, response->add_workers());
  return grpc::Status::OK;
}

grpc::Status CampaignServiceImpl::ScoreTrial(grpc::ServerContext* context,
                                             const v1::ScoreTrialRequest* request,
                                             v1::NeuralScore* response) {
  CHECK_AUTH(context);
  absl::StatusOr<db::Score> score =
      coordinator_.ScoreTrial(request->trial_id(), request->neural_json());
  RETURN_IF_ERROR_AS(score.status(), ToGrpcStatus);
  ToProto(*score, response);
  return grpc::Status::OK;
}

grpc::Status CampaignServiceImpl::GetScore(grpc::ServerContext* context,
                                           const v1::GetScoreRequest* request,
                                           v1::NeuralScore* response) {
  CHECK_AUTH(context);
  absl::StatusOr<db::Score> score = coordinator_.GetScore(request->score_id());
  RETURN_IF_ERROR_AS(score.status(), ToGrpcStatus);
  ToProto(*score, response);
  return grpc::Status::OK;
}

// --- WorkerService -----------------------------------------------------------

template <typename Body>
grpc::ServerUnaryReactor* WorkerServiceImpl::OnPool(grpc::CallbackServerContext* context,
                                                    Body body) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (grpc::Status auth = auth_.Check(*context); !auth.ok()) {
    reactor->Finish(auth);
    return reactor;
  }
  pool_.Run([context, reactor, body = std::move(body)]() mutable {
    // A caller that gave up while the call was queued (its deadline passed,
    // it was cancelled) gets nothing from the body: skip it, so an overload
    // sheds work instead of leasing trials no one receives.
    if (context->IsCancelled()) {
      reactor->Finish(grpc::Status::CANCELLED);
      return;
    }
    reactor->Finish(body());
  });
  return reactor;
}

grpc::ServerUnaryReactor* WorkerServiceImpl::RegisterWorker(
    grpc::CallbackServerContext* context, const v1::RegisterWorkerRequest* request,
    v1::RegisterWorkerResponse* response) {
  return OnPool(context, [this, request, response]() -> grpc::Status {
    db::Worker worker;
    worker.hostname = request->hostname();
    worker.pid = request->pid();
    worker.device = request->device();
    worker.version = request->version();
    absl::StatusOr<Registration> reg = coordinator_.RegisterWorker(worker);
    RETURN_IF_ERROR_AS(reg.status(), ToGrpcStatus);
    response->set_worker_id(reg->worker_id);
    response->set_heartbeat_interval_ms(reg->heartbeat_interval_ms);
    return grpc::Status::OK;
  });
}

grpc::ServerUnaryReactor* WorkerServiceImpl::LeaseTrial(grpc::CallbackServerContext* context,
                                                        const v1::LeaseTrialRequest* request,
                                                        v1::LeaseTrialResponse* response) {
  return OnPool(context, [this, request, response]() -> grpc::Status {
    absl::StatusOr<LeaseGrant> grant =
        coordinator_.LeaseTrial(request->worker_id(), request->can_score());
    RETURN_IF_ERROR_AS(grant.status(), ToGrpcStatus);
    response->set_has_trial(grant->has_trial);
    if (!grant->has_trial) {
      response->set_retry_after_ms(grant->retry_after_ms);
      return grpc::Status::OK;
    }
    const db::Trial& t = grant->trial;
    response->set_trial_id(t.id);
    response->set_campaign_id(t.campaign_id);
    response->set_spec_json(t.spec_json);
    response->set_data_json(grant->data_json);
    response->set_neural_json(grant->neural_json);
    response->set_heartbeat_interval_ms(grant->heartbeat_interval_ms);
    if (grant->score.has_value()) {
      response->set_kind(v1::JOB_KIND_SCORE);
      response->set_score_id(grant->score->id);
      response->set_attempt(grant->score->attempt);
      response->set_lease_id(grant->score->lease_token);
      response->set_lease_deadline_unix_us(grant->score->lease_deadline_us);
      return grpc::Status::OK;
    }
    response->set_kind(v1::JOB_KIND_TRAIN);
    response->set_attempt(t.attempt);
    response->set_lease_id(t.lease_token);
    response->set_lease_deadline_unix_us(t.lease_deadline_us);
    return grpc::Status::OK;
  });
}

grpc::ServerUnaryReactor* WorkerServiceImpl::Heartbeat(grpc::CallbackServerContext* context,
                                                       const v1::HeartbeatRequest* request,
                                                       v1::HeartbeatResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (grpc::Status auth = auth_.Check(*context); !auth.ok()) {
    reactor->Finish(auth);
    return reactor;
  }
  absl::StatusOr<HeartbeatResult> result =
      coordinator_.Heartbeat(request->worker_id(), request->lease_id());
  if (!result.ok()) {
    reactor->Finish(ToGrpcStatus(result.status()));
    return reactor;
  }
  response->set_lease_lost(result->lease_lost);
  response->set_lease_deadline_unix_us(result->lease_deadline_us);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* WorkerServiceImpl::ReportProgress(
    grpc::CallbackServerContext* context, const v1::ReportProgressRequest* request,
    v1::ReportProgressResponse* response) {
  return OnPool(context, [this, request, response]() -> grpc::Status {
    absl::StatusOr<ProgressResult> result = coordinator_.ReportProgress(
        request->worker_id(), request->lease_id(), request->epoch(), FromProto(request->metrics()));
    RETURN_IF_ERROR_AS(result.status(), ToGrpcStatus);
    response->set_decision(result->stop ? v1::ReportProgressResponse::DECISION_STOP
                                        : v1::ReportProgressResponse::DECISION_CONTINUE);
    response->set_lease_deadline_unix_us(result->lease_deadline_us);
    response->set_reason(result->reason);
    return grpc::Status::OK;
  });
}

grpc::ServerUnaryReactor* WorkerServiceImpl::CompleteTrial(grpc::CallbackServerContext* context,
                                                           const v1::CompleteTrialRequest* request,
                                                           v1::CompleteTrialResponse* response) {
  return OnPool(context, [this, request, response]() -> grpc::Status {
    absl::StatusOr<bool> already = coordinator_.Complete(request->worker_id(), request->lease_id(),
                                                         FromProto(request->final_metrics()));
    RETURN_IF_ERROR_AS(already.status(), ToGrpcStatus);
    response->set_already_completed(*already);
    return grpc::Status::OK;
  });
}

grpc::ServerUnaryReactor* WorkerServiceImpl::FailTrial(grpc::CallbackServerContext* context,
                                                       const v1::FailTrialRequest* request,
                                                       v1::FailTrialResponse* response) {
  return OnPool(context, [this, request, response]() -> grpc::Status {
    absl::StatusOr<FailResult> result = coordinator_.Fail(request->worker_id(), request->lease_id(),
                                                          request->reason(), request->retryable());
    RETURN_IF_ERROR_AS(result.status(), ToGrpcStatus);
    response->set_requeued(result->requeued);
    response->set_attempt(result->attempt);
    return grpc::Status::OK;
  });
}

grpc::ServerUnaryReactor* WorkerServiceImpl::CompleteScore(grpc::CallbackServerContext* context,
                                                           const v1::CompleteScoreRequest* request,
                                                           v1::CompleteScoreResponse* response) {
  return OnPool(context, [this, request, response]() -> grpc::Status {
    absl::StatusOr<bool> already = coordinator_.CompleteScore(
        request->worker_id(), request->lease_id(), request->result_json());
    RETURN_IF_ERROR_AS(already.status(), ToGrpcStatus);
    response->set_already_completed(*already);
    return grpc::Status::OK;
  });
}

grpc::ServerUnaryReactor* WorkerServiceImpl::FailScore(grpc::CallbackServerContext* context,
                                                       const v1::FailScoreRequest* request,
                                                       v1::FailScoreResponse*) {
  return OnPool(context, [this, request]() -> grpc::Status {
    return ToGrpcStatus(coordinator_.FailScore(request->worker_id(), request->lease_id(),
                                               request->reason(), request->code()));
  });
}

}  // namespace convrnn::server
